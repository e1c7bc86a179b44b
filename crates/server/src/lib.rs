//! Overture's server: the Cashier API, PSP callbacks, the back-office API, the background
//! workers, the PSP sandboxes' mounting, and the `overture` command line.

pub mod access;
pub mod api;
pub mod app;
pub mod backoffice;
pub mod cache;
pub mod cli;
pub mod client_addr;
pub mod config;
pub mod demo;
pub mod input;
pub mod metrics;
pub mod serve;
pub mod service;
pub mod telemetry;
pub mod trace;
pub mod workers;
