//! Every `errorCode` the API answers, with its HTTP status and meaning: the one table the
//! OpenAPI document, the README and the tests read. [`ApiError::status_and_code`] and the `/v1`
//! envelope middleware produce only codes listed here (unit-tested below).
//!
//! [`ApiError::status_and_code`]: crate::api::error::ApiError::status_and_code

/// One stable error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCode {
    /// The `errorCode` value, e.g. `VALIDATION_ERROR`.
    pub code: &'static str,
    /// Every HTTP status it is answered with.
    pub statuses: &'static [u16],
    /// What it means and what to do.
    pub meaning: &'static str,
}

const fn code(code: &'static str, statuses: &'static [u16], meaning: &'static str) -> ErrorCode {
    ErrorCode {
        code,
        statuses,
        meaning,
    }
}

/// Every error code, by status.
pub const ERROR_CODES: &[ErrorCode] = &[
    code("VALIDATION_ERROR", &[400, 422], "A field is missing or invalid; `errors` names each one (`baseamount`, `rules[1].then.route[0].account`). Nothing was stored."),
    code("MALFORMED_JSON", &[400], "The body is not one JSON object."),
    code("BAD_REQUEST", &[400], "Any other malformed request."),
    code("UNAUTHORIZED", &[401], "No valid company JWT (or operator token, or user token for the Cashier)."),
    code("FORBIDDEN", &[403], "Authenticated, but not allowed (e.g. an operator role that cannot decide payouts)."),
    code("USER_NOT_VERIFIED", &[403], "The merchant platform's verify-user answer denied the user (the reason is in `message`). Nothing was stored; at an approval, the payout was rejected."),
    code("NOT_FOUND", &[404], "No such endpoint, or no such resource of this company."),
    code("METHOD_NOT_ALLOWED", &[405], "The endpoint exists but not with this method; `Allow` lists the methods."),
    code("IDEMPOTENCY_CONFLICT", &[409], "This `Idempotency-Key` was used with a different body."),
    code("IDEMPOTENCY_IN_PROGRESS", &[409], "The first request with this `Idempotency-Key` may still be running; retry after `Retry-After` seconds."),
    code("INVALID_STATE", &[409], "The resource is not in a state that allows this (e.g. approving a payout that is not held, redelivering a delivered webhook)."),
    code("PAYLOAD_TOO_LARGE", &[413], "The body is larger than the endpoint takes (64 KiB for the Cashier)."),
    code("UNSUPPORTED_MEDIA_TYPE", &[415], "The body must be `Content-Type: application/json`."),
    code("PSP_NOT_CONFIGURED", &[422], "No enabled PSP account of this company serves the request."),
    code("PSP_NOT_SUPPORTED", &[422], "The PSP cannot do this (type, currency or country)."),
    code("ROUTING_BLOCKED", &[422], "A routing rule blocks the request. Nothing was stored."),
    code("NO_ELIGIBLE_ACCOUNT", &[422], "Routing found candidates but none can take the request; `errors` gives each account's reason (limit, cap, open circuit…)."),
    code("RATE_LIMITED", &[429], "Too many requests; retry later."),
    code("INTERNAL_ERROR", &[500], "A bug or a storage failure; the body is generic and the detail is in the log. Retry with the same `Idempotency-Key`."),
    code("INVALID_PSP_CREDENTIALS", &[502], "The PSP refused the account's credentials (401/403/404 or its own error code)."),
    code("PSP_UNAVAILABLE", &[502], "The PSP could not be reached or answered 5xx. When `transactionId` is given, the transaction is stored and its final status comes by webhook."),
    code("PSP_RATE_LIMITED", &[502], "The PSP answered 429; nothing was done there."),
    code("UNKNOWN_PSP_ERROR", &[502], "The PSP's answer could not be read; the transaction, when stored, is resolved by status queries."),
    code("USER_VERIFICATION_UNAVAILABLE", &[502, 504], "The merchant platform's verify-user endpoint failed (unreachable, 3xx, 5xx, not the expected JSON: 502) or was slower than its timeout (504). Nothing was stored; retry."),
    code("SERVICE_UNAVAILABLE", &[503], "Overture is temporarily unable to take the request; retry later."),
    code("PSP_TIMEOUT", &[504], "The PSP did not answer in time. The transaction is stored and pending; its final status comes by webhook."),
];

/// The entry for `code`.
pub fn lookup(code: &str) -> Option<&'static ErrorCode> {
    ERROR_CODES.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::{ApiError, FieldProblem};
    use overture_core::connector::ConnectorError;

    /// One value of every `ApiError` variant (and every connector error), so a new variant or
    /// code that is not in the table fails here.
    fn every_error() -> Vec<ApiError> {
        let psp = |error| ApiError::Psp {
            error,
            transaction_id: None,
        };
        let mut all = vec![
            ApiError::Validation(vec![FieldProblem::new("f", "m")]),
            ApiError::MalformedJson("x".into()),
            ApiError::UnsupportedMediaType,
            ApiError::PayloadTooLarge(1),
            ApiError::Unauthorized("x"),
            ApiError::Forbidden("x".into()),
            ApiError::UserNotVerified(None),
            ApiError::UserDeniedAtApproval("x".into()),
            ApiError::VerificationUnavailable { timeout: true },
            ApiError::VerificationUnavailable { timeout: false },
            ApiError::NotFound,
            ApiError::IdempotencyConflict,
            ApiError::IdempotencyInProgress {
                retry_after_secs: None,
            },
            ApiError::InvalidState("x".into()),
            ApiError::PspNotConfigured("x".into()),
            ApiError::PspNotSupported("x".into()),
            ApiError::RoutingBlocked("x".into()),
            ApiError::NoEligibleAccount(vec![]),
            ApiError::Internal(anyhow::anyhow!("x")),
        ];
        for e in [
            ConnectorError::InvalidCredentials { status: 401 },
            ConnectorError::Config("x".into()),
            ConnectorError::Timeout,
            ConnectorError::Unreachable("x".into()),
            ConnectorError::Unavailable { status: 503 },
            ConnectorError::RateLimited,
            ConnectorError::Protocol("x".into()),
            ConnectorError::Unsupported("x".into()),
            ConnectorError::BadCallback("x".into()),
        ] {
            all.push(psp(e));
        }
        all
    }

    #[test]
    fn every_api_error_is_in_the_table_with_its_status() {
        for e in every_error() {
            let (status, code) = e.status_and_code();
            let entry = lookup(code).unwrap_or_else(|| panic!("{code} is not in ERROR_CODES"));
            assert!(
                entry.statuses.contains(&status.as_u16()),
                "{code} answered with {status}, table says {:?}",
                entry.statuses
            );
        }
    }

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ERROR_CODES {
            assert!(seen.insert(c.code), "{} twice", c.code);
            assert!(
                c.statuses.iter().all(|s| (400..600).contains(s)),
                "{}",
                c.code
            );
        }
    }
}
