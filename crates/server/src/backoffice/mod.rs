//! The operator back office at `/backoffice`: server-rendered pages (askama templates compiled
//! into the binary, one small script, no build step) for the approval queue, transaction
//! search and detail, problem webhooks, PSP accounts and the audit log.
//!
//! Security: email + password login (argon2id) with failed logins throttled per client
//! address (long backoff) and per account (short backoff, so nobody can lock an operator out);
//! an HttpOnly, SameSite=Lax session cookie (Secure over https) with idle and absolute expiry;
//! a per-session CSRF token on every form; roles checked on the server for every page and
//! action; strict security headers (CSP without inline script, no framing, no caching).

mod account_health;
mod accounts;
mod audit_page;
mod charts;
mod company_settings;
mod error;
mod export;
mod format;
mod login;
mod lookup;
mod overview;
pub mod password;
mod queue;
mod routing_edit;
mod routing_page;
pub mod session;
mod settings;
mod throttle;
mod transactions;
mod user_context;
mod views;
mod webhooks;

pub use error::PageError;
pub use settings::{BackofficeArgs, Settings};

use crate::app::App;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Router state: the application plus the back-office settings.
#[derive(Clone)]
pub struct Backoffice {
    pub app: App,
    pub settings: Arc<Settings>,
    /// Slots for login password checks (one per CPU): argon2 takes 19 MiB and a CPU for tens
    /// of milliseconds, so a flood of logins queues here instead of exhausting the node.
    pub password_checks: Arc<Semaphore>,
}

/// Every back-office route, ready to merge into the server's router.
pub fn router(app: App, args: &BackofficeArgs) -> Router {
    let settings = Arc::new(Settings::new(args, &app.public_url));
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pages = Router::new()
        .route(
            "/backoffice",
            get(|| async { Redirect::to("/backoffice/overview") }),
        )
        .route(
            "/backoffice/",
            get(|| async { Redirect::to("/backoffice/overview") }),
        )
        .route("/backoffice/login", get(login::form).post(login::submit))
        .route("/backoffice/logout", post(login::logout))
        .route("/backoffice/overview", get(overview::page))
        .route("/backoffice/queue", get(queue::page))
        .route("/backoffice/transactions", get(transactions::search))
        .route("/backoffice/transactions.csv", get(export::csv))
        .route("/backoffice/transactions/{id}", get(transactions::detail))
        .route("/backoffice/transactions/{id}/decide", post(queue::decide))
        .route("/backoffice/webhooks", get(webhooks::page))
        .route(
            "/backoffice/webhooks/{id}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/backoffice/companies", get(company_settings::page))
        .route("/backoffice/companies/{id}", post(company_settings::save))
        .route("/backoffice/psp-accounts", get(accounts::page))
        .route("/backoffice/psp-accounts/{id}/test", post(accounts::test))
        .route(
            "/backoffice/psp-accounts/{id}/{action}",
            post(accounts::switch),
        )
        .route("/backoffice/routing", get(routing_page::page))
        .route(
            "/backoffice/routing/{company}/rules",
            post(routing_edit::save),
        )
        .route(
            "/backoffice/routing/{company}/evaluate",
            post(routing_edit::dry_run),
        )
        .route(
            "/backoffice/routing/{company}/versions/{version}",
            get(routing_edit::version),
        )
        .route(
            "/backoffice/routing/{company}/versions/{version}/rollback",
            post(routing_edit::rollback),
        )
        .route("/backoffice/audit", get(audit_page::page))
        .layer(axum::middleware::map_response(harden))
        .with_state(Backoffice {
            app,
            settings,
            password_checks: Arc::new(Semaphore::new(cpus)),
        });
    let assets = Router::new()
        .route("/backoffice/static/app.css", get(css))
        .route("/backoffice/static/app.js", get(js));
    pages.merge(assets)
}

/// Security headers on every page: no inline script or style, no framing, no caching of
/// pages that show payment data.
async fn harden(mut response: Response) -> Response {
    let h = response.headers_mut();
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in set {
        h.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("static/app.css"))
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("static/app.js"),
    )
}
