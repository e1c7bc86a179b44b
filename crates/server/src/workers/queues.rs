//! Queue gauges: every `OVERTURE_QUEUE_GAUGE_INTERVAL` (5 s by default) this node counts the
//! due polls and pending webhooks in the database ([`WorkStore::queue_depths`]) for `/metrics`,
//! so a scrape never queries the database. The counts cover every node sharing the database.
//!
//! [`WorkStore::queue_depths`]: overture_core::store::WorkStore::queue_depths

use crate::app::App;
use tokio_util::sync::CancellationToken;

/// Counts until cancelled; a failed count keeps the last values and is logged.
pub async fn run(app: App, cancel: CancellationToken) {
    let mut every = tokio::time::interval(app.tuning.queue_gauge_interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = every.tick() => {}
        }
        match app.store.queue_depths(app.now()).await {
            Ok(depths) => app.metrics.set_queue_depths(depths),
            Err(e) => tracing::warn!(worker = "queues", error = %e, "queue count failed"),
        }
    }
}
