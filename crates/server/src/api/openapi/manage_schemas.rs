//! JSON shapes of the merchant's self-service endpoints (routing rules, company settings, PSP
//! accounts, lists, webhooks), the PSP table and the back-office API, as OpenAPI schemas. Like
//! [`super::schemas`], they describe what the handlers read and write; schematesis in CI keeps
//! them true.

use super::schemas::{DeliveryState, StatusUpper, TransactionStatus, TransactionView, TxnState};
use super::schemas::{TxnType, WebhookPayload};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One string, or a list of them (any of which matches).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// An amount range in major units of the request's currency: `min` inclusive, `max` exclusive.
#[derive(Serialize, ToSchema)]
pub struct AmountRange {
    #[schema(value_type = Option<f64>)]
    pub min: Option<String>,
    #[schema(value_type = Option<f64>)]
    pub max: Option<String>,
}

/// When a rule applies: every key given must match (any of a list's values).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleWhen {
    #[serde(rename = "type")]
    pub txn_type: Option<TxnType>,
    pub psp_type: Option<OneOrMany>,
    pub currency: Option<OneOrMany>,
    pub country: Option<OneOrMany>,
    pub brand_id: Option<OneOrMany>,
    pub amount: Option<AmountRange>,
    /// Exact matches on the Cashier body's `metadata`.
    pub metadata: Option<BTreeMap<String, String>>,
}

/// One account of a route; with weights, the first account is drawn by weight (a split).
#[derive(Serialize, ToSchema)]
pub struct RouteEntry {
    /// A PSP account id of this company.
    pub account: String,
    pub weight: Option<u32>,
}

/// Refuse the request (422 `ROUTING_BLOCKED`, nothing stored).
#[derive(Serialize, ToSchema)]
pub struct BlockAction {
    pub block: String,
}

/// Route the request to these accounts, then the fallback ones, in order.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteAction {
    pub route: Vec<RouteEntry>,
    pub fallback: Option<Vec<String>>,
    /// Payouts go to the approval queue whatever their amount.
    pub hold_for_approval: Option<bool>,
    /// At most this many attempts in all (default 3).
    pub max_attempts: Option<u32>,
    /// A payout may go to the next account once the PSP proved nothing was paid.
    pub cascade_payouts: Option<bool>,
}

/// What a matching rule does.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum RuleThen {
    Block(BlockAction),
    Route(RouteAction),
}

/// One rule; rules are evaluated top-down, the first match wins.
#[derive(Serialize, ToSchema)]
pub struct Rule {
    pub name: String,
    pub when: Option<RuleWhen>,
    pub then: RuleThen,
}

/// A whole rules document (at most 500 rules), validated as a whole.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"rules": [
    {"name": "no TRY", "when": {"currency": "TRY"}, "then": {"block": "not served"}},
    {"name": "EUR payouts split", "when": {"type": "PAYOUT", "currency": ["EUR"], "amount": {"min": 10, "max": 5000}},
     "then": {"route": [{"account": "psp_01jfxq7a0000000000000000aa", "weight": 70},
                        {"account": "psp_01jfxq7a0000000000000000bb", "weight": 30}],
              "fallback": ["psp_01jfxq7a0000000000000000cc"], "cascadePayouts": true}}]}))]
pub struct RulesDocument {
    pub rules: Vec<Rule>,
}

/// The version a stored document got.
#[derive(Serialize, ToSchema)]
pub struct RulesVersion {
    pub version: i64,
}

/// The active rules document (version 0 and no rules when none was stored).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveRules {
    pub version: i64,
    pub rules: Vec<Rule>,
    #[schema(format = DateTime)]
    pub created_at: Option<String>,
    pub created_by: Option<String>,
}

/// `"any"`, or a list of ISO 3166-1 alpha-2 codes.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Countries {
    Any(String),
    List(Vec<String>),
}

/// What one PSP connector can do.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PspCapabilities {
    #[schema(example = "PAYMENTSOFT")]
    pub psp_type: String,
    pub name: String,
    pub payin: bool,
    pub payout: bool,
    pub currencies: Vec<String>,
    pub countries: Countries,
    /// Cashier fields a pay-in needs beyond the common ones.
    pub payin_fields: Vec<String>,
    pub payout_fields: Vec<String>,
    /// How the final status arrives (`callback+poll`, `poll`, …).
    pub async_model: String,
    /// The credential names a PSP account of this type takes.
    pub credential_fields: Vec<String>,
}

/// The PSP table.
#[derive(Serialize, ToSchema)]
pub struct PspList {
    pub psps: Vec<PspCapabilities>,
}

/// Per-currency amounts in major units, as strings: `{"EUR": "5000.00"}`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"EUR": "5000.00"}))]
pub struct CurrencyAmounts(pub BTreeMap<String, String>);

/// The company's settings (no secret values).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompanyView {
    pub company_id: String,
    pub name: String,
    pub webhook_url: Option<String>,
    pub verify_user_url: Option<String>,
    /// Whether a webhook `Authorization` value is set (it is write-only).
    pub webhook_authorization_set: bool,
    pub verify_payins: bool,
    /// Payouts at or above these amounts wait for an operator.
    pub payout_approval_thresholds: CurrencyAmounts,
    /// For currencies without their own threshold (major units).
    pub default_payout_approval_threshold: Option<String>,
    /// Payouts at or above these amounts need two different approvers.
    pub four_eyes_thresholds: CurrencyAmounts,
    pub default_four_eyes_threshold: Option<String>,
    /// Until when the previous API secret still verifies tokens (during a rotation).
    #[schema(format = DateTime)]
    pub previous_api_secret_valid_until: Option<String>,
    /// Until when webhooks also carry the previous webhook secret's signature.
    #[schema(format = DateTime)]
    pub previous_webhook_secret_signs_until: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A settings change: only the keys given change; `null` clears an optional one.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"webhookUrl": "https://merchant.example/overture/webhook",
    "payoutApprovalThresholds": {"EUR": "5000.00"}, "fourEyesThresholds": {"EUR": "20000.00"}}))]
pub struct CompanyPatch {
    pub name: Option<String>,
    #[schema(format = "uri")]
    pub webhook_url: Option<String>,
    #[schema(format = "uri")]
    pub verify_user_url: Option<String>,
    /// Sent as `Authorization` with every webhook; write-only (`null` clears it).
    pub webhook_authorization: Option<String>,
    pub verify_payins: Option<bool>,
    /// ISO code → major units as a string (`null` removes that currency's own threshold).
    pub payout_approval_thresholds: Option<BTreeMap<String, Option<String>>>,
    pub four_eyes_thresholds: Option<BTreeMap<String, Option<String>>>,
    pub default_payout_approval_threshold: Option<String>,
    pub default_four_eyes_threshold: Option<String>,
}

/// A new API secret, shown once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotatedApiSecret {
    pub api_secret: String,
    /// The old secret keeps verifying company JWTs and user tokens until then.
    #[schema(format = DateTime)]
    pub previous_valid_until: String,
}

/// A new webhook secret (`whsec_…`), shown once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotatedWebhookSecret {
    pub webhook_secret: String,
    /// Webhooks carry both signatures until then.
    #[schema(format = DateTime)]
    pub previous_valid_until: String,
}

/// A PSP account (credential values are never returned).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PspAccountView {
    pub account_id: String,
    pub psp_type: String,
    pub base_url: String,
    pub enabled: bool,
    /// Higher first when no rule orders the accounts.
    pub priority: i32,
    pub min_amount: CurrencyAmounts,
    pub max_amount: CurrencyAmounts,
    /// Per currency, over the UTC day, counting attempts the PSP accepted.
    pub daily_amount_cap: CurrencyAmounts,
    pub daily_count_cap: Option<i64>,
    pub credential_names: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// The company's PSP accounts (deleted ones hidden).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PspAccountList {
    pub psp_accounts: Vec<PspAccountView>,
}

/// A new PSP account. The credentials are checked for this PSP (names, formats) before
/// anything is stored.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"pspType": "FORUMPAY", "baseUrl": "https://sandbox.api.forumpay.com",
    "credentials": {"pos_id": "shop-1", "api_user": "user", "api_token": "…"},
    "priority": 10, "maxAmount": {"EUR": "5000.00"}, "dailyCountCap": 500}))]
pub struct NewPspAccount {
    pub psp_type: String,
    #[schema(format = "uri")]
    pub base_url: String,
    /// Credential name → value (see `credentialFields` in `GET /v1/api/psps`).
    pub credentials: BTreeMap<String, String>,
    pub enabled: Option<bool>,
    pub priority: Option<i32>,
    pub min_amount: Option<CurrencyAmounts>,
    pub max_amount: Option<CurrencyAmounts>,
    pub daily_amount_cap: Option<CurrencyAmounts>,
    pub daily_count_cap: Option<i64>,
}

/// A PSP account change: only the keys given change.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"enabled": false, "dailyCountCap": null}))]
pub struct PspAccountPatch {
    #[schema(format = "uri")]
    pub base_url: Option<String>,
    /// Per name: a string replaces it, `null` removes an optional one; names not given stay.
    pub credentials: Option<BTreeMap<String, Option<String>>>,
    pub enabled: Option<bool>,
    pub priority: Option<i32>,
    /// ISO code → major units as a string, or `null` to clear that currency's.
    pub min_amount: Option<BTreeMap<String, Option<String>>>,
    pub max_amount: Option<BTreeMap<String, Option<String>>>,
    pub daily_amount_cap: Option<BTreeMap<String, Option<String>>>,
    pub daily_count_cap: Option<i64>,
}

/// A deleted account (disabled and hidden; its history is kept).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedAccount {
    pub account_id: String,
    pub deleted: bool,
}

/// The outcome of the PSP's cheapest authenticated call with the account's credentials.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsTest {
    pub ok: bool,
    /// `INVALID_PSP_CREDENTIALS`, `PSP_UNAVAILABLE`, `PSP_TIMEOUT`, `PSP_RATE_LIMITED`,
    /// `UNKNOWN_PSP_ERROR` or `CREDENTIALS_TEST_UNSUPPORTED`.
    pub error_code: Option<String>,
    pub message: Option<String>,
    /// Milliseconds.
    pub latency_ms: i64,
}

/// One transaction in the reconciliation list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionSummary {
    pub transaction_id: String,
    pub session_id: Option<String>,
    #[serde(rename = "type")]
    pub txn_type: TxnType,
    pub psp_type: String,
    pub psp_account_id: Option<String>,
    pub state: TxnState,
    pub status: StatusUpper,
    pub transaction_status: TransactionStatus,
    pub amount: String,
    pub currency: String,
    pub user_id: String,
    pub brand_id: Option<String>,
    pub merchant_reference: Option<String>,
    pub psp_transaction_id: Option<String>,
    pub psp_status: Option<String>,
    pub message: Option<String>,
    /// How many attempts were started.
    pub attempts: i64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// A page of transactions; `nextCursor` is `null` on the last page.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionPage {
    pub items: Vec<TransactionSummary>,
    pub next_cursor: Option<String>,
}

/// One delivery attempt of a webhook.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    pub attempt: i64,
    #[schema(format = DateTime)]
    pub at: String,
    pub http_status: Option<i64>,
    pub latency_ms: Option<i64>,
    pub response_excerpt: Option<String>,
}

/// A webhook delivery with its attempts.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeliveryView {
    pub webhook_id: String,
    pub transaction_id: String,
    pub state: DeliveryState,
    pub attempts: i64,
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    pub last_http_status: Option<i64>,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub delivered_at: Option<String>,
    pub payload: Option<WebhookPayload>,
    /// In the list only.
    pub attempt_log: Option<Vec<DeliveryAttempt>>,
}

/// A page of webhook deliveries, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPage {
    pub items: Vec<WebhookDeliveryView>,
    pub next_cursor: Option<String>,
}

/// The outcome of one signed test event (stored nowhere).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTest {
    pub webhook_id: String,
    /// The receiver answered 2xx.
    pub ok: bool,
    pub http_status: Option<i64>,
    pub latency_ms: i64,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
}

/// An operator's reason for a decision (required to reject; at most 1000 characters).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"reason": "KYC documents checked"}))]
pub struct DecisionRequest {
    pub reason: Option<String>,
}

/// Four-eyes progress of a held payout.
#[derive(Serialize, ToSchema)]
pub struct Approvals {
    pub given: i64,
    pub required: i64,
}

/// A PSP error at submission after an approval (the payout is stored; its status follows).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmitError {
    pub error_code: String,
    pub message: String,
}

/// A transaction after an operator's decision.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecidedTransaction {
    #[serde(flatten)]
    pub transaction: TransactionView,
    /// 202 only: the first of two approvals was recorded.
    pub approvals: Option<Approvals>,
    pub psp_error: Option<SubmitError>,
}

/// Transactions for operators.
#[derive(Serialize, ToSchema)]
pub struct OperatorTransactions {
    pub items: Vec<TransactionView>,
}
