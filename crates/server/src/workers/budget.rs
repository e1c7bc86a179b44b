//! The poller's budget. Polling is a backstop (PSP callbacks and webhooks are the prompt
//! signal), so it yields to the API: a token bucket of status queries per second whose rate is
//! `OVERTURE_POLL_RATE` while this node serves no API request, and `OVERTURE_POLL_RATE_BUSY`
//! while it does ([`ApiActivity`]). Under a backlog of open orders due polls then run late,
//! oldest due first (the lag shows in `/metrics`), never all at once and never at the API's
//! expense.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long after its last API request a node still counts as busy, in ms.
const BUSY_FOR_MS: i64 = 250;

/// Whether this node is serving API requests: requests in flight, and when the last one
/// started or ended (ms since the epoch).
#[derive(Debug, Default)]
pub struct ApiActivity {
    in_flight: AtomicUsize,
    last_ms: AtomicI64,
}

impl ApiActivity {
    fn touch(&self, now_ms: i64) {
        self.last_ms.fetch_max(now_ms, Ordering::Relaxed);
    }

    /// True while a request is in flight or one ended less than 250 ms before `now_ms`.
    pub fn busy(&self, now_ms: i64) -> bool {
        self.in_flight.load(Ordering::Relaxed) > 0
            || now_ms - self.last_ms.load(Ordering::Relaxed) < BUSY_FOR_MS
    }
}

/// Middleware recording every `/v1` request in `activity`.
pub async fn track(
    State(activity): State<Arc<ApiActivity>>,
    request: Request,
    next: Next,
) -> Response {
    if !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    };
    activity.touch(now());
    activity.in_flight.fetch_add(1, Ordering::Relaxed);
    let response = next.run(request).await;
    activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    activity.touch(now());
    response
}

/// Tokens refill at `rate` per second, up to a tenth of a second's worth (at least one).
#[derive(Debug)]
pub struct TokenBucket {
    /// Tokens per second; `None`: unlimited.
    rate: Option<f64>,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A bucket of `rate` tokens per second (`0`: unlimited), starting full.
    pub fn new(rate: u32) -> Self {
        let rate = (rate > 0).then(|| f64::from(rate));
        let burst = rate.map_or(1.0, |r| (r / 10.0).max(1.0));
        Self {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(rate) = self.rate {
            let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * rate).min(self.burst);
        }
        self.last = now;
    }

    /// Takes up to `want` whole tokens at `now`; returns how many were taken.
    pub fn take(&mut self, want: u64, now: Instant) -> u64 {
        if self.rate.is_none() {
            return want;
        }
        self.refill(now);
        let n = (self.tokens.floor() as u64).min(want);
        self.tokens -= n as f64;
        n
    }

    /// Gives back tokens taken but not used (fewer rows were due than asked for).
    pub fn refund(&mut self, n: u64) {
        self.tokens = (self.tokens + n as f64).min(self.burst);
    }

    /// Changes the rate (`0`: unlimited); tokens already there stay, up to the new burst.
    pub fn set_rate(&mut self, rate: u32, now: Instant) {
        self.refill(now);
        let fresh = Self::new(rate);
        self.rate = fresh.rate;
        self.burst = fresh.burst;
        self.tokens = self.tokens.min(self.burst);
    }

    /// How long until the next whole token is there, from `now`.
    pub fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        match self.rate {
            Some(rate) if self.tokens < 1.0 => Duration::from_secs_f64((1.0 - self.tokens) / rate),
            _ => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_is_busy_while_requests_run_and_shortly_after() {
        let a = ApiActivity::default();
        assert!(!a.busy(10_000));
        a.in_flight.fetch_add(1, Ordering::Relaxed);
        assert!(a.busy(10_000));
        a.in_flight.fetch_sub(1, Ordering::Relaxed);
        a.touch(10_000);
        assert!(a.busy(10_200));
        assert!(!a.busy(10_300));
    }

    #[test]
    fn spends_at_most_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(200);
        assert_eq!(b.take(64, t0), 20, "a tenth of a second's worth to start");
        assert_eq!(b.take(64, t0), 0);
        assert_eq!(b.wait(t0), Duration::from_millis(5));
        // Over one simulated second, 200 tokens and no more.
        let mut taken = 0;
        for ms in 1..=1000 {
            taken += b.take(64, t0 + Duration::from_millis(ms));
        }
        assert!((199..=200).contains(&taken), "{taken}");
        b.refund(5);
        assert_eq!(b.take(64, t0 + Duration::from_millis(1000)), 5);
        b.set_rate(20, t0 + Duration::from_millis(1000));
        assert_eq!(
            b.take(64, t0 + Duration::from_millis(1500)),
            2,
            "burst of the new rate"
        );
        let mut free = TokenBucket::new(0);
        assert_eq!(free.take(64, t0), 64, "0 means unlimited");
        assert_eq!(free.wait(t0), Duration::ZERO);
    }
}
