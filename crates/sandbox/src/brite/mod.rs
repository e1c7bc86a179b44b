//! BRITE sandbox: Brite's merchant API as docs.britepayments.com describes it (sources in
//! `overture_connectors::brite::wire`), with the outcome chosen by the amount's cents
//! (the cents table).
//!
//! Accounts (`POST /_accounts`, see [`crate::keyring`]): `public_key` is random (`pk_` + 24
//! letters and digits), `secret` is derived from the sandbox seed and the public key
//! (`brite/secret/<public_key>`); callbacks carry the account's own `merchant_id`
//! (`brite/merchant_id/<public_key>`, first 16 hex digits). A token, and the sessions created
//! with it, belong to one account: another account's session is "not found".
//!
//! Routes, relative to the simulator's base URL (all API calls `POST`, JSON both ways):
//! - `/api/merchant.authorize` `{public_key, secret}` ⇒ `{access_token, expires,
//!   refresh_token}`; a secret that is not the public key's own ⇒ 401. Tokens live `token_ttl` (Brite: 6 h; the
//!   sandbox default is 10 minutes so that renewal happens in demos, and tests use ~1 s);
//!   refresh tokens 7/6 of that, as Brite documents 6 h / 7 h.
//! - `/api/merchant.token` `{access_token, refresh_token}` ⇒ a new pair; the old access token
//!   stops working at once (as documented); an unknown or expired refresh token ⇒ 401.
//! - `/api/session.create_deposit`, `/api/session.get` `{id}`, `/api/transaction.state`
//!   `{id}`: `Authorization: Bearer <access_token>`, unknown or expired ⇒ 401. Refusals are
//!   HTTP 400 `{"message": "…"}` (inferred shape), e.g. `Session not found`.
//! - `GET /client/{session_id}`: the hosted Brite client; `POST` with
//!   `outcome=approve|decline` completes it and redirects (303) to `redirect_uri`.
//! - `GET /_orders`, `GET /_auth` (token counts), `POST /_revoke_tokens` (every access token
//!   stops working, as after a Brite-side revocation), `POST /_accounts` (opens an account):
//!   inspection and test controls.
//!
//! Flow: approving in the client moves the session to AUTHENTICATION_COMPLETED (2) and
//! creates its transaction in PENDING (1); after `processing_delay` the scenario decides:
//! approved ⇒ transaction COMPLETED (4), session COMPLETED (12), transaction CREDIT (5);
//! `.51` ⇒ transaction ABORTED (2), session ABORTED (10); `.52` ⇒ transaction FAILED (3),
//! session FAILED (11); `.53` ⇒ stays PENDING. Declining in the client ⇒ session ABORTED (10)
//! with no transaction.
//!
//! Callbacks (unsigned JSON POST, `user-agent: Brite Callback`, to the URL subscribed for that
//! state, retried with `callback_retries`): `.55` none, `.56` each twice, `.57` a lying final
//! callback (the opposite transaction state), and — a rule of this sandbox, not of the cents
//! table — **`.58` sends every callback of the deposit once it is final, in reverse order**
//! (CREDIT, session COMPLETED, COMPLETED, a late PENDING, a late AUTHENTICATION_COMPLETED), as
//! Brite warns callbacks are "not necessarily fired in order".

mod api;
mod auth;
mod callbacks;
mod client;

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
use std::time::Duration;

/// This simulator's name in key derivations (`brite/<name>/<public_key>`).
pub const KEYRING_NAME: &str = "brite";
/// Default access token lifetime (see the module docs).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(10 * 60);
/// Cents whose callbacks arrive out of order (a rule of this sandbox).
pub const OUT_OF_ORDER_CENTS: i64 = 58;

/// The BRITE simulator; `token_ttl` is the lifetime of the access tokens it issues.
#[derive(Clone, Debug)]
pub struct BriteSandbox {
    /// Access token lifetime (refresh tokens live 7/6 of it).
    pub token_ttl: Duration,
}

impl Default for BriteSandbox {
    fn default() -> Self {
        Self {
            token_ttl: DEFAULT_TOKEN_TTL,
        }
    }
}

impl Simulator for BriteSandbox {
    fn psp_type(&self) -> &'static str {
        "BRITE"
    }

    fn create_account(&self, seed: &SandboxSeed) -> NewAccount {
        let public_key = format!("pk_{}", keyring::random_alphanumeric(24));
        NewAccount::new(vec![
            ("secret", seed.derive(KEYRING_NAME, "secret", &public_key)),
            ("public_key", public_key),
        ])
    }

    fn router(&self, config: SimConfig) -> Router {
        let shared = Arc::new(Shared::new(config, self.token_ttl));
        Router::new()
            .route("/api/merchant.authorize", post(api::authorize))
            .route("/api/merchant.token", post(api::refresh))
            .route("/api/session.create_deposit", post(api::create_deposit))
            .route("/api/session.get", post(api::session_get))
            .route("/api/transaction.state", post(api::transaction_state))
            .route(
                "/client/{session_id}",
                get(client::show).post(client::complete),
            )
            .route("/_orders", get(list_orders))
            .route("/_auth", get(auth_counts))
            .route("/_revoke_tokens", post(revoke_tokens))
            .with_state(shared)
    }
}

/// The `merchant_id` the callbacks of account `public_key` carry.
pub(crate) fn merchant_id(seed: &SandboxSeed, public_key: &str) -> String {
    seed.derive_short(KEYRING_NAME, "merchant_id", public_key, 16)
}

/// Session states the sandbox uses (documented numbers) plus its own initial state.
pub(crate) mod session {
    /// Created, client not completed (the sandbox's choice; Brite documents no number).
    pub const CREATED: i64 = 0;
    pub const AUTHENTICATION_COMPLETED: i64 = 2;
    pub const ABORTED: i64 = 10;
    pub const FAILED: i64 = 11;
    pub const COMPLETED: i64 = 12;
}

/// Transaction states (documented numbers).
pub(crate) mod transaction {
    pub const PENDING: i64 = 1;
    pub const ABORTED: i64 = 2;
    pub const FAILED: i64 = 3;
    pub const COMPLETED: i64 = 4;
    pub const CREDIT: i64 = 5;
}

/// What a callback is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subject {
    Session,
    Transaction,
}

/// One subscription of `session.create_deposit`'s `callbacks`.
#[derive(Clone, Debug)]
pub(crate) struct Subscription {
    pub url: String,
    pub subject: Subject,
    pub state: i64,
}

/// One deposit session and its transaction.
#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub seq: u64,
    /// The account (`public_key`) that created the session.
    pub account: String,
    /// The account's `merchant_id`, carried by callbacks.
    pub merchant_id: String,
    pub session_id: String,
    pub client_token: String,
    pub merchant_reference: String,
    pub country_id: String,
    /// Major units as sent (`"100.58"`).
    pub amount: String,
    pub subscriptions: Vec<Subscription>,
    pub redirect_uri: Option<String>,
    pub scenario: Scenario,
    pub out_of_order: bool,
    pub session_state: i64,
    /// Brite's transaction id and its state, once the payer authenticated.
    pub transaction: Option<(String, i64)>,
    pub executions: u32,
    pub checks: u32,
    pub callback_attempts: u32,
    /// Callbacks answered 2xx.
    pub callbacks_sent: u32,
}

/// State shared by the handlers and the background tasks of one simulator instance.
pub(crate) struct Shared {
    pub config: SimConfig,
    pub tokens: auth::Tokens,
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
            .user_agent("Brite Callback")
            .build()
            // Building a client without custom TLS roots cannot fail in practice; fall back
            // to the default client rather than panic.
            .unwrap_or_default();
        Self {
            config,
            tokens: auth::Tokens::new(token_ttl),
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

    /// Stores a new session; its `seq` is assigned here.
    pub(crate) fn insert(&self, mut order: Order) -> Order {
        self.with_book(|book| {
            book.next_seq += 1;
            order.seq = book.next_seq;
            book.orders.insert(order.session_id.clone(), order.clone());
            order
        })
    }

    /// Applies `f` to session `session_id`, or `None` if unknown.
    pub(crate) fn update<R>(&self, session_id: &str, f: impl FnOnce(&mut Order) -> R) -> Option<R> {
        self.with_book(|book| book.orders.get_mut(session_id).map(f))
    }

    /// Applies `f` to the session owning Brite transaction `transaction_id`.
    pub(crate) fn update_by_transaction<R>(
        &self,
        transaction_id: &str,
        f: impl FnOnce(&mut Order) -> R,
    ) -> Option<R> {
        self.with_book(|book| {
            book.orders
                .values_mut()
                .find(|o| {
                    o.transaction
                        .as_ref()
                        .is_some_and(|(id, _)| id == transaction_id)
                })
                .map(f)
        })
    }
}

/// A Brite-looking opaque id (`ag…`, case-sensitive letters and digits).
pub(crate) fn brite_id() -> String {
    format!("ag{}", uuid::Uuid::new_v4().simple())
}

/// `GET /_orders`: every session, oldest first, for tests and manual inspection.
async fn list_orders(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let mut orders: Vec<Order> = shared.with_book(|b| b.orders.values().cloned().collect());
    orders.sort_by_key(|o| o.seq);
    let list: Vec<Value> = orders
        .iter()
        .map(|o| {
            json!({
                "session_id": o.session_id,
                "merchant_reference": o.merchant_reference,
                "country_id": o.country_id,
                "amount": o.amount,
                "session_state": o.session_state,
                "transaction_id": o.transaction.as_ref().map(|(id, _)| id),
                "transaction_state": o.transaction.as_ref().map(|(_, s)| s),
                "executions": o.executions,
                "checks": o.checks,
                "callback_attempts": o.callback_attempts,
                "callbacks_sent": o.callbacks_sent,
            })
        })
        .collect();
    Json(Value::Array(list))
}

/// `GET /_auth`: how many tokens were issued, renewed and refused.
async fn auth_counts(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.tokens.counts())
}

/// `POST /_revoke_tokens`: every access token stops working (refresh tokens too).
async fn revoke_tokens(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.tokens.revoke_all();
    Json(json!({"revoked": true}))
}
