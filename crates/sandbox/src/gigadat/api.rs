//! The merchant API: payment token, transaction status and payout finalisation.

use super::{campaign_id, notify, Kind, Order, Shared, Status, KEYRING_NAME};
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

/// The account (`access_token`) of a request whose HTTP Basic password is that access
/// token's own `security_token`; `None` otherwise.
fn authenticated(shared: &Shared, headers: &HeaderMap) -> Option<String> {
    let encoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (access_token, security_token) = decoded.split_once(':')?;
    let valid = !access_token.is_empty()
        && shared
            .config
            .seed
            .verify(KEYRING_NAME, "security_token", access_token, security_token);
    valid.then(|| access_token.to_owned())
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
    let Some(account) = authenticated(&shared, &headers) else {
        return unauthorized();
    };
    if campaign != campaign_id(&shared.config.seed, &account) {
        return refuse(StatusCode::FORBIDDEN, "Campaign not found");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&raw) else {
        return refuse(StatusCode::BAD_REQUEST, "Body must be a JSON object");
    };
    let order = match read_order(&body, &raw, account) {
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
fn read_order(
    body: &serde_json::Map<String, Value>,
    raw: &[u8],
    account: String,
) -> Result<Order, String> {
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
        account,
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
    let Some(account) = authenticated(&shared, &headers) else {
        return unauthorized();
    };
    // Another account's transaction is as unknown as one never created.
    let found = shared.update(&transaction_id, |o| {
        (o.account == account).then(|| {
            o.checks += 1;
            o.clone()
        })
    });
    match found {
        Some((mine, expired)) => {
            if expired {
                if let Some((order, _)) = shared.update(&transaction_id, |o| o.clone()) {
                    notify::send(&shared, order);
                }
            }
            match mine {
                Some(order) => Json(status_json(&order)).into_response(),
                None => refuse(StatusCode::BAD_REQUEST, "Transaction not found"),
            }
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
    let Some(account) = authenticated(&shared, &headers) else {
        return unauthorized();
    };
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
        if o.account != account {
            // Another account's transaction is as unknown as one never created.
            return Err("Transaction not found");
        }
        if !o.kind.is_payout() || &o.token != token {
            return Err("Invalid token");
        }
        o.finalizations += 1;
        let first = o.status == Status::Inited;
        if first {
            o.status = Status::Pending;
            o.executions += 1;
        }
        Ok((o.clone(), first))
    });
    let Some((acted, expired)) = acted else {
        return refuse(StatusCode::BAD_REQUEST, "Transaction not found");
    };
    if expired {
        // The token expired on this very access: that final status is notified.
        if let Some((order, _)) = shared.update(id, |o| o.clone()) {
            notify::send(&shared, order);
        }
    }
    match acted {
        Ok((order, first)) => {
            if first {
                notify::settle_later(&shared, &order);
            }
            Json(status_json(&order)).into_response()
        }
        Err(message) => refuse(StatusCode::BAD_REQUEST, message),
    }
}
