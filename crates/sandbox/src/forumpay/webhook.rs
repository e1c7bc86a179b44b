//! Final statuses and ForumPay's webhook: an unsigned POST of
//! `{"pos_id","payment_id","reference_no","currency","address"}` (no status; the receiver must
//! call `CheckPayment`), retried with `SimConfig::callback_retries` while not answered 2xx.
//!
//! Scenarios: `.55` sends none, `.56` sends it twice, `.57` sends one that lies (a `status`
//! and `confirmed` opposite to the truth). ForumPay webhooks carry no signature, so a lie
//! cannot be detected from the webhook itself; Overture never reads anything but
//! `reference_no` from it and asks `CheckPayment` / `CheckBuyOrder`, which tell the truth.

use super::{now_secs, Kind, Order, Shared, Status};
use crate::notify::until_accepted;
use crate::Scenario;
use serde_json::{json, Value};
use std::sync::Arc;

/// The final status an executed order reaches; `None` for `.53` (stays processing).
pub(crate) fn final_status(
    kind: Kind,
    scenario: Scenario,
) -> Option<(Status, Option<&'static str>)> {
    match scenario {
        Scenario::Decline => Some(match kind {
            // ForumPay's pay-in word for a payment that did not go through is "Cancelled".
            Kind::Payin => (Status::Cancelled, Some("Payment rejected by the network")),
            Kind::Payout => (Status::Declined, Some("Buy order declined")),
        }),
        Scenario::Error => Some((Status::Error, Some("Processing error"))),
        Scenario::StaysProcessing => None,
        Scenario::Approve
        | Scenario::Http500OnCreate
        | Scenario::NoCallback
        | Scenario::DuplicateCallback
        | Scenario::ForgedCallback => Some((Status::Confirmed, None)),
    }
}

/// After `processing_delay`, moves an executed order to its scenario's final status (never
/// for `.53`) and sends the webhooks.
pub(crate) fn settle_later(shared: &Arc<Shared>, order: &Order) {
    let Some((status, reason)) = final_status(order.kind, order.scenario) else {
        return;
    };
    let shared = Arc::clone(shared);
    let payment_id = order.payment_id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.processing_delay).await;
        finish(&shared, &payment_id, status, reason);
    });
}

/// Moves an order to a final status now (a final order never changes) and sends webhooks.
pub(crate) fn finish(shared: &Arc<Shared>, payment_id: &str, status: Status, reason: Option<&str>) {
    let finished = shared
        .update(payment_id, |o| {
            if o.status.is_final() {
                return None;
            }
            o.status = status;
            o.final_at = Some(now_secs());
            o.reason = reason.map(str::to_owned);
            Some(o.clone())
        })
        .flatten();
    if let Some(order) = finished {
        send_webhooks(shared, order);
    }
}

fn send_webhooks(shared: &Arc<Shared>, order: Order) {
    let Some(url) = order.webhook_url.clone() else {
        return;
    };
    let copies = match order.scenario {
        Scenario::NoCallback => 0,
        Scenario::DuplicateCallback => 2,
        _ => 1,
    };
    if copies == 0 {
        return;
    }
    let body = payload(&order);
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        for _ in 0..copies {
            deliver(&shared, &order.payment_id, &url, &body).await;
        }
    });
}

/// The webhook body; for `.57` it also claims the opposite of the real outcome.
pub(crate) fn payload(order: &Order) -> Value {
    let mut body = json!({
        "pos_id": order.pos_id,
        "payment_id": order.payment_id,
        "reference_no": order.reference_no,
        "currency": order.currency,
        "address": order.address,
    });
    if order.scenario == Scenario::ForgedCallback {
        let lie = if order.status == Status::Confirmed {
            Status::Cancelled
        } else {
            Status::Confirmed
        };
        body["status"] = json!(lie.word());
        body["confirmed"] = json!(lie == Status::Confirmed);
    }
    body
}

/// One webhook, retried after each `callback_retries` delay while not answered 2xx.
async fn deliver(shared: &Arc<Shared>, payment_id: &str, url: &str, body: &Value) {
    let accepted = until_accepted(&shared.config.callback_retries, || async move {
        shared.update(payment_id, |o| o.webhook_attempts += 1);
        shared
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    if accepted {
        shared.update(payment_id, |o| o.webhooks_sent += 1);
    } else {
        tracing::warn!(
            payment_id,
            "ForumPay sandbox webhook not accepted; giving up"
        );
    }
}
