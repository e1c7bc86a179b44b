//! [`Outbound`]: the one guarded HTTP client for calls Overture makes to PSPs and merchants.

use crate::policy::{OutboundPolicy, Refused};
use crate::resolve::GuardedResolver;
use reqwest::{Client, Request, RequestBuilder, Response};
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

/// Client settings a caller chooses.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whole-call timeout (connect, send, read the answer); `None` ⇒ none on the client, so
    /// set one per request with `RequestBuilder::timeout`.
    pub timeout: Option<Duration>,
    /// Time allowed to open the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Idle keep-alive connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for Settings {
    /// No overall timeout, 5 s to connect, 64 idle connections per host, `overture/<version>`.
    fn default() -> Self {
        Self {
            timeout: None,
            connect_timeout: Duration::from_secs(5),
            pool_max_idle_per_host: 64,
            user_agent: concat!("overture/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Why a guarded call failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The policy refused the URL or every address of its host: nothing was sent.
    #[error("refused: {0}")]
    Refused(Refused),
    /// The request could not be built, sent or answered (see `reqwest::Error::is_timeout`,
    /// `is_connect`).
    #[error("transport error: {0}")]
    Http(#[source] reqwest::Error),
}

impl SendError {
    /// Stable code: the refusal's code, or `OUTBOUND_TRANSPORT`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(refused) => refused.code(),
            Self::Http(_) => "OUTBOUND_TRANSPORT",
        }
    }

    /// True when the call ran out of time.
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::Refused(_) => false,
            Self::Http(e) => e.is_timeout(),
        }
    }
}

impl From<reqwest::Error> for SendError {
    /// A refusal by the resolver travels inside reqwest's connect error; it is taken out so
    /// callers see [`SendError::Refused`] whichever check caught it.
    fn from(err: reqwest::Error) -> Self {
        let mut source: Option<&(dyn StdError + 'static)> = err.source();
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<Refused>() {
                return Self::Refused(refused.clone());
            }
            source = cause.source();
        }
        Self::Http(err)
    }
}

/// The guarded client: rustls, the [`GuardedResolver`], redirects never followed (a 3xx is
/// returned to the caller as it is), no proxy (a proxy would connect to addresses the policy
/// never saw), and a URL check before every request. Cheap to clone.
///
/// Build requests with [`Outbound::client`] and always send them with [`Outbound::send`] or
/// [`Outbound::execute`]: calling `RequestBuilder::send` directly would skip the check of
/// IP-literal hosts, which never reach the resolver.
#[derive(Debug, Clone)]
pub struct Outbound {
    client: Client,
    policy: Arc<OutboundPolicy>,
}

impl Outbound {
    /// A client enforcing `policy` with `settings`. Fails only if the TLS backend cannot start.
    pub fn new(policy: OutboundPolicy, settings: &Settings) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let mut builder = Client::builder()
            .use_rustls_tls()
            .dns_resolver(Arc::new(GuardedResolver::new(policy.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(settings.connect_timeout)
            .pool_max_idle_per_host(settings.pool_max_idle_per_host)
            .user_agent(settings.user_agent.clone());
        if let Some(timeout) = settings.timeout {
            builder = builder.timeout(timeout);
        }
        Ok(Self {
            client: builder.build()?,
            policy,
        })
    }

    /// The policy this client enforces.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// The underlying client, to build a request (send it with [`Outbound::send`]).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Checks the URL, then sends the request on this client (whichever client built it).
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, SendError> {
        let (_, request) = request.build_split();
        self.execute(request?).await
    }

    /// Checks the URL, then sends `request`. A refused URL sends nothing.
    pub async fn execute(&self, request: Request) -> Result<Response, SendError> {
        self.policy
            .check_url(request.url())
            .map_err(SendError::Refused)?;
        Ok(self.client.execute(request).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::{Outbound, SendError, Settings};
    use crate::allow::AllowList;
    use crate::policy::OutboundPolicy;
    use axum::http::StatusCode;
    use axum::response::Redirect;
    use axum::routing::{any, get};
    use axum::Router;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A local server: `/ok` answers 200, `/redirect` answers 307 to `/target`, which counts
    /// its calls.
    async fn server() -> (u16, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let router = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route(
                "/redirect",
                any(|| async { Redirect::temporary("/target") }),
            )
            .route(
                "/target",
                any(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async { StatusCode::OK }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (port, hits)
    }

    fn outbound(production: bool, allow: &str) -> Outbound {
        let policy = OutboundPolicy::new(production, allow.parse::<AllowList>().unwrap());
        Outbound::new(policy, &Settings::default()).unwrap()
    }

    async fn get_status(client: &Outbound, url: String) -> Result<u16, SendError> {
        let response = client.send(client.client().get(url)).await?;
        Ok(response.status().as_u16())
    }

    #[tokio::test]
    async fn redirects_are_returned_not_followed() {
        let (port, hits) = server().await;
        let client = outbound(false, "");
        let url = format!("http://127.0.0.1:{port}/redirect");
        let response = client
            .send(client.client().post(url).body("signed"))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 307);
        assert_eq!(response.headers()["location"], "/target");
        assert_eq!(hits.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn loopback_is_reachable_outside_production_only() {
        let (port, _) = server().await;
        let dev = outbound(false, "");
        assert_eq!(
            get_status(&dev, format!("http://localhost:{port}/ok"))
                .await
                .unwrap(),
            200
        );
        assert_eq!(
            get_status(&dev, format!("http://2130706433:{port}/ok"))
                .await
                .unwrap(),
            200
        );

        let prod = outbound(true, "");
        // Literal: refused before anything is sent.
        let err = get_status(&prod, format!("https://127.0.0.1:{port}/ok"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "OUTBOUND_ADDRESS");
        // Host name: refused by the resolver, and still reported as a refusal.
        let err = get_status(&prod, format!("https://localhost:{port}/ok"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "OUTBOUND_HOST_ADDRESSES", "{err}");
        assert!(
            err.to_string()
                .starts_with("refused: every address of localhost"),
            "{err}"
        );
        let err = get_status(&prod, format!("http://localhost:{port}/ok"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "OUTBOUND_PLAIN_HTTP");
    }

    #[tokio::test]
    async fn allow_list_reopens_loopback_in_production() {
        let (port, _) = server().await;
        let prod = outbound(true, "127.0.0.1/32");
        assert_eq!(
            get_status(&prod, format!("http://127.0.0.1:{port}/ok"))
                .await
                .unwrap(),
            200
        );
        let named = outbound(true, "localhost");
        assert_eq!(
            get_status(&named, format!("http://localhost:{port}/ok"))
                .await
                .unwrap(),
            200
        );
    }

    #[tokio::test]
    async fn requests_built_elsewhere_are_still_checked() {
        let (port, _) = server().await;
        let prod = outbound(true, "");
        let foreign = reqwest::Client::new().get(format!("https://127.0.0.1:{port}/ok"));
        let err = prod.send(foreign).await.unwrap_err();
        assert!(matches!(err, SendError::Refused(_)), "{err}");
    }

    #[tokio::test]
    async fn transport_failures_are_not_refusals() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = get_status(&outbound(false, ""), format!("http://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, SendError::Http(ref e) if e.is_connect()),
            "{err}"
        );
        assert_eq!(err.code(), "OUTBOUND_TRANSPORT");
    }
}
