//! The poller's rate budget: a token bucket of status queries per second. Under a backlog of
//! open orders the poller takes at most its budget, spread evenly, and leaves the rest of the
//! machine to the API; due polls then run late (the lag shows in `/metrics`), never all at once.

use std::time::{Duration, Instant};

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
        let mut free = TokenBucket::new(0);
        assert_eq!(free.take(64, t0), 64, "0 means unlimited");
        assert_eq!(free.wait(t0), Duration::ZERO);
    }
}
