//! Brite access tokens, cached per PSP account inside the connector.
//!
//! Brite's "Authentication" page: `merchant.authorize` returns an `access_token` valid until
//! `expires` (typically 6 h) and a `refresh_token` (typically 7 h); Brite recommends reusing a
//! token as long as possible and renewing it "around 30 minutes prior to expiry" with
//! `merchant.token`, which invalidates the previous access token. So a cached token is used
//! until `expires - margin`, where the margin is 30 minutes or a fifth of the token's lifetime
//! for short-lived tokens (sandboxes); then it is refreshed while the refresh token lives (its
//! lifetime taken as 7/6 of the access token's, the documented ratio), else a new pair is
//! authorised.
//!
//! Entries are keyed by account id and remember a SHA-256 fingerprint of the credentials, so a
//! changed key pair never reuses the old pair's token.

use overture_core::ids::PspAccountId;
use overture_core::Clock;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Refresh at most this long before expiry (Brite's recommendation), in milliseconds.
pub const MAX_REFRESH_MARGIN_MS: i64 = 30 * 60_000;

/// One cached token pair.
#[derive(Clone)]
struct Entry {
    fingerprint: String,
    access_token: SecretString,
    refresh_token: SecretString,
    /// Unix milliseconds.
    obtained_ms: i64,
    expires_ms: i64,
}

impl Entry {
    fn lifetime_ms(&self) -> i64 {
        (self.expires_ms - self.obtained_ms).max(0)
    }

    /// When to stop using the access token and renew it.
    fn renew_at_ms(&self) -> i64 {
        self.expires_ms - (self.lifetime_ms() / 5).min(MAX_REFRESH_MARGIN_MS)
    }

    /// When the refresh token is assumed dead (7/6 of the access token's lifetime).
    fn refresh_dies_ms(&self) -> i64 {
        self.obtained_ms + self.lifetime_ms() * 7 / 6
    }
}

/// What the cache says to do before a call.
pub enum Plan {
    /// Use this access token.
    Use(SecretString),
    /// Renew with `merchant.token` using this (access, refresh) pair.
    Refresh(SecretString, SecretString),
    /// Call `merchant.authorize`.
    Authorize,
}

/// Token pairs per PSP account.
pub struct TokenCache {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<PspAccountId, Entry>>,
}

/// A fingerprint of the account's key pair (never the secret itself).
pub fn fingerprint(public_key: &str, secret: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(public_key.as_bytes());
    hash.update([0]);
    hash.update(secret.as_bytes());
    hex::encode(hash.finalize())
}

impl TokenCache {
    /// An empty cache reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<PspAccountId, Entry>) -> R) -> R {
        // A poisoned lock still holds whole entries (each write is one insert or remove).
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// What to do for `account` whose credentials have `fingerprint`.
    pub fn plan(&self, account: &PspAccountId, fingerprint: &str) -> Plan {
        let now = self.clock.now_ms();
        self.with(|entries| match entries.get(account) {
            Some(e) if e.fingerprint == fingerprint && now < e.renew_at_ms() => {
                Plan::Use(e.access_token.clone())
            }
            Some(e) if e.fingerprint == fingerprint && now < e.refresh_dies_ms() => {
                Plan::Refresh(e.access_token.clone(), e.refresh_token.clone())
            }
            _ => Plan::Authorize,
        })
    }

    /// Stores a pair Brite just issued; `expires` is Unix seconds. Returns the access token.
    pub fn store(
        &self,
        account: &PspAccountId,
        fingerprint: &str,
        access_token: String,
        refresh_token: String,
        expires: f64,
    ) -> SecretString {
        let obtained_ms = self.clock.now_ms();
        // A non-finite or past `expires` makes the token single-use: renewed on next use.
        let expires_ms = if expires.is_finite() {
            (expires * 1000.0) as i64
        } else {
            obtained_ms
        };
        let access = SecretString::from(access_token);
        let entry = Entry {
            fingerprint: fingerprint.to_owned(),
            access_token: access.clone(),
            refresh_token: SecretString::from(refresh_token),
            obtained_ms,
            expires_ms,
        };
        self.with(|entries| entries.insert(account.clone(), entry));
        access
    }

    /// Forgets the pair of `account` if its access token is still `used` (Brite refused it);
    /// a pair another task stored meanwhile is kept.
    pub fn invalidate(&self, account: &PspAccountId, used: &SecretString) {
        self.with(|entries| {
            let same = entries
                .get(account)
                .is_some_and(|e| e.access_token.expose_secret() == used.expose_secret());
            if same {
                entries.remove(account);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    struct FakeClock(AtomicI64);
    impl Clock for FakeClock {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn secret(plan: Plan) -> String {
        match plan {
            Plan::Use(t) => format!("use:{}", t.expose_secret()),
            Plan::Refresh(a, r) => format!("refresh:{}:{}", a.expose_secret(), r.expose_secret()),
            Plan::Authorize => "authorize".into(),
        }
    }

    #[test]
    fn six_hour_tokens_renew_thirty_minutes_early_then_reauthorize() {
        let clock = Arc::new(FakeClock(AtomicI64::new(1_000_000)));
        let cache = TokenCache::new(clock.clone());
        let account = PspAccountId::generate();
        let fp = fingerprint("pk", "sk");
        assert_eq!(secret(cache.plan(&account, &fp)), "authorize");
        let six_h = 6 * 3_600_000;
        cache.store(
            &account,
            &fp,
            "a1".into(),
            "r1".into(),
            (1_000_000 + six_h) as f64 / 1000.0,
        );
        assert_eq!(secret(cache.plan(&account, &fp)), "use:a1");
        clock
            .0
            .store(1_000_000 + six_h - 31 * 60_000, Ordering::SeqCst);
        assert_eq!(secret(cache.plan(&account, &fp)), "use:a1");
        clock
            .0
            .store(1_000_000 + six_h - 29 * 60_000, Ordering::SeqCst);
        assert_eq!(secret(cache.plan(&account, &fp)), "refresh:a1:r1");
        // Past the refresh token's 7 h: authorise again.
        clock.0.store(1_000_000 + 7 * 3_600_000, Ordering::SeqCst);
        assert_eq!(secret(cache.plan(&account, &fp)), "authorize");
    }

    #[test]
    fn other_credentials_and_refused_tokens_are_not_reused() {
        let clock = Arc::new(FakeClock(AtomicI64::new(0)));
        let cache = TokenCache::new(clock);
        let account = PspAccountId::generate();
        let fp = fingerprint("pk", "sk");
        let a1 = cache.store(&account, &fp, "a1".into(), "r1".into(), 3_600.0);
        assert_eq!(
            secret(cache.plan(&account, &fingerprint("pk", "other"))),
            "authorize"
        );
        // A refusal of a token that was already replaced keeps the replacement.
        cache.store(&account, &fp, "a2".into(), "r2".into(), 3_600.0);
        cache.invalidate(&account, &a1);
        assert_eq!(secret(cache.plan(&account, &fp)), "use:a2");
        cache.invalidate(&account, &SecretString::from("a2".to_owned()));
        assert_eq!(secret(cache.plan(&account, &fp)), "authorize");
    }
}
