//! The payment flows: everything between the HTTP/worker edges and the store + connectors.
//! `create` (Cashier API), `progress` (applying PSP observations, submitting, syncing),
//! `confirm` (callback-triggered status queries, coalesced),
//! `approval` (operator decisions), `audit` (the operator audit trail), `verify` (MP user
//! verification), `views` (JSON shapes). Failures are [`error::ServiceError`], mapped by the
//! HTTP layer.

pub mod approval;
pub mod attempts;
pub mod audit;
pub mod company;
pub mod confirm;
pub mod create;
pub mod error;
pub mod exchange_log;
pub mod health;
pub mod progress;
pub mod psp_accounts;
pub mod routing;
pub mod user;
pub mod verify;
pub mod views;
