//! `PageError`: every way a back-office request can fail, each mapped once to an HTTP status,
//! a stable code and a message a person can act on. GET pages that need a login redirect to
//! it; everything else renders the error page. 5xx pages are generic; the detail is logged.

use crate::backoffice::views::ErrorPage;
use crate::service::error::ServiceError;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use overture_core::store::StoreError;

/// Back-office failures.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No (valid) session. `next`: the page to return to after login (GET requests only).
    #[error("Please log in.")]
    LoginRequired { next: Option<String> },
    /// The session passed its idle or absolute expiry.
    #[error("Your session has expired. Log in again; nothing was changed.")]
    SessionExpired { next: Option<String> },
    #[error("The form's security token (CSRF) is missing or does not match your session. Reload the page and try again; nothing was changed.")]
    Csrf,
    /// The operator's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    BadInput(String),
    /// The object is no longer in a state that allows the action.
    #[error("{0}")]
    Conflict(String),
    /// The merchant platform denied the user (at a payout's approval: the payout was rejected).
    #[error("{0}")]
    UserNotVerified(String),
    /// The merchant platform could not be asked about the user (down, an error, or slower
    /// than the verify timeout: `timeout`); nothing was changed.
    #[error("The merchant platform could not be asked whether this user may be paid (it is down, answered an error or was too slow). The payout is still waiting for approval; try again later.")]
    VerificationUnavailable { timeout: bool },
    #[error("Something went wrong; the details are in the server log.")]
    Internal(#[source] anyhow::Error),
}

impl PageError {
    /// HTTP status and stable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::LoginRequired { .. } => (StatusCode::UNAUTHORIZED, "LOGIN_REQUIRED"),
            Self::SessionExpired { .. } => (StatusCode::UNAUTHORIZED, "SESSION_EXPIRED"),
            Self::Csrf => (StatusCode::FORBIDDEN, "CSRF_INVALID"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            Self::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Self::BadInput(_) => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "INVALID_STATE"),
            Self::UserNotVerified(_) => (StatusCode::FORBIDDEN, "USER_NOT_VERIFIED"),
            Self::VerificationUnavailable { timeout: false } => {
                (StatusCode::BAD_GATEWAY, "USER_VERIFICATION_UNAVAILABLE")
            }
            Self::VerificationUnavailable { timeout: true } => {
                (StatusCode::GATEWAY_TIMEOUT, "USER_VERIFICATION_UNAVAILABLE")
            }
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        }
    }

    /// Where a GET request is sent instead of an error page.
    fn redirect(&self) -> Option<String> {
        let (next, expired) = match self {
            Self::LoginRequired { next: Some(n) } => (n, false),
            Self::SessionExpired { next: Some(n) } => (n, true),
            _ => return None,
        };
        let mut query = vec![("next", next.as_str())];
        if expired {
            query.push(("expired", "1"));
        }
        let query = serde_urlencoded::to_string(query).unwrap_or_default();
        Some(format!("/backoffice/login?{query}"))
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::InvalidState(m) => Self::Conflict(format!("{m}. Nothing was changed.")),
            ServiceError::NotFound => Self::NotFound,
            ServiceError::Forbidden(m) => Self::Forbidden(m),
            ServiceError::InvalidField { field, message } => {
                Self::BadInput(format!("{field}: {message}"))
            }
            ServiceError::UserDeniedAtApproval(reason) => {
                Self::UserNotVerified(format!("The payout was rejected: {reason}."))
            }
            ServiceError::UserNotVerified(reason) => Self::UserNotVerified(format!(
                "The merchant platform denied the user{}. Nothing was changed.",
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            )),
            ServiceError::VerificationUnavailable { timeout } => {
                Self::VerificationUnavailable { timeout }
            }
            ServiceError::NoEligibleAccount(list) => {
                let reasons: Vec<String> = list.iter().map(|(a, r)| format!("{a}: {r}")).collect();
                Self::Conflict(format!(
                    "No PSP account can take this payout now ({}). It stays in the queue.",
                    reasons.join("; ")
                ))
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let Some(to) = self.redirect() {
            return Redirect::to(&to).into_response();
        }
        let (status, code) = self.status_and_code();
        if let Self::Internal(e) = &self {
            tracing::error!(error = ?e, code, "back-office request failed");
        }
        let login_link = matches!(
            self,
            Self::LoginRequired { .. } | Self::SessionExpired { .. }
        );
        let page = ErrorPage {
            code,
            status: status.as_u16(),
            message: self.to_string(),
            login_link,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{code}: {}", self));
        let mut response = (status, Html(body)).into_response();
        response
            .headers_mut()
            .insert("x-overture-error", HeaderValue::from_static(code));
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_get_requests_redirect_to_login() {
        let e = PageError::SessionExpired {
            next: Some("/backoffice/queue?page=2".into()),
        };
        assert_eq!(
            e.redirect().as_deref(),
            Some("/backoffice/login?next=%2Fbackoffice%2Fqueue%3Fpage%3D2&expired=1")
        );
        let post = PageError::SessionExpired { next: None };
        assert_eq!(post.redirect(), None);
        assert_eq!(post.status_and_code().1, "SESSION_EXPIRED");
        let conflict: PageError = ServiceError::InvalidState("txn_1 is approved".into()).into();
        assert_eq!(
            conflict.to_string(),
            "txn_1 is approved. Nothing was changed."
        );
        let denied: PageError = ServiceError::UserDeniedAtApproval(
            "merchant platform denied the user at approval: self-excluded".into(),
        )
        .into();
        assert_eq!(
            (denied.status_and_code(), denied.to_string()),
            (
                (StatusCode::FORBIDDEN, "USER_NOT_VERIFIED"),
                "The payout was rejected: merchant platform denied the user at approval: self-excluded.".to_owned()
            )
        );
        let down: PageError = ServiceError::VerificationUnavailable { timeout: true }.into();
        assert_eq!(
            down.status_and_code(),
            (StatusCode::GATEWAY_TIMEOUT, "USER_VERIFICATION_UNAVAILABLE")
        );
        assert_eq!(
            PageError::Internal(anyhow::anyhow!("secret detail")).to_string(),
            "Something went wrong; the details are in the server log."
        );
    }
}
