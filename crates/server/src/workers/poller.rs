//! The status poller: asks the PSP about every non-final order on the PSP's published
//! schedule (PaynetEasy: every 3–5 s for 5 minutes, then every 5–10 minutes up to an hour)
//! and fails it with reason `timeout` when the schedule ends without a final status.

use crate::app::App;
use crate::service::progress;
use crate::workers::{ms, run_loop};
use overture_core::*;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Runs the poller until cancelled.
pub async fn run(app: App, cancel: CancellationToken) {
    let wakeup = app.poll_wakeup.clone();
    run_loop("poller", app, wakeup, cancel, round).await;
}

/// Claims one batch of due transactions and polls each in its own task; true if the batch was full.
async fn round(app: App, permits: Arc<Semaphore>) -> anyhow::Result<bool> {
    let now = app.now();
    let batch = app.tuning.worker_batch;
    let due = app
        .store
        .claim_due_polls(now, now + ms(app.tuning.lease), batch)
        .await?;
    let full = due.len() as i64 == batch;
    app.metrics
        .record_poll_round(due.iter().map(|t| now - t.next_poll_at.unwrap_or(now)));
    for txn in due {
        let permit = permits.clone().acquire_owned().await?;
        let app = app.clone();
        tokio::spawn(async move {
            poll_one(&app, txn).await;
            drop(permit);
        });
    }
    Ok(full)
}

async fn poll_one(app: &App, txn: Transaction) {
    let id = txn.id.clone();
    let next = match txn.state {
        TxnState::Submitting | TxnState::Pending => poll_open(app, txn).await,
        // Held or closed rows have nothing to ask the PSP.
        TxnState::Created
        | TxnState::AwaitingApproval
        | TxnState::Approved
        | TxnState::Declined
        | TxnState::Failed
        | TxnState::Rejected => None,
    };
    if let Err(e) = app.store.reschedule_poll(&id, next).await {
        tracing::error!(transaction_id = %id, error = ?e, "could not reschedule poll");
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
    match progress::next_poll_at(app, connector.as_ref(), now, now - started) {
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
