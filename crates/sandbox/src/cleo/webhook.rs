//! Final statuses and the webhook (assumed): a JSON POST of `WebhookIn` to the transaction's
//! `webhook_url`, signed with `Cleo-Signature: t=<now>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<body>")>` under the webhook secret of the transaction's account (signed anew at each
//! attempt), resent after each `config.callback_retries` delay while not answered 2xx. `.55` sends none,
//! `.56` sends it twice, `.57` sends one claiming the opposite outcome, signed with a wrong
//! secret.

use super::{webhook_secret, Order, Shared};
use crate::notify::until_accepted;
use crate::Scenario;
use overture_connectors::cleo::wire::{self, status, WebhookIn};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Each webhook attempt may take this long before it counts as not answered.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The final status an executed order reaches; `None` for `.53` (stays processing).
fn final_status(scenario: Scenario) -> Option<(&'static str, Option<&'static str>)> {
    match scenario {
        Scenario::Decline => Some((status::REJECTED, Some("Rejected by the bank (.51)"))),
        Scenario::Error => Some((status::FAILED, Some("Bank network error (.52)"))),
        Scenario::StaysProcessing => None,
        Scenario::Approve
        | Scenario::Http500OnCreate
        | Scenario::NoCallback
        | Scenario::DuplicateCallback
        | Scenario::ForgedCallback => Some((status::COMPLETED, None)),
    }
}

/// After `processing_delay`, moves an executed order to its scenario's final status.
pub(crate) fn settle_later(shared: &Arc<Shared>, id: &str) {
    let shared = Arc::clone(shared);
    let id = id.to_owned();
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.processing_delay).await;
        let scenario = shared.get(&id).map(|o| o.scenario);
        if let Some((status, message)) = scenario.and_then(final_status) {
            finish(&shared, &id, status, message).await;
        }
    });
}

/// Moves an order to a final status now (a final order never changes) and sends webhooks.
pub(crate) async fn finish(
    shared: &Arc<Shared>,
    id: &str,
    final_word: &'static str,
    message: Option<&str>,
) {
    let finished = shared
        .update(id, |o| {
            if wire::map_status(o.status) != overture_core::connector::PspOutcome::Pending {
                return None;
            }
            o.status = final_word;
            o.message = message.map(str::to_owned);
            Some(o.clone())
        })
        .flatten();
    let Some(order) = finished else {
        return;
    };
    let url = order.webhook_url.clone();
    let copies = match order.scenario {
        Scenario::NoCallback => 0,
        Scenario::DuplicateCallback => 2,
        _ => 1,
    };
    let (body, secret) = payload(&order, webhook_secret(&shared.config.seed, &order.account));
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        for _ in 0..copies {
            deliver(&shared, &order.id, &url, &body, &secret).await;
        }
    });
}

/// The webhook body and the secret it is signed with (`secret`, the account's); `.57` lies
/// and uses a wrong secret.
fn payload(order: &Order, secret: String) -> (Vec<u8>, String) {
    let mut data = order.out();
    let mut secret = secret;
    if order.scenario == Scenario::ForgedCallback {
        data.status = if order.status == status::COMPLETED {
            status::REJECTED.to_owned()
        } else {
            status::COMPLETED.to_owned()
        };
        secret = "whsec_forged_not_the_merchants".to_owned();
    }
    let body = WebhookIn {
        event: wire::EVENT_UPDATED.to_owned(),
        data,
    };
    // Serialising a struct of strings cannot fail; an empty body would only be refused.
    (serde_json::to_vec(&body).unwrap_or_default(), secret)
}

/// One webhook, retried after each `callback_retries` delay while not answered 2xx.
async fn deliver(shared: &Shared, id: &str, url: &str, body: &[u8], secret: &str) {
    let accepted = until_accepted(&shared.config.callback_retries, || async move {
        shared.update(id, |o| o.webhook_attempts += 1);
        // Signed anew at each attempt: the signature carries its time.
        let signature = wire::sign_webhook(secret, now_secs(), body);
        shared
            .client
            .post(url)
            .timeout(WEBHOOK_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(wire::SIGNATURE_HEADER, &signature)
            .body(body.to_vec())
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    if accepted {
        shared.update(id, |o| o.webhooks_sent += 1);
    } else {
        tracing::warn!(id, "CLEO sandbox webhook not accepted; giving up");
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
