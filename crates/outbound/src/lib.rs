//! Outbound HTTP policy for Overture (the SSRF guard). Every call Overture makes to a URL an
//! operator configured — PSP base URLs, merchant webhook and verify-user URLs — goes through
//! [`Outbound`], which:
//!
//! - accepts only `http`/`https`, and only `https` in production mode unless the host is on the
//!   operator's [`AllowList`] (`OVERTURE_OUTBOUND_ALLOW`);
//! - refuses loopback (outside production mode it is allowed), private, link-local,
//!   unique-local, CGNAT, multicast, unspecified, broadcast and other special-purpose addresses,
//!   including their IPv4-mapped and other IPv6 forms ([`address`]), unless an allowed block
//!   contains them; IP literals are checked from the URL (normalised by the `url` crate), host
//!   names when they are resolved ([`GuardedResolver`]), so the connection goes to the address
//!   that was checked;
//! - never follows redirects: a 3xx is handed back to the caller as it is.
//!
//! [`OutboundPolicy::check_saved_url`] applies the same rules when a URL is configured.

pub mod address;
mod allow;
mod client;
mod policy;
mod resolve;

pub use address::AddressClass;
pub use allow::{AllowList, AllowListError};
pub use client::{Outbound, SendError, Settings};
pub use policy::{AddressRefused, OutboundPolicy, Refused, SavedUrl};
pub use resolve::GuardedResolver;
