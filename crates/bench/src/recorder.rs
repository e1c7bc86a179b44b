//! Latency bookkeeping for one run: all requests, per request kind, and per consecutive time
//! window of the measured period (so a tail that grows during the run is visible).

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Latencies are recorded in microseconds, from 1 µs to 60 s.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds are valid")
}

/// Microseconds as milliseconds.
pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// One request kind's results.
#[derive(Clone)]
pub struct KindStats {
    pub latency_us: Histogram<u64>,
    pub errors: u64,
}

/// What a run recorded after its warm-up.
#[derive(Clone)]
pub struct Recorder {
    measure_from: Instant,
    window: Duration,
    pub latency_us: Histogram<u64>,
    pub kinds: Vec<KindStats>,
    /// One histogram per window, by the request's scheduled (or sent) time.
    pub windows: Vec<Histogram<u64>>,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Recorder {
    /// Records `kinds` request kinds over `duration` from `measure_from`, in windows of
    /// `window` (the last one may be shorter; a zero window means one window).
    pub fn new(measure_from: Instant, duration: Duration, window: Duration, kinds: usize) -> Self {
        let window = if window.is_zero() { duration } else { window };
        let count = (duration.as_nanos().div_ceil(window.as_nanos().max(1))).max(1) as usize;
        Self {
            measure_from,
            window,
            latency_us: histogram(),
            kinds: (0..kinds.max(1))
                .map(|_| KindStats {
                    latency_us: histogram(),
                    errors: 0,
                })
                .collect(),
            windows: (0..count).map(|_| histogram()).collect(),
            errors: 0,
            first_error: None,
        }
    }

    /// Records one request of kind `kind` started (or scheduled) at `start` that ended at `end`.
    /// Requests started before the warm-up ended are ignored; requests started after the
    /// measured period (closed loop stragglers) count in the last window.
    pub fn record(
        &mut self,
        kind: usize,
        start: Instant,
        end: Instant,
        result: Result<(), String>,
    ) {
        let Some(offset) = start.checked_duration_since(self.measure_from) else {
            return;
        };
        let last = self.kinds.len() - 1;
        let stats = &mut self.kinds[kind.min(last)];
        match result {
            Ok(()) => {
                let us = (end.saturating_duration_since(start).as_micros() as u64).max(1);
                let window = (offset.as_nanos() / self.window.as_nanos().max(1)) as usize;
                let last_window = self.windows.len() - 1;
                self.latency_us.saturating_record(us);
                stats.latency_us.saturating_record(us);
                self.windows[window.min(last_window)].saturating_record(us);
            }
            Err(e) => {
                self.errors += 1;
                stats.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// `{"p50","p90","p99","max"}` in ms over all kinds.
    pub fn percentiles_ms(&self) -> Value {
        let h = &self.latency_us;
        json!({ "p50": ms(h.value_at_quantile(0.50)), "p90": ms(h.value_at_quantile(0.90)),
                "p99": ms(h.value_at_quantile(0.99)), "max": ms(h.max()) })
    }

    /// The p99 of each window in ms; null for a window without a successful request.
    pub fn p99_by_window_ms(&self) -> Vec<Option<f64>> {
        self.windows
            .iter()
            .map(|h| (!h.is_empty()).then(|| ms(h.value_at_quantile(0.99))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_split_by_start_time_and_warmup_is_ignored() {
        let t0 = Instant::now() + Duration::from_secs(5);
        let mut r = Recorder::new(t0, Duration::from_secs(25), Duration::from_secs(10), 2);
        assert_eq!(r.windows.len(), 3);
        let at = |s: u64| t0 + Duration::from_secs(s);
        // Before the measured period: ignored, even an error.
        r.record(0, t0 - Duration::from_secs(1), t0, Err("early".into()));
        for i in 0..100 {
            r.record(0, at(1), at(1) + Duration::from_millis(2), Ok(()));
            let slow = if i == 99 { 900 } else { 40 };
            r.record(1, at(12), at(12) + Duration::from_millis(slow), Ok(()));
        }
        // A closed-loop straggler sent after the end counts in the last window.
        r.record(1, at(30), at(30) + Duration::from_millis(7), Ok(()));
        r.record(1, at(3), at(3), Err("503".into()));
        let p99 = r.p99_by_window_ms();
        assert_eq!(p99.len(), 3);
        assert!((p99[0].unwrap() - 2.0).abs() < 0.01, "{p99:?}");
        assert!((p99[1].unwrap() - 40.0).abs() < 0.1, "{p99:?}");
        assert!((p99[2].unwrap() - 7.0).abs() < 0.01, "{p99:?}");
        assert_eq!(r.latency_us.len(), 201);
        assert_eq!(r.kinds[0].latency_us.len(), 100);
        assert_eq!(r.kinds[1].latency_us.len(), 101);
        assert_eq!((r.errors, r.kinds[0].errors, r.kinds[1].errors), (1, 0, 1));
        assert_eq!(r.first_error.as_deref(), Some("503"));
        assert!((ms(r.kinds[1].latency_us.max()) - 900.0).abs() < 1.0);
    }

    #[test]
    fn an_empty_window_is_null_and_a_zero_window_is_the_whole_run() {
        let t0 = Instant::now();
        let mut r = Recorder::new(t0, Duration::from_secs(20), Duration::from_secs(10), 1);
        r.record(0, t0, t0 + Duration::from_millis(3), Ok(()));
        assert_eq!(r.p99_by_window_ms()[1], None);
        let whole = Recorder::new(t0, Duration::from_secs(20), Duration::ZERO, 1);
        assert_eq!(whole.windows.len(), 1);
    }
}
