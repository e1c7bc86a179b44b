//! [`TransactionStore`] on SQL. Every state change is one DB transaction: the version-checked
//! row update, its event row, the outbox row of a final state and the idempotent response.

use crate::backoffice::audited::insert_audit;
use crate::rows::{self, ATTEMPT_COLUMNS, TXN_COLUMNS, TXN_PARAMS};
use crate::{db_err, decode_all, Backend, SqlStore};
use async_trait::async_trait;
use overture_core::backoffice::AuditEntry;
use overture_core::routing::Usage;
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

/// `INSERT INTO transactions` with all [`TXN_COLUMNS`] as `$1..$34` ([`TXN_PARAMS`]).
pub(crate) fn insert_transaction_sql() -> String {
    let params: Vec<String> = (1..=TXN_PARAMS).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO transactions ({TXN_COLUMNS}) VALUES ({})",
        params.join(", ")
    )
}

/// Binds a transaction's fields as `$1..$34`, in [`TXN_COLUMNS`] order.
pub(crate) fn bind_transaction<'q>(
    query: AnyQuery<'q>,
    t: &'q Transaction,
    extras: String,
) -> AnyQuery<'q> {
    let routing = t
        .routing
        .as_ref()
        .and_then(|r| serde_json::to_string(r).ok());
    let metadata = (!t.metadata.is_empty())
        .then(|| serde_json::to_string(&t.metadata).ok())
        .flatten();
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
        .bind(t.attempt_id.as_ref().map(|a| a.as_str()))
        .bind(i64::from(t.attempt_seq))
        .bind(t.order_id.as_ref().map(|o| o.as_str()))
        .bind(routing)
        .bind(metadata)
        .bind(t.trace_id.map(|id| id.to_string()))
}

/// The version- and state-checked update of a [`Transition`], `RETURNING` the row; its
/// parameters are bound by [`bind_transition`] (`$1` new state, `$2` time, `$3..$7` PSP fields,
/// `$8` next poll, `$9` id, `$10` version, `$11` old state, `$12` actor, `$13` reason,
/// `$14`/`$15` webhook id and payload, `$16` 1 when a new attempt starts (the PSP fields are
/// then set, not merged), `$17..$21` the new attempt's PSP type, account, id, number and order
/// id, `$22..$24` the live attempt's new state, failure class and message, `$25` the new
/// attempt's decision).
pub(crate) fn transition_update_sql() -> String {
    let field = |col: &str, p: u8| {
        format!("{col} = CASE WHEN $16 = 1 THEN ${p} ELSE COALESCE(${p}, {col}) END")
    };
    format!(
        "UPDATE transactions SET state = $1, version = version + 1, updated_at = $2, \
         {}, {}, {}, {}, {}, next_poll_at = $8, \
         submitted_at = CASE WHEN $1 = 'submitting' THEN $2 ELSE submitted_at END, \
         psp_type = COALESCE($17, psp_type), psp_account_id = COALESCE($18, psp_account_id), \
         attempt_id = COALESCE($19, attempt_id), attempt_seq = COALESCE($20, attempt_seq), \
         psp_order_id = COALESCE($21, psp_order_id) \
         WHERE id = $9 AND version = $10 AND state = $11 RETURNING {TXN_COLUMNS}",
        field("psp_status", 3),
        field("psp_transaction_id", 4),
        field("psp_stage", 5),
        field("message", 6),
        field("redirect_url", 7),
    )
}

/// The `SET` list updating the live attempt with a transition's `$22..$24` and PSP fields;
/// `q` qualifies the columns read (`"attempts."` in an `UPDATE … FROM`, whose other table has
/// columns of the same names, else `""`).
pub(crate) fn attempt_update_set(q: &str) -> String {
    format!(
        "state = $22, updated_at = $2, \
         psp_status = COALESCE($3, {q}psp_status), \
         psp_transaction_id = COALESCE($4, {q}psp_transaction_id), \
         error_class = COALESCE($23, {q}error_class), error_message = COALESCE($24, {q}error_message), \
         accepted_at = CASE WHEN {q}accepted_at IS NULL AND $22 IN ('pending', 'approved') THEN $2 \
           ELSE {q}accepted_at END, \
         finished_at = CASE WHEN $22 IN ('approved', 'declined', 'failed') THEN $2 \
           ELSE {q}finished_at END"
    )
}

/// The columns a new attempt is inserted with (the rest default to NULL).
pub(crate) const ATTEMPT_INSERT_COLUMNS: &str =
    "id, transaction_id, seq, psp_account_id, psp_type, \
    psp_order_id, state, decision, amount_minor, currency, created_at, updated_at";

/// Binds a transition's fields as `$1..$25` (see [`transition_update_sql`]).
pub(crate) fn bind_transition<'q>(query: AnyQuery<'q>, t: &'q Transition) -> AnyQuery<'q> {
    let (started, update) = match &t.attempt {
        AttemptWrite::None => (None, None),
        AttemptWrite::Update {
            state,
            class,
            error,
        } => (None, Some((*state, *class, error.as_deref()))),
        AttemptWrite::Start(a) => (Some(a.as_ref()), None),
    };
    let decision = started.and_then(|a| serde_json::to_string(&a.decision).ok());
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
        .bind(i64::from(started.is_some()))
        .bind(started.map(|a| a.psp_type.as_str()))
        .bind(started.map(|a| a.psp_account_id.as_str()))
        .bind(started.map(|a| a.id.as_str()))
        .bind(started.map(|a| i64::from(a.seq)))
        .bind(started.map(|a| a.order_id.as_str()))
        .bind(update.map(|u| u.0.as_str()))
        .bind(update.and_then(|u| u.1).map(|c| c.as_str()))
        .bind(update.and_then(|u| u.2))
        .bind(decision)
}

/// Binds a new attempt's own fields as the next seven parameters (id, number, account, PSP
/// type, order id, decision, time), all NULL without one; its amount comes from its
/// transaction's row.
pub(crate) fn bind_new_attempt<'q>(query: AnyQuery<'q>, a: Option<&'q Attempt>) -> AnyQuery<'q> {
    query
        .bind(a.map(|a| a.id.as_str()))
        .bind(a.map(|a| i64::from(a.seq)))
        .bind(a.map(|a| a.psp_account_id.as_str()))
        .bind(a.map(|a| a.psp_type.as_str()))
        .bind(a.map(|a| a.order_id.as_str()))
        .bind(a.and_then(|a| serde_json::to_string(&a.decision).ok()))
        .bind(a.map(|a| a.created_at))
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
                let sql = crate::sqlite_paths::transition_statements(t);
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
        attempt: Option<&Attempt>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let extras =
            serde_json::to_string(&t.extras).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        match (self.backend, idempotency) {
            (Backend::Postgres, None) => {
                return crate::pg_paths::create(self, t, extras, events, attempt).await
            }
            (Backend::Sqlite, None) => {
                return crate::sqlite_paths::create(self, t, extras, events, attempt).await
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
        if let Some(a) = attempt {
            let sql = format!(
                "INSERT INTO attempts ({ATTEMPT_INSERT_COLUMNS}) \
                 SELECT $1, id, $2, $3, $4, $5, 'submitting', $6, amount_minor, currency, $7, $7 \
                 FROM transactions WHERE id = $8"
            );
            bind_new_attempt(sqlx::query(&sql), Some(a))
                .bind(t.id.as_str())
                .execute(&mut *db)
                .await
                .map_err(db_err)?;
        }
        insert_events(&mut db, events).await?;
        db.commit().await.map_err(db_err)
    }

    async fn attempts(&self, id: &TransactionId) -> Result<Vec<Attempt>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE transaction_id = $1 ORDER BY seq"
        ))
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        decode_all(rows, rows::txn_attempt)
    }

    async fn attempt_by_order(&self, order: &OrderId) -> Result<Option<Attempt>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE psp_order_id = $1"
        ))
        .bind(order.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| rows::txn_attempt(&r)).transpose()
    }

    async fn account_usage(&self, account: &PspAccountId, since: i64) -> Result<Usage, StoreError> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT currency, COUNT(*), CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM attempts \
             WHERE psp_account_id = $1 AND accepted_at >= $2 GROUP BY currency",
        )
        .bind(account.as_str())
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut usage = Usage::default();
        for (currency, count, sum) in rows {
            usage.count += u64::try_from(count).unwrap_or(0);
            usage.amounts.insert(currency, sum);
        }
        Ok(usage)
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
