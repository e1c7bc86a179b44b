//! The status poller: asks the PSP about every non-final order — payouts on the PSP's published
//! schedule (PaynetEasy: every 3–5 s for 5 minutes, then every 5–10 minutes up to an hour),
//! pay-ins waiting for their customer with exponential backoff (the PSP's webhook is their
//! prompt signal) — and fails it with reason `timeout` when the schedule ends without a final
//! status. It works within a budget (see [`run`]).

use crate::app::App;
use crate::service::attempts::{self, Flow, Next};
use crate::service::progress;
use crate::workers::budget::TokenBucket;
use crate::workers::ms;
use overture_core::{Actor, Transaction, TxnState, TxnType};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Runs the poller until cancelled. Its budget: at most `OVERTURE_POLL_RATE` status queries
/// per second, spread evenly (`OVERTURE_POLL_RATE_BUSY` while this node serves API requests,
/// see [`crate::workers::budget`]), at most `OVERTURE_POLLER_CONCURRENCY` in flight, and one row
/// write per poll that finds nothing new (the claim itself, see
/// [`overture_core::store::WorkStore::claim_due_polls`]), so a backlog of open orders cannot
/// crowd out the API. Due polls beyond the budget wait, oldest due first.
pub async fn run(app: App, cancel: CancellationToken) {
    let permits = Arc::new(Semaphore::new(app.tuning.poller_concurrency.max(1)));
    let (idle_rate, busy_rate) = (app.tuning.poll_rate, app.tuning.poll_rate_busy);
    let mut bucket = TokenBucket::new(idle_rate);
    let mut busy = false;
    tracing::info!(worker = "poller", idle_rate, busy_rate, "started");
    while !cancel.is_cancelled() {
        if app.api_activity.busy(app.now()) != busy {
            busy = !busy;
            bucket.set_rate(if busy { busy_rate } else { idle_rate }, Instant::now());
        }
        let wait = bucket.wait(Instant::now());
        if !wait.is_zero() {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(wait) => continue,
            }
        }
        let full = match round(&app, &mut bucket, &permits).await {
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
    tracing::info!(worker = "poller", "stopped");
}

/// When to poll `txn` again should the poll about to be made find nothing new: the schedule
/// for its type and state. Past the give-up time, after the lease: the poll about to be made
/// closes it, and if that fails it is tried again then.
fn next_due(app: &App, txn: &Transaction, now: i64) -> i64 {
    let started = txn.submitted_at.unwrap_or(txn.created_at);
    app.registry
        .get(txn.psp_type.as_str())
        .and_then(|c| {
            let kind = (txn.txn_type, txn.state);
            progress::next_poll_at(app, c.as_ref(), kind, now, now - started)
        })
        .unwrap_or(now + ms(app.tuning.lease))
}

/// Claims as many due transactions as the budget allows and polls each in its own task; true
/// when it claimed all it asked for (more may be due).
async fn round(
    app: &App,
    bucket: &mut TokenBucket,
    permits: &Arc<Semaphore>,
) -> anyhow::Result<bool> {
    let batch = u64::try_from(app.tuning.worker_batch.max(1)).unwrap_or(1);
    let want = bucket.take(batch, Instant::now());
    let now = app.now();
    let schedule = |t: &Transaction| next_due(app, t, now);
    let due = match app.store.claim_due_polls(now, want as i64, &schedule).await {
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
        let app = app.clone();
        let job = app.metrics.job_started("poller");
        tokio::spawn(async move {
            let _job = job;
            let id = txn.id.clone();
            if let Some(at) = poll_one(&app, txn).await {
                if let Err(e) = app.store.reschedule_polls(&[(id.clone(), Some(at))]).await {
                    tracing::error!(transaction_id = %id, error = ?e, "could not reschedule poll");
                }
            }
            drop(permit);
        });
    }
    Ok(full)
}

/// Polls one claimed transaction. The claim already scheduled its next poll, and a state
/// change writes its own; returns a time only when that must be overridden.
async fn poll_one(app: &App, txn: Transaction) -> Option<i64> {
    match txn.state {
        TxnState::Submitting | TxnState::Pending => poll_open(app, txn).await,
        TxnState::Retrying => next_attempt(app, txn).await,
        // Held or closed rows have nothing to ask the PSP.
        TxnState::Created
        | TxnState::AwaitingApproval
        | TxnState::Approved
        | TxnState::Declined
        | TxnState::Failed
        | TxnState::Rejected => None,
    }
}

/// Starts the next attempt of a payout whose last attempt was proven not to have moved money
/// (one at a time: the previous one is closed), and makes its call. A pay-in left in
/// `retrying` lost the request that was failing it over (its customer never got a page): it
/// fails. Returns a time only when nothing could be done (look again then).
async fn next_attempt(app: &App, txn: Transaction) -> Option<i64> {
    let id = txn.id.clone();
    let result = match txn.txn_type {
        TxnType::Payin => {
            let reason =
                "the request failing this pay-in over ended; its customer never got a payment page";
            progress::finalize(
                app,
                &txn,
                TxnState::Failed,
                Actor::System,
                Some(reason.into()),
                None,
            )
            .await
            .map(|_| ())
            .map_err(anyhow::Error::from)
        }
        TxnType::Payout => match attempts::advance(app, txn).await {
            Ok(Next::Started { txn, account }) => {
                let secrets = progress::Secrets::new();
                attempts::call(app, txn, &account, &secrets, Flow::Background)
                    .await
                    .map(|_| ())
            }
            Ok(Next::Closed(_)) => Ok(()),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => None,
        Err(e) => {
            tracing::warn!(transaction_id = %id, error = ?e, "next attempt not started; will look again");
            Some(app.now() + ms(app.tuning.worker_tick) * 10)
        }
    }
}

/// Queries the PSP once, and closes the order with reason `timeout` when its schedule has
/// ended; returns a time only when that could not be applied (look again soon).
async fn poll_open(app: &App, txn: Transaction) -> Option<i64> {
    let Some(connector) = app.registry.get(txn.psp_type.as_str()).cloned() else {
        tracing::error!(transaction_id = %txn.id, psp = %txn.psp_type, "no connector; not polled");
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
        Some(_) => None,
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
