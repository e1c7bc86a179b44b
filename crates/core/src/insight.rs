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

/// Number of time-to-final histogram buckets in [`AccountOverview::buckets`].
pub const FINAL_BUCKETS: usize = 15;
/// Upper bounds (exclusive, ms) of the first 14 buckets; the last holds the rest.
pub const FINAL_BOUNDS_MS: [i64; 14] = [
    1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000,
    7_200_000, 21_600_000, 86_400_000,
];

/// What the overview covers: transactions created in `[from, to)` (ms), of one company or all,
/// with the time series in buckets of `bucket_ms` (a multiple of an hour).
#[derive(Clone, Debug)]
pub struct OverviewQuery {
    pub from: i64,
    pub to: i64,
    pub company: Option<CompanyId>,
    pub bucket_ms: i64,
}

/// One PSP account's final states in the period and the histogram of their times to final.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountOverview {
    pub psp_account_id: String,
    pub psp_type: String,
    pub approved: i64,
    pub declined: i64,
    pub failed: i64,
    pub rejected: i64,
    /// Approved, declined and failed transactions by time to final (see [`FINAL_BOUNDS_MS`]).
    pub buckets: [i64; FINAL_BUCKETS],
}

/// One bucket of the time series.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeriesPoint {
    /// Start of the bucket (ms).
    pub start: i64,
    pub approved: i64,
    /// Declined and failed.
    pub unsuccessful: i64,
    pub rejected: i64,
}

/// Webhook deliveries made in the period (one per final state reached in it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookHealth {
    pub total: i64,
    pub delivered_first_attempt: i64,
    pub delivered: i64,
    /// Not delivered yet, at least one attempt failed.
    pub failing: i64,
    pub dead: i64,
}

/// Everything the back office's overview shows.
#[derive(Clone, Debug, Default)]
pub struct Overview {
    /// Final states by type, state and currency (`UserTotal` rows: count and amount).
    pub totals: Vec<UserTotal>,
    pub accounts: Vec<AccountOverview>,
    pub series: Vec<SeriesPoint>,
    /// Transactions of the period not final yet.
    pub open: i64,
    pub queue_size: i64,
    /// Creation time of the oldest payout waiting for approval (any period).
    pub queue_oldest: Option<i64>,
    pub webhooks: WebhookHealth,
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
    /// The overview of a period (from the hourly rollups; see [`Overview`]).
    async fn overview(&self, query: &OverviewQuery) -> Result<Overview, StoreError>;
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
