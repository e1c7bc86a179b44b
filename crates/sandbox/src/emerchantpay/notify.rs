//! WPF notifications: a form POST to the form's `notification_url`, signed with hex SHA-512 of
//! `wpf_unique_id` + the account's API password, resent after each `config.callback_retries`
//! delay until answered 2xx with `<notification_echo><wpf_unique_id>` of the form. `.55` sends
//! none, `.56` two, `.57` one claiming the opposite state signed with a wrong password.

use super::{password_of, PaymentForm, Shared};
use crate::notify::until_accepted;
use crate::Scenario;
use overture_connectors::emerchantpay::wire::{self, status, NotificationEcho};
use std::sync::Arc;
use std::time::Duration;

/// Each attempt may take this long before it counts as not answered.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// The form fields of a notification about `form` claiming `state`, signed with `password`.
pub(crate) fn fields(
    form: &PaymentForm,
    state: &str,
    password: &str,
) -> Vec<(&'static str, String)> {
    let attempt = form.attempt.as_ref();
    vec![
        ("notification_type", wire::NOTIFICATION_TYPE_WPF.to_owned()),
        ("wpf_unique_id", form.unique_id.clone()),
        ("wpf_transaction_id", form.transaction_id.clone()),
        ("wpf_status", state.to_owned()),
        (
            "payment_transaction_transaction_type",
            wire::TRANSACTION_TYPE.to_owned(),
        ),
        (
            "payment_transaction_unique_id",
            attempt.map(|a| a.unique_id.clone()).unwrap_or_default(),
        ),
        (
            "payment_transaction_amount",
            form.amount.minor().to_string(),
        ),
        (
            "signature",
            wire::signature_for(128, &form.unique_id, password).unwrap_or_default(),
        ),
    ]
}

/// Sends the notifications of `form`'s final state in the background.
pub(crate) fn send(shared: &Arc<Shared>, form: &PaymentForm) {
    let password = password_of(&shared.config.seed, &form.login);
    let opposite = if form.status == status::APPROVED {
        status::DECLINED
    } else {
        status::APPROVED
    };
    let (copies, body) = match form.scenario {
        Scenario::NoCallback => (0, Vec::new()),
        Scenario::DuplicateCallback => (2, fields(form, form.status, &password)),
        Scenario::ForgedCallback => (1, fields(form, opposite, "not-the-merchants-password")),
        _ => (1, fields(form, form.status, &password)),
    };
    let body = serde_urlencoded::to_string(&body).unwrap_or_default();
    let (url, id) = (form.notification_url.clone(), form.unique_id.clone());
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        for _ in 0..copies {
            deliver(&shared, &id, &url, &body).await;
        }
    });
}

async fn deliver(shared: &Shared, unique_id: &str, url: &str, body: &str) {
    let accepted = until_accepted(&shared.config.callback_retries, || async move {
        shared.update(unique_id, |f| f.notify_attempts += 1);
        echoed(shared, unique_id, url, body).await
    })
    .await;
    if accepted {
        shared.update(unique_id, |f| f.notifications_echoed += 1);
    } else {
        tracing::warn!(unique_id, "Genesis sandbox notification never echoed");
    }
}

/// True when the merchant answered 2xx with the echo of this form.
async fn echoed(shared: &Shared, unique_id: &str, url: &str, body: &str) -> bool {
    let sent = shared
        .client
        .post(url)
        .timeout(NOTIFY_TIMEOUT)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body.to_owned())
        .send()
        .await;
    let Ok(response) = sent else {
        return false;
    };
    if !response.status().is_success() {
        return false;
    }
    let text = response.text().await.unwrap_or_default();
    NotificationEcho::parse(&text)
        .is_ok_and(|echo| echo.wpf_unique_id.as_deref() == Some(unique_id))
}
