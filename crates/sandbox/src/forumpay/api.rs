//! The API methods under `/api/v2/<Method>/`. Parameter names follow ForumPay's payInfo.api
//! and its PHP client; the buy-order calls follow `StartPayment`/`CheckPayment` where the
//! public docs say nothing (inferred).

use super::{now_secs, order_json, webhook, Kind, Order, Shared, Status};
use crate::Scenario;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use overture_core::money::{Currency, Money};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Crypto currencies the sandbox quotes, with a fixed rate in fiat per unit (any fiat).
const RATES: &[(&str, &str)] = &[
    ("BTC", "50000"),
    ("ETH", "2500"),
    ("LTC", "80"),
    ("USDT", "1"),
    ("USDC", "1"),
    ("TRX", "0.12"),
];

type Params = HashMap<String, String>;

/// One API call: authenticate, read parameters, dispatch on the method name.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let Some(account) = authenticated(&shared, &headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"ForumPay\"")],
            Json(json!({"err": "Unauthorized"})),
        )
            .into_response();
    };
    // Parameters may come in the query (GET, as ForumPay's PHP client sends CheckPayment) or
    // in a form body (POST); the body wins on a clash.
    let mut params: Params = query
        .as_deref()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
        Ok(pairs) => params.extend(pairs),
        Err(_) => {
            return refuse("Request body must be form-urlencoded", "bad_request").into_response()
        }
    }
    let pos_id = match params.get("pos_id").map(|p| p.trim()) {
        Some(p) if !p.is_empty() && p.len() <= 64 => p.to_owned(),
        _ => return refuse("pos_id is required", "invalid_pos_id").into_response(),
    };
    let call = Call {
        shared,
        account,
        pos_id,
        params,
    };
    let answer = match method.as_str() {
        "StartPayment" => call.start_payment(),
        "CheckPayment" => call.check_payment(),
        "GetRate" | "GetBuyRate" => call.get_rate(),
        "StartBuyOrder" => call.start_buy_order(),
        "ConfirmBuyOrder" => call.confirm_buy_order(),
        "CheckBuyOrder" => call.check_buy_order(),
        _ => Ok((
            StatusCode::NOT_FOUND,
            Json(json!({"err": "Unknown API method"})),
        )
            .into_response()),
    };
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// The account (API user name) of a request whose HTTP Basic password is that user's own
/// secret; `None` otherwise.
fn authenticated(shared: &Shared, headers: &HeaderMap) -> Option<String> {
    let encoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (username, secret) = decoded.split_once(':')?;
    let valid = !username.is_empty()
        && shared
            .config
            .seed
            .verify(super::KEYRING_NAME, "secret", username, secret);
    valid.then(|| username.to_owned())
}

/// A ForumPay refusal: `{"err", "err_code"}` with HTTP 400 (see the module docs of
/// `forumpay`).
struct Refusal {
    err: String,
    code: &'static str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"err": self.err, "err_code": self.code})),
        )
            .into_response()
    }
}

fn refuse(err: impl Into<String>, code: &'static str) -> Refusal {
    Refusal {
        err: err.into(),
        code,
    }
}

type Answer = Result<Response, Refusal>;

fn ok(v: Value) -> Response {
    (StatusCode::OK, Json(v)).into_response()
}

/// Scenario `.54`: the PSP fails before creating anything.
fn internal_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"err": "Internal server error"})),
    )
        .into_response()
}

/// A parsed fiat invoice with its crypto quote.
struct Quote {
    invoice_currency: String,
    invoice_amount: String,
    currency: String,
    rate: String,
    amount: String,
    scenario: Scenario,
}

struct Call {
    shared: Arc<Shared>,
    /// The authenticated API user.
    account: String,
    pos_id: String,
    params: Params,
}

impl Call {
    /// True when `order` was created by this API user under this `pos_id`: only those are
    /// visible.
    fn owns(&self, order: &Order) -> bool {
        order.account == self.account && order.pos_id == self.pos_id
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, Refusal> {
        self.param(name)
            .ok_or_else(|| refuse(format!("{name} is required"), "missing_parameter"))
    }

    /// Reads `invoice_currency`, `invoice_amount` (major units) and `currency` (crypto).
    fn quote(&self) -> Result<Quote, Refusal> {
        let fiat = self.required("invoice_currency")?;
        let currency = Currency::from_code(fiat)
            .ok_or_else(|| refuse("Invoice currency not supported", "invalid_currency"))?;
        let money = Money::parse_major(self.required("invoice_amount")?, currency)
            .map_err(|e| refuse(format!("invoice_amount: {e}"), "invalid_amount"))?;
        let invoice_amount = money.to_major_string();
        let crypto = self.required("currency")?.to_ascii_uppercase();
        let rate_text = RATES
            .iter()
            .find(|(c, _)| *c == crypto)
            .map(|(_, r)| *r)
            .ok_or_else(|| refuse("Currency not supported", "invalid_currency"))?;
        let rate: Decimal = rate_text
            .parse()
            .map_err(|_| refuse("Rate unavailable", "rate_unavailable"))?;
        let mut amount =
            (money.to_decimal() / rate).round_dp_with_strategy(8, RoundingStrategy::AwayFromZero);
        // ForumPay prints crypto amounts with 8 decimals ("0.01333323").
        amount.rescale(8);
        let amount = amount.to_string();
        let scenario = Scenario::from_major_str(&invoice_amount).unwrap_or(Scenario::Approve);
        Ok(Quote {
            invoice_currency: money.currency().code().to_owned(),
            invoice_amount,
            currency: crypto,
            rate: rate_text.to_owned(),
            amount,
            scenario,
        })
    }

    fn new_order(&self, kind: Kind, quote: Quote, address: String, status: Status) -> Order {
        Order {
            seq: 0,
            kind,
            payment_id: uuid::Uuid::new_v4().to_string(),
            reference_no: self.param("reference_no").unwrap_or("").to_owned(),
            account: self.account.clone(),
            pos_id: self.pos_id.clone(),
            invoice_amount: quote.invoice_amount,
            invoice_currency: quote.invoice_currency,
            currency: quote.currency,
            address,
            amount: quote.amount,
            rate: quote.rate,
            access_token: format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
            webhook_url: self.param("webhook_url").map(str::to_owned),
            success_url: self.param("on_success_redirect_url").map(str::to_owned),
            failure_url: self.param("on_failure_redirect_url").map(str::to_owned),
            scenario: quote.scenario,
            status,
            reason: None,
            inserted: now_secs(),
            final_at: None,
            executions: 0,
            checks: 0,
            webhook_attempts: 0,
            webhooks_sent: 0,
        }
    }

    fn json(&self, order: &Order) -> Answer {
        Ok(ok(order_json(order, &self.shared.config.base_url)))
    }

    fn not_found(what: &str) -> Answer {
        Err(refuse(format!("{what} not found"), "not_found"))
    }

    /// `GetRate` / `GetBuyRate`: a quote with a fresh `payment_id` (not stored).
    fn get_rate(self) -> Answer {
        let quote = self.quote()?;
        Ok(ok(json!({
            "invoice_currency": quote.invoice_currency,
            "invoice_amount": quote.invoice_amount,
            "currency": quote.currency,
            "rate": quote.rate,
            "amount_exchange": quote.amount,
            "network_processing_fee": "0.00000000",
            "amount": quote.amount,
            "wait_time": "Less than 2 minutes",
            "sid": null,
            "payment_id": uuid::Uuid::new_v4().to_string(),
        })))
    }

    /// `StartPayment`: a waiting pay-in and its hosted page. `.54` ⇒ HTTP 500, nothing stored.
    fn start_payment(self) -> Answer {
        let quote = self.quote()?;
        if quote.scenario == Scenario::Http500OnCreate {
            return Ok(internal_error());
        }
        let address = format!(
            "{}-{}",
            quote.currency.to_ascii_lowercase(),
            uuid::Uuid::new_v4().simple()
        );
        let mut order = self.new_order(Kind::Payin, quote, address, Status::Waiting);
        // ForumPay's PHP client passes the payment_id GetRate returned; reuse it when given.
        if let Some(id) = self.param("payment_id") {
            if let Some(existing) = self.shared.get(id) {
                return if self.owns(&existing) && existing.kind == Kind::Payin {
                    self.json(&existing)
                } else {
                    Err(refuse("payment_id already used", "duplicate_payment_id"))
                };
            }
            order.payment_id = id.to_owned();
        }
        let order = self.shared.insert(order);
        self.json(&order)
    }

    /// `CheckPayment`: by `payment_id`; `currency` and `address` must match the payment.
    fn check_payment(self) -> Answer {
        let (Some(id), Some(currency), Some(address)) = (
            self.param("payment_id"),
            self.param("currency"),
            self.param("address"),
        ) else {
            return Err(refuse(
                "payment_id, currency and address are required",
                "missing_parameter",
            ));
        };
        let found = self.shared.update(id, |o| {
            let matches = o.kind == Kind::Payin
                && self.owns(o)
                && o.currency.eq_ignore_ascii_case(currency)
                && o.address == address;
            if matches {
                o.checks += 1;
            }
            matches.then(|| o.clone())
        });
        match found.flatten() {
            Some(order) => self.json(&order),
            None => Self::not_found("Payment"),
        }
    }

    /// `StartBuyOrder`: an unconfirmed (`Created`) buy order paying `currency` to `address`.
    /// One order per (API user, `pos_id`, `reference_no`): a repeat returns the existing order.
    fn start_buy_order(self) -> Answer {
        let quote = self.quote()?;
        let reference = self.required("reference_no")?.to_owned();
        let address = self.required("address")?.to_owned();
        let address_ok = (8..=128).contains(&address.len())
            && address
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !address_ok {
            return Err(refuse("Invalid address", "invalid_address"));
        }
        if quote.scenario == Scenario::Http500OnCreate {
            return Ok(internal_error());
        }
        let existing = self.shared.find_update(
            |o| o.kind == Kind::Payout && self.owns(o) && o.reference_no == reference,
            |o| o.clone(),
        );
        if let Some(order) = existing {
            return self.json(&order);
        }
        let order = self.new_order(Kind::Payout, quote, address, Status::Created);
        let order = self.shared.insert(order);
        self.json(&order)
    }

    /// `ConfirmBuyOrder`: executes a `Created` order once; for any other state it only
    /// returns the current state (a repeated confirmation never executes twice).
    fn confirm_buy_order(self) -> Answer {
        let (Some(id), Some(currency)) = (self.param("payment_id"), self.param("currency")) else {
            return Err(refuse(
                "payment_id and currency are required",
                "missing_parameter",
            ));
        };
        let confirmed = self.shared.update(id, |o| {
            let matches =
                o.kind == Kind::Payout && self.owns(o) && o.currency.eq_ignore_ascii_case(currency);
            if !matches {
                return None;
            }
            let first = o.status == Status::Created;
            if first {
                o.status = Status::Processing;
                o.executions += 1;
            }
            Some((o.clone(), first))
        });
        match confirmed.flatten() {
            Some((order, first)) => {
                if first {
                    webhook::settle_later(&self.shared, &order);
                }
                self.json(&order)
            }
            None => Self::not_found("Buy order"),
        }
    }

    /// `CheckBuyOrder` (inferred): by `payment_id` when given, else by `reference_no`.
    fn check_buy_order(self) -> Answer {
        let payment_id = self.param("payment_id").map(str::to_owned);
        let reference = self.param("reference_no").map(str::to_owned);
        if payment_id.is_none() && reference.is_none() {
            return Err(refuse(
                "payment_id or reference_no is required",
                "missing_parameter",
            ));
        }
        let currency = self.param("currency").map(str::to_owned);
        let found = self.shared.find_update(
            |o| {
                o.kind == Kind::Payout
                    && self.owns(o)
                    && match (&payment_id, &reference) {
                        (Some(id), _) => &o.payment_id == id,
                        (None, Some(r)) => &o.reference_no == r,
                        (None, None) => false,
                    }
                    && currency
                        .as_deref()
                        .is_none_or(|c| o.currency.eq_ignore_ascii_case(c))
            },
            |o| {
                o.checks += 1;
                o.clone()
            },
        );
        match found {
            Some(order) => self.json(&order),
            None => Self::not_found("Buy order"),
        }
    }
}
