//! `Idempotency-Key` on the Cashier API: the first response given for a key is stored with the
//! transaction's idempotency record; the same key with the same body gets that response again,
//! with another body 409 `IDEMPOTENCY_CONFLICT`.

use crate::api::error::ApiError;
use crate::app::App;
use crate::service::create::IdempotencyClaim;
use axum::http::{HeaderMap, StatusCode};
use overture_core::Company;
use serde_json::Value;

/// The HTTP status and JSON body of a Cashier API answer.
pub type Reply = (StatusCode, Value);

/// The `Idempotency-Key` header, trimmed: 1 to 255 visible ASCII characters, or 400.
pub fn key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(k)) if !k.trim().is_empty() && k.len() <= 255 => Ok(Some(k.trim().to_owned())),
        Some(_) => Err(ApiError::field(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// The stored answer for a reused key: same body ⇒ the original response; other body ⇒ 409
/// `IDEMPOTENCY_CONFLICT`; first request still running ⇒ 409 `IDEMPOTENCY_IN_PROGRESS`.
/// `None` when the key is new.
pub async fn replay(
    app: &App,
    company: &Company,
    claim: &IdempotencyClaim,
) -> Result<Option<Reply>, ApiError> {
    let Some(record) = app.store.idempotency(&company.id, &claim.key).await? else {
        return Ok(None);
    };
    if record.request_sha256 != claim.request_sha256 {
        return Err(ApiError::IdempotencyConflict);
    }
    let (status, body) = record.response.ok_or(ApiError::IdempotencyInProgress)?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let body = serde_json::from_str(&body).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Some((status, body)))
}

/// Stores the answer given to the first request with this key.
pub async fn save(
    app: &App,
    company: &Company,
    claim: &IdempotencyClaim,
    reply: &Result<Reply, ApiError>,
) -> Result<(), ApiError> {
    let (status, body) = match reply {
        Ok((status, body)) => (*status, body.clone()),
        Err(e) => (e.status_and_code().0, e.envelope()),
    };
    app.store
        .save_idempotent_response(&company.id, &claim.key, status.as_u16(), &body.to_string())
        .await?;
    Ok(())
}
