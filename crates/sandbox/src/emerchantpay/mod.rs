//! EMERCHANTPAY simulator: emerchantpay's Genesis Web Payment Form (WPF) API, as
//! `overture_connectors::emerchantpay::wire` documents it (sources and inferred details there).
//!
//! Routes, relative to the simulator's base URL (`/sandbox/emerchantpay` in `overture serve`,
//! standing for `https://staging.wpf.emerchantpay.net`):
//! - `POST /wpf` (also `/{lang}/wpf`): `<wpf_payment>` create, HTTP Basic auth with the API
//!   login and password (401 otherwise). Missing or invalid fields answer `<wpf_payment>` with
//!   `status` `error` and Genesis codes (320 missing, 330 format, 340 invalid, 350 XML); a
//!   reused `transaction_id` is 450. The answer carries `unique_id` and `redirect_url`.
//! - `POST /wpf/reconcile`: `<wpf_reconcile><unique_id>` ⇒ the form's state and its
//!   `payment_transaction` (another account's or an unknown form: error 460).
//! - `GET /payment/{unique_id}`: the hosted form; `POST` with `outcome=approve|decline`
//!   completes it and redirects (303) to `return_success_url`, `return_failure_url` or
//!   `return_pending_url` (the sandboxes' hosted-page convention).
//! - `GET /_orders`: JSON inspection; `POST /_accounts`: opens an account; not Genesis'.
//!
//! Notifications: a form POST to the form's `notification_url` (`notification_type=wpf`,
//! `wpf_unique_id`, `wpf_transaction_id`, `wpf_status`, `payment_transaction_*`, `signature` =
//! hex SHA-512 of `wpf_unique_id` + API password) when the form reaches a final state, resent
//! after each `config.callback_retries` delay until answered 2xx with the
//! `<notification_echo><wpf_unique_id>` of that form.
//!
//! Outcomes follow the amount's cents ([`crate::Scenario`]) once the form is approved: `.51`
//! declined (code 500), `.52` error, `.53` stays `pending_async`, `.54` HTTP 500 on create (nothing
//! created), `.55` approved without notification, `.56` notification twice, `.57` one claiming
//! `declined` signed with a wrong password (reconcile says approved). A declined form is
//! `declined` (code 500).
//!
//! Accounts (`POST /_accounts`, see [`crate::keyring`]): a random 40-hex-digit API login
//! (`username`) and `password` derived from the seed (`emerchantpay/password/<login>`).
//! **Default test account** (constant, for outside clients): login [`DEFAULT_USERNAME`],
//! password [`DEFAULT_PASSWORD`].

mod api;
mod notify;
mod page;
#[cfg(test)]
mod tests;

use crate::keyring::SandboxSeed;
use crate::{NewAccount, Scenario, SimConfig, Simulator};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use overture_core::Money;
use rand::RngCore;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// This simulator's name in key derivations.
pub const KEYRING_NAME: &str = "emerchantpay";
/// The default test account's API login.
pub const DEFAULT_USERNAME: &str = "overture-demo";
/// The default test account's API password.
pub const DEFAULT_PASSWORD: &str = "overture-demo-password";

/// The EMERCHANTPAY simulator.
pub struct EmerchantpaySandbox;

impl Simulator for EmerchantpaySandbox {
    fn psp_type(&self) -> &'static str {
        "EMERCHANTPAY"
    }

    fn create_account(&self, seed: &SandboxSeed) -> NewAccount {
        let login = random_hex(20);
        NewAccount::new(vec![
            ("username", login.clone()),
            ("password", password_of(seed, &login)),
        ])
    }

    fn router(&self, config: SimConfig) -> Router {
        let shared = Arc::new(Shared {
            config,
            book: Mutex::new(Book::default()),
            client: reqwest::Client::new(),
        });
        Router::new()
            .route("/wpf", post(api::create))
            .route("/{lang}/wpf", post(api::create))
            .route("/wpf/reconcile", post(api::reconcile))
            .route("/payment/{unique_id}", get(page::show).post(page::complete))
            .route("/_orders", get(list_orders))
            .with_state(shared)
    }
}

/// `2 × bytes` random lower-case hex digits.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// The API password of `login` (the default account's constant, else derived).
pub(crate) fn password_of(seed: &SandboxSeed, login: &str) -> String {
    if login == DEFAULT_USERNAME {
        DEFAULT_PASSWORD.to_owned()
    } else {
        seed.derive(KEYRING_NAME, "password", login)
    }
}

/// The login of `Authorization: Basic <login>:<password>` when the password is that login's.
pub(crate) fn authenticate(seed: &SandboxSeed, headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.strip_prefix("Basic ")?.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (login, password) = text.split_once(':')?;
    let ok = if login == DEFAULT_USERNAME {
        password == DEFAULT_PASSWORD
    } else {
        !login.is_empty() && seed.verify(KEYRING_NAME, "password", login, password)
    };
    ok.then(|| login.to_owned())
}

/// The payment attempt made on a form.
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    pub unique_id: String,
    pub status: &'static str,
    pub code: Option<&'static str>,
    pub message: Option<&'static str>,
}

/// One web payment form at the simulated gateway. Amount as Overture money (minor units on
/// the wire).
#[derive(Clone, Debug)]
pub(crate) struct PaymentForm {
    pub seq: u64,
    /// The API login that created it.
    pub login: String,
    pub unique_id: String,
    pub transaction_id: String,
    pub amount: Money,
    pub notification_url: String,
    pub return_success_url: String,
    pub return_failure_url: String,
    pub return_pending_url: Option<String>,
    /// WPF state word (`overture_connectors::emerchantpay::wire::status`).
    pub status: &'static str,
    pub attempt: Option<Attempt>,
    pub scenario: Scenario,
    /// Times money moved; must stay ≤ 1.
    pub executions: u32,
    pub notify_attempts: u32,
    /// Notifications answered with the right echo.
    pub notifications_echoed: u32,
    pub reconciles: u32,
}

/// State shared by the handlers and background tasks of one simulator instance.
pub(crate) struct Shared {
    pub config: SimConfig,
    book: Mutex<Book>,
    /// Client for notifications.
    pub client: reqwest::Client,
}

#[derive(Default)]
struct Book {
    /// By `unique_id`.
    forms: HashMap<String, PaymentForm>,
    /// (login, `transaction_id`) → `unique_id`.
    by_transaction: HashMap<(String, String), String>,
    next_seq: u64,
}

impl Shared {
    fn with_book<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        let mut guard = self.book.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Stores a new form unless its login used the `transaction_id` already (`None`).
    pub(crate) fn insert(&self, mut form: PaymentForm) -> Option<PaymentForm> {
        self.with_book(|book| {
            let key = (form.login.clone(), form.transaction_id.clone());
            if book.by_transaction.contains_key(&key) {
                return None;
            }
            book.next_seq += 1;
            form.seq = book.next_seq;
            book.by_transaction.insert(key, form.unique_id.clone());
            book.forms.insert(form.unique_id.clone(), form.clone());
            Some(form)
        })
    }

    /// Applies `f` to the form `unique_id`; `None` if unknown.
    pub(crate) fn update<R>(
        &self,
        unique_id: &str,
        f: impl FnOnce(&mut PaymentForm) -> R,
    ) -> Option<R> {
        self.with_book(|book| book.forms.get_mut(unique_id).map(f))
    }

    /// `{base}/payment/{unique_id}`.
    pub(crate) fn form_url(&self, unique_id: &str) -> String {
        format!(
            "{}/payment/{unique_id}",
            self.config.base_url.trim_end_matches('/')
        )
    }
}

/// `GET /_orders`: every form, oldest first.
async fn list_orders(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let mut forms: Vec<PaymentForm> = shared.with_book(|b| b.forms.values().cloned().collect());
    forms.sort_by_key(|f| f.seq);
    let list = forms
        .iter()
        .map(|f| {
            json!({
                "unique_id": f.unique_id,
                "transaction_id": f.transaction_id,
                "amount": f.amount.to_major_string(),
                "currency": f.amount.currency().code(),
                "status": f.status,
                "executions": f.executions,
                "notify_attempts": f.notify_attempts,
                "notifications_echoed": f.notifications_echoed,
                "reconciles": f.reconciles,
            })
        })
        .collect();
    Json(Value::Array(list))
}
