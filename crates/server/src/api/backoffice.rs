//! Back-office JSON API: `POST /v1/api/backoffice/transactions/{id}/approve|reject` with an
//! operator bearer token (role approver or admin) and `{"reason"}` (required to reject), and
//! `GET /v1/api/backoffice/transactions?state=awaiting_approval` for any operator. Under the
//! company's four-eyes rule a first approval answers 202 with `data.approvals` `{given,
//! required}` and the payout keeps waiting for a different operator. The deciding approval asks
//! the MP again: denied ⇒ 403 `USER_NOT_VERIFIED` (the payout is rejected by the system with
//! the MP's reason), MP unreachable ⇒ 502/504 `USER_VERIFICATION_UNAVAILABLE` (nothing
//! changes; try again). Every decision is audited in its own DB transaction.

use crate::api::auth::OperatorAuth;
use crate::api::cashier::json_body;
use crate::api::error::{success, ApiError};
use crate::api::openapi::manage_schemas::{
    DecidedTransaction, DecisionRequest, OperatorTransactions,
};
use crate::api::openapi::schemas::{Envelope, ErrorEnvelope, TxnState as TxnStateDoc};
use crate::api::strict_json;
use crate::app::App;
use crate::input::{forbidden_char_multiline, forbidden_message};
use crate::service::approval::{self, Approved};
use crate::service::audit::Channel;
use crate::service::views;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use overture_core::store::TxnFilter;
use overture_core::*;
use serde::Deserialize;

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/api/backoffice/transactions", get(list))
        .route(
            "/v1/api/backoffice/transactions/{id}/approve",
            post(approve),
        )
        .route("/v1/api/backoffice/transactions/{id}/reject", post(reject))
}

#[derive(Deserialize)]
struct DecisionIn {
    #[serde(default)]
    reason: Option<String>,
}

async fn decision(
    headers: &HeaderMap,
    body: Body,
    operator: &Operator,
    id: &str,
) -> Result<(TransactionId, Option<String>), ApiError> {
    if !operator.role.can_decide_payouts() {
        return Err(ApiError::Forbidden(format!(
            "role {} cannot approve or reject payouts",
            operator.role.as_str()
        )));
    }
    let id = TransactionId::parse(id).ok_or(ApiError::NotFound)?;
    let bytes = json_body(headers, body).await?;
    strict_json::parse_object(&bytes)?;
    let input: DecisionIn = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::field("reason", format!("must be a string: {e}")))?;
    let reason = input
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.len() > 1000) {
        return Err(ApiError::field("reason", "at most 1000 characters"));
    }
    if let Some(c) = reason.as_deref().and_then(forbidden_char_multiline) {
        return Err(ApiError::field("reason", forbidden_message(c)));
    }
    Ok((id, reason))
}

async fn view(app: &App, txn: &Transaction) -> Result<serde_json::Value, ApiError> {
    let events = app.store.events(&txn.id).await?;
    let attempts = app.store.attempts(&txn.id).await?;
    let webhooks = app.store.webhooks_for_transaction(&txn.id).await?;
    Ok(views::transaction_view(txn, &events, &attempts, &webhooks))
}

/// Approves a held payout (role approver or admin). The deciding approval asks the merchant
/// platform again before the payout goes to the PSP.
#[utoipa::path(post, path = "/v1/api/backoffice/transactions/{id}/approve", tag = "Back office", operation_id = "approvePayout",
    security(("operatorToken" = [])),
    params(("id" = String, Path, description = "A transaction id (`txn_…`)")),
    request_body(content = DecisionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Approved and submitted", body = Envelope<DecidedTransaction>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {"transactionId": "txn_01jfxq6d3ab5c0e5n2x7v8w9yz", "type": "PAYOUT", "pspType": "PAYMENTSOFT", "status": "PENDING", "transactionStatus": "Pending", "state": "submitting", "amount": "6000.00", "currency": "EUR", "userId": "player-1", "createdAt": "2026-12-03T10:00:00.000Z", "updatedAt": "2026-12-03T10:05:00.000Z", "history": [], "attempts": [], "webhooks": []}})),
        (status = 202, description = "Four-eyes: the first approval is recorded; a different operator must approve", body = Envelope<DecidedTransaction>),
        (status = 403, description = "`FORBIDDEN` (role) or `USER_NOT_VERIFIED` (the merchant platform denied the user: the payout was rejected)", body = ErrorEnvelope),
        (status = 409, description = "`INVALID_STATE`: not held, or this operator already approved", body = ErrorEnvelope),
        (status = 502, description = "`USER_VERIFICATION_UNAVAILABLE`: nothing changed; approve again", body = ErrorEnvelope),
        (status = 504, description = "`USER_VERIFICATION_UNAVAILABLE` (timeout): nothing changed", body = ErrorEnvelope),
    ))]
pub(crate) async fn approve(
    State(app): State<App>,
    OperatorAuth(operator): OperatorAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let (id, reason) = decision(&headers, body, &operator, &id).await?;
    match approval::approve(&app, &operator, &id, reason, Channel::Api).await? {
        Approved::Submitted { txn, psp_error } => {
            let mut data = view(&app, &txn).await?;
            if let Some(e) = psp_error {
                data["pspError"] =
                    serde_json::json!({ "errorCode": e.error_code(), "message": e.to_string() });
            }
            Ok((StatusCode::OK, Json(success(data))))
        }
        // Four-eyes: recorded, still held; 202 tells the caller a second approver is needed.
        Approved::NeedsSecond {
            txn,
            given,
            required,
        } => {
            let mut data = view(&app, &txn).await?;
            data["approvals"] = serde_json::json!({ "given": given, "required": required });
            Ok((StatusCode::ACCEPTED, Json(success(data))))
        }
    }
}

/// Rejects a held payout (role approver or admin); a reason is required.
#[utoipa::path(post, path = "/v1/api/backoffice/transactions/{id}/reject", tag = "Back office", operation_id = "rejectPayout",
    security(("operatorToken" = [])),
    params(("id" = String, Path, description = "A transaction id (`txn_…`)")),
    request_body(content = DecisionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Rejected (the `Rejected` webhook follows)", body = Envelope<DecidedTransaction>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {"transactionId": "txn_01jfxq6d3ab5c0e5n2x7v8w9yz", "type": "PAYOUT", "pspType": "PAYMENTSOFT", "status": "PENDING", "transactionStatus": "Pending", "state": "submitting", "amount": "6000.00", "currency": "EUR", "userId": "player-1", "createdAt": "2026-12-03T10:00:00.000Z", "updatedAt": "2026-12-03T10:05:00.000Z", "history": [], "attempts": [], "webhooks": []}})),
        (status = 403, description = "`FORBIDDEN`: this role cannot decide payouts", body = ErrorEnvelope),
        (status = 409, description = "`INVALID_STATE`: not held", body = ErrorEnvelope),
    ))]
pub(crate) async fn reject(
    State(app): State<App>,
    OperatorAuth(operator): OperatorAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (id, reason) = decision(&headers, body, &operator, &id).await?;
    let reason = reason
        .ok_or_else(|| ApiError::field("reason", "a reason is required to reject a payout"))?;
    let txn = approval::reject(&app, &operator, &id, reason, Channel::Api).await?;
    Ok(Json(success(view(&app, &txn).await?)))
}

#[derive(Deserialize)]
pub(crate) struct ListIn {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    company: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

/// Transactions for operators, e.g. the approval queue (`state=awaiting_approval`).
#[utoipa::path(get, path = "/v1/api/backoffice/transactions", tag = "Back office", operation_id = "listOperatorTransactions",
    security(("operatorToken" = [])),
    params(
        ("state" = Option<TxnStateDoc>, Query, description = "Overture's state"),
        ("company" = Option<String>, Query, description = "A company id (`cmp_…`)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "At most this many (default 100)"),
    ),
    responses(
        (status = 200, description = "Newest first", body = Envelope<OperatorTransactions>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {"items": [{"transactionId": "txn_01jfxq6d3ab5c0e5n2x7v8w9yz", "type": "PAYOUT", "pspType": "PAYMENTSOFT", "status": "PENDING", "transactionStatus": "Pending", "state": "submitting", "amount": "6000.00", "currency": "EUR", "userId": "player-1", "createdAt": "2026-12-03T10:00:00.000Z", "updatedAt": "2026-12-03T10:05:00.000Z", "history": [], "attempts": [], "webhooks": []}]}})),
    ))]
pub(crate) async fn list(
    State(app): State<App>,
    OperatorAuth(_operator): OperatorAuth,
    Query(q): Query<ListIn>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => {
            Some(TxnState::parse(s).ok_or_else(|| ApiError::field("state", "unknown state"))?)
        }
    };
    let company_id = match q.company.as_deref() {
        None => None,
        Some(c) => Some(
            CompanyId::parse(c).ok_or_else(|| ApiError::field("company", "not a company id"))?,
        ),
    };
    let filter = TxnFilter {
        company_id,
        state,
        limit: q.limit.unwrap_or(100).clamp(1, 500),
    };
    let txns = app.store.list_transactions(&filter).await?;
    let items: Vec<_> = txns
        .iter()
        .map(|t| views::transaction_view(t, &[], &[], &[]))
        .collect();
    Ok(Json(success(serde_json::json!({ "items": items }))))
}
