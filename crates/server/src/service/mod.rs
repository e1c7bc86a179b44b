//! The payment flows: everything between the HTTP/worker edges and the store + connectors.
//! `create` (Cashier API), `progress` (applying PSP observations, submitting, syncing),
//! `approval` (operator decisions), `audit` (the operator audit trail), `verify` (MP user verification), `views` (JSON shapes).

pub mod approval;
pub mod audit;
pub mod create;
pub mod progress;
pub mod verify;
pub mod views;
