//! PAYONE wire format: Payone (payonepayment.com), the Interac provider for Canada that
//! Mozarto routes `pspType: "PAYONE"` to. **Payone publishes no API documentation**; everything
//! below is *assumed (no public API)*, modelled on what is public: Mozarto's webhook shape
//! (psp-notes.md, "Mozarto … Webhooks") and Mozarto's seeds (PAYONE pay-in and payout through
//! the redirect/webflow flow, CAD, the pay-in redirect field named `webflowURL`). The sandbox
//! speaks exactly these choices; a real integration must confirm each one with Payone.
//!
//! Assumed (no public API):
//! 1. JSON over HTTPS below the account's base URL; every call carries the header
//!    [`API_KEY_HEADER`] with the account's `api_key`. A wrong key ⇒ HTTP 401.
//! 2. Pay-in: `POST /api/v1/payments` with [`PaymentIn`] ⇒ HTTP 201 [`CreatedOut`] whose
//!    `webflowURL` is the Interac webflow page the customer completes (Overture's `data.url`).
//! 3. Payout: `POST /api/v1/payouts` with [`PaymentIn`] (no `returnUrl`) ⇒ HTTP 201
//!    [`CreatedOut`]: an Interac e-Transfer to the customer's `email` (the `phone`, when given,
//!    gets the SMS notice). Payouts need no customer action (auto-deposit).
//! 4. Amounts are strings in major units with exactly two decimals (`"100.00"`), as Mozarto's
//!    webhook writes them; currency `CAD` only.
//! 5. `merchantReference` is the merchant's unique id of the transaction (Overture's
//!    transaction id). Reusing one ⇒ HTTP 409 [`ErrorOut`] code [`CODE_DUPLICATE`] with the
//!    existing `transactionId`; nothing is created again.
//! 6. Status: `GET /api/v1/transactions/{transactionId}` ⇒ [`TransactionOut`];
//!    `GET /api/v1/transactions?merchantReference=…` ⇒ [`TransactionList`] (empty when Payone
//!    never received the order: how Overture resolves a create whose answer was lost).
//! 7. Refusals: JSON [`ErrorOut`] with HTTP 400 (validation; nothing created), 401, 409; 5xx
//!    are failures that may or may not have created the order.
//! 8. Status words, lower case (Mozarto's webhook example shows the raw `"confirmed"`):
//!    `pending`, `processing` (not final); `confirmed` (approved); `declined`, `cancelled`
//!    (declined); `failed`, `expired` (failed). See [`map_status`].
//! 9. Webhook: `POST` JSON [`WebhookIn`] (Mozarto's webhook fields) to the `webhookUrl` given at
//!    creation, on every final status, resent until answered 2xx, signed with
//!    [`SIGNATURE_HEADER`] = lower-case hex `HMAC-SHA256(webhook_secret, raw body)`.

use hmac::{Hmac, Mac};
use overture_core::connector::{FailureClass, PspOutcome};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Header carrying the account's API key (assumed).
pub const API_KEY_HEADER: &str = "X-Api-Key";
/// Header carrying the webhook signature (assumed); Overture reads header names lower-cased.
pub const SIGNATURE_HEADER: &str = "X-Payone-Signature";
/// Pay-in creation path (assumed).
pub const PAYMENTS_PATH: &str = "/api/v1/payments";
/// Payout creation path (assumed).
pub const PAYOUTS_PATH: &str = "/api/v1/payouts";
/// Transaction status path; `/{transactionId}` or `?merchantReference=` (assumed).
pub const TRANSACTIONS_PATH: &str = "/api/v1/transactions";
/// [`ErrorOut`] code of a reused `merchantReference` (assumed).
pub const CODE_DUPLICATE: &str = "DUPLICATE_TRANSACTION";
/// [`ErrorOut`] code of a field that failed validation (assumed).
pub const CODE_VALIDATION: &str = "VALIDATION_ERROR";

/// Body of `POST /api/v1/payments` and `POST /api/v1/payouts` (assumed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentIn {
    /// Overture's transaction id (`txn_…`), unique per merchant.
    pub merchant_reference: String,
    /// Major units, exactly two decimals (`"100.00"`).
    pub amount: String,
    /// `CAD`.
    pub currency: String,
    /// The merchant platform's user id.
    pub user_id: String,
    /// The customer's e-mail; the payout's Interac e-Transfer recipient.
    pub email: String,
    /// The customer's first name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// The customer's last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// 10–11 digits (North American number, optional leading 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The customer's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ip: Option<String>,
    /// ISO 3166-1 alpha-2, `CA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Pay-in only: where the webflow sends the customer's browser afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    /// Where Payone posts the webhooks of this transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

/// HTTP 201 answer to a creation (assumed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedOut {
    /// Payone's id of the transaction.
    pub transaction_id: String,
    /// Echo of the request's `merchantReference`.
    pub merchant_reference: String,
    /// Status word (see [`map_status`]).
    pub status: String,
    /// Pay-in only: the Interac webflow page (Mozarto's redirect field name for PAYONE).
    #[serde(
        rename = "webflowURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub webflow_url: Option<String>,
}

/// One transaction as the status endpoints return it (assumed). Amount in major units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionOut {
    /// Payone's id of the transaction.
    pub transaction_id: String,
    /// Overture's transaction id, as sent at creation.
    pub merchant_reference: String,
    /// `PAYIN` or `PAYOUT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Status word (see [`map_status`]).
    pub status: String,
    /// Major units, two decimals.
    pub amount: String,
    /// ISO 4217 code, `CAD`.
    pub currency: String,
    /// Reason of a decline or failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Answer of `GET /api/v1/transactions?merchantReference=…` (assumed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionList {
    /// Matching transactions (at most one: `merchantReference` is unique).
    pub transactions: Vec<TransactionOut>,
}

/// A refusal body (assumed): `{"error": {"code", "message", "transactionId"?}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorOut {
    /// What was refused and why.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorOut`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Stable refusal code, e.g. [`CODE_VALIDATION`], [`CODE_DUPLICATE`].
    pub code: String,
    /// Human-readable reason, naming the field when one is at fault.
    pub message: String,
    /// With [`CODE_DUPLICATE`]: the existing transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

impl ErrorOut {
    /// A refusal with `code` and `message`.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
                transaction_id: None,
            },
        }
    }
}

/// The webhook body (assumed; the field set of Mozarto's webhook, psp-notes.md). Amount in
/// major units. Only `merchantReference` and, once the signature verified, `status`,
/// `message` and `transaction_id` are read; `transaction_status` is informative.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookIn {
    /// Payone's transaction id.
    #[serde(default)]
    pub transaction_id: String,
    /// The merchant platform's user id, as sent at creation.
    #[serde(default)]
    pub user_id: String,
    /// `PAYIN` or `PAYOUT`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Raw status word (see [`map_status`]).
    #[serde(default)]
    pub status: String,
    /// Payone's own normalisation (`Approved`, `Declined`, …); not relied upon.
    #[serde(default)]
    pub transaction_status: String,
    /// Reason of a decline or failure.
    #[serde(default)]
    pub message: Option<String>,
    /// Major units, two decimals (`"100.00"`).
    #[serde(default)]
    pub amount: String,
    /// ISO 4217 code, `CAD`.
    #[serde(default)]
    pub currency: String,
    /// Overture's transaction id.
    #[serde(rename = "merchantReference", default)]
    pub merchant_reference: String,
}

/// Status words (assumed, see the module docs).
pub mod status {
    /// Created; waiting for the customer (pay-in webflow). Not final.
    pub const PENDING: &str = "pending";
    /// Being processed by Interac / the bank. Not final.
    pub const PROCESSING: &str = "processing";
    /// Final: money moved.
    pub const CONFIRMED: &str = "confirmed";
    /// Final: refused by the bank or Payone.
    pub const DECLINED: &str = "declined";
    /// Final: the customer abandoned the webflow.
    pub const CANCELLED: &str = "cancelled";
    /// Final: technical failure.
    pub const FAILED: &str = "failed";
    /// Final: the customer never completed the webflow in time.
    pub const EXPIRED: &str = "expired";
}

/// Normalises a status word. Unknown words are not final: an unknown word must never close a
/// payment; polling keeps asking until the give-up deadline.
pub fn map_status(raw: &str) -> PspOutcome {
    match raw.trim().to_ascii_lowercase().as_str() {
        status::CONFIRMED => PspOutcome::Approved,
        status::DECLINED | status::CANCELLED => PspOutcome::Declined,
        status::FAILED | status::EXPIRED => PspOutcome::Failed,
        _ => PspOutcome::Pending,
    }
}

/// What a final status proves ([`FailureClass`]; assumed like the rest of this protocol):
/// `declined` ⇒ soft decline, `cancelled` (the customer abandoned the webflow) and `expired`
/// (never completed in time) ⇒ not processed, `failed` ⇒ technical. A 400 refusal of a create
/// call creates nothing: not processed.
pub fn failure_class(raw: &str) -> Option<FailureClass> {
    match raw.trim().to_ascii_lowercase().as_str() {
        status::DECLINED => Some(FailureClass::SoftDecline),
        status::CANCELLED | status::EXPIRED => Some(FailureClass::NotProcessed),
        status::FAILED => Some(FailureClass::Technical),
        _ => None,
    }
}

/// Payone's own normalised word for a status (the webhook's `transaction_status`).
pub fn transaction_status(raw: &str) -> &'static str {
    match map_status(raw) {
        PspOutcome::Approved => "Approved",
        PspOutcome::Declined => "Declined",
        PspOutcome::Failed => "Failed",
        PspOutcome::Pending | PspOutcome::NotFound => "Pending",
    }
}

/// The webhook signature: lower-case hex `HMAC-SHA256(secret, body)` (assumed).
pub fn sign_webhook(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// True when `signature` (hex, any case) is the HMAC of `body`; compared in constant time by
/// the `hmac` crate.
pub fn verify_webhook(secret: &str, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = hex::decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Digits of a phone number without `+`, spaces, dashes, dots and parentheses; `None` unless
/// 10 or 11 digits remain (a North American number, optionally with the leading 1).
pub fn normalize_phone(phone: &str) -> Option<String> {
    let kept: String = phone
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let ok = (10..=11).contains(&kept.len()) && kept.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_are_classified() {
        assert_eq!(failure_class("declined"), Some(FailureClass::SoftDecline));
        assert_eq!(failure_class("cancelled"), Some(FailureClass::NotProcessed));
        assert_eq!(failure_class("expired"), Some(FailureClass::NotProcessed));
        assert_eq!(failure_class("failed"), Some(FailureClass::Technical));
        assert_eq!(failure_class("pending"), None);
    }

    /// Expected value computed outside Rust with
    /// `printf '%s' '{"a":1}' | openssl dgst -sha256 -hmac whsec_test`.
    #[test]
    fn webhook_signature_matches_openssl() {
        let sig = sign_webhook("whsec_test", br#"{"a":1}"#);
        assert_eq!(
            sig,
            "51426af50a41dd7ff2cd3f116594734766d4018d15d6fb07169aee5d2959adf5"
        );
        assert!(verify_webhook("whsec_test", br#"{"a":1}"#, &sig));
        assert!(verify_webhook(
            "whsec_test",
            br#"{"a":1}"#,
            &sig.to_ascii_uppercase()
        ));
        assert!(!verify_webhook("whsec_test", br#"{"a":2}"#, &sig));
        assert!(!verify_webhook("other", br#"{"a":1}"#, &sig));
        assert!(!verify_webhook("whsec_test", br#"{"a":1}"#, "not-hex"));
    }

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(map_status("confirmed"), PspOutcome::Approved);
        assert_eq!(map_status("CONFIRMED"), PspOutcome::Approved);
        assert_eq!(map_status("declined"), PspOutcome::Declined);
        assert_eq!(map_status("cancelled"), PspOutcome::Declined);
        assert_eq!(map_status("failed"), PspOutcome::Failed);
        assert_eq!(map_status("expired"), PspOutcome::Failed);
        for pending in ["pending", "processing", "new-word"] {
            assert_eq!(map_status(pending), PspOutcome::Pending);
        }
        assert_eq!(transaction_status("cancelled"), "Declined");
    }

    #[test]
    fn phones_are_ten_or_eleven_digits() {
        assert_eq!(
            normalize_phone("+1 (416) 555-0199").as_deref(),
            Some("14165550199")
        );
        assert_eq!(
            normalize_phone("416.555.0199").as_deref(),
            Some("4165550199")
        );
        assert_eq!(normalize_phone("555-0199"), None);
        assert_eq!(normalize_phone("41655501x9"), None);
    }

    #[test]
    fn created_answer_uses_the_webflow_url_name() {
        let json = r#"{"transactionId":"po_1","merchantReference":"txn_1","status":"pending",
                       "webflowURL":"https://pay.example/webflow/po_1"}"#;
        let out: CreatedOut = serde_json::from_str(json).unwrap();
        assert_eq!(
            out.webflow_url.as_deref(),
            Some("https://pay.example/webflow/po_1")
        );
        let body = serde_json::to_value(PaymentIn {
            merchant_reference: "txn_1".into(),
            return_url: Some("https://mp.example".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(body["merchantReference"], "txn_1");
        assert_eq!(body["returnUrl"], "https://mp.example");
        assert!(body.get("phone").is_none());
    }
}
