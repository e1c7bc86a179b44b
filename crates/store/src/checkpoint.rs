//! SQLite WAL checkpoints off the request path.
//!
//! By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages: that
//! request copies the pages back into the database file and waits for its fsync, and with one
//! connection every other request waits behind it. Under a steady write load that is several
//! times a second, and it showed as the p99 of every request. Here a background task with its
//! own connection runs a PASSIVE checkpoint every [`EVERY`] (it never blocks writers), and the
//! commit-time checkpoint is kept only as a safety net at [`SAFETY_NET_PAGES`].
//!
//! A PASSIVE checkpoint copies what it can but only lets the WAL start over when it caught up
//! with every commit; under a write load heavier than the disk (a busy or slow machine) it may
//! never catch up, and the WAL grows to the safety net. So when a pass leaves more than
//! [`RESTART_PAGES`] in the WAL, the task runs one RESTART checkpoint: it waits for writers
//! (up to the busy timeout) to finish the copy and makes the next writer start the WAL over,
//! bounding the file at the cost of a rare short pause.

use crate::{db_err, open_pool, Backend};
use overture_core::store::StoreError;
use std::sync::Weak;
use std::time::Duration;

/// How often the background task checkpoints.
pub(crate) const EVERY: Duration = Duration::from_millis(200);
/// WAL pages after which a commit still checkpoints itself (should the task stall).
pub(crate) const SAFETY_NET_PAGES: u32 = 10_000;
/// WAL pages left after a PASSIVE pass above which the task runs a RESTART checkpoint.
pub(crate) const RESTART_PAGES: i64 = 2_500;

/// Starts the checkpointer for the SQLite database at `url`; it stops once `alive` has no
/// strong reference left (the last clone of the store is gone).
pub(crate) async fn start(url: &str, alive: Weak<()>) -> Result<(), StoreError> {
    let pool = open_pool(url, Backend::Sqlite, None, 1, false).await?;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if alive.upgrade().is_none() {
                break;
            }
            // Columns: busy, pages in the WAL, pages checkpointed.
            let pass: Result<Option<(i64, i64, i64)>, _> =
                sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_optional(&pool)
                    .await
                    .map_err(db_err);
            match pass {
                Ok(Some((_, log, done)))
                    if log - done > RESTART_PAGES || log > 4 * RESTART_PAGES =>
                {
                    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                        .fetch_optional(&pool)
                        .await
                    {
                        tracing::warn!(error = ?e, log, "WAL restart checkpoint failed");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = ?e, "WAL checkpoint failed; commits checkpoint themselves")
                }
            }
        }
        pool.close().await;
    });
    Ok(())
}
