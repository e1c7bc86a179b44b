//! JSON shapes of the Cashier API, the status view and the webhook, as OpenAPI schemas.
//!
//! The handlers parse bodies strictly by hand (amounts from the JSON text, duplicate keys
//! refused) and build their answers as JSON, so these types describe those shapes rather than
//! being (de)serialised themselves. What keeps them true is CI: schemathesis calls every
//! operation of the served document against a live server and fails on any answer that does
//! not match its schema.

use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Always `"success"` in a success envelope.
#[derive(Serialize, ToSchema)]
pub enum SuccessStatus {
    #[serde(rename = "success")]
    Success,
}

/// Always `"error"` in an error envelope.
#[derive(Serialize, ToSchema)]
pub enum ErrorStatus {
    #[serde(rename = "error")]
    Error,
}

/// The success envelope every `/v1` endpoint answers with.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub status: SuccessStatus,
    /// Always `"Successfully"`.
    #[schema(example = "Successfully")]
    pub message: String,
    /// Always `true`.
    pub is_success: bool,
    pub data: T,
}

/// One problem with one request field.
#[derive(Serialize, ToSchema)]
pub struct FieldError {
    /// The field's path: `baseamount`, `metadata.team`, `rules[1].then.route[0].account`, or a
    /// PSP account id for `NO_ELIGIBLE_ACCOUNT`.
    #[schema(example = "baseamount")]
    pub field: String,
    #[schema(example = "must be a JSON number, e.g. 100.00")]
    pub message: String,
}

/// The error envelope every `/v1` failure answers with (5xx bodies are generic).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"status": "error", "isSuccess": false, "message": "Validation failed",
    "errorCode": "VALIDATION_ERROR", "errors": [{"field": "baseamount", "message": "must be a JSON number, e.g. 100.00"}]}))]
pub struct ErrorEnvelope {
    pub status: ErrorStatus,
    /// Always `false`.
    pub is_success: bool,
    pub message: String,
    /// A stable code: see the table in this document's description.
    #[schema(value_type = ErrorCodeName)]
    pub error_code: String,
    /// Field problems (empty when the error is not about fields).
    pub errors: Vec<FieldError>,
    /// The stored transaction a PSP error concerns: its final status comes by webhook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

/// Placeholder replaced by the string enum of every error code when the document is built.
#[derive(Serialize, ToSchema)]
pub struct ErrorCodeName(pub String);

/// `PAYIN` (the customer pays the merchant) or `PAYOUT` (the merchant pays the customer).
#[derive(Serialize, ToSchema)]
pub enum TxnType {
    #[serde(rename = "PAYIN")]
    Payin,
    #[serde(rename = "PAYOUT")]
    Payout,
}

/// The Cashier's status spelling.
#[derive(Serialize, ToSchema)]
pub enum StatusUpper {
    #[serde(rename = "PENDING")]
    Pending,
    #[serde(rename = "APPROVED")]
    Approved,
    #[serde(rename = "DECLINED")]
    Declined,
    #[serde(rename = "FAILED")]
    Failed,
    #[serde(rename = "REJECTED")]
    Rejected,
}

/// The normalised outcome, the same for every PSP (webhooks carry the four final ones).
#[derive(Serialize, ToSchema)]
pub enum TransactionStatus {
    Pending,
    Approved,
    Declined,
    Failed,
    Rejected,
}

/// Overture's internal state of a transaction.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TxnState {
    Created,
    AwaitingApproval,
    Submitting,
    Pending,
    Retrying,
    Approved,
    Declined,
    Failed,
    Rejected,
}

/// The Cashier request: one pay-in or payout. Fields beyond these are PSP-specific (see
/// `GET /v1/api/psps` for each PSP's required ones) and are passed to the connector as text;
/// card data (a card-number-like value, or fields such as `cardNumber`/`cvv`) is refused.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"pspType": "PAYMENTSOFT", "type": "PAYOUT", "baseamount": 100.00,
    "currency": "EUR", "userId": "player-1", "email": "player-1@example.com",
    "merchantReference": "order-42"}))]
pub struct CashierRequest {
    /// The PSP (`PAYMENTSOFT`, `CARDZO`, …). Optional when a routing rule routes the request.
    pub psp_type: Option<String>,
    #[serde(rename = "type")]
    pub txn_type: TxnType,
    /// The amount in **major units** of `currency`, as a JSON number (not a string), positive,
    /// with no more decimals than the currency has (`100.00` EUR, `500` JPY).
    #[schema(value_type = f64, example = 100.00)]
    pub baseamount: String,
    /// ISO 4217 code.
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// The merchant's user id (a string or an integer, at most 128 characters).
    #[schema(example = "player-1")]
    pub user_id: String,
    #[schema(example = "player-1@example.com")]
    pub email: String,
    /// ISO 3166-1 alpha-2, upper case.
    #[schema(example = "DE", pattern = "^[A-Z]{2}$")]
    pub country: Option<String>,
    /// At most 128 characters.
    pub brand_id: Option<String>,
    /// The merchant's own reference, echoed in the webhook (at most 256 characters).
    pub merchant_reference: Option<String>,
    /// Where the PSP's hosted page sends the customer back (absolute http(s) URL).
    #[schema(format = "uri")]
    pub return_url: Option<String>,
    /// Accepted for Mozarto compatibility; sandbox use is chosen by the PSP account.
    pub is_test_mode: Option<bool>,
    /// String values routing rules can match on (at most 20; keys 1–64 bytes, values at most
    /// 256); never sent to a PSP.
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `data` of a successful Cashier answer: a pay-in has `sessionId` and, once the PSP gave its
/// hosted page, `url` (send the customer there); a payout has `status` and `transactionId`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"status": "PENDING", "transactionId": "txn_01jfxq6d3ab5c0e5n2x7v8w9yz"}))]
pub struct CashierCreated {
    pub status: StatusUpper,
    #[schema(example = "txn_01jfxq6d3ab5c0e5n2x7v8w9yz")]
    pub transaction_id: String,
    /// Pay-ins only.
    pub session_id: Option<String>,
    /// Pay-ins only: the PSP's hosted payment page.
    #[schema(format = "uri")]
    pub url: Option<String>,
}

/// One state change.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub from: Option<TxnState>,
    pub to: TxnState,
    /// `merchant`, `system`, `psp` or `operator:<id>`.
    pub actor: String,
    pub reason: Option<String>,
    pub psp_status: Option<String>,
    /// RFC 3339 UTC with milliseconds.
    #[schema(format = DateTime)]
    pub at: String,
}

/// The routing plan the transaction was created with.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoutingPlanView {
    /// The matched rule; `null` for the default (the requested PSP's accounts by priority).
    pub rule: Option<String>,
    pub version: Option<i64>,
    /// PSP account ids in the order they are tried.
    pub candidates: Vec<String>,
    pub max_attempts: u32,
    pub cascade_payouts: bool,
    pub hold_for_approval: bool,
}

/// The class of an attempt's failure.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    HardDecline,
    SoftDecline,
    NotProcessed,
    Technical,
    Unknown,
}

/// An attempt's state.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    Submitting,
    Pending,
    Approved,
    Declined,
    Failed,
}

/// One attempt: one order at one PSP account.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt_id: String,
    /// 1 for the first attempt.
    pub seq: i64,
    pub psp_type: String,
    pub psp_account_id: String,
    /// The order id sent to the PSP (`<transactionId>` for the first attempt,
    /// `<transactionId>_a<n>` after).
    pub order_id: String,
    pub state: AttemptState,
    /// The attempt the transaction is waiting on.
    pub live: bool,
    pub psp_status: Option<String>,
    pub psp_transaction_id: Option<String>,
    pub error_class: Option<FailureClass>,
    pub error_message: Option<String>,
    /// The routing decision that chose this account.
    pub decision: Option<RoutingDecision>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub accepted_at: Option<String>,
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
}

/// A webhook delivery of the transaction's final state.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionWebhook {
    pub webhook_id: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub last_http_status: Option<i64>,
    #[schema(format = DateTime)]
    pub delivered_at: Option<String>,
}

/// A webhook delivery's state.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

/// A transaction with its history, routing plan, attempts and webhook deliveries.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView {
    pub transaction_id: String,
    pub session_id: Option<String>,
    #[serde(rename = "type")]
    pub txn_type: TxnType,
    pub psp_type: String,
    pub status: StatusUpper,
    pub transaction_status: TransactionStatus,
    pub state: TxnState,
    /// Major units with the currency's decimals: `"100.00"`.
    #[schema(example = "100.00")]
    pub amount: String,
    pub currency: String,
    pub user_id: String,
    pub brand_id: Option<String>,
    pub merchant_reference: Option<String>,
    pub psp_transaction_id: Option<String>,
    pub psp_status: Option<String>,
    pub message: Option<String>,
    /// Pay-ins: the PSP's hosted page.
    pub url: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub history: Vec<HistoryEntry>,
    pub routing: Option<RoutingPlanView>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub attempts: Vec<AttemptView>,
    pub webhooks: Vec<TransactionWebhook>,
}

/// `"route"` or `"block"`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DecisionAction {
    Route,
    Block,
}

/// One candidate account and whether it could take the request.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub account: String,
    pub psp_type: String,
    pub eligible: bool,
    /// Why not (disabled, limit, daily cap, open circuit, …).
    pub reason: Option<String>,
}

/// A routing decision, explained.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"rule": "big EUR payouts", "version": 3, "action": "route",
    "holdForApproval": false, "candidates": [
        {"account": "psp_01jfxq7a0000000000000000aa", "pspType": "PAYMENTSOFT", "eligible": false, "reason": "daily count cap 500 reached"},
        {"account": "psp_01jfxq7a0000000000000000bb", "pspType": "CARDZO", "eligible": true}],
    "chosen": "psp_01jfxq7a0000000000000000bb"}))]
pub struct RoutingDecision {
    /// The matched rule; `null` when none matched (the default routing).
    pub rule: Option<String>,
    pub version: Option<i64>,
    pub action: DecisionAction,
    /// The block rule's reason.
    pub block_reason: Option<String>,
    pub hold_for_approval: bool,
    pub candidates: Vec<Candidate>,
    pub chosen: Option<String>,
}

/// The webhook body Overture POSTs to the company's webhook URL, once per final state (at
/// least once: de-duplicate by the `webhook-id` header).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"amount": "100.00", "currency": "EUR", "merchantReference": null, "message": null,
    "pspType": "PAYMENTSOFT", "psp_transaction_id": "1000001", "status": "approved",
    "transaction_id": "txn_01jfxq6d3ab5c0e5n2x7v8w9yz", "transaction_status": "Approved",
    "type": "PAYOUT", "user_id": "player-1"}))]
pub struct WebhookPayload {
    pub transaction_id: String,
    /// The PSP's id of the final attempt's order, when it gave one.
    pub psp_transaction_id: Option<String>,
    pub user_id: String,
    /// The PSP's own raw word for the final status (for records; do not branch on it).
    pub status: String,
    /// The normalised outcome: branch on this one.
    pub transaction_status: TransactionStatus,
    pub message: Option<String>,
    /// Major units with the currency's decimals.
    pub amount: String,
    pub currency: String,
    #[serde(rename = "merchantReference")]
    pub merchant_reference: Option<String>,
    #[serde(rename = "type")]
    pub txn_type: TxnType,
    #[serde(rename = "pspType")]
    pub psp_type: String,
}
