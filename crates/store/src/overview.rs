//! The back office's overview on SQL: final states from the hourly rollups (written with each
//! final state), the rest (open transactions, the approval queue, webhook health) counted live.
//! The six queries are independent, so they run at once on separate connections: the page
//! waits for the slowest (webhook health, a scan of the period's deliveries), not for the sum.
//! Each query is written for its case, with or without a company, so the planner never has to
//! pick one plan for both (`$n IS NULL OR company_id = $n` defeats the company indexes).

use crate::{db_err, decode_all, SqlStore};
use overture_core::insight::{
    AccountOverview, Overview, OverviewQuery, SeriesPoint, UserTotal, WebhookHealth, FINAL_BUCKETS,
};
use overture_core::store::StoreError;
use overture_core::{TxnState, TxnType};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row};

type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

fn get(e: sqlx::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// The period's bounds and the company, bound in that order (`$1`, `$2`, then `$3` when a
/// company is given), with the matching condition on `column` (`hour` or `created_at`).
struct Scope<'a> {
    from: i64,
    to: i64,
    company: Option<&'a str>,
}

impl Scope<'_> {
    /// `<column> >= $1 AND <column> < $2[ AND company_id = $3]`.
    fn condition(&self, column: &str) -> String {
        match self.company {
            Some(_) => format!("{column} >= $1 AND {column} < $2 AND company_id = $3"),
            None => format!("{column} >= $1 AND {column} < $2"),
        }
    }

    fn bind<'q>(&self, q: AnyQuery<'q>, from: i64) -> AnyQuery<'q> {
        let q = q.bind(from).bind(self.to);
        match self.company {
            Some(c) => q.bind(c.to_owned()),
            None => q,
        }
    }
}

impl SqlStore {
    pub(crate) async fn overview_of(&self, q: &OverviewQuery) -> Result<Overview, StoreError> {
        let company = q.company.as_ref().map(|c| c.as_str());
        let scope = Scope {
            from: q.from,
            to: q.to,
            company,
        };
        // Rollups are per hour: the hour the period starts in is included whole.
        let from_hour = q.from - q.from.rem_euclid(3_600_000);
        let (totals, accounts, series, open, (queue_size, queue_oldest), webhooks) = tokio::try_join!(
            self.overview_totals(&scope, from_hour),
            self.overview_accounts(&scope, from_hour),
            self.overview_series(&scope, from_hour, q.bucket_ms.max(3_600_000)),
            self.overview_open(&scope),
            self.overview_queue(company),
            self.overview_webhooks(&scope),
        )?;
        Ok(Overview {
            totals,
            accounts,
            series,
            open,
            queue_size,
            queue_oldest,
            webhooks,
        })
    }

    async fn overview_totals(
        &self,
        scope: &Scope<'_>,
        from_hour: i64,
    ) -> Result<Vec<UserTotal>, StoreError> {
        let sql = format!(
            "SELECT txn_type, state, currency, CAST(SUM(n) AS BIGINT) AS n, \
             CAST(SUM(amount_minor) AS BIGINT) AS total FROM txn_rollups WHERE {} \
             GROUP BY txn_type, state, currency",
            scope.condition("hour")
        );
        let rows = scope
            .bind(sqlx::query(&sql), from_hour)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        decode_all(rows, |r| {
            let kind: String = r.try_get("txn_type").map_err(get)?;
            let state: String = r.try_get("state").map_err(get)?;
            Ok(UserTotal {
                txn_type: TxnType::parse(&kind).ok_or_else(|| StoreError::Corrupt(kind.clone()))?,
                state: TxnState::parse(&state).ok_or_else(|| StoreError::Corrupt(state.clone()))?,
                currency: r.try_get("currency").map_err(get)?,
                count: r.try_get("n").map_err(get)?,
                sum_minor: r.try_get("total").map_err(get)?,
            })
        })
    }

    async fn overview_accounts(
        &self,
        scope: &Scope<'_>,
        from_hour: i64,
    ) -> Result<Vec<AccountOverview>, StoreError> {
        let sums: Vec<String> = (0..FINAL_BUCKETS)
            .map(|i| format!("CAST(SUM(CASE WHEN state <> 'rejected' THEN b{i} ELSE 0 END) AS BIGINT) AS b{i}"))
            .collect();
        let sql = format!(
            "SELECT psp_account_id, MIN(psp_type) AS psp_type, \
             CAST(SUM(CASE WHEN state = 'approved' THEN n ELSE 0 END) AS BIGINT) AS approved, \
             CAST(SUM(CASE WHEN state = 'declined' THEN n ELSE 0 END) AS BIGINT) AS declined, \
             CAST(SUM(CASE WHEN state = 'failed' THEN n ELSE 0 END) AS BIGINT) AS failed, \
             CAST(SUM(CASE WHEN state = 'rejected' THEN n ELSE 0 END) AS BIGINT) AS rejected, {} \
             FROM txn_rollups WHERE {} GROUP BY psp_account_id ORDER BY psp_account_id",
            sums.join(", "),
            scope.condition("hour")
        );
        let rows = scope
            .bind(sqlx::query(&sql), from_hour)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        decode_all(rows, |r| {
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
        })
    }

    async fn overview_series(
        &self,
        scope: &Scope<'_>,
        from_hour: i64,
        bucket_ms: i64,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        // The bucket width is a number the code chose, written into the SQL so both backends
        // group by the same constant expression.
        let sql = format!(
            "SELECT hour - (hour % {bucket_ms}) AS start, \
             CAST(SUM(CASE WHEN state = 'approved' THEN n ELSE 0 END) AS BIGINT) AS approved, \
             CAST(SUM(CASE WHEN state IN ('declined', 'failed') THEN n ELSE 0 END) AS BIGINT) AS unsuccessful, \
             CAST(SUM(CASE WHEN state = 'rejected' THEN n ELSE 0 END) AS BIGINT) AS rejected \
             FROM txn_rollups WHERE {} GROUP BY hour - (hour % {bucket_ms}) ORDER BY start",
            scope.condition("hour")
        );
        let rows = scope
            .bind(sqlx::query(&sql), from_hour)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        decode_all(rows, |r| {
            Ok(SeriesPoint {
                start: r.try_get("start").map_err(get)?,
                approved: r.try_get("approved").map_err(get)?,
                unsuccessful: r.try_get("unsuccessful").map_err(get)?,
                rejected: r.try_get("rejected").map_err(get)?,
            })
        })
    }

    /// Transactions created in the period and not final yet.
    async fn overview_open(&self, scope: &Scope<'_>) -> Result<i64, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) FROM transactions WHERE state IN \
             ('created', 'awaiting_approval', 'submitting', 'pending', 'retrying') AND {}",
            scope.condition("created_at")
        );
        scope
            .bind(sqlx::query(&sql), scope.from)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?
            .try_get(0)
            .map_err(get)
    }

    /// The approval queue now (whatever the period): its size and oldest creation time.
    async fn overview_queue(
        &self,
        company: Option<&str>,
    ) -> Result<(i64, Option<i64>), StoreError> {
        let base = "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM transactions \
                    WHERE state = 'awaiting_approval'";
        let row = match company {
            Some(c) => {
                sqlx::query(&format!("{base} AND company_id = $1"))
                    .bind(c.to_owned())
                    .fetch_one(&self.pool)
                    .await
            }
            None => sqlx::query(base).fetch_one(&self.pool).await,
        }
        .map_err(db_err)?;
        Ok((
            row.try_get("n").map_err(get)?,
            row.try_get("oldest").map_err(get)?,
        ))
    }

    /// Deliveries created in the period, by outcome.
    async fn overview_webhooks(&self, scope: &Scope<'_>) -> Result<WebhookHealth, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) AS total, \
             CAST(COALESCE(SUM(CASE WHEN state = 'delivered' AND attempts = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS first, \
             CAST(COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0) AS BIGINT) AS delivered, \
             CAST(COALESCE(SUM(CASE WHEN state = 'pending' AND attempts > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS failing, \
             CAST(COALESCE(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END), 0) AS BIGINT) AS dead \
             FROM webhook_deliveries WHERE {}",
            scope.condition("created_at")
        );
        let row = scope
            .bind(sqlx::query(&sql), scope.from)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(WebhookHealth {
            total: row.try_get("total").map_err(get)?,
            delivered_first_attempt: row.try_get("first").map_err(get)?,
            delivered: row.try_get("delivered").map_err(get)?,
            failing: row.try_get("failing").map_err(get)?,
            dead: row.try_get("dead").map_err(get)?,
        })
    }
}
