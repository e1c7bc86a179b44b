//! Final statuses and callbacks: a form `POST` of `CallbackIn` fields plus `hash` to the
//! order's `urlCallback`, after `processing_delay`, resent after each `callback_retries`
//! delay while not answered 2xx. `.53` never finishes, `.55` sends none, `.56` sends it
//! twice, `.57` sends a forged `ko` (hashed with a wrong key) before the genuine one.

use super::{secret_key, Order, Shared};
use crate::notify::until_accepted;
use crate::Scenario;
use overture_connectors::neosurf::wire::{status, CallbackIn};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Each callback attempt may take this long before it counts as not answered.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// The final status a paid page reaches: `(status, errorCode, errorMessage)`; `None` for `.53`.
fn final_status(scenario: Scenario) -> Option<(&'static str, &'static str, &'static str)> {
    match scenario {
        Scenario::Decline => Some((status::KO, "DECLINED", "Voucher refused (.51)")),
        Scenario::Error => Some((status::ERROR, "PROCESSING_ERROR", "Processing error (.52)")),
        Scenario::StaysProcessing => None,
        Scenario::Approve
        | Scenario::Http500OnCreate
        | Scenario::NoCallback
        | Scenario::DuplicateCallback
        | Scenario::ForgedCallback => Some((status::OK, "", "")),
    }
}

/// After `processing_delay`: the order's final status (an approved page's scenario, or the
/// `ko` a declined page set) and its callbacks.
pub(crate) fn settle(shared: &Arc<Shared>, page: &str, approved: bool) {
    let shared = Arc::clone(shared);
    let page = page.to_owned();
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.processing_delay).await;
        let finished = shared.update(&page, |o| {
            if approved {
                let (word, code, message) = final_status(o.scenario)?;
                o.status = word;
                o.error_code = code.to_owned();
                Some((o.clone(), message))
            } else {
                Some((o.clone(), "Cancelled by the customer"))
            }
        });
        let Some(Some((order, message))) = finished else {
            return;
        };
        let copies = match order.scenario {
            Scenario::NoCallback if approved => 0,
            Scenario::DuplicateCallback if approved => 2,
            _ => 1,
        };
        let secret = secret_key(&shared.config.seed, &order.merchant_id);
        if approved && order.scenario == Scenario::ForgedCallback {
            let mut lie = callback_of(&order, message);
            lie.status = status::KO.into();
            lie.error_code = "DECLINED".into();
            deliver(&shared, &order, &lie.fields("forged-not-the-merchants-key")).await;
        }
        let fields = callback_of(&order, message).fields(&secret);
        for _ in 0..copies {
            deliver(&shared, &order, &fields).await;
        }
    });
}

fn created_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let text = humantime::format_rfc3339_seconds(UNIX_EPOCH + now).to_string();
    text.trim_end_matches('Z').replace('T', " ")
}

fn callback_of(order: &Order, message: &str) -> CallbackIn {
    CallbackIn {
        amount: order.amount_minor.to_string(),
        created: created_now(),
        currency: order.currency.clone(),
        error_code: order.error_code.clone(),
        error_message: if order.error_code.is_empty() {
            String::new()
        } else {
            message.to_owned()
        },
        merchant_id: order.merchant_id.clone(),
        merchant_transaction_id: order.merchant_transaction_id.clone(),
        method_charged_amount: order.amount_minor.to_string(),
        method_currency: order.currency.to_ascii_uppercase(),
        method_expiry: "01/01/2032".into(),
        method_id: format!("{}", 5_000_000 + order.seq),
        method_label: format!("{}", 5_000_000 + order.seq),
        method_name: "neosurf".into(),
        status: order.status.to_owned(),
        sub_merchant_id: String::new(),
        transaction3d: String::new(),
        transaction_id: order.transaction_id.clone(),
    }
}

/// One callback, resent after each `callback_retries` delay while not answered 2xx.
async fn deliver(shared: &Shared, order: &Order, fields: &BTreeMap<String, String>) {
    let accepted = until_accepted(&shared.config.callback_retries, || async move {
        shared.update(&order.page, |o| o.callback_attempts += 1);
        shared
            .client
            .post(&order.url_callback)
            .timeout(CALLBACK_TIMEOUT)
            .form(fields)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    if accepted {
        shared.update(&order.page, |o| o.callbacks_sent += 1);
    } else {
        tracing::warn!(
            reference = %order.merchant_transaction_id,
            "NEOSURF sandbox callback not accepted; giving up"
        );
    }
}
