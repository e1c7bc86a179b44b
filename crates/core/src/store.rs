//! The `Store` trait: every persistent operation Overture performs. Implemented for SQLite and
//! PostgreSQL in `overture-store`, and checked on both by one conformance suite.

use crate::attempt::{Attempt, AttemptWrite};
use crate::backoffice::{AuditEntry, BackofficeStore};
use crate::domain::*;
use crate::ids::*;
use crate::insight::InsightStore;
use crate::manage::ManageStore;
use crate::routing::Usage;
use crate::state::TxnState;
use async_trait::async_trait;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row changed since it was read (optimistic lock), or the transition is no longer
    /// possible from its current state.
    #[error("concurrent update of {0}")]
    Conflict(String),
    /// A unique key already exists (e.g. the same idempotency key).
    #[error("duplicate {0}")]
    Duplicate(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// A row that does not decode (corrupt or written by a newer version).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A webhook event to write in the same DB transaction as a final state.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    pub id: WebhookId,
    pub payload: String,
}

/// One state change, applied atomically with its event row, its outbox row (when the new
/// state is final) and its audit record (when an operator caused it).
#[derive(Clone, Debug)]
pub struct Transition {
    pub transaction_id: TransactionId,
    /// The version read; the update fails with `Conflict` if the row moved on.
    pub expected_version: i64,
    pub from: TxnState,
    pub to: TxnState,
    pub actor: Actor,
    pub reason: Option<String>,
    pub at: i64,
    /// What the transition does to the attempts: update the live one, start a new one (which
    /// also resets the transaction's PSP fields to the new attempt's), or nothing.
    pub attempt: AttemptWrite,
    /// Field updates written with the state (each `None` leaves the column as is).
    pub psp_status: Option<String>,
    pub psp_transaction_id: Option<String>,
    pub psp_stage: Option<String>,
    pub message: Option<String>,
    pub redirect_url: Option<String>,
    /// When to poll next; `None` clears the schedule.
    pub next_poll_at: Option<i64>,
    pub webhook: Option<NewWebhook>,
    /// The operator action this transition carries out (approve, reject), written in the same
    /// DB transaction: if the audit record cannot be written, the state does not change.
    /// `None` on the payment paths (PSP and system transitions).
    pub audit: Option<AuditEntry>,
    /// A non-final change that a status query can redo after a crash (the PSP accepted the
    /// order: `submitting` → `pending`). The store may commit it without waiting for the disk
    /// (PostgreSQL `synchronous_commit = off`), so it costs the request no flush. Never set on
    /// final states, on the commit that must precede a PSP call, or with an audit record.
    pub recoverable: bool,
}

impl Transition {
    /// A bare transition of `txn` to `to`; fill the optional fields as needed.
    pub fn of(txn: &Transaction, to: TxnState, actor: Actor, at: i64) -> Self {
        Self {
            transaction_id: txn.id.clone(),
            expected_version: txn.version,
            from: txn.state,
            to,
            actor,
            reason: None,
            at,
            attempt: AttemptWrite::None,
            psp_status: None,
            psp_transaction_id: None,
            psp_stage: None,
            message: None,
            redirect_url: None,
            next_poll_at: None,
            webhook: None,
            audit: None,
            recoverable: false,
        }
    }

    /// Records what the PSP said: its status word, order id, stage marker and message.
    pub fn record_psp(&mut self, u: &crate::connector::PspUpdate) {
        self.psp_status = Some(u.raw_status.clone());
        self.psp_transaction_id = u.psp_transaction_id.clone();
        self.psp_stage = u.stage.clone();
        self.message = u.message.clone();
    }
}

/// A version of a company's routing rules document as stored.
#[derive(Clone, Debug)]
pub struct StoredRules {
    pub company_id: CompanyId,
    /// 1, 2, … per company; the highest is the active one.
    pub version: i64,
    /// The document's JSON text as accepted.
    pub document: String,
    pub created_at: i64,
    /// Who stored it: `merchant` (API), `cli`, `operator:<id>`.
    pub created_by: String,
}

/// Non-state field updates on a transaction (PSP progress that does not change the state).
#[derive(Clone, Debug, Default)]
pub struct ProgressUpdate {
    pub psp_status: Option<String>,
    pub psp_transaction_id: Option<String>,
    pub psp_stage: Option<String>,
    pub redirect_url: Option<String>,
}

/// The outcome of one webhook HTTP attempt, recorded with the delivery's next step.
#[derive(Clone, Debug)]
pub struct WebhookAttemptResult {
    pub attempt: WebhookAttempt,
    /// Delivered (2xx), retry at a time, or dead-lettered.
    pub next: DeliveryNext,
}

/// What happens to a delivery after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryNext {
    Delivered,
    RetryAt(i64),
    Dead,
}

/// Search filter for transactions (back office and status lookups). `None` fields match all.
#[derive(Clone, Debug, Default)]
pub struct TxnFilter {
    pub company_id: Option<CompanyId>,
    pub state: Option<TxnState>,
    pub limit: i64,
}

/// Every persistent operation Overture performs. All times are milliseconds since the Unix
/// epoch. Implemented by anything that implements the parts.
pub trait Store:
    CompanyStore + TransactionStore + WorkStore + BackofficeStore + InsightStore + ManageStore
{
}

impl<
        T: CompanyStore + TransactionStore + WorkStore + BackofficeStore + InsightStore + ManageStore,
    > Store for T
{
}

/// Companies, PSP accounts and operators.
#[async_trait]
pub trait CompanyStore: Send + Sync + 'static {
    async fn insert_company(&self, company: &Company) -> Result<(), StoreError>;
    async fn company(&self, id: &CompanyId) -> Result<Option<Company>, StoreError>;
    async fn count_companies(&self) -> Result<i64, StoreError>;
    async fn insert_psp_account(&self, account: &PspAccount) -> Result<(), StoreError>;
    async fn psp_account(&self, id: &PspAccountId) -> Result<Option<PspAccount>, StoreError>;
    /// A company's accounts, highest priority first.
    async fn psp_accounts(&self, company: &CompanyId) -> Result<Vec<PspAccount>, StoreError>;
    /// Rewrites an account's settings: base URL, credentials, enabled, priority, limits.
    async fn update_psp_account(&self, account: &PspAccount) -> Result<(), StoreError>;
    /// Stores a rules document as the company's next version and makes it active, in one
    /// statement; returns the version. Concurrent stores get distinct versions. With `audit`
    /// (an operator's change) the audit record is written in the same DB transaction.
    async fn put_routing_rules(
        &self,
        company: &CompanyId,
        document: &str,
        at: i64,
        created_by: &str,
        audit: Option<&AuditEntry>,
    ) -> Result<i64, StoreError>;
    /// The active (highest) version of the company's rules, if any was stored.
    async fn routing_rules(&self, company: &CompanyId) -> Result<Option<StoredRules>, StoreError>;
    /// Every stored version, newest first.
    async fn routing_rule_versions(
        &self,
        company: &CompanyId,
    ) -> Result<Vec<StoredRules>, StoreError>;
    async fn insert_operator(&self, operator: &Operator) -> Result<(), StoreError>;
    async fn operator_by_token(&self, token_sha256: &str) -> Result<Option<Operator>, StoreError>;
}

/// Transactions, their history and idempotency records.
#[async_trait]
pub trait TransactionStore: Send + Sync + 'static {
    /// Inserts a new transaction with its first events, its first attempt (when it is sent at
    /// once) and, when given, its idempotency record (`Duplicate` if that key exists). One DB
    /// transaction.
    async fn create_transaction(
        &self,
        txn: &Transaction,
        events: &[TransactionEvent],
        attempt: Option<&Attempt>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;
    /// A transaction's attempts, first first.
    async fn attempts(&self, id: &TransactionId) -> Result<Vec<Attempt>, StoreError>;
    /// The attempt that sent `order` to its PSP.
    async fn attempt_by_order(&self, order: &OrderId) -> Result<Option<Attempt>, StoreError>;
    /// What `account` accepted since `since` (ms): attempts the PSP accepted and their amounts.
    async fn account_usage(&self, account: &PspAccountId, since: i64) -> Result<Usage, StoreError>;
    async fn transaction(&self, id: &TransactionId) -> Result<Option<Transaction>, StoreError>;
    async fn transaction_by_session(
        &self,
        id: &SessionId,
    ) -> Result<Option<Transaction>, StoreError>;
    async fn events(&self, id: &TransactionId) -> Result<Vec<TransactionEvent>, StoreError>;
    async fn list_transactions(&self, filter: &TxnFilter) -> Result<Vec<Transaction>, StoreError>;
    /// Applies a state change (see [`Transition`]); returns the updated row.
    async fn transition(&self, transition: &Transition) -> Result<Transaction, StoreError>;
    /// Records PSP progress without a state change (version-checked); returns the updated row.
    async fn record_progress(
        &self,
        id: &TransactionId,
        expected_version: i64,
        update: &ProgressUpdate,
        at: i64,
    ) -> Result<Transaction, StoreError>;

    async fn idempotency(
        &self,
        company: &CompanyId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    /// Stores the first response (HTTP status, body) given for an idempotency key.
    async fn save_idempotent_response(
        &self,
        company: &CompanyId,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError>;
}

/// How much background work is waiting, across every node sharing the database (for the
/// `/metrics` queue gauges).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepths {
    /// Transactions whose next poll is due (`next_poll_at <= now`).
    pub due_polls: i64,
    /// Webhook deliveries not yet delivered or dead (`pending`), due or scheduled later.
    pub pending_webhooks: i64,
}

/// Leased background work: the status poller's due transactions and the webhook outbox.
#[async_trait]
pub trait WorkStore: Send + Sync + 'static {
    /// Claims up to `limit` transactions due for a poll (`next_poll_at <= now`), oldest due
    /// first, and in the same DB transaction moves each one's `next_poll_at` to
    /// `next_due(row)` — when to poll it again should this poll find nothing new — and counts
    /// the attempt. That new time is also the claim: no node takes the row again before it, so
    /// a poll in flight needs no separate lease, and the common poll (nothing new) costs this one
    /// row write. A poll that does find something writes its own schedule with the state change.
    /// Several nodes may call this at once; each row goes to one of them. Returns the rows as
    /// they were before the claim.
    async fn claim_due_polls(
        &self,
        now: i64,
        limit: i64,
        next_due: &(dyn for<'t> Fn(&'t Transaction) -> i64 + Send + Sync),
    ) -> Result<Vec<Transaction>, StoreError>;
    /// For each `(transaction, next poll time)` (`None`: stop polling): sets the next poll
    /// time, in one statement. A transaction that reached a final state meanwhile keeps its
    /// cleared schedule.
    async fn reschedule_polls(
        &self,
        polls: &[(TransactionId, Option<i64>)],
    ) -> Result<(), StoreError>;

    /// Claims up to `limit` pending deliveries due at `now`, leased until `lease_until`.
    async fn claim_due_webhooks(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;
    async fn record_webhook_attempt(&self, result: &WebhookAttemptResult)
        -> Result<(), StoreError>;
    async fn webhooks_for_transaction(
        &self,
        id: &TransactionId,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;
    async fn webhook_attempts(&self, id: &WebhookId) -> Result<Vec<WebhookAttempt>, StoreError>;
    /// Counts the due polls and pending webhooks at `now` (two index-backed counts; meant to
    /// be called every few seconds, not per request).
    async fn queue_depths(&self, now: i64) -> Result<QueueDepths, StoreError>;
}
