//! The PSP exchange log: every HTTP exchange with a PSP (recorded by the shared PSP HTTP layer
//! through its observer hook, so no connector knows of it) and every callback a PSP sent (with
//! what Overture did with it), masked ([`mask`]) and written in batches by a background task,
//! off the payment's path. Kept `OVERTURE_EXCHANGE_RETENTION_DAYS` days.
//!
//! The log is for investigation: a batch not yet written when the process dies is lost, and a
//! full queue (a store outage) drops entries rather than slow payments (both counted in
//! `/metrics`).

pub mod mask;

use overture_connectors::http::{CallContext, Exchange, ExchangeObserver};
use overture_core::insight::{ExchangeDirection, PspExchange};
use overture_core::store::Store;
use overture_core::{AttemptId, Clock, PspAccountId, TransactionId};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Entries waiting to be written before new ones are dropped.
const QUEUE: usize = 10_000;
/// Most entries in one INSERT.
const BATCH: usize = 200;
/// How often the writer flushes what is queued.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// A callback as Overture received and handled it.
pub struct ReceivedCallback<'a> {
    pub account: &'a PspAccountId,
    pub psp_type: &'a str,
    pub transaction: Option<&'a TransactionId>,
    pub attempt: Option<&'a AttemptId>,
    pub method: &'a str,
    /// Path and query as received.
    pub path: &'a str,
    pub body: &'a [u8],
    /// What Overture answered.
    pub answered: u16,
    /// What Overture did with it (`verified; status query requested`, `refused: …`).
    pub outcome: String,
}

/// The log's front: an observer of PSP exchanges and a recorder of callbacks.
pub struct ExchangeLog {
    tx: mpsc::Sender<PspExchange>,
    clock: Arc<dyn Clock>,
    /// Entries dropped because the queue was full.
    pub dropped: AtomicU64,
}

impl ExchangeLog {
    /// The log and the receiving end its writer ([`run_writer`]) drains.
    pub fn new(clock: Arc<dyn Clock>) -> (Arc<Self>, mpsc::Receiver<PspExchange>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let log = Arc::new(Self {
            tx,
            clock,
            dropped: AtomicU64::new(0),
        });
        (log, rx)
    }

    fn push(&self, entry: PspExchange) {
        if self.tx.try_send(entry).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Logs a callback and what became of it.
    pub fn callback(&self, c: ReceivedCallback<'_>) {
        self.push(PspExchange {
            id: 0,
            transaction_id: c.transaction.cloned(),
            attempt_id: c.attempt.cloned(),
            psp_account_id: c.account.clone(),
            psp_type: c.psp_type.to_owned(),
            direction: ExchangeDirection::Callback,
            operation: "callback".into(),
            method: c.method.to_owned(),
            path: mask::path(c.path),
            http_status: Some(i32::from(c.answered)),
            latency_ms: None,
            request_excerpt: mask::body(c.body),
            response_excerpt: String::new(),
            outcome: Some(c.outcome),
            at: self.clock.now_ms(),
        });
    }
}

impl ExchangeObserver for ExchangeLog {
    fn exchange(&self, ctx: Option<&CallContext>, e: &Exchange) {
        // A call made outside any context belongs to no account: nothing to file it under.
        let Some(ctx) = ctx else { return };
        self.push(PspExchange {
            id: 0,
            transaction_id: ctx.transaction.clone(),
            attempt_id: ctx.attempt.clone(),
            psp_account_id: ctx.account.clone(),
            psp_type: ctx.psp.clone(),
            direction: ExchangeDirection::Outbound,
            operation: ctx.operation.to_owned(),
            method: e.method.clone(),
            path: mask::path(&e.path),
            http_status: e.status.map(i32::from),
            latency_ms: Some(i64::try_from(e.latency.as_millis()).unwrap_or(i64::MAX)),
            request_excerpt: mask::body(&e.request_body),
            response_excerpt: mask::body(e.response_body.as_bytes()),
            outcome: e.error.clone(),
            at: self.clock.now_ms(),
        });
    }
}

/// Writes queued entries in batches until cancelled (then flushes what is left), and deletes
/// entries older than `retention` once an hour.
pub async fn run_writer(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mut rx: mpsc::Receiver<PspExchange>,
    retention: Duration,
    cancel: CancellationToken,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    let mut prune = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => loop {
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(_) => break,
                    }
                }
                if batch.is_empty() {
                    break;
                }
                flush(store.as_ref(), &mut batch).await;
            },
            _ = prune.tick() => {
                let before = clock.now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
                match store.prune_exchanges(before).await {
                    Ok(n) if n > 0 => tracing::info!(deleted = n, "PSP exchange log pruned"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "PSP exchange log: prune failed"),
                }
            }
        }
    }
    while let Ok(e) = rx.try_recv() {
        batch.push(e);
        if batch.len() == BATCH {
            flush(store.as_ref(), &mut batch).await;
        }
    }
    flush(store.as_ref(), &mut batch).await;
}

async fn flush(store: &dyn Store, batch: &mut Vec<PspExchange>) {
    if batch.is_empty() {
        return;
    }
    if let Err(e) = store.record_exchanges(batch).await {
        tracing::warn!(error = %e, entries = batch.len(), "PSP exchange log: batch not written");
    }
    batch.clear();
}
