//! `ServiceError`: every way a payment flow can refuse or fail, independent of HTTP. The API
//! maps it once to the Mozarto envelope (`api::error`), the back-office pages to their error
//! page (`backoffice::error`).

use overture_core::connector::ConnectorError;
use overture_core::store::StoreError;
use overture_core::TransactionId;

/// Failures of the payment flows (create, approve/reject, MP verification).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A request field the PSP requires or rejects.
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
    /// The caller may not do this (user token for another user, role without the right).
    #[error("Forbidden: {0}")]
    Forbidden(String),
    /// The MP's verify-user endpoint denied the user (its reason, when it gave one).
    #[error("User not verified by the merchant platform")]
    UserNotVerified(Option<String>),
    /// The MP denied the user at a held payout's deciding approval: the payout was rejected by
    /// the system with this reason (`merchant platform denied the user at approval: …`).
    #[error("{0}")]
    UserDeniedAtApproval(String),
    /// The MP's verify-user endpoint could not be asked: down, an error status, a redirect,
    /// unreadable, or slower than the verify timeout (`timeout`).
    #[error("User verification unavailable")]
    VerificationUnavailable { timeout: bool },
    /// No such transaction (or another company's).
    #[error("Not found")]
    NotFound,
    /// Another request stored a transaction under the same idempotency key first.
    #[error("idempotency key already taken")]
    IdempotencyKeyTaken,
    /// The transaction is no longer in a state that allows the action.
    #[error("{0}")]
    InvalidState(String),
    /// No enabled PSP account of this company serves the request.
    #[error("PSP configuration not found: {0}")]
    PspNotConfigured(String),
    /// The PSP cannot do this (type, currency, country).
    #[error("{0}")]
    PspNotSupported(String),
    /// A routing rule blocks the request.
    #[error("blocked by routing rule {rule:?}: {reason}")]
    RoutingBlocked {
        rule: String,
        version: i64,
        reason: String,
    },
    /// No candidate account can take the request: `(account, reason)` for each.
    #[error("no PSP account can take this request")]
    NoEligibleAccount(Vec<(String, String)>),
    /// A document (routing rules) with problems: `(path, message)` for each.
    #[error("invalid document")]
    InvalidDocument(Vec<(String, String)>),
    /// A PSP call failed before the transaction could be stored or decided.
    #[error("PSP error: {error}")]
    Psp {
        error: ConnectorError,
        transaction_id: Option<TransactionId>,
    },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<anyhow::Error> for ServiceError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}
