//! `Idempotency-Key` on the Cashier API: the first response given for a key is stored with the
//! transaction's idempotency record; the same key with the same body gets that response again,
//! with another body 409 `IDEMPOTENCY_CONFLICT`. A key whose first request died before its
//! response was stored answers with the transaction as it now stands.

use crate::api::cashier::created_data;
use crate::api::error::{success, ApiError};
use crate::app::App;
use crate::service::create::IdempotencyClaim;
use crate::service::progress;
use axum::http::{HeaderMap, StatusCode};
use overture_core::{Company, IdempotencyRecord};
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
    let Some((status, body)) = record.response else {
        return unanswered(app, &record).await.map(Some);
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let body = serde_json::from_str(&body).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Some((status, body)))
}

/// A key whose first request stored its transaction but no response. While that request can
/// still be running (bounded by the PSP timeout) the answer is 409 `IDEMPOTENCY_IN_PROGRESS`
/// with `Retry-After`; after that it died (a crash between the insert and the response), and the
/// answer is the success envelope for the transaction as it now stands. It never sticks.
async fn unanswered(app: &App, record: &IdempotencyRecord) -> Result<Reply, ApiError> {
    let deadline = progress::in_flight_deadline(app, record.created_at);
    let now = app.now();
    if now < deadline {
        let secs = u64::try_from((deadline - now + 999) / 1000).unwrap_or(1);
        return Err(ApiError::IdempotencyInProgress {
            retry_after_secs: Some(secs),
        });
    }
    let txn = app
        .store
        .transaction(&record.transaction_id)
        .await?
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "idempotency key {} names missing transaction {}",
                record.key,
                record.transaction_id
            ))
        })?;
    Ok((StatusCode::OK, success(created_data(&txn))))
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
