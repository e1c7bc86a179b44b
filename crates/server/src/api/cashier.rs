//! `POST /v1/api/mozarto/cashier` (create a pay-in or payout) and
//! `GET /v1/api/mozarto/transactions/{transactionId or sessionId}` (DESIGN.md §4).

use crate::api::auth::CompanyAuth;
use crate::api::error::{success, ApiError};
use crate::app::App;
use crate::service::{create, views};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use overture_core::*;

/// Largest accepted Cashier request body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/api/mozarto/cashier", post(create_transaction))
        .route("/v1/api/mozarto/transactions/{id}", get(get_transaction))
}

/// Reads a JSON body: `application/json` (415 otherwise), at most [`MAX_BODY_BYTES`] (413).
pub async fn json_body(headers: &HeaderMap, body: Body) -> Result<bytes::Bytes, ApiError> {
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(MAX_BODY_BYTES))
}

async fn create_transaction(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = json_body(&headers, body).await?;
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if !k.trim().is_empty() && k.len() <= 255 => Some(k.trim().to_owned()),
        Some(_) => {
            return Err(ApiError::field(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ))
        }
    };
    let (status, body) = create::create(&app, &company, &headers, &bytes, key).await?;
    Ok((status, Json(body)).into_response())
}

async fn get_transaction(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    let webhooks = app.store.webhooks_for_transaction(&txn.id).await?;
    Ok(Json(success(views::transaction_view(
        &txn, &events, &webhooks,
    ))))
}
