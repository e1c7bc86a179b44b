//! A short-lived in-process cache of companies (secrets decrypted), read on every request and
//! every webhook delivery. Entries live `COMPANY_TTL`; a change made through another node is
//! seen after at most that long, one made on this node at once ([`CompanyCache::invalidate`]).

use overture_core::store::{Store, StoreError};
use overture_core::{Company, CompanyId};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached company is trusted.
pub const COMPANY_TTL: Duration = Duration::from_secs(5);

/// Company lookups through a TTL cache.
#[derive(Default)]
pub struct CompanyCache {
    entries: Mutex<HashMap<CompanyId, (Instant, Company)>>,
}

impl CompanyCache {
    /// The company, from the cache when fresh, else from the store.
    pub async fn get(
        &self,
        store: &dyn Store,
        id: &CompanyId,
    ) -> Result<Option<Company>, StoreError> {
        if let Ok(entries) = self.entries.lock() {
            if let Some((at, company)) = entries.get(id) {
                if at.elapsed() < COMPANY_TTL {
                    return Ok(Some(company.clone()));
                }
            }
        }
        let company = store.company(id).await?;
        if let (Some(c), Ok(mut entries)) = (&company, self.entries.lock()) {
            // Bounded: a flood of distinct ids cannot grow the map without limit.
            if entries.len() >= 10_000 {
                entries.clear();
            }
            entries.insert(id.clone(), (Instant::now(), c.clone()));
        }
        Ok(company)
    }

    /// Forgets `id`, so the next read on this node comes from the store (after a change made
    /// here; other nodes see it within [`COMPANY_TTL`]).
    pub fn invalidate(&self, id: &CompanyId) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id);
        }
    }
}
