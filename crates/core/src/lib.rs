//! Overture's domain core: typed ids, exact money, the transaction state machine, the
//! `Store` and `Connector` traits and the errors they speak. Nothing in this crate performs IO;
//! the store, connectors and server crates implement and drive these types.

pub mod attempt;
pub mod backoffice;
pub mod clock;
pub mod connector;
pub mod domain;
pub mod ids;
pub mod insight;
pub mod manage;
pub mod money;
pub mod routing;
pub mod state;
pub mod store;
pub mod trace;

pub use attempt::{Attempt, AttemptState, AttemptWrite};
pub use clock::{Clock, SystemClock};
pub use domain::*;
pub use ids::*;
pub use money::{Currency, Money, MoneyError};
pub use state::{TransactionStatus, TransitionError, TxnState};
pub use trace::{TraceId, TraceParent};
