//! Background work of an order: the bank's validation of a payout-check, the processing after
//! payout-pay, and the merchant callbacks ("Connecting Party Callback": HTTP GET to
//! `server_callback_url`, resent until it answers 200).

use super::{Sim, VALIDATION_WINDOW_FACTOR};
use crate::paymentsoft::process::{callback_params, deliver, final_status};
use crate::Scenario;
use overture_connectors::cardzo::wire::{self, stage, status};
use std::sync::Arc;

/// The PSP's name in logs.
const PSP: &str = "CARDZO";
/// `error-message` of a payout the bank did not validate in time (`.58`).
pub(crate) const BANK_TIMEOUT_MESSAGE: &str =
    "Bank did not confirm the payout within the validation window";

/// The bank answers the payout-check (order `paynet_order_id`) after `processing_delay`
/// (validated), or, for `.58`, never: the PSP then fails the order at the end of its
/// validation window.
pub(crate) fn validate_later(sim: Arc<Sim>, paynet_order_id: String) {
    tokio::spawn(async move {
        let never = sim
            .orders()
            .by_paynet_mut(&paynet_order_id)
            .is_some_and(|o| o.bank_never_validates);
        if never {
            tokio::time::sleep(sim.config.processing_delay * VALIDATION_WINDOW_FACTOR).await;
            let failed = {
                let mut orders = sim.orders();
                let Some(order) = orders.by_paynet_mut(&paynet_order_id) else {
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
        if let Some(order) = sim.orders().by_paynet_mut(&paynet_order_id) {
            if order.stage == stage::CHECK_VALIDATING {
                order.stage = stage::CHECK_VALIDATED;
            }
        }
    });
}

/// Finishes the executed payout `paynet_order_id` after `config.processing_delay`, in the
/// background.
pub(crate) fn start(sim: Arc<Sim>, paynet_order_id: String) {
    tokio::spawn(async move {
        tokio::time::sleep(sim.config.processing_delay).await;
        finish(&sim, &paynet_order_id).await;
    });
}

/// The final status and callbacks the order's scenario calls for.
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
    // Signed with the order's own account's key: another account's key verifies nothing.
    let mut params = callback_params(order, &sim.merchant_control(&order.endpoint_id));
    match order.scenario {
        Scenario::NoCallback | Scenario::StaysProcessing | Scenario::Http500OnCreate => {}
        Scenario::DuplicateCallback => {
            deliver(sim, PSP, &url, &params).await;
            deliver(sim, PSP, &url, &params).await;
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
            deliver(sim, PSP, &url, &params).await;
        }
        Scenario::Approve | Scenario::Decline | Scenario::Error => {
            deliver(sim, PSP, &url, &params).await
        }
    }
}
