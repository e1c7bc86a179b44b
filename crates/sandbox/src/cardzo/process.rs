//! Background work of an order: the bank's validation of a payout-check, the processing after
//! payout-pay, and the merchant callbacks ("Connecting Party Callback": HTTP GET to
//! `server_callback_url`, resent until it answers 200).

use super::{Sim, SANDBOX_MERCHANT_CONTROL, VALIDATION_WINDOW_FACTOR};
use crate::paymentsoft::process::{callback_params, deliver, final_status};
use crate::Scenario;
use overture_connectors::cardzo::wire::{self, stage, status};
use std::sync::Arc;

/// Each callback attempt may take this long before it counts as not answered.
/// The PSP's name in logs.
const PSP: &str = "CARDZO";
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
    let mut params = callback_params(order, SANDBOX_MERCHANT_CONTROL);
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
