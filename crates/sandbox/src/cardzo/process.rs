//! Background work of an order: the bank's validation of a payout-check, the processing after
//! payout-pay, and the merchant callbacks ("Connecting Party Callback": HTTP GET to
//! `server_callback_url`, resent until it answers 200).

use super::{Sim, SANDBOX_MERCHANT_CONTROL, VALIDATION_WINDOW_FACTOR};
use crate::Scenario;
use overture_connectors::cardzo::wire::{self, stage, status, CallbackParams};
use std::sync::Arc;
use std::time::Duration;

/// Each callback attempt may take this long before it counts as not answered.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);
/// `error-message` of a payout the bank did not validate in time (`.58`).
pub(crate) const BANK_TIMEOUT_MESSAGE: &str =
    "Bank did not confirm the payout within the validation window";

/// The bank answers the payout-check after `processing_delay` (validated), or, for `.58`,
/// never: the PSP then fails the order at the end of its validation window.
pub(crate) fn validate_later(sim: Arc<Sim>, client_orderid: String) {
    tokio::spawn(async move {
        let never = sim
            .orders()
            .by_client
            .get(&client_orderid)
            .is_some_and(|o| o.bank_never_validates);
        if never {
            tokio::time::sleep(sim.config.processing_delay * VALIDATION_WINDOW_FACTOR).await;
            let failed = {
                let mut orders = sim.orders();
                let Some(order) = orders.by_client.get_mut(&client_orderid) else {
                    return;
                };
                order.status = status::ERROR.to_owned();
                order.stage = stage::CHECK_FAILED;
                order.error_message = Some(BANK_TIMEOUT_MESSAGE.to_owned());
                order.clone()
            };
            callbacks(&sim, &failed).await;
            return;
        }
        tokio::time::sleep(sim.config.processing_delay).await;
        if let Some(order) = sim.orders().by_client.get_mut(&client_orderid) {
            if order.stage == stage::CHECK_VALIDATING {
                order.stage = stage::CHECK_VALIDATED;
            }
        }
    });
}

/// Finishes an executed payout after `config.processing_delay`, in the background.
pub(crate) fn start(sim: Arc<Sim>, client_orderid: String) {
    tokio::spawn(async move {
        tokio::time::sleep(sim.config.processing_delay).await;
        finish(&sim, &client_orderid).await;
    });
}

/// The final status and callbacks the order's scenario calls for.
async fn finish(sim: &Sim, client_orderid: &str) {
    let order = {
        let mut orders = sim.orders();
        let Some(order) = orders.by_client.get_mut(client_orderid) else {
            return;
        };
        let (final_status, message) = match order.scenario {
            // Never final by itself.
            Scenario::StaysProcessing => return,
            Scenario::Decline => (status::DECLINED, Some("Declined by the sandbox (.51)")),
            Scenario::Error => (status::ERROR, Some("Processing error in the sandbox (.52)")),
            Scenario::Approve
            | Scenario::NoCallback
            | Scenario::DuplicateCallback
            | Scenario::ForgedCallback
            // Never created, so never here; approving keeps the match exhaustive and harmless.
            | Scenario::Http500OnCreate => (status::APPROVED, None),
        };
        order.status = final_status.to_owned();
        order.stage = stage::FINISHED;
        order.error_message = message.map(str::to_owned);
        order.clone()
    };
    callbacks(sim, &order).await;
}

/// Sends the final-status callback as the order's scenario says (none, once, twice, forged).
async fn callbacks(sim: &Sim, order: &super::Order) {
    let Some(url) = order.callback_url.clone() else {
        return;
    };
    let mut params = CallbackParams {
        kind: "payout".into(),
        status: order.status.clone(),
        orderid: order.paynet_order_id.clone(),
        merchant_order: order.client_orderid.clone(),
        client_orderid: order.client_orderid.clone(),
        amount: order.amount.clone(),
        currency: order.currency.clone(),
        error_message: order.error_message.clone(),
        error_code: None,
        control: String::new(),
    };
    params.control = wire::callback_control(
        &params.status,
        &params.orderid,
        &params.client_orderid,
        SANDBOX_MERCHANT_CONTROL,
    );
    match order.scenario {
        Scenario::NoCallback | Scenario::StaysProcessing | Scenario::Http500OnCreate => {}
        Scenario::DuplicateCallback => {
            deliver(sim, &url, &params).await;
            deliver(sim, &url, &params).await;
        }
        Scenario::ForgedCallback => {
            // Claims the opposite of the real status, signed with a key that is not the
            // merchant's: the receiver must ignore it and ask the status instead.
            params.status = if params.status == status::APPROVED {
                status::DECLINED.into()
            } else {
                status::APPROVED.into()
            };
            params.control = wire::callback_control(
                &params.status,
                &params.orderid,
                &params.client_orderid,
                "forged-merchant-control",
            );
            deliver(sim, &url, &params).await;
        }
        Scenario::Approve | Scenario::Decline | Scenario::Error => {
            deliver(sim, &url, &params).await
        }
    }
}

/// Sends one callback, resending after each `config.callback_retries` delay while the answer is
/// not HTTP 200 (PaynetEasy resends until it gets 200).
async fn deliver(sim: &Sim, url: &str, params: &CallbackParams) {
    let Ok(query) = serde_urlencoded::to_string(params.to_pairs()) else {
        return;
    };
    let separator = if url.contains('?') { '&' } else { '?' };
    let target = format!("{url}{separator}{query}");
    let mut delays = sim.config.callback_retries.iter();
    loop {
        if let Some(order) = sim.orders().by_client.get_mut(&params.client_orderid) {
            order.callbacks_sent += 1;
        }
        let answered = sim
            .http
            .get(&target)
            .timeout(CALLBACK_TIMEOUT)
            .send()
            .await
            .map(|r| r.status().as_u16());
        if let Ok(200) = answered {
            return;
        }
        tracing::debug!(client_orderid = %params.client_orderid, ?answered,
            "CARDZO sandbox callback not accepted");
        match delays.next() {
            Some(delay) => tokio::time::sleep(*delay).await,
            None => {
                tracing::warn!(client_orderid = %params.client_orderid,
                    "CARDZO sandbox gave up on a callback");
                return;
            }
        }
    }
}
