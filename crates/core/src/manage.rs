//! The `ManageStore` trait: settings changes made by merchants through the merchant API and by
//! the box's administrator on the command line — company settings and secret rotations, PSP
//! account deletion, the merchant's webhook delivery list, and operator administration.
//! Implemented for SQLite and PostgreSQL in `overture-store`.

use crate::backoffice::{AuditEntry, Page};
use crate::domain::*;
use crate::ids::*;
use crate::store::StoreError;
use async_trait::async_trait;
use rust_decimal::Decimal;
use secrecy::SecretString;

/// A company's deliveries, newest first (`created_at`, then id, descending).
#[derive(Clone, Debug, Default)]
pub struct DeliveryList {
    pub company_id: Option<CompanyId>,
    pub state: Option<DeliveryState>,
    /// Keyset pagination: only deliveries after this `(created_at, id)` in that order.
    pub after: Option<(i64, String)>,
    /// 1–500 (default 50).
    pub limit: i64,
}

/// Merchant and administrator settings. All times are milliseconds since the Unix epoch.
#[async_trait]
pub trait ManageStore: Send + Sync + 'static {
    /// Rewrites the company's settings — name, webhook and verify-user URLs, webhook
    /// `Authorization`, `verify_payins`, the fallback payout threshold, the per-currency
    /// thresholds — and the fallback four-eyes threshold, in one statement. Secrets (API and
    /// webhook) are not touched. With `audit` (an operator's change) the record is written in
    /// the same DB transaction. `NotFound` (and no record) for an unknown company.
    async fn update_company(
        &self,
        company: &Company,
        four_eyes_threshold: Option<Decimal>,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError>;

    /// Makes `secret` the company's `which` secret and keeps the one it replaces as the retired
    /// secret until `retire_until`, in one statement (two rotations at once both keep working:
    /// each retires the value it replaced). `NotFound` for an unknown company.
    async fn rotate_company_secret(
        &self,
        company: &CompanyId,
        which: SecretKind,
        secret: &SecretString,
        retire_until: i64,
    ) -> Result<(), StoreError>;

    /// Marks an account of `company` deleted at `at` and disables it: it leaves routing and the
    /// company's account lists at once, and stays readable by id for the transactions that
    /// reference it. `NotFound` when the company has no such live account.
    async fn delete_psp_account(
        &self,
        company: &CompanyId,
        id: &PspAccountId,
        at: i64,
    ) -> Result<(), StoreError>;

    /// Webhook deliveries, newest first, paged by keyset.
    async fn list_deliveries(
        &self,
        query: &DeliveryList,
    ) -> Result<Page<WebhookDelivery>, StoreError>;

    /// Every operator (disabled ones too), by email.
    async fn operators(&self) -> Result<Vec<Operator>, StoreError>;

    /// Disables an operator at `at` (no login, no token, no session: its sessions are deleted)
    /// and appends `audit`, in one DB transaction. `NotFound` (and no audit record) when there
    /// is no such operator or it is already disabled.
    async fn disable_operator(
        &self,
        id: &OperatorId,
        at: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Deletes every session of the operator (after a password reset); returns how many.
    async fn delete_operator_sessions(&self, id: &OperatorId) -> Result<u64, StoreError>;
}
