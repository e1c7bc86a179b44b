//! Background processing of an accepted payout and the merchant callbacks
//! ("Connecting Party Callback": HTTP GET to `server_callback_url`, resent until it answers 200).

use super::{FamilyOrder, FamilySim, Sim, STAGE_FINISHED};
use crate::notify::until_accepted;
use crate::Scenario;
use overture_connectors::paymentsoft::wire::{self, status, CallbackParams};
use std::sync::Arc;
use std::time::Duration;

/// Each callback attempt may take this long before it counts as not answered.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);
/// The PSP's name in logs.
const PSP: &str = "PAYMENTSOFT";

/// Finishes the order with this `paynet-order-id` after `config.processing_delay`, in the
/// background.
pub(crate) fn start(sim: Arc<Sim>, paynet_order_id: String) {
    tokio::spawn(async move {
        tokio::time::sleep(sim.config.processing_delay).await;
        finish(&sim, &paynet_order_id).await;
    });
}

/// The final status, stage change and callbacks the order's scenario calls for.
async fn finish(sim: &Sim, paynet_order_id: &str) {
    let order = {
        let mut orders = sim.orders();
        let Some(order) = orders.by_paynet_mut(paynet_order_id) else {
            return;
        };
        let Some((final_status, message)) = final_status(order.scenario) else {
            return;
        };
        order.status = final_status.to_owned();
        order.stage = STAGE_FINISHED;
        order.error_message = message.map(str::to_owned);
        order.clone()
    };
    let Some(url) = order.callback_url.clone() else {
        return;
    };
    // Signed with the order's own account's key: another account's key verifies nothing.
    let mut params = callback_params(&order, &sim.merchant_control(&order.endpoint_id));
    match order.scenario {
        Scenario::NoCallback | Scenario::StaysProcessing | Scenario::Http500OnCreate => {}
        Scenario::DuplicateCallback => {
            deliver(sim, PSP, &url, &params).await;
            deliver(sim, PSP, &url, &params).await;
        }
        Scenario::ForgedCallback => {
            // Claims the opposite of the real status, signed with a key that is not the
            // merchant's: the receiver must ignore it and ask the status instead.
            params.status = status::DECLINED.into();
            params.control = wire::callback_control(
                &params.status,
                &params.orderid,
                &params.client_orderid,
                "forged-merchant-control",
            );
            deliver(sim, PSP, &url, &params).await;
        }
        Scenario::Approve | Scenario::Decline | Scenario::Error => {
            deliver(sim, PSP, &url, &params).await
        }
    }
}

/// The final status word and `error-message` the order's scenario calls for (PaynetEasy family);
/// `None` when the order never becomes final by itself.
pub(crate) fn final_status(scenario: Scenario) -> Option<(&'static str, Option<&'static str>)> {
    match scenario {
        // Never final by itself.
        Scenario::StaysProcessing => None,
        Scenario::Decline => Some((status::DECLINED, Some("Declined by the sandbox (.51)"))),
        Scenario::Error => Some((status::ERROR, Some("Processing error in the sandbox (.52)"))),
        Scenario::Approve
        | Scenario::NoCallback
        | Scenario::DuplicateCallback
        | Scenario::ForgedCallback
        // Never created, so never here; approving keeps the match exhaustive and harmless.
        | Scenario::Http500OnCreate => Some((status::APPROVED, None)),
    }
}

/// The callback telling `order`'s status, its `control` computed with `merchant_control`.
pub(crate) fn callback_params<O: FamilyOrder>(order: &O, merchant_control: &str) -> CallbackParams {
    let order = order.fields();
    let mut params = CallbackParams {
        kind: "payout".into(),
        status: order.status.to_owned(),
        orderid: order.paynet_order_id.to_owned(),
        merchant_order: order.client_orderid.to_owned(),
        client_orderid: order.client_orderid.to_owned(),
        amount: order.amount.to_owned(),
        currency: order.currency.to_owned(),
        error_message: order.error_message.map(str::to_owned),
        error_code: None,
        control: String::new(),
    };
    params.control = wire::callback_control(
        &params.status,
        &params.orderid,
        &params.client_orderid,
        merchant_control,
    );
    params
}

/// Sends one callback of `psp`'s simulator, resending after each `config.callback_retries`
/// delay while the answer is not HTTP 200 (PaynetEasy resends until it gets 200).
pub(crate) async fn deliver<O: FamilyOrder>(
    sim: &FamilySim<O>,
    psp: &str,
    url: &str,
    params: &CallbackParams,
) {
    let Ok(query) = serde_urlencoded::to_string(params.to_pairs()) else {
        return;
    };
    let separator = if url.contains('?') { '&' } else { '?' };
    let target = format!("{url}{separator}{query}");
    let target = &target;
    let accepted = until_accepted(&sim.config.callback_retries, || async move {
        if let Some(order) = sim.orders().by_paynet_mut(&params.orderid) {
            order.count_callback();
        }
        let answered = sim
            .http
            .get(target)
            .timeout(CALLBACK_TIMEOUT)
            .send()
            .await
            .map(|r| r.status().as_u16());
        let accepted = matches!(answered, Ok(200));
        if !accepted {
            tracing::debug!(client_orderid = %params.client_orderid, ?answered,
                "{psp} sandbox callback not accepted");
        }
        accepted
    })
    .await;
    if !accepted {
        tracing::warn!(client_orderid = %params.client_orderid,
            "{psp} sandbox gave up on a callback");
    }
}
