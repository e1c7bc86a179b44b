//! `ApiError`: every failure the HTTP API reports, each mapped once to an HTTP status, a stable
//! `errorCode` and a message in the Mozarto error envelope (README). 5xx bodies are
//! generic; the detail goes to the log.

use crate::api::strict_json::BodyError;
use crate::service::error::ServiceError;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use overture_core::connector::ConnectorError;
use overture_core::store::StoreError;
use overture_core::TransactionId;
use serde::Serialize;

/// One problem with one request field.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// API failures.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Validation failed")]
    Validation(Vec<FieldProblem>),
    #[error("Malformed JSON body: {0}")]
    MalformedJson(String),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    #[error("Unauthorized")]
    Unauthorized(&'static str),
    #[error("Forbidden: {0}")]
    Forbidden(String),
    #[error("User not verified by the merchant platform")]
    UserNotVerified(Option<String>),
    /// The MP denied the user at a payout's approval; the payout was rejected with this reason.
    #[error("{0}")]
    UserDeniedAtApproval(String),
    #[error("User verification unavailable")]
    VerificationUnavailable { timeout: bool },
    #[error("Not found")]
    NotFound,
    #[error("Idempotency-Key was used with a different request body")]
    IdempotencyConflict,
    /// The first request with this key may still be running; retry after the given seconds.
    #[error("A request with this Idempotency-Key is still being processed")]
    IdempotencyInProgress { retry_after_secs: Option<u64> },
    #[error("{0}")]
    InvalidState(String),
    /// No enabled PSP account of this company serves the request ("PSP Configuration not found").
    #[error("PSP configuration not found: {0}")]
    PspNotConfigured(String),
    /// The PSP cannot do this (payout, currency, country).
    #[error("{0}")]
    PspNotSupported(String),
    /// A routing rule blocks the request (nothing stored).
    #[error("{0}")]
    RoutingBlocked(String),
    /// No candidate PSP account can take the request; each candidate's reason in `errors`.
    #[error("No PSP account can take this request")]
    NoEligibleAccount(Vec<FieldProblem>),
    /// The PSP call failed; `transaction_id` names the stored transaction.
    #[error("PSP error: {error}")]
    Psp {
        error: ConnectorError,
        transaction_id: Option<TransactionId>,
    },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooDeep => Self::field("body", e.to_string()),
            BodyError::DuplicateKey(path) => {
                Self::field(&path, "duplicate key: each field may appear once")
            }
            BodyError::Malformed(m) => Self::MalformedJson(m),
            BodyError::NotAnObject => Self::MalformedJson(e.to_string()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::InvalidField { field, message } => Self::field(&field, message),
            ServiceError::Forbidden(m) => Self::Forbidden(m),
            ServiceError::UserNotVerified(reason) => Self::UserNotVerified(reason),
            ServiceError::UserDeniedAtApproval(reason) => Self::UserDeniedAtApproval(reason),
            ServiceError::VerificationUnavailable { timeout } => {
                Self::VerificationUnavailable { timeout }
            }
            ServiceError::NotFound => Self::NotFound,
            // Answered by a replay in the handler; reaching here means the winner is still
            // running.
            ServiceError::IdempotencyKeyTaken => Self::IdempotencyInProgress {
                retry_after_secs: None,
            },
            ServiceError::InvalidState(m) => Self::InvalidState(m),
            ServiceError::PspNotConfigured(m) => Self::PspNotConfigured(m),
            ServiceError::PspNotSupported(m) => Self::PspNotSupported(m),
            e @ ServiceError::RoutingBlocked { .. } => Self::RoutingBlocked(e.to_string()),
            ServiceError::NoEligibleAccount(list) => Self::NoEligibleAccount(
                list.iter()
                    .map(|(a, r)| FieldProblem::new(a, r.clone()))
                    .collect(),
            ),
            ServiceError::InvalidDocument(list) => Self::Validation(
                list.iter()
                    .map(|(p, m)| FieldProblem::new(p, m.clone()))
                    .collect(),
            ),
            ServiceError::Psp {
                error,
                transaction_id,
            } => Self::Psp {
                error,
                transaction_id,
            },
            ServiceError::Internal(e) => Self::Internal(e),
        }
    }
}

impl ApiError {
    /// HTTP status and stable error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Validation(_) => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            Self::MalformedJson(_) => (StatusCode::BAD_REQUEST, "MALFORMED_JSON"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
            }
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            Self::UserNotVerified(_) | Self::UserDeniedAtApproval(_) => {
                (StatusCode::FORBIDDEN, "USER_NOT_VERIFIED")
            }
            Self::VerificationUnavailable { timeout: true } => {
                (StatusCode::GATEWAY_TIMEOUT, "USER_VERIFICATION_UNAVAILABLE")
            }
            Self::VerificationUnavailable { timeout: false } => {
                (StatusCode::BAD_GATEWAY, "USER_VERIFICATION_UNAVAILABLE")
            }
            Self::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Self::IdempotencyConflict => (StatusCode::CONFLICT, "IDEMPOTENCY_CONFLICT"),
            Self::IdempotencyInProgress { .. } => (StatusCode::CONFLICT, "IDEMPOTENCY_IN_PROGRESS"),
            Self::InvalidState(_) => (StatusCode::CONFLICT, "INVALID_STATE"),
            Self::PspNotConfigured(_) => (StatusCode::UNPROCESSABLE_ENTITY, "PSP_NOT_CONFIGURED"),
            Self::PspNotSupported(_) => (StatusCode::UNPROCESSABLE_ENTITY, "PSP_NOT_SUPPORTED"),
            Self::RoutingBlocked(_) => (StatusCode::UNPROCESSABLE_ENTITY, "ROUTING_BLOCKED"),
            Self::NoEligibleAccount(_) => (StatusCode::UNPROCESSABLE_ENTITY, "NO_ELIGIBLE_ACCOUNT"),
            Self::Psp { error, .. } => {
                let status = match error {
                    ConnectorError::Timeout => StatusCode::GATEWAY_TIMEOUT,
                    _ => StatusCode::BAD_GATEWAY,
                };
                (status, error.error_code())
            }
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        }
    }

    /// The envelope body: `{"status":"error","isSuccess":false,"message","errorCode","errors",
    /// "transactionId"?}`.
    pub fn envelope(&self) -> serde_json::Value {
        let (_, code) = self.status_and_code();
        let message = match self {
            Self::Internal(_) => "Something went wrong".to_owned(),
            Self::Unauthorized(why) => format!("Unauthorized: {why}"),
            Self::UserNotVerified(Some(reason)) => format!("User not verified by the merchant platform: {reason}"),
            Self::Psp { error, transaction_id: Some(_) } if !error.certainly_not_processed() => format!(
                "{error}; the transaction stays pending and its final status will be sent by webhook"
            ),
            other => other.to_string(),
        };
        let errors: Vec<FieldProblem> = match self {
            Self::Validation(problems) | Self::NoEligibleAccount(problems) => problems.clone(),
            _ => Vec::new(),
        };
        let mut body = error_body(code, &message, &errors);
        if let Self::Psp {
            transaction_id: Some(id),
            ..
        } = self
        {
            body["transactionId"] = serde_json::Value::String(id.to_string());
        }
        body
    }

    /// Shorthand for a single-field validation error.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldProblem::new(field, message)])
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            match &self {
                Self::Internal(e) => tracing::error!(error = ?e, code, "request failed"),
                other => tracing::warn!(error = %other, code, "upstream failure"),
            }
        }
        let mut response = (status, Json(self.envelope())).into_response();
        if let Self::Psp {
            transaction_id: Some(id),
            ..
        } = &self
        {
            response = crate::access::with_transaction(response, id.clone());
        }
        if let Self::IdempotencyInProgress {
            retry_after_secs: Some(secs),
        } = self
        {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

/// The error envelope: `{"status":"error","isSuccess":false,"message","errorCode","errors"}`.
pub fn error_body(code: &str, message: &str, errors: &[FieldProblem]) -> serde_json::Value {
    serde_json::json!({
        "status": "error",
        "isSuccess": false,
        "message": message,
        "errorCode": code,
        "errors": errors,
    })
}

/// The success envelope: `{"status":"success","message":"Successfully","isSuccess":true,"data":…}`.
pub fn success(data: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "status": "success", "message": "Successfully", "isSuccess": true, "data": data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_carry_stable_codes() {
        let e = ApiError::field("baseamount", "must be a JSON number");
        assert_eq!(
            e.status_and_code(),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
        );
        let body = e.envelope();
        assert_eq!(body["isSuccess"], false);
        assert_eq!(body["errors"][0]["field"], "baseamount");
        let id = TransactionId::generate();
        let psp = ApiError::Psp {
            error: ConnectorError::Unavailable { status: 500 },
            transaction_id: Some(id.clone()),
        };
        assert_eq!(
            psp.status_and_code(),
            (StatusCode::BAD_GATEWAY, "PSP_UNAVAILABLE")
        );
        assert_eq!(psp.envelope()["transactionId"], id.as_str());
        let internal = ApiError::Internal(anyhow::anyhow!("db password is hunter2"));
        assert!(!internal.envelope().to_string().contains("hunter2"));
    }
}
