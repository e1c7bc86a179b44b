//! Shared application state handed to every handler and worker.

use crate::config::Tuning;
use overture_connectors::Registry;
use overture_core::store::Store;
use overture_core::Clock;
use std::sync::Arc;
use tokio::sync::Notify;

/// Everything a request or a worker needs.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub registry: Registry,
    /// External base URL of this deployment (PSP callbacks, sandbox links).
    pub public_url: String,
    pub tuning: Tuning,
    pub clock: Arc<dyn Clock>,
    /// Guarded client for merchant calls (verify-user, webhooks): outbound policy checked, no
    /// redirects. PSP calls use the connectors' client, which enforces the same policy.
    pub http: overture_outbound::Outbound,
    /// Woken when a webhook is written, so delivery starts without waiting for the next tick.
    pub webhook_wakeup: Arc<Notify>,
    /// Woken when a transaction needs a poll soon.
    pub poll_wakeup: Arc<Notify>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Who may read `GET /metrics` (production mode and `OVERTURE_METRICS_TOKEN`).
    pub metrics_access: Arc<crate::api::metrics::MetricsAccess>,
    pub companies: Arc<crate::cache::CompanyCache>,
    /// Whether this node is serving API requests (the poller yields to them).
    pub api_activity: Arc<crate::workers::budget::ApiActivity>,
    /// Callback-triggered status queries, coalesced per transaction.
    pub confirmations: Arc<crate::service::confirm::Confirmations>,
    /// Each company's PSP accounts, cached for routing.
    pub psp_accounts: Arc<crate::cache::AccountsCache>,
    /// Each company's routing rules, cached.
    pub routing_rules: Arc<crate::service::routing::RulesCache>,
    /// Each PSP account's circuit breaker on this node.
    pub health: Arc<crate::service::health::Health>,
    /// The PSP exchange log (PSP calls are logged by the registry's HTTP client; callbacks here).
    pub exchanges: Arc<crate::service::exchange_log::ExchangeLog>,
}

impl App {
    /// Milliseconds since the epoch, from the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A company through the TTL cache.
    pub async fn company(
        &self,
        id: &overture_core::CompanyId,
    ) -> Result<Option<overture_core::Company>, overture_core::store::StoreError> {
        self.companies.get(self.store.as_ref(), id).await
    }
}
