//! ForumPay's own wire format: request parameters, response bodies, the webhook body, the
//! status mapping and the stage marker this connector persists between steps.
//!
//! Sources: ForumPay's API reference (forumpay.com `payInfo.api`, method names `StartPayment`,
//! `CheckPayment`, `GetRate`, `StartBuyOrder`, `ConfirmBuyOrder`) and ForumPay's public PHP
//! client (github.com/forumpay/payment-gateway-php-client), whose request parameters and
//! response fixtures fix the field names used here. Everything marked "inferred" is not in
//! those sources and follows the closest documented call.
//!
//! Transport: `POST {base}/api/v2/<Method>/`, HTTP Basic auth, form-urlencoded parameters,
//! JSON answers; a refusal is a JSON object with `err` (and sometimes `err_code`).

use overture_core::connector::{ConnectorError, FailureClass, PspOutcome};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// Path prefix of every API method, relative to the account's base URL.
pub const API_PREFIX: &str = "/api/v2";

/// API method names, as they appear in the URL path (forumpay.com payInfo.api).
pub mod method {
    /// Creates a crypto pay-in and its hosted page (documented).
    pub const START_PAYMENT: &str = "StartPayment";
    /// Status of a pay-in (documented).
    pub const CHECK_PAYMENT: &str = "CheckPayment";
    /// Creates an unconfirmed buy order, i.e. a crypto payout (documented name, Buy API).
    pub const START_BUY_ORDER: &str = "StartBuyOrder";
    /// Executes a buy order created by `StartBuyOrder` (documented name, Buy API).
    pub const CONFIRM_BUY_ORDER: &str = "ConfirmBuyOrder";
    /// Status of a buy order. Inferred: the public docs list no buy-order status call; this
    /// mirrors `CheckPayment` (same parameters, same status words).
    pub const CHECK_BUY_ORDER: &str = "CheckBuyOrder";
}

/// Crypto currency used when the request names none (`preferredCrypto`); our choice.
pub const DEFAULT_CRYPTO: &str = "BTC";

/// Payer IP sent when Overture does not know the user's (`userIp`); ForumPay requires one.
pub const FALLBACK_PAYER_IP: &str = "127.0.0.1";

/// Longest stage marker Overture persists (see `PspUpdate::stage`), in bytes.
pub const MAX_STAGE_LEN: usize = 1024;

/// `StartPayment` parameters. Amounts are decimal strings in major units of `invoice_currency`.
#[derive(Debug, Clone, Serialize)]
pub struct StartPaymentIn {
    pub pos_id: String,
    /// ISO 4217 code of the fiat invoice.
    pub invoice_currency: String,
    /// Fiat amount in major units, e.g. `"100.00"`.
    pub invoice_amount: String,
    /// Crypto the payer pays in (`BTC`, `ETH`, `USDT`, …).
    pub currency: String,
    /// Merchant reference: Overture's transaction id.
    pub reference_no: String,
    pub payer_id: String,
    pub payer_ip_address: String,
    pub payer_email: String,
    /// `"false"`: only confirmed on-chain payments count.
    pub accept_zero_confirmations: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_success_redirect_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_failure_redirect_url: Option<String>,
}

/// `StartPayment` answer (fields Overture uses; ForumPay sends more: `qr`, `rate`,
/// `amount_exchange`, `network_processing_fee`, `wait_time`, …).
#[derive(Debug, Clone, Deserialize)]
pub struct StartPaymentOut {
    /// ForumPay's payment id (UUID text).
    pub payment_id: String,
    /// Crypto address the payer sends to; `CheckPayment` needs it.
    pub address: String,
    /// Hosted payment page.
    pub access_url: String,
    /// Crypto actually chosen; equals the requested `currency`.
    #[serde(default)]
    pub currency: Option<String>,
}

/// `CheckPayment` parameters (documented: pos_id, currency, payment_id, address).
#[derive(Debug, Clone, Serialize)]
pub struct CheckPaymentIn {
    pub pos_id: String,
    pub currency: String,
    pub payment_id: String,
    pub address: String,
}

/// Status fields shared by `CheckPayment` and (inferred) the buy-order calls.
/// `status` is capitalised (`Waiting`, `Confirmed`, `Cancelled`), `state` lower case.
#[derive(Debug, Clone, Deserialize)]
pub struct StatusOut {
    /// ForumPay's payment id; `CheckPayment` omits it (the caller knows it).
    #[serde(default)]
    pub payment_id: Option<String>,
    #[serde(default)]
    pub reference_no: Option<String>,
    pub status: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub confirmed: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub cancelled: bool,
    /// Why a payment was cancelled or failed, when ForumPay says.
    #[serde(default)]
    pub reason: Option<String>,
}

impl StatusOut {
    /// The normalised outcome of this answer.
    pub fn outcome(&self) -> PspOutcome {
        outcome(
            &self.status,
            self.state.as_deref(),
            self.confirmed,
            self.cancelled,
        )
    }

    /// What a declined or failed answer proves (see [`failure_class`]).
    pub fn failure_class(&self) -> Option<FailureClass> {
        if self.confirmed {
            return None;
        }
        if self.cancelled {
            return Some(FailureClass::SoftDecline);
        }
        failure_class(&self.status).or_else(|| self.state.as_deref().and_then(failure_class))
    }

    /// True when a buy order exists but was never confirmed (`StartBuyOrder` happened,
    /// `ConfirmBuyOrder` did not): the next step is `ConfirmBuyOrder`. Inferred status word.
    pub fn is_unconfirmed_buy_order(&self) -> bool {
        self.status.eq_ignore_ascii_case("created")
    }
}

/// `StartBuyOrder` parameters (Buy API; field names follow `StartPayment`, `address` and
/// `payer_id` are documented for this call). Amounts in major units of `invoice_currency`.
#[derive(Debug, Clone, Serialize)]
pub struct StartBuyOrderIn {
    pub pos_id: String,
    pub invoice_currency: String,
    /// Fiat amount in major units, e.g. `"100.00"`.
    pub invoice_amount: String,
    /// Crypto sent to the user.
    pub currency: String,
    /// The user's wallet address.
    pub address: String,
    pub payer_id: String,
    /// Overture's transaction id; ForumPay keeps one buy order per reference (inferred).
    pub reference_no: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

/// `ConfirmBuyOrder` parameters (pos_id, currency, payment_id).
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmBuyOrderIn {
    pub pos_id: String,
    pub currency: String,
    pub payment_id: String,
}

/// `CheckBuyOrder` parameters (inferred call): the order by `payment_id` when known, else
/// by `reference_no` (after a lost `StartBuyOrder` answer Overture only knows the latter).
#[derive(Debug, Clone, Serialize)]
pub struct CheckBuyOrderIn {
    pub pos_id: String,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub reference_no: String,
}

/// A refusal: `{"err": "...", "err_code": "..."}` (`err_code` as read by ForumPay's PHP client).
#[derive(Debug, Clone, Deserialize)]
pub struct ApiError {
    pub err: String,
    #[serde(default)]
    pub err_code: Option<String>,
}

impl ApiError {
    /// True when the refusal says the payment / order does not exist. Inferred wording:
    /// ForumPay does not document its error texts, so any `err` or `err_code` mentioning
    /// "not found" / "not_found" counts.
    pub fn is_not_found(&self) -> bool {
        let code = self.err_code.as_deref().unwrap_or("").to_ascii_lowercase();
        let text = self.err.to_ascii_lowercase();
        code.contains("not_found") || code.contains("notfound") || text.contains("not found")
    }
}

/// The webhook body (unsigned). ForumPay posts `payment_id` and `reference_no`, plus
/// `pos_id`, `currency`, `address` (and `user`); no status. Any other field is ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WebhookIn {
    #[serde(default)]
    pub payment_id: Option<String>,
    #[serde(default)]
    pub reference_no: Option<String>,
}

/// Parses a webhook body sent as JSON or as a form; `None` when it is neither.
pub fn parse_webhook(content_type: Option<&str>, body: &[u8]) -> Option<WebhookIn> {
    let looks_json = content_type.is_some_and(|c| c.contains("json"))
        || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if looks_json {
        serde_json::from_slice(body).ok()
    } else {
        serde_urlencoded::from_bytes(body).ok()
    }
}

/// What `sync` needs later that Overture does not store itself: the crypto currency and,
/// for pay-ins, the payment address (`CheckPayment` requires both). Serialised as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Stage {
    /// The persisted text; `Protocol` when it would exceed [`MAX_STAGE_LEN`] (an address that
    /// long is not a real crypto address).
    pub fn encode(&self) -> Result<String, ConnectorError> {
        let text = serde_json::to_string(self)
            .map_err(|e| ConnectorError::Protocol(format!("stage: {e}")))?;
        if text.len() > MAX_STAGE_LEN {
            return Err(ConnectorError::Protocol(
                "ForumPay returned an address too long to keep".into(),
            ));
        }
        Ok(text)
    }

    /// Reads a persisted stage; `None` when absent or not ours.
    pub fn decode(text: Option<&str>) -> Option<Self> {
        text.and_then(|t| serde_json::from_str(t).ok())
    }
}

/// Normalises ForumPay's status. The booleans win (`confirmed` ⇒ approved, `cancelled` ⇒
/// declined, as in `CheckPayment`); otherwise the status word, then the state word. Unknown
/// words stay pending: polling continues until the poll schedule gives up.
pub fn outcome(status: &str, state: Option<&str>, confirmed: bool, cancelled: bool) -> PspOutcome {
    if confirmed {
        return PspOutcome::Approved;
    }
    if cancelled {
        return PspOutcome::Declined;
    }
    word_outcome(status)
        .or_else(|| state.and_then(word_outcome))
        .unwrap_or_else(|| {
            tracing::warn!(status, "unknown ForumPay status word; treated as pending");
            PspOutcome::Pending
        })
}

/// What a final ForumPay status word proves ([`FailureClass`]; ForumPay publishes no decline
/// taxonomy, so this is Overture's reading): `cancelled`/`declined`/`rejected` ⇒ soft decline
/// (refused, nothing received or sent), `expired` ⇒ not processed (an invoice nobody paid, a
/// buy order never executed), `error`/`failed` ⇒ technical (not proof that nothing moved).
/// A `StartPayment`/`StartBuyOrder` refusal creates nothing: not processed.
pub fn failure_class(word: &str) -> Option<FailureClass> {
    match word.trim().to_ascii_lowercase().as_str() {
        "cancelled" | "canceled" | "declined" | "rejected" => Some(FailureClass::SoftDecline),
        "expired" => Some(FailureClass::NotProcessed),
        "error" | "failed" => Some(FailureClass::Technical),
        _ => None,
    }
}

fn word_outcome(word: &str) -> Option<PspOutcome> {
    match word.trim().to_ascii_lowercase().as_str() {
        "confirmed" | "completed" => Some(PspOutcome::Approved),
        "cancelled" | "canceled" | "declined" | "rejected" => Some(PspOutcome::Declined),
        // "error" is inferred (a payment ForumPay could not settle); "expired" is an unpaid
        // invoice past its validity, which docs/ARCHITECTURE.md counts as failed.
        "error" | "failed" | "expired" => Some(PspOutcome::Failed),
        "waiting" | "processing" | "created" | "pending" | "underpayment" => {
            Some(PspOutcome::Pending)
        }
        _ => None,
    }
}

/// Reads an API answer: a JSON `err` object is `Ok(Err(_))` whatever the HTTP status, a
/// non-2xx answer without one is `Protocol`, anything else must parse as `T`.
pub fn parse_answer<T: DeserializeOwned>(
    method: &str,
    status: u16,
    body: &str,
) -> Result<Result<T, ApiError>, ConnectorError> {
    let value: serde_json::Value = serde_json::from_str(body).map_err(|_| {
        ConnectorError::Protocol(format!("{method}: HTTP {status}, body is not JSON"))
    })?;
    if value.get("err").is_some_and(|e| !e.is_null()) {
        let err = ApiError {
            err: value
                .get("err")
                .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                .unwrap_or_default(),
            err_code: value
                .get("err_code")
                .and_then(|c| c.as_str().map(str::to_owned)),
        };
        return Ok(Err(err));
    }
    if !(200..300).contains(&status) {
        return Err(ConnectorError::Protocol(format!(
            "{method}: HTTP {status} without an err field"
        )));
    }
    serde_json::from_value(value)
        .map(Ok)
        .map_err(|e| ConnectorError::Protocol(format!("{method}: unexpected answer: {e}")))
}

/// ForumPay sends booleans as JSON booleans in some answers and as `"1"`/`"0"` in others
/// (see `accept_zero_confirmations` in the PHP client's fixtures); accept both, and null.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match value {
        Some(serde_json::Value::Bool(b)) => b,
        Some(serde_json::Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        Some(serde_json::Value::String(s)) => matches!(s.as_str(), "1" | "true" | "True"),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_words_are_classified() {
        assert_eq!(failure_class("Cancelled"), Some(FailureClass::SoftDecline));
        assert_eq!(failure_class("expired"), Some(FailureClass::NotProcessed));
        assert_eq!(failure_class("Error"), Some(FailureClass::Technical));
        assert_eq!(failure_class("Waiting"), None);
    }

    #[test]
    fn check_payment_fixture_maps_to_declined() {
        // Shape of the PHP client's checkPaymentResponse.json fixture.
        let body = r#"{"reference_no":null,"invoice_amount":"222.00","currency":"BTC",
            "confirmed":false,"status":"Cancelled","cancelled":true,"state":"cancelled",
            "accept_zero_confirmations":"1"}"#;
        let out: StatusOut = parse_answer("CheckPayment", 200, body).unwrap().unwrap();
        assert_eq!(out.outcome(), PspOutcome::Declined);
    }

    #[test]
    fn status_words_map() {
        assert_eq!(
            outcome("Waiting", Some("waiting"), false, false),
            PspOutcome::Pending
        );
        assert_eq!(
            outcome("Confirmed", None, false, false),
            PspOutcome::Approved
        );
        assert_eq!(outcome("x", Some("x"), true, false), PspOutcome::Approved);
        assert_eq!(outcome("Error", None, false, false), PspOutcome::Failed);
        assert_eq!(
            outcome("Declined", None, false, false),
            PspOutcome::Declined
        );
        assert_eq!(
            outcome("Something", None, false, false),
            PspOutcome::Pending
        );
    }

    #[test]
    fn err_answers_are_separated_from_protocol_errors() {
        let r: Result<Result<StatusOut, ApiError>, _> =
            parse_answer("CheckPayment", 400, r#"{"err":"Payment not found"}"#);
        assert!(r.unwrap().unwrap_err().is_not_found());
        let r: Result<Result<StatusOut, ApiError>, _> = parse_answer("CheckPayment", 400, "{}");
        assert!(matches!(r, Err(ConnectorError::Protocol(_))));
        let r: Result<Result<StatusOut, ApiError>, _> = parse_answer("CheckPayment", 200, "<html>");
        assert!(matches!(r, Err(ConnectorError::Protocol(_))));
    }

    #[test]
    fn webhook_bodies_parse_as_json_or_form() {
        let j = parse_webhook(None, br#" {"payment_id":"p1","reference_no":"txn_a"}"#).unwrap();
        assert_eq!(j.reference_no.as_deref(), Some("txn_a"));
        let f = parse_webhook(
            Some("application/x-www-form-urlencoded"),
            b"payment_id=p1&reference_no=txn_b&currency=BTC",
        )
        .unwrap();
        assert_eq!(f.reference_no.as_deref(), Some("txn_b"));
        assert!(parse_webhook(Some("application/json"), b"nope").is_none());
    }

    #[test]
    fn stage_round_trips_and_is_bounded() {
        let s = Stage {
            currency: "BTC".into(),
            address: Some("bc1qxyz".into()),
        };
        assert_eq!(Stage::decode(Some(&s.encode().unwrap())), Some(s));
        let long = Stage {
            currency: "BTC".into(),
            address: Some("a".repeat(2000)),
        };
        assert!(long.encode().is_err());
        assert_eq!(Stage::decode(Some("not json")), None);
    }
}
