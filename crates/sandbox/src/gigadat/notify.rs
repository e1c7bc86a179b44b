//! Final statuses and Gigadat's listener notification: an unsigned
//! `POST {listenerUrl}?transaction=…&status=…&type=…` with an empty body, retried with
//! `SimConfig::callback_retries` while not answered 2xx.
//!
//! Scenarios: `.55` sends none, `.56` sends each twice, `.57` sends one whose `status` claims
//! the opposite of the truth. Nothing in a notification can be verified, so Overture only
//! reads `transaction` from it and asks the status call, which tells the truth.

use super::{Order, Shared, Status};
use crate::notify::until_accepted;
use crate::Scenario;
use std::sync::Arc;

/// The final status an executed order reaches; `None` for `.53` (stays pending).
pub(crate) fn final_status(scenario: Scenario) -> Option<(Status, Option<&'static str>)> {
    match scenario {
        Scenario::Decline => Some((Status::Rejected, Some("Rejected by the bank"))),
        Scenario::Error => Some((Status::Failed, Some("Processing error"))),
        Scenario::StaysProcessing => None,
        Scenario::Approve
        | Scenario::Http500OnCreate
        | Scenario::NoCallback
        | Scenario::DuplicateCallback
        | Scenario::ForgedCallback => Some((Status::Success, None)),
    }
}

/// After `processing_delay`, moves an executed order to its scenario's final status (never
/// for `.53`) and notifies.
pub(crate) fn settle_later(shared: &Arc<Shared>, order: &Order) {
    let Some((status, reason)) = final_status(order.scenario) else {
        return;
    };
    let shared = Arc::clone(shared);
    let id = order.transaction_id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.processing_delay).await;
        finish(&shared, &id, status, reason);
    });
}

/// Moves an order to a final status now (a final order never changes) and notifies.
pub(crate) fn finish(shared: &Arc<Shared>, id: &str, status: Status, reason: Option<&str>) {
    let finished = shared.update(id, |o| {
        if o.status.is_final() {
            return None;
        }
        o.status = status;
        o.reason = reason.map(str::to_owned);
        Some(o.clone())
    });
    match finished {
        Some((Some(order), _)) => send(shared, order),
        // The token expired on this very access: that is the final status to notify.
        Some((None, true)) => {
            if let Some((order, _)) = shared.update(id, |o| o.clone()) {
                send(shared, order);
            }
        }
        _ => {}
    }
}

/// Sends the notifications for `order`'s current status, per its scenario.
pub(crate) fn send(shared: &Arc<Shared>, order: Order) {
    let Some(url) = order.listener_url.clone() else {
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
    let claimed = if order.scenario == Scenario::ForgedCallback {
        // The lie: the opposite of the real outcome.
        if order.status == Status::Success {
            Status::Rejected
        } else {
            Status::Success
        }
    } else {
        order.status
    };
    let query = [
        ("transaction", order.transaction_id.clone()),
        ("status", claimed.word().to_owned()),
        ("type", order.kind.word().to_owned()),
    ];
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        for _ in 0..copies {
            deliver(&shared, &order.transaction_id, &url, &query).await;
        }
    });
}

/// One notification, retried after each `callback_retries` delay while not answered 2xx.
async fn deliver(shared: &Arc<Shared>, id: &str, url: &str, query: &[(&str, String); 3]) {
    let accepted = until_accepted(&shared.config.callback_retries, || async move {
        shared.update(id, |o| o.notification_attempts += 1);
        shared
            .client
            .post(url)
            .query(query)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    if accepted {
        shared.update(id, |o| o.notifications_sent += 1);
    } else {
        tracing::warn!(id, "Gigadat sandbox notification not accepted; giving up");
    }
}
