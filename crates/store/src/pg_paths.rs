//! PostgreSQL forms of the two writes on every payment's path, each one statement: a
//! data-modifying CTE is atomic on its own, so the row, its events and its outbox row need no
//! `BEGIN`/`COMMIT` round trips (one round trip instead of four or five). SQLite has no
//! data-modifying CTEs and sends the same writes as one batch (`sqlite_paths.rs`); the
//! conformance suite runs both forms.

use crate::rows::{self, TXN_COLUMNS, TXN_PARAMS};
use crate::transactions::{
    attempt_update_set, bind_new_attempt, bind_transaction, bind_transition,
    insert_transaction_sql, transition_update_sql, ATTEMPT_INSERT_COLUMNS,
};
use crate::{db_err, SqlStore};
use overture_core::store::{StoreError, Transition};
use overture_core::{Attempt, Transaction, TransactionEvent, TxnState};

/// Inserts the transaction, its first attempt (when given) and its events in one statement.
pub(crate) async fn create(
    store: &SqlStore,
    t: &Transaction,
    extras: String,
    events: &[TransactionEvent],
    attempt: Option<&Attempt>,
) -> Result<(), StoreError> {
    // $35..$41: the attempt; the events from $42.
    let a = TXN_PARAMS + 1;
    let mut values = Vec::new();
    for i in 0..events.len() {
        let b = a + 7 + i * 6;
        values.push(format!(
            "(${}::text, ${}::text, ${}::text, ${}::text, ${}::text, ${}::bigint)",
            b,
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5
        ));
    }
    if events.is_empty() {
        values.push(
            "(NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint)".into(),
        );
    }
    let sql = format!(
        "WITH t AS ({} RETURNING id, amount_minor, currency), \
         a AS (INSERT INTO attempts ({ATTEMPT_INSERT_COLUMNS}) \
           SELECT ${a}, t.id, ${}::bigint, ${}, ${}, ${}, 'submitting', ${}, t.amount_minor, t.currency, \
             ${}::bigint, ${}::bigint FROM t WHERE ${a}::text IS NOT NULL) \
         INSERT INTO transaction_events (transaction_id, from_state, to_state, actor, reason, psp_status, at) \
         SELECT t.id, v.from_state, v.to_state, v.actor, v.reason, v.psp_status, v.at \
         FROM t, (VALUES {}) AS v (from_state, to_state, actor, reason, psp_status, at) \
         WHERE v.to_state IS NOT NULL",
        insert_transaction_sql(),
        a + 1,
        a + 2,
        a + 3,
        a + 4,
        a + 5,
        a + 6,
        a + 6,
        values.join(", ")
    );
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
    query.execute(&store.pool).await.map_err(db_err)?;
    Ok(())
}

/// The statement of [`transition`]: the version-checked update, its event and (for a final
/// state) its outbox row, `RETURNING` the updated row (none when the version or state moved
/// on). Parameters as bound by `bind_transition`. Also run inside the audited transition's
/// DB transaction (`transactions.rs`).
pub(crate) fn transition_sql() -> String {
    format!(
        "WITH u AS ({}), e AS ( \
           INSERT INTO transaction_events (transaction_id, from_state, to_state, actor, reason, psp_status, at) \
           SELECT id, $11, $1, $12, $13, $3, $2 FROM u \
         ), w AS ( \
           INSERT INTO webhook_deliveries (id, company_id, transaction_id, payload, state, attempts, next_attempt_at, created_at, trace_id) \
           SELECT $14, company_id, id, $15, 'pending', 0, $2, $2, trace_id FROM u WHERE $14::text IS NOT NULL \
         ), a AS ( \
           UPDATE attempts SET {} FROM u WHERE attempts.id = u.attempt_id AND $22::text IS NOT NULL \
         ), s AS ( \
           INSERT INTO attempts ({ATTEMPT_INSERT_COLUMNS}) \
           SELECT $19, u.id, $20, $18, $17, $21, 'submitting', $25, u.amount_minor, u.currency, $2, $2 \
           FROM u WHERE $25::text IS NOT NULL \
         ), r AS ({}) SELECT {TXN_COLUMNS} FROM u",
        transition_update_sql(),
        attempt_update_set("attempts."),
        crate::rollups::upsert("u", "true")
    )
}

/// [`transition_sql`] as one statement. No row back means the version or state moved on:
/// `Conflict`.
pub(crate) async fn transition(
    store: &SqlStore,
    t: &Transition,
) -> Result<Transaction, StoreError> {
    let sql = transition_sql();
    // A recoverable, non-final change may skip the WAL flush (see `StoreOptions`).
    let pool = if t.recoverable && !t.to.is_final() {
        &store.work_pool
    } else {
        &store.pool
    };
    let row = bind_transition(sqlx::query(&sql), t)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::Conflict(t.transaction_id.to_string()))?;
    rows::transaction(&row)
}
