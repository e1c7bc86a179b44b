//! Background work inside `serve`: the status poller, the webhook dispatcher and the queue
//! gauges. The first two claim due rows with leases (several nodes share the work), make their
//! HTTP calls outside any DB transaction, bound their concurrency with a semaphore and stop on
//! a cancellation token.

pub mod budget;
pub mod poller;
pub mod queues;
pub mod signing;
pub mod webhooks;

use crate::app::App;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

/// Runs `round` until cancelled with at most `concurrency` jobs in flight: again at once when it
/// reports a full batch, otherwise after the tick or when `wakeup` is notified. Each claimed row
/// runs in its own task, so one job's panic never kills the worker.
pub(crate) async fn run_loop<F, Fut>(
    name: &'static str,
    app: App,
    (wakeup, concurrency): (Arc<Notify>, usize),
    cancel: CancellationToken,
    round: F,
) where
    F: Fn(App, Arc<Semaphore>) -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let tick = app.tuning.worker_tick;
    tracing::info!(worker = name, "started");
    loop {
        if cancel.is_cancelled() {
            break;
        }
        let full = match round(app.clone(), permits.clone()).await {
            Ok(full) => full,
            Err(e) => {
                tracing::error!(worker = name, error = ?e, "round failed");
                false
            }
        };
        if full {
            continue;
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(tick) => {}
        }
    }
    tracing::info!(worker = name, "stopped");
}

/// Milliseconds of a duration, saturating.
pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
