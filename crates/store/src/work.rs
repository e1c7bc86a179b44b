//! [`WorkStore`] on SQL: claims for the status poller and the webhook outbox, on the workers'
//! own connections (`SqlStore::work_pool`), committed before any HTTP call is made.
//! - Polls: the due rows are selected (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite
//!   serialises writers) and moved to their next poll time in the same DB transaction; that
//!   time is the claim, and a dead node's rows are polled again when it comes.
//! - Webhooks: one UPDATE over a locked subquery sets a lease; an expired lease makes the row
//!   claimable again.

use crate::rows::{self, DELIVERY_COLUMNS, TXN_COLUMNS};
use crate::transactions::AnyQuery;
use crate::{db_err, decode_all, Backend, SqlStore};
use async_trait::async_trait;
use overture_core::store::{
    DeliveryNext, QueueDepths, StoreError, WebhookAttemptResult, WorkStore,
};
use overture_core::*;
use sqlx::Row;

/// One statement setting each of `n` rows' `next_poll_at` (`CASE id WHEN $1 THEN $2 …`, bound
/// by [`bind_reschedules`]), counting a poll attempt when `count_attempt`; a row that is final
/// keeps its cleared schedule.
fn reschedule_sql(n: usize, count_attempt: bool) -> String {
    let whens: Vec<String> = (0..n)
        .map(|i| format!("WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2))
        .collect();
    let ids: Vec<String> = (0..n).map(|i| format!("${}", 2 * i + 1)).collect();
    let attempts = if count_attempt {
        ", poll_attempts = poll_attempts + 1"
    } else {
        ""
    };
    format!(
        "UPDATE transactions SET next_poll_at = CASE \
           WHEN state IN ('approved', 'declined', 'failed', 'rejected') THEN NULL \
           ELSE (CASE id {} END) END{attempts} WHERE id IN ({})",
        whens.join(" "),
        ids.join(", ")
    )
}

/// Binds `(id, next poll time)` pairs as `$1, $2, …` for [`reschedule_sql`].
fn bind_reschedules<'q>(
    mut query: AnyQuery<'q>,
    polls: &'q [(TransactionId, Option<i64>)],
) -> AnyQuery<'q> {
    for (id, at) in polls {
        query = query.bind(id.as_str()).bind(*at);
    }
    query
}

#[async_trait]
impl WorkStore for SqlStore {
    async fn claim_due_polls(
        &self,
        now: i64,
        limit: i64,
        next_due: &(dyn for<'t> Fn(&'t Transaction) -> i64 + Send + Sync),
    ) -> Result<Vec<Transaction>, StoreError> {
        let mut db = match self.backend {
            // Take the write lock first: a reader that later writes could fail with "busy
            // snapshot" when another connection wrote meanwhile.
            Backend::Sqlite => self.work_pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.work_pool.begin().await,
        }
        .map_err(db_err)?;
        let rows = sqlx::query(&format!(
            "SELECT {TXN_COLUMNS} FROM transactions WHERE next_poll_at IS NOT NULL \
             AND next_poll_at <= $1 ORDER BY next_poll_at LIMIT $2 {}",
            self.backend.skip_locked()
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *db)
        .await
        .map_err(db_err)?;
        let due = decode_all(rows, rows::transaction)?;
        if due.is_empty() {
            return Ok(due);
        }
        let next: Vec<(TransactionId, Option<i64>)> = due
            .iter()
            .map(|t| (t.id.clone(), Some(next_due(t))))
            .collect();
        let sql = reschedule_sql(next.len(), true);
        bind_reschedules(sqlx::query(&sql), &next)
            .execute(&mut *db)
            .await
            .map_err(db_err)?;
        db.commit().await.map_err(db_err)?;
        Ok(due)
    }

    async fn reschedule_polls(
        &self,
        polls: &[(TransactionId, Option<i64>)],
    ) -> Result<(), StoreError> {
        if polls.is_empty() {
            return Ok(());
        }
        let sql = reschedule_sql(polls.len(), false);
        bind_reschedules(sqlx::query(&sql), polls)
            .execute(&self.work_pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn claim_due_webhooks(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let rows = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET lease_until = $1 WHERE id IN ( \
               SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $2 \
               AND (lease_until IS NULL OR lease_until <= $2) \
               ORDER BY next_attempt_at LIMIT $3 {} ) \
             RETURNING {DELIVERY_COLUMNS}",
            self.backend.skip_locked()
        ))
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.work_pool)
        .await
        .map_err(db_err)?;
        decode_all(rows, rows::delivery)
    }

    async fn record_webhook_attempt(&self, r: &WebhookAttemptResult) -> Result<(), StoreError> {
        let a = &r.attempt;
        let (state, next_at, delivered_at) = match r.next {
            DeliveryNext::Delivered => (DeliveryState::Delivered, a.at, Some(a.at)),
            DeliveryNext::RetryAt(at) => (DeliveryState::Pending, at, None),
            DeliveryNext::Dead => (DeliveryState::Dead, a.at, None),
        };
        let error = match a.http_status {
            Some(200..=299) => None,
            _ => Some(a.response_excerpt.clone()),
        };
        // One statement (PostgreSQL CTE) or one batch (SQLite): one round trip per attempt.
        let update = "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, lease_until = NULL, \
             last_http_status = $4, last_error = $5, delivered_at = COALESCE($6, delivered_at) WHERE id = $7";
        let insert = "INSERT INTO webhook_attempts (webhook_id, attempt, at, http_status, latency_ms, response_excerpt) \
             VALUES ($7, $2, $8, $4, $9, $10)";
        let sql = match self.backend {
            Backend::Postgres => format!("WITH u AS ({update} RETURNING id) {insert}"),
            Backend::Sqlite => format!("BEGIN; {update}; {insert}; COMMIT;"),
        };
        let query = sqlx::query(&sql)
            .bind(state.as_str())
            .bind(i64::from(a.attempt))
            .bind(next_at)
            .bind(a.http_status.map(i64::from))
            .bind(error)
            .bind(delivered_at)
            .bind(a.webhook_id.as_str())
            .bind(a.at)
            .bind(a.latency_ms)
            .bind(&a.response_excerpt);
        match self.backend {
            Backend::Postgres => query
                .execute(&self.work_pool)
                .await
                .map(|_| ())
                .map_err(db_err),
            Backend::Sqlite => crate::sqlite_paths::run_batch(self, query)
                .await
                .map(|_| ()),
        }
    }

    async fn webhooks_for_transaction(
        &self,
        id: &TransactionId,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE transaction_id = $1 ORDER BY created_at"
        ))
        .bind(id.as_str())
        .fetch_all(&self.work_pool)
        .await
        .map_err(db_err)?;
        decode_all(rows, rows::delivery)
    }

    async fn webhook_attempts(&self, id: &WebhookId) -> Result<Vec<WebhookAttempt>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM webhook_attempts WHERE webhook_id = $1 ORDER BY attempt")
                .bind(id.as_str())
                .fetch_all(&self.work_pool)
                .await
                .map_err(db_err)?;
        decode_all(rows, rows::attempt)
    }

    async fn queue_depths(&self, now: i64) -> Result<QueueDepths, StoreError> {
        // Both counts walk a partial index (`transactions_due_poll`, `webhook_deliveries_due`).
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM transactions WHERE next_poll_at IS NOT NULL \
               AND next_poll_at <= $1) AS due_polls, \
             (SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending') AS pending_webhooks",
        )
        .bind(now)
        .fetch_one(&self.work_pool)
        .await
        .map_err(db_err)?;
        let count = |col: &str| {
            row.try_get::<i64, _>(col)
                .map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
        };
        Ok(QueueDepths {
            due_polls: count("due_polls")?,
            pending_webhooks: count("pending_webhooks")?,
        })
    }
}
