//! Short-lived in-process caches of what every request reads per company: the company itself
//! (secrets decrypted; every request and webhook delivery), its PSP accounts (credentials
//! decrypted; every payment's routing) and its routing rules (`service::routing`). A change
//! made through this node is seen here at once (the writer calls `invalidate`); one made
//! through another node or the CLI, which writes the database directly, within the cache's TTL.

use overture_core::store::{Store, StoreError};
use overture_core::{Company, CompanyId, PspAccount};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a cached company is trusted.
pub const COMPANY_TTL: Duration = Duration::from_secs(5);

/// How long a company's cached PSP accounts are trusted: an account disabled, limited or
/// given new credentials through another node is routed to the old way at most this long.
pub const ACCOUNTS_TTL: Duration = Duration::from_secs(2);

/// Most companies one cache holds: a flood of distinct ids cannot grow it without limit.
const MAX_ENTRIES: usize = 10_000;

/// Values per company, each trusted for a fixed time after it was read.
pub struct PerCompany<V> {
    ttl: Duration,
    entries: Mutex<HashMap<CompanyId, (Instant, V)>>,
}

impl<V: Clone> PerCompany<V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The company's value when it was read less than the TTL ago.
    pub fn fresh(&self, id: &CompanyId) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        let (at, value) = entries.get(id)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Keeps `value`, just read from the store, as the company's.
    pub fn put(&self, id: &CompanyId, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(id.clone(), (Instant::now(), value));
        }
    }

    /// Forgets `id`, so the next read on this node comes from the store.
    pub fn invalidate(&self, id: &CompanyId) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id);
        }
    }
}

/// Company lookups through a [`COMPANY_TTL`] cache.
pub struct CompanyCache(PerCompany<Company>);

impl Default for CompanyCache {
    fn default() -> Self {
        Self(PerCompany::new(COMPANY_TTL))
    }
}

impl CompanyCache {
    /// The company, from the cache when fresh, else from the store.
    pub async fn get(
        &self,
        store: &dyn Store,
        id: &CompanyId,
    ) -> Result<Option<Company>, StoreError> {
        if let Some(company) = self.0.fresh(id) {
            return Ok(Some(company));
        }
        let company = store.company(id).await?;
        if let Some(c) = &company {
            self.0.put(id, c.clone());
        }
        Ok(company)
    }

    /// Forgets `id` (after a change made on this node; other nodes see it within
    /// [`COMPANY_TTL`]).
    pub fn invalidate(&self, id: &CompanyId) {
        self.0.invalidate(id);
    }
}

/// A company's PSP accounts (not deleted, highest priority first) through an
/// [`ACCOUNTS_TTL`] cache. Routing reads them for every payment; reading and decrypting every
/// account of the company each time was a third of a pay-in's database round trips.
pub struct AccountsCache(PerCompany<Arc<Vec<PspAccount>>>);

impl Default for AccountsCache {
    fn default() -> Self {
        Self(PerCompany::new(ACCOUNTS_TTL))
    }
}

impl AccountsCache {
    /// The company's accounts, from the cache when fresh, else from the store.
    pub async fn get(
        &self,
        store: &dyn Store,
        company: &CompanyId,
    ) -> Result<Arc<Vec<PspAccount>>, StoreError> {
        if let Some(accounts) = self.0.fresh(company) {
            return Ok(accounts);
        }
        let accounts = Arc::new(store.psp_accounts(company).await?);
        self.0.put(company, accounts.clone());
        Ok(accounts)
    }

    /// Forgets the company's accounts (one was added, changed or deleted on this node; other
    /// nodes see it within [`ACCOUNTS_TTL`]).
    pub fn invalidate(&self, company: &CompanyId) {
        self.0.invalidate(company);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_trusted_for_the_ttl_and_forgotten_on_invalidate() {
        let id = CompanyId::generate();
        let cache = PerCompany::new(Duration::from_secs(600));
        assert_eq!(cache.fresh(&id), None::<u32>);
        cache.put(&id, 7);
        assert_eq!(cache.fresh(&id), Some(7));
        assert_eq!(cache.fresh(&CompanyId::generate()), None, "per company");
        cache.invalidate(&id);
        assert_eq!(cache.fresh(&id), None);
        let expired = PerCompany::new(Duration::ZERO);
        expired.put(&id, 8);
        assert_eq!(expired.fresh(&id), None, "stale once the TTL has passed");
    }
}
