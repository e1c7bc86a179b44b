//! SQLite forms of the two writes on every payment's path, each sent as one multi-statement
//! batch (`BEGIN; …; COMMIT`). sqlx runs a SQLite connection on its own worker thread and each
//! call is a hand-off to it and back; one batch is one hand-off instead of four. Numbered
//! parameters (`$N`) bind across the statements of a batch. Guards on `changes()` make the
//! follow-up inserts happen only when the version-checked update matched, and a failed batch is
//! rolled back before the connection goes back to the pool.

use crate::rows::{self, TXN_PARAMS};
use crate::transactions::{
    attempt_update_set, bind_new_attempt, bind_transaction, bind_transition,
    insert_transaction_sql, transition_update_sql, AnyQuery, ATTEMPT_INSERT_COLUMNS,
};
use crate::{db_err, SqlStore};
use overture_core::store::{StoreError, Transition};
use overture_core::{Attempt, AttemptWrite, Transaction, TransactionEvent, TxnState};
use sqlx::any::AnyRow;
use sqlx::Executor;

/// Runs a `BEGIN; …; COMMIT;` batch on one connection, rolling back on failure.
pub(crate) async fn run_batch(
    store: &SqlStore,
    query: AnyQuery<'_>,
) -> Result<Vec<AnyRow>, StoreError> {
    let mut conn = store.pool.acquire().await.map_err(db_err)?;
    match query.fetch_all(&mut *conn).await {
        Ok(rows) => Ok(rows),
        Err(e) => {
            // The batch stopped before COMMIT: close the transaction it opened.
            let _ = conn.execute("ROLLBACK").await;
            Err(db_err(e))
        }
    }
}

/// Inserts the transaction, its first attempt (when given) and its events in one batch.
pub(crate) async fn create(
    store: &SqlStore,
    t: &Transaction,
    extras: String,
    events: &[TransactionEvent],
    attempt: Option<&Attempt>,
) -> Result<(), StoreError> {
    // $35..$41: the attempt; the events from $42.
    let a = TXN_PARAMS + 1;
    let values: Vec<String> = (0..events.len())
        .map(|i| {
            let b = a + 7 + i * 6;
            format!(
                "($1, ${}, ${}, ${}, ${}, ${}, ${})",
                b,
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            )
        })
        .collect();
    let mut sql = format!(
        "BEGIN; {}; INSERT INTO attempts ({ATTEMPT_INSERT_COLUMNS}) \
         SELECT ${a}, $1, ${}, ${}, ${}, ${}, 'submitting', ${}, $7, $8, ${}, ${} WHERE ${a} IS NOT NULL;",
        insert_transaction_sql(),
        a + 1,
        a + 2,
        a + 3,
        a + 4,
        a + 5,
        a + 6,
        a + 6
    );
    if !values.is_empty() {
        sql.push_str(&format!(
            " INSERT INTO transaction_events (transaction_id, from_state, to_state, actor, reason, psp_status, at) VALUES {};",
            values.join(", ")
        ));
    }
    sql.push_str(" COMMIT;");
    let query = bind_transaction(sqlx::query(&sql), t, extras);
    let mut query = bind_new_attempt(query, attempt);
    for e in events {
        query = query
            .bind(e.from_state.map(TxnState::as_str))
            .bind(e.to_state.as_str())
            .bind(e.actor.to_db())
            .bind(e.reason.as_deref())
            .bind(e.psp_status.as_deref())
            .bind(e.at);
    }
    run_batch(store, query).await?;
    Ok(())
}

/// The statements of [`transition`] without their `BEGIN`/`COMMIT`: the version-checked
/// update (`RETURNING` the row), its event and, only where `t` needs them, the live attempt's
/// update or the next attempt's insert, and (for a final state) the rollup and the outbox row.
/// A statement a transition does not need is left out rather than guarded off: each one is a
/// step on SQLite's single connection, which every payment waits for. The inserts after the
/// update are guarded by `changes()` so they happen only when the update matched. Parameters
/// as bound by `bind_transition` (SQLite binds only those a statement names). Also run inside
/// the audited transition's DB transaction (`transactions.rs`).
pub(crate) fn transition_statements(t: &Transition) -> String {
    // The attempt and rollup statements come first, guarded by the same predicate as the
    // update that follows: within the batch's DB transaction nothing can change the row in
    // between, and the `changes()` chain of the inserts after the update stays intact.
    let guard = "id = $9 AND version = $10 AND state = $11";
    let matched = format!("FROM transactions WHERE {guard}");
    let mut sql = String::new();
    match &t.attempt {
        AttemptWrite::None => {}
        AttemptWrite::Update { .. } => sql.push_str(&format!(
            "UPDATE attempts SET {} WHERE id = (SELECT attempt_id {matched}) AND $22 IS NOT NULL; ",
            attempt_update_set("")
        )),
        AttemptWrite::Start(_) => sql.push_str(&format!(
            "INSERT INTO attempts ({ATTEMPT_INSERT_COLUMNS}) \
               SELECT $19, $9, $20, $18, $17, $21, 'submitting', $25, amount_minor, currency, $2, $2 \
               {matched} AND $25 IS NOT NULL; "
        )),
    }
    if t.to.is_final() {
        sql.push_str(&crate::rollups::upsert("transactions", guard));
        sql.push_str("; ");
    }
    sql.push_str(&transition_update_sql());
    sql.push_str(
        "; INSERT INTO transaction_events (transaction_id, from_state, to_state, actor, reason, psp_status, at) \
           SELECT $9, $11, $1, $12, $13, $3, $2 WHERE changes() = 1;",
    );
    if t.webhook.is_some() {
        sql.push_str(
            " INSERT INTO webhook_deliveries (id, company_id, transaction_id, payload, state, attempts, next_attempt_at, created_at, trace_id) \
               SELECT $14, company_id, id, $15, 'pending', 0, $2, $2, trace_id FROM transactions \
               WHERE id = $9 AND $14 IS NOT NULL AND changes() = 1;",
        );
    }
    sql
}

/// [`transition_statements`] in one batch.
pub(crate) async fn transition(
    store: &SqlStore,
    t: &Transition,
) -> Result<Transaction, StoreError> {
    let sql = format!("BEGIN; {} COMMIT;", transition_statements(t));
    let query = bind_transition(sqlx::query(&sql), t);
    let rows = run_batch(store, query).await?;
    let row = rows
        .first()
        .ok_or_else(|| StoreError::Conflict(t.transaction_id.to_string()))?;
    rows::transaction(row)
}
