//! End-to-end tests through the HTTP API: the real server, real SQLite, real HTTP to the PSP
//! sandboxes, a fake merchant platform. Only 127.0.0.1.

mod backoffice_support;
mod harness;
mod merchant_support;
mod procs;
mod routing_support;

mod approval;
mod auth;
mod backoffice_browser;
mod backoffice_cli;
mod backoffice_pages;
mod backoffice_security;
mod backoffice_throttle;
mod bad_input;
mod callbacks;
mod cli_secrets;
mod demo;
mod envelope;
mod failover;
mod failover_crash;
mod idempotency;
mod idempotency_crash;
mod merchant_company;
mod merchant_lists;
mod merchant_psp_accounts;
mod metrics;
mod multinode;
mod nodes_and_cards;
mod outbound;
mod outbound_cli;
mod payins;
mod payouts;
mod poller_budget;
mod psp_cleo;
mod psp_emerchantpay;
mod psp_flexepin;
mod psp_neosurf;
mod psp_trust;
mod psp_worldpay_eu;
mod psps;
mod restart;
mod routing;
mod strict_input;
mod verification;
mod webhooks;
