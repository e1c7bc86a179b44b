//! The simulated Webservices JSON API (`POST /json/`): HTTP Basic auth, the envelope, the
//! `requestreference` echo and `TRANSACTIONQUERY` over the `AUTH` records of the user's site.

use super::{site_of, user_password_ok, Shared};
use crate::keyring;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use overture_connectors::trust::pages as trust_pages;
use overture_connectors::trust::wire::{self, errorcode, Record};
use serde_json::{json, Value};
use std::sync::Arc;
use time::OffsetDateTime;

/// The page Trust's web server answers for bad credentials (docs.trustpayments.com
/// "Troubleshooting", "401 Authorization Required").
const UNAUTHORIZED_PAGE: &str = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n\
<html><head>\n<title>401 Authorization Required</title>\n</head><body>\n\
<h1>Authorization Required</h1>\n<p>This server could not verify that you\n\
are authorized to access the document\nrequested.</p>\n</body></html>\n";

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, "Basic realm=\"webservices\""),
            (header::CONTENT_TYPE, "text/html; charset=iso-8859-1"),
        ],
        UNAUTHORIZED_PAGE,
    )
        .into_response()
}

/// `(user, password)` of an `Authorization: Basic …` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(B64.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn now() -> String {
    trust_pages::timestamp(OffsetDateTime::now_utc())
}

/// An answer object for a request that failed as a whole.
fn error_item(code: &str, message: &str, data: Value, requesttype: &str) -> Value {
    json!({
        "errorcode": code,
        "errormessage": message,
        "errordata": data,
        "requesttypedescription": requesttype,
        "transactionstartedtimestamp": now(),
    })
}

/// The envelope `{"requestreference","version","response","secrand"}`, HTTP 200.
fn answer(reference: &str, items: Vec<Value>) -> Response {
    let body = json!({
        "requestreference": reference,
        "version": wire::API_VERSION,
        "response": items,
        "secrand": keyring::random_alphanumeric(6),
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// A reference of the gateway's own (`W23-rd55dned` style), when the request gave none.
fn gateway_reference() -> String {
    format!(
        "W{}-{}",
        keyring::random_digits(2),
        keyring::random_alphanumeric(8).to_ascii_lowercase()
    )
}

/// `POST /json/`.
pub(crate) async fn json(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((user, password)) = basic(&headers) else {
        return unauthorized();
    };
    if !user_password_ok(&shared.config.seed, &user, &password) {
        return unauthorized();
    }
    let header_reference = headers
        .get(wire::REQUESTREFERENCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let envelope: Value = match serde_json::from_slice::<Value>(&body) {
        Ok(value) if value.is_object() => value,
        _ => {
            let reference = header_reference.unwrap_or_else(gateway_reference);
            let item = error_item(
                errorcode::MALFORMED_JSON,
                "Malformed JSON",
                json!(["invalid json"]),
                wire::ERROR,
            );
            return answer(&reference, vec![item]);
        }
    };
    // The alias names the user whose site is queried: it must be the authenticated one.
    if envelope["alias"].as_str() != Some(user.as_str()) {
        return unauthorized();
    }
    let requests = envelope["request"].as_array().cloned().unwrap_or_default();
    let reference = header_reference
        .or_else(|| {
            requests
                .first()
                .and_then(|r| r["requestreference"].as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(gateway_reference);
    if envelope["version"].as_str() != Some(wire::API_VERSION) {
        let item = error_item(
            errorcode::FIELD_ERROR,
            "Invalid field",
            json!(["version"]),
            wire::ERROR,
        );
        return answer(&reference, vec![item]);
    }
    if requests.is_empty() {
        let item = error_item(
            errorcode::INVALID_REQUESTTYPE,
            "Invalid requesttype",
            json!(["None"]),
            wire::ERROR,
        );
        return answer(&reference, vec![item]);
    }
    let site = site_of(&shared.config.seed, &user);
    let items = requests.iter().map(|r| one(&shared, &site, r)).collect();
    answer(&reference, items)
}

/// One request object: `TRANSACTIONQUERY`, anything else `60018`.
fn one(shared: &Shared, site: &str, request: &Value) -> Value {
    let types: Vec<&str> = request["requesttypedescriptions"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if types != [wire::TRANSACTIONQUERY] {
        let data = if types.is_empty() {
            json!(["None"])
        } else {
            json!(types)
        };
        return error_item(
            errorcode::INVALID_REQUESTTYPE,
            "Invalid requesttype",
            data,
            wire::ERROR,
        );
    }
    query(shared, site, &request["filter"])
}

/// The values of filter `name`: `[{"value": …}, …]`.
fn filter_values(filter: &Value, name: &str) -> Vec<String> {
    filter[name]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|v| v["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// True when `wanted` is empty (no such filter) or holds `value`.
fn admits(wanted: &[String], value: &str) -> bool {
    wanted.is_empty() || wanted.iter().any(|w| w == value)
}

/// `TRANSACTIONQUERY` over the records of `site`: filter fields AND-ed, values OR-ed.
fn query(shared: &Shared, site: &str, filter: &Value) -> Value {
    let sites = filter_values(filter, "sitereference");
    let references = filter_values(filter, "transactionreference");
    let orders = filter_values(filter, "orderreference");
    let currencies = filter_values(filter, "currencyiso3a");
    if [&sites, &references, &orders, &currencies]
        .iter()
        .all(|v| v.is_empty())
    {
        return error_item(
            errorcode::NO_SEARCHABLE_FILTER,
            "No searchable filter specified",
            json!([]),
            wire::TRANSACTIONQUERY,
        );
    }
    if sites.iter().any(|s| s != site) {
        return error_item(
            errorcode::FIELD_ERROR,
            "Invalid field",
            json!(["sitereference"]),
            wire::TRANSACTIONQUERY,
        );
    }
    let records: Vec<Value> = shared.with_book(|b| {
        b.auths
            .iter_mut()
            .filter(|a| a.record.sitereference == site)
            .filter(|a| admits(&references, &a.record.transactionreference))
            .filter(|a| admits(&orders, &a.record.orderreference))
            .filter(|a| admits(&currencies, &a.record.currencyiso3a))
            .map(|a| {
                a.queries += 1;
                record_json(&a.record)
            })
            .collect()
    });
    json!({
        "errorcode": errorcode::OK,
        "errormessage": "Ok",
        "found": records.len().to_string(),
        "records": records,
        "requesttypedescription": wire::TRANSACTIONQUERY,
        "transactionstartedtimestamp": now(),
    })
}

/// A record as the query returns it: the shared [`Record`] fields and a few more Trust sends.
fn record_json(record: &Record) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or_else(|_| json!({}));
    let authorised = record.errorcode == errorcode::OK;
    let extra = json!({
        "accounttypedescription": "ECOM",
        "maskedpan": "411111######1111",
        "authcode": if authorised { "TEST12" } else { "" },
        "settleduedate": record.transactionstartedtimestamp.get(..10).unwrap_or_default(),
    });
    if let (Some(map), Some(more)) = (value.as_object_mut(), extra.as_object()) {
        map.extend(more.clone());
    }
    value
}
