//! The `BackofficeStore` trait: what the operator back office persists beyond the payment
//! flows — operator passwords and the login throttle, sessions, the append-only audit log,
//! transaction search, four-eyes approvals, problem webhook deliveries and PSP account
//! switches. Implemented for SQLite and PostgreSQL in `overture-store`.

use crate::domain::*;
use crate::ids::*;
use crate::state::TxnState;
use crate::store::StoreError;
use async_trait::async_trait;
use rust_decimal::Decimal;

/// An operator as seen by the login form: the operator and their password hash.
#[derive(Clone, Debug)]
pub struct OperatorLogin {
    pub operator: Operator,
    /// PHC string of an argon2id hash; `None` for token-only operators (no web login).
    pub password_hash: Option<String>,
}

/// What a failed-login counter counts: the client's network address, or the account the
/// login named. Each scope has its own [`Backoff`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleScope {
    Address,
    Account,
}

impl ThrottleScope {
    /// The stored prefix (`"address"`, `"account"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::Account => "account",
        }
    }
}

/// The key of one failed-login counter, stored as `<scope>:<id>`, e.g. `address:203.0.113.7`,
/// `account:opr_…` or `account:email-sha256:<hex>` (an email no operator has).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ThrottleKey {
    scope: ThrottleScope,
    text: String,
}

impl ThrottleKey {
    /// The counter of `id` in `scope`.
    pub fn new(scope: ThrottleScope, id: &str) -> Self {
        Self {
            scope,
            text: format!("{}:{id}", scope.as_str()),
        }
    }

    /// Parses a stored key; `None` without a known scope prefix.
    pub fn parse(text: &str) -> Option<Self> {
        let (prefix, id) = text.split_once(':')?;
        [ThrottleScope::Address, ThrottleScope::Account]
            .into_iter()
            .find(|s| s.as_str() == prefix)
            .map(|scope| Self::new(scope, id))
    }

    pub fn scope(&self) -> ThrottleScope {
        self.scope
    }

    /// The stored form, `<scope>:<id>`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Backoff of one kind of failed-login counter: the first `free_failures` failures cost
/// nothing; each failure after them makes the next attempt wait, `first_wait_ms` after the
/// first such failure and twice as long after each further one, never more than
/// `max_wait_ms`. Times in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub free_failures: i64,
    pub first_wait_ms: i64,
    pub max_wait_ms: i64,
}

impl Backoff {
    /// How long (ms) the next attempt must wait after the `failures`-th failure in a row.
    pub fn wait_ms(&self, failures: i64) -> i64 {
        let beyond = failures.saturating_sub(self.free_failures);
        if beyond <= 0 {
            return 0;
        }
        // 2^62 already exceeds any sensible cap; stop doubling there to avoid overflow.
        let doublings = u32::try_from(beyond - 1).unwrap_or(u32::MAX).min(62);
        self.first_wait_ms
            .max(0)
            .saturating_mul(1_i64 << doublings)
            .min(self.max_wait_ms.max(0))
    }
}

/// The login throttle: one [`Backoff`] per [`ThrottleScope`], and how long a counter
/// remembers failures (a counter whose last failure is `reset_after_ms` old starts again at
/// zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub per_address: Backoff,
    pub per_account: Backoff,
    pub reset_after_ms: i64,
}

impl ThrottlePolicy {
    /// The backoff of `scope`.
    pub fn backoff(&self, scope: ThrottleScope) -> &Backoff {
        match scope {
            ThrottleScope::Address => &self.per_address,
            ThrottleScope::Account => &self.per_account,
        }
    }
}

/// One failed-login counter as stored. Times in ms since the epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginThrottle {
    pub key: ThrottleKey,
    /// Failures in a row (each within `reset_after_ms` of the one before).
    pub failures: i64,
    pub last_failure_at: i64,
    /// No attempt under this key is checked before this time.
    pub blocked_until: i64,
}

impl LoginThrottle {
    /// Milliseconds an attempt at `now` must still wait (0 when it may go ahead).
    pub fn wait_ms(&self, now: i64) -> i64 {
        (self.blocked_until - now).max(0)
    }
}

/// A failed login, recorded in one DB transaction: a failure counted against every key
/// (under `policy`) and its `login_failed` audit record.
#[derive(Clone, Debug)]
pub struct FailedLogin {
    pub keys: Vec<ThrottleKey>,
    pub at: i64,
    pub policy: ThrottlePolicy,
    pub audit: AuditEntry,
}

/// A successful login, recorded in one DB transaction: the new session, the cleared
/// counters of `clear`, and the `login` audit record.
#[derive(Clone, Debug)]
pub struct SuccessfulLogin {
    pub session: OperatorSession,
    pub clear: Vec<ThrottleKey>,
    pub audit: AuditEntry,
}

/// A logged-in browser session. Only the SHA-256 of the cookie value is stored, so a copy of
/// the database does not hand out live sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorSession {
    /// SHA-256 (hex) of the session cookie value.
    pub id_sha256: String,
    pub operator_id: OperatorId,
    /// The per-session CSRF token every form must echo.
    pub csrf_token: String,
    pub created_at: i64,
    /// Last request seen (idle expiry counts from here).
    pub last_seen_at: i64,
    /// Absolute expiry, whatever the activity.
    pub expires_at: i64,
}

/// What an operator did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Login,
    /// Wrong password (or unknown email).
    LoginFailed,
    /// Written by versions before the login throttle, which locked accounts; kept so their
    /// audit records still read. Nothing writes it any more.
    LoginLocked,
    Logout,
    /// Approval of a held payout (first of two under four-eyes, or the deciding one).
    Approve,
    Reject,
    Redeliver,
    EnableAccount,
    DisableAccount,
    /// A password was set from the command line.
    SetPassword,
    /// A company's routing rules were replaced (a new version, or a roll-back to an old one).
    SetRoutingRules,
    /// An administrator disabled an operator from the command line.
    DisableOperator,
    /// An administrator changed a company's settings in the back office.
    UpdateCompany,
    /// An administrator ran a PSP account's credentials test (a call to the PSP).
    TestCredentials,
}

impl AuditAction {
    /// Every action, for filters.
    pub const ALL: [AuditAction; 14] = [
        Self::Login,
        Self::LoginFailed,
        Self::LoginLocked,
        Self::Logout,
        Self::Approve,
        Self::Reject,
        Self::Redeliver,
        Self::EnableAccount,
        Self::DisableAccount,
        Self::SetPassword,
        Self::SetRoutingRules,
        Self::DisableOperator,
        Self::UpdateCompany,
        Self::TestCredentials,
    ];

    /// The stored name (`"login_failed"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::LoginLocked => "login_locked",
            Self::Logout => "logout",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Redeliver => "redeliver",
            Self::EnableAccount => "enable_account",
            Self::DisableAccount => "disable_account",
            Self::SetPassword => "set_password",
            Self::SetRoutingRules => "set_routing_rules",
            Self::DisableOperator => "disable_operator",
            Self::UpdateCompany => "update_company",
            Self::TestCredentials => "test_credentials",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// One append-only audit record: who, what, when, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Assigned by the store (ascending); ignored on insert.
    pub id: i64,
    pub at: i64,
    /// `None` when no operator matched (a failed login with an unknown email).
    pub operator_id: Option<OperatorId>,
    /// The operator's email, or the email typed at a failed login.
    pub operator_email: String,
    pub action: AuditAction,
    /// What was acted on (`txn_…`, `msg_…`, `psp_…`).
    pub target: Option<String>,
    /// The operator's reason.
    pub reason: Option<String>,
    /// Context: channel (web/api/cli), client address, outcome.
    pub detail: Option<String>,
}

/// Audit log filter, newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub operator_id: Option<OperatorId>,
    pub action: Option<AuditAction>,
    pub limit: i64,
    pub offset: i64,
}

/// One page of results.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// More rows exist after this page.
    pub has_more: bool,
}

/// Result order of a transaction search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchOrder {
    /// Newest first (investigations).
    #[default]
    NewestFirst,
    /// Oldest first (the approval queue).
    OldestFirst,
}

/// Transaction search: every `Some` field must match exactly; times bound `created_at`.
#[derive(Clone, Debug, Default)]
pub struct TxnSearch {
    pub transaction_id: Option<TransactionId>,
    pub session_id: Option<SessionId>,
    pub psp_transaction_id: Option<String>,
    pub user_id: Option<String>,
    pub merchant_reference: Option<String>,
    pub state: Option<TxnState>,
    pub txn_type: Option<TxnType>,
    pub psp_type: Option<PspType>,
    pub company_id: Option<CompanyId>,
    /// Created at or after (ms).
    pub created_from: Option<i64>,
    /// Created strictly before (ms).
    pub created_before: Option<i64>,
    pub currency: Option<crate::money::Currency>,
    /// Amount at least this, in minor units of `currency`.
    pub amount_min: Option<i64>,
    /// Amount at most this, in minor units of `currency`.
    pub amount_max: Option<i64>,
    /// Keyset position: only rows after this `(created_at, id)` in `order` (export paging,
    /// the merchant API's cursors); stable while rows are inserted.
    pub after: Option<(i64, TransactionId)>,
    pub order: SearchOrder,
    pub limit: i64,
    pub offset: i64,
}

/// One operator's approval of a held payout (four-eyes keeps the first one here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutApproval {
    pub transaction_id: TransactionId,
    pub operator_id: OperatorId,
    pub reason: Option<String>,
    pub at: i64,
}

/// One operator's approval of a held payout as recorded by
/// [`BackofficeStore::record_approval`]: the approval, how many approvals the caller saw
/// before it, and the audit record, all written in one DB transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApproval {
    pub approval: PayoutApproval,
    /// Approvals the payout had when the caller read it. Recording fails with `Conflict` when
    /// another operator approved in between, so an audit record's "approval k of n" is never
    /// stale.
    pub prior: usize,
    pub audit: AuditEntry,
}

/// A company's name and approval settings (no secrets), for lists and filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompanySummary {
    pub id: CompanyId,
    pub name: String,
    pub payout_approval_threshold: Option<Decimal>,
    /// Held payouts at or above this need two different operators' approvals.
    pub four_eyes_threshold: Option<Decimal>,
}

/// Which problem deliveries to list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeliveryProblem {
    /// Dead-lettered or failing.
    #[default]
    Any,
    /// Retries exhausted.
    Dead,
    /// Still pending after at least one failed attempt.
    Failing,
}

/// Problem webhook deliveries, oldest first.
#[derive(Clone, Debug, Default)]
pub struct DeliveryQuery {
    pub problem: DeliveryProblem,
    pub company_id: Option<CompanyId>,
    pub limit: i64,
    pub offset: i64,
}

/// Final outcomes of one PSP account's transactions over a recent window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PspAccountStats {
    pub psp_account_id: PspAccountId,
    /// Reached `approved`.
    pub approved: i64,
    /// Reached `declined` or `failed` (operator rejections are not the PSP's doing).
    pub unsuccessful: i64,
}

impl PspAccountStats {
    /// Approved share of PSP outcomes in whole percent; `None` without any outcome.
    pub fn success_percent(&self) -> Option<i64> {
        let total = self.approved + self.unsuccessful;
        (total > 0).then(|| (self.approved * 100 + total / 2) / total)
    }
}

/// Back-office persistence. All times are milliseconds since the Unix epoch.
#[async_trait]
pub trait BackofficeStore: Send + Sync + 'static {
    /// An operator by id.
    async fn operator(&self, id: &OperatorId) -> Result<Option<Operator>, StoreError>;
    /// An operator by email (case-insensitive), with their password hash.
    async fn operator_login(&self, email: &str) -> Result<Option<OperatorLogin>, StoreError>;
    /// Sets the password hash and appends `audit`, in one DB transaction. `NotFound` (and no
    /// audit record) for an unknown operator.
    async fn set_operator_password(
        &self,
        id: &OperatorId,
        password_hash: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// The stored failed-login counters among `keys`, in the order of `keys` (keys without
    /// failures have none).
    async fn login_throttles(&self, keys: &[ThrottleKey])
        -> Result<Vec<LoginThrottle>, StoreError>;
    /// Counts one failure against each key and appends the audit record, in one DB transaction.
    /// A key's count restarts at 1 when its last failure is `policy.reset_after_ms` old; its
    /// `blocked_until` becomes `at` + the scope's [`Backoff::wait_ms`] of the new count (never
    /// earlier than it was). Concurrent failures are all counted. Returns the new counters.
    async fn record_failed_login(
        &self,
        failed: &FailedLogin,
    ) -> Result<Vec<LoginThrottle>, StoreError>;
    /// Inserts the session, deletes the counters of `login.clear` and appends the audit
    /// record, in one DB transaction.
    async fn record_login(&self, login: &SuccessfulLogin) -> Result<(), StoreError>;
    /// Deletes the session and appends `audit`, in one DB transaction. `false` (and no audit
    /// record) when there was no such session.
    async fn record_logout(&self, id_sha256: &str, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Deletes counters whose last failure was before `last_failure_before` and whose wait is
    /// over at `now` (they would start again at zero anyway).
    async fn delete_stale_login_throttles(
        &self,
        last_failure_before: i64,
        now: i64,
    ) -> Result<u64, StoreError>;

    async fn session(&self, id_sha256: &str) -> Result<Option<OperatorSession>, StoreError>;
    /// Records activity (idle expiry counts from `at`).
    async fn touch_session(&self, id_sha256: &str, at: i64) -> Result<(), StoreError>;
    /// Deletes a session without an audit record (expiry).
    async fn delete_session(&self, id_sha256: &str) -> Result<(), StoreError>;
    /// Deletes sessions past `expires_at <= now` or idle since before `idle_before`.
    async fn delete_expired_sessions(&self, now: i64, idle_before: i64) -> Result<u64, StoreError>;

    // Audit records are only ever appended by the operation they record, in its DB transaction
    // (`Transition::audit`, `record_approval`, `redeliver_webhook`, …), so no change can exist
    // without its record. The one stand-alone append is for actions with no effect in the
    // database (below). There is no update or delete.

    /// Appends the record of an operator action that changes nothing in the database (a PSP
    /// account's credentials test: a call to the PSP), after the action.
    async fn record_external_action(&self, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Audit records, newest first.
    async fn audit_log(&self, query: &AuditQuery) -> Result<Page<AuditEntry>, StoreError>;

    /// Transactions matching every given filter, paged.
    async fn search_transactions(&self, query: &TxnSearch)
        -> Result<Page<Transaction>, StoreError>;

    /// Every company, by name.
    async fn company_summaries(&self) -> Result<Vec<CompanySummary>, StoreError>;
    async fn four_eyes_threshold(&self, company: &CompanyId)
        -> Result<Option<Decimal>, StoreError>;
    /// Sets (or clears) the four-eyes threshold. `NotFound` for an unknown company.
    async fn set_four_eyes_threshold(
        &self,
        company: &CompanyId,
        threshold: Option<Decimal>,
    ) -> Result<(), StoreError>;
    /// Records an approval of a payout still in `awaiting_approval` with its audit record, in
    /// one DB transaction, and returns all its approvals, in order. Serialised per transaction,
    /// so two operators approving at once both see each other. `Conflict` when the payout is
    /// no longer held or no longer has exactly `prior` approvals; `Duplicate` when this
    /// operator already approved. Nothing is written on any error.
    async fn record_approval(&self, new: &NewApproval) -> Result<Vec<PayoutApproval>, StoreError>;
    async fn approvals(&self, id: &TransactionId) -> Result<Vec<PayoutApproval>, StoreError>;

    /// Dead-lettered and/or failing deliveries, oldest first.
    async fn problem_deliveries(
        &self,
        query: &DeliveryQuery,
    ) -> Result<Page<WebhookDelivery>, StoreError>;
    async fn webhook_delivery(&self, id: &WebhookId)
        -> Result<Option<WebhookDelivery>, StoreError>;
    /// Makes a dead or pending delivery due at `now` again, keeping its `webhook-id`, payload
    /// and attempt count, and appends `audit` (an operator's redelivery; `None` for the
    /// merchant's own), in one DB transaction. `Conflict` when it was delivered or is being
    /// attempted right now, `NotFound` when there is no such delivery (no audit record either
    /// way).
    async fn redeliver_webhook(
        &self,
        id: &WebhookId,
        now: i64,
        audit: Option<&AuditEntry>,
    ) -> Result<WebhookDelivery, StoreError>;

    /// Enables or disables an account and appends `audit`, in one DB transaction; routing
    /// reads the flag on every request. `NotFound` (and no audit record) for an unknown account.
    async fn set_psp_account_enabled(
        &self,
        id: &PspAccountId,
        enabled: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Outcomes per account of transactions created at or after `since`.
    async fn psp_account_stats(&self, since: i64) -> Result<Vec<PspAccountStats>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(AuditAction::parse("drop"), None);
    }

    #[test]
    fn success_percent_rounds_and_needs_outcomes() {
        let stats = |approved, unsuccessful| PspAccountStats {
            psp_account_id: PspAccountId::generate(),
            approved,
            unsuccessful,
        };
        assert_eq!(stats(0, 0).success_percent(), None);
        assert_eq!(stats(2, 1).success_percent(), Some(67));
        assert_eq!(stats(5, 0).success_percent(), Some(100));
    }

    #[test]
    fn backoff_is_free_then_doubles_up_to_its_cap() {
        let b = Backoff {
            free_failures: 5,
            first_wait_ms: 1_000,
            max_wait_ms: 30_000,
        };
        let waits: Vec<i64> = (0..=12).map(|n| b.wait_ms(n)).collect();
        assert_eq!(
            waits,
            [0, 0, 0, 0, 0, 0, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
        );
        assert_eq!(b.wait_ms(i64::MAX), 30_000, "no overflow");
        let none = Backoff {
            free_failures: 0,
            first_wait_ms: 0,
            max_wait_ms: 60_000,
        };
        assert_eq!(none.wait_ms(50), 0, "a zero first wait never throttles");
    }

    #[test]
    fn throttle_keys_round_trip_and_wait_counts_from_now() {
        let k = ThrottleKey::new(ThrottleScope::Account, "email-sha256:ab:cd");
        assert_eq!(k.as_str(), "account:email-sha256:ab:cd");
        assert_eq!(ThrottleKey::parse(k.as_str()), Some(k.clone()));
        assert_eq!(
            ThrottleKey::parse("address:203.0.113.7").map(|k| k.scope()),
            Some(ThrottleScope::Address)
        );
        assert_eq!(ThrottleKey::parse("ip:1.2.3.4"), None);
        let t = LoginThrottle {
            key: k,
            failures: 7,
            last_failure_at: 100,
            blocked_until: 2_100,
        };
        assert_eq!(
            (t.wait_ms(100), t.wait_ms(2_100), t.wait_ms(9_000)),
            (2_000, 0, 0)
        );
    }
}
