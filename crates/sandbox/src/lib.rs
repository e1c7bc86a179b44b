//! PSP sandboxes: one simulator per PSP speaking that PSP's real protocol. `overture serve`
//! mounts each under `/sandbox/<psp>/`; `overture sandbox` runs them alone. Outcomes follow the
//! cents of the amount (the cents table, see [`Scenario`]).
//!
//! **Accounts.** `POST /sandbox/<psp>/_accounts` opens an account, as signing up at the PSP
//! would, and answers `201 {"credentials": {"<name>": "<value>", …}}` with the names the
//! connector expects (its `credential_fields`). Every account has its own random public
//! identifiers and its own secrets, derived from the sandbox's secret [`SandboxSeed`] (see
//! [`keyring`]): a request naming one account with another account's secret is refused as the
//! PSP refuses bad credentials, each account's callbacks are signed with its own secret, and a
//! sandbox restarted with the same seed still knows every account. Public by design (they
//! protect nothing): the PaynetEasy family's OAuth RSA test key pair
//! ([`paymentsoft::keys`], shared by every PAYMENTSOFT and CARDZO account), ForumPay's
//! `pos_id` label and Gigadat's `sandbox` switch.

pub mod brite;
pub mod cardzo;
pub mod cleo;
pub mod emerchantpay;
pub mod flexepin;
pub mod forumpay;
pub mod gigadat;
mod html;
pub mod keyring;
pub mod neosurf;
pub(crate) mod notify;
pub mod paymentsoft;
pub mod payone;
pub mod scenario;
#[cfg(test)]
pub(crate) mod testkit;
pub mod trust;
pub mod worldpay_eu;

pub use keyring::SandboxSeed;
pub use scenario::{Scenario, SimConfig};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

/// The credentials of a newly opened sandbox account, by the connector's credential names.
/// `Debug` shows the names only.
pub struct NewAccount {
    pub credentials: Vec<(&'static str, SecretString)>,
}

impl NewAccount {
    /// An account with these `(name, value)` credentials.
    pub fn new(credentials: Vec<(&'static str, String)>) -> Self {
        Self {
            credentials: credentials
                .into_iter()
                .map(|(name, value)| (name, SecretString::from(value)))
                .collect(),
        }
    }

    /// The value of credential `name`, if the account has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.credentials
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.expose_secret())
    }

    /// `{"credentials": {"<name>": "<value>", …}}`, the `/_accounts` answer.
    pub fn to_json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .credentials
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.expose_secret().into()))
            .collect();
        serde_json::json!({ "credentials": map })
    }
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.credentials.iter().map(|(n, _)| *n).collect();
        f.debug_struct("NewAccount")
            .field("credentials", &names)
            .finish()
    }
}

/// One simulated PSP.
pub trait Simulator: Send + Sync + 'static {
    /// Upper-case `pspType` this simulates.
    fn psp_type(&self) -> &'static str;
    /// Path segment under `/sandbox/` (lower case `pspType`).
    fn path(&self) -> String {
        self.psp_type().to_ascii_lowercase()
    }
    /// Opens an account: fresh random public identifiers, secrets derived from `seed` (see
    /// [`keyring`]). Served as `POST /_accounts` by [`mount`].
    fn create_account(&self, seed: &SandboxSeed) -> NewAccount;
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
        Arc::new(trust::TrustSandbox),
        Arc::new(worldpay_eu::WorldpayEuSandbox),
        Arc::new(emerchantpay::EmerchantpaySandbox),
        Arc::new(flexepin::FlexepinSandbox),
        Arc::new(neosurf::NeosurfSandbox),
        Arc::new(cleo::CleoSandbox),
    ]
}

/// `sim`'s routes plus `POST /_accounts` (answers 201 with [`NewAccount::to_json`]), relative
/// to its base URL.
pub fn mount(sim: Arc<dyn Simulator>, config: SimConfig) -> Router {
    let seed = config.seed.clone();
    let routes = sim.router(config);
    let open = move || {
        let account = sim.create_account(&seed);
        let psp = sim.psp_type();
        async move {
            tracing::info!(psp, "sandbox account opened");
            (StatusCode::CREATED, Json(account.to_json())).into_response()
        }
    };
    routes.route("/_accounts", post(open))
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
        router = router.nest(&path, mount(sim, config));
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

#[cfg(test)]
mod tests {
    use super::*;
    use overture_connectors::http::PspHttp;
    use std::time::Duration;

    /// Credentials the same for every account by design: the public OAuth test key,
    /// ForumPay's `pos_id` label, Gigadat's `sandbox` switch.
    const SHARED: &[&str] = &["oauth_private_key", "pos_id", "sandbox"];

    #[test]
    fn every_account_has_its_own_identifiers_and_secrets() {
        let seed = SandboxSeed::random();
        for sim in all() {
            let (a, b) = (sim.create_account(&seed), sim.create_account(&seed));
            let names: Vec<&str> = a.credentials.iter().map(|(n, _)| *n).collect();
            let names_b: Vec<&str> = b.credentials.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, names_b);
            for name in names {
                let psp = sim.psp_type();
                if SHARED.contains(&name) {
                    assert_eq!(a.get(name), b.get(name), "{psp} {name}");
                } else {
                    assert_ne!(a.get(name), b.get(name), "{psp} {name}");
                }
            }
        }
    }

    #[test]
    fn accounts_carry_every_credential_the_connector_needs() {
        let registry = overture_connectors::Registry::builtin(PspHttp::new(
            Duration::from_secs(1),
            Default::default(),
        ));
        let seed = SandboxSeed::random();
        for sim in all() {
            let account = sim.create_account(&seed);
            let connector = registry
                .get(sim.psp_type())
                .expect("a connector per sandbox");
            for field in connector.capabilities().credential_fields {
                assert!(
                    account.get(field).is_some_and(|v| !v.is_empty()),
                    "{} {field}",
                    sim.psp_type()
                );
            }
            let debug = format!("{account:?}");
            for (_, value) in &account.credentials {
                assert!(
                    !debug.contains(value.expose_secret()),
                    "Debug shows a value"
                );
            }
        }
    }

    #[tokio::test]
    async fn accounts_endpoint_opens_a_new_account_per_call() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = router(&url, SimConfig::default());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();
        for sim in all() {
            let endpoint = format!("{url}/sandbox/{}/_accounts", sim.path());
            let mut opened = Vec::new();
            for _ in 0..2 {
                let response = http.post(&endpoint).send().await.unwrap();
                assert_eq!(response.status(), 201, "{endpoint}");
                let body: serde_json::Value = response.json().await.unwrap();
                let credentials = body["credentials"].as_object().unwrap().clone();
                assert!(credentials.values().all(|v| v.is_string()));
                opened.push(credentials);
            }
            assert_ne!(opened[0], opened[1], "{endpoint}");
        }
    }
}
