//! PSP account health: a circuit breaker per account. After `failures` consecutive technical
//! failures (cannot connect, timeout, 5xx, 429) the circuit opens and routing skips the
//! account without calling it for `cooldown`; then it is half open and the next routing
//! decision that picks it sends one request as a probe (no second one while it runs). A probe
//! that answers closes the circuit; a technical failure opens it again. Any PSP answer (even a
//! refusal) counts as a success: the PSP is reachable.
//!
//! The state is kept per node, in memory: each node judges the PSPs from its own calls, as a
//! load balancer's health checks do. Decisions record the state they saw, and the back office
//! shows this node's view.

use overture_core::PspAccountId;
use std::collections::HashMap;
use std::sync::Mutex;

/// Where one account's circuit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Circuit {
    /// Calls go through; `failures` technical failures in a row so far.
    Closed { failures: u32 },
    /// Skipped until `until` (ms since the epoch).
    Open { until: i64 },
    /// Cool-down over: one probe may go (`probing` while it runs).
    HalfOpen { probing: bool },
}

impl Circuit {
    /// A reason to skip the account now, or `None` when a call may go.
    pub fn refusal(&self) -> Option<String> {
        match self {
            Self::Closed { .. } | Self::HalfOpen { probing: false } => None,
            Self::Open { until } => Some(format!(
                "circuit open until {} after consecutive technical failures",
                crate::service::views::rfc3339(*until)
            )),
            Self::HalfOpen { probing: true } => {
                Some("circuit half open: a probe request is in flight".to_owned())
            }
        }
    }

    /// `closed`, `open` or `half_open`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Closed { .. } => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half_open",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    open_until: Option<i64>,
    probing: bool,
}

/// Every account's circuit on this node.
pub struct Health {
    failures: u32,
    cooldown_ms: i64,
    entries: Mutex<HashMap<PspAccountId, Entry>>,
}

impl Health {
    /// Opens a circuit after `failures` technical failures in a row (at least 1), for
    /// `cooldown_ms`.
    pub fn new(failures: u32, cooldown_ms: i64) -> Self {
        Self {
            failures: failures.max(1),
            cooldown_ms,
            entries: Mutex::default(),
        }
    }

    /// The account's circuit at `now`.
    pub fn circuit(&self, account: &PspAccountId, now: i64) -> Circuit {
        let Ok(entries) = self.entries.lock() else {
            return Circuit::Closed { failures: 0 };
        };
        match entries.get(account) {
            None => Circuit::Closed { failures: 0 },
            Some(e) => match e.open_until {
                Some(until) if now < until => Circuit::Open { until },
                Some(_) => Circuit::HalfOpen { probing: e.probing },
                None => Circuit::Closed {
                    failures: e.failures,
                },
            },
        }
    }

    /// Called when routing picks `account` for a call: true when the call may go. A half-open
    /// circuit lets exactly one caller through until that probe's outcome is recorded.
    pub fn admit(&self, account: &PspAccountId, now: i64) -> bool {
        let Ok(mut entries) = self.entries.lock() else {
            return true;
        };
        let Some(e) = entries.get_mut(account) else {
            return true;
        };
        match e.open_until {
            None => true,
            Some(until) if now < until => false,
            Some(_) if e.probing => false,
            Some(_) => {
                e.probing = true;
                true
            }
        }
    }

    /// Records the outcome of a call to `account`: `technical_failure` for cannot connect,
    /// timeout, 5xx and 429; anything else the PSP answered is a success.
    pub fn record(&self, account: &PspAccountId, technical_failure: bool, now: i64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if !technical_failure {
            entries.remove(account);
            return;
        }
        let e = entries.entry(account.clone()).or_insert(Entry {
            failures: 0,
            open_until: None,
            probing: false,
        });
        e.failures = e.failures.saturating_add(1);
        let half_open = e.open_until.is_some();
        if half_open || e.failures >= self.failures {
            if !half_open || e.probing {
                tracing::warn!(account = %account, failures = e.failures, "circuit opened");
            }
            e.open_until = Some(now + self.cooldown_ms);
            e.probing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_n_failures_then_lets_one_probe_through() {
        let h = Health::new(3, 1_000);
        let a = PspAccountId::from_trusted("psp_a");
        for i in 0..2 {
            h.record(&a, true, i);
            assert_eq!(
                h.circuit(&a, i),
                Circuit::Closed {
                    failures: (i + 1) as u32
                }
            );
        }
        h.record(&a, true, 10);
        assert_eq!(h.circuit(&a, 10), Circuit::Open { until: 1_010 });
        assert!(h.circuit(&a, 500).refusal().is_some());
        assert!(!h.admit(&a, 500), "no call while open");
        assert_eq!(h.circuit(&a, 1_010), Circuit::HalfOpen { probing: false });
        assert!(h.admit(&a, 1_010), "the probe");
        assert!(!h.admit(&a, 1_011), "one probe at a time");
        assert!(h.circuit(&a, 1_011).refusal().is_some());
        h.record(&a, true, 1_020);
        assert_eq!(
            h.circuit(&a, 1_020),
            Circuit::Open { until: 2_020 },
            "failed probe"
        );
        assert!(h.admit(&a, 2_020));
        h.record(&a, false, 2_030);
        assert_eq!(
            h.circuit(&a, 2_030),
            Circuit::Closed { failures: 0 },
            "closed by the probe"
        );
    }

    #[test]
    fn a_success_resets_the_count() {
        let h = Health::new(2, 1_000);
        let a = PspAccountId::from_trusted("psp_a");
        h.record(&a, true, 0);
        h.record(&a, false, 1);
        h.record(&a, true, 2);
        assert_eq!(h.circuit(&a, 2), Circuit::Closed { failures: 1 });
    }
}
