//! Domain records (docs/ARCHITECTURE.md): companies, PSP accounts, transactions, their events,
//! webhook deliveries and operators. Times are milliseconds since the Unix epoch (`*_at` fields).

use crate::ids::*;
use crate::money::Money;
use crate::routing::{AccountLimits, RoutingPlan};
use crate::state::TxnState;
use crate::trace::TraceId;
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Pay-in (money from the user to the merchant) or payout (merchant to user).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TxnType {
    #[serde(rename = "PAYIN")]
    Payin,
    #[serde(rename = "PAYOUT")]
    Payout,
}

impl TxnType {
    /// `"PAYIN"` or `"PAYOUT"`, as in the Cashier API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payin => "PAYIN",
            Self::Payout => "PAYOUT",
        }
    }

    /// Parses the Cashier API spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "PAYIN" => Some(Self::Payin),
            "PAYOUT" => Some(Self::Payout),
            _ => None,
        }
    }
}

/// A PSP family's name as used in `pspType` (`"PAYMENTSOFT"`, `"FORUMPAY"`). Only the
/// connector registry knows which names exist.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PspType(pub String);

impl PspType {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PspType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A merchant platform.
#[derive(Clone, Debug)]
pub struct Company {
    pub id: CompanyId,
    pub name: String,
    /// HS256 key of the company JWT and of `x-user-token`.
    pub api_secret: SecretString,
    pub webhook_url: String,
    /// Standard Webhooks secret, `whsec_<base64 key>`.
    pub webhook_secret: SecretString,
    /// Sent verbatim as `Authorization` on webhooks when set (Mozarto's `isWebhookSecured`).
    pub webhook_authorization: Option<SecretString>,
    pub verify_user_url: String,
    /// Payouts with `baseamount` at or above this (major units, any currency) wait for an operator.
    pub payout_approval_threshold: Option<Decimal>,
    /// Also verify the user with the MP before pay-ins.
    pub verify_payins: bool,
    pub created_at: i64,
    /// Per-currency payout approval and four-eyes thresholds, over the single fallbacks.
    pub thresholds: CurrencyThresholds,
    /// Secrets replaced by a rotation, still accepted (API) or still signing (webhook) until
    /// their deadline.
    pub retired: RetiredSecrets,
}

impl Company {
    /// The payout approval threshold of `currency` (ISO code, major units): its own, else the
    /// fallback [`Company::payout_approval_threshold`].
    pub fn payout_threshold(&self, currency: &str) -> Option<Decimal> {
        self.thresholds
            .payout_approval
            .get(currency)
            .copied()
            .or(self.payout_approval_threshold)
    }
}

/// Thresholds per currency (ISO 4217 code → major units, exact). A currency without its own
/// uses the company's single fallback threshold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrencyThresholds {
    /// Payouts at or above this wait for an operator.
    #[serde(default)]
    pub payout_approval: BTreeMap<String, Decimal>,
    /// Held payouts at or above this need two different operators' approvals.
    #[serde(default)]
    pub four_eyes: BTreeMap<String, Decimal>,
}

impl CurrencyThresholds {
    pub fn is_empty(&self) -> bool {
        self.payout_approval.is_empty() && self.four_eyes.is_empty()
    }
}

/// A secret replaced by a rotation, kept until `until` (ms since the epoch).
#[derive(Clone, Debug)]
pub struct RetiredSecret {
    pub secret: SecretString,
    pub until: i64,
}

impl RetiredSecret {
    /// The secret while it is still within its grace period at `now` (ms).
    pub fn live_at(&self, now: i64) -> Option<&SecretString> {
        (now < self.until).then_some(&self.secret)
    }
}

/// The company's retired API and webhook secrets (`None`: no rotation, or never rotated).
#[derive(Clone, Debug, Default)]
pub struct RetiredSecrets {
    pub api: Option<RetiredSecret>,
    pub webhook: Option<RetiredSecret>,
}

/// Which company secret a rotation replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// The HS256 key of company JWTs and `x-user-token`.
    Api,
    /// The `whsec_…` key signing webhooks and verify-user calls.
    Webhook,
}

/// Named PSP credentials (`login`, `merchant_control`, …); values are secret.
#[derive(Clone, Debug, Default)]
pub struct Credentials(pub BTreeMap<String, SecretString>);

/// One company's account at one PSP.
#[derive(Clone, Debug)]
pub struct PspAccount {
    pub id: PspAccountId,
    pub company_id: CompanyId,
    pub psp_type: PspType,
    /// The PSP's API base URL (live, or a sandbox such as `http://127.0.0.1:8080/sandbox/paymentsoft`).
    pub base_url: String,
    pub credentials: Credentials,
    pub enabled: bool,
    /// Higher goes first when several accounts could serve a transaction.
    pub priority: i32,
    /// Amount limits and daily caps routing checks (empty: none).
    pub limits: AccountLimits,
    pub created_at: i64,
    /// When the merchant deleted it: disabled, hidden from lists and routing, kept for the
    /// transactions that reference it.
    pub deleted_at: Option<i64>,
}

/// Who caused a state change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The merchant, through the Cashier API.
    Merchant,
    /// Overture itself (poller, recovery, timeouts).
    System,
    /// The PSP (response, callback or status query).
    Psp,
    /// A back-office operator.
    Operator(OperatorId),
}

impl Actor {
    /// Stored form: `merchant`, `system`, `psp`, `operator:<id>`.
    pub fn to_db(&self) -> String {
        match self {
            Self::Merchant => "merchant".into(),
            Self::System => "system".into(),
            Self::Psp => "psp".into(),
            Self::Operator(id) => format!("operator:{id}"),
        }
    }

    /// Parses the stored form; unknown text reads as `System`.
    pub fn from_db(s: &str) -> Self {
        match s {
            "merchant" => Self::Merchant,
            "psp" => Self::Psp,
            _ => match s.strip_prefix("operator:") {
                Some(id) => Self::Operator(OperatorId::from_trusted(id)),
                None => Self::System,
            },
        }
    }
}

/// A pay-in or payout.
#[derive(Clone, Debug)]
pub struct Transaction {
    pub id: TransactionId,
    pub company_id: CompanyId,
    pub brand_id: Option<String>,
    pub txn_type: TxnType,
    /// The PSP and account of the live (or last) attempt; for a held payout, the ones routing
    /// chose at creation.
    pub psp_type: PspType,
    pub psp_account_id: PspAccountId,
    /// The live (or last) attempt; `None` before the first is started (a held payout).
    pub attempt_id: Option<AttemptId>,
    /// Its number (1, 2, …); 0 before the first.
    pub attempt_seq: u32,
    /// The order id that attempt sent the PSP.
    pub order_id: Option<OrderId>,
    /// What routing decided: the candidates, in order, and the cascade settings.
    pub routing: Option<RoutingPlan>,
    /// The Cashier body's `metadata` (routing rules match on it; never sent to a PSP).
    pub metadata: BTreeMap<String, String>,
    pub amount: Money,
    pub user_id: String,
    pub email: String,
    pub country: Option<String>,
    /// PSP-specific and user-profile fields (`walletAddress`, `preferredCrypto`, `phone`, …).
    pub extras: BTreeMap<String, String>,
    pub state: TxnState,
    /// The PSP's own last status word (`approved`, `processing`, `Confirmed`, …).
    pub psp_status: Option<String>,
    pub psp_transaction_id: Option<String>,
    /// Connector-owned progress marker for multi-step flows (e.g. PaynetEasy `order-stage`).
    pub psp_stage: Option<String>,
    pub message: Option<String>,
    pub session_id: Option<SessionId>,
    /// Hosted page (pay-in) or receiver form (`redirect-to`, payout).
    pub redirect_url: Option<String>,
    pub return_url: Option<String>,
    pub merchant_reference: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the transaction entered `submitting` (poll schedules count from here).
    pub submitted_at: Option<i64>,
    /// Optimistic-lock version, bumped by every update.
    pub version: i64,
    /// When the poller should next ask the PSP; `None` when nothing is to be polled.
    pub next_poll_at: Option<i64>,
    pub poll_attempts: i32,
    /// The W3C trace id of the request that created it: the PSP calls, status polls and
    /// webhook made for it later carry it in their `traceparent`.
    pub trace_id: Option<TraceId>,
}

impl Transaction {
    /// The PSP order id of the live attempt (the transaction id for a first attempt).
    pub fn psp_order_id(&self) -> OrderId {
        self.order_id
            .clone()
            .unwrap_or_else(|| OrderId::for_attempt(&self.id, self.attempt_seq.max(1)))
    }
}

/// One entry of a transaction's append-only history.
#[derive(Clone, Debug)]
pub struct TransactionEvent {
    pub transaction_id: TransactionId,
    pub from_state: Option<TxnState>,
    pub to_state: TxnState,
    pub actor: Actor,
    pub reason: Option<String>,
    pub psp_status: Option<String>,
    pub at: i64,
}

/// Delivery state of a webhook event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

/// An outbox row: one webhook event for one final state, retried until delivered or dead.
#[derive(Clone, Debug)]
pub struct WebhookDelivery {
    /// The `webhook-id`, identical on every attempt.
    pub id: WebhookId,
    pub company_id: CompanyId,
    pub transaction_id: TransactionId,
    /// The exact JSON body sent (README).
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_http_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    /// Its transaction's trace id (copied when the row is written), sent in `traceparent`.
    pub trace_id: Option<TraceId>,
}

/// One HTTP attempt of a webhook delivery.
#[derive(Clone, Debug)]
pub struct WebhookAttempt {
    pub webhook_id: WebhookId,
    pub attempt: i32,
    pub at: i64,
    pub http_status: Option<i32>,
    pub latency_ms: i64,
    /// First 512 bytes of the response body, or the transport error.
    pub response_excerpt: String,
}

/// Back-office role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Approver,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Approver => "approver",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "approver" => Some(Self::Approver),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Approvers and admins may approve or reject payouts.
    pub fn can_decide_payouts(self) -> bool {
        match self {
            Self::Viewer => false,
            Self::Approver | Self::Admin => true,
        }
    }
}

/// A back-office operator. The bearer token itself is never stored, only its SHA-256.
#[derive(Clone, Debug)]
pub struct Operator {
    pub id: OperatorId,
    pub email: String,
    pub role: Role,
    pub token_sha256: String,
    pub created_at: i64,
    /// When an administrator disabled the operator: no login, no token, no session.
    pub disabled_at: Option<i64>,
}

/// A stored Cashier API response for an `Idempotency-Key`.
#[derive(Clone, Debug)]
pub struct IdempotencyRecord {
    pub company_id: CompanyId,
    pub key: String,
    /// SHA-256 (hex) of the canonical JSON request body.
    pub request_sha256: String,
    pub transaction_id: TransactionId,
    /// HTTP status and body of the first response, once known.
    pub response: Option<(u16, String)>,
    pub created_at: i64,
}
