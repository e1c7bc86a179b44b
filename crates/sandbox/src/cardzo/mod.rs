//! CARDZO simulator: Cardzo's PaynetEasy v4 "payout with bank confirmation" (seed 004
//! "1.9. Payout with bank confirmation"; doc.payneteasy.com "/api/v4/payout-check",
//! "/api/v4/payout-pay", "/api/v2/status", "Connecting Party Callback").
//!
//! Routes, relative to the simulator's base URL (`/sandbox/cardzo` in `overture serve`):
//! - `POST /paynet/api/v4/payout-check/{endpoint_id}`: OAuth 1.0a RSA-SHA256 signed form (the
//!   payout fields); creates the order in `order-stage=payout_check_validating` and answers
//!   `type=async-response` with a `paynet-order-id`;
//! - `POST /paynet/api/v4/payout-pay/{endpoint_id}`: OAuth signed `client_orderid`, `orderid`,
//!   `login`; executes the payout **once**, only in `payout_check_validated`;
//! - `POST /paynet/api/v2/status/{endpoint_id}`: `control`-checked status query;
//! - `GET|POST /paynet/form/payout/{paynet_order_id}`: the receiver form behind `redirect-to`;
//! - `GET /_orders`: JSON inspection (`check_executions`, `pay_requests`, `pay_executions`,
//!   `callbacks_sent`, `status_queries`); not part of the PSP's protocol;
//! - `POST /_accounts`: opens an account (not part of the PSP's protocol).
//!
//! Life of an order: `payout_check_validating` for `config.processing_delay` (the bank's
//! confirmation delay), then `payout_check_validated` (waits for payout-pay, no expiry), then
//! on payout-pay `payout_processing` and after another `processing_delay` the final status
//! with `payout_finished` and a callback. Outcomes follow the cents (the cents table, applied
//! after payout-pay: `.51` declined, `.52` error, `.53` stays processing, `.54` HTTP 500 on
//! payout-check, `.55`–`.57` callback faults), plus two rules of this simulator:
//! - **`.58`: the bank never validates.** The order stays `payout_check_validating` for the
//!   PSP's validation window ([`VALIDATION_WINDOW_FACTOR`] × `processing_delay`), then ends
//!   `status=error`, `order-stage=payout_check_failed` with an `error-message`, and the
//!   callback is sent; payout-pay is refused throughout.
//! - **`.45`: receiver form** (as PAYMENTSOFT): after payout-pay the order waits in
//!   `payout_receiver_form` and its status carries `redirect-to`.
//!
//! Choices where the public docs are silent (as the connector's `wire.rs` says): a second
//! payout-pay ⇒ `type=validation-error&error-code=409` (nothing executed again); payout-pay
//! before validation or after a failed one ⇒ `error-code=422`; the other codes, the OAuth and
//! `control` checks and the empty-`orderid` lookup are those of the PAYMENTSOFT simulator.
//!
//! Accounts are those of the PAYMENTSOFT simulator under this simulator's own name in key
//! derivations ([`KEYRING_NAME`]): a random `endpoint_id`, its own derived `login` and
//! `merchant_control`, and PAYMENTSOFT's public sandbox-only OAuth key pair
//! ([`crate::paymentsoft::keys`]), the same for every account.

mod api;
mod form;
mod process;
#[cfg(test)]
mod tests;

use crate::keyring::SandboxSeed;
use crate::{NewAccount, Scenario, SimConfig, Simulator};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;

/// This simulator's name in key derivations (`cardzo/<credential>/<endpoint_id>`).
pub const KEYRING_NAME: &str = "cardzo";
/// Cents whose bank never validates (a rule of this simulator, not of the cents table).
pub const BANK_NEVER_VALIDATES_CENTS: i64 = 58;
/// Cents that ask for the receiver form after payout-pay (as the PAYMENTSOFT simulator).
pub const RECEIVER_FORM_CENTS: i64 = 45;
/// The PSP's validation window, in multiples of `config.processing_delay`.
pub const VALIDATION_WINDOW_FACTOR: u32 = 3;

/// The CARDZO simulator.
pub struct CardzoSandbox;

impl Simulator for CardzoSandbox {
    fn psp_type(&self) -> &'static str {
        "CARDZO"
    }

    fn create_account(&self, seed: &SandboxSeed) -> NewAccount {
        crate::paymentsoft::family_account(seed, KEYRING_NAME)
    }

    fn router(&self, config: SimConfig) -> Router {
        // Paynet order ids are plain numbers; start high so they look like real ones.
        let sim = Arc::new(Sim::new(config, KEYRING_NAME, 3_000_001));
        Router::new()
            .route(
                "/paynet/api/v4/payout-check/{endpoint_id}",
                post(api::payout_check),
            )
            .route(
                "/paynet/api/v4/payout-pay/{endpoint_id}",
                post(api::payout_pay),
            )
            .route("/paynet/api/v2/status/{endpoint_id}", post(api::status))
            .route(
                "/paynet/form/payout/{paynet_order_id}",
                get(form::show).post(form::submit),
            )
            .route("/_orders", get(list_orders))
            .with_state(sim)
    }
}

/// Shared simulator state (the PaynetEasy family's, over this simulator's orders).
pub(crate) type Sim = crate::paymentsoft::FamilySim<Order>;

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
    /// `order-stage` (see `overture_connectors::cardzo::wire::stage`).
    pub(crate) stage: &'static str,
    pub(crate) scenario: Scenario,
    /// `.58`: the bank never answers.
    pub(crate) bank_never_validates: bool,
    /// `.45`: a receiver form after payout-pay.
    pub(crate) receiver_form: bool,
    pub(crate) callback_url: Option<String>,
    pub(crate) redirect_url: Option<String>,
    pub(crate) error_message: Option<String>,
    /// payout-check requests that created this order (must stay 1).
    pub(crate) check_executions: u32,
    /// payout-pay requests received for this order, refused ones included.
    pub(crate) pay_requests: u32,
    /// payout-pay requests executed (must never exceed 1).
    pub(crate) pay_executions: u32,
    /// Callback HTTP requests sent, retries included.
    pub(crate) callbacks_sent: u32,
    pub(crate) status_queries: u32,
}

crate::paymentsoft::family_order!(Order);

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
    check_executions: u32,
    pay_requests: u32,
    pay_executions: u32,
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
            check_executions: o.check_executions,
            pay_requests: o.pay_requests,
            pay_executions: o.pay_executions,
            callbacks_sent: o.callbacks_sent,
            status_queries: o.status_queries,
        })
        .collect();
    rows.sort_by_key(|r| r.paynet_order_id.parse::<u64>().unwrap_or(u64::MAX));
    Json(rows)
}
