//! `GET /v1/api/transactions` (company JWT): the company's transactions for reconciliation.
//! Query: `state`, `type` (`PAYIN`/`PAYOUT`), `pspType`, `createdFrom` (inclusive) and
//! `createdTo` (exclusive) as RFC 3339, `userId`, `merchantReference`, `order` (`desc`, the
//! default, newest first; or `asc`), `limit` (default 50, at most 500) and `cursor` (the
//! previous page's `nextCursor`). Answers `data: {"items": [transaction…], "nextCursor"}`
//! (`null` on the last page). Pages are cut by `(createdAt, transactionId)`, not by offset, so
//! rows inserted while paging never shift a page: nothing is skipped or repeated.

use crate::api::auth::CompanyAuth;
use crate::api::cursor;
use crate::api::error::{success, ApiError};
use crate::api::openapi::manage_schemas::TransactionPage;
use crate::api::openapi::schemas::{Envelope, TxnState as TxnStateDoc, TxnType as TxnTypeDoc};
use crate::app::App;
use crate::service::views::rfc3339;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use overture_core::backoffice::{SearchOrder, TxnSearch};
use overture_core::{PspType, Transaction, TxnState, TxnType};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const PARAMS: [&str; 10] = [
    "state",
    "type",
    "pspType",
    "createdFrom",
    "createdTo",
    "userId",
    "merchantReference",
    "order",
    "limit",
    "cursor",
];

pub fn router() -> Router<App> {
    Router::new().route("/v1/api/transactions", get(list))
}

/// Milliseconds since the epoch of an RFC 3339 time (`2026-05-01T00:00:00Z`, offsets allowed).
pub fn parse_time(field: &str, text: &str) -> Result<i64, ApiError> {
    let t =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                ApiError::field(field, "must be an RFC 3339 time, e.g. 2026-05-01T00:00:00Z")
            })?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| ApiError::field(field, "out of range"))
}

/// The company's transactions, newest first by default, in pages cut by `(createdAt,
/// transactionId)`: rows inserted while paging never shift a page.
#[utoipa::path(get, path = "/v1/api/transactions", tag = "Transactions", operation_id = "listTransactions",
    security(("companyJwt" = [])),
    params(
        ("state" = Option<TxnStateDoc>, Query, description = "Overture's state"),
        ("type" = Option<TxnTypeDoc>, Query, description = "`PAYIN` or `PAYOUT`"),
        ("pspType" = Option<String>, Query, description = "A PSP type"),
        ("createdFrom" = Option<String>, Query, format = DateTime, description = "RFC 3339, inclusive"),
        ("createdTo" = Option<String>, Query, format = DateTime, description = "RFC 3339, exclusive"),
        ("userId" = Option<String>, Query, description = "The merchant's user id"),
        ("merchantReference" = Option<String>, Query, description = "The merchant's reference"),
        ("order" = Option<String>, Query, description = "`desc` (newest first, the default) or `asc`"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's `nextCursor`"),
    ),
    responses(
        (status = 200, description = "One page", body = Envelope<TransactionPage>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {"items": [
                {"transactionId": "txn_01jfxq6d3ab5c0e5n2x7v8w9yz", "type": "PAYIN", "pspType": "FORUMPAY", "state": "approved",
                 "status": "APPROVED", "transactionStatus": "Approved", "amount": "25.00", "currency": "EUR", "userId": "player-1",
                 "attempts": 1, "createdAt": "2026-12-03T10:00:00.000Z", "updatedAt": "2026-12-03T10:01:10.000Z"}],
                "nextCursor": null}})),
    ))]
pub(crate) async fn list(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    if let Some(unknown) = q.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return Err(ApiError::field(unknown, "unknown filter"));
    }
    let (order, scope) = match q.get("order").map(String::as_str) {
        None | Some("desc") => (SearchOrder::NewestFirst, "txn-desc"),
        Some("asc") => (SearchOrder::OldestFirst, "txn-asc"),
        Some(_) => return Err(ApiError::field("order", "must be asc or desc")),
    };
    let state = q
        .get("state")
        .map(|s| TxnState::parse(s).ok_or_else(|| ApiError::field("state", "unknown state")))
        .transpose()?;
    let txn_type = q
        .get("type")
        .map(|s| TxnType::parse(s).ok_or_else(|| ApiError::field("type", "PAYIN or PAYOUT")))
        .transpose()?;
    let psp_type = q
        .get("pspType")
        .map(|p| match app.registry.get(p) {
            Some(_) => Ok(PspType(p.clone())),
            None => Err(ApiError::field(
                "pspType",
                "unknown PSP (see GET /v1/api/psps)",
            )),
        })
        .transpose()?;
    let limit = cursor::limit(q.get("limit"))?;
    let search = TxnSearch {
        company_id: Some(company.id.clone()),
        state,
        txn_type,
        psp_type,
        user_id: q.get("userId").cloned(),
        merchant_reference: q.get("merchantReference").cloned(),
        created_from: q
            .get("createdFrom")
            .map(|t| parse_time("createdFrom", t))
            .transpose()?,
        created_before: q
            .get("createdTo")
            .map(|t| parse_time("createdTo", t))
            .transpose()?,
        order,
        after: q
            .get("cursor")
            .map(|c| cursor::decode_transaction(scope, c))
            .transpose()?,
        limit,
        ..Default::default()
    };
    let page = app.store.search_transactions(&search).await?;
    let next = match page.items.last() {
        Some(last) if page.has_more => {
            Some(cursor::encode(scope, last.created_at, last.id.as_str()))
        }
        _ => None,
    };
    let items: Vec<Value> = page.items.iter().map(summary).collect();
    Ok(Json(success(json!({ "items": items, "nextCursor": next }))))
}

/// One transaction in the list (the status endpoint has the history, attempts and webhooks).
fn summary(t: &Transaction) -> Value {
    json!({
        "transactionId": t.id,
        "sessionId": t.session_id,
        "type": t.txn_type.as_str(),
        "pspType": t.psp_type,
        "pspAccountId": t.psp_account_id,
        "state": t.state.as_str(),
        "status": t.state.transaction_status().as_upper(),
        "transactionStatus": t.state.transaction_status().as_str(),
        "amount": t.amount.to_major_string(),
        "currency": t.amount.currency().code(),
        "userId": t.user_id,
        "brandId": t.brand_id,
        "merchantReference": t.merchant_reference,
        "pspTransactionId": t.psp_transaction_id,
        "pspStatus": t.psp_status,
        "message": t.message,
        "attempts": t.attempt_seq,
        "createdAt": rfc3339(t.created_at),
        "updatedAt": rfc3339(t.updated_at),
    })
}
