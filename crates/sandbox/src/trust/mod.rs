//! TRUST simulator: Trust Payments' (formerly Secure Trading) hosted Payment Pages and the
//! Webservices JSON API's `TRANSACTIONQUERY`, as `overture_connectors::trust` documents them
//! (sources and every inferred detail there; this simulator speaks exactly those).
//!
//! Routes, relative to the simulator's base URL (`/sandbox/trust` in `overture serve`):
//! - `GET|POST /process/payments/choice` (and `/details`): the Payment Pages. The fields come
//!   as a query string (the link Overture hands out) or as a form body (a merchant's POST).
//!   `sitesecurity` must match the site's password and `sitesecuritytimestamp` be less than
//!   3 hours old, else an "Invalid details" / "expired" page (HTTP 400). The page shows the
//!   amount and a form; `POST` with `outcome=approve|decline` stands in for the customer
//!   paying with a test card or having it declined (the sandboxes' page convention): an `AUTH` is recorded, the
//!   URL notifications requested (`STR-8`/`STR-9`/`STR-10`) are sent, and the browser is
//!   redirected (303) to `successfulurlredirect` (`STR-6`) or `declinedurlredirect` (`STR-7`)
//!   with signed result fields; without `STR-7` a decline shows the form again (the customer
//!   may retry). No card number is asked or accepted.
//! - `POST /json/`: Webservices, HTTP Basic auth (401 HTML page otherwise), `alias` = the user;
//!   `TRANSACTIONQUERY` only (other request types: `60018`), filters `sitereference`,
//!   `transactionreference`, `orderreference`, `currencyiso3a`; the answer echoes the
//!   `REQUESTREFERENCE` header (else the first request's `requestreference`), as the official
//!   Python SDK `securetrading` 1.0.26 requires.
//! - `GET /_orders`: JSON inspection of the `AUTH` records; not Trust's.
//! - `POST /_accounts`: opens an account; not Trust's.
//!
//! Accounts (`POST /_accounts`, see [`crate::keyring`]): a random Webservices `username`
//! (`ws_<12 letters/digits>@overture.sandbox`); its `password` is derived from the seed and the
//! user (`trust/password/<username>`), its one site `sitereference` = `test_site` + 12 hex
//! digits derived from the user, and the site's `site_security_password` from the site
//! (`trust/site_security_password/<sitereference>`). A user sees only its own site's records;
//! each site's pages and notifications use its own password.
//!
//! **Default test account** (fixed, public, for outside clients such as the Python SDK):
//! username [`DEFAULT_USERNAME`] `webservices@example.com`, password [`DEFAULT_PASSWORD`]
//! `Password1^`, site [`DEFAULT_SITEREFERENCE`] `test_site12345`, site security password
//! [`DEFAULT_SITE_SECURITY_PASSWORD`] `password`: the values of Trust's own documentation
//! examples, so the documented example form's `sitesecurity` verifies here.
//!
//! Outcomes follow the amount's cents ([`crate::Scenario`]) once the customer
//! approves on the page: `.51` declined (`70000`), `.52` bank system error (`60010`, final
//! status unknown), `.53` stays suspended (`settlestatus` 2), `.54` the page answers HTTP 500
//! (nothing created: the page is the create step of Payment Pages), `.55` no notification,
//! `.56` every notification twice, `.57` a notification claiming the opposite outcome signed
//! with a wrong password. An approved `AUTH` (`settlestatus` 0) settles (100) after
//! `config.processing_delay`. Notifications are resent after each `config.callback_retries`
//! delay while not answered HTTP 200. Unlike Trust, loopback notification and redirect URLs
//! are accepted (tests run on 127.0.0.1).

mod notify;
mod pages;
#[cfg(test)]
mod tests;
mod webservices;

use crate::keyring::{self, SandboxSeed};
use crate::{NewAccount, SimConfig, Simulator};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use overture_connectors::trust::wire::Record;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;

/// This simulator's name in key derivations (`trust/<credential>/<public id>`).
pub const KEYRING_NAME: &str = "trust";
/// The default test account's Webservices user (Trust's documentation example).
pub const DEFAULT_USERNAME: &str = "webservices@example.com";
/// The default test account's Webservices password (Trust's documentation example).
pub const DEFAULT_PASSWORD: &str = "Password1^";
/// The default test account's site (Trust's documentation example).
pub const DEFAULT_SITEREFERENCE: &str = "test_site12345";
/// The default test site's site security password (the one that reproduces the documented
/// example `sitesecurity`).
pub const DEFAULT_SITE_SECURITY_PASSWORD: &str = "password";

/// The TRUST simulator.
pub struct TrustSandbox;

impl Simulator for TrustSandbox {
    fn psp_type(&self) -> &'static str {
        "TRUST"
    }

    fn create_account(&self, seed: &SandboxSeed) -> NewAccount {
        let user = format!(
            "ws_{}@overture.sandbox",
            keyring::random_alphanumeric(12).to_ascii_lowercase()
        );
        let site = site_of(seed, &user);
        NewAccount::new(vec![
            ("username", user.clone()),
            ("password", seed.derive(KEYRING_NAME, "password", &user)),
            ("site_security_password", site_password(seed, &site)),
            ("sitereference", site),
        ])
    }

    fn router(&self, config: SimConfig) -> Router {
        let shared = Arc::new(Shared {
            config,
            book: Mutex::new(Book::default()),
            client: reqwest::Client::new(),
        });
        Router::new()
            .route(
                "/process/payments/choice",
                get(pages::page).post(pages::page),
            )
            .route(
                "/process/payments/details",
                get(pages::page).post(pages::page),
            )
            .route("/json/", post(webservices::json))
            .route("/json", post(webservices::json))
            .route("/_orders", get(list_orders))
            .with_state(shared)
    }
}

/// The one site of Webservices user `username`.
pub(crate) fn site_of(seed: &SandboxSeed, username: &str) -> String {
    if username == DEFAULT_USERNAME {
        return DEFAULT_SITEREFERENCE.to_owned();
    }
    format!(
        "test_site{}",
        seed.derive_short(KEYRING_NAME, "sitereference", username, 12)
    )
}

/// The site security password of `site` (any name: an unknown site's derived password is
/// known to nobody, so its pages never verify).
pub(crate) fn site_password(seed: &SandboxSeed, site: &str) -> String {
    if site == DEFAULT_SITEREFERENCE {
        return DEFAULT_SITE_SECURITY_PASSWORD.to_owned();
    }
    seed.derive(KEYRING_NAME, "site_security_password", site)
}

/// True when `password` is Webservices user `username`'s, compared in constant time.
pub(crate) fn user_password_ok(seed: &SandboxSeed, username: &str, password: &str) -> bool {
    if username == DEFAULT_USERNAME {
        return DEFAULT_PASSWORD
            .as_bytes()
            .ct_eq(password.as_bytes())
            .into();
    }
    !username.is_empty() && seed.verify(KEYRING_NAME, "password", username, password)
}

/// One `AUTH` at the simulated gateway. Amount in minor units.
#[derive(Clone, Debug)]
pub(crate) struct Auth {
    pub record: Record,
    /// Notifications delivered with HTTP 200, and attempts made.
    pub notifications_sent: u32,
    pub notification_attempts: u32,
    /// `TRANSACTIONQUERY` answers that included this record.
    pub queries: u32,
}

/// A Payment Pages session, keyed by its `sitesecurity`: closed once paid, or declined with
/// `STR-7`; then the link shows the result and records nothing more.
#[derive(Clone, Debug, Default)]
pub(crate) struct Session {
    pub closed: bool,
    /// The last `AUTH` made on this page.
    pub last: Option<String>,
}

/// State shared by the handlers and background tasks of one simulator instance.
pub(crate) struct Shared {
    pub config: SimConfig,
    book: Mutex<Book>,
    /// Client for notifications.
    pub client: reqwest::Client,
}

#[derive(Default)]
pub(crate) struct Book {
    /// By `transactionreference`, in creation order.
    pub auths: Vec<Auth>,
    pub sessions: HashMap<String, Session>,
    next_seq: u64,
}

impl Book {
    /// Records `record` (its `transactionreference` assigned here); returns it.
    pub fn insert(&mut self, mut record: Record) -> Record {
        self.next_seq += 1;
        record.transactionreference = format!("56-9-{}", 100_000 + self.next_seq);
        self.auths.push(Auth {
            record: record.clone(),
            notifications_sent: 0,
            notification_attempts: 0,
            queries: 0,
        });
        record
    }

    /// The `AUTH` `reference`, mutable.
    pub fn auth_mut(&mut self, reference: &str) -> Option<&mut Auth> {
        self.auths
            .iter_mut()
            .find(|a| a.record.transactionreference == reference)
    }
}

impl Shared {
    /// Runs `f` on the book. A poisoned lock (a panic elsewhere) still holds valid data:
    /// every mutation is a few field writes.
    pub(crate) fn with_book<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        let mut guard = self.book.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

/// `GET /_orders`: every `AUTH`, oldest first.
async fn list_orders(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let list: Vec<Value> = shared.with_book(|b| {
        b.auths
            .iter()
            .map(|a| {
                json!({
                    "transactionreference": a.record.transactionreference,
                    "orderreference": a.record.orderreference,
                    "sitereference": a.record.sitereference,
                    "baseamount": a.record.baseamount,
                    "currencyiso3a": a.record.currencyiso3a,
                    "errorcode": a.record.errorcode,
                    "settlestatus": a.record.settlestatus,
                    "notification_attempts": a.notification_attempts,
                    "notifications_sent": a.notifications_sent,
                    "status_queries": a.queries,
                })
            })
            .collect()
    });
    Json(Value::Array(list))
}
