//! The API calls: `/api/v4/payout-check`, `/api/v4/payout-pay` and `/api/v2/status`
//! (doc.payneteasy.com). Answers use the PaynetEasy `name=value\n&…` layout; error codes are the
//! sandbox's documented choices (module docs and `overture_connectors::cardzo::wire`).

use super::{
    process, Order, Sim, BANK_NEVER_VALIDATES_CENTS, RECEIVER_FORM_CENTS, SANDBOX_ENDPOINT_ID,
    SANDBOX_LOGIN, SANDBOX_MERCHANT_CONTROL,
};
use crate::Scenario;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use overture_connectors::cardzo::wire::{self, encode_response, stage, status, StatusRequest};
use overture_connectors::paymentsoft::oauth;
use overture_core::{Currency, Money};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// How far `oauth_timestamp` may be from the sandbox clock (RFC 5849 §3.3 lets servers bound it).
const TIMESTAMP_TOLERANCE_SECS: u64 = 15 * 60;

type Form = Vec<(String, String)>;

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

/// A PaynetEasy-layout answer with an HTTP status.
fn answer(code: StatusCode, pairs: &[(&str, &str)]) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        encode_response(pairs),
    )
        .into_response()
}

/// `type=validation-error` (HTTP 200, as PaynetEasy answers refusals) with a code and message.
fn validation_error(code: &str, message: &str, extra: &[(&str, &str)]) -> Response {
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
fn accepted(client_orderid: &str, paynet_order_id: &str) -> Response {
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

/// The last value of a non-empty form field.
fn field(form: &Form, name: &str) -> Option<String> {
    form.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Reads and authenticates a v4 call: endpoint known (else 404), form body, OAuth signature
/// over the canonical URL `{base}{path}/{endpoint_id}` or the URL the request arrived at
/// (else 401, `error-code=401`).
fn signed_form(
    sim: &Sim,
    path: &str,
    endpoint_id: &str,
    arrived_at: &str,
    headers: &HeaderMap,
    body: &str,
) -> Result<Form, Refusal> {
    if endpoint_id != SANDBOX_ENDPOINT_ID {
        return Err((StatusCode::NOT_FOUND, "unknown endpoint_id\n")
            .into_response()
            .into());
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
    let key = oauth::load_public_key(crate::paymentsoft::keys::SANDBOX_OAUTH_PUBLIC_KEY)
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
    if verified.consumer_key != SANDBOX_LOGIN {
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

/// The payout-check fields the simulator needs, after validation.
struct NewPayout {
    client_orderid: String,
    amount: Money,
    amount_text: String,
    callback_url: Option<String>,
    redirect_url: Option<String>,
}

/// Validates the `/api/v4/payout-check` fields (those of `/api/v4/payout`); `Err` is the
/// `error-message`.
fn validate(form: &Form) -> Result<NewPayout, String> {
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

/// `POST /paynet/api/v4/payout-check/{endpoint_id}` ("/api/v4/payout-check"): creates the
/// order and hands it to the bank for validation. No money moves.
pub(crate) async fn payout_check(
    State(sim): State<Arc<Sim>>,
    Path(endpoint_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form = match signed_form(
        &sim,
        wire::PAYOUT_CHECK_PATH,
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
    let paynet_order_id = {
        let mut orders = sim.orders();
        if let Some(existing) = orders.by_client.get(&new.client_orderid) {
            let id = existing.paynet_order_id.clone();
            drop(orders);
            return validation_error(
                wire::CODE_DUPLICATE_ORDER,
                "duplicate client_orderid",
                &[
                    ("merchant-order-id", new.client_orderid.as_str()),
                    ("paynet-order-id", id.as_str()),
                ],
            );
        }
        let id = sim.next_order_id();
        orders
            .client_by_paynet
            .insert(id.clone(), new.client_orderid.clone());
        orders.by_client.insert(
            new.client_orderid.clone(),
            Order {
                client_orderid: new.client_orderid.clone(),
                paynet_order_id: id.clone(),
                amount: new.amount_text.clone(),
                currency: new.amount.currency().code().to_owned(),
                status: status::PROCESSING.to_owned(),
                stage: stage::CHECK_VALIDATING,
                scenario,
                bank_never_validates: new.amount.cents() == BANK_NEVER_VALIDATES_CENTS,
                receiver_form: new.amount.cents() == RECEIVER_FORM_CENTS,
                callback_url: new.callback_url.clone(),
                redirect_url: new.redirect_url.clone(),
                error_message: None,
                check_executions: 1,
                pay_requests: 0,
                pay_executions: 0,
                callbacks_sent: 0,
                status_queries: 0,
            },
        );
        id
    };
    process::validate_later(sim.clone(), new.client_orderid.clone());
    accepted(&new.client_orderid, &paynet_order_id)
}

/// `POST /paynet/api/v4/payout-pay/{endpoint_id}` ("/api/v4/payout-pay"): executes the payout
/// of a validated order, exactly once.
pub(crate) async fn payout_pay(
    State(sim): State<Arc<Sim>>,
    Path(endpoint_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form = match signed_form(
        &sim,
        wire::PAYOUT_PAY_PATH,
        &endpoint_id,
        uri.path(),
        &headers,
        &body,
    ) {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let (Some(client_orderid), Some(orderid), Some(login)) = (
        field(&form, "client_orderid"),
        field(&form, "orderid"),
        field(&form, "login"),
    ) else {
        return validation_error(
            wire::CODE_INVALID_FIELD,
            "client_orderid, orderid and login are required",
            &[],
        );
    };
    if login != SANDBOX_LOGIN {
        return validation_error(wire::CODE_BAD_CONTROL, "login does not match", &[]);
    }
    // Check and change the stage under one lock so two racing payout-pays execute once.
    let executed = {
        let mut orders = sim.orders();
        let Some(order) = orders
            .by_paynet_mut(&orderid)
            .filter(|o| o.client_orderid == client_orderid)
        else {
            drop(orders);
            return validation_error(wire::CODE_ORDER_NOT_FOUND, "Order not found", &[]);
        };
        order.pay_requests += 1;
        if order.pay_executions > 0 {
            Err((
                wire::CODE_PAY_ALREADY_RECEIVED,
                "payout-pay already received for this order",
            ))
        } else if order.stage != stage::CHECK_VALIDATED {
            Err((
                wire::CODE_NOT_VALIDATED,
                "order is not validated by the bank",
            ))
        } else {
            order.pay_executions += 1;
            order.stage = if order.receiver_form {
                stage::RECEIVER_FORM
            } else {
                stage::PROCESSING
            };
            Ok(order.receiver_form)
        }
    };
    match executed {
        // A receiver-form order waits for the form; the others go on at once.
        Ok(waits_for_form) => {
            if !waits_for_form {
                process::start(sim.clone(), client_orderid.clone());
            }
            accepted(&client_orderid, &orderid)
        }
        Err((code, message)) => validation_error(
            code,
            message,
            &[
                ("merchant-order-id", client_orderid.as_str()),
                ("paynet-order-id", orderid.as_str()),
            ],
        ),
    }
}

/// `POST /paynet/api/v2/status/{endpoint_id}` ("/api/v2/status").
pub(crate) async fn status(
    State(sim): State<Arc<Sim>>,
    Path(endpoint_id): Path<String>,
    body: String,
) -> Response {
    if endpoint_id != SANDBOX_ENDPOINT_ID {
        return (StatusCode::NOT_FOUND, "unknown endpoint_id\n").into_response();
    }
    let request: StatusRequest = match serde_urlencoded::from_str(&body) {
        Ok(r) => r,
        Err(e) => return validation_error(wire::CODE_INVALID_FIELD, &e.to_string(), &[]),
    };
    let expected = wire::status_control(
        &request.login,
        &request.client_orderid,
        &request.orderid,
        SANDBOX_MERCHANT_CONTROL,
    );
    if request.login != SANDBOX_LOGIN
        || !wire::constant_time_eq(&expected, &request.control.to_ascii_lowercase())
    {
        return validation_error(wire::CODE_BAD_CONTROL, "Invalid control code", &[]);
    }
    let order = {
        let mut orders = sim.orders();
        let found = if request.orderid.is_empty() {
            orders.by_client.get_mut(&request.client_orderid)
        } else {
            orders
                .by_paynet_mut(&request.orderid)
                .filter(|o| o.client_orderid == request.client_orderid)
        };
        found.map(|o| {
            o.status_queries += 1;
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
    let serial = uuid::Uuid::new_v4().to_string();
    let redirect_to = if order.stage == stage::RECEIVER_FORM {
        sim.form_url(&order.paynet_order_id)
    } else {
        String::new()
    };
    answer(
        StatusCode::OK,
        &[
            ("type", wire::TYPE_STATUS_RESPONSE),
            ("serial-number", serial.as_str()),
            ("merchant-order-id", order.client_orderid.as_str()),
            ("paynet-order-id", order.paynet_order_id.as_str()),
            ("status", order.status.as_str()),
            ("amount", order.amount.as_str()),
            ("currency", order.currency.as_str()),
            ("order-stage", order.stage),
            ("redirect-to", redirect_to.as_str()),
            (
                "error-message",
                order.error_message.as_deref().unwrap_or_default(),
            ),
        ],
    )
}
