//! GIGADAT sandbox: Gigadat's Interac API as its public merchant samples and Hyperswitch's
//! Gigadat connector speak it (sources in `overture_connectors::gigadat::wire`), with the
//! outcome chosen by the amount's cents (the cents table).
//!
//! Accounts (`POST /_accounts`, see [`crate::keyring`]): `access_token` is random (`gd_` + 24
//! letters and digits); `security_token` (`gigadat/security_token/<access_token>`, 64 hex
//! digits) and `campaign_id` (`gigadat/campaign_id/<access_token>`, first 12 hex digits) are
//! derived from the sandbox seed and the access token; `sandbox` is `true`. A
//! `transactionId` is unique across the whole sandbox (a reuse by another account is refused
//! as a duplicate too), and only its account sees a transaction through the API.
//!
//! Routes, relative to the simulator's base URL:
//! - `POST /api/payment-token/{campaignId}`: HTTP Basic `access_token:security_token` with the
//!   access token's own security token (else 401), a campaign that is not the account's ⇒ 403; JSON body checked like Gigadat's (CAD, `amount` with
//!   exactly two decimals, `mobile` 10–11 digits, `userIp` an IP address, `name`, `email`,
//!   `userId`, a `transactionId` never used before, `type` CPI|ETO|ACH); refusals are
//!   `{"err": "…"}` with HTTP 400. Answers `{"token", "data": {"transactionId", "type"}}`.
//! - `GET /api/transactions/{transactionId}`: Basic auth; `{"transactionId", "status",
//!   "type", "amount", "currency", "reason"}`; unknown ⇒ 400 `{"err": "Transaction not
//!   found"}` (our choice: a 404 would read as bad credentials to most clients).
//! - `GET /webflow?transaction=…&token=…` (also `transactionId=`): the hosted Interac page of a
//!   `CPI` transaction; `POST` with `outcome=approve|decline` completes it and redirects (303)
//!   to the `returnUrl` given at token time, else shows the result.
//! - `POST /webflow/deposit?transaction=…&token=…`: Basic auth; finalises an `ETO`/`ACH`
//!   payout (Mozarto's `finalizationURL`); executes it once, a repeat only reports its state.
//! - `GET /_orders`: inspection JSON for tests (executions, finalisations, checks,
//!   notifications); `POST /_accounts`: opens an account (neither is Gigadat's).
//!
//! Statuses: `STATUS_INITED` once the token is issued; `STATUS_PENDING` once the payer
//! approved on the webflow or the payout was finalised; after `processing_delay` the
//! scenario's final status (`.51` `STATUS_REJECTED`, `.52` `STATUS_FAILED`, `.53` never,
//! others `STATUS_SUCCESS`). Declining on the webflow is `STATUS_REJECTED` at once. A token
//! not used within the sandbox's token lifetime makes the transaction `STATUS_EXPIRED`.
//!
//! Listener notifications: `POST {listenerUrl}?transaction=…&status=…&type=…`, empty body,
//! unsigned, retried with `callback_retries` while not answered 2xx; `.55` sends none, `.56`
//! sends each twice, `.57` sends one claiming the opposite status.

mod api;
mod notify;
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
use std::time::{Duration, Instant};

/// This simulator's name in key derivations (`gigadat/<credential>/<access_token>`).
pub const KEYRING_NAME: &str = "gigadat";
/// How long a token stays usable by default (assumed; Gigadat does not publish it).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(30 * 60);

/// The GIGADAT simulator. `token_ttl` is how long an issued token (webflow or payout
/// finalisation) stays usable before the transaction becomes `STATUS_EXPIRED`.
#[derive(Clone, Debug)]
pub struct GigadatSandbox {
    /// Token lifetime before `STATUS_EXPIRED`.
    pub token_ttl: Duration,
}

impl Default for GigadatSandbox {
    fn default() -> Self {
        Self {
            token_ttl: DEFAULT_TOKEN_TTL,
        }
    }
}

impl Simulator for GigadatSandbox {
    fn psp_type(&self) -> &'static str {
        "GIGADAT"
    }

    fn create_account(&self, seed: &SandboxSeed) -> NewAccount {
        let access_token = format!("gd_{}", keyring::random_alphanumeric(24));
        NewAccount::new(vec![
            (
                "security_token",
                seed.derive(KEYRING_NAME, "security_token", &access_token),
            ),
            ("campaign_id", campaign_id(seed, &access_token)),
            ("access_token", access_token),
            ("sandbox", "true".to_owned()),
        ])
    }

    fn router(&self, config: SimConfig) -> Router {
        let shared = Arc::new(Shared::new(config, self.token_ttl));
        Router::new()
            .route("/api/payment-token/{campaign}", post(api::payment_token))
            .route("/api/transactions/{transaction}", get(api::status))
            .route("/webflow", get(page::show).post(page::complete))
            .route("/webflow/deposit", post(api::finalize))
            .route("/_orders", get(list_orders))
            .with_state(shared)
    }
}

/// The one campaign of the account `access_token`.
pub(crate) fn campaign_id(seed: &SandboxSeed, access_token: &str) -> String {
    seed.derive_short(KEYRING_NAME, "campaign_id", access_token, 12)
}

/// Gigadat's transaction type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Cpi,
    Eto,
    Ach,
}

impl Kind {
    pub(crate) fn parse(word: &str) -> Option<Self> {
        match word {
            "CPI" => Some(Self::Cpi),
            "ETO" => Some(Self::Eto),
            "ACH" => Some(Self::Ach),
            _ => None,
        }
    }

    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Cpi => "CPI",
            Self::Eto => "ETO",
            Self::Ach => "ACH",
        }
    }

    pub(crate) fn is_payout(self) -> bool {
        matches!(self, Self::Eto | Self::Ach)
    }
}

/// Gigadat's `STATUS_*` words (`STATUS_ABORTED1` exists at Gigadat; the sandbox never
/// produces it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Inited,
    Pending,
    Success,
    Rejected,
    Expired,
    Failed,
}

impl Status {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Inited => "STATUS_INITED",
            Self::Pending => "STATUS_PENDING",
            Self::Success => "STATUS_SUCCESS",
            Self::Rejected => "STATUS_REJECTED",
            Self::Expired => "STATUS_EXPIRED",
            Self::Failed => "STATUS_FAILED",
        }
    }

    pub(crate) fn is_final(self) -> bool {
        !matches!(self, Self::Inited | Self::Pending)
    }
}

/// One transaction.
#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub seq: u64,
    /// The account (`access_token`) that created the transaction.
    pub account: String,
    /// The merchant's `transactionId`.
    pub transaction_id: String,
    pub kind: Kind,
    /// Major units, two decimals (`"10.53"`).
    pub amount: String,
    pub user_id: String,
    pub name: String,
    pub token: String,
    pub listener_url: Option<String>,
    pub return_url: Option<String>,
    pub scenario: Scenario,
    pub status: Status,
    pub reason: Option<String>,
    pub issued_at: Instant,
    /// Times money moved (webflow approval, payout finalisation).
    pub executions: u32,
    /// Finalisation calls received (repeats included).
    pub finalizations: u32,
    pub checks: u32,
    pub notification_attempts: u32,
    /// Notifications answered 2xx.
    pub notifications_sent: u32,
}

/// State shared by the handlers and the background tasks of one simulator instance.
pub(crate) struct Shared {
    pub config: SimConfig,
    pub token_ttl: Duration,
    book: Mutex<Book>,
    pub client: reqwest::Client,
}

#[derive(Default)]
struct Book {
    orders: HashMap<String, Order>,
    next_seq: u64,
}

impl Shared {
    fn new(config: SimConfig, token_ttl: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            // Building a client without custom TLS roots cannot fail in practice; fall back
            // to the default client rather than panic.
            .unwrap_or_default();
        Self {
            config,
            token_ttl,
            book: Mutex::new(Book::default()),
            client,
        }
    }

    /// Runs `f` on the order book. A poisoned lock (a panic elsewhere) still holds valid
    /// data: every mutation is a few field writes.
    fn with_book<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        let mut guard = self.book.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Stores a new order unless its `transactionId` is taken (then `None`).
    pub(crate) fn insert(&self, mut order: Order) -> Option<Order> {
        self.with_book(|book| {
            if book.orders.contains_key(&order.transaction_id) {
                return None;
            }
            book.next_seq += 1;
            order.seq = book.next_seq;
            book.orders
                .insert(order.transaction_id.clone(), order.clone());
            Some(order)
        })
    }

    /// Applies `f` to the order, after expiring its token if it is stale; `None` if unknown.
    /// Returns whether this call expired it, so the caller can notify.
    pub(crate) fn update<R>(
        &self,
        transaction_id: &str,
        f: impl FnOnce(&mut Order) -> R,
    ) -> Option<(R, bool)> {
        let ttl = self.token_ttl;
        self.with_book(|book| {
            book.orders.get_mut(transaction_id).map(|o| {
                let expired = o.status == Status::Inited && o.issued_at.elapsed() >= ttl;
                if expired {
                    o.status = Status::Expired;
                    o.reason = Some("Token expired".to_owned());
                }
                (f(o), expired)
            })
        })
    }
}

/// `GET /_orders`: every order, oldest first, for tests and manual inspection.
async fn list_orders(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let mut orders: Vec<Order> = shared.with_book(|b| b.orders.values().cloned().collect());
    orders.sort_by_key(|o| o.seq);
    let list: Vec<Value> = orders
        .iter()
        .map(|o| {
            json!({
                "transactionId": o.transaction_id,
                "type": o.kind.word(),
                "userId": o.user_id,
                "amount": o.amount,
                "status": o.status.word(),
                "executions": o.executions,
                "finalizations": o.finalizations,
                "checks": o.checks,
                "notification_attempts": o.notification_attempts,
                "notifications_sent": o.notifications_sent,
            })
        })
        .collect();
    Json(Value::Array(list))
}
