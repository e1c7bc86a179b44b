//! `POST /wpf` (create) and `POST /wpf/reconcile` (wire format in
//! `overture_connectors::emerchantpay::wire`).

use super::{authenticate, random_hex, PaymentForm, Shared};
use crate::Scenario;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use overture_connectors::emerchantpay::wire::{
    self, status, PaymentTransaction, WpfPaymentIn, WpfPaymentOut, WpfReconcileIn,
};
use overture_core::{Currency, Money};
use std::sync::Arc;

/// An XML `<wpf_payment>` answer with `status` code.
fn answer(code: StatusCode, out: &WpfPaymentOut) -> Response {
    match out.to_xml() {
        Ok(xml) => (code, [(header::CONTENT_TYPE, "application/xml")], xml).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A refusal: `status` `error` with a Genesis code (HTTP 200, assumed).
fn error(code: &str, message: &str, technical: String) -> Response {
    let out = WpfPaymentOut {
        status: status::ERROR.into(),
        code: Some(code.into()),
        message: Some(message.into()),
        technical_message: Some(technical),
        ..Default::default()
    };
    answer(StatusCode::OK, &out)
}

fn unauthorized() -> Response {
    let out = WpfPaymentOut {
        status: status::ERROR.into(),
        code: Some("110".into()),
        message: Some("Login failed. Check your API credentials.".into()),
        ..Default::default()
    };
    answer(StatusCode::UNAUTHORIZED, &out)
}

fn absolute(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// A refused field: Genesis code and technical message.
struct Invalid(&'static str, String);

/// The field checks of a create; `Err` is the refusal.
fn validate(body: &WpfPaymentIn) -> Result<Money, Invalid> {
    let invalid = |text: String| Invalid("340", text);
    let id = body.transaction_id.trim();
    if id.is_empty() || id.len() > 255 {
        return Err(invalid("'transaction_id' is invalid".into()));
    }
    let currency = Currency::from_code(body.currency.trim())
        .ok_or_else(|| invalid("'currency' is invalid".into()))?;
    let minor: i64 = body
        .amount
        .trim()
        .parse()
        .map_err(|_| Invalid("330", "'amount' has invalid format".into()))?;
    let amount = Money::from_minor(minor, currency)
        .ok()
        .filter(|m| m.minor() > 0)
        .ok_or_else(|| invalid("'amount' is invalid".into()))?;
    let urls = [
        ("notification_url", &body.notification_url),
        ("return_success_url", &body.return_success_url),
        ("return_failure_url", &body.return_failure_url),
        ("return_cancel_url", &body.return_cancel_url),
    ];
    if let Some((name, _)) = urls.iter().find(|(_, url)| !absolute(url)) {
        return Err(invalid(format!("'{name}' is invalid")));
    }
    if body.transaction_types.transaction_type.is_empty() {
        return Err(Invalid("320", "'transaction_types' is missing".into()));
    }
    if !body.customer_email.contains('@') {
        return Err(invalid("'customer_email' is invalid".into()));
    }
    Ok(amount)
}

/// `POST /wpf` and `POST /{lang}/wpf`.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(login) = authenticate(&shared.config.seed, &headers) else {
        return unauthorized();
    };
    let text = String::from_utf8_lossy(&body);
    let request: WpfPaymentIn = match quick_xml::de::from_str(&text) {
        Ok(r) => r,
        Err(e) => return error("320", "Please check input data for errors!", e.to_string()),
    };
    let amount = match validate(&request) {
        Ok(amount) => amount,
        Err(Invalid(code, text)) => {
            return error(code, "Please check input data for errors!", text)
        }
    };
    let scenario = Scenario::from_minor(amount.minor());
    if scenario == Scenario::Http500OnCreate {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    let form = PaymentForm {
        seq: 0,
        login,
        unique_id: random_hex(16),
        transaction_id: request.transaction_id.trim().to_owned(),
        amount,
        notification_url: request.notification_url.clone(),
        return_success_url: request.return_success_url.clone(),
        return_failure_url: request.return_failure_url.clone(),
        return_pending_url: request.return_pending_url.clone(),
        status: status::NEW,
        attempt: None,
        scenario,
        executions: 0,
        notify_attempts: 0,
        notifications_echoed: 0,
        reconciles: 0,
    };
    let Some(form) = shared.insert(form) else {
        return error(
            "450",
            "Transaction doublet was detected!",
            "'transaction_id' already used".into(),
        );
    };
    let mut out = view(&form);
    out.redirect_url = Some(shared.form_url(&form.unique_id));
    answer(StatusCode::OK, &out)
}

/// The reconcile view of a form.
fn view(form: &PaymentForm) -> WpfPaymentOut {
    let amount = form.amount.minor().to_string();
    let currency = form.amount.currency().code().to_owned();
    WpfPaymentOut {
        transaction_id: Some(form.transaction_id.clone()),
        status: form.status.to_owned(),
        unique_id: Some(form.unique_id.clone()),
        mode: Some("test".into()),
        amount: Some(amount.clone()),
        currency: Some(currency.clone()),
        payment_transaction: form
            .attempt
            .iter()
            .map(|a| PaymentTransaction {
                transaction_type: wire::TRANSACTION_TYPE.into(),
                status: a.status.to_owned(),
                unique_id: a.unique_id.clone(),
                transaction_id: Some(form.transaction_id.clone()),
                code: a.code.map(str::to_owned),
                technical_message: a.message.map(str::to_owned),
                message: a.message.map(str::to_owned),
                amount: Some(amount.clone()),
                currency: Some(currency.clone()),
            })
            .collect(),
        ..Default::default()
    }
}

/// `POST /wpf/reconcile`.
pub(crate) async fn reconcile(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(login) = authenticate(&shared.config.seed, &headers) else {
        return unauthorized();
    };
    let text = String::from_utf8_lossy(&body);
    let request: WpfReconcileIn = match quick_xml::de::from_str(&text) {
        Ok(r) => r,
        Err(e) => return error("320", "Please check input data for errors!", e.to_string()),
    };
    let found = shared
        .update(request.unique_id.trim(), |f| {
            (f.login == login).then(|| {
                f.reconciles += 1;
                view(f)
            })
        })
        .flatten();
    match found {
        Some(out) => answer(StatusCode::OK, &out),
        None => error("460", "Transaction not found!", "no such unique_id".into()),
    }
}
