//! MP user verification (DESIGN.md §4): before every payout (and before pay-ins when the
//! company asks for it), `POST <verify-user URL>` with the user's own authorization and
//! `{"userId","type","amount","currency"}`; the MP answers 2xx `{"allowed": bool, "reason"?}`.

use crate::app::App;
use crate::service::error::ServiceError;
use crate::service::user::UserAuth;
use overture_core::{Company, Money, TxnType};
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
        .timeout(app.tuning.verify_timeout)
        .json(&body);
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
        let location = response.headers().get(reqwest::header::LOCATION);
        tracing::warn!(status = status.as_u16(), ?location, company = %company.id, "verify-user answered an error");
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
