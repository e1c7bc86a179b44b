//! The HTTP API: one `router()` per resource, merged here.

pub mod auth;
pub mod backoffice;
pub mod callbacks;
pub mod cashier;
pub mod cashier_in;
pub mod company;
pub mod cursor;
pub mod envelope;
pub mod error;
pub mod error_codes;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod psp_accounts;
pub mod psps;
pub mod routing;
pub mod strict_json;
pub mod transactions;
pub mod webhooks;

use crate::app::App;
use axum::Router;

/// Every API route.
pub fn router() -> Router<App> {
    Router::new()
        .merge(cashier::router())
        .merge(callbacks::router())
        .merge(backoffice::router())
        .merge(psps::router())
        .merge(routing::router())
        .merge(openapi::router())
        .merge(company::router())
        .merge(psp_accounts::router())
        .merge(transactions::router())
        .merge(webhooks::router())
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/metrics", axum::routing::get(metrics::metrics))
}
