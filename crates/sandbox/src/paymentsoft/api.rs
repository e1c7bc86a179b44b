//! The API calls: `/api/v4/payout` (create) and `/api/v2/status` (doc.payneteasy.com). Answers
//! use the PaynetEasy `name=value\n&…` layout; error codes are the sandbox's documented choices
//! (see the module docs and `overture_connectors::paymentsoft::wire`). The parts every
//! PaynetEasy-family simulator shares (answer layout, OAuth check, payout fields, status) are
//! `pub(crate)` here; the CARDZO simulator calls them.

use super::{
    known_endpoint, process, FamilyOrder, FamilySim, Order, Sim, RECEIVER_FORM_CENTS,
    STAGE_PROCESSING, STAGE_RECEIVER_FORM,
};
use crate::Scenario;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use overture_connectors::paymentsoft::oauth;
use overture_connectors::paymentsoft::wire::{self, encode_response, status, StatusRequest};
use overture_core::{Currency, Money};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// How far `oauth_timestamp` may be from the sandbox clock (RFC 5849 §3.3 lets servers bound it).
const TIMESTAMP_TOLERANCE_SECS: u64 = 15 * 60;

pub(crate) type Form = Vec<(String, String)>;

/// A refusal that is the handler's whole answer. Boxed: a `Response` is large and refusals are
/// the rare path (clippy `result_large_err`).
pub(crate) struct Refusal(Box<Response>);

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

/// A PaynetEasy-layout answer with an HTTP status.
pub(crate) fn answer(code: StatusCode, pairs: &[(&str, &str)]) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        encode_response(pairs),
    )
        .into_response()
}

/// `type=validation-error` (HTTP 200, as PaynetEasy answers refusals) with a code and message.
pub(crate) fn validation_error(code: &str, message: &str, extra: &[(&str, &str)]) -> Response {
    let serial = uuid::Uuid::new_v4().to_string();
    let mut pairs = vec![
        ("type", wire::TYPE_VALIDATION_ERROR),
        ("serial-number", serial.as_str()),
        ("error-message", message),
        ("error-code", code),
    ];
    pairs.extend_from_slice(extra);
    answer(StatusCode::OK, &pairs)
}

/// `type=async-response` for an accepted v4 request.
pub(crate) fn accepted(client_orderid: &str, paynet_order_id: &str) -> Response {
    let serial = uuid::Uuid::new_v4().to_string();
    answer(
        StatusCode::OK,
        &[
            ("type", wire::TYPE_ASYNC_RESPONSE),
            ("serial-number", serial.as_str()),
            ("merchant-order-id", client_orderid),
            ("paynet-order-id", paynet_order_id),
        ],
    )
}

/// A reused `client_orderid`: `error-code=409` with the existing order's `paynet-order-id`.
pub(crate) fn duplicate_order(client_orderid: &str, paynet_order_id: &str) -> Response {
    validation_error(
        wire::CODE_DUPLICATE_ORDER,
        "duplicate client_orderid",
        &[
            ("merchant-order-id", client_orderid),
            ("paynet-order-id", paynet_order_id),
        ],
    )
}

fn unknown_endpoint() -> Response {
    (StatusCode::NOT_FOUND, "unknown endpoint_id\n").into_response()
}

/// The last value of a non-empty form field.
pub(crate) fn field(form: &Form, name: &str) -> Option<String> {
    form.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Reads and authenticates a v4 call: endpoint id well-formed (else 404), form body, OAuth
/// signature over the canonical URL `{base}{path}/{endpoint_id}` or the URL the request
/// arrived at, consumer key = the endpoint's login (see the module docs; else 401,
/// `error-code=401`; 500 when the embedded key is unreadable).
pub(crate) fn signed_form<O>(
    sim: &FamilySim<O>,
    path: &str,
    endpoint_id: &str,
    arrived_at: &str,
    headers: &HeaderMap,
    body: &str,
) -> Result<Form, Refusal> {
    if !known_endpoint(endpoint_id) {
        return Err(unknown_endpoint().into());
    }
    let form: Form = serde_urlencoded::from_str(body).map_err(|_| {
        validation_error(wire::CODE_INVALID_FIELD, "body is not form-urlencoded", &[])
    })?;
    let unauthorized = |message: &str| {
        answer(
            StatusCode::UNAUTHORIZED,
            &[
                ("type", wire::TYPE_VALIDATION_ERROR),
                ("error-message", message),
                ("error-code", wire::CODE_BAD_CONTROL),
            ],
        )
    };
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("OAuth Authorization header required"))?;
    let key = oauth::load_public_key(super::keys::SANDBOX_OAUTH_PUBLIC_KEY)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())?;
    let canonical = format!(
        "{}{path}/{endpoint_id}",
        sim.config.base_url.trim_end_matches('/')
    );
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let as_received = format!("http://{host}{arrived_at}");
    let verified = oauth::verify_request(&canonical, &form, header, &key)
        .or_else(|_| oauth::verify_request(&as_received, &form, header, &key))
        .map_err(|e| unauthorized(&e.to_string()))?;
    if verified.consumer_key != sim.login(endpoint_id) {
        return Err(unauthorized("unknown OAuth consumer key").into());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if now.abs_diff(verified.timestamp) > TIMESTAMP_TOLERANCE_SECS {
        return Err(unauthorized("oauth_timestamp too far from the server clock").into());
    }
    Ok(form)
}

/// The payout fields the simulator needs, after validation.
pub(crate) struct NewPayout {
    pub(crate) client_orderid: String,
    pub(crate) amount: Money,
    pub(crate) amount_text: String,
    pub(crate) callback_url: Option<String>,
    pub(crate) redirect_url: Option<String>,
}

/// Validates the `/api/v4/payout` fields (CARDZO's `/api/v4/payout-check` has the same);
/// `Err` is the `error-message`.
pub(crate) fn validate(form: &Form) -> Result<NewPayout, String> {
    let required = |name: &str| field(form, name).ok_or_else(|| format!("{name}: required"));
    let client_orderid = required("client_orderid")?;
    if client_orderid.len() > 128 {
        return Err("client_orderid: at most 128 characters".into());
    }
    let currency_code = required("currency")?;
    let currency = Currency::from_code(&currency_code)
        .ok_or_else(|| format!("currency: {currency_code} is not supported"))?;
    let amount_text = required("amount")?;
    let amount = Money::parse_major(&amount_text, currency).map_err(|e| format!("amount: {e}"))?;
    required("order_desc")?;
    let ip = required("ipaddress")?;
    ip.parse::<std::net::IpAddr>()
        .map_err(|_| format!("ipaddress: {ip} is not an IP address"))?;
    let url = |name: &str| -> Result<Option<String>, String> {
        match field(form, name) {
            None => Ok(None),
            Some(u) => match reqwest::Url::parse(&u) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(Some(u)),
                _ => Err(format!("{name}: not an absolute http(s) URL")),
            },
        }
    };
    Ok(NewPayout {
        client_orderid,
        amount,
        amount_text,
        callback_url: url("server_callback_url")?,
        redirect_url: url("redirect_url")?,
    })
}

/// `POST /paynet/api/v4/payout/{endpoint_id}` ("/api/v4/payout").
pub(crate) async fn payout(
    State(sim): State<Arc<Sim>>,
    Path(endpoint_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form = match signed_form(
        &sim,
        wire::PAYOUT_PATH,
        &endpoint_id,
        uri.path(),
        &headers,
        &body,
    ) {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let new = match validate(&form) {
        Ok(new) => new,
        Err(message) => return validation_error(wire::CODE_INVALID_FIELD, &message, &[]),
    };
    let scenario = Scenario::from_minor(new.amount.minor());
    if scenario == Scenario::Http500OnCreate {
        // The PSP fails before creating anything: a later status query finds no order.
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n").into_response();
    }
    let receiver_form = new.amount.cents() == RECEIVER_FORM_CENTS;
    let paynet_order_id = {
        let mut orders = sim.orders();
        if let Some(existing) = orders.by_client_mut(&endpoint_id, &new.client_orderid) {
            let id = existing.paynet_order_id.clone();
            drop(orders);
            return duplicate_order(&new.client_orderid, &id);
        }
        let id = sim.next_order_id();
        orders.insert(
            &endpoint_id,
            &new.client_orderid,
            &id,
            Order {
                endpoint_id: endpoint_id.clone(),
                client_orderid: new.client_orderid.clone(),
                paynet_order_id: id.clone(),
                amount: new.amount_text.clone(),
                currency: new.amount.currency().code().to_owned(),
                status: status::PROCESSING.to_owned(),
                stage: if receiver_form {
                    STAGE_RECEIVER_FORM
                } else {
                    STAGE_PROCESSING
                },
                scenario,
                callback_url: new.callback_url.clone(),
                redirect_url: new.redirect_url.clone(),
                error_message: None,
                executions: 1,
                callbacks_sent: 0,
                status_queries: 0,
            },
        );
        id
    };
    // A receiver-form order waits for the form; the others go on at once.
    if !receiver_form {
        process::start(sim.clone(), paynet_order_id.clone());
    }
    accepted(&new.client_orderid, &paynet_order_id)
}

/// `POST /paynet/api/v2/status/{endpoint_id}` ("/api/v2/status").
pub(crate) async fn status(
    State(sim): State<Arc<Sim>>,
    Path(endpoint_id): Path<String>,
    body: String,
) -> Response {
    status_answer(&sim, &endpoint_id, &body, STAGE_RECEIVER_FORM)
}

/// Answers `/api/v2/status`: `login` and `control` checked against the endpoint's own, the
/// endpoint's order found by `orderid` (or by `client_orderid` alone when `orderid` is empty),
/// `redirect-to` set while the order is in `receiver_form_stage`.
pub(crate) fn status_answer<O: FamilyOrder>(
    sim: &FamilySim<O>,
    endpoint_id: &str,
    body: &str,
    receiver_form_stage: &str,
) -> Response {
    if !known_endpoint(endpoint_id) {
        return unknown_endpoint();
    }
    let request: StatusRequest = match serde_urlencoded::from_str(body) {
        Ok(r) => r,
        Err(e) => return validation_error(wire::CODE_INVALID_FIELD, &e.to_string(), &[]),
    };
    let expected = wire::status_control(
        &request.login,
        &request.client_orderid,
        &request.orderid,
        &sim.merchant_control(endpoint_id),
    );
    if request.login != sim.login(endpoint_id)
        || !wire::constant_time_eq(&expected, &request.control.to_ascii_lowercase())
    {
        return validation_error(wire::CODE_BAD_CONTROL, "Invalid control code", &[]);
    }
    let order = {
        let mut orders = sim.orders();
        let found = if request.orderid.is_empty() {
            orders.by_client_mut(endpoint_id, &request.client_orderid)
        } else {
            orders.by_paynet_mut(&request.orderid).filter(|o| {
                let fields = o.fields();
                fields.client_orderid == request.client_orderid && fields.endpoint_id == endpoint_id
            })
        };
        found.map(|o| {
            o.count_status_query();
            o.clone()
        })
    };
    let Some(order) = order else {
        return validation_error(
            wire::CODE_ORDER_NOT_FOUND,
            "Order not found",
            &[("merchant-order-id", request.client_orderid.as_str())],
        );
    };
    let order = order.fields();
    let serial = uuid::Uuid::new_v4().to_string();
    let redirect_to = if order.stage == receiver_form_stage {
        sim.form_url(order.paynet_order_id)
    } else {
        String::new()
    };
    answer(
        StatusCode::OK,
        &[
            ("type", wire::TYPE_STATUS_RESPONSE),
            ("serial-number", serial.as_str()),
            ("merchant-order-id", order.client_orderid),
            ("paynet-order-id", order.paynet_order_id),
            ("status", order.status),
            ("amount", order.amount),
            ("currency", order.currency),
            ("order-stage", order.stage),
            ("redirect-to", redirect_to.as_str()),
            ("error-message", order.error_message.unwrap_or_default()),
        ],
    )
}
