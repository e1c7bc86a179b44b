//! The JSON API (all assumed, see `overture_connectors::payone::wire`): creation of pay-ins and
//! payouts, and the two status lookups.

use super::{webhook, Kind, Order, Shared, KEYRING_NAME};
use crate::Scenario;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use overture_connectors::payone::wire::{
    self, status, CreatedOut, ErrorOut, PaymentIn, TransactionList,
};
use overture_core::{Currency, Money};
use std::collections::HashMap;
use std::sync::Arc;

/// A refusal that is the handler's whole answer. Boxed: a `Response` is large and refusals are
/// the rare path (clippy `result_large_err`).
struct Refusal(Box<Response>);

impl From<Response> for Refusal {
    fn from(response: Response) -> Self {
        Self(Box::new(response))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

fn refuse(code: StatusCode, error_code: &str, message: impl Into<String>) -> Response {
    (code, Json(ErrorOut::new(error_code, message))).into_response()
}

/// The account (API key id) of `X-Api-Key: <key id>.<secret>` when the secret is that key
/// id's own; else 401.
fn authorized(shared: &Shared, headers: &HeaderMap) -> Result<String, Refusal> {
    let given = headers
        .get(wire::API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once('.'));
    match given {
        Some((key_id, secret))
            if !key_id.is_empty()
                && shared
                    .config
                    .seed
                    .verify(KEYRING_NAME, "api_key", key_id, secret) =>
        {
            Ok(key_id.to_owned())
        }
        _ => Err(refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "missing or unknown API key",
        )
        .into()),
    }
}

/// An absolute http(s) URL, or the field's validation message.
fn url_field(name: &str, value: &Option<String>) -> Result<(), String> {
    match value.as_deref() {
        None => Ok(()),
        Some(u) => match reqwest::Url::parse(u) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
            _ => Err(format!("{name}: not an absolute http(s) URL")),
        },
    }
}

/// Validates a creation body; `Err` is the 400 message naming the field.
fn validate(body: &PaymentIn) -> Result<Money, String> {
    let reference = body.merchant_reference.trim();
    if reference.is_empty() || reference.len() > 64 {
        return Err("merchantReference: required, at most 64 characters".into());
    }
    if body.currency != "CAD" {
        return Err(format!(
            "currency: {} is not supported (CAD only)",
            body.currency
        ));
    }
    // Exactly two decimals (assumed, as Mozarto's amounts "100.00").
    let (whole, cents) = body.amount.split_once('.').unwrap_or((&body.amount, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || cents.len() != 2 || !digits(cents) {
        return Err("amount: must be a decimal with exactly 2 decimals".into());
    }
    let currency = Currency::from_code("CAD").ok_or("currency: CAD unknown")?;
    let amount = Money::parse_major(&body.amount, currency).map_err(|e| format!("amount: {e}"))?;
    if !body.email.contains('@') {
        return Err("email: not an e-mail address".into());
    }
    if let Some(phone) = &body.phone {
        if wire::normalize_phone(phone).is_none() {
            return Err("phone: must have 10 or 11 digits".into());
        }
    }
    if body.country.as_deref().is_some_and(|c| c != "CA") {
        return Err("country: only CA is served".into());
    }
    url_field("returnUrl", &body.return_url)?;
    url_field("webhookUrl", &body.webhook_url)?;
    Ok(amount)
}

/// Shared creation: auth, JSON, validation, `.54`, duplicate check, insert.
fn create(shared: &Shared, headers: &HeaderMap, raw: &Bytes, kind: Kind) -> Result<Order, Refusal> {
    let account = authorized(shared, headers)?;
    let body: PaymentIn = serde_json::from_slice(raw).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            wire::CODE_VALIDATION,
            format!("body: {e}"),
        )
    })?;
    let amount =
        validate(&body).map_err(|m| refuse(StatusCode::BAD_REQUEST, wire::CODE_VALIDATION, m))?;
    let scenario = Scenario::from_minor(amount.minor());
    if scenario == Scenario::Http500OnCreate {
        // Fails before creating anything: a later lookup finds no order.
        return Err(refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal error",
        )
        .into());
    }
    let order = Order {
        seq: 0,
        account,
        kind,
        transaction_id: String::new(),
        merchant_reference: body.merchant_reference.trim().to_owned(),
        user_id: body.user_id.clone(),
        amount: amount.to_major_string(),
        currency: amount.currency().code().to_owned(),
        status: match kind {
            Kind::Payin => status::PENDING,
            Kind::Payout => status::PROCESSING,
        },
        message: None,
        scenario,
        return_url: body.return_url.clone(),
        webhook_url: body.webhook_url.clone(),
        // A payout is executed when accepted (auto-deposit); a pay-in when the page approves.
        executions: u32::from(kind == Kind::Payout),
        webhook_attempts: 0,
        webhooks_sent: 0,
        status_queries: 0,
    };
    shared.insert(order).map_err(|existing| {
        let mut refusal = ErrorOut::new(
            wire::CODE_DUPLICATE,
            "merchantReference already used; nothing was created",
        );
        refusal.error.transaction_id = Some(existing);
        (StatusCode::CONFLICT, Json(refusal)).into_response().into()
    })
}

fn created(order: &Order, webflow_url: Option<String>) -> Response {
    let body = CreatedOut {
        transaction_id: order.transaction_id.clone(),
        merchant_reference: order.merchant_reference.clone(),
        status: order.status.to_owned(),
        webflow_url,
    };
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `POST /api/v1/payments`: a pay-in waiting for the customer on the webflow page.
pub(crate) async fn create_payin(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match create(&shared, &headers, &body, Kind::Payin) {
        Ok(order) => created(&order, Some(shared.webflow_url(&order.transaction_id))),
        Err(refusal) => refusal.into_response(),
    }
}

/// `POST /api/v1/payouts`: an e-Transfer, settled after `processing_delay`.
pub(crate) async fn create_payout(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match create(&shared, &headers, &body, Kind::Payout) {
        Ok(order) => {
            webhook::settle_later(&shared, &order.transaction_id);
            created(&order, None)
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// `GET /api/v1/transactions/{transactionId}`; unknown ⇒ 404.
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    Path(transaction_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let account = match authorized(&shared, &headers) {
        Ok(account) => account,
        Err(refusal) => return refusal.into_response(),
    };
    // Another account's transaction is as unknown as one never created.
    let found = shared.update(&transaction_id, |o| {
        (o.account == account).then(|| {
            o.status_queries += 1;
            o.out()
        })
    });
    match found.flatten() {
        Some(out) => Json(out).into_response(),
        None => refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown transactionId"),
    }
}

/// `GET /api/v1/transactions?merchantReference=…`: a list, empty when unknown.
pub(crate) async fn search(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let account = match authorized(&shared, &headers) {
        Ok(account) => account,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(reference) = query.get("merchantReference").filter(|r| !r.is_empty()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            wire::CODE_VALIDATION,
            "merchantReference: required",
        );
    };
    let found = shared.update_by_reference(&account, reference, |o| {
        o.status_queries += 1;
        o.out()
    });
    Json(TransactionList {
        transactions: found.into_iter().collect(),
    })
    .into_response()
}
