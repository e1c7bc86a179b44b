//! The merchant API: payment token, transaction status and payout finalisation.

use super::{notify, Kind, Order, Shared, Status, ACCESS_TOKEN, CAMPAIGN_ID, SECURITY_TOKEN};
use crate::Scenario;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// A Gigadat refusal: `{"err": "…"}` with an HTTP status.
pub(crate) fn refuse(status: StatusCode, err: &str) -> Response {
    (status, Json(json!({ "err": err }))).into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{ACCESS_TOKEN}:{SECURITY_TOKEN}"));
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .is_some_and(|v| v.trim() == expected)
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"Gigadat\"")],
        Json(json!({"err": "Unauthorized"})),
    )
        .into_response()
}

/// A text field of the token body (JSON string, or a number kept as its literal).
fn text(body: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match body.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `amount` literal exactly as sent: a JSON number or a string, `digits.dd`.
fn amount_literal(raw_body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct AmountOnly<'a> {
        #[serde(borrow)]
        amount: Option<&'a serde_json::value::RawValue>,
    }
    let parsed: AmountOnly<'_> = serde_json::from_slice(raw_body).ok()?;
    let raw = parsed.amount?.get().trim();
    let literal = raw.trim_matches('"');
    let (whole, cents) = literal.split_once('.')?;
    let ok = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && cents.len() == 2
        && cents.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| literal.to_owned())
}

/// `POST /api/payment-token/{campaignId}`.
pub(crate) async fn payment_token(
    State(shared): State<Arc<Shared>>,
    Path(campaign): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    if campaign != CAMPAIGN_ID {
        return refuse(StatusCode::FORBIDDEN, "Campaign not found");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&raw) else {
        return refuse(StatusCode::BAD_REQUEST, "Body must be a JSON object");
    };
    let order = match read_order(&body, &raw) {
        Ok(order) => order,
        Err(err) => return refuse(StatusCode::BAD_REQUEST, &err),
    };
    if order.scenario == Scenario::Http500OnCreate {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
    }
    match shared.insert(order) {
        Some(order) => Json(json!({
            "token": order.token,
            "data": {"transactionId": order.transaction_id, "type": order.kind.word()},
        }))
        .into_response(),
        None => refuse(StatusCode::BAD_REQUEST, "Duplicate transactionId"),
    }
}

/// Checks the token body the way Gigadat documents its fields; `Err` is the `err` text.
fn read_order(body: &serde_json::Map<String, Value>, raw: &[u8]) -> Result<Order, String> {
    let required = |name: &str| text(body, name).ok_or_else(|| format!("{name} is required"));
    let transaction_id = required("transactionId")?;
    if transaction_id.len() > 64 {
        return Err("transactionId is too long".into());
    }
    let kind = Kind::parse(&required("type")?).ok_or("type must be CPI, ETO or ACH")?;
    if required("currency")? != "CAD" {
        return Err("currency must be CAD".into());
    }
    let amount = amount_literal(raw).ok_or("amount must have exactly 2 decimals")?;
    let scenario = Scenario::from_major_str(&amount).ok_or("amount is not a number")?;
    let mobile = required("mobile")?;
    if !(10..=11).contains(&mobile.len()) || !mobile.bytes().all(|b| b.is_ascii_digit()) {
        return Err("mobile must have 10-11 digits".into());
    }
    if required("userIp")?.parse::<IpAddr>().is_err() {
        return Err("userIp is not an IP address".into());
    }
    let email = required("email")?;
    if !email.contains('@') {
        return Err("email is invalid".into());
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    Ok(Order {
        seq: 0,
        transaction_id,
        kind,
        amount,
        user_id: required("userId")?,
        name: required("name")?,
        token,
        listener_url: text(body, "listenerUrl"),
        return_url: text(body, "returnUrl"),
        scenario,
        status: Status::Inited,
        reason: None,
        issued_at: Instant::now(),
        executions: 0,
        finalizations: 0,
        checks: 0,
        notification_attempts: 0,
        notifications_sent: 0,
    })
}

/// The status answer of an order.
pub(crate) fn status_json(order: &Order) -> Value {
    json!({
        "transactionId": order.transaction_id,
        "status": order.status.word(),
        "type": order.kind.word(),
        "amount": order.amount,
        "currency": "CAD",
        "reason": order.reason,
    })
}

/// `GET /api/transactions/{transactionId}`.
pub(crate) async fn status(
    State(shared): State<Arc<Shared>>,
    Path(transaction_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let found = shared.update(&transaction_id, |o| {
        o.checks += 1;
        o.clone()
    });
    match found {
        Some((order, expired)) => {
            if expired {
                notify::send(&shared, order.clone());
            }
            Json(status_json(&order)).into_response()
        }
        None => refuse(StatusCode::BAD_REQUEST, "Transaction not found"),
    }
}

/// `POST /webflow/deposit?transaction=…&token=…`: executes an issued payout once.
pub(crate) async fn finalize(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let id = query
        .get("transaction")
        .or_else(|| query.get("transactionId"));
    let (Some(id), Some(token)) = (id, query.get("token")) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "transaction and token are required",
        );
    };
    // Check and change the state in one step so that racing finalisations execute once.
    let acted = shared.update(id, |o| {
        if !o.kind.is_payout() || &o.token != token {
            return None;
        }
        o.finalizations += 1;
        let first = o.status == Status::Inited;
        if first {
            o.status = Status::Pending;
            o.executions += 1;
        }
        Some((o.clone(), first))
    });
    match acted {
        Some((Some((order, first)), expired)) => {
            if expired {
                notify::send(&shared, order.clone());
            }
            if first {
                notify::settle_later(&shared, &order);
            }
            Json(status_json(&order)).into_response()
        }
        Some((None, _)) => refuse(StatusCode::BAD_REQUEST, "Invalid token"),
        None => refuse(StatusCode::BAD_REQUEST, "Transaction not found"),
    }
}
