//! `POST /v1/api/mozarto/cashier` (create a pay-in or payout) and
//! `GET /v1/api/mozarto/transactions/{transactionId or sessionId}` (README).

use crate::access;
use crate::api::auth::{user_auth, CompanyAuth};
use crate::api::cashier_in;
use crate::api::error::{success, ApiError};
use crate::api::idempotency::{self, Reply};
use crate::api::openapi::schemas::{
    CashierCreated, CashierRequest, Envelope, ErrorEnvelope, TransactionView,
};
use crate::api::strict_json;
use crate::app::App;
use crate::service::create::{self, Created, IdempotencyClaim};
use crate::service::error::ServiceError;
use crate::service::views;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use overture_core::{SessionId, Transaction, TransactionId, TxnType};
use serde_json::json;

/// Largest accepted Cashier request body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/api/mozarto/cashier", post(create_transaction))
        .route("/v1/api/mozarto/transactions/{id}", get(get_transaction))
}

/// Reads a JSON body: `application/json` (415 otherwise), at most [`MAX_BODY_BYTES`] (413).
pub async fn json_body(headers: &HeaderMap, body: Body) -> Result<bytes::Bytes, ApiError> {
    json_body_limited(headers, body, MAX_BODY_BYTES).await
}

/// Reads a JSON body of at most `limit` bytes (413 past it; 415 unless `application/json`).
pub async fn json_body_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(limit))
}

/// Creates a pay-in or payout: verifies the user with the merchant platform, routes the request
/// to a PSP account and submits it. A pay-in answers the PSP's hosted page (`url`); a payout its
/// status. The final status comes by webhook.
#[utoipa::path(post, path = "/v1/api/mozarto/cashier", tag = "Cashier", operation_id = "createTransaction",
    security(("companyJwt" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key and body answer the first answer; a different body is 409 `IDEMPOTENCY_CONFLICT` (1–255 printable ASCII characters)."),
        ("x-user-token" = Option<String>, Header, description = "The user's JWT (HS256 with the company's API secret, `exp` required); or send `x-user-authorization`."),
        ("x-user-authorization" = Option<String>, Header, description = "The merchant platform's session token for the user, passed to verify-user as `Authorization`."),
    ),
    request_body(content = CashierRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored and submitted (or held for approval)", body = Envelope<CashierCreated>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true,
                "data": {"status": "PENDING", "transactionId": "txn_01jfxq6d3ab5c0e5n2x7v8w9yz"}})),
        (status = 403, description = "`USER_NOT_VERIFIED`: the merchant platform denied the user", body = ErrorEnvelope),
        (status = 409, description = "`IDEMPOTENCY_CONFLICT` or `IDEMPOTENCY_IN_PROGRESS` (with `Retry-After`)", body = ErrorEnvelope),
        (status = 422, description = "`PSP_NOT_CONFIGURED`, `PSP_NOT_SUPPORTED`, `ROUTING_BLOCKED` or `NO_ELIGIBLE_ACCOUNT`; nothing stored", body = ErrorEnvelope),
        (status = 502, description = "`USER_VERIFICATION_UNAVAILABLE` (nothing stored), or a PSP error (`transactionId` given: stored, final status by webhook)", body = ErrorEnvelope),
        (status = 504, description = "`USER_VERIFICATION_UNAVAILABLE` (timeout) or `PSP_TIMEOUT` (stored, pending)", body = ErrorEnvelope),
    ))]
pub(crate) async fn create_transaction(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = json_body(&headers, body).await?;
    // Before anything else: depth, duplicate keys, and the hash that cannot fail.
    let body = strict_json::parse_object(&bytes)?;
    let key = idempotency::key(&headers)?;
    let user = user_auth(&headers, &company, app.now())?;
    let claim = key.map(|key| IdempotencyClaim {
        key,
        request_sha256: body.sha256(),
    });
    if let Some(claim) = &claim {
        if let Some(reply) = idempotency::replay(&app, &company, claim).await? {
            return Ok(respond(reply));
        }
    }
    let input = cashier_in::parse(&body.fields, |p| app.registry.get(p).is_some())?;
    let reply = match create::create(&app, &company, &user, input, claim.clone()).await {
        Ok(created) => created_reply(created),
        Err(ServiceError::IdempotencyKeyTaken) => {
            // Lost a race with the same key: answer as the winner did.
            let in_progress = ApiError::IdempotencyInProgress {
                retry_after_secs: None,
            };
            let Some(claim) = claim.as_ref() else {
                return Err(in_progress);
            };
            let reply = idempotency::replay(&app, &company, claim).await?;
            return Ok(respond(reply.ok_or(in_progress)?));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(claim) = &claim {
        idempotency::save(&app, &company, claim, &reply).await?;
    }
    Ok(respond(reply?))
}

/// The reply as a response, marked with the transaction it names (`data.transactionId`, or
/// `transactionId` of an error) for the access log.
fn respond((status, body): Reply) -> Response {
    let named = body["data"]["transactionId"]
        .as_str()
        .or_else(|| body["transactionId"].as_str())
        .and_then(TransactionId::parse);
    let response = (status, Json(body)).into_response();
    match named {
        Some(id) => access::with_transaction(response, id),
        None => response,
    }
}

/// The answer for a stored transaction: the success envelope, or the PSP error naming it.
fn created_reply(created: Created) -> Result<Reply, ApiError> {
    if let Some(error) = created.psp_error {
        return Err(ApiError::Psp {
            error,
            transaction_id: Some(created.txn.id),
        });
    }
    Ok((StatusCode::OK, success(created_data(&created.txn))))
}

/// `data` of a successful Cashier answer for `txn` as it now stands: pay-in `{status, url,
/// sessionId, transactionId}` (`url` once the PSP gave the hosted page), payout `{status,
/// transactionId}`; `status` is the normalised status in upper case (`PENDING`, `APPROVED`…).
pub fn created_data(txn: &Transaction) -> serde_json::Value {
    let status = txn.state.transaction_status().as_upper();
    match txn.txn_type {
        TxnType::Payin => {
            let mut data = json!({
                "status": status,
                "sessionId": txn.session_id,
                "transactionId": txn.id,
            });
            if let Some(url) = &txn.redirect_url {
                data["url"] = json!(url);
            }
            data
        }
        TxnType::Payout => json!({ "status": status, "transactionId": txn.id }),
    }
}

/// One transaction of this company, by transaction id or pay-in session id, with its history,
/// routing plan, attempts and webhook deliveries.
#[utoipa::path(get, path = "/v1/api/mozarto/transactions/{id}", tag = "Cashier", operation_id = "getTransaction",
    security(("companyJwt" = [])),
    params(("id" = String, Path, description = "A transaction id (`txn_…`) or a pay-in session id")),
    responses(
        (status = 200, description = "The transaction", body = Envelope<TransactionView>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {
                "transactionId": "txn_01jfxq6d3ab5c0e5n2x7v8w9yz", "type": "PAYOUT", "pspType": "PAYMENTSOFT",
                "status": "APPROVED", "transactionStatus": "Approved", "state": "approved", "amount": "100.00",
                "currency": "EUR", "userId": "player-1", "createdAt": "2026-12-03T10:00:00.000Z",
                "updatedAt": "2026-12-03T10:00:02.512Z", "history": [], "attempts": [], "webhooks": []}})),
    ))]
pub(crate) async fn get_transaction(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let txn = if let Some(id) = TransactionId::parse(&id) {
        app.store.transaction(&id).await?
    } else if let Some(session) = SessionId::parse(&id) {
        app.store.transaction_by_session(&session).await?
    } else {
        None
    };
    // Another company's transaction is indistinguishable from a missing one.
    let txn = txn
        .filter(|t| t.company_id == company.id)
        .ok_or(ApiError::NotFound)?;
    let events = app.store.events(&txn.id).await?;
    let attempts = app.store.attempts(&txn.id).await?;
    let webhooks = app.store.webhooks_for_transaction(&txn.id).await?;
    let view = views::transaction_view(&txn, &events, &attempts, &webhooks);
    Ok(access::with_transaction(
        Json(success(view)).into_response(),
        txn.id,
    ))
}
