//! [`InsightStore`] on SQL: the PSP exchange log. Appends go through the workers' pool (on
//! PostgreSQL it commits without waiting for the WAL flush): the log is for investigation, and
//! a crash may lose its last batch without harming a payment.

use crate::rows::{self, TXN_COLUMNS};
use crate::{db_err, decode_all, SqlStore};
use async_trait::async_trait;
use overture_core::backoffice::TxnSearch;
use overture_core::insight::{
    ExchangeDirection, InsightStore, Overview, OverviewQuery, PspExchange, UserHistory, UserTotal,
};
use overture_core::store::StoreError;
use overture_core::{AttemptId, CompanyId, PspAccountId, TransactionId, TxnState, TxnType};
use sqlx::any::AnyRow;
use sqlx::Row;

const COLUMNS: &str =
    "transaction_id, attempt_id, psp_account_id, psp_type, direction, operation, \
    method, path, http_status, latency_ms, request_excerpt, response_excerpt, outcome, at";
/// Parameters per row of [`COLUMNS`].
const PER_ROW: usize = 14;
/// Rows per INSERT of the exchange log; a batch is written as statements of this size (the
/// last one smaller).
const EXCHANGE_CHUNK: usize = 16;

/// `INSERT INTO psp_exchanges … VALUES` with `rows` rows of numbered parameters, built once
/// per size (1 to [`EXCHANGE_CHUNK`]) and kept for the process's life.
fn insert_exchanges_sql(rows: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        (1..=EXCHANGE_CHUNK)
            .map(|n| {
                let values: Vec<String> = (0..n)
                    .map(|i| {
                        let params: Vec<String> = (1..=PER_ROW)
                            .map(|p| format!("${}", i * PER_ROW + p))
                            .collect();
                        format!("({})", params.join(", "))
                    })
                    .collect();
                format!(
                    "INSERT INTO psp_exchanges ({COLUMNS}) VALUES {}",
                    values.join(", ")
                )
            })
            .collect()
    });
    &all[rows.clamp(1, EXCHANGE_CHUNK) - 1]
}

fn exchange(row: &AnyRow) -> Result<PspExchange, StoreError> {
    let get = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    let direction: String = row.try_get("direction").map_err(get)?;
    Ok(PspExchange {
        id: row.try_get("id").map_err(get)?,
        transaction_id: row
            .try_get::<Option<String>, _>("transaction_id")
            .map_err(get)?
            .map(TransactionId::from_trusted),
        attempt_id: row
            .try_get::<Option<String>, _>("attempt_id")
            .map_err(get)?
            .map(AttemptId::from_trusted),
        psp_account_id: PspAccountId::from_trusted(
            row.try_get::<String, _>("psp_account_id").map_err(get)?,
        ),
        psp_type: row.try_get("psp_type").map_err(get)?,
        direction: ExchangeDirection::parse(&direction)
            .ok_or_else(|| StoreError::Corrupt(format!("direction {direction:?}")))?,
        operation: row.try_get("operation").map_err(get)?,
        method: row.try_get("method").map_err(get)?,
        path: row.try_get("path").map_err(get)?,
        http_status: row
            .try_get::<Option<i64>, _>("http_status")
            .map_err(get)?
            .map(|s| s as i32),
        latency_ms: row.try_get("latency_ms").map_err(get)?,
        request_excerpt: row.try_get("request_excerpt").map_err(get)?,
        response_excerpt: row.try_get("response_excerpt").map_err(get)?,
        outcome: row.try_get("outcome").map_err(get)?,
        at: row.try_get("at").map_err(get)?,
    })
}

#[async_trait]
impl InsightStore for SqlStore {
    async fn record_exchanges(&self, batch: &[PspExchange]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        // Fixed-size statements, so each is prepared once per connection and cached: one
        // statement per batch size would be parsed anew every flush, and parsing and binding
        // cost grows with the square of the parameter count on SQLite.
        let mut tx = self.work_pool.begin().await.map_err(db_err)?;
        for chunk in batch.chunks(EXCHANGE_CHUNK) {
            let mut query = sqlx::query(insert_exchanges_sql(chunk.len()));
            for e in chunk {
                query = query
                    .bind(e.transaction_id.as_ref().map(|t| t.as_str()))
                    .bind(e.attempt_id.as_ref().map(|a| a.as_str()))
                    .bind(e.psp_account_id.as_str())
                    .bind(e.psp_type.as_str())
                    .bind(e.direction.as_str())
                    .bind(e.operation.as_str())
                    .bind(e.method.as_str())
                    .bind(e.path.as_str())
                    .bind(e.http_status.map(i64::from))
                    .bind(e.latency_ms)
                    .bind(e.request_excerpt.as_str())
                    .bind(e.response_excerpt.as_str())
                    .bind(e.outcome.as_deref())
                    .bind(e.at);
            }
            query.execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn exchanges(&self, transaction: &TransactionId) -> Result<Vec<PspExchange>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT id, {COLUMNS} FROM psp_exchanges WHERE transaction_id = $1 ORDER BY id"
        ))
        .bind(transaction.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        decode_all(rows, exchange)
    }

    async fn user_history(
        &self,
        company: &CompanyId,
        user: &str,
        recent: i64,
    ) -> Result<UserHistory, StoreError> {
        let rows = sqlx::query(
            "SELECT txn_type, state, currency, COUNT(*) AS n, \
             CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM transactions \
             WHERE company_id = $1 AND user_id = $2 GROUP BY txn_type, state, currency",
        )
        .bind(company.as_str())
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let totals = decode_all(rows, |r| {
            let get = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
            let kind: String = r.try_get("txn_type").map_err(get)?;
            let state: String = r.try_get("state").map_err(get)?;
            Ok(UserTotal {
                txn_type: TxnType::parse(&kind).ok_or_else(|| StoreError::Corrupt(kind.clone()))?,
                state: TxnState::parse(&state).ok_or_else(|| StoreError::Corrupt(state.clone()))?,
                currency: r.try_get("currency").map_err(get)?,
                count: r.try_get("n").map_err(get)?,
                sum_minor: r.try_get("total").map_err(get)?,
            })
        })?;
        let rows = sqlx::query(&format!(
            "SELECT {TXN_COLUMNS} FROM transactions WHERE company_id = $1 AND user_id = $2 \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(company.as_str())
        .bind(user)
        .bind(recent)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let recent = decode_all(rows, rows::transaction)?;
        Ok(UserHistory { totals, recent })
    }

    async fn overview(&self, query: &OverviewQuery) -> Result<Overview, StoreError> {
        self.overview_of(query).await
    }

    async fn count_transactions(&self, search: &TxnSearch) -> Result<i64, StoreError> {
        self.count_txns(search).await
    }

    async fn prune_exchanges(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM psp_exchanges WHERE at < $1")
            .bind(before)
            .execute(&self.work_pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}
