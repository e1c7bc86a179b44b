//! The `BackofficeStore` trait: what the operator back office persists beyond the payment
//! flows — operator passwords and login lockout, sessions, the append-only audit log,
//! transaction search, four-eyes approvals, problem webhook deliveries and PSP account
//! switches. Implemented for SQLite and PostgreSQL in `overture-store`.

use crate::domain::*;
use crate::ids::*;
use crate::state::TxnState;
use crate::store::StoreError;
use async_trait::async_trait;
use rust_decimal::Decimal;

/// An operator as seen by the login form: the password hash and the lockout counters.
#[derive(Clone, Debug)]
pub struct OperatorLogin {
    pub operator: Operator,
    /// PHC string of an argon2id hash; `None` for token-only operators (no web login).
    pub password_hash: Option<String>,
    /// Consecutive failed logins since the last success or lock.
    pub failed_logins: i32,
    /// Logins are refused until this time (ms since the epoch).
    pub locked_until: Option<i64>,
}

impl OperatorLogin {
    /// Whether logins are refused at `now`.
    pub fn is_locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// How many failures lock an account, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: i32,
    pub lock_ms: i64,
}

/// The counters after a failed login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginFailure {
    pub failed_logins: i32,
    /// Set when this failure locked the account.
    pub locked_until: Option<i64>,
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
    /// A login refused because the account is locked, or the failure that locked it.
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
}

impl AuditAction {
    /// Every action, for filters.
    pub const ALL: [AuditAction; 10] = [
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
    /// An operator by email (case-insensitive), with password hash and lockout counters.
    async fn operator_login(&self, email: &str) -> Result<Option<OperatorLogin>, StoreError>;
    /// Sets the password hash and clears the lockout. `NotFound` for an unknown operator.
    async fn set_operator_password(
        &self,
        id: &OperatorId,
        password_hash: &str,
    ) -> Result<(), StoreError>;
    /// Counts a failed login atomically; the failure that reaches `policy.max_failures`
    /// locks the account until `now + policy.lock_ms` and restarts the count.
    async fn record_login_failure(
        &self,
        id: &OperatorId,
        now: i64,
        policy: &LockoutPolicy,
    ) -> Result<LoginFailure, StoreError>;
    /// Resets the failure count after a successful login.
    async fn clear_login_failures(&self, id: &OperatorId) -> Result<(), StoreError>;

    async fn insert_session(&self, session: &OperatorSession) -> Result<(), StoreError>;
    async fn session(&self, id_sha256: &str) -> Result<Option<OperatorSession>, StoreError>;
    /// Records activity (idle expiry counts from `at`).
    async fn touch_session(&self, id_sha256: &str, at: i64) -> Result<(), StoreError>;
    async fn delete_session(&self, id_sha256: &str) -> Result<(), StoreError>;
    /// Deletes sessions past `expires_at <= now` or idle since before `idle_before`.
    async fn delete_expired_sessions(&self, now: i64, idle_before: i64) -> Result<u64, StoreError>;

    /// Appends one audit record. There is no update or delete.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
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
    /// Records an approval of a payout still in `awaiting_approval` (else `Conflict`) and
    /// returns all its approvals, in order. Serialised per transaction, so two operators
    /// approving at once both see each other. `Duplicate` when this operator already approved.
    async fn record_approval(
        &self,
        approval: &PayoutApproval,
    ) -> Result<Vec<PayoutApproval>, StoreError>;
    async fn approvals(&self, id: &TransactionId) -> Result<Vec<PayoutApproval>, StoreError>;

    /// Dead-lettered and/or failing deliveries, oldest first.
    async fn problem_deliveries(
        &self,
        query: &DeliveryQuery,
    ) -> Result<Page<WebhookDelivery>, StoreError>;
    async fn webhook_delivery(&self, id: &WebhookId)
        -> Result<Option<WebhookDelivery>, StoreError>;
    /// Makes a dead or pending delivery due at `now` again, keeping its `webhook-id`, payload
    /// and attempt count. `Conflict` when it was delivered or is being attempted right now.
    async fn redeliver_webhook(
        &self,
        id: &WebhookId,
        now: i64,
    ) -> Result<WebhookDelivery, StoreError>;

    /// Enables or disables an account; routing reads the flag on every request.
    async fn set_psp_account_enabled(
        &self,
        id: &PspAccountId,
        enabled: bool,
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
    fn lock_is_checked_against_now() {
        let login = OperatorLogin {
            operator: Operator {
                id: OperatorId::generate(),
                email: "a@b.c".into(),
                role: Role::Viewer,
                token_sha256: String::new(),
                created_at: 0,
            },
            password_hash: None,
            failed_logins: 0,
            locked_until: Some(100),
        };
        assert!(login.is_locked(99));
        assert!(!login.is_locked(100));
    }
}
