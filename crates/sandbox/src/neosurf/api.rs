//! `POST /`: the signed create, answered with Neosurf's redirect page.

use super::{secret_key, Order, Shared};
use crate::html::{escape, page};
use crate::Scenario;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use overture_connectors::neosurf::wire;
use overture_core::{Currency, Money};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = format!("<p>error: {}</p>", escape(message));
    (status, Html(page("PAY", &body))).into_response()
}

/// The create's fields from the query string, a form body or a JSON body.
fn fields(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<BTreeMap<String, String>, String> {
    let mut all: BTreeMap<String, String> = match query {
        Some(q) => serde_urlencoded::from_str(q).map_err(|e| format!("query: {e}"))?,
        None => BTreeMap::new(),
    };
    if body.is_empty() {
        return Ok(all);
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
        for (k, v) in map {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            all.insert(k, text);
        }
    } else {
        let form: BTreeMap<String, String> =
            serde_urlencoded::from_bytes(body).map_err(|e| format!("body: {e}"))?;
        all.extend(form);
    }
    Ok(all)
}

fn required<'a>(f: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, String> {
    f.get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name} is required"))
}

fn url(f: &BTreeMap<String, String>, name: &str) -> Result<Option<String>, String> {
    match f.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(u) => match reqwest::Url::parse(u) {
            Ok(p) if matches!(p.scheme(), "http" | "https") => Ok(Some(u.clone())),
            _ => Err(format!("{name} is not an absolute http(s) URL")),
        },
    }
}

/// Seconds since the epoch of an `expiry` like `2024-05-01T10:00:00+00:00`.
fn expiry(f: &BTreeMap<String, String>) -> Result<Option<u64>, String> {
    let Some(text) = f.get("expiry").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let utc = text.trim().trim_end_matches("+00:00").trim_end_matches('Z');
    let at = humantime_parse(&format!("{utc}Z")).ok_or("expiry: not an ISO 8601 UTC time")?;
    Ok(Some(at))
}

fn humantime_parse(text: &str) -> Option<u64> {
    let at: SystemTime = humantime::parse_rfc3339(text).ok()?;
    at.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// Checks the fields (hash first); the order to store.
fn order_from(shared: &Shared, f: &BTreeMap<String, String>) -> Result<Order, String> {
    let merchant_id = required(f, "merchantId")?;
    if !wire::verify(f, &secret_key(&shared.config.seed, merchant_id)) {
        return Err("invalid hash".into());
    }
    if !matches!(required(f, "version")?, "2" | "3") {
        return Err("version must be 3".into());
    }
    let currency = required(f, "currency")?;
    let known = Currency::from_code(&currency.to_ascii_uppercase()).ok_or("currency: unknown")?;
    let minor: i64 = required(f, "amount")?
        .parse()
        .ok()
        .filter(|m| *m > 0)
        .ok_or("amount: positive integer in minor units")?;
    Money::from_minor(minor, known).map_err(|e| format!("amount: {e}"))?;
    let reference = required(f, "merchantTransactionId")?;
    if reference.len() > 64 {
        return Err("merchantTransactionId: at most 64 characters".into());
    }
    Ok(Order {
        seq: 0,
        merchant_id: merchant_id.to_owned(),
        transaction_id: String::new(),
        page: String::new(),
        merchant_transaction_id: reference.to_owned(),
        amount_minor: minor,
        currency: currency.to_owned(),
        status: wire::status::PENDING,
        error_code: String::new(),
        scenario: Scenario::from_minor(minor),
        url_ok: url(f, "urlOk")?,
        url_ko: url(f, "urlKo")?,
        url_pending: url(f, "urlPending")?,
        url_callback: url(f, "urlCallback")?.ok_or("urlCallback is required")?,
        expires_at: expiry(f)?,
        executions: 0,
        callback_attempts: 0,
        callbacks_sent: 0,
    })
}

/// `POST /`.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match fields(query.as_deref(), &headers, &body) {
        Ok(f) => f,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    let order = match order_from(&shared, &fields) {
        Ok(order) => order,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    if order.scenario == Scenario::Http500OnCreate {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
    }
    match shared.insert(order) {
        Some(order) => Html(wire::redirect_page(&shared.page_url(&order.page))).into_response(),
        None => refuse(
            StatusCode::BAD_REQUEST,
            "merchantTransactionId already used",
        ),
    }
}
