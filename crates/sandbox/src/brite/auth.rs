//! Brite's token store: `merchant.authorize` issues a pair for an account (`public_key`),
//! `merchant.token` replaces it (the old access token dies at once), Bearer checks refuse
//! unknown and expired tokens and tell whose token it is. Tokens live in memory: after a
//! restart the connector authorises again with its credentials.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A freshly issued pair, as the token calls answer it.
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    /// Unix seconds, with milliseconds (Brite's `expires` is a float).
    pub expires: f64,
}

#[derive(Default)]
struct Store {
    /// Access token ⇒ (its account, when it expires).
    access: HashMap<String, (String, Instant)>,
    /// Refresh token ⇒ (its access token, when the refresh token expires).
    refresh: HashMap<String, (String, Instant)>,
    authorizations: u32,
    refreshes: u32,
    rejected: u32,
}

/// Tokens of one simulator instance.
pub(crate) struct Tokens {
    ttl: Duration,
    store: Mutex<Store>,
}

impl Tokens {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            store: Mutex::new(Store::default()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        // A poisoned lock still holds whole maps (each write is one insert or remove).
        let mut guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    fn issue(&self, store: &mut Store, account: String) -> Issued {
        let access_token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let refresh_token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let now = Instant::now();
        store
            .access
            .insert(access_token.clone(), (account, now + self.ttl));
        // Brite: access 6 h, refresh 7 h; the same ratio here.
        let refresh_ttl = self.ttl + self.ttl / 6;
        store.refresh.insert(
            refresh_token.clone(),
            (access_token.clone(), now + refresh_ttl),
        );
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let expires_ms = unix_ms + self.ttl.as_millis() as u64;
        Issued {
            access_token,
            refresh_token,
            expires: expires_ms as f64 / 1000.0,
        }
    }

    /// `merchant.authorize` with `account`'s correct credentials.
    pub(crate) fn authorize(&self, account: &str) -> Issued {
        self.with(|store| {
            store.authorizations += 1;
            self.issue(store, account.to_owned())
        })
    }

    /// `merchant.token`: a new pair if `refresh_token` is alive and belongs to
    /// `access_token` (which may have expired); the old pair stops working.
    pub(crate) fn refresh(&self, access_token: &str, refresh_token: &str) -> Option<Issued> {
        self.with(|store| {
            let valid = store
                .refresh
                .get(refresh_token)
                .is_some_and(|(access, until)| access == access_token && Instant::now() < *until);
            if !valid {
                store.rejected += 1;
                return None;
            }
            store.refresh.remove(refresh_token);
            let Some((account, _)) = store.access.remove(access_token) else {
                // Revoked since: the pair is dead.
                store.rejected += 1;
                return None;
            };
            store.refreshes += 1;
            Some(self.issue(store, account))
        })
    }

    /// The account of `token` when it is a live access token; counts refusals.
    pub(crate) fn check(&self, token: &str) -> Option<String> {
        self.with(|store| {
            let account = store
                .access
                .get(token)
                .filter(|(_, until)| Instant::now() < *until)
                .map(|(account, _)| account.clone());
            if account.is_none() {
                store.rejected += 1;
            }
            account
        })
    }

    /// Every token stops working.
    pub(crate) fn revoke_all(&self) {
        self.with(|store| {
            store.access.clear();
            store.refresh.clear();
        });
    }

    /// Counts for `GET /_auth`.
    pub(crate) fn counts(&self) -> Value {
        self.with(|store| {
            json!({
                "authorizations": store.authorizations,
                "refreshes": store.refreshes,
                "rejected": store.rejected,
                "live_access_tokens": store.access.len(),
            })
        })
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn refresh_replaces_the_pair_once() {
        let tokens = Tokens::new(Duration::from_secs(60));
        let first = tokens.authorize("pk_a");
        assert_eq!(tokens.check(&first.access_token).as_deref(), Some("pk_a"));
        let second = tokens
            .refresh(&first.access_token, &first.refresh_token)
            .unwrap();
        assert_eq!(tokens.check(&first.access_token), None);
        assert_eq!(tokens.check(&second.access_token).as_deref(), Some("pk_a"));
        let other = tokens.authorize("pk_b");
        assert_eq!(tokens.check(&other.access_token).as_deref(), Some("pk_b"));
        assert!(tokens
            .refresh(&first.access_token, &first.refresh_token)
            .is_none());
        assert!(second.expires > 1_600_000_000.0);
    }
}
