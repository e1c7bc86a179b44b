//! The status poller: asks the PSP about every non-final order — payouts on the PSP's published
//! schedule (PaynetEasy: every 3–5 s for 5 minutes, then every 5–10 minutes up to an hour),
//! pay-ins waiting for their customer with exponential backoff (the PSP's webhook is their
//! prompt signal) — and fails it with reason `timeout` when the schedule ends without a final
//! status. It works within a budget (see [`run`]).

use crate::app::App;
use crate::service::progress;
use crate::workers::budget::TokenBucket;
use crate::workers::ms;
use overture_core::{Actor, Transaction, TransactionId, TxnState};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

/// Rescheduled polls are written together, at most this long after their query.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Largest batch of reschedules in one statement.
const FLUSH_MAX: usize = 256;

/// A polled transaction and when to poll it next (`None`: stop).
type Rescheduled = (TransactionId, Option<i64>);

/// Runs the poller until cancelled. Its budget: at most `OVERTURE_POLL_RATE` status queries
/// per second, spread evenly, at most `OVERTURE_POLLER_CONCURRENCY` in flight, and one
/// database write per batch of reschedules, so a backlog of open orders cannot crowd out the
/// API. Due polls beyond the budget wait, oldest due first.
pub async fn run(app: App, cancel: CancellationToken) {
    let (done_tx, done_rx) = mpsc::unbounded_channel::<Rescheduled>();
    let flusher = tokio::spawn(flush(app.clone(), done_rx));
    let permits = Arc::new(Semaphore::new(app.tuning.poller_concurrency.max(1)));
    let mut bucket = TokenBucket::new(app.tuning.poll_rate);
    tracing::info!(worker = "poller", rate = app.tuning.poll_rate, "started");
    while !cancel.is_cancelled() {
        let wait = bucket.wait(Instant::now());
        if !wait.is_zero() {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(wait) => continue,
            }
        }
        let full = match round(&app, &mut bucket, &permits, &done_tx).await {
            Ok(full) => full,
            Err(e) => {
                tracing::error!(worker = "poller", error = ?e, "round failed");
                false
            }
        };
        if full {
            continue;
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = app.poll_wakeup.notified() => {}
            _ = tokio::time::sleep(app.tuning.worker_tick) => {}
        }
    }
    drop(done_tx);
    let _ = flusher.await;
    tracing::info!(worker = "poller", "stopped");
}

/// Claims as many due transactions as the budget allows and polls each in its own task; true
/// when it claimed all it asked for (more may be due).
async fn round(
    app: &App,
    bucket: &mut TokenBucket,
    permits: &Arc<Semaphore>,
    done: &mpsc::UnboundedSender<Rescheduled>,
) -> anyhow::Result<bool> {
    let batch = u64::try_from(app.tuning.worker_batch.max(1)).unwrap_or(1);
    let want = bucket.take(batch, Instant::now());
    let now = app.now();
    let due = app
        .store
        .claim_due_polls(now, now + ms(app.tuning.lease), want as i64)
        .await;
    let due = match due {
        Ok(due) => due,
        Err(e) => {
            bucket.refund(want);
            return Err(e.into());
        }
    };
    bucket.refund(want - due.len() as u64);
    let full = due.len() as u64 == want;
    app.metrics
        .record_poll_round(due.iter().map(|t| now - t.next_poll_at.unwrap_or(now)));
    for txn in due {
        let permit = permits.clone().acquire_owned().await?;
        let (app, done) = (app.clone(), done.clone());
        tokio::spawn(async move {
            let id = txn.id.clone();
            let next = poll_one(&app, txn).await;
            // The flusher outlives every poll task (it stops when the last sender is gone).
            let _ = done.send((id, next));
            drop(permit);
        });
    }
    Ok(full)
}

/// Writes reschedules in batches: one statement per [`FLUSH_EVERY`] instead of one per poll.
async fn flush(app: App, mut done: mpsc::UnboundedReceiver<Rescheduled>) {
    let mut batch = Vec::with_capacity(FLUSH_MAX);
    while done.recv_many(&mut batch, FLUSH_MAX).await > 0 {
        // Let the batch fill for a moment; the rows stay leased meanwhile.
        tokio::time::sleep(FLUSH_EVERY).await;
        while batch.len() < FLUSH_MAX {
            match done.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        if let Err(e) = app.store.reschedule_polls(&batch).await {
            // The rows keep their lease and are polled again when it ends.
            tracing::error!(error = ?e, polls = batch.len(), "could not reschedule polls");
        }
        batch.clear();
    }
}

/// Polls one claimed transaction; returns when to poll it next (`None`: stop).
async fn poll_one(app: &App, txn: Transaction) -> Option<i64> {
    match txn.state {
        TxnState::Submitting | TxnState::Pending => poll_open(app, txn).await,
        // Held or closed rows have nothing to ask the PSP.
        TxnState::Created
        | TxnState::AwaitingApproval
        | TxnState::Approved
        | TxnState::Declined
        | TxnState::Failed
        | TxnState::Rejected => None,
    }
}

/// Queries the PSP once; returns when to ask again (`None`: final, or given up).
async fn poll_open(app: &App, txn: Transaction) -> Option<i64> {
    let Some(connector) = app.registry.get(txn.psp_type.as_str()).cloned() else {
        tracing::error!(transaction_id = %txn.id, psp = %txn.psp_type, "no connector; polling stopped");
        return None;
    };
    let started = txn.submitted_at.unwrap_or(txn.created_at);
    let current = match progress::sync_now(app, txn.clone(), None).await {
        Ok(updated) => updated,
        Err(e) => {
            tracing::warn!(transaction_id = %txn.id, error = ?e, "status query failed");
            txn
        }
    };
    if current.state.is_final() {
        return None;
    }
    let now = app.now();
    let kind = (current.txn_type, current.state);
    match progress::next_poll_at(app, connector.as_ref(), kind, now, now - started) {
        Some(at) => Some(at),
        None => {
            let limit = progress::poll_schedule(app, connector.as_ref()).give_up_after / 1000;
            let reason = format!("timeout: no final status from the PSP within {limit} s");
            if let Err(e) = progress::finalize(
                app,
                &current,
                TxnState::Failed,
                Actor::System,
                Some(reason),
                None,
            )
            .await
            {
                // A callback finalised it meanwhile, or the row moved on: look again soon.
                tracing::info!(transaction_id = %current.id, error = %e, "timeout not applied");
                return Some(now + 1_000);
            }
            None
        }
    }
}
