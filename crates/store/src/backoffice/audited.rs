//! Operator actions on SQL, each written in one DB transaction with its audit record, so an
//! action and its record both exist or neither does: four-eyes approvals, webhook
//! redeliveries, PSP account switches and passwords set from the command line. (Approvals and
//! rejections that change a payout's state carry their record in `Transition::audit`; logins
//! and logouts are in `login.rs`.) The audit insert is defined here once for all of them.

use super::decode;
use crate::rows::{self, DELIVERY_COLUMNS};
use crate::{db_err, decode_all, SqlStore};
use overture_core::backoffice::{AuditEntry, NewApproval, PayoutApproval};
use overture_core::store::StoreError;
use overture_core::{OperatorId, PspAccountId, WebhookDelivery, WebhookId};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row, Transaction as DbTxn};

type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

/// The audit insert, bound to `e`.
pub(crate) fn insert_audit(e: &AuditEntry) -> AnyQuery<'_> {
    sqlx::query(
        "INSERT INTO audit_log (at, operator_id, operator_email, action, target, reason, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.at)
    .bind(e.operator_id.as_ref().map(|o| o.as_str()))
    .bind(&e.operator_email)
    .bind(e.action.as_str())
    .bind(e.target.as_deref())
    .bind(e.reason.as_deref())
    .bind(e.detail.as_deref())
}

/// Appends `audit` inside `db` and commits: the last step of every audited action.
async fn commit_with(mut db: DbTxn<'_, Any>, audit: &AuditEntry) -> Result<(), StoreError> {
    insert_audit(audit)
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
    db.commit().await.map_err(db_err)
}

/// Appends `audit` inside `db` and commits (for actions recorded outside this file).
pub(crate) async fn commit_audited(
    db: DbTxn<'_, Any>,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    commit_with(db, audit).await
}

/// `NotFound` when an UPDATE touched no row.
pub(crate) fn found(rows_affected: u64, what: &str) -> Result<(), StoreError> {
    if rows_affected == 0 {
        Err(StoreError::NotFound(what.to_owned()))
    } else {
        Ok(())
    }
}

/// All approvals of a payout, in order.
const APPROVALS_SQL: &str =
    "SELECT * FROM payout_approvals WHERE transaction_id = $1 ORDER BY at, operator_id";

impl SqlStore {
    pub(crate) async fn audited_password(
        &self,
        id: &OperatorId,
        password_hash: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut db = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query("UPDATE operators SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.as_str())
            .execute(&mut *db)
            .await
            .map_err(db_err)?;
        // Dropping `db` on an error rolls it back.
        found(done.rows_affected(), id.as_str())?;
        commit_with(db, audit).await
    }

    pub(crate) async fn audited_approval(
        &self,
        new: &NewApproval,
    ) -> Result<Vec<PayoutApproval>, StoreError> {
        let a = &new.approval;
        let id = a.transaction_id.as_str();
        let mut db = self.pool.begin().await.map_err(db_err)?;
        // A no-op write first: it locks the transaction row (PostgreSQL) or takes the write
        // lock (SQLite), so concurrent approvals of one payout run one after the other and
        // the second sees the first. It also checks the payout is still held.
        let held = sqlx::query(
            "UPDATE transactions SET version = version WHERE id = $1 AND state = 'awaiting_approval'",
        )
        .bind(id)
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        if held.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "{id} is not awaiting approval"
            )));
        }
        let count =
            sqlx::query("SELECT COUNT(*) AS n FROM payout_approvals WHERE transaction_id = $1")
                .bind(id)
                .fetch_one(&mut *db)
                .await
                .map_err(db_err)?;
        let count: i64 = count.try_get("n").map_err(db_err)?;
        if usize::try_from(count).ok() != Some(new.prior) {
            return Err(StoreError::Conflict(format!(
                "{id} has {count} approvals, not {}",
                new.prior
            )));
        }
        sqlx::query(
            "INSERT INTO payout_approvals (transaction_id, operator_id, reason, at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(a.operator_id.as_str())
        .bind(a.reason.as_deref())
        .bind(a.at)
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        let rows = sqlx::query(APPROVALS_SQL)
            .bind(id)
            .fetch_all(&mut *db)
            .await
            .map_err(db_err)?;
        let all = decode_all(rows, decode::approval)?;
        commit_with(db, &new.audit).await?;
        Ok(all)
    }

    pub(crate) async fn all_approvals(
        &self,
        id: &overture_core::TransactionId,
    ) -> Result<Vec<PayoutApproval>, StoreError> {
        let rows = sqlx::query(APPROVALS_SQL)
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        decode_all(rows, decode::approval)
    }

    pub(crate) async fn audited_redelivery(
        &self,
        id: &WebhookId,
        now: i64,
        audit: Option<&AuditEntry>,
    ) -> Result<WebhookDelivery, StoreError> {
        let mut db = self.pool.begin().await.map_err(db_err)?;
        // A live lease means a worker is sending it right now: leave it alone, or two
        // attempts would share one attempt number.
        let row = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, lease_until = NULL \
             WHERE id = $2 AND state IN ('dead', 'pending') \
             AND (lease_until IS NULL OR lease_until <= $1) RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(now)
        .bind(id.as_str())
        .fetch_optional(&mut *db)
        .await
        .map_err(db_err)?;
        match row {
            Some(r) => {
                let delivery = rows::delivery(&r)?;
                match audit {
                    Some(audit) => commit_with(db, audit).await?,
                    None => db.commit().await.map_err(db_err)?,
                }
                Ok(delivery)
            }
            None => {
                drop(db);
                Err(self.why_not_redeliverable(id).await)
            }
        }
    }

    /// `Conflict` naming the delivery's state, or `NotFound`.
    async fn why_not_redeliverable(&self, id: &WebhookId) -> StoreError {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await;
        match row.map_err(db_err).map(|r| r.map(|r| rows::delivery(&r))) {
            Ok(Some(Ok(d))) => StoreError::Conflict(format!(
                "webhook {id} is {} and cannot be redelivered now",
                d.state.as_str()
            )),
            Ok(None) => StoreError::NotFound(id.to_string()),
            Ok(Some(Err(e))) | Err(e) => e,
        }
    }

    pub(crate) async fn audited_account_switch(
        &self,
        id: &PspAccountId,
        enabled: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut db = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query(
            "UPDATE psp_accounts SET enabled = $1 WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(i64::from(enabled))
        .bind(id.as_str())
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        found(done.rows_affected(), id.as_str())?;
        commit_with(db, audit).await
    }
}
