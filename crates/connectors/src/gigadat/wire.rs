//! Gigadat's wire format (Interac e-Transfer through Gigadat's "express-connect" API).
//!
//! Sources, all public: Gigadat merchant samples calling
//! `POST https://interac.express-connect.com/api/payment-token/{campaignId}` (Basic
//! `access_token:security_token`, JSON body `userId, transactionId, name, email, site, userIp,
//! mobile, currency, language, amount, type, sandbox`, answer `{token, data: {transactionId}}`)
//! and opening `GET /webflow?transaction=…&token=…`; Hyperswitch's open-source Gigadat
//! connector (status `GET /api/transactions/{transactionId}` answering `{status}`, errors
//! `{"err": "…"}`, listener notifications carrying `transaction` and `status` as query
//! parameters, the `STATUS_*` words); Mozarto's Cashier docs (CAD only, payout answer "Added to
//! approvals table" with a `finalizationURL` = `/webflow/deposit?transaction=…&token=…`);
//! 4pay.online's Gigadat page (the status mapping). Anything marked "assumed" is in none of
//! them and says why we chose it.
//!
//! The brief for this connector spelled the webflow parameter `transactionId`; every public
//! sample above uses `transaction`, so that is what we send (the sandbox accepts both).

use overture_core::connector::{ConnectorError, FailureClass, PspOutcome};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// `POST {base}/api/payment-token/{campaignId}`: creates a transaction and its one-time token.
pub fn payment_token_path(campaign_id: &str) -> String {
    format!("/api/payment-token/{}", urlencoding::encode(campaign_id))
}

/// `GET {base}/api/transactions/{transactionId}`: the transaction's status (Hyperswitch).
pub fn status_path(transaction_id: &str) -> String {
    format!("/api/transactions/{}", urlencoding::encode(transaction_id))
}

/// The hosted Interac flow the payer is sent to (pay-ins).
pub const WEBFLOW_PATH: &str = "/webflow";

/// Mozarto's `finalizationURL` path: executing a payout whose token was issued. Assumed to
/// take Basic auth like every other merchant call (Hyperswitch sends it on its webflow calls).
pub const FINALIZE_PATH: &str = "/webflow/deposit";

/// Payer IP sent on payouts when the request carries no `userIp` (the user is not present
/// when a payout is made); Gigadat requires the field. Same choice as ForumPay's connector.
pub const FALLBACK_USER_IP: &str = "127.0.0.1";

/// Longest stage marker Overture persists (`PspUpdate::stage`), in bytes.
pub const MAX_STAGE_LEN: usize = 1024;

/// Gigadat's transaction types: `CPI` (Interac pay-in, "combined pay-in"), `ETO` (e-Transfer
/// out) and `ACH` (bank transfer out). `RTO` exists too; Overture does not use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TxnKind {
    /// Interac pay-in through the webflow.
    Cpi,
    /// Interac e-Transfer payout.
    Eto,
    /// Bank (ACH / EFT) payout.
    Ach,
}

impl TxnKind {
    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpi => "CPI",
            Self::Eto => "ETO",
            Self::Ach => "ACH",
        }
    }

    /// The payout type for a Cashier `payoutType` value (case-insensitive); `None` when it
    /// is neither `ETO` nor `ACH`.
    pub fn payout(word: &str) -> Option<Self> {
        match word.trim().to_ascii_uppercase().as_str() {
            "ETO" => Some(Self::Eto),
            "ACH" => Some(Self::Ach),
            _ => None,
        }
    }
}

/// `payment-token` body. `amount` is a JSON number in major units written with exactly two
/// decimals (`10.50`): a raw literal, so no float ever holds it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentTokenIn {
    /// The merchant's user id (Cashier `userId`).
    pub user_id: String,
    /// The merchant's transaction id: Overture's transaction id. Gigadat echoes it as
    /// `data.transactionId` and identifies the transaction by it afterwards.
    pub transaction_id: String,
    /// The payer's full name.
    pub name: String,
    /// The payer's e-mail (where an ETO e-Transfer is announced).
    pub email: String,
    /// The merchant's site URL.
    pub site: String,
    /// The payer's IP address.
    pub user_ip: String,
    /// Digits only, 10–11 of them.
    pub mobile: String,
    /// Always `CAD`.
    pub currency: &'static str,
    /// Webflow language; always `en` (Gigadat's samples).
    pub language: &'static str,
    /// Major units, exactly two decimals.
    pub amount: Box<RawValue>,
    /// `CPI`, `ETO` or `ACH`.
    #[serde(rename = "type")]
    pub kind: TxnKind,
    /// `true` against Gigadat's sandbox campaign (credential `sandbox`).
    pub sandbox: bool,
    /// Where Gigadat should post its listener notification. Assumed: Gigadat configures the
    /// listener URL per campaign in its back office and ignores this field; Overture sends its
    /// account callback URL so that a campaign can be pointed there and so that the sandbox,
    /// which has no back office, knows where to notify.
    pub listener_url: String,
    /// Where the webflow sends the payer back (the Cashier `returnUrl`). Assumed, like
    /// `listenerUrl`: Gigadat sets redirect pages per campaign; the sandbox reads this field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
}

/// `payment-token` answer: the one-time token and Gigadat's view of the transaction.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentTokenOut {
    /// One-time token for the webflow or the finalisation URL.
    pub token: String,
    /// Gigadat's view of the transaction.
    pub data: TokenData,
}

/// `data` of the `payment-token` answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenData {
    /// The merchant's transaction id, echoed.
    pub transaction_id: String,
    /// The transaction type, echoed (Hyperswitch reads it on payouts).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// Transaction status answer. Only `status` is documented (Hyperswitch); the other fields are
/// read when present to check that the answer is about the order asked for.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusOut {
    /// A `STATUS_*` word (see [`outcome`]).
    pub status: String,
    /// The merchant's transaction id, when echoed.
    #[serde(default)]
    pub transaction_id: Option<String>,
    /// Why a transaction was rejected or failed, when Gigadat says (assumed field name).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A refusal: `{"err": "…"}` (Hyperswitch's `GigadatErrorResponse`).
#[derive(Debug, Clone, Deserialize)]
pub struct ApiError {
    /// Gigadat's explanation.
    pub err: String,
}

impl ApiError {
    /// True when Gigadat says it has no such transaction. Inferred wording: the public
    /// sources show no error texts, so any `err` mentioning "not found" counts.
    pub fn is_not_found(&self) -> bool {
        self.err.to_ascii_lowercase().contains("not found")
    }
}

/// Normalises a `STATUS_*` word (4pay.online and Hyperswitch mappings, with Overture's
/// declined/failed split):
/// - `STATUS_INITED`: token issued, the payer has not finished the webflow (or the payout is
///   not finalised yet) ⇒ pending;
/// - `STATUS_PENDING`: Interac transfer under way ⇒ pending;
/// - `STATUS_SUCCESS`: money moved ⇒ approved;
/// - `STATUS_REJECTED` / `STATUS_REJECTED1`: refused by the payer, the bank or Gigadat's risk
///   checks ⇒ declined;
/// - `STATUS_EXPIRED`: token or transfer not used in time ⇒ failed (docs/ARCHITECTURE.md: expiry
///   is a failure);
/// - `STATUS_ABORTED1`: flow abandoned or aborted by Gigadat ⇒ failed (both public mappings
///   treat it as a failure, not a decline);
/// - `STATUS_FAILED`: technical failure ⇒ failed.
///
/// Unknown words stay pending (logged): polling continues until the schedule gives up.
/// What a final Gigadat status proves ([`FailureClass`]; Overture's reading, Gigadat publishes
/// no taxonomy): `STATUS_REJECTED`/`STATUS_REJECTED1` ⇒ soft decline (Interac or Gigadat's
/// checks refused), `STATUS_EXPIRED` ⇒ not processed (the token or transfer was never used),
/// `STATUS_ABORTED1` and `STATUS_FAILED` ⇒ technical (aborted or failed somewhere in the flow:
/// not proof that nothing moved). A refused payment-token call creates nothing: not processed.
pub fn failure_class(status: &str) -> Option<FailureClass> {
    match status.trim().to_ascii_uppercase().as_str() {
        "STATUS_REJECTED" | "STATUS_REJECTED1" => Some(FailureClass::SoftDecline),
        "STATUS_EXPIRED" => Some(FailureClass::NotProcessed),
        "STATUS_ABORTED1" | "STATUS_FAILED" => Some(FailureClass::Technical),
        _ => None,
    }
}

pub fn outcome(status: &str) -> PspOutcome {
    match status.trim().to_ascii_uppercase().as_str() {
        "STATUS_INITED" | "STATUS_PENDING" => PspOutcome::Pending,
        "STATUS_SUCCESS" => PspOutcome::Approved,
        "STATUS_REJECTED" | "STATUS_REJECTED1" => PspOutcome::Declined,
        "STATUS_EXPIRED" | "STATUS_ABORTED1" | "STATUS_FAILED" => PspOutcome::Failed,
        _ => {
            tracing::warn!(status, "unknown Gigadat status; treated as pending");
            PspOutcome::Pending
        }
    }
}

/// True for `STATUS_INITED`: a payout token exists and the payout was not finalised.
pub fn is_inited(status: &str) -> bool {
    status.trim().eq_ignore_ascii_case("STATUS_INITED")
}

/// Reads an API answer: a JSON `err` object is `Ok(Err(_))` whatever the HTTP status, a
/// non-2xx answer without one is `Protocol`, anything else must parse as `T`.
pub fn parse_answer<T: DeserializeOwned>(
    call: &str,
    status: u16,
    body: &str,
) -> Result<Result<T, ApiError>, ConnectorError> {
    let value: serde_json::Value = serde_json::from_str(body).map_err(|_| {
        ConnectorError::Protocol(format!("Gigadat {call}: HTTP {status}, body is not JSON"))
    })?;
    if let Some(err) = value.get("err").filter(|e| !e.is_null()) {
        let err = err.as_str().map_or_else(|| err.to_string(), str::to_owned);
        return Ok(Err(ApiError { err }));
    }
    if !(200..300).contains(&status) {
        return Err(ConnectorError::Protocol(format!(
            "Gigadat {call}: HTTP {status} without an err field"
        )));
    }
    serde_json::from_value(value)
        .map(Ok)
        .map_err(|e| ConnectorError::Protocol(format!("Gigadat {call}: unexpected answer: {e}")))
}

/// The listener notification: `transaction` (the merchant's transaction id) and `status`,
/// sent as query parameters (Hyperswitch's `GigadatWebhookQueryParameters`). Unsigned.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Notification {
    /// The merchant's transaction id (Overture's).
    #[serde(default)]
    pub transaction: Option<String>,
    /// The claimed `STATUS_*` word (never trusted).
    #[serde(default)]
    pub status: Option<String>,
}

/// Reads a notification from the query string, falling back to a form or JSON body (a
/// tolerance: the public sources only show the query form). `None` when neither parses.
pub fn parse_notification(query: &str, body: &[u8]) -> Option<Notification> {
    let from_query: Notification = serde_urlencoded::from_str(query).unwrap_or_default();
    if from_query.transaction.is_some() {
        return Some(from_query);
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => serde_json::from_slice(body).ok(),
        Some(_) => serde_urlencoded::from_bytes(body).ok(),
        None => Some(from_query),
    }
}

/// What a payout's `sync` needs that Overture does not store: the one-time token, to call the
/// finalisation URL after a failed or interrupted attempt. Serialised as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// `"token"` (issued, not finalised) or `"finalized"`.
    pub step: String,
    /// The one-time token while not finalised (dropped when too long to persist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Stage {
    /// Step word once the token is issued.
    pub const TOKEN: &'static str = "token";
    /// Step word once the finalisation URL answered.
    pub const FINALIZED: &'static str = "finalized";

    /// A stage after the token was issued; a token too long to persist is dropped (the payout
    /// can then only be finalised in the same call; `sync` reports it pending until Gigadat
    /// expires it).
    pub fn issued(token: &str) -> Self {
        let keep = token.len() + 40 <= MAX_STAGE_LEN;
        Self {
            step: Self::TOKEN.to_owned(),
            token: keep.then(|| token.to_owned()),
        }
    }

    /// The stage once finalised (the token is no longer needed, so it is not kept).
    pub fn finalized() -> Self {
        Self {
            step: Self::FINALIZED.to_owned(),
            token: None,
        }
    }

    /// The persisted text (always under [`MAX_STAGE_LEN`], see [`Stage::issued`]).
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a persisted stage; `None` when absent or not ours.
    pub fn decode(text: Option<&str>) -> Option<Self> {
        text.and_then(|t| serde_json::from_str(t).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_are_classified() {
        assert_eq!(
            failure_class("STATUS_REJECTED1"),
            Some(FailureClass::SoftDecline)
        );
        assert_eq!(
            failure_class("STATUS_EXPIRED"),
            Some(FailureClass::NotProcessed)
        );
        assert_eq!(
            failure_class("STATUS_ABORTED1"),
            Some(FailureClass::Technical)
        );
        assert_eq!(failure_class("STATUS_PENDING"), None);
    }

    #[test]
    fn statuses_map_as_documented() {
        for (word, expected) in [
            ("STATUS_INITED", PspOutcome::Pending),
            ("STATUS_PENDING", PspOutcome::Pending),
            ("STATUS_SUCCESS", PspOutcome::Approved),
            ("STATUS_REJECTED", PspOutcome::Declined),
            ("STATUS_REJECTED1", PspOutcome::Declined),
            ("STATUS_EXPIRED", PspOutcome::Failed),
            ("STATUS_ABORTED1", PspOutcome::Failed),
            ("STATUS_FAILED", PspOutcome::Failed),
            ("status_success", PspOutcome::Approved),
            ("SOMETHING_NEW", PspOutcome::Pending),
        ] {
            assert_eq!(outcome(word), expected, "{word}");
        }
        assert!(is_inited("STATUS_INITED") && !is_inited("STATUS_PENDING"));
    }

    #[test]
    fn token_body_has_the_documented_shape() {
        let body = PaymentTokenIn {
            user_id: "42".into(),
            transaction_id: "txn_1".into(),
            name: "Jane Doe".into(),
            email: "j@example.com".into(),
            site: "https://shop.example".into(),
            user_ip: "70.67.168.5".into(),
            mobile: "4031234567".into(),
            currency: "CAD",
            language: "en",
            amount: RawValue::from_string("10.50".into()).unwrap(),
            kind: TxnKind::Cpi,
            sandbox: true,
            listener_url: "https://o.example/cb".into(),
            return_url: None,
        };
        let text = serde_json::to_string(&body).unwrap();
        assert!(text.contains(r#""amount":10.50"#), "{text}");
        assert!(text.contains(r#""type":"CPI""#));
        assert!(text.contains(r#""userIp":"70.67.168.5""#));
        assert!(text.contains(r#""transactionId":"txn_1""#));
    }

    #[test]
    fn answers_and_refusals_are_told_apart() {
        let ok: PaymentTokenOut = parse_answer(
            "payment-token",
            200,
            r#"{"token":"t","data":{"transactionId":"txn_1","type":"CPI"}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.data.transaction_id, "txn_1");
        let refused: Result<StatusOut, ApiError> =
            parse_answer("status", 400, r#"{"err":"Transaction not found"}"#).unwrap();
        assert!(refused.unwrap_err().is_not_found());
        let bad: Result<Result<StatusOut, ApiError>, _> = parse_answer("status", 400, "{}");
        assert!(matches!(bad, Err(ConnectorError::Protocol(_))));
    }

    #[test]
    fn notifications_parse_from_query_or_body() {
        let n = parse_notification("transaction=txn_a&status=STATUS_SUCCESS", b"").unwrap();
        assert_eq!(n.transaction.as_deref(), Some("txn_a"));
        let n = parse_notification("", br#"{"transaction":"txn_b"}"#).unwrap();
        assert_eq!(n.transaction.as_deref(), Some("txn_b"));
        let n = parse_notification("", b"transaction=txn_c&status=STATUS_FAILED").unwrap();
        assert_eq!(n.status.as_deref(), Some("STATUS_FAILED"));
        assert!(parse_notification("", b"{nope").is_none());
    }

    #[test]
    fn stage_keeps_short_tokens_only() {
        let s = Stage::issued("tok");
        assert_eq!(Stage::decode(Some(&s.encode())), Some(s));
        let long = Stage::issued(&"x".repeat(2000));
        assert_eq!(long.token, None);
        assert!(long.encode().len() <= MAX_STAGE_LEN);
        assert_eq!(Stage::decode(Some("nope")), None);
    }
}
