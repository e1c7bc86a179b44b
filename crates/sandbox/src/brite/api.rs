//! The merchant API under `/api/<method>`.

use super::{
    brite_id, merchant_id, Order, Shared, Subject, Subscription, KEYRING_NAME, OUT_OF_ORDER_CENTS,
};
use crate::Scenario;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use std::sync::Arc;

/// Countries the sandbox serves (the connector's list).
const COUNTRIES: &[&str] = &[
    "AT", "BE", "DE", "DK", "EE", "ES", "FI", "LT", "LV", "NL", "NO", "SE",
];

/// A refusal: `{"message": "…"}` (inferred shape) with an HTTP status.
pub(crate) fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

fn unauthorized() -> Response {
    refuse(StatusCode::UNAUTHORIZED, "Unauthorized")
}

/// The account (`public_key`) of the live Bearer token the request carries, if any.
fn authorized(shared: &Shared, headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| shared.tokens.check(token.trim()))
}

/// Parses a JSON body; `Err` is the refusal message.
fn body<T: for<'de> Deserialize<'de>>(raw: &[u8]) -> Result<T, String> {
    serde_json::from_slice(raw).map_err(|e| format!("Invalid body: {e}"))
}

fn issued(issued: super::auth::Issued) -> Response {
    Json(json!({
        "access_token": issued.access_token,
        "expires": issued.expires,
        "refresh_token": issued.refresh_token,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct AuthorizeIn {
    public_key: String,
    secret: String,
}

/// `POST /api/merchant.authorize`.
pub(crate) async fn authorize(State(shared): State<Arc<Shared>>, raw: Bytes) -> Response {
    let input: AuthorizeIn = match body(&raw) {
        Ok(input) => input,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    let valid = !input.public_key.is_empty()
        && shared
            .config
            .seed
            .verify(KEYRING_NAME, "secret", &input.public_key, &input.secret);
    if !valid {
        return refuse(StatusCode::UNAUTHORIZED, "Invalid credentials");
    }
    issued(shared.tokens.authorize(&input.public_key))
}

#[derive(Deserialize)]
struct RefreshIn {
    access_token: String,
    refresh_token: String,
}

/// `POST /api/merchant.token`: authenticated by the pair in the body (the access token may
/// already have expired; the refresh token outlives it).
pub(crate) async fn refresh(State(shared): State<Arc<Shared>>, raw: Bytes) -> Response {
    let input: RefreshIn = match body(&raw) {
        Ok(input) => input,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    match shared
        .tokens
        .refresh(&input.access_token, &input.refresh_token)
    {
        Some(pair) => issued(pair),
        None => refuse(StatusCode::UNAUTHORIZED, "Invalid refresh token"),
    }
}

#[derive(Deserialize)]
struct CallbackIn {
    url: String,
    #[serde(default)]
    session_state: Option<i64>,
    #[serde(default)]
    transaction_state: Option<i64>,
}

#[derive(Deserialize)]
struct CreateDepositIn<'a> {
    country_id: String,
    #[serde(borrow)]
    amount: &'a RawValue,
    #[serde(default)]
    callbacks: Vec<CallbackIn>,
    #[serde(default)]
    merchant_reference: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    approval_required: Option<bool>,
}

/// A positive JSON number with at most two decimals, as its literal.
fn amount_literal(raw: &RawValue) -> Option<String> {
    let text = raw.get().trim();
    let (whole, decimals) = text.split_once('.').unwrap_or((text, ""));
    let ok = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && decimals.len() <= 2
        && decimals.bytes().all(|b| b.is_ascii_digit())
        && text
            .parse::<rust_decimal::Decimal>()
            .is_ok_and(|d| d > rust_decimal::Decimal::ZERO);
    ok.then(|| text.to_owned())
}

/// `POST /api/session.create_deposit`.
pub(crate) async fn create_deposit(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let Some(account) = authorized(&shared, &headers) else {
        return unauthorized();
    };
    // Borrowing parse: `amount` stays the exact literal that was sent.
    let input: CreateDepositIn<'_> = match serde_json::from_slice(&raw) {
        Ok(input) => input,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("Invalid body: {e}")),
    };
    if !COUNTRIES.contains(&input.country_id.as_str()) {
        return refuse(StatusCode::BAD_REQUEST, "Unsupported country_id");
    }
    let Some(amount) = amount_literal(input.amount) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "amount must be a positive number with at most 2 decimals",
        );
    };
    if input.approval_required == Some(true) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "approval_required is not simulated by the sandbox",
        );
    }
    let mut subscriptions = Vec::new();
    for cb in input.callbacks {
        let (subject, state) = match (cb.session_state, cb.transaction_state) {
            (Some(s), None) => (Subject::Session, s),
            (None, Some(t)) => (Subject::Transaction, t),
            _ => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "each callback needs exactly one state",
                )
            }
        };
        if !cb.url.starts_with("http://") && !cb.url.starts_with("https://") {
            return refuse(StatusCode::BAD_REQUEST, "callback url must be http(s)");
        }
        subscriptions.push(Subscription {
            url: cb.url,
            subject,
            state,
        });
    }
    let scenario = Scenario::from_major_str(&amount).unwrap_or(Scenario::Approve);
    if scenario == Scenario::Http500OnCreate {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
    }
    let cents = amount
        .parse::<rust_decimal::Decimal>()
        .ok()
        .map(|d| (d * rust_decimal::Decimal::from(100)).trunc() % rust_decimal::Decimal::from(100));
    let out_of_order = cents == Some(rust_decimal::Decimal::from(OUT_OF_ORDER_CENTS));
    let order = shared.insert(Order {
        seq: 0,
        merchant_id: merchant_id(&shared.config.seed, &account),
        account,
        session_id: brite_id(),
        client_token: brite_id(),
        merchant_reference: input.merchant_reference.unwrap_or_default(),
        country_id: input.country_id,
        amount,
        subscriptions,
        redirect_uri: input.redirect_uri,
        scenario,
        out_of_order,
        session_state: super::session::CREATED,
        transaction: None,
        executions: 0,
        checks: 0,
        callback_attempts: 0,
        callbacks_sent: 0,
    });
    Json(json!({
        "url": format!("{}/client/{}", shared.config.base_url.trim_end_matches('/'), order.session_id),
        "token": order.client_token,
        "id": order.session_id,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct IdIn {
    id: String,
}

/// `POST /api/session.get`.
pub(crate) async fn session_get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let Some(account) = authorized(&shared, &headers) else {
        return unauthorized();
    };
    let input: IdIn = match body(&raw) {
        Ok(input) => input,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    // Another account's session is as unknown as one never created.
    let found = shared.update(&input.id, |o| {
        (o.account == account).then(|| {
            o.checks += 1;
            o.clone()
        })
    });
    match found.flatten() {
        Some(o) => Json(json!({
            "id": o.session_id,
            "state": o.session_state,
            "merchant_reference": o.merchant_reference,
            "transaction_id": o.transaction.as_ref().map(|(id, _)| id),
            "country_id": o.country_id,
            "customer_id": o.transaction.as_ref().map(|_| format!("cust-{}", o.session_id)),
        }))
        .into_response(),
        None => refuse(StatusCode::BAD_REQUEST, "Session not found"),
    }
}

/// `POST /api/transaction.state`.
pub(crate) async fn transaction_state(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let Some(account) = authorized(&shared, &headers) else {
        return unauthorized();
    };
    let input: IdIn = match body(&raw) {
        Ok(input) => input,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    let found = shared.update_by_transaction(&input.id, |o| {
        if o.account != account {
            return None;
        }
        o.checks += 1;
        o.transaction.clone()
    });
    match found.flatten() {
        Some((id, state)) => Json(json!({"id": id, "state": state})).into_response(),
        None => refuse(StatusCode::BAD_REQUEST, "Transaction not found"),
    }
}
