//! [`BackofficeStore`] on SQL: operator passwords, the login throttle, sessions, the
//! append-only audit log (the database refuses UPDATE and DELETE on it; records are written
//! only with the action they record), transaction search, four-eyes approvals, problem webhook
//! deliveries and PSP account switches.

pub(crate) mod audited;
mod decode;
pub(crate) mod filter;
mod login;
mod search;

use self::audited::found;
use crate::rows::{self, DELIVERY_COLUMNS};
use crate::{db_err, decode_all, SqlStore};
use async_trait::async_trait;
use overture_core::backoffice::*;
use overture_core::store::StoreError;
use overture_core::*;
use rust_decimal::Decimal;

#[async_trait]
impl BackofficeStore for SqlStore {
    async fn operator(&self, id: &OperatorId) -> Result<Option<Operator>, StoreError> {
        let row = sqlx::query("SELECT * FROM operators WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| rows::operator(&r)).transpose()
    }

    async fn operator_login(&self, email: &str) -> Result<Option<OperatorLogin>, StoreError> {
        // An exact match wins over a case-insensitive one (emails are unique as typed).
        let row = sqlx::query(
            "SELECT * FROM operators WHERE lower(email) = lower($1) AND disabled_at IS NULL \
             ORDER BY CASE WHEN email = $1 THEN 0 ELSE 1 END, created_at LIMIT 1",
        )
        .bind(email.trim())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| decode::operator_login(&r)).transpose()
    }

    async fn set_operator_password(
        &self,
        id: &OperatorId,
        password_hash: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.audited_password(id, password_hash, audit).await
    }

    async fn login_throttles(
        &self,
        keys: &[ThrottleKey],
    ) -> Result<Vec<LoginThrottle>, StoreError> {
        self.throttles(keys).await
    }

    async fn record_failed_login(
        &self,
        failed: &FailedLogin,
    ) -> Result<Vec<LoginThrottle>, StoreError> {
        self.failed_login(failed).await
    }

    async fn record_login(&self, login: &SuccessfulLogin) -> Result<(), StoreError> {
        self.login(login).await
    }

    async fn record_logout(&self, id_sha256: &str, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.logout(id_sha256, audit).await
    }

    async fn delete_stale_login_throttles(
        &self,
        last_failure_before: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        self.delete_stale_throttles(last_failure_before, now).await
    }

    async fn session(&self, id_sha256: &str) -> Result<Option<OperatorSession>, StoreError> {
        let row = sqlx::query("SELECT * FROM operator_sessions WHERE id_sha256 = $1")
            .bind(id_sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| decode::session(&r)).transpose()
    }

    async fn touch_session(&self, id_sha256: &str, at: i64) -> Result<(), StoreError> {
        // Never moves backwards when two requests of one session race.
        sqlx::query(
            "UPDATE operator_sessions SET last_seen_at = $1 WHERE id_sha256 = $2 AND last_seen_at < $1",
        )
        .bind(at)
        .bind(id_sha256)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn delete_session(&self, id_sha256: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM operator_sessions WHERE id_sha256 = $1")
            .bind(id_sha256)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, now: i64, idle_before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM operator_sessions WHERE expires_at <= $1 OR last_seen_at < $2",
        )
        .bind(now)
        .bind(idle_before)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn audit_log(&self, query: &AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        self.audit_page(query).await
    }

    async fn record_external_action(&self, audit: &AuditEntry) -> Result<(), StoreError> {
        audited::insert_audit(audit)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn search_transactions(
        &self,
        query: &TxnSearch,
    ) -> Result<Page<Transaction>, StoreError> {
        self.search_txns(query).await
    }

    async fn company_summaries(&self) -> Result<Vec<CompanySummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, payout_approval_threshold, four_eyes_threshold FROM companies \
             ORDER BY name, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        decode_all(rows, decode::company_summary)
    }

    async fn four_eyes_threshold(
        &self,
        company: &CompanyId,
    ) -> Result<Option<Decimal>, StoreError> {
        let row = sqlx::query("SELECT four_eyes_threshold FROM companies WHERE id = $1")
            .bind(company.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound(company.to_string()))?;
        decode::four_eyes(&row)
    }

    async fn set_four_eyes_threshold(
        &self,
        company: &CompanyId,
        threshold: Option<Decimal>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE companies SET four_eyes_threshold = $1 WHERE id = $2")
            .bind(threshold.map(|t| t.to_string()))
            .bind(company.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        found(done.rows_affected(), company.as_str())
    }

    async fn record_approval(&self, new: &NewApproval) -> Result<Vec<PayoutApproval>, StoreError> {
        self.audited_approval(new).await
    }

    async fn approvals(&self, id: &TransactionId) -> Result<Vec<PayoutApproval>, StoreError> {
        self.all_approvals(id).await
    }

    async fn problem_deliveries(
        &self,
        query: &DeliveryQuery,
    ) -> Result<Page<WebhookDelivery>, StoreError> {
        self.problem_page(query).await
    }

    async fn webhook_delivery(
        &self,
        id: &WebhookId,
    ) -> Result<Option<WebhookDelivery>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| rows::delivery(&r)).transpose()
    }

    async fn redeliver_webhook(
        &self,
        id: &WebhookId,
        now: i64,
        audit: Option<&AuditEntry>,
    ) -> Result<WebhookDelivery, StoreError> {
        self.audited_redelivery(id, now, audit).await
    }

    async fn set_psp_account_enabled(
        &self,
        id: &PspAccountId,
        enabled: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.audited_account_switch(id, enabled, audit).await
    }

    async fn psp_account_stats(&self, since: i64) -> Result<Vec<PspAccountStats>, StoreError> {
        let rows = sqlx::query(
            "SELECT psp_account_id, \
               SUM(CASE WHEN state = 'approved' THEN 1 ELSE 0 END) AS approved, \
               SUM(CASE WHEN state IN ('declined', 'failed') THEN 1 ELSE 0 END) AS unsuccessful \
             FROM transactions WHERE created_at >= $1 GROUP BY psp_account_id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        decode_all(rows, decode::stats)
    }
}
