//! Final statuses and the webhook (assumed): a JSON POST of Mozarto's webhook fields
//! (`WebhookIn`) to the transaction's `webhookUrl`, signed with `X-Payone-Signature` = hex
//! HMAC-SHA256 of the raw body, resent after each `config.callback_retries` delay while not
//! answered 2xx, signed with the webhook secret of the transaction's account. `.55` sends none,
//! `.56` sends it twice, `.57` sends one claiming the opposite outcome, signed with a wrong
//! secret.

use super::{webhook_secret, Order, Shared};
use crate::notify::until_accepted;
use crate::Scenario;
use overture_connectors::payone::wire::{self, status, WebhookIn};
use std::sync::Arc;
use std::time::Duration;

/// Each webhook attempt may take this long before it counts as not answered.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The final status an executed order reaches; `None` for `.53` (stays processing).
fn final_status(scenario: Scenario) -> Option<(&'static str, Option<&'static str>)> {
    match scenario {
        Scenario::Decline => Some((status::DECLINED, Some("Declined by the bank (.51)"))),
        Scenario::Error => Some((status::FAILED, Some("Interac network error (.52)"))),
        Scenario::StaysProcessing => None,
        Scenario::Approve
        | Scenario::Http500OnCreate
        | Scenario::NoCallback
        | Scenario::DuplicateCallback
        | Scenario::ForgedCallback => Some((status::CONFIRMED, None)),
    }
}

/// After `processing_delay`, moves an executed order to its scenario's final status.
pub(crate) fn settle_later(shared: &Arc<Shared>, transaction_id: &str) {
    let shared = Arc::clone(shared);
    let id = transaction_id.to_owned();
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
    transaction_id: &str,
    final_word: &'static str,
    message: Option<&str>,
) {
    let finished = shared
        .update(transaction_id, |o| {
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
    let Some(url) = order.webhook_url.clone() else {
        return;
    };
    let copies = match order.scenario {
        Scenario::NoCallback => 0,
        Scenario::DuplicateCallback => 2,
        _ => 1,
    };
    let (body, secret) = payload(&order, webhook_secret(&shared.config.seed, &order.account));
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        for _ in 0..copies {
            deliver(&shared, &order.transaction_id, &url, &body, &secret).await;
        }
    });
}

/// The webhook body and the secret it is signed with (`secret`, the account's); `.57` lies
/// and uses a wrong secret.
fn payload(order: &Order, secret: String) -> (Vec<u8>, String) {
    let mut body = WebhookIn {
        transaction_id: order.transaction_id.clone(),
        user_id: order.user_id.clone(),
        kind: order.kind.word().to_owned(),
        status: order.status.to_owned(),
        transaction_status: wire::transaction_status(order.status).to_owned(),
        message: order.message.clone(),
        amount: order.amount.clone(),
        currency: order.currency.clone(),
        merchant_reference: order.merchant_reference.clone(),
    };
    let mut secret = secret;
    if order.scenario == Scenario::ForgedCallback {
        body.status = if order.status == status::CONFIRMED {
            status::DECLINED.to_owned()
        } else {
            status::CONFIRMED.to_owned()
        };
        body.transaction_status = wire::transaction_status(&body.status).to_owned();
        secret = "whsec_forged_not_the_merchants".to_owned();
    }
    // Serialising a struct of strings cannot fail; an empty body would only be refused.
    (serde_json::to_vec(&body).unwrap_or_default(), secret)
}

/// One webhook, retried after each `callback_retries` delay while not answered 2xx.
async fn deliver(shared: &Shared, transaction_id: &str, url: &str, body: &[u8], secret: &str) {
    let signature = wire::sign_webhook(secret, body);
    let signature = &signature;
    let accepted = until_accepted(&shared.config.callback_retries, || async move {
        shared.update(transaction_id, |o| o.webhook_attempts += 1);
        shared
            .client
            .post(url)
            .timeout(WEBHOOK_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(wire::SIGNATURE_HEADER, signature)
            .body(body.to_vec())
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    if accepted {
        shared.update(transaction_id, |o| o.webhooks_sent += 1);
    } else {
        tracing::warn!(
            transaction_id,
            "PAYONE sandbox webhook not accepted; giving up"
        );
    }
}
