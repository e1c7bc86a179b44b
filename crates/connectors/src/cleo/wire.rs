//! CLEO wire format: Cleo (Cleo SpA, cleo.cl / cleo.pe), bank transfers in Chile, Peru and
//! Mexico, pay-in ("Transfer-in") and payout ("Transfer-out"). **Cleo publishes no API
//! protocol** (its developer portal shows only an FAQ); everything below is *assumed (no public
//! API)*, in the style of the other PSPs Overture speaks, except the facts marked *[published]*
//! (Cleo's FAQ "operational questions" and Mozarto's CLEO page). The sandbox speaks exactly
//! these choices; a real integration must confirm each one with Cleo.
//!
//! Published:
//! - *[published]* Local currency only, by country: CLP in Chile (`CL`), PEN in Peru (`PE`),
//!   MXN in Mexico (`MX`) ([`currency_of`]); another pair is refused before any call.
//! - *[published]* CLP amounts are whole pesos (no decimals; CLP has 0 minor digits in
//!   Overture's `Money`); PEN and MXN amounts may have decimals, written with `.`.
//! - *[published, Mozarto]* One API key per country (`chileApiKey`, `peruApiKey`,
//!   `mexicoApiKey`), chosen by the request's country: credentials `api_key_cl`,
//!   `api_key_pe`, `api_key_mx` ([`key_name`]). Pay-ins redirect to a hosted page and final
//!   statuses arrive by webhook.
//!
//! Assumed (no public API):
//! 1. JSON over HTTPS below the account's base URL; every call carries
//!    `Authorization: Bearer <the country's API key>`. A wrong key ⇒ HTTP 401; a key of another
//!    country than the order's ⇒ HTTP 403 (both read as bad credentials).
//! 2. Pay-in: `POST /v1/payins` with [`PayinIn`] ⇒ HTTP 201 [`CreatedOut`] whose
//!    `checkout_url` is the hosted bank-transfer page (Overture's `data.url`).
//! 3. Payout: `POST /v1/payouts` with [`PayoutIn`] ⇒ HTTP 201 [`CreatedOut`]: a transfer to
//!    the beneficiary's account (Mexico: the 18-digit CLABE; Peru: the 20-digit CCI; Chile:
//!    account number, bank code and the holder's RUT).
//! 4. Amounts are strings in major units: `"10000"` CLP, `"150.50"` PEN or MXN (exactly two
//!    decimals) ([`amount_text`]).
//! 5. `reference` is the merchant's unique id (Overture's order id); reusing one ⇒ HTTP 409
//!    [`ErrorOut`] code [`CODE_DUPLICATE`] with the existing `id`; nothing is created again.
//! 6. Status: `GET /v1/transactions/{id}` ⇒ [`TransactionOut`];
//!    `GET /v1/transactions?reference=…` ⇒ [`TransactionList`] (empty when Cleo never received
//!    the order).
//! 7. Refusals: JSON [`ErrorOut`] with HTTP 400 (validation, naming the field; nothing
//!    created), 401, 403, 409; 5xx may or may not have created the order.
//! 8. Status words ([`status`]): `pending` (waiting for the customer's transfer), `processing`
//!    (not final); `completed` (approved); `rejected`, `cancelled` (declined); `failed`,
//!    `expired` (failed).
//! 9. Webhook: `POST` JSON [`WebhookIn`] (`{"event": "transaction.updated", "data":
//!    TransactionOut}`) to the `webhook_url` given at creation on every final status, resent
//!    until answered 2xx, with header [`SIGNATURE_HEADER`] `t=<unix seconds>,v1=<lower hex
//!    HMAC-SHA256(webhook_secret, "<t>.<raw body>")>` ([`sign_webhook`]); a webhook is only a
//!    hint: Overture confirms it with the status call.

use hmac::{Hmac, Mac};
use overture_core::connector::{FailureClass, PspOutcome};
use overture_core::Money;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Webhook signature header (assumed); Overture reads header names lower-cased.
pub const SIGNATURE_HEADER: &str = "Cleo-Signature";
/// Pay-in creation path (assumed).
pub const PAYINS_PATH: &str = "/v1/payins";
/// Payout creation path (assumed).
pub const PAYOUTS_PATH: &str = "/v1/payouts";
/// Status path; `/{id}` or `?reference=` (assumed).
pub const TRANSACTIONS_PATH: &str = "/v1/transactions";
/// [`ErrorOut`] code of a reused reference (assumed).
pub const CODE_DUPLICATE: &str = "DUPLICATE_REFERENCE";
/// [`ErrorOut`] code of a field that failed validation (assumed).
pub const CODE_VALIDATION: &str = "VALIDATION_ERROR";
/// The webhook's `event` (assumed).
pub const EVENT_UPDATED: &str = "transaction.updated";

/// The local currency of a served country *[published]*: `CL` ⇒ `CLP`, `PE` ⇒ `PEN`,
/// `MX` ⇒ `MXN`.
pub fn currency_of(country: &str) -> Option<&'static str> {
    match country {
        "CL" => Some("CLP"),
        "PE" => Some("PEN"),
        "MX" => Some("MXN"),
        _ => None,
    }
}

/// The country of a local currency, the inverse of [`currency_of`].
pub fn country_of(currency: &str) -> Option<&'static str> {
    ["CL", "PE", "MX"]
        .into_iter()
        .find(|c| currency_of(c) == Some(currency))
}

/// The credential holding the API key of `country` *[published, Mozarto]*: `api_key_cl`…
pub fn key_name(country: &str) -> Option<&'static str> {
    match country {
        "CL" => Some("api_key_cl"),
        "PE" => Some("api_key_pe"),
        "MX" => Some("api_key_mx"),
        _ => None,
    }
}

/// The wire amount (assumed format, published decimals): `"10000"` for CLP, `"150.50"` for
/// PEN and MXN — the currency's own number of decimals.
pub fn amount_text(amount: Money) -> String {
    amount.to_major_string()
}

/// The customer of a pay-in (assumed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The merchant platform's user id.
    pub id: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// National id (Chile: RUT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
}

/// Body of `POST /v1/payins` (assumed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayinIn {
    /// Overture's order id.
    pub reference: String,
    /// See [`amount_text`].
    pub amount: String,
    pub currency: String,
    /// ISO 3166-1 alpha-2: `CL`, `PE` or `MX`.
    pub country: String,
    pub customer: Customer,
    /// Where the hosted page sends the customer afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    pub webhook_url: String,
}

/// The receiving account of a payout (assumed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beneficiary {
    /// Account holder's full name.
    pub name: String,
    pub email: String,
    /// National id (Chile: RUT, required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    /// Chile only: the bank's 3-digit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_code: Option<String>,
    /// Mexico: CLABE (18 digits); Peru: CCI (20 digits); Chile: the account number.
    pub account_number: String,
}

/// Body of `POST /v1/payouts` (assumed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutIn {
    pub reference: String,
    pub amount: String,
    pub currency: String,
    pub country: String,
    pub beneficiary: Beneficiary,
    pub webhook_url: String,
}

/// HTTP 201 answer to a creation (assumed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedOut {
    /// Cleo's id of the transaction.
    pub id: String,
    pub reference: String,
    pub status: String,
    /// Pay-in only: the hosted bank-transfer page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
}

/// One transaction as the status endpoints and webhooks show it (assumed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionOut {
    pub id: String,
    pub reference: String,
    /// `payin` or `payout`.
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    /// See [`amount_text`].
    pub amount: String,
    pub currency: String,
    pub country: String,
    /// Reason of a refusal or failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Answer of `GET /v1/transactions?reference=…` (assumed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionList {
    pub data: Vec<TransactionOut>,
}

/// The webhook body (assumed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookIn {
    /// [`EVENT_UPDATED`].
    pub event: String,
    pub data: TransactionOut,
}

/// A refusal (assumed): `{"error": {"code", "message", "field"?, "id"?}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorOut {
    pub error: ErrorDetail,
}

/// The inside of [`ErrorOut`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    /// The request field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// With [`CODE_DUPLICATE`]: the existing transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl ErrorOut {
    /// A refusal with `code`, `message` and the field at fault.
    pub fn new(code: &str, message: impl Into<String>, field: Option<&str>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
                field: field.map(str::to_owned),
                id: None,
            },
        }
    }
}

/// Status words (assumed, module docs item 8).
pub mod status {
    pub const PENDING: &str = "pending";
    pub const PROCESSING: &str = "processing";
    pub const COMPLETED: &str = "completed";
    pub const REJECTED: &str = "rejected";
    pub const CANCELLED: &str = "cancelled";
    pub const FAILED: &str = "failed";
    pub const EXPIRED: &str = "expired";
}

/// Normalises a status word; unknown words are not final.
pub fn map_status(raw: &str) -> PspOutcome {
    match raw.trim().to_ascii_lowercase().as_str() {
        status::COMPLETED => PspOutcome::Approved,
        status::REJECTED | status::CANCELLED => PspOutcome::Declined,
        status::FAILED | status::EXPIRED => PspOutcome::Failed,
        _ => PspOutcome::Pending,
    }
}

/// What a final status proves ([`FailureClass`]; assumed like the protocol):
///
/// | status | class | why |
/// |---|---|---|
/// | `rejected` | soft decline | the bank or Cleo refused; another route may succeed |
/// | `cancelled` | not processed | the customer left the page, or the payout was stopped before sending |
/// | `expired` | not processed | no transfer arrived in time; nothing moved |
/// | `failed` | technical | a processing failure: not proof that nothing moved |
///
/// A 400 refusal of a create created nothing: not processed.
pub fn failure_class(raw: &str) -> Option<FailureClass> {
    match raw.trim().to_ascii_lowercase().as_str() {
        status::REJECTED => Some(FailureClass::SoftDecline),
        status::CANCELLED | status::EXPIRED => Some(FailureClass::NotProcessed),
        status::FAILED => Some(FailureClass::Technical),
        _ => None,
    }
}

fn mac(secret: &str) -> Option<Hmac<Sha256>> {
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()
}

/// The webhook signature header value for `body` at `timestamp` (assumed):
/// `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign_webhook(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let Some(mut mac) = mac(secret) else {
        return String::new();
    };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The timestamp of a [`sign_webhook`] header when its `v1` signs `body` (constant-time).
pub fn verify_webhook(secret: &str, header: &str, body: &[u8]) -> Option<u64> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<u64>().ok(),
            Some(("v1", v)) => signature = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (timestamp, signature) = (timestamp?, signature?);
    let mut mac = mac(secret)?;
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&signature).is_ok().then_some(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use overture_core::Currency;

    /// Expected value computed outside Rust with
    /// `printf '%s' '1700000000.{"event":"transaction.updated"}' | openssl dgst -sha256 -hmac whsec_test`.
    #[test]
    fn webhook_signature_matches_openssl() {
        let body = br#"{"event":"transaction.updated"}"#;
        let header = sign_webhook("whsec_test", 1_700_000_000, body);
        assert_eq!(
            header,
            "t=1700000000,v1=c58c8e88daee9ada605257f30828062b7713f8edd5c07002ef9748f9dbb90180"
        );
        assert_eq!(
            verify_webhook("whsec_test", &header, body),
            Some(1_700_000_000)
        );
        assert_eq!(verify_webhook("other", &header, body), None);
        assert_eq!(verify_webhook("whsec_test", &header, b"{}"), None);
        let moved = header.replace("t=1700000000", "t=1700000001");
        assert_eq!(verify_webhook("whsec_test", &moved, body), None);
        assert_eq!(verify_webhook("whsec_test", "v1=zz", body), None);
    }

    #[test]
    fn countries_currencies_and_keys_pair_up() {
        for (country, currency, key) in [
            ("CL", "CLP", "api_key_cl"),
            ("PE", "PEN", "api_key_pe"),
            ("MX", "MXN", "api_key_mx"),
        ] {
            assert_eq!(currency_of(country), Some(currency));
            assert_eq!(country_of(currency), Some(country));
            assert_eq!(key_name(country), Some(key));
        }
        assert_eq!(currency_of("AR"), None);
        assert_eq!(country_of("USD"), None);
    }

    #[test]
    fn clp_amounts_are_whole_pesos_and_others_have_two_decimals() {
        let clp = Currency::from_code("CLP").unwrap();
        assert_eq!(
            amount_text(Money::parse_major("10000", clp).unwrap()),
            "10000"
        );
        assert!(
            Money::parse_major("10000.50", clp).is_err(),
            "no centavos in CLP"
        );
        let pen = Currency::from_code("PEN").unwrap();
        assert_eq!(
            amount_text(Money::parse_major("150.5", pen).unwrap()),
            "150.50"
        );
    }

    #[test]
    fn statuses_map_and_classify() {
        assert_eq!(map_status("completed"), PspOutcome::Approved);
        assert_eq!(map_status("REJECTED"), PspOutcome::Declined);
        assert_eq!(map_status("cancelled"), PspOutcome::Declined);
        assert_eq!(map_status("expired"), PspOutcome::Failed);
        assert_eq!(map_status("processing"), PspOutcome::Pending);
        assert_eq!(map_status("new-word"), PspOutcome::Pending);
        assert_eq!(failure_class("rejected"), Some(FailureClass::SoftDecline));
        assert_eq!(failure_class("expired"), Some(FailureClass::NotProcessed));
        assert_eq!(failure_class("failed"), Some(FailureClass::Technical));
        assert_eq!(failure_class("pending"), None);
    }
}
