//! Brite's wire format (docs.britepayments.com): "Authentication" (`merchant.authorize`,
//! `merchant.token`, `access_token` ~6 h, `refresh_token` ~7 h, `expires` in Unix seconds),
//! "Instant Payments" (`session.create_deposit` body and its `{url, token, id}` answer),
//! "HTTP Callbacks" / "Integration of Callbacks" (unsigned JSON POSTs, one subscription per
//! state, retries after 10, 30 and 60 minutes, "not necessarily fired in order", verify with
//! `transaction.state`; a query parameter in the callback URL to find the order), "Transaction
//! states" (0–7) and "References and ids" (`session.get` carries `merchant_reference` and
//! `transaction_id`). Anything marked "inferred" is in none of those pages.
//!
//! Transport: `POST {base}/api/<method>`, JSON both ways, `Authorization: Bearer
//! <access_token>` on everything but `merchant.authorize`.

use overture_core::connector::{ConnectorError, FailureClass, PspOutcome};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// `merchant.authorize`: credentials ⇒ token pair.
pub const AUTHORIZE_PATH: &str = "/api/merchant.authorize";
/// `merchant.token`: current access + refresh token ⇒ a new pair (the old access token dies).
pub const REFRESH_PATH: &str = "/api/merchant.token";
/// `session.create_deposit`: a pay-in session and the Brite client URL.
pub const CREATE_DEPOSIT_PATH: &str = "/api/session.create_deposit";
/// `session.get`: the session's state, `merchant_reference` and `transaction_id`.
pub const SESSION_GET_PATH: &str = "/api/session.get";
/// `transaction.state`: the transaction's state, the call Brite says to verify callbacks with.
pub const TRANSACTION_STATE_PATH: &str = "/api/transaction.state";

/// Name of the query parameter carrying Overture's transaction id in callback URLs (Brite's
/// own example subscribes `https://merchant.com/callback/?order_id=ORD-12345-ABC`): Brite's
/// callback bodies only carry Brite's ids.
pub const ORDER_ID_PARAM: &str = "order_id";

/// Session states with a callback (documented): authentication completed, aborted, failed,
/// completed.
pub mod session_state {
    /// `STATE_AUTHENTICATION_COMPLETED`: the payer authenticated in the bank.
    pub const AUTHENTICATION_COMPLETED: i64 = 2;
    /// `STATE_ABORTED`: the session was cancelled (by the payer or for a known reason).
    pub const ABORTED: i64 = 10;
    /// `STATE_FAILED`: the session failed for an unknown reason.
    pub const FAILED: i64 = 11;
    /// `STATE_COMPLETED`: the payer finished the client.
    pub const COMPLETED: i64 = 12;
}

/// Transaction states (documented, "Transaction states").
pub mod transaction_state {
    /// `STATE_CREATED`: the payer chose the account to debit.
    pub const CREATED: i64 = 0;
    /// `STATE_PENDING`: risk checks passed, ready for authorisation.
    pub const PENDING: i64 = 1;
    /// `STATE_ABORTED`: failed for a known reason (may still settle later, Brite warns).
    pub const ABORTED: i64 = 2;
    /// `STATE_FAILED`: failed for an unknown reason (may still settle later).
    pub const FAILED: i64 = 3;
    /// `STATE_COMPLETED`: the payer authorised the payment in the bank.
    pub const COMPLETED: i64 = 4;
    /// `STATE_CREDIT`: funds credited to the merchant.
    pub const CREDIT: i64 = 5;
    /// `STATE_SETTLED`: funds settled.
    pub const SETTLED: i64 = 6;
    /// `STATE_DEBIT`: funds debited from the merchant (payouts and refunds).
    pub const DEBIT: i64 = 7;
}

/// Session states Overture subscribes to.
pub const SESSION_CALLBACKS: [i64; 4] = [
    session_state::AUTHENTICATION_COMPLETED,
    session_state::ABORTED,
    session_state::FAILED,
    session_state::COMPLETED,
];
/// Transaction states Overture subscribes to (every one that can follow a deposit's start).
pub const TRANSACTION_CALLBACKS: [i64; 5] = [
    transaction_state::PENDING,
    transaction_state::ABORTED,
    transaction_state::FAILED,
    transaction_state::COMPLETED,
    transaction_state::CREDIT,
];

/// `merchant.authorize` body.
#[derive(Debug, Serialize)]
pub struct AuthorizeIn<'a> {
    /// The account's API public key.
    pub public_key: &'a str,
    /// The account's API secret.
    pub secret: &'a str,
}

/// `merchant.token` body.
#[derive(Debug, Serialize)]
pub struct RefreshIn<'a> {
    /// The access token being replaced.
    pub access_token: &'a str,
    /// Its refresh token.
    pub refresh_token: &'a str,
}

/// Answer of both token calls. `expires` is Unix seconds, fractional in Brite's example
/// (`1741903012.0`); a time, not money, so a float is fine.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenOut {
    /// Bearer token for the API calls.
    pub access_token: String,
    /// When `access_token` expires, Unix seconds.
    pub expires: f64,
    /// Token for `merchant.token`.
    pub refresh_token: String,
}

/// One callback subscription: a URL and exactly one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackIn {
    /// Where Brite posts the callback.
    pub url: String,
    /// The session state subscribed to (or none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_state: Option<i64>,
    /// The transaction state subscribed to (or none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_state: Option<i64>,
}

/// `session.create_deposit` body. `amount` is a JSON number in major units of the country's
/// currency (Brite has no currency field: the country decides it), written as an exact
/// literal (`100.50`).
#[derive(Debug, Serialize)]
pub struct CreateDepositIn {
    /// ISO 3166-1 alpha-2 country of the payer's bank.
    pub country_id: String,
    /// Major units, e.g. `100.50`.
    pub amount: Box<RawValue>,
    /// One entry per subscribed state.
    pub callbacks: Vec<CallbackIn>,
    /// The payer's e-mail.
    pub customer_email: String,
    /// The payer's first name, when known (Cashier `firstName`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_firstname: Option<String>,
    /// The payer's last name, when known (Cashier `lastName`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_lastname: Option<String>,
    /// Overture's transaction id.
    pub merchant_reference: String,
    /// Where the client sends the payer back (Cashier `returnUrl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Always `false`: Overture does not hold deposits for a merchant check at Brite.
    pub approval_required: bool,
}

/// `session.create_deposit` answer: the client URL, the client token, the session id.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateDepositOut {
    /// The hosted Brite client (`data.url`).
    pub url: String,
    /// Token for rendering the client with Brite's JavaScript (unused by Overture).
    #[serde(default)]
    pub token: Option<String>,
    /// The session id.
    pub id: String,
}

/// Body of `session.get` and `transaction.state`.
#[derive(Debug, Serialize)]
pub struct IdIn<'a> {
    /// Session or transaction id.
    pub id: &'a str,
}

/// `session.get` answer (fields Overture uses; inferred names for `state`, following the
/// callbacks' numeric states).
#[derive(Debug, Clone, Deserialize)]
pub struct SessionOut {
    /// The session id.
    #[serde(default)]
    pub id: Option<String>,
    /// The session state (see [`session_state`]).
    pub state: i64,
    /// Overture's transaction id, as sent.
    #[serde(default)]
    pub merchant_reference: Option<String>,
    /// Present once the payer authenticated and selected an account.
    #[serde(default)]
    pub transaction_id: Option<String>,
}

/// `transaction.state` answer (inferred shape: the numeric state).
#[derive(Debug, Clone, Deserialize)]
pub struct TransactionStateOut {
    /// The transaction state (see [`transaction_state`]).
    pub state: i64,
}

/// A refusal (inferred shape: Brite's pages show no error body; `message` or `error`).
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Brite's explanation.
    pub message: String,
}

impl ApiError {
    /// True when Brite says the session or transaction does not exist (inferred wording).
    pub fn is_not_found(&self) -> bool {
        self.message.to_ascii_lowercase().contains("not found")
    }
}

/// A callback body: `{merchant_id, session_id, session_state}` or `{merchant_id,
/// transaction_id, transaction_state}`. The docs show states as numbers and, once, as
/// strings; both are read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackBody {
    /// Brite's id of the merchant.
    #[serde(default)]
    pub merchant_id: Option<String>,
    /// Set on session callbacks.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Set on transaction callbacks (Brite's transaction id).
    #[serde(default)]
    pub transaction_id: Option<String>,
    /// The new session state (number or numeric string).
    #[serde(default)]
    pub session_state: Option<serde_json::Value>,
    /// The new transaction state (number or numeric string).
    #[serde(default)]
    pub transaction_state: Option<serde_json::Value>,
}

/// Name of a session state, for `raw_status`.
pub fn session_state_name(state: i64) -> String {
    match state {
        session_state::AUTHENTICATION_COMPLETED => "STATE_AUTHENTICATION_COMPLETED".into(),
        session_state::ABORTED => "STATE_ABORTED".into(),
        session_state::FAILED => "STATE_FAILED".into(),
        session_state::COMPLETED => "STATE_COMPLETED".into(),
        other => format!("STATE_{other}"),
    }
}

/// Name of a transaction state, for `raw_status`.
pub fn transaction_state_name(state: i64) -> String {
    use transaction_state::*;
    let name = match state {
        CREATED => "STATE_CREATED",
        PENDING => "STATE_PENDING",
        ABORTED => "STATE_ABORTED",
        FAILED => "STATE_FAILED",
        COMPLETED => "STATE_COMPLETED",
        CREDIT => "STATE_CREDIT",
        SETTLED => "STATE_SETTLED",
        DEBIT => "STATE_DEBIT",
        other => return format!("STATE_{other}"),
    };
    name.into()
}

/// A deposit's outcome from its transaction state: COMPLETED (the payer authorised it in the
/// bank), CREDIT (funds credited to the merchant) and SETTLED ⇒ approved; ABORTED (failed for
/// a known reason, e.g. cancelled) ⇒ declined; FAILED (unknown reason) ⇒ failed; CREATED and
/// PENDING ⇒ pending. DEBIT is a payout/refund word and unknown states are unexpected for a
/// deposit: pending (logged), so polling continues. Brite warns that ABORTED/FAILED deposits
/// can still settle later; Overture's final states never change, so such a late settlement
/// needs an operator.
pub fn transaction_outcome(state: i64) -> PspOutcome {
    use transaction_state::*;
    match state {
        COMPLETED | CREDIT | SETTLED => PspOutcome::Approved,
        ABORTED => PspOutcome::Declined,
        FAILED => PspOutcome::Failed,
        CREATED | PENDING => PspOutcome::Pending,
        other => {
            tracing::warn!(state = other, "unexpected Brite deposit transaction state");
            PspOutcome::Pending
        }
    }
}

/// A deposit's outcome while no transaction exists yet: the session ABORTED (payer cancelled
/// before choosing an account) ⇒ declined, FAILED ⇒ failed, anything else (created,
/// AUTHENTICATION_COMPLETED, COMPLETED awaiting its transaction) ⇒ pending.
pub fn session_outcome(state: i64) -> PspOutcome {
    match state {
        session_state::ABORTED => PspOutcome::Declined,
        session_state::FAILED => PspOutcome::Failed,
        _ => PspOutcome::Pending,
    }
}

/// What a failed deposit proves ([`FailureClass`], Overture's reading of Brite's states): an
/// ABORTED session or transaction (the payer cancelled, a known reason) ⇒ soft decline; FAILED
/// (unknown reason) ⇒ technical. Brite warns both can still settle later, so neither is ever
/// proof that nothing moved (a pay-in never cascades once its customer has the page anyway).
pub fn failure_class(outcome: PspOutcome) -> Option<FailureClass> {
    match outcome {
        PspOutcome::Declined => Some(FailureClass::SoftDecline),
        PspOutcome::Failed => Some(FailureClass::Technical),
        PspOutcome::Pending | PspOutcome::Approved | PspOutcome::NotFound => None,
    }
}

/// The currency Brite settles deposits of `country` in (Brite takes no currency field).
pub fn currency_of(country: &str) -> &'static str {
    match country {
        "SE" => "SEK",
        "NO" => "NOK",
        "DK" => "DKK",
        _ => "EUR",
    }
}

/// Reads an API answer: 2xx must parse as `T`; 400/409/422 with a `message` (or `error`) is a
/// refusal; anything else is `Protocol`. (401/403/404/429/5xx never get here: `PspHttp`
/// classifies them.)
pub fn parse_answer<T: DeserializeOwned>(
    method: &str,
    status: u16,
    body: &str,
) -> Result<Result<T, ApiError>, ConnectorError> {
    if (200..300).contains(&status) {
        return serde_json::from_str(body).map(Ok).map_err(|e| {
            ConnectorError::Protocol(format!("Brite {method}: unexpected answer: {e}"))
        });
    }
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let message = ["message", "error"]
        .iter()
        .find_map(|k| value.get(*k))
        .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned));
    match message {
        Some(message) => Ok(Err(ApiError { message })),
        None => Err(ConnectorError::Protocol(format!(
            "Brite {method}: HTTP {status} without a message"
        ))),
    }
}

/// A state sent as a number or as a numeric string.
pub fn state_number(value: &serde_json::Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified() {
        assert_eq!(
            failure_class(PspOutcome::Declined),
            Some(FailureClass::SoftDecline)
        );
        assert_eq!(
            failure_class(PspOutcome::Failed),
            Some(FailureClass::Technical)
        );
        assert_eq!(failure_class(PspOutcome::Approved), None);
    }

    #[test]
    fn transaction_states_map() {
        use transaction_state::*;
        for (state, expected) in [
            (CREATED, PspOutcome::Pending),
            (PENDING, PspOutcome::Pending),
            (ABORTED, PspOutcome::Declined),
            (FAILED, PspOutcome::Failed),
            (COMPLETED, PspOutcome::Approved),
            (CREDIT, PspOutcome::Approved),
            (SETTLED, PspOutcome::Approved),
            (DEBIT, PspOutcome::Pending),
            (99, PspOutcome::Pending),
        ] {
            assert_eq!(transaction_outcome(state), expected, "{state}");
        }
        assert_eq!(transaction_state_name(CREDIT), "STATE_CREDIT");
        assert_eq!(transaction_state_name(42), "STATE_42");
    }

    #[test]
    fn session_states_map() {
        assert_eq!(session_outcome(10), PspOutcome::Declined);
        assert_eq!(session_outcome(11), PspOutcome::Failed);
        assert_eq!(session_outcome(2), PspOutcome::Pending);
        assert_eq!(session_outcome(12), PspOutcome::Pending);
        assert_eq!(session_state_name(2), "STATE_AUTHENTICATION_COMPLETED");
    }

    #[test]
    fn deposit_body_has_the_documented_shape() {
        let body = CreateDepositIn {
            country_id: "SE".into(),
            amount: RawValue::from_string("100.50".into()).unwrap(),
            callbacks: vec![CallbackIn {
                url: "https://o.example/cb?order_id=txn_1".into(),
                session_state: Some(2),
                transaction_state: None,
            }],
            customer_email: "a@example.com".into(),
            customer_firstname: None,
            customer_lastname: None,
            merchant_reference: "txn_1".into(),
            redirect_uri: None,
            approval_required: false,
        };
        let text = serde_json::to_string(&body).unwrap();
        assert!(text.contains(r#""amount":100.50"#), "{text}");
        assert!(text.contains(
            r#""callbacks":[{"url":"https://o.example/cb?order_id=txn_1","session_state":2}]"#
        ));
        assert!(text.contains(r#""approval_required":false"#));
    }

    #[test]
    fn answers_and_refusals_are_told_apart() {
        let ok: TokenOut = parse_answer(
            "merchant.authorize",
            200,
            r#"{"access_token":"a","expires":1741903012.0,"refresh_token":"r"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.expires, 1_741_903_012.0);
        let refused: Result<SessionOut, ApiError> =
            parse_answer("session.get", 400, r#"{"message":"Session not found"}"#).unwrap();
        assert!(refused.unwrap_err().is_not_found());
        let bad: Result<Result<SessionOut, ApiError>, _> =
            parse_answer("session.get", 400, "<html>");
        assert!(matches!(bad, Err(ConnectorError::Protocol(_))));
        assert_eq!(state_number(&serde_json::json!("5")), Some(5));
        assert_eq!(currency_of("NO"), "NOK");
        assert_eq!(currency_of("FI"), "EUR");
    }
}
