//! SQLite WAL checkpoints off the request path.
//!
//! By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages: that
//! request copies the pages back into the database file and waits for its fsync, and with one
//! connection every other request waits behind it. Under a steady write load that is several
//! times a second, and it showed as the p99 of every request. Here a background task with its
//! own connection runs a PASSIVE checkpoint every [`EVERY`] (it never blocks writers), and the
//! commit-time checkpoint is kept only as a safety net at [`SAFETY_NET_PAGES`].

use crate::{db_err, open_pool, Backend};
use overture_core::store::StoreError;
use std::sync::Weak;
use std::time::Duration;

/// How often the background task checkpoints.
pub(crate) const EVERY: Duration = Duration::from_millis(200);
/// WAL pages after which a commit still checkpoints itself (should the task stall).
pub(crate) const SAFETY_NET_PAGES: u32 = 10_000;

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
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_optional(&pool)
                .await
                .map_err(db_err)
            {
                tracing::warn!(error = ?e, "WAL checkpoint failed; commits checkpoint themselves");
            }
        }
        pool.close().await;
    });
    Ok(())
}
