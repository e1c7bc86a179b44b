//! XML order notifications: `<notify><orderStatusEvent>` posted (`text/xml`, unsigned, as at
//! Worldpay) to the merchant channel address, resent after each `config.callback_retries`
//! delay until answered HTTP 200 with a body containing `[OK]`. `.55` sends none, `.56` two,
//! `.57` one claiming the opposite outcome.

use super::{Order, Shared};
use crate::notify::until_accepted;
use crate::Scenario;
use overture_connectors::worldpay_eu::wire::{self, last_event, PaymentService};
use std::sync::Arc;
use std::time::Duration;

/// Each attempt may take this long before it counts as not answered.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// The notification document for `order` claiming `event`.
pub(crate) fn document(order: &Order, event: &str) -> String {
    let mut doc = PaymentService::new(&order.merchant_code);
    doc.notify = Some(wire::Notify {
        order_status_event: wire::OrderStatusEvent {
            order_code: order.order_code.clone(),
            payment: Some(order.payment(event)),
            journal: Some(wire::Journal {
                journal_type: event.to_owned(),
            }),
        },
    });
    doc.to_xml().unwrap_or_default()
}

/// Sends the notifications of `order` reaching `event` in the background.
pub(crate) fn send(shared: &Arc<Shared>, order: &Order, event: &'static str) {
    let Some(url) = shared.channel(&order.merchant_code) else {
        tracing::info!(order = %order.order_code, "Worldpay sandbox: no merchant channel, no notification");
        return;
    };
    let (copies, claimed) = match order.scenario {
        Scenario::NoCallback => (0, event),
        Scenario::DuplicateCallback => (2, event),
        Scenario::ForgedCallback if event == last_event::AUTHORISED => (1, last_event::REFUSED),
        Scenario::ForgedCallback => (1, last_event::AUTHORISED),
        _ => (1, event),
    };
    let body = document(order, claimed);
    let key = (order.merchant_code.clone(), order.order_code.clone());
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        for _ in 0..copies {
            deliver(&shared, &key, &url, &body).await;
        }
    });
}

/// One notification, resent while not acknowledged with `[OK]`.
async fn deliver(shared: &Shared, key: &super::Key, url: &str, body: &str) {
    let accepted = until_accepted(&shared.config.callback_retries, || async move {
        shared.update(key, |o| o.notify_attempts += 1);
        acknowledged(shared, url, body).await
    })
    .await;
    if accepted {
        shared.update(key, |o| o.notifications_acked += 1);
    } else {
        tracing::warn!(order = %key.1, "Worldpay sandbox notification never acknowledged");
    }
}

async fn acknowledged(shared: &Shared, url: &str, body: &str) -> bool {
    let sent = shared
        .client
        .post(url)
        .timeout(NOTIFY_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "text/xml")
        .body(body.to_owned())
        .send()
        .await;
    let Ok(response) = sent else {
        return false;
    };
    let ok = response.status() == reqwest::StatusCode::OK;
    ok && response
        .text()
        .await
        .is_ok_and(|text| text.contains(wire::NOTIFICATION_ACK))
}
