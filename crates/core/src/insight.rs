//! What the back office's investigation reads beyond the payment rows: the PSP exchange log,
//! every HTTP exchange Overture had with a PSP and every callback a PSP sent, with credentials,
//! signatures and personal data masked before they are stored. Kept for a configurable number of
//! days.

use crate::backoffice::TxnSearch;
use crate::domain::{Transaction, TxnType};
use crate::ids::{AttemptId, CompanyId, PspAccountId, TransactionId};
use crate::state::TxnState;
use crate::store::StoreError;
use async_trait::async_trait;

/// Which way an exchange went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeDirection {
    /// Overture called the PSP (create, status, credentials test).
    Outbound,
    /// The PSP called Overture (a callback, notification or webhook).
    Callback,
}

impl ExchangeDirection {
    /// `outbound` or `callback`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbound => "outbound",
            Self::Callback => "callback",
        }
    }

    /// Parses [`ExchangeDirection::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "outbound" => Some(Self::Outbound),
            "callback" => Some(Self::Callback),
            _ => None,
        }
    }
}

/// One logged exchange. Excerpts are masked and at most a few KiB.
#[derive(Clone, Debug)]
pub struct PspExchange {
    /// Assigned by the store (0 before).
    pub id: i64,
    /// The transaction it belongs to, when known (a credentials test has none; a callback
    /// naming an unknown order neither).
    pub transaction_id: Option<TransactionId>,
    pub attempt_id: Option<AttemptId>,
    pub psp_account_id: PspAccountId,
    pub psp_type: String,
    pub direction: ExchangeDirection,
    /// `create`, `status`, `credentials-test`, `callback`.
    pub operation: String,
    pub method: String,
    /// Path and query, masked.
    pub path: String,
    /// The PSP's answer (outbound) or Overture's (callback); `None` without an answer.
    pub http_status: Option<i32>,
    /// Outbound only.
    pub latency_ms: Option<i64>,
    pub request_excerpt: String,
    pub response_excerpt: String,
    /// Outbound: the classified error, if any. Callback: what Overture did with it.
    pub outcome: Option<String>,
    /// Milliseconds since the epoch.
    pub at: i64,
}

/// One line of a user's totals with a company: how many transactions of a type ended in a
/// state, per currency, and their sum (minor units).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserTotal {
    pub txn_type: TxnType,
    pub state: TxnState,
    pub currency: String,
    pub count: i64,
    pub sum_minor: i64,
}

/// A user's history with a company, as an approver sees it beside a held payout.
#[derive(Clone, Debug, Default)]
pub struct UserHistory {
    pub totals: Vec<UserTotal>,
    /// The most recent transactions, newest first.
    pub recent: Vec<Transaction>,
}

/// Storage of the exchange log.
#[async_trait]
pub trait InsightStore: Send + Sync + 'static {
    /// Appends a batch of exchanges (one statement).
    async fn record_exchanges(&self, batch: &[PspExchange]) -> Result<(), StoreError>;
    /// A transaction's exchanges, oldest first.
    async fn exchanges(&self, transaction: &TransactionId) -> Result<Vec<PspExchange>, StoreError>;
    /// Deletes exchanges older than `before` (ms); returns how many.
    async fn prune_exchanges(&self, before: i64) -> Result<u64, StoreError>;
    /// How many transactions a back-office search matches (its paging ignored).
    async fn count_transactions(&self, search: &TxnSearch) -> Result<i64, StoreError>;
    /// `user`'s transactions with `company`: totals by type, final state and currency, and the
    /// `recent` most recent ones (newest first).
    async fn user_history(
        &self,
        company: &CompanyId,
        user: &str,
        recent: i64,
    ) -> Result<UserHistory, StoreError>;
}
