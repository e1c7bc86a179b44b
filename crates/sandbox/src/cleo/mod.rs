//! CLEO simulator: the bank-transfer protocol Overture *assumes* for Cleo (Chile, Peru,
//! Mexico; Cleo publishes no API, every assumption is listed in
//! `overture_connectors::cleo::wire`, and this simulator speaks exactly those), enforcing what
//! Cleo does publish: local currency per country, CLP in whole pesos, one key per country.
//!
//! Routes, relative to the simulator's base URL (`/sandbox/cleo` in `overture serve`):
//! - `POST /v1/payins` (answers 201 with `checkout_url`) and `POST /v1/payouts` (201,
//!   processing), `Authorization: Bearer <the country's key>`; a key of another country than
//!   the body's ⇒ 403;
//! - `GET /v1/transactions/{id}` and `GET /v1/transactions?reference=` (any key of the
//!   account);
//! - `GET /checkout/{id}`: the hosted bank-transfer page; `POST` with
//!   `outcome=approve|decline` completes it and redirects (303) to `return_url` when given;
//! - `GET /_orders`: inspection JSON; `POST /_accounts`: opens an account (neither is Cleo's).
//!
//! Accounts (`POST /_accounts`, see [`crate::keyring`]): a random account id (`acc_` + 16
//! letters and digits); `api_key_cl`, `api_key_pe`, `api_key_mx` = `ck_<cc>_<account id>.` +
//! the secret `cleo/api_key_<cc>/<account id>`, and `webhook_secret` = `whsec_` +
//! `cleo/webhook_secret/<account id>`, derived from the sandbox seed. The fixed **default
//! test account**, the same in every sandbox: [`DEFAULT_KEY_CL`], [`DEFAULT_KEY_PE`],
//! [`DEFAULT_KEY_MX`], webhook secret [`DEFAULT_WEBHOOK_SECRET`].
//!
//! Outcomes follow the amount's cents (the cents table, [`crate::Scenario`]); CLP has no cents,
//! so there the last two digits of the whole-peso amount count (`10051` CLP declines).
//! Pay-ins after the page was approved, payouts after `config.processing_delay`: `.51`
//! rejected, `.52` failed, `.53` stays processing, `.54` HTTP 500 on create (nothing created),
//! `.55` no webhook, `.56` webhook twice, `.57` a webhook claiming the opposite outcome signed
//! with a wrong secret. A declined page ends the pay-in `cancelled` at once. Webhooks are
//! resent after each `config.callback_retries` delay while not answered 2xx.

mod api;
mod page;
#[cfg(test)]
mod tests;
mod webhook;

use crate::keyring::{self, SandboxSeed};
use crate::{NewAccount, Scenario, SimConfig, Simulator};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use overture_connectors::cleo::wire::TransactionOut;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// This simulator's name in key derivations (`cleo/<credential>/<account id>`).
pub const KEYRING_NAME: &str = "cleo";
/// The default test account's id (constant, documented).
pub const DEFAULT_ACCOUNT: &str = "acc_default";
/// The default test account's Chile key.
pub const DEFAULT_KEY_CL: &str = "ck_cl_acc_default.cleo-sandbox-default-cl";
/// The default test account's Peru key.
pub const DEFAULT_KEY_PE: &str = "ck_pe_acc_default.cleo-sandbox-default-pe";
/// The default test account's Mexico key.
pub const DEFAULT_KEY_MX: &str = "ck_mx_acc_default.cleo-sandbox-default-mx";
/// The default test account's webhook secret.
pub const DEFAULT_WEBHOOK_SECRET: &str = "whsec_cleo_sandbox_default";

/// The CLEO simulator.
pub struct CleoSandbox;

impl Simulator for CleoSandbox {
    fn psp_type(&self) -> &'static str {
        "CLEO"
    }

    fn create_account(&self, seed: &SandboxSeed) -> NewAccount {
        let account = format!("acc_{}", keyring::random_alphanumeric(16));
        let key = |cc: &str| {
            let secret = seed.derive(KEYRING_NAME, &format!("api_key_{cc}"), &account);
            format!("ck_{cc}_{account}.{secret}")
        };
        NewAccount::new(vec![
            ("api_key_cl", key("cl")),
            ("api_key_pe", key("pe")),
            ("api_key_mx", key("mx")),
            ("webhook_secret", webhook_secret(seed, &account)),
        ])
    }

    fn router(&self, config: SimConfig) -> Router {
        let shared = Arc::new(Shared {
            config,
            book: Mutex::new(Book::default()),
            client: reqwest::Client::new(),
        });
        Router::new()
            .route("/v1/payins", post(api::create_payin))
            .route("/v1/payouts", post(api::create_payout))
            .route("/v1/transactions", get(api::search))
            .route("/v1/transactions/{id}", get(api::get_one))
            .route("/checkout/{id}", get(page::show).post(page::complete))
            .route("/_orders", get(list_orders))
            .with_state(shared)
    }
}

/// The webhook secret of `account`.
pub(crate) fn webhook_secret(seed: &SandboxSeed, account: &str) -> String {
    if account == DEFAULT_ACCOUNT {
        return DEFAULT_WEBHOOK_SECRET.to_owned();
    }
    format!(
        "whsec_{}",
        seed.derive(KEYRING_NAME, "webhook_secret", account)
    )
}

/// The secret part of `account`'s key for `country_lower` (`cl`, `pe`, `mx`).
pub(crate) fn key_secret(seed: &SandboxSeed, account: &str, country_lower: &str) -> String {
    if account == DEFAULT_ACCOUNT {
        return format!("cleo-sandbox-default-{country_lower}");
    }
    seed.derive(KEYRING_NAME, &format!("api_key_{country_lower}"), account)
}

/// Pay-in or payout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Payin,
    Payout,
}

impl Kind {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Payin => "payin",
            Self::Payout => "payout",
        }
    }
}

/// One transaction at the simulated PSP. Amount as on the wire (major units).
#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub seq: u64,
    /// The account that created it.
    pub account: String,
    pub kind: Kind,
    pub id: String,
    pub reference: String,
    pub amount: String,
    pub currency: String,
    pub country: String,
    /// `overture_connectors::cleo::wire::status` word.
    pub status: &'static str,
    pub message: Option<String>,
    pub scenario: Scenario,
    pub return_url: Option<String>,
    pub webhook_url: String,
    /// Times money moved; must stay ≤ 1.
    pub executions: u32,
    pub webhook_attempts: u32,
    pub webhooks_sent: u32,
    pub status_queries: u32,
}

impl Order {
    pub(crate) fn out(&self) -> TransactionOut {
        TransactionOut {
            id: self.id.clone(),
            reference: self.reference.clone(),
            kind: self.kind.word().to_owned(),
            status: self.status.to_owned(),
            amount: self.amount.clone(),
            currency: self.currency.clone(),
            country: self.country.clone(),
            message: self.message.clone(),
        }
    }
}

/// State shared by handlers and background tasks.
pub(crate) struct Shared {
    pub config: SimConfig,
    book: Mutex<Book>,
    pub client: reqwest::Client,
}

#[derive(Default)]
struct Book {
    orders: HashMap<String, Order>,
    /// (account, reference) → id.
    by_reference: HashMap<(String, String), String>,
    next_seq: u64,
}

impl Shared {
    fn with_book<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        let mut guard = self.book.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Stores a new order unless its account used the reference: `Err` carries the existing id.
    pub(crate) fn insert(&self, mut order: Order) -> Result<Order, String> {
        self.with_book(|book| {
            let key = (order.account.clone(), order.reference.clone());
            if let Some(existing) = book.by_reference.get(&key) {
                return Err(existing.clone());
            }
            book.next_seq += 1;
            order.seq = book.next_seq;
            order.id = format!("cl_{}", 500_000 + book.next_seq);
            book.by_reference.insert(key, order.id.clone());
            book.orders.insert(order.id.clone(), order.clone());
            Ok(order)
        })
    }

    pub(crate) fn update<R>(&self, id: &str, f: impl FnOnce(&mut Order) -> R) -> Option<R> {
        self.with_book(|book| book.orders.get_mut(id).map(f))
    }

    pub(crate) fn update_by_reference<R>(
        &self,
        account: &str,
        reference: &str,
        f: impl FnOnce(&mut Order) -> R,
    ) -> Option<R> {
        self.with_book(|book| {
            let id = book
                .by_reference
                .get(&(account.to_owned(), reference.to_owned()))?
                .clone();
            book.orders.get_mut(&id).map(f)
        })
    }

    pub(crate) fn get(&self, id: &str) -> Option<Order> {
        self.update(id, |o| o.clone())
    }

    /// `{base}/checkout/{id}`.
    pub(crate) fn checkout_url(&self, id: &str) -> String {
        format!(
            "{}/checkout/{id}",
            self.config.base_url.trim_end_matches('/')
        )
    }
}

/// `GET /_orders`: every order, oldest first.
async fn list_orders(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let mut orders: Vec<Order> = shared.with_book(|b| b.orders.values().cloned().collect());
    orders.sort_by_key(|o| o.seq);
    let list: Vec<Value> = orders
        .iter()
        .map(|o| {
            json!({
                "kind": o.kind.word(),
                "id": o.id,
                "reference": o.reference,
                "amount": o.amount,
                "currency": o.currency,
                "country": o.country,
                "status": o.status,
                "executions": o.executions,
                "webhook_attempts": o.webhook_attempts,
                "webhooks_sent": o.webhooks_sent,
                "status_queries": o.status_queries,
            })
        })
        .collect();
    Json(Value::Array(list))
}
