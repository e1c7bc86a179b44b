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

/// The `Idempotency-Key` header, trimmed: 1 to 255 printable ASCII characters (U+0020–U+007E),
/// or 400 naming the header.
pub fn key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
    let printable = key.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if key.is_empty() || key.len() > 255 || !printable {
        return Err(ApiError::field(
            "Idempotency-Key",
            "must be 1 to 255 printable ASCII characters",
        ));
    }
    Ok(Some(key))
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
