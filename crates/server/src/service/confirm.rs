//! Confirming what a PSP callback hints at, by asking the PSP (docs/ARCHITECTURE.md).
//!
//! A callback never changes a transaction by itself: even a correctly signed one may carry
//! another order's amount, or be a replay. It only asks for a status query, whose
//! authenticated answer is applied. Those queries are coalesced per transaction, so a flood of
//! callbacks (50 forged ones for one pending payout made 51 status queries in 0.1 s) costs at
//! most one query in flight and one per [`Confirmations::gap`] per transaction; a callback that
//! arrives while a query runs, or within the gap after one, gets one trailing query when the
//! gap ends, so a genuine final callback is never lost to the coalescing.
//!
//! The coalescing is per process; the status poller stays the backstop when a query fails or
//! the process dies.

use crate::app::App;
use crate::service::progress;
use overture_core::{PspAccount, TransactionId, TxnState};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Slots kept before idle ones are purged.
const PURGE_ABOVE: usize = 10_000;
/// Status queries a hint may try when the PSP does not answer, before leaving it to the poller.
const MAX_TRIES: u32 = 3;

/// What became of a hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// A status query was started (or starts when the gap after the last one ends).
    Queued,
    /// A query is already running or queued for this transaction; this hint rides on it.
    Coalesced,
}

#[derive(Default)]
struct Slot {
    /// A query is running now.
    running: bool,
    /// A task is waiting to run a query.
    scheduled: bool,
    /// A hint arrived while running: run once more after the gap.
    rerun: bool,
    last_started: Option<Instant>,
}

/// Per-transaction coalescing of callback-triggered status queries.
pub struct Confirmations {
    slots: Mutex<HashMap<TransactionId, Slot>>,
    gap: Duration,
}

impl Confirmations {
    /// Queries of one transaction start at least `gap` apart.
    pub fn new(gap: Duration) -> Self {
        Self {
            slots: Mutex::default(),
            gap,
        }
    }

    /// The smallest time between two queries of one transaction.
    pub fn gap(&self) -> Duration {
        self.gap
    }

    /// Asks for a status query of transaction `id` (at `account`) on behalf of a callback.
    pub fn request(self: &Arc<Self>, app: &App, id: TransactionId, account: PspAccount) -> Hint {
        let wait = {
            let Ok(mut slots) = self.slots.lock() else {
                return Hint::Coalesced;
            };
            if slots.len() > PURGE_ABOVE {
                let gap = self.gap;
                slots.retain(|_, s| {
                    s.running || s.scheduled || s.last_started.is_some_and(|t| t.elapsed() < gap)
                });
            }
            let slot = slots.entry(id.clone()).or_default();
            if slot.running {
                slot.rerun = true;
                return Hint::Coalesced;
            }
            if slot.scheduled {
                return Hint::Coalesced;
            }
            slot.scheduled = true;
            slot.last_started
                .map(|t| (t + self.gap).saturating_duration_since(Instant::now()))
                .unwrap_or_default()
        };
        let (this, app) = (self.clone(), app.clone());
        tokio::spawn(async move { this.run(app, id, account, wait).await });
        Hint::Queued
    }

    async fn run(
        self: Arc<Self>,
        app: App,
        id: TransactionId,
        account: PspAccount,
        wait: Duration,
    ) {
        tokio::time::sleep(wait).await;
        let mut tries = 0;
        loop {
            self.update(&id, |s| {
                s.scheduled = false;
                s.running = true;
                s.rerun = false;
                s.last_started = Some(Instant::now());
            });
            tries += 1;
            let answered = confirm_once(&app, &id, &account).await;
            let mut again = false;
            self.update(&id, |s| {
                s.running = false;
                again = s.rerun || (!answered && tries < MAX_TRIES);
                s.scheduled = again;
            });
            if !again {
                return;
            }
            tokio::time::sleep(self.gap).await;
        }
    }

    fn update(&self, id: &TransactionId, f: impl FnOnce(&mut Slot)) {
        if let Ok(mut slots) = self.slots.lock() {
            f(slots.entry(id.clone()).or_default());
        }
    }
}

/// One status query, when the transaction still waits for the PSP. False when the PSP (or the
/// store) could not be asked.
async fn confirm_once(app: &App, id: &TransactionId, account: &PspAccount) -> bool {
    let txn = match app.store.transaction(id).await {
        Ok(Some(txn)) => txn,
        Ok(None) => return true,
        Err(e) => {
            tracing::warn!(transaction_id = %id, error = ?e, "confirmation: store error");
            return false;
        }
    };
    let ask = match txn.state {
        TxnState::Pending => true,
        // The create call may still be in flight: an order the PSP has not seen yet must not
        // read as "never received". The poller asks at the deadline.
        TxnState::Submitting => {
            let since = txn.submitted_at.unwrap_or(txn.created_at);
            app.now() >= progress::in_flight_deadline(app, since)
        }
        TxnState::Created
        | TxnState::AwaitingApproval
        | TxnState::Retrying
        | TxnState::Approved
        | TxnState::Declined
        | TxnState::Failed
        | TxnState::Rejected => false,
    };
    if !ask {
        return true;
    }
    app.metrics.confirmations.inc();
    match progress::sync_now(app, txn, Some(account)).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(transaction_id = %id, error = ?e, "confirmation query failed");
            false
        }
    }
}
