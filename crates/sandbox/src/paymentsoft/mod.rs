//! PAYMENTSOFT simulator: Payment Soft's PaynetEasy v4 payout protocol (doc.payneteasy.com
//! "/api/v4/payout", "/api/v2/status", "Connecting Party Callback", "Final redirect").
//!
//! Accounts (`POST /_accounts`, see [`crate::keyring`]): `endpoint_id` is 12 random digits;
//! `login` and `merchant_control` are derived from the sandbox seed and the `endpoint_id`
//! (`paymentsoft/login/<endpoint_id>`, first 16 hex digits after `paymentsoft-`;
//! `paymentsoft/merchant_control/<endpoint_id>`, 64 hex digits), so each account has its own
//! and the sandbox needs no account table. `oauth_private_key` is the public sandbox-only
//! test key of [`keys`], the same for every account: the OAuth signature proves only that the
//! caller runs a sandbox client, while `login` must be the endpoint's own and every `control`
//! checksum and callback signature uses the endpoint's own `merchant_control`.
//!
//! Routes, relative to the simulator's base URL (`/sandbox/paymentsoft` in `overture serve`):
//! - `POST /paynet/api/v4/payout/{endpoint_id}`: OAuth 1.0a RSA-SHA256 signed form (consumer
//!   key = the endpoint's login), verified against [`keys::SANDBOX_OAUTH_PUBLIC_KEY`];
//!   answers `type=async-response` with a `paynet-order-id`, or `type=validation-error`;
//! - `POST /paynet/api/v2/status/{endpoint_id}`: `control`-checked status query;
//! - `GET|POST /paynet/form/payout/{paynet_order_id}`: the receiver form behind `redirect-to`;
//! - `GET /_orders`: JSON inspection of every order (not part of the PSP's protocol);
//! - `POST /_accounts`: opens an account (not part of the PSP's protocol).
//!
//! The outcome follows the amount's cents (the cents table, [`crate::Scenario`]), plus one rule of
//! this simulator: **`.45` asks for the receiver form** (the cents table does not list it; we
//! chose it). Such an order stays `processing` with `order-stage=payout_receiver_form` and its
//! status answer carries `redirect-to = {base}/paynet/form/payout/{paynet-order-id}`; once the
//! form is posted with a non-empty `account`, processing continues and the order is approved.
//!
//! Choices where the public docs are silent (also spelled out in the connector's `wire.rs`):
//! - a bad OAuth signature, a consumer key that is not the endpoint's login or a stale
//!   `oauth_timestamp` (±15 min) ⇒ HTTP 401; an `endpoint_id` that is not 1–20 digits ⇒
//!   HTTP 404 (any digits name an account: the sandbox keeps no list, the login tells);
//! - orders belong to their endpoint: `client_orderid` is unique per endpoint, and another
//!   endpoint's order is "not found";
//! - field errors ⇒ HTTP 200 `type=validation-error&error-code=400`;
//! - a reused `client_orderid` ⇒ `type=validation-error&error-code=409`, with the existing
//!   order's `paynet-order-id`; nothing is executed again;
//! - wrong status `control` or `login` ⇒ `type=validation-error&error-code=401`;
//! - unknown order on status ⇒ `type=validation-error&error-code=404&error-message=Order not found`;
//! - a status query with an empty `orderid` finds the order by `client_orderid`;
//! - `order-stage` values: `payout_receiver_form`, `payout_processing`, `payout_finished`.
//!
//! The OAuth base-string URL is `config.base_url` + path (the PSP's canonical URL); as a
//! convenience for hosts reached under another name, the URL the request arrived at
//! (`http://{Host}{path}`) is accepted too.

pub(crate) mod api;
pub(crate) mod form;
pub mod keys;
pub(crate) mod process;
#[cfg(test)]
mod tests;

use crate::keyring::{self, SandboxSeed};
use crate::{NewAccount, Scenario, SimConfig, Simulator};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// This simulator's name in key derivations (`paymentsoft/<credential>/<endpoint_id>`).
pub const KEYRING_NAME: &str = "paymentsoft";

/// `order-stage` while the receiver form waits to be filled (sandbox-chosen name).
pub const STAGE_RECEIVER_FORM: &str = "payout_receiver_form";
/// `order-stage` while the payout is being processed (sandbox-chosen name).
pub const STAGE_PROCESSING: &str = "payout_processing";
/// `order-stage` once the status is final (sandbox-chosen name).
pub const STAGE_FINISHED: &str = "payout_finished";
/// Cents that ask for the receiver form (a rule of this simulator, not of the cents table).
pub const RECEIVER_FORM_CENTS: i64 = 45;

/// The PAYMENTSOFT simulator.
pub struct PaymentSoftSandbox;

impl Simulator for PaymentSoftSandbox {
    fn psp_type(&self) -> &'static str {
        "PAYMENTSOFT"
    }

    fn create_account(&self, seed: &SandboxSeed) -> NewAccount {
        family_account(seed, KEYRING_NAME)
    }

    fn router(&self, config: SimConfig) -> Router {
        // Paynet order ids are plain numbers; start high so they look like real ones.
        let sim = Arc::new(Sim::new(config, KEYRING_NAME, 1_000_001));
        Router::new()
            .route("/paynet/api/v4/payout/{endpoint_id}", post(api::payout))
            .route("/paynet/api/v2/status/{endpoint_id}", post(api::status))
            .route(
                "/paynet/form/payout/{paynet_order_id}",
                get(form::show).post(form::submit),
            )
            .route("/_orders", get(list_orders))
            .with_state(sim)
    }
}

/// One payout at the simulated PSP. Amount in major units as received.
#[derive(Clone, Debug)]
pub(crate) struct Order {
    /// The account (endpoint) the order belongs to.
    pub(crate) endpoint_id: String,
    pub(crate) client_orderid: String,
    pub(crate) paynet_order_id: String,
    pub(crate) amount: String,
    pub(crate) currency: String,
    /// PaynetEasy status word (`processing`, `approved`, …).
    pub(crate) status: String,
    pub(crate) stage: &'static str,
    pub(crate) scenario: Scenario,
    pub(crate) callback_url: Option<String>,
    pub(crate) redirect_url: Option<String>,
    pub(crate) error_message: Option<String>,
    /// Times the payout was executed (must stay 1).
    pub(crate) executions: u32,
    /// Callback HTTP requests sent, retries included.
    pub(crate) callbacks_sent: u32,
    pub(crate) status_queries: u32,
}

/// Shared simulator state.
pub(crate) type Sim = FamilySim<Order>;

// ---- PaynetEasy family: PAYMENTSOFT is the family root, the CARDZO simulator uses these too ----

/// A new PaynetEasy-family account of the simulator named `psp` in key derivations: a random
/// 12-digit `endpoint_id`, its derived `login` and `merchant_control`, and the public test
/// OAuth key.
pub(crate) fn family_account(seed: &SandboxSeed, psp: &str) -> NewAccount {
    let endpoint_id = keyring::random_digits(12);
    NewAccount::new(vec![
        ("login", login(seed, psp, &endpoint_id)),
        (
            "merchant_control",
            merchant_control(seed, psp, &endpoint_id),
        ),
        ("endpoint_id", endpoint_id),
        (
            "oauth_private_key",
            keys::SANDBOX_OAUTH_PRIVATE_KEY.to_owned(),
        ),
    ])
}

/// The endpoint's `login`: `<psp>-` + 16 hex digits derived from the seed.
pub(crate) fn login(seed: &SandboxSeed, psp: &str, endpoint_id: &str) -> String {
    format!("{psp}-{}", seed.derive_short(psp, "login", endpoint_id, 16))
}

/// The endpoint's `merchant_control` (key of every `control` checksum and callback signature).
pub(crate) fn merchant_control(seed: &SandboxSeed, psp: &str, endpoint_id: &str) -> String {
    seed.derive(psp, "merchant_control", endpoint_id)
}

/// True when `endpoint_id` has the shape of a sandbox endpoint id (1–20 digits).
pub(crate) fn known_endpoint(endpoint_id: &str) -> bool {
    (1..=20).contains(&endpoint_id.len()) && endpoint_id.bytes().all(|b| b.is_ascii_digit())
}

/// State of a PaynetEasy-family simulator over its own kind of order.
pub(crate) struct FamilySim<O> {
    pub(crate) config: SimConfig,
    /// The simulator's name in key derivations.
    pub(crate) psp: &'static str,
    orders: Mutex<Orders<O>>,
    next_order_id: AtomicU64,
    /// Client for callbacks.
    pub(crate) http: reqwest::Client,
}

/// In-memory orders, by `paynet-order-id`, with an index by (`endpoint_id`, `client_orderid`).
pub(crate) struct Orders<O> {
    by_paynet: HashMap<String, O>,
    paynet_by_client: HashMap<(String, String), String>,
}

impl<O> Default for Orders<O> {
    fn default() -> Self {
        Self {
            by_paynet: HashMap::new(),
            paynet_by_client: HashMap::new(),
        }
    }
}

impl<O> Orders<O> {
    /// The order with this `paynet-order-id`.
    pub(crate) fn by_paynet_mut(&mut self, paynet_order_id: &str) -> Option<&mut O> {
        self.by_paynet.get_mut(paynet_order_id)
    }

    /// The endpoint's order with this `client_orderid`.
    pub(crate) fn by_client_mut(
        &mut self,
        endpoint_id: &str,
        client_orderid: &str,
    ) -> Option<&mut O> {
        let key = (endpoint_id.to_owned(), client_orderid.to_owned());
        let paynet = self.paynet_by_client.get(&key)?;
        self.by_paynet.get_mut(paynet)
    }

    /// Stores a new order of `endpoint_id`.
    pub(crate) fn insert(
        &mut self,
        endpoint_id: &str,
        client_orderid: &str,
        paynet_order_id: &str,
        order: O,
    ) {
        self.paynet_by_client.insert(
            (endpoint_id.to_owned(), client_orderid.to_owned()),
            paynet_order_id.to_owned(),
        );
        self.by_paynet.insert(paynet_order_id.to_owned(), order);
    }

    /// Every order, in no particular order.
    pub(crate) fn all(&self) -> impl Iterator<Item = &O> {
        self.by_paynet.values()
    }
}

impl<O> FamilySim<O> {
    /// No orders yet; `psp` names the simulator in key derivations; paynet order ids are plain
    /// numbers counted from `first_order_id`.
    pub(crate) fn new(config: SimConfig, psp: &'static str, first_order_id: u64) -> Self {
        Self {
            config,
            psp,
            orders: Mutex::new(Orders::default()),
            next_order_id: AtomicU64::new(first_order_id),
            http: reqwest::Client::new(),
        }
    }

    /// The `login` of `endpoint_id`.
    pub(crate) fn login(&self, endpoint_id: &str) -> String {
        login(&self.config.seed, self.psp, endpoint_id)
    }

    /// The `merchant_control` of `endpoint_id`.
    pub(crate) fn merchant_control(&self, endpoint_id: &str) -> String {
        merchant_control(&self.config.seed, self.psp, endpoint_id)
    }

    /// The order table; a poisoned lock (a panic elsewhere) still yields the data, which stays
    /// consistent because every critical section only assigns fields.
    pub(crate) fn orders(&self) -> MutexGuard<'_, Orders<O>> {
        self.orders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A fresh `paynet-order-id`.
    pub(crate) fn next_order_id(&self) -> String {
        self.next_order_id
            .fetch_add(1, Ordering::Relaxed)
            .to_string()
    }

    /// `{base}/paynet/form/payout/{paynet_order_id}`.
    pub(crate) fn form_url(&self, paynet_order_id: &str) -> String {
        format!(
            "{}/paynet/form/payout/{}",
            self.config.base_url.trim_end_matches('/'),
            paynet_order_id
        )
    }
}

/// What the family's shared handlers read of an order.
pub(crate) struct Fields<'a> {
    pub(crate) endpoint_id: &'a str,
    pub(crate) client_orderid: &'a str,
    pub(crate) paynet_order_id: &'a str,
    pub(crate) amount: &'a str,
    pub(crate) currency: &'a str,
    /// PaynetEasy status word (`processing`, `approved`, …).
    pub(crate) status: &'a str,
    pub(crate) stage: &'static str,
    pub(crate) error_message: Option<&'a str>,
    /// Where the receiver form sends the browser back to.
    pub(crate) redirect_url: Option<&'a str>,
}

/// An order of a PaynetEasy-family simulator, as the shared handlers see it.
pub(crate) trait FamilyOrder: Clone + Send + 'static {
    fn fields(&self) -> Fields<'_>;
    fn set_stage(&mut self, stage: &'static str);
    /// Counts one `/api/v2/status` query about the order.
    fn count_status_query(&mut self);
    /// Counts one callback HTTP request, retries included.
    fn count_callback(&mut self);
}

/// Implements [`FamilyOrder`] for an `Order` struct with the family's field names.
macro_rules! family_order {
    ($order:ty) => {
        impl $crate::paymentsoft::FamilyOrder for $order {
            fn fields(&self) -> $crate::paymentsoft::Fields<'_> {
                $crate::paymentsoft::Fields {
                    endpoint_id: &self.endpoint_id,
                    client_orderid: &self.client_orderid,
                    paynet_order_id: &self.paynet_order_id,
                    amount: &self.amount,
                    currency: &self.currency,
                    status: &self.status,
                    stage: self.stage,
                    error_message: self.error_message.as_deref(),
                    redirect_url: self.redirect_url.as_deref(),
                }
            }

            fn set_stage(&mut self, stage: &'static str) {
                self.stage = stage;
            }

            fn count_status_query(&mut self) {
                self.status_queries += 1;
            }

            fn count_callback(&mut self) {
                self.callbacks_sent += 1;
            }
        }
    };
}
pub(crate) use family_order;

family_order!(Order);
/// One row of `GET /_orders`.
#[derive(Serialize)]
struct OrderView {
    endpoint_id: String,
    client_orderid: String,
    paynet_order_id: String,
    amount: String,
    currency: String,
    status: String,
    order_stage: &'static str,
    executions: u32,
    callbacks_sent: u32,
    status_queries: u32,
}

/// `GET /_orders`: every order, sorted by `paynet-order-id` (creation order).
async fn list_orders(State(sim): State<Arc<Sim>>) -> Json<Vec<OrderView>> {
    let mut rows: Vec<OrderView> = sim
        .orders()
        .all()
        .map(|o| OrderView {
            endpoint_id: o.endpoint_id.clone(),
            client_orderid: o.client_orderid.clone(),
            paynet_order_id: o.paynet_order_id.clone(),
            amount: o.amount.clone(),
            currency: o.currency.clone(),
            status: o.status.clone(),
            order_stage: o.stage,
            executions: o.executions,
            callbacks_sent: o.callbacks_sent,
            status_queries: o.status_queries,
        })
        .collect();
    rows.sort_by_key(|r| r.paynet_order_id.parse::<u64>().unwrap_or(u64::MAX));
    Json(rows)
}
