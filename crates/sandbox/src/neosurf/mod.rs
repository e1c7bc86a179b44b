//! NEOSURF simulator: Neosurf's hosted "pay" page, version 3, as open-source integrations
//! speak it (sources and every assumed detail in `overture_connectors::neosurf::wire`).
//!
//! Routes, relative to the simulator's base URL (`/sandbox/neosurf` in `overture serve`):
//! - `POST /` (the base URL itself): the create, fields as a form, as JSON, or in the query string, with `hash` =
//!   SHA-512 of the sorted values plus the merchant's secret key. Refusals (unknown
//!   `merchantId`, bad hash, a missing or malformed field, a reused `merchantTransactionId`)
//!   answer HTTP 400 with a short HTML error; `.54` answers HTTP 500 and creates nothing. Else
//!   an HTML page whose script sends the browser to the voucher page, as Neosurf's does;
//! - `GET /{LANG}-{TOKEN}`: the voucher page (a PIN field and the sandbox page form);
//!   `POST` with `outcome=approve|decline` completes it and redirects (303) to `urlOk`
//!   (paid), `urlKo` (refused, failed) or `urlPending` (`.53`), the merchant's return URL;
//!   a page past its `expiry` is refused;
//! - `GET /_orders`: inspection JSON; `POST /_accounts`: opens an account (neither is
//!   Neosurf's).
//!
//! Outcomes (cents of the amount, the cents table), after the page was approved: `.51` callback
//! `ko` (declined), `.52` callback `error` (failed), `.53` no final status and no callback
//! ever, `.55` paid but no callback, `.56` the paid callback twice, `.57` first a callback
//! claiming `ko` hashed with a wrong key, then the genuine one (Neosurf has no status query, so
//! the genuine callback is how such an order is resolved), others `ok`. Declining on the page
//! sends `ko` at once. Callbacks (form posts to `urlCallback`) wait `processing_delay` and are
//! resent after each `callback_retries` delay while not answered 2xx.
//!
//! Accounts (`POST /_accounts`, see [`crate::keyring`]): `merchant_id` = 6 random digits,
//! `secret_key` = `neosurf/secret_key/<merchant_id>` derived from the sandbox seed. The fixed
//! **default test account**, the same in every sandbox: `merchant_id` [`DEFAULT_MERCHANT_ID`],
//! `secret_key` [`DEFAULT_SECRET_KEY`].

mod api;
mod callback;
mod page;
#[cfg(test)]
mod tests;

use crate::keyring::{self, SandboxSeed};
use crate::{NewAccount, Scenario, SimConfig, Simulator};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// This simulator's name in key derivations (`neosurf/secret_key/<merchant_id>`).
pub const KEYRING_NAME: &str = "neosurf";
/// The default test account's merchant id (constant, documented).
pub const DEFAULT_MERCHANT_ID: &str = "100000";
/// The default test account's secret key (constant, documented: it protects nothing).
pub const DEFAULT_SECRET_KEY: &str = "neosurf-sandbox-default-secret";

/// The NEOSURF simulator.
pub struct NeosurfSandbox;

impl Simulator for NeosurfSandbox {
    fn psp_type(&self) -> &'static str {
        "NEOSURF"
    }

    fn create_account(&self, seed: &SandboxSeed) -> NewAccount {
        // Six digits not starting with 1, so never the default account's.
        let merchant_id = format!("{}{}", 2 + rand_digit(), keyring::random_digits(5));
        NewAccount::new(vec![
            ("secret_key", secret_key(seed, &merchant_id)),
            ("merchant_id", merchant_id),
        ])
    }

    fn router(&self, config: SimConfig) -> Router {
        let shared = Arc::new(Shared {
            config,
            book: Mutex::new(Book::default()),
            client: reqwest::Client::new(),
        });
        Router::new()
            .route("/", post(api::create))
            .route("/_orders", get(list_orders))
            .route("/{page}", get(page::show).post(page::complete))
            .with_state(shared)
    }
}

fn rand_digit() -> u8 {
    keyring::random_digits(1).as_bytes()[0] % 8
}

/// The secret key of `merchant_id`: the default account's constant, or the keyring's.
pub(crate) fn secret_key(seed: &SandboxSeed, merchant_id: &str) -> String {
    if merchant_id == DEFAULT_MERCHANT_ID {
        return DEFAULT_SECRET_KEY.to_owned();
    }
    seed.derive(KEYRING_NAME, "secret_key", merchant_id)
}

/// One payment page at the simulated PSP. Amount in minor units.
#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub seq: u64,
    pub merchant_id: String,
    /// Neosurf's id (`transactionId` in callbacks).
    pub transaction_id: String,
    /// The page's path segment, `EN-<token>`.
    pub page: String,
    pub merchant_transaction_id: String,
    pub amount_minor: i64,
    /// Lower case, as sent.
    pub currency: String,
    /// `pending` until the page is completed, then a `wire::status` word.
    pub status: &'static str,
    pub error_code: String,
    pub scenario: Scenario,
    pub url_ok: Option<String>,
    pub url_ko: Option<String>,
    pub url_pending: Option<String>,
    pub url_callback: String,
    /// Seconds since the epoch after which the page is refused.
    pub expires_at: Option<u64>,
    /// Times a voucher was charged; must stay ≤ 1.
    pub executions: u32,
    pub callback_attempts: u32,
    /// Callbacks answered 2xx.
    pub callbacks_sent: u32,
}

/// State shared by the handlers and background tasks.
pub(crate) struct Shared {
    pub config: SimConfig,
    book: Mutex<Book>,
    pub client: reqwest::Client,
}

#[derive(Default)]
struct Book {
    /// By page segment.
    orders: HashMap<String, Order>,
    /// `(merchantId, merchantTransactionId)` already used.
    references: HashMap<(String, String), String>,
    next_seq: u64,
}

impl Shared {
    fn with_book<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        let mut guard = self.book.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Stores a new order (its seq, id and page assigned here) unless the merchant used its
    /// `merchantTransactionId` already.
    pub(crate) fn insert(&self, mut order: Order) -> Option<Order> {
        self.with_book(|book| {
            let key = (
                order.merchant_id.clone(),
                order.merchant_transaction_id.clone(),
            );
            if book.references.contains_key(&key) {
                return None;
            }
            book.next_seq += 1;
            order.seq = book.next_seq;
            order.transaction_id = format!("{}", 700_000_000 + book.next_seq);
            order.page = format!(
                "EN-{}",
                keyring::random_alphanumeric(17).to_ascii_uppercase()
            );
            book.references.insert(key, order.page.clone());
            book.orders.insert(order.page.clone(), order.clone());
            Some(order)
        })
    }

    pub(crate) fn update<R>(&self, page: &str, f: impl FnOnce(&mut Order) -> R) -> Option<R> {
        self.with_book(|book| book.orders.get_mut(page).map(f))
    }

    pub(crate) fn get(&self, page: &str) -> Option<Order> {
        self.update(page, |o| o.clone())
    }

    /// `{base}/{page}`.
    pub(crate) fn page_url(&self, page: &str) -> String {
        format!("{}/{page}", self.config.base_url.trim_end_matches('/'))
    }
}

/// `GET /_orders`: every order, oldest first.
async fn list_orders(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let mut all: Vec<Order> = shared.with_book(|b| b.orders.values().cloned().collect());
    all.sort_by_key(|o| o.seq);
    let list: Vec<Value> = all
        .iter()
        .map(|o| {
            json!({
                "merchant_transaction_id": o.merchant_transaction_id,
                "transaction_id": o.transaction_id,
                "amount": o.amount_minor,
                "currency": o.currency,
                "status": o.status,
                "executions": o.executions,
                "callback_attempts": o.callback_attempts,
                "callbacks_sent": o.callbacks_sent,
            })
        })
        .collect();
    Json(Value::Array(list))
}
