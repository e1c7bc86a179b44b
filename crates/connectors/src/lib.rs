//! PSP connectors. Each PSP is a folder: `<psp>/mod.rs` (flows: create, status, callback) and
//! `<psp>/wire.rs` (the PSP's own request/response structs, signature formulas, status mapping).
//! Shared HTTP and error classification live in [`http`]; the [`registry`] is the only place
//! that lists the PSPs.

pub mod brite;
pub mod cardzo;
pub mod cleo;
pub mod emerchantpay;
pub mod flexepin;
pub mod forumpay;
pub mod gigadat;
pub mod http;
pub mod neosurf;
pub mod paymentsoft;
pub mod payone;
pub mod registry;
pub mod trust;
pub mod worldpay_eu;

pub use registry::Registry;
