//! The login throttle's keys and check. Failed logins are counted twice: against the client
//! address, whose wait may grow long (an address guessing passwords is stopped), and against
//! the account, whose wait stays short (an attacker can keep its operator out for at most
//! that long). The counters live in the database, so every node sees the same ones.

use crate::app::App;
use overture_core::backoffice::{LoginThrottle, ThrottleKey, ThrottleScope};
use overture_core::store::StoreError;
use overture_core::OperatorId;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, Ipv6Addr};

/// The counter of a client address. IPv6 clients are counted per /64: one customer usually
/// holds a whole /64, and counting single addresses would let them pick a fresh one per guess.
pub fn address_key(ip: IpAddr) -> ThrottleKey {
    let id = match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX));
            format!("{prefix}/64")
        }
    };
    ThrottleKey::new(ThrottleScope::Address, &id)
}

/// The counter of the account a login names: the operator's id, or for an email no operator
/// has, the SHA-256 of the trimmed, lower-cased email, so unknown emails are throttled exactly
/// like known ones and no typed text is kept in the counter table.
pub fn account_key(operator: Option<&OperatorId>, email: &str) -> ThrottleKey {
    match operator {
        Some(id) => ThrottleKey::new(ThrottleScope::Account, id.as_str()),
        None => {
            let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
            let id = format!("email-sha256:{}", hex::encode(digest));
            ThrottleKey::new(ThrottleScope::Account, &id)
        }
    }
}

/// Why and how long an attempt must wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    /// The counter with the longest wait.
    pub scope: ThrottleScope,
    pub ms: i64,
}

impl Wait {
    /// Whole seconds to wait, rounded up (the `Retry-After` value; at least 1).
    pub fn retry_after_secs(&self) -> i64 {
        ((self.ms + 999) / 1000).max(1)
    }
}

/// The longest wait among `throttles` at `now`, if any.
pub fn longest_wait(throttles: &[LoginThrottle], now: i64) -> Option<Wait> {
    throttles
        .iter()
        .map(|t| Wait {
            scope: t.key.scope(),
            ms: t.wait_ms(now),
        })
        .filter(|w| w.ms > 0)
        .max_by_key(|w| w.ms)
}

/// The wait an attempt under `keys` must still sit out now, from the stored counters.
pub async fn wait(app: &App, keys: &[ThrottleKey]) -> Result<Option<Wait>, StoreError> {
    let throttles = app.store.login_throttles(keys).await?;
    Ok(longest_wait(&throttles, app.now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_keyed_per_ipv4_address_and_per_ipv6_64() {
        let key = |s: &str| address_key(s.parse().unwrap()).as_str().to_owned();
        assert_eq!(key("203.0.113.7"), "address:203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "address:203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "address:2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
    }

    #[test]
    fn unknown_emails_are_keyed_by_a_normalised_hash() {
        let a = account_key(None, " Ann@Example.com ");
        assert_eq!(a, account_key(None, "ann@example.com"));
        assert!(a.as_str().starts_with("account:email-sha256:"));
        assert!(!a.as_str().contains("ann"), "{}", a.as_str());
        assert_ne!(a, account_key(None, "bob@example.com"));
        let id = OperatorId::generate();
        assert_eq!(
            account_key(Some(&id), "whatever").as_str(),
            format!("account:{id}")
        );
    }

    #[test]
    fn the_longest_running_wait_wins_and_rounds_up() {
        let t = |key: &str, blocked_until| LoginThrottle {
            key: ThrottleKey::parse(key).unwrap(),
            failures: 9,
            last_failure_at: 0,
            blocked_until,
        };
        let both = [t("address:203.0.113.7", 5_000), t("account:opr_x", 1_500)];
        assert_eq!(
            longest_wait(&both, 1_000),
            Some(Wait {
                scope: ThrottleScope::Address,
                ms: 4_000
            })
        );
        assert_eq!(longest_wait(&both, 5_000), None);
        assert_eq!(longest_wait(&[], 0), None);
        let w = |ms| Wait {
            scope: ThrottleScope::Account,
            ms,
        };
        assert_eq!(
            (
                w(1).retry_after_secs(),
                w(1_000).retry_after_secs(),
                w(1_001).retry_after_secs()
            ),
            (1, 1, 2)
        );
    }
}
