//! PSP callbacks: `GET|POST /v1/api/psp-callbacks/{psp}/{accountId}`. The connector checks the
//! callback; a verified one is applied, an unsigned or unverifiable one only triggers a status
//! query (DESIGN.md §3 invariant 3). Replays of a final status change nothing.

use crate::app::App;
use crate::service::progress;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::any;
use axum::Router;
use overture_core::connector::{AccountContext, CallbackOutcome, CallbackRequest};
use overture_core::*;

/// Largest accepted callback body, in bytes.
const MAX_CALLBACK_BYTES: usize = 64 * 1024;

pub fn router() -> Router<App> {
    Router::new().route("/v1/api/psp-callbacks/{psp}/{account}", any(callback))
}

async fn callback(
    State(app): State<App>,
    Path((psp, account)): Path<(String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> (StatusCode, &'static str) {
    let Some(account_id) = PspAccountId::parse(&account) else {
        return (StatusCode::NOT_FOUND, "unknown account");
    };
    let account = match app.store.psp_account(&account_id).await {
        Ok(Some(a)) if a.psp_type.as_str().eq_ignore_ascii_case(&psp) => a,
        Ok(_) => return (StatusCode::NOT_FOUND, "unknown account"),
        Err(e) => {
            tracing::error!(error = ?e, "callback: store error");
            return (StatusCode::INTERNAL_SERVER_ERROR, "error");
        }
    };
    let Some(connector) = app.registry.get(account.psp_type.as_str()).cloned() else {
        return (StatusCode::NOT_FOUND, "unknown PSP");
    };
    let Ok(body) = axum::body::to_bytes(body, MAX_CALLBACK_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "too large");
    };
    let request = CallbackRequest {
        method: method.to_string(),
        query: query.unwrap_or_default(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| {
                Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned()))
            })
            .collect(),
        body: body.to_vec(),
    };
    let ctx = AccountContext::new(&account, &app.public_url);
    let outcome = match connector.parse_callback(&ctx, &request) {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(psp = %account.psp_type, error = %e, "callback refused");
            return (StatusCode::BAD_REQUEST, "malformed callback");
        }
    };
    let (txn_id, verified) = match outcome {
        CallbackOutcome::Verified {
            transaction_id,
            update,
        } => (transaction_id, Some(update)),
        CallbackOutcome::Unverified {
            transaction_id,
            why,
        } => {
            tracing::info!(%transaction_id, why, "unverified callback: asking the PSP instead");
            (transaction_id, None)
        }
    };
    let txn = match app.store.transaction(&txn_id).await {
        Ok(Some(t)) if t.psp_account_id == account.id => t,
        Ok(_) => return (StatusCode::NOT_FOUND, "unknown order"),
        Err(e) => {
            tracing::error!(error = ?e, "callback: store error");
            return (StatusCode::INTERNAL_SERVER_ERROR, "error");
        }
    };
    let result = match verified {
        Some(update) => progress::apply_update(&app, txn, &update, Actor::Psp).await,
        None if txn.state.is_final() => Ok(txn),
        None => progress::sync_now(&app, txn, Some(&account)).await,
    };
    match result {
        Ok(_) => (StatusCode::OK, "OK"),
        Err(e) => {
            // Not 200, so the PSP retries the callback later.
            tracing::warn!(transaction_id = %txn_id, error = ?e, "callback could not be applied");
            (StatusCode::SERVICE_UNAVAILABLE, "retry later")
        }
    }
}
