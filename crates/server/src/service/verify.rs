//! MP user verification (README): before every payout (and before pay-ins when the
//! company asks for it), `POST <verify-user URL>` with the user's own authorization and
//! `{"userId","type","amount","currency"}`; the MP answers 2xx `{"allowed": bool, "reason"?}`.
//!
//! A held payout is verified again at its deciding approval (the user may have been blocked
//! meanwhile). No user token exists then (none is stored, and it would have expired), so that
//! call is server to server, authenticated like a webhook: the same URL, the body
//! `{"userId","type","amount","currency","transactionId","context":"approval"}` signed per
//! Standard Webhooks with the company's webhook secret (`webhook-id` a fresh `msg_…` id,
//! `webhook-timestamp`, `webhook-signature`), plus the company's webhook `Authorization`
//! value when it has one. Both calls read the answer the same way, and send `traceparent`:
//! the first in the trace of the Cashier request, the second in the transaction's.

use crate::app::App;
use crate::service::error::ServiceError;
use crate::service::user::UserAuth;
use crate::trace;
use crate::workers::signing;
use overture_core::{Company, Money, TraceParent, Transaction, TxnType, WebhookId};
use reqwest::RequestBuilder;
use secrecy::ExposeSecret;
use serde::Deserialize;

#[derive(Deserialize)]
struct VerifyOut {
    allowed: bool,
    #[serde(default)]
    reason: Option<String>,
}

/// Asks the MP whether `user_id` may make this transaction. Allowed ⇒ `Ok`; denied (or the MP
/// answers 401/403) ⇒ 403 `USER_NOT_VERIFIED`; unreachable, refused by the outbound policy,
/// 3xx (never followed), 5xx or unreadable ⇒ 502, slower than the verify timeout (10 s) ⇒ 504
/// `USER_VERIFICATION_UNAVAILABLE`.
pub async fn verify_user(
    app: &App,
    company: &Company,
    user: &UserAuth,
    user_id: &str,
    txn_type: TxnType,
    amount: &Money,
) -> Result<(), ServiceError> {
    let body = serde_json::json!({
        "userId": user_id,
        "type": txn_type.as_str(),
        "amount": amount.to_major_string(),
        "currency": amount.currency().code(),
    });
    let request = app
        .http
        .client()
        .post(&company.verify_user_url)
        .header("authorization", user.forwarded_authorization())
        .json(&body);
    ask(app, company, request, trace::current()).await
}

/// The approval-time request body: `{"userId","type","amount" (major units, e.g.
/// `"1500.00"`),"currency","transactionId","context":"approval"}`.
pub fn approval_body(txn: &Transaction) -> String {
    serde_json::json!({
        "userId": txn.user_id,
        "type": txn.txn_type.as_str(),
        "amount": txn.amount.to_major_string(),
        "currency": txn.amount.currency().code(),
        "transactionId": txn.id.as_str(),
        "context": "approval",
    })
    .to_string()
}

/// Asks the MP again, at the deciding approval of the held payout `txn`, whether its user may
/// still be paid (see the module docs for the signed request). Outcomes as [`verify_user`]:
/// `Ok` when allowed, `UserNotVerified` with the MP's reason when denied, and
/// `VerificationUnavailable` when the MP cannot be asked.
pub async fn verify_at_approval(
    app: &App,
    company: &Company,
    txn: &Transaction,
) -> Result<(), ServiceError> {
    let body = approval_body(txn);
    let id = WebhookId::generate();
    let now = app.now();
    let timestamp = now / 1000;
    let signature = signing::signature_header(company, now, id.as_str(), timestamp, &body);
    let mut request = app
        .http
        .client()
        .post(&company.verify_user_url)
        .header("content-type", "application/json")
        .header("webhook-id", id.as_str())
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body);
    if let Some(auth) = &company.webhook_authorization {
        request = request.header("authorization", auth.expose_secret());
    }
    ask(app, company, request, trace::for_transaction(txn)).await
}

/// Sends a verify-user request (with the verify timeout) and reads the MP's answer: 2xx
/// `{"allowed": true}` ⇒ `Ok`; `{"allowed": false, "reason"?}`, 401 or 403 ⇒
/// `UserNotVerified`; anything else ⇒ `VerificationUnavailable`. `trace`: the call's, sent as a
/// child span in `traceparent`.
async fn ask(
    app: &App,
    company: &Company,
    mut request: RequestBuilder,
    trace: Option<TraceParent>,
) -> Result<(), ServiceError> {
    if let Some(trace) = trace {
        request = request.header(trace::TRACEPARENT, trace::outgoing(&trace));
    }
    let request = request.timeout(app.tuning.verify_timeout);
    let response = app.http.send(request).await.map_err(|e| {
        tracing::warn!(error = %e, code = e.code(), company = %company.id, "verify-user call failed");
        ServiceError::VerificationUnavailable {
            timeout: e.is_timeout(),
        }
    })?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(ServiceError::UserNotVerified(Some(format!(
            "merchant platform answered HTTP {}",
            status.as_u16()
        ))));
    }
    if !status.is_success() {
        // A 3xx lands here too: following it would turn the call into an unauthenticated GET
        // whose answer we would trust, so the client never does.
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok());
        tracing::warn!(status = status.as_u16(), location, company = %company.id, "verify-user answered an error");
        return Err(ServiceError::VerificationUnavailable { timeout: false });
    }
    let out: VerifyOut =
        response
            .json()
            .await
            .map_err(|e| ServiceError::VerificationUnavailable {
                timeout: e.is_timeout(),
            })?;
    if out.allowed {
        Ok(())
    } else {
        Err(ServiceError::UserNotVerified(out.reason))
    }
}
