//! [`InsightStore`] on SQL: the PSP exchange log. Appends go through the workers' pool (on
//! PostgreSQL it commits without waiting for the WAL flush): the log is for investigation, and
//! a crash may lose its last batch without harming a payment.

use crate::rows::{self, TXN_COLUMNS};
use crate::{db_err, decode_all, SqlStore};
use async_trait::async_trait;
use overture_core::backoffice::TxnSearch;
use overture_core::insight::{
    AccountOverview, ExchangeDirection, InsightStore, Overview, OverviewQuery, PspExchange,
    SeriesPoint, UserHistory, UserTotal, WebhookHealth, FINAL_BUCKETS,
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
        let rows: Vec<String> = (0..batch.len())
            .map(|i| {
                let params: Vec<String> = (1..=PER_ROW)
                    .map(|p| format!("${}", i * PER_ROW + p))
                    .collect();
                format!("({})", params.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO psp_exchanges ({COLUMNS}) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for e in batch {
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
        query.execute(&self.work_pool).await.map_err(db_err)?;
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

impl SqlStore {
    /// The overview: rollups for final states, live counts for the rest.
    pub(crate) async fn overview_of(&self, q: &OverviewQuery) -> Result<Overview, StoreError> {
        let get = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
        // `$1` from hour, `$2` to, `$3` company or NULL.
        let scope = "hour >= $1 AND hour < $2 AND ($3 IS NULL OR company_id = $3)";
        let company = q.company.as_ref().map(|c| c.as_str().to_owned());
        let from_hour = q.from - q.from.rem_euclid(3_600_000);
        let rows = sqlx::query(&format!(
            "SELECT txn_type, state, currency, CAST(SUM(n) AS BIGINT) AS n, \
             CAST(SUM(amount_minor) AS BIGINT) AS total FROM txn_rollups WHERE {scope} \
             GROUP BY txn_type, state, currency"
        ))
        .bind(from_hour)
        .bind(q.to)
        .bind(company.clone())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let totals = decode_all(rows, |r| {
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
        let sums: Vec<String> = (0..FINAL_BUCKETS)
            .map(|i| format!("CAST(SUM(CASE WHEN state <> 'rejected' THEN b{i} ELSE 0 END) AS BIGINT) AS b{i}"))
            .collect();
        let rows = sqlx::query(&format!(
            "SELECT psp_account_id, MIN(psp_type) AS psp_type, \
             CAST(SUM(CASE WHEN state = 'approved' THEN n ELSE 0 END) AS BIGINT) AS approved, \
             CAST(SUM(CASE WHEN state = 'declined' THEN n ELSE 0 END) AS BIGINT) AS declined, \
             CAST(SUM(CASE WHEN state = 'failed' THEN n ELSE 0 END) AS BIGINT) AS failed, \
             CAST(SUM(CASE WHEN state = 'rejected' THEN n ELSE 0 END) AS BIGINT) AS rejected, {} \
             FROM txn_rollups WHERE {scope} GROUP BY psp_account_id ORDER BY psp_account_id",
            sums.join(", ")
        ))
        .bind(from_hour)
        .bind(q.to)
        .bind(company.clone())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let accounts = decode_all(rows, |r| {
            let mut buckets = [0i64; FINAL_BUCKETS];
            for (i, b) in buckets.iter_mut().enumerate() {
                *b = r.try_get(format!("b{i}").as_str()).map_err(get)?;
            }
            Ok(AccountOverview {
                psp_account_id: r.try_get("psp_account_id").map_err(get)?,
                psp_type: r.try_get("psp_type").map_err(get)?,
                approved: r.try_get("approved").map_err(get)?,
                declined: r.try_get("declined").map_err(get)?,
                failed: r.try_get("failed").map_err(get)?,
                rejected: r.try_get("rejected").map_err(get)?,
                buckets,
            })
        })?;
        let rows = sqlx::query(&format!(
            "SELECT hour - (hour % $4) AS start, \
             CAST(SUM(CASE WHEN state = 'approved' THEN n ELSE 0 END) AS BIGINT) AS approved, \
             CAST(SUM(CASE WHEN state IN ('declined', 'failed') THEN n ELSE 0 END) AS BIGINT) AS unsuccessful, \
             CAST(SUM(CASE WHEN state = 'rejected' THEN n ELSE 0 END) AS BIGINT) AS rejected \
             FROM txn_rollups WHERE {scope} GROUP BY hour - (hour % $4) ORDER BY start"
        ))
        .bind(from_hour)
        .bind(q.to)
        .bind(company.clone())
        .bind(q.bucket_ms.max(3_600_000))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let series = decode_all(rows, |r| {
            Ok(SeriesPoint {
                start: r.try_get("start").map_err(get)?,
                approved: r.try_get("approved").map_err(get)?,
                unsuccessful: r.try_get("unsuccessful").map_err(get)?,
                rejected: r.try_get("rejected").map_err(get)?,
            })
        })?;
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM transactions WHERE state IN \
             ('created', 'awaiting_approval', 'submitting', 'pending', 'retrying') \
             AND created_at >= $1 AND created_at < $2 AND ($3 IS NULL OR company_id = $3)",
        )
        .bind(q.from)
        .bind(q.to)
        .bind(company.clone())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let queue = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM transactions \
             WHERE state = 'awaiting_approval' AND ($1 IS NULL OR company_id = $1)",
        )
        .bind(company.clone())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let hooks = sqlx::query(
            "SELECT COUNT(*) AS total, \
             CAST(COALESCE(SUM(CASE WHEN state = 'delivered' AND attempts = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS first, \
             CAST(COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0) AS BIGINT) AS delivered, \
             CAST(COALESCE(SUM(CASE WHEN state = 'pending' AND attempts > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS failing, \
             CAST(COALESCE(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END), 0) AS BIGINT) AS dead \
             FROM webhook_deliveries WHERE created_at >= $1 AND created_at < $2 \
             AND ($3 IS NULL OR company_id = $3)",
        )
        .bind(q.from)
        .bind(q.to)
        .bind(company)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(Overview {
            totals,
            accounts,
            series,
            open,
            queue_size: queue.try_get("n").map_err(get)?,
            queue_oldest: queue.try_get("oldest").map_err(get)?,
            webhooks: WebhookHealth {
                total: hooks.try_get("total").map_err(get)?,
                delivered_first_attempt: hooks.try_get("first").map_err(get)?,
                delivered: hooks.try_get("delivered").map_err(get)?,
                failing: hooks.try_get("failing").map_err(get)?,
                dead: hooks.try_get("dead").map_err(get)?,
            },
        })
    }
}
