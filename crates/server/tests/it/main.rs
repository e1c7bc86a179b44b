//! End-to-end tests through the HTTP API: the real server, real SQLite, real HTTP to the PSP
//! sandboxes, a fake merchant platform. Only 127.0.0.1.

mod backoffice_support;
mod harness;
mod procs;

mod approval;
mod auth;
mod backoffice_browser;
mod backoffice_cli;
mod backoffice_pages;
mod backoffice_security;
mod backoffice_throttle;
mod bad_input;
mod idempotency;
mod multinode;
mod payins;
mod payouts;
mod psps;
mod restart;
mod verification;
mod webhooks;
