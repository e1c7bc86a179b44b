//! [`TransactionStore`] on SQL. Every state change is one DB transaction: the version-checked
//! row update, its event row, the outbox row of a final state and the idempotent response.

use crate::backoffice::audited::insert_audit;
use crate::rows::{self, TXN_COLUMNS};
use crate::{db_err, decode_all, Backend, SqlStore};
use async_trait::async_trait;
use overture_core::backoffice::AuditEntry;
use overture_core::store::{ProgressUpdate, StoreError, TransactionStore, Transition, TxnFilter};
use overture_core::*;
use sqlx::{Any, Transaction as DbTxn};

/// Inserts events in one multi-row statement (one round trip, whatever their number).
async fn insert_events(
    db: &mut DbTxn<'_, Any>,
    events: &[TransactionEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..events.len())
        .map(|i| {
            let b = i * 7;
            format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO transaction_events (transaction_id, from_state, to_state, actor, reason, psp_status, at) VALUES {}",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for e in events {
        query = query
            .bind(e.transaction_id.as_str())
            .bind(e.from_state.map(TxnState::as_str))
            .bind(e.to_state.as_str())
            .bind(e.actor.to_db())
            .bind(e.reason.as_deref())
            .bind(e.psp_status.as_deref())
            .bind(e.at);
    }
    query.execute(&mut **db).await.map_err(db_err)?;
    Ok(())
}

/// `INSERT INTO transactions` with all [`TXN_COLUMNS`] as `$1..$28`.
pub(crate) fn insert_transaction_sql() -> String {
    let params: Vec<String> = (1..=28).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO transactions ({TXN_COLUMNS}) VALUES ({})",
        params.join(", ")
    )
}

/// Binds a transaction's fields as `$1..$28`, in [`TXN_COLUMNS`] order.
pub(crate) fn bind_transaction<'q>(
    query: AnyQuery<'q>,
    t: &'q Transaction,
    extras: String,
) -> AnyQuery<'q> {
    query
        .bind(t.id.as_str())
        .bind(t.company_id.as_str())
        .bind(t.brand_id.as_deref())
        .bind(t.txn_type.as_str())
        .bind(t.psp_type.as_str())
        .bind(t.psp_account_id.as_str())
        .bind(t.amount.minor())
        .bind(t.amount.currency().code())
        .bind(&t.user_id)
        .bind(&t.email)
        .bind(t.country.as_deref())
        .bind(extras)
        .bind(t.state.as_str())
        .bind(t.psp_status.as_deref())
        .bind(t.psp_transaction_id.as_deref())
        .bind(t.psp_stage.as_deref())
        .bind(t.message.as_deref())
        .bind(t.session_id.as_ref().map(|s| s.as_str()))
        .bind(t.redirect_url.as_deref())
        .bind(t.return_url.as_deref())
        .bind(t.merchant_reference.as_deref())
        .bind(t.idempotency_key.as_deref())
        .bind(t.created_at)
        .bind(t.updated_at)
        .bind(t.submitted_at)
        .bind(t.version)
        .bind(t.next_poll_at)
        .bind(i64::from(t.poll_attempts))
}

/// The version- and state-checked update of a [`Transition`], `RETURNING` the row; its
/// parameters are bound by [`bind_transition`] (`$1` new state, `$2` time, `$9` id, `$10`
/// version, `$11` old state, `$12` actor, `$13` reason, `$14`/`$15` webhook id and payload).
pub(crate) fn transition_update_sql() -> String {
    format!(
        "UPDATE transactions SET state = $1, version = version + 1, updated_at = $2, \
         psp_status = COALESCE($3, psp_status), psp_transaction_id = COALESCE($4, psp_transaction_id), \
         psp_stage = COALESCE($5, psp_stage), message = COALESCE($6, message), \
         redirect_url = COALESCE($7, redirect_url), next_poll_at = $8, \
         submitted_at = CASE WHEN $1 = 'submitting' THEN $2 ELSE submitted_at END \
         WHERE id = $9 AND version = $10 AND state = $11 RETURNING {TXN_COLUMNS}"
    )
}

/// Binds a transition's fields as `$1..$15` (see [`transition_update_sql`]).
pub(crate) fn bind_transition<'q>(query: AnyQuery<'q>, t: &'q Transition) -> AnyQuery<'q> {
    query
        .bind(t.to.as_str())
        .bind(t.at)
        .bind(t.psp_status.as_deref())
        .bind(t.psp_transaction_id.as_deref())
        .bind(t.psp_stage.as_deref())
        .bind(t.message.as_deref())
        .bind(t.redirect_url.as_deref())
        .bind(t.next_poll_at)
        .bind(t.transaction_id.as_str())
        .bind(t.expected_version)
        .bind(t.from.as_str())
        .bind(t.actor.to_db())
        .bind(t.reason.as_deref())
        .bind(t.webhook.as_ref().map(|w| w.id.as_str()))
        .bind(t.webhook.as_ref().map(|w| w.payload.as_str()))
}

impl SqlStore {
    /// An operator's transition: the same statements as the payment paths (`pg_paths`,
    /// `sqlite_paths`), then the audit record, in one explicit DB transaction. Operator
    /// actions are rare, so the extra round trips cost nothing that matters; the hot path
    /// stays one statement (PostgreSQL) or one batch (SQLite).
    async fn audited_transition(
        &self,
        t: &Transition,
        audit: &AuditEntry,
    ) -> Result<Transaction, StoreError> {
        let mut db = self.pool.begin().await.map_err(db_err)?;
        let row = match self.backend {
            Backend::Postgres => {
                let sql = crate::pg_paths::transition_sql();
                bind_transition(sqlx::query(&sql), t)
                    .fetch_optional(&mut *db)
                    .await
            }
            Backend::Sqlite => {
                let sql = crate::sqlite_paths::transition_statements();
                bind_transition(sqlx::query(&sql), t)
                    .fetch_all(&mut *db)
                    .await
                    .map(|rows| rows.into_iter().next())
            }
        }
        .map_err(db_err)?
        // Dropping `db` rolls back: nothing was changed.
        .ok_or_else(|| StoreError::Conflict(t.transaction_id.to_string()))?;
        insert_audit(audit)
            .execute(&mut *db)
            .await
            .map_err(db_err)?;
        db.commit().await.map_err(db_err)?;
        rows::transaction(&row)
    }
}

/// A query on the `Any` driver.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

#[async_trait]
impl TransactionStore for SqlStore {
    async fn create_transaction(
        &self,
        t: &Transaction,
        events: &[TransactionEvent],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let extras =
            serde_json::to_string(&t.extras).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        match (self.backend, idempotency) {
            (Backend::Postgres, None) => {
                return crate::pg_paths::create(self, t, extras, events).await
            }
            (Backend::Sqlite, None) => {
                return crate::sqlite_paths::create(self, t, extras, events).await
            }
            (_, Some(_)) => {}
        }
        let mut db = self.pool.begin().await.map_err(db_err)?;
        if let Some(rec) = idempotency {
            // First, so a concurrent duplicate fails before anything else is written.
            sqlx::query(
                "INSERT INTO idempotency_keys (company_id, key, request_sha256, transaction_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(rec.company_id.as_str())
            .bind(&rec.key)
            .bind(&rec.request_sha256)
            .bind(rec.transaction_id.as_str())
            .bind(rec.created_at)
            .execute(&mut *db)
            .await
            .map_err(db_err)?;
        }
        bind_transaction(sqlx::query(&insert_transaction_sql()), t, extras)
            .execute(&mut *db)
            .await
            .map_err(db_err)?;
        insert_events(&mut db, events).await?;
        db.commit().await.map_err(db_err)
    }

    async fn transaction(&self, id: &TransactionId) -> Result<Option<Transaction>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TXN_COLUMNS} FROM transactions WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| rows::transaction(&r)).transpose()
    }

    async fn transaction_by_session(
        &self,
        id: &SessionId,
    ) -> Result<Option<Transaction>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TXN_COLUMNS} FROM transactions WHERE session_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| rows::transaction(&r)).transpose()
    }

    async fn events(&self, id: &TransactionId) -> Result<Vec<TransactionEvent>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM transaction_events WHERE transaction_id = $1 ORDER BY id")
                .bind(id.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        decode_all(rows, rows::event)
    }

    async fn list_transactions(&self, f: &TxnFilter) -> Result<Vec<Transaction>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TXN_COLUMNS} FROM transactions \
             WHERE ($1 IS NULL OR company_id = $1) AND ($2 IS NULL OR state = $2) \
             ORDER BY created_at, id LIMIT $3"
        ))
        .bind(f.company_id.as_ref().map(|c| c.as_str()))
        .bind(f.state.map(TxnState::as_str))
        .bind(if f.limit > 0 { f.limit } else { 100 })
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        decode_all(rows, rows::transaction)
    }

    async fn transition(&self, t: &Transition) -> Result<Transaction, StoreError> {
        t.from
            .transition(t.to)
            .map_err(|e| StoreError::Conflict(format!("{}: {e}", t.transaction_id)))?;
        match (self.backend, &t.audit) {
            (Backend::Postgres, None) => crate::pg_paths::transition(self, t).await,
            (Backend::Sqlite, None) => crate::sqlite_paths::transition(self, t).await,
            (_, Some(audit)) => self.audited_transition(t, audit).await,
        }
    }

    async fn record_progress(
        &self,
        id: &TransactionId,
        expected_version: i64,
        u: &ProgressUpdate,
        at: i64,
    ) -> Result<Transaction, StoreError> {
        // Progress that changes no state is recoverable by the next status query: it may skip
        // the WAL flush (see `StoreOptions`).
        let row = sqlx::query(&format!(
            "UPDATE transactions SET version = version + 1, updated_at = $1, \
             psp_status = COALESCE($2, psp_status), psp_transaction_id = COALESCE($3, psp_transaction_id), \
             psp_stage = COALESCE($4, psp_stage), redirect_url = COALESCE($5, redirect_url) \
             WHERE id = $6 AND version = $7 RETURNING {TXN_COLUMNS}"
        ))
        .bind(at)
        .bind(u.psp_status.as_deref())
        .bind(u.psp_transaction_id.as_deref())
        .bind(u.psp_stage.as_deref())
        .bind(u.redirect_url.as_deref())
        .bind(id.as_str())
        .bind(expected_version)
        .fetch_optional(&self.work_pool)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::Conflict(id.to_string()))?;
        rows::transaction(&row)
    }

    async fn idempotency(
        &self,
        company: &CompanyId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM idempotency_keys WHERE company_id = $1 AND key = $2")
            .bind(company.as_str())
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| rows::idempotency(&r)).transpose()
    }

    async fn save_idempotent_response(
        &self,
        company: &CompanyId,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        // Lost in a crash, the key answers with the transaction as it stands: recoverable.
        sqlx::query("UPDATE idempotency_keys SET response_status = $1, response_body = $2 WHERE company_id = $3 AND key = $4")
            .bind(i64::from(status))
            .bind(body)
            .bind(company.as_str())
            .bind(key)
            .execute(&self.work_pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
