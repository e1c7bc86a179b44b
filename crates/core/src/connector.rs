//! The `Connector` trait every PSP implements, the values it exchanges with the core, and the
//! one classification of PSP errors that routing, retries and the API envelope rely on.

use crate::domain::{Credentials, PspAccount, TxnType};
use crate::ids::{OrderId, PspAccountId};
use crate::money::Money;
use async_trait::async_trait;
use secrecy::SecretString;
use std::collections::BTreeMap;

/// What a connector knows of the PSP account it talks to.
#[derive(Clone, Debug)]
pub struct AccountContext {
    pub account_id: PspAccountId,
    /// PSP API base URL without a trailing slash.
    pub base_url: String,
    pub credentials: Credentials,
    /// Absolute URL of Overture's callback endpoint for this account; PSPs send callbacks here.
    pub callback_url: String,
}

impl AccountContext {
    /// Builds the context for `account`; `public_url` is Overture's external base URL.
    pub fn new(account: &PspAccount, public_url: &str) -> Self {
        Self {
            account_id: account.id.clone(),
            base_url: account.base_url.trim_end_matches('/').to_owned(),
            credentials: account.credentials.clone(),
            callback_url: format!(
                "{}/v1/api/psp-callbacks/{}/{}",
                public_url.trim_end_matches('/'),
                account.psp_type.as_str().to_ascii_lowercase(),
                account.id
            ),
        }
    }

    /// A required credential, or [`ConnectorError::Config`] naming the missing field.
    pub fn credential(&self, name: &str) -> Result<&SecretString, ConnectorError> {
        self.credentials.0.get(name).ok_or_else(|| {
            ConnectorError::Config(format!("PSP account credential `{name}` is missing"))
        })
    }
}

/// A payment as a connector sees it.
#[derive(Clone, Debug)]
pub struct PaymentRequest {
    /// The order id this attempt sends the PSP (its order id / merchant reference there).
    pub order_id: OrderId,
    pub txn_type: TxnType,
    pub amount: Money,
    pub user_id: String,
    pub email: String,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub return_url: Option<String>,
    pub merchant_reference: Option<String>,
    /// PSP-specific body fields and user-profile fields (`walletAddress`, `preferredCrypto`,
    /// `phone`, `firstName`, `lastName`, `userIp`), keyed by their Cashier API names.
    pub extras: BTreeMap<String, String>,
}

/// What Overture remembers of an order at a PSP, enough to query it and continue its flow.
#[derive(Clone, Debug)]
pub struct OrderRef {
    /// The order id the attempt was created with at the PSP.
    pub order_id: OrderId,
    pub txn_type: TxnType,
    pub amount: Money,
    pub psp_transaction_id: Option<String>,
    /// Connector-owned progress marker persisted between steps (see [`PspUpdate::stage`]).
    pub stage: Option<String>,
    pub extras: BTreeMap<String, String>,
}

/// Where a PSP says an order stands, normalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PspOutcome {
    /// Accepted, not final yet.
    Pending,
    Approved,
    Declined,
    /// Technical failure or expiry at the PSP.
    Failed,
    /// The PSP has no such order: it never received it.
    NotFound,
}

/// What a failed or declined attempt proves, classified once by its connector from the PSP's
/// own codes and statuses (each connector documents its table). Routing decides from it
/// whether another PSP account may be tried: only a class that proves no money moved allows
/// a payout to cascade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The PSP (or the issuer/bank behind it) refused for good: fraud, blocked account, invalid
    /// receiver. Never retried anywhere.
    HardDecline,
    /// Refused, but another PSP or a later try may succeed (limits, "do not honour").
    SoftDecline,
    /// Proven not processed: the request never reached the PSP, or the PSP refused it before
    /// accepting an order, or its final status says nothing was executed. Safe to try another
    /// account, payouts included.
    NotProcessed,
    /// A technical failure whose effect is unknown (timeout, 5xx, unreadable answer, expiry
    /// while processing). Never proof that nothing moved.
    Technical,
    /// The PSP's code or status is not in the connector's table.
    Unknown,
}

impl FailureClass {
    /// The stored and API spelling (`"not_processed"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HardDecline => "hard_decline",
            Self::SoftDecline => "soft_decline",
            Self::NotProcessed => "not_processed",
            Self::Technical => "technical",
            Self::Unknown => "unknown",
        }
    }

    /// Parses [`FailureClass::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::HardDecline,
            Self::SoftDecline,
            Self::NotProcessed,
            Self::Technical,
            Self::Unknown,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// One observation of an order at the PSP.
#[derive(Clone, Debug)]
pub struct PspUpdate {
    pub outcome: PspOutcome,
    /// For `Declined` and `Failed`: what the failure proves (see [`FailureClass`]); `None`
    /// reads as [`FailureClass::Unknown`].
    pub class: Option<FailureClass>,
    /// The PSP's own status word, stored verbatim.
    pub raw_status: String,
    pub psp_transaction_id: Option<String>,
    /// New value for the persisted stage marker, when the flow moved on.
    pub stage: Option<String>,
    /// Human-readable reason from the PSP.
    pub message: Option<String>,
    /// A page the receiver must visit (PaynetEasy `redirect-to`).
    pub redirect_url: Option<String>,
}

impl PspUpdate {
    /// A declined or failed update with its failure class.
    pub fn failed(outcome: PspOutcome, raw_status: impl Into<String>, class: FailureClass) -> Self {
        Self {
            class: Some(class),
            ..Self::new(outcome, raw_status)
        }
    }

    /// The failure class, `Unknown` when the connector gave none.
    pub fn failure_class(&self) -> FailureClass {
        self.class.unwrap_or(FailureClass::Unknown)
    }

    /// An update with just an outcome and the raw status.
    pub fn new(outcome: PspOutcome, raw_status: impl Into<String>) -> Self {
        Self {
            outcome,
            class: None,
            raw_status: raw_status.into(),
            psp_transaction_id: None,
            stage: None,
            message: None,
            redirect_url: None,
        }
    }
}

/// A pay-in accepted by the PSP: where to send the user, and the order's state.
#[derive(Clone, Debug)]
pub struct PayinStarted {
    /// The hosted payment page (`data.url`); `None` for a pay-in the PSP settles in the create
    /// call itself (a voucher redeemed synchronously), whose `update` is then final.
    pub redirect_url: Option<String>,
    pub update: PspUpdate,
}

/// What Overture answers a PSP's callback it accepted (HTTP 200): the body the PSP's protocol
/// expects as acknowledgement (Worldpay `[OK]`, an XML echo for Genesis, plain `OK` by default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackAck {
    /// `Content-Type` of the answer.
    pub content_type: &'static str,
    pub body: String,
}

impl Default for CallbackAck {
    fn default() -> Self {
        Self {
            content_type: "text/plain; charset=utf-8",
            body: "OK".into(),
        }
    }
}

/// A PSP callback exactly as received.
#[derive(Clone, Debug)]
pub struct CallbackRequest {
    pub method: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a signed callback says about the order, to compare with what Overture stored before
/// anything is done with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackClaims {
    /// The PSP's own id of the order (PaynetEasy `orderid`), when the callback carries one.
    pub psp_transaction_id: Option<String>,
    /// The amount in major units as the PSP wrote it (`"10.50"`), when carried.
    pub amount: Option<String>,
    /// ISO 4217 code, when carried.
    pub currency: Option<String>,
}

/// What a callback tells, after the connector checked it. Either way it is a hint: Overture
/// applies only what an authenticated status query then says (docs/ARCHITECTURE.md).
#[derive(Clone, Debug)]
pub enum CallbackOutcome {
    /// Signature verified. `claims` must match the stored order, or the callback is refused;
    /// `update` is what it claims (logged, never applied by itself).
    Verified {
        order_id: OrderId,
        update: PspUpdate,
        claims: CallbackClaims,
    },
    /// Unsigned or unverifiable: only a hint to query the PSP.
    Unverified {
        order_id: OrderId,
        why: &'static str,
    },
}

/// PSP-level failures, classified once (STYLE.md "Errors").
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectorError {
    /// PSP answered 401/403/404 on an API call: wrong credentials or endpoint.
    #[error("PSP refused the credentials (HTTP {status})")]
    InvalidCredentials { status: u16 },
    /// No answer in time; the PSP may or may not have acted.
    #[error("PSP did not answer in time")]
    Timeout,
    /// Could not connect: the request never reached the PSP.
    #[error("PSP unreachable: {0}")]
    Unreachable(String),
    /// PSP answered 5xx; it may or may not have acted.
    #[error("PSP unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    /// PSP answered 429.
    #[error("PSP rate limit reached")]
    RateLimited,
    /// A response Overture cannot interpret.
    #[error("unexpected PSP response: {0}")]
    Protocol(String),
    /// The PSP account is misconfigured (missing credential, bad key).
    #[error("PSP account configuration: {0}")]
    Config(String),
    /// The flow or field is not supported by this PSP.
    #[error("not supported by this PSP: {0}")]
    Unsupported(String),
    /// A callback that cannot be parsed or names no known order.
    #[error("malformed PSP callback: {0}")]
    BadCallback(String),
}

impl ConnectorError {
    /// Stable Cashier API error code (README).
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::InvalidCredentials { .. } | Self::Config(_) => "INVALID_PSP_CREDENTIALS",
            Self::Timeout => "PSP_TIMEOUT",
            Self::Unreachable(_) | Self::Unavailable { .. } => "PSP_UNAVAILABLE",
            Self::RateLimited => "PSP_RATE_LIMITED",
            Self::Protocol(_) | Self::Unsupported(_) | Self::BadCallback(_) => "UNKNOWN_PSP_ERROR",
        }
    }

    /// True when the PSP certainly did not act on the request (so the order can be closed
    /// without asking it); false when it may have (timeout, 5xx, unreadable answer), in which
    /// case the order must be resolved by a status query before anything is resent.
    pub fn certainly_not_processed(&self) -> bool {
        match self {
            Self::InvalidCredentials { .. }
            | Self::Unreachable(_)
            | Self::RateLimited
            | Self::Config(_)
            | Self::Unsupported(_) => true,
            Self::Timeout | Self::Unavailable { .. } | Self::Protocol(_) | Self::BadCallback(_) => {
                false
            }
        }
    }
}

impl ConnectorError {
    /// What this error proves about the attempt ([`FailureClass`]): `NotProcessed` when the
    /// PSP certainly did not act, `Technical` when it may have.
    pub fn class(&self) -> FailureClass {
        if self.certainly_not_processed() {
            FailureClass::NotProcessed
        } else {
            FailureClass::Technical
        }
    }

    /// True when the request never reached the PSP (no connection, DNS or TLS failure, or the
    /// outbound policy refused the address): another account may be tried at once, for pay-ins
    /// and payouts alike.
    pub fn never_reached(&self) -> bool {
        matches!(self, Self::Unreachable(_))
    }

    /// True for the failures that count against an account's health (circuit breaker):
    /// cannot connect, timeout, 5xx, 429.
    pub fn is_technical(&self) -> bool {
        match self {
            Self::Unreachable(_) | Self::Timeout | Self::Unavailable { .. } | Self::RateLimited => {
                true
            }
            Self::InvalidCredentials { .. }
            | Self::Protocol(_)
            | Self::Config(_)
            | Self::Unsupported(_)
            | Self::BadCallback(_) => false,
        }
    }
}

/// The stored form of a payer secret ([`Capabilities::secret_fields`]): `****` and its last
/// four characters (`"****5678"`), nothing more.
pub fn mask_secret(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("****{tail}")
}

/// A Cashier API field a PSP requires or rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The default credential check: every name in `caps.credential_fields` is present and not
/// blank.
pub fn require_credentials(
    caps: &Capabilities,
    credentials: &Credentials,
) -> Result<(), FieldError> {
    for name in caps.credential_fields {
        let present = credentials
            .0
            .get(*name)
            .is_some_and(|v| !secrecy::ExposeSecret::expose_secret(v).trim().is_empty());
        if !present {
            return Err(FieldError {
                field: (*name).to_owned(),
                message: format!("{} needs the credential {name}", caps.psp_type),
            });
        }
    }
    Ok(())
}

/// An order that cannot exist at any PSP (a fresh `txn_…` id never sent), for
/// [`Connector::test_credentials`]: the capability's first type and currency, one minor unit.
pub fn probe_order(caps: &Capabilities) -> Result<OrderRef, ConnectorError> {
    let code = caps
        .currencies
        .first()
        .ok_or_else(|| ConnectorError::Config("the PSP lists no currency".into()))?;
    let currency = crate::money::Currency::from_code(code)
        .ok_or_else(|| ConnectorError::Config(format!("unknown currency {code}")))?;
    let amount =
        Money::from_minor(1, currency).map_err(|e| ConnectorError::Config(e.to_string()))?;
    Ok(OrderRef {
        order_id: OrderId::for_attempt(&crate::ids::TransactionId::generate(), 1),
        txn_type: if caps.payin {
            TxnType::Payin
        } else {
            TxnType::Payout
        },
        amount,
        psp_transaction_id: None,
        stage: None,
        extras: BTreeMap::new(),
    })
}

/// Polling cadence while an order is not final, in milliseconds. Delays are drawn uniformly
/// from the current phase's `[min, max]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollSchedule {
    pub fast: (u64, u64),
    /// How long the fast phase lasts, from the first submission.
    pub fast_window: u64,
    pub slow: (u64, u64),
    /// After this long without a final status the transaction fails with reason `timeout`.
    pub give_up_after: u64,
}

impl PollSchedule {
    /// PaynetEasy's published guidance: every 3–5 s for 5 minutes, then every 5–10 minutes for
    /// up to an hour (doc.payneteasy.com, "Order status").
    pub const PAYNETEASY: PollSchedule = PollSchedule {
        fast: (3_000, 5_000),
        fast_window: 5 * 60_000,
        slow: (5 * 60_000, 10 * 60_000),
        give_up_after: 60 * 60_000,
    };

    /// Delay before the next poll, given the time since submission and a random number;
    /// `None` when the give-up deadline has passed.
    pub fn next_delay(&self, elapsed_ms: u64, random: u64) -> Option<u64> {
        if elapsed_ms >= self.give_up_after {
            return None;
        }
        let (lo, hi) = if elapsed_ms < self.fast_window {
            self.fast
        } else {
            self.slow
        };
        let span = hi.saturating_sub(lo);
        let delay = lo + if span == 0 { 0 } else { random % (span + 1) };
        // Never sleep past the deadline: the last poll happens at the deadline itself.
        Some(delay.min(self.give_up_after - elapsed_ms))
    }

    /// Delay before the next poll of an order whose outcome normally arrives by the PSP's
    /// webhook, so polling is only its backstop (a pay-in waiting for its customer, who mostly
    /// never pays): exponential backoff. The next poll comes when the time since submission has
    /// grown by 1–1.5× (so the age roughly doubles or more between polls), never sooner than
    /// the fast phase's minimum nor later than the slow phase's maximum, the factor drawn from
    /// `random` so orders created together drift apart. `None` once the give-up time passed.
    pub fn next_delay_backoff(&self, elapsed_ms: u64, random: u64) -> Option<u64> {
        if elapsed_ms >= self.give_up_after {
            return None;
        }
        let ceiling = self.slow.1.max(self.fast.0);
        let base = elapsed_ms.clamp(self.fast.0, ceiling);
        let delay = (base + base / 2 * (random % 1001) / 1000).min(ceiling.max(base));
        Some(delay.min(self.give_up_after - elapsed_ms))
    }
}

/// What a PSP can do; one row of the capability table (`GET /v1/api/psps`).
#[derive(Clone, Debug)]
pub struct Capabilities {
    /// `pspType` value, upper case.
    pub psp_type: &'static str,
    pub display_name: &'static str,
    pub payin: bool,
    pub payout: bool,
    /// ISO 4217 codes accepted.
    pub currencies: &'static [&'static str],
    /// ISO 3166-1 alpha-2 codes served; empty means any.
    pub countries: &'static [&'static str],
    /// Cashier API fields required beyond the common ones.
    pub payin_fields: &'static [&'static str],
    pub payout_fields: &'static [&'static str],
    /// How final statuses arrive, e.g. "signed callback + status polling".
    pub async_model: &'static str,
    /// Names of the credentials a PSP account needs.
    pub credential_fields: &'static [&'static str],
    pub poll_schedule: PollSchedule,
    /// Cashier fields that are secrets of the payer (a voucher PIN): handed to the connector
    /// for the attempt's calls in the request that carries them, never stored or logged in
    /// full (the store keeps the last four characters).
    pub secret_fields: &'static [&'static str],
    /// The PSP publishes no status query, so a verified callback whose order id, amount and
    /// currency all match the stored order is applied as final (docs/ARCHITECTURE.md);
    /// with no callback the order fails when the poll schedule gives up.
    pub final_by_callback: bool,
}

/// One PSP family. Implementations live in `overture-connectors/<psp>/`.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// Static description of the PSP.
    fn capabilities(&self) -> &Capabilities;

    /// PSP-specific checks of a request before any PSP call (required extras, formats).
    /// The default checks that the capability table's required fields are present.
    fn validate(&self, request: &PaymentRequest) -> Result<(), FieldError> {
        let caps = self.capabilities();
        let fields = match request.txn_type {
            TxnType::Payin => caps.payin_fields,
            TxnType::Payout => caps.payout_fields,
        };
        for field in fields {
            let present = match *field {
                "country" => request.country.is_some(),
                other => request
                    .extras
                    .get(other)
                    .is_some_and(|v| !v.trim().is_empty()),
            };
            if !present {
                return Err(FieldError {
                    field: (*field).to_owned(),
                    message: format!("{field} is required by {}", caps.psp_type),
                });
            }
        }
        Ok(())
    }

    /// Checks an account's credentials before they are stored: every name of the capability
    /// table's `credential_fields` present and non-empty (the default); connectors that know a
    /// value's format check it too (an RSA key that must parse). The error names the
    /// credential (`field`) and never repeats its value.
    fn validate_credentials(&self, credentials: &Credentials) -> Result<(), FieldError> {
        require_credentials(self.capabilities(), credentials)
    }

    /// Proves the account's credentials with the PSP's cheapest authenticated call, changing
    /// nothing there. The default asks [`Connector::sync`] about a fresh order id that cannot
    /// exist: a `NotFound` answer proves the credentials, `InvalidCredentials` disproves them,
    /// any other answer is a `Protocol` error. Connectors whose `sync` answers an unknown order
    /// without calling the PSP, or that have no status query, override it.
    async fn test_credentials(&self, account: &AccountContext) -> Result<(), ConnectorError> {
        let order = probe_order(self.capabilities())?;
        let update = self.sync(account, &order).await?;
        match update.outcome {
            PspOutcome::NotFound => Ok(()),
            other => Err(ConnectorError::Protocol(format!(
                "the PSP answered {other:?} ({}) for an order that cannot exist",
                update.raw_status
            ))),
        }
    }

    /// Starts a pay-in and returns the hosted page. Errors as [`ConnectorError`].
    async fn start_payin(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError>;

    /// Submits a payout. Called at most once per transaction, after `submitting` is committed.
    async fn submit_payout(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError>;

    /// Asks the PSP where the order stands and, for multi-step flows, performs the next step
    /// the PSP's recorded stage calls for (never one the PSP already recorded). Returns
    /// [`PspOutcome::NotFound`] when the PSP never received the order.
    async fn sync(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError>;

    /// Checks a callback received at [`AccountContext::callback_url`].
    fn parse_callback(
        &self,
        account: &AccountContext,
        request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError>;

    /// True (the default) when a pay-in can only be paid by the customer on the page the
    /// create call returns, so an order whose create answer was lost cannot be paid and the
    /// pay-in may go to another account at once. False for a PSP that settles in the create
    /// call itself (a voucher redeemed synchronously): a lost answer may have moved money.
    fn payin_needs_customer(&self) -> bool {
        true
    }

    /// The acknowledgement of an accepted callback (`request` as given to
    /// [`Connector::parse_callback`]); plain `OK` unless the PSP's protocol asks for more.
    fn callback_ack(&self, request: &CallbackRequest) -> CallbackAck {
        let _ = request;
        CallbackAck::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_schedule_follows_phases_and_gives_up() {
        let s = PollSchedule::PAYNETEASY;
        let d = s.next_delay(0, 7).unwrap();
        assert!((3_000..=5_000).contains(&d));
        let d = s.next_delay(6 * 60_000, 12_345).unwrap();
        assert!((5 * 60_000..=10 * 60_000).contains(&d));
        assert_eq!(s.next_delay(59 * 60_000 + 59_000, 0), Some(1_000));
        assert_eq!(s.next_delay(60 * 60_000, 0), None);
    }

    #[test]
    fn backoff_doubles_from_the_fast_minimum_up_to_the_slow_maximum() {
        let s = PollSchedule {
            fast: (20_000, 40_000),
            fast_window: 15 * 60_000,
            slow: (5 * 60_000, 10 * 60_000),
            give_up_after: 2 * 60 * 60_000,
        };
        assert_eq!(s.next_delay_backoff(0, 0), Some(20_000));
        assert_eq!(s.next_delay_backoff(0, 1000), Some(30_000));
        assert_eq!(s.next_delay_backoff(100_000, 0), Some(100_000));
        assert_eq!(s.next_delay_backoff(100_000, 500), Some(125_000));
        assert_eq!(
            s.next_delay_backoff(3_600_000, 999),
            Some(600_000),
            "capped"
        );
        assert_eq!(
            s.next_delay_backoff(2 * 60 * 60_000 - 5_000, 0),
            Some(5_000)
        );
        assert_eq!(s.next_delay_backoff(2 * 60 * 60_000, 0), None);
        // Polls of one order over its life: a handful, not hundreds.
        let (mut t, mut polls) = (0u64, 0);
        while let Some(d) = s.next_delay_backoff(t, 500) {
            t += d;
            polls += 1;
        }
        assert!((15..=20).contains(&polls), "{polls} polls in 2 h");
        let (mut t, mut fixed) = (0u64, 0);
        while let Some(d) = s.next_delay(t, 500) {
            t += d;
            fixed += 1;
        }
        assert!(fixed > 2 * polls, "{fixed} fixed-schedule polls");
    }

    #[test]
    fn default_credential_check_needs_every_name_non_blank() {
        let caps = Capabilities {
            psp_type: "X",
            display_name: "X",
            payin: false,
            payout: true,
            currencies: &["EUR"],
            countries: &[],
            payin_fields: &[],
            payout_fields: &[],
            async_model: "",
            credential_fields: &["login", "secret"],
            poll_schedule: PollSchedule::PAYNETEASY,
            secret_fields: &[],
            final_by_callback: false,
        };
        let creds = |pairs: &[(&str, &str)]| {
            Credentials(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), SecretString::from(*v)))
                    .collect(),
            )
        };
        assert_eq!(
            require_credentials(&caps, &creds(&[("login", "a"), ("secret", "b")])),
            Ok(())
        );
        let blank = require_credentials(&caps, &creds(&[("login", "a"), ("secret", "  ")]));
        assert_eq!(blank.unwrap_err().field, "secret");
        let missing = require_credentials(&caps, &creds(&[("secret", "b")]));
        assert_eq!(missing.unwrap_err().field, "login");
        let probe = probe_order(&caps).unwrap();
        assert_eq!(
            probe.txn_type,
            TxnType::Payout,
            "a payout-only PSP is probed with a payout"
        );
        assert_ne!(
            probe.order_id,
            probe_order(&caps).unwrap().order_id,
            "fresh every time"
        );
    }

    #[test]
    fn secrets_keep_only_their_last_four_characters() {
        assert_eq!(mask_secret("1234567890123456"), "****3456");
        assert_eq!(mask_secret("12"), "****12");
        assert_eq!(mask_secret(""), "****");
    }

    #[test]
    fn error_classification() {
        assert_eq!(
            ConnectorError::Unavailable { status: 500 }.error_code(),
            "PSP_UNAVAILABLE"
        );
        assert!(!ConnectorError::Unavailable { status: 500 }.certainly_not_processed());
        assert!(ConnectorError::InvalidCredentials { status: 401 }.certainly_not_processed());
        assert!(!ConnectorError::Timeout.certainly_not_processed());
    }
}
