//! Process counters exposed at `GET /metrics` (Prometheus text format), for operators and the
//! benchmarks: transactions created, status polls and how late they ran, webhook attempts.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Counters of this process (not of the cluster).
#[derive(Default, Debug)]
pub struct Metrics {
    pub transactions_created: AtomicU64,
    pub polls: AtomicU64,
    /// Status queries triggered by PSP callbacks (after coalescing).
    pub confirmations: AtomicU64,
    /// Largest delay (ms) between a poll's due time and its claim, in the last poll round.
    pub poll_lag_ms_last_round: AtomicI64,
    /// Largest such delay since start.
    pub poll_lag_ms_max: AtomicI64,
    pub webhook_attempts: AtomicU64,
    pub webhooks_delivered: AtomicU64,
    pub webhooks_dead: AtomicU64,
}

impl Metrics {
    /// Records one poll round's claims: each row's lateness is `now - due`.
    pub fn record_poll_round(&self, lags_ms: impl Iterator<Item = i64>) {
        let mut worst = 0;
        let mut n = 0;
        for lag in lags_ms {
            worst = worst.max(lag);
            n += 1;
        }
        self.polls.fetch_add(n, Ordering::Relaxed);
        self.poll_lag_ms_last_round.store(worst, Ordering::Relaxed);
        self.poll_lag_ms_max.fetch_max(worst, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let rows: [(&str, &str, String); 8] = [
            (
                "overture_transactions_created_total",
                "counter",
                self.transactions_created
                    .load(Ordering::Relaxed)
                    .to_string(),
            ),
            (
                "overture_polls_total",
                "counter",
                self.polls.load(Ordering::Relaxed).to_string(),
            ),
            (
                "overture_callback_status_queries_total",
                "counter",
                self.confirmations.load(Ordering::Relaxed).to_string(),
            ),
            (
                "overture_poll_lag_ms_last_round",
                "gauge",
                self.poll_lag_ms_last_round
                    .load(Ordering::Relaxed)
                    .to_string(),
            ),
            (
                "overture_poll_lag_ms_max",
                "gauge",
                self.poll_lag_ms_max.load(Ordering::Relaxed).to_string(),
            ),
            (
                "overture_webhook_attempts_total",
                "counter",
                self.webhook_attempts.load(Ordering::Relaxed).to_string(),
            ),
            (
                "overture_webhooks_delivered_total",
                "counter",
                self.webhooks_delivered.load(Ordering::Relaxed).to_string(),
            ),
            (
                "overture_webhooks_dead_total",
                "counter",
                self.webhooks_dead.load(Ordering::Relaxed).to_string(),
            ),
        ];
        rows.iter()
            .map(|(name, kind, value)| format!("# TYPE {name} {kind}\n{name} {value}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_the_worst_lag() {
        let m = Metrics::default();
        m.record_poll_round([5, 120, 30].into_iter());
        m.record_poll_round([7].into_iter());
        let text = m.render();
        assert!(text.contains("overture_polls_total 4\n"));
        assert!(text.contains("overture_poll_lag_ms_last_round 7\n"));
        assert!(text.contains("overture_poll_lag_ms_max 120\n"));
    }
}
