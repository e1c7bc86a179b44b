//! PAYONE simulator: the Interac (Canada) protocol Overture *assumes* for Payone
//! (payonepayment.com publishes no API; every assumption is listed in
//! `overture_connectors::payone::wire`, and this simulator speaks exactly those).
//!
//! Routes, relative to the simulator's base URL (`/sandbox/payone` in `overture serve`):
//! - `POST /api/v1/payments`: pay-in; answers 201 with `webflowURL`;
//! - `POST /api/v1/payouts`: Interac e-Transfer payout; answers 201, processing;
//! - `GET /api/v1/transactions/{transactionId}` and `GET /api/v1/transactions?merchantReference=`;
//! - `GET /webflow/{transactionId}`: the hosted Interac webflow page; `POST` with
//!   `outcome=approve|decline` completes it and redirects (303) to `returnUrl` when given
//!   (the cents table);
//! - `GET /_orders`: JSON inspection (executions, webhooks, status queries); not Payone's;
//! - `POST /_accounts`: opens an account; not Payone's.
//!
//! Accounts (`POST /_accounts`, see [`crate::keyring`]): a random API key id (`psk_` + 20
//! letters and digits); `api_key` = `<key id>.<secret>` with the secret derived from the
//! sandbox seed and the key id (`payone/api_key/<key id>`), and `webhook_secret` = `whsec_` +
//! `payone/webhook_secret/<key id>`. Every API call needs `X-Api-Key` with a key id and its own
//! secret (else 401); a `merchantReference` is unique per account, another account's
//! transaction is "not found", and each transaction's webhooks are signed with its account's
//! webhook secret. Outcomes follow the
//! amount's cents (the cents table, [`crate::Scenario`]): pay-ins after the page was approved,
//! payouts after `config.processing_delay`; `.51` declined, `.52` failed, `.53` stays
//! processing, `.54` HTTP 500 on create (nothing created), `.55` no webhook, `.56` webhook
//! twice, `.57` a webhook claiming the opposite outcome signed with a wrong secret. A declined
//! page ends the pay-in `cancelled` at once. Webhooks are resent after each
//! `config.callback_retries` delay while not answered 2xx.

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
use overture_connectors::payone::wire::TransactionOut;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// This simulator's name in key derivations (`payone/<credential>/<key id>`).
pub const KEYRING_NAME: &str = "payone";

/// The PAYONE simulator.
pub struct PayoneSandbox;

impl Simulator for PayoneSandbox {
    fn psp_type(&self) -> &'static str {
        "PAYONE"
    }

    fn create_account(&self, seed: &SandboxSeed) -> NewAccount {
        let key_id = format!("psk_{}", keyring::random_alphanumeric(20));
        let secret = seed.derive(KEYRING_NAME, "api_key", &key_id);
        NewAccount::new(vec![
            ("api_key", format!("{key_id}.{secret}")),
            ("webhook_secret", webhook_secret(seed, &key_id)),
        ])
    }

    fn router(&self, config: SimConfig) -> Router {
        let shared = Arc::new(Shared {
            config,
            book: Mutex::new(Book::default()),
            client: reqwest::Client::new(),
        });
        Router::new()
            .route("/api/v1/payments", post(api::create_payin))
            .route("/api/v1/payouts", post(api::create_payout))
            .route("/api/v1/transactions", get(api::search))
            .route("/api/v1/transactions/{transaction_id}", get(api::get_one))
            .route(
                "/webflow/{transaction_id}",
                get(page::show).post(page::complete),
            )
            .route("/_orders", get(list_orders))
            .with_state(shared)
    }
}

/// The webhook secret (HMAC-SHA256 key of `X-Payone-Signature`) of the account `key_id`.
pub(crate) fn webhook_secret(seed: &SandboxSeed, key_id: &str) -> String {
    format!(
        "whsec_{}",
        seed.derive(KEYRING_NAME, "webhook_secret", key_id)
    )
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
            Self::Payin => "PAYIN",
            Self::Payout => "PAYOUT",
        }
    }
}

/// One transaction at the simulated PSP. Amount in major units, two decimals.
#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub seq: u64,
    /// The account (API key id) that created the transaction.
    pub account: String,
    pub kind: Kind,
    pub transaction_id: String,
    pub merchant_reference: String,
    pub user_id: String,
    pub amount: String,
    pub currency: String,
    /// Status word (`overture_connectors::payone::wire::status`).
    pub status: &'static str,
    pub message: Option<String>,
    pub scenario: Scenario,
    pub return_url: Option<String>,
    pub webhook_url: Option<String>,
    /// Times money moved (a payout processed, a webflow approved); must stay ≤ 1.
    pub executions: u32,
    pub webhook_attempts: u32,
    /// Webhooks answered 2xx.
    pub webhooks_sent: u32,
    pub status_queries: u32,
}

impl Order {
    /// The status endpoints' view of the order.
    pub(crate) fn out(&self) -> TransactionOut {
        TransactionOut {
            transaction_id: self.transaction_id.clone(),
            merchant_reference: self.merchant_reference.clone(),
            kind: self.kind.word().to_owned(),
            status: self.status.to_owned(),
            amount: self.amount.clone(),
            currency: self.currency.clone(),
            message: self.message.clone(),
        }
    }
}

/// State shared by the handlers and the background tasks of one simulator instance.
pub(crate) struct Shared {
    pub config: SimConfig,
    book: Mutex<Book>,
    /// Client for webhooks.
    pub client: reqwest::Client,
}

#[derive(Default)]
struct Book {
    /// By Payone's `transactionId`.
    orders: HashMap<String, Order>,
    /// (account, `merchantReference`) → `transactionId`.
    by_reference: HashMap<(String, String), String>,
    next_seq: u64,
}

impl Shared {
    /// Runs `f` on the order book. A poisoned lock (a panic elsewhere) still holds valid data:
    /// every mutation is a few field writes.
    fn with_book<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        let mut guard = self.book.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Stores a new order unless its account already used its `merchantReference`: `Err`
    /// carries the existing `transactionId`. The id and `seq` are assigned here.
    pub(crate) fn insert(&self, mut order: Order) -> Result<Order, String> {
        self.with_book(|book| {
            let key = (order.account.clone(), order.merchant_reference.clone());
            if let Some(existing) = book.by_reference.get(&key) {
                return Err(existing.clone());
            }
            book.next_seq += 1;
            order.seq = book.next_seq;
            order.transaction_id = format!("po_{}", 100_000 + book.next_seq);
            book.by_reference.insert(key, order.transaction_id.clone());
            book.orders
                .insert(order.transaction_id.clone(), order.clone());
            Ok(order)
        })
    }

    /// Applies `f` to the order `transaction_id`; `None` if unknown.
    pub(crate) fn update<R>(
        &self,
        transaction_id: &str,
        f: impl FnOnce(&mut Order) -> R,
    ) -> Option<R> {
        self.with_book(|book| book.orders.get_mut(transaction_id).map(f))
    }

    /// Applies `f` to `account`'s order with this `merchantReference`; `None` if unknown.
    pub(crate) fn update_by_reference<R>(
        &self,
        account: &str,
        reference: &str,
        f: impl FnOnce(&mut Order) -> R,
    ) -> Option<R> {
        self.with_book(|book| {
            let key = (account.to_owned(), reference.to_owned());
            let id = book.by_reference.get(&key)?.clone();
            book.orders.get_mut(&id).map(f)
        })
    }

    pub(crate) fn get(&self, transaction_id: &str) -> Option<Order> {
        self.update(transaction_id, |o| o.clone())
    }

    /// `{base}/webflow/{transaction_id}`.
    pub(crate) fn webflow_url(&self, transaction_id: &str) -> String {
        format!(
            "{}/webflow/{}",
            self.config.base_url.trim_end_matches('/'),
            transaction_id
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
                "transaction_id": o.transaction_id,
                "merchant_reference": o.merchant_reference,
                "amount": o.amount,
                "currency": o.currency,
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
