//! PSP sandboxes: one simulator per PSP speaking that PSP's real protocol. `overture serve`
//! mounts each under `/sandbox/<psp>/`; `overture sandbox` runs them alone. Outcomes follow the
//! cents of the amount (DESIGN.md §5, see [`Scenario`]).

pub mod brite;
pub mod cardzo;
pub mod forumpay;
pub mod gigadat;
mod html;
pub mod paymentsoft;
pub mod payone;
pub mod scenario;
#[cfg(test)]
pub(crate) mod testkit;

pub use scenario::{Scenario, SimConfig};

use axum::Router;
use std::sync::Arc;

/// One simulated PSP.
pub trait Simulator: Send + Sync + 'static {
    /// Upper-case `pspType` this simulates.
    fn psp_type(&self) -> &'static str;
    /// Path segment under `/sandbox/` (lower case `pspType`).
    fn path(&self) -> String {
        self.psp_type().to_ascii_lowercase()
    }
    /// Credentials a PSP account must use against this sandbox (name → value).
    fn credentials(&self) -> Vec<(&'static str, String)>;
    /// The simulator's routes, relative to its base URL. `config.base_url` is the absolute
    /// base URL the simulator is reachable at (for hosted page links).
    fn router(&self, config: SimConfig) -> Router;
}

/// Every built-in simulator. Adding a PSP is one line here.
pub fn all() -> Vec<Arc<dyn Simulator>> {
    vec![
        Arc::new(paymentsoft::PaymentSoftSandbox),
        Arc::new(forumpay::ForumPaySandbox),
        Arc::new(gigadat::GigadatSandbox::default()),
        Arc::new(brite::BriteSandbox::default()),
        Arc::new(cardzo::CardzoSandbox),
        Arc::new(payone::PayoneSandbox),
    ]
}

/// One router with every simulator nested under `/sandbox/<psp>`; `public_url` is the base URL
/// the router is reachable at.
pub fn router(public_url: &str, base: SimConfig) -> Router {
    let mut router = Router::new();
    for sim in all() {
        let path = format!("/sandbox/{}", sim.path());
        let config = SimConfig {
            base_url: format!("{}{}", public_url.trim_end_matches('/'), path),
            ..base.clone()
        };
        router = router.nest(&path, sim.router(config));
    }
    let delay = base.response_delay;
    if delay.is_zero() {
        return router;
    }
    router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| async move {
            let response = next.run(req).await;
            tokio::time::sleep(delay).await;
            response
        },
    ))
}
