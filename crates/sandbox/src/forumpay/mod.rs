//! FORUMPAY sandbox: ForumPay's API (forumpay.com `payInfo.api`) as Overture's connector and
//! ForumPay's own PHP client speak it, with the outcome chosen by the amount's cents
//! (the cents table).
//!
//! Accounts (`POST /_accounts`, see [`crate::keyring`]): `username` is random (`fp_` + 20
//! letters and digits), `secret` is derived from the sandbox seed and the user name
//! (`forumpay/secret/<username>`), `pos_id` is the label `overture-sandbox`.
//!
//! Routes, relative to the simulator's base URL:
//! - `GET|POST /api/v2/<Method>[/]`: `StartPayment`, `CheckPayment`, `GetRate`,
//!   `StartBuyOrder`, `ConfirmBuyOrder`, `CheckBuyOrder` (inferred), `GetBuyRate`. HTTP Basic
//!   auth with a user name and its own secret (else 401), `pos_id` on every call, parameters form-encoded (body or query),
//!   JSON answers. Refusals are `{"err": "...", "err_code": "..."}` with HTTP 400 (our choice:
//!   ForumPay does not document the status; the connector reads `err` under any status).
//! - `GET /pay/{payment_id}`: the hosted page (`access_url`); `POST` with
//!   `outcome=approve|decline` completes it and redirects (303) to the merchant's URL.
//! - `GET /_orders`: inspection list for tests (executions, webhooks, status checks);
//! - `POST /_accounts`: opens an account (not ForumPay's).
//!
//! `pos_id` is the merchant's free-form point-of-sale label at ForumPay, not a secret: any
//! value is accepted, and an order is only visible to the API user and `pos_id` that created
//! it.

mod api;
mod page;
mod webhook;

#[cfg(test)]
mod tests;

use crate::keyring::{self, SandboxSeed};
use crate::{NewAccount, Scenario, SimConfig, Simulator};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// This simulator's name in key derivations (`forumpay/secret/<username>`).
pub const KEYRING_NAME: &str = "forumpay";
/// Point-of-sale label handed out with every sandbox account (a label, not a secret).
pub const POS_ID: &str = "overture-sandbox";

/// The FORUMPAY simulator.
pub struct ForumPaySandbox;

impl Simulator for ForumPaySandbox {
    fn psp_type(&self) -> &'static str {
        "FORUMPAY"
    }

    fn create_account(&self, seed: &SandboxSeed) -> NewAccount {
        let username = format!("fp_{}", keyring::random_alphanumeric(20));
        NewAccount::new(vec![
            ("secret", seed.derive(KEYRING_NAME, "secret", &username)),
            ("username", username),
            ("pos_id", POS_ID.to_owned()),
        ])
    }

    fn router(&self, config: SimConfig) -> Router {
        let shared = Arc::new(Shared::new(config));
        Router::new()
            .route("/api/v2/{method}", get(api::handle).post(api::handle))
            .route("/api/v2/{method}/", get(api::handle).post(api::handle))
            .route("/pay/{payment_id}", get(page::show).post(page::complete))
            .route("/_orders", get(list_orders))
            .with_state(shared)
    }
}

/// Pay-in (`StartPayment`) or payout (buy order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Payin,
    Payout,
}

/// Order status, in ForumPay's words (`status` capitalised, `state` lower case).
/// `Created` is an unconfirmed buy order; `Error` is inferred (ForumPay documents none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Created,
    Waiting,
    Processing,
    Confirmed,
    Cancelled,
    Declined,
    Error,
}

impl Status {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::Waiting => "Waiting",
            Self::Processing => "Processing",
            Self::Confirmed => "Confirmed",
            Self::Cancelled => "Cancelled",
            Self::Declined => "Declined",
            Self::Error => "Error",
        }
    }

    pub(crate) fn is_final(self) -> bool {
        matches!(
            self,
            Self::Confirmed | Self::Cancelled | Self::Declined | Self::Error
        )
    }
}

/// One payment or buy order.
#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub seq: u64,
    pub kind: Kind,
    pub payment_id: String,
    pub reference_no: String,
    /// The API user (account) that created the order.
    pub account: String,
    pub pos_id: String,
    /// Fiat amount, major units with the currency's exponent (`"10.53"`).
    pub invoice_amount: String,
    pub invoice_currency: String,
    /// Crypto code (`BTC`).
    pub currency: String,
    /// Pay-in: the address the payer pays to; payout: the user's wallet.
    pub address: String,
    /// Crypto amount, 8 decimals.
    pub amount: String,
    /// Fiat per crypto unit.
    pub rate: String,
    pub access_token: String,
    pub webhook_url: Option<String>,
    pub success_url: Option<String>,
    pub failure_url: Option<String>,
    pub scenario: Scenario,
    pub status: Status,
    pub reason: Option<String>,
    /// Unix seconds.
    pub inserted: u64,
    pub final_at: Option<u64>,
    /// Times money moved for this order (hosted-page payment, buy-order execution).
    pub executions: u32,
    pub checks: u32,
    pub webhook_attempts: u32,
    /// Webhooks answered 2xx.
    pub webhooks_sent: u32,
}

/// State shared by the handlers and the background tasks of one simulator instance.
pub(crate) struct Shared {
    pub config: SimConfig,
    book: Mutex<Book>,
    pub client: reqwest::Client,
}

#[derive(Default)]
struct Book {
    orders: HashMap<String, Order>,
    next_seq: u64,
}

impl Shared {
    fn new(config: SimConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            // Building a client without custom TLS roots cannot fail in practice; fall back
            // to the default client rather than panic.
            .unwrap_or_default();
        Self {
            config,
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

    /// Stores a new order; its `seq` is assigned here.
    pub(crate) fn insert(&self, mut order: Order) -> Order {
        self.with_book(|book| {
            book.next_seq += 1;
            order.seq = book.next_seq;
            book.orders.insert(order.payment_id.clone(), order.clone());
            order
        })
    }

    /// Applies `f` to the order `payment_id`, returning its result, or `None` if unknown.
    pub(crate) fn update<R>(&self, payment_id: &str, f: impl FnOnce(&mut Order) -> R) -> Option<R> {
        self.with_book(|book| book.orders.get_mut(payment_id).map(f))
    }

    /// The first order matching `pred`, updated by `f`.
    pub(crate) fn find_update<R>(
        &self,
        pred: impl Fn(&Order) -> bool,
        f: impl FnOnce(&mut Order) -> R,
    ) -> Option<R> {
        self.with_book(|book| book.orders.values_mut().find(|o| pred(o)).map(f))
    }

    pub(crate) fn get(&self, payment_id: &str) -> Option<Order> {
        self.update(payment_id, |o| o.clone())
    }
}

/// The status fields of an order, shaped like ForumPay's `CheckPayment` answer (buy orders
/// reuse the shape; inferred).
pub(crate) fn order_json(order: &Order, base_url: &str) -> Value {
    let confirmed = order.status == Status::Confirmed;
    let cancelled = matches!(order.status, Status::Cancelled | Status::Declined);
    let final_time = order.final_at.map(format_time);
    let mut v = json!({
        "payment_id": order.payment_id,
        "reference_no": order.reference_no,
        "inserted": format_time(order.inserted),
        "type": match order.kind { Kind::Payin => "Sell", Kind::Payout => "Buy" },
        "invoice_currency": order.invoice_currency,
        "invoice_amount": order.invoice_amount,
        "currency": order.currency,
        "rate": order.rate,
        "amount": order.amount,
        "address": order.address,
        "min_confirmations": 1,
        "accept_zero_confirmations": false,
        "require_kyt_for_confirmation": false,
        "confirmations": if confirmed { "1" } else { "0" },
        "confirmed": confirmed,
        "confirmed_time": if confirmed { final_time.clone() } else { None },
        "cancelled": cancelled,
        "cancelled_time": if cancelled { final_time } else { None },
        "reason": order.reason,
        "sid": null,
        "wait_time": "Less than 2 minutes",
        "status": order.status.word(),
        "state": order.status.word().to_ascii_lowercase(),
    });
    if order.kind == Kind::Payin {
        v["access_token"] = json!(order.access_token);
        v["access_url"] = json!(access_url(base_url, &order.payment_id));
    }
    v
}

pub(crate) fn access_url(base_url: &str, payment_id: &str) -> String {
    format!("{}/pay/{}", base_url.trim_end_matches('/'), payment_id)
}

/// `GET /_orders`: every order, oldest first, for tests and manual inspection.
async fn list_orders(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let mut orders: Vec<Order> = shared.with_book(|b| b.orders.values().cloned().collect());
    orders.sort_by_key(|o| o.seq);
    let list: Vec<Value> = orders
        .iter()
        .map(|o| {
            json!({
                "kind": match o.kind { Kind::Payin => "payin", Kind::Payout => "payout" },
                "payment_id": o.payment_id,
                "reference_no": o.reference_no,
                "amount": o.invoice_amount,
                "currency": o.invoice_currency,
                "crypto": o.currency,
                "status": o.status.word(),
                "executions": o.executions,
                "webhooks_sent": o.webhooks_sent,
                "webhook_attempts": o.webhook_attempts,
                "checks": o.checks,
            })
        })
        .collect();
    Json(Value::Array(list))
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), ForumPay's timestamp format (`inserted`, `confirmed_time`).
pub(crate) fn format_time(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        secs / 3_600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn formats_forumpay_timestamps() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_668_069_813), "2022-11-10 08:43:33");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00");
    }
}
