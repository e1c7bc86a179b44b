//! The SQLite limit for a pay-in: the commits and rows Overture writes per pay-in (one
//! transaction inserting the transaction row and two events; one updating it to `pending` with
//! one event), in a loop on one connection, with the same pragmas as Overture.

use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;
use std::time::{Duration, Instant};

const SETUP: &[&str] = &[
    "INSERT INTO companies (id, name, api_secret_enc, webhook_url, webhook_secret_enc, verify_user_url, created_at) \
     VALUES ('cmp_bench', 'bench', 'x', 'http://x', 'x', 'http://x', 0)",
    "INSERT INTO psp_accounts (id, company_id, psp_type, base_url, credentials_enc, enabled, priority, created_at) \
     VALUES ('psp_bench', 'cmp_bench', 'FORUMPAY', 'http://x', 'x', 1, 0, 0)",
];

/// Runs for `duration`; returns the report with pay-ins/s.
pub async fn run(path: &str, duration: Duration) -> anyhow::Result<serde_json::Value> {
    let _ = std::fs::remove_file(path);
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10));
    let mut conn = options.connect().await?;
    sqlx::migrate!("../store/migrations/sqlite")
        .run(&mut conn)
        .await?;
    for s in SETUP {
        sqlx::query(s).execute(&mut conn).await?;
    }
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < duration {
        let id = format!("txn_{}", uuid::Uuid::now_v7().simple());
        let now = n as i64;
        let mut tx = conn.begin().await?;
        sqlx::query(
            "INSERT INTO transactions (id, company_id, brand_id, txn_type, psp_type, psp_account_id, amount_minor, currency, \
             user_id, email, country, extras, state, session_id, created_at, updated_at, submitted_at, version, next_poll_at, poll_attempts) \
             VALUES ($1, 'cmp_bench', NULL, 'PAYIN', 'FORUMPAY', 'psp_bench', 1000, 'EUR', 'u', 'e@x.co', 'DE', '{}', 'submitting', $2, $3, $3, $3, 1, $3, 0)",
        )
        .bind(&id)
        .bind(format!("ses_{}", uuid::Uuid::now_v7().simple()))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for (from, to) in [(None, "created"), (Some("created"), "submitting")] {
            sqlx::query("INSERT INTO transaction_events (transaction_id, from_state, to_state, actor, at) VALUES ($1, $2, $3, 'merchant', $4)")
                .bind(&id)
                .bind(from)
                .bind(to)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("UPDATE transactions SET state = 'pending', version = version + 1, psp_status = 'Waiting', psp_transaction_id = $1, redirect_url = 'http://x/pay', next_poll_at = $2 WHERE id = $3 AND version = 1")
            .bind(&id)
            .bind(now + 5_000)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO transaction_events (transaction_id, from_state, to_state, actor, psp_status, at) VALUES ($1, 'submitting', 'pending', 'psp', 'Waiting', $2)")
            .bind(&id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(
        json!({ "benchmark": "SQLite baseline (2 commits, 1 insert + 3 events + 1 update per pay-in)", "payins": n, "secs": secs, "payinsPerSec": (n as f64 / secs).round() }),
    )
}
