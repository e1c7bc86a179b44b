//! The one HTTP client every connector uses: the guarded outbound client (policy-checked URLs
//! and addresses, no redirects), timeouts, and the classification of transport failures and
//! HTTP statuses into [`ConnectorError`] (classified once).
//!
//! Every exchange is also shown to the client's [`ExchangeObserver`]s (metrics, the PSP
//! exchange log) with the [`CallContext`] the service layer set around the connector call
//! ([`in_context`]): which PSP account, transaction, attempt and operation it belongs to. The
//! connectors themselves know nothing of it. When the context carries a W3C `traceparent`,
//! every exchange is sent a child of it (same trace id, a new span id per call).

use overture_core::connector::ConnectorError;
use overture_core::{AttemptId, PspAccountId, TraceParent, TransactionId};
use overture_outbound::{Outbound, SendError, Settings};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

tokio::task_local! {
    static CALL: CallContext;
}

/// What a PSP call belongs to, set by the service layer around a connector call.
#[derive(Clone, Debug)]
pub struct CallContext {
    /// `pspType` of the account.
    pub psp: String,
    pub account: PspAccountId,
    pub transaction: Option<TransactionId>,
    pub attempt: Option<AttemptId>,
    /// The flow: `create`, `status`, `credentials-test`, …
    pub operation: &'static str,
    /// The trace the call belongs to; each exchange sends `traceparent` with its trace id and
    /// flags and a new span id. `None`: no `traceparent` header.
    pub traceparent: Option<TraceParent>,
}

/// Runs `call` (a connector call) with `ctx` visible to the observers of every exchange it makes.
pub async fn in_context<F: Future>(ctx: CallContext, call: F) -> F::Output {
    CALL.scope(ctx, call).await
}

/// One HTTP exchange with a PSP as the shared client saw it. Bodies are raw (the observer
/// masks what it keeps); `request_headers` never include `Authorization` values.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub method: String,
    /// Path and query of the URL (no scheme, host or credentials).
    pub path: String,
    /// `None` when no answer came (timeout, refused connection).
    pub status: Option<u16>,
    pub latency: Duration,
    pub request_body: Vec<u8>,
    pub response_body: String,
    /// The classified failure, if any.
    pub error: Option<String>,
    /// Its stable code ([`ConnectorError::error_code`]: `PSP_TIMEOUT`, …), if any.
    pub error_code: Option<&'static str>,
    /// The failure counts against the account's health (cannot connect, timeout, 5xx, 429).
    pub technical_failure: bool,
}

/// Sees every PSP exchange (metrics, the exchange log). Must not block: it runs on the call's
/// task.
pub trait ExchangeObserver: Send + Sync + 'static {
    /// `ctx` is the call's context, `None` for a call made outside [`in_context`].
    fn exchange(&self, ctx: Option<&CallContext>, exchange: &Exchange);
}

/// Re-exported so code that builds a [`PspHttp`] needs no direct dependency on the policy crate.
pub use overture_outbound::OutboundPolicy;

/// Default time a PSP call may take before it counts as [`ConnectorError::Timeout`].
pub const DEFAULT_PSP_TIMEOUT: Duration = Duration::from_secs(30);

/// A PSP response whose status was 1xx, 2xx, or a 4xx other than the classified ones.
#[derive(Debug, Clone)]
pub struct PspResponse {
    pub status: u16,
    pub body: String,
}

/// Shared HTTP client for PSP calls, enforcing the outbound policy on PSP base URLs.
#[derive(Clone)]
pub struct PspHttp {
    outbound: Outbound,
    observers: Vec<Arc<dyn ExchangeObserver>>,
}

impl std::fmt::Debug for PspHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PspHttp")
            .field("observers", &self.observers.len())
            .finish()
    }
}

impl PspHttp {
    /// A client whose calls time out after `timeout` (5 s of it at most to connect) and that
    /// only calls URLs and addresses `policy` accepts. Redirects are never followed: a signed
    /// request must not be replayed to another URL.
    pub fn new(timeout: Duration, policy: OutboundPolicy) -> Self {
        let settings = Settings {
            timeout: Some(timeout),
            ..Settings::default()
        };
        let outbound =
            Outbound::new(policy, &settings).expect("reqwest client with static settings");
        Self {
            outbound,
            observers: Vec::new(),
        }
    }

    /// The same client, also showing every exchange to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn ExchangeObserver>) -> Self {
        self.observers.push(observer);
        self
    }

    /// The underlying client, to build a request (send it with [`PspHttp::send`]).
    pub fn client(&self) -> &reqwest::Client {
        self.outbound.client()
    }

    /// Sends `request` and classifies the result: 401/403/404 ⇒ `InvalidCredentials`,
    /// 429 ⇒ `RateLimited`, 5xx ⇒ `Unavailable`, 3xx ⇒ `Protocol` (never followed), timeout ⇒
    /// `Timeout`, connect failure or a URL the outbound policy refuses ⇒ `Unreachable`
    /// (nothing was sent). Any other status is returned with its body.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<PspResponse, ConnectorError> {
        let mut request = request
            .build()
            .map_err(|e| ConnectorError::Protocol(format!("could not build the request: {e}")))?;
        let trace = CALL.try_with(|c| c.traceparent).ok().flatten();
        if let Some(parent) = trace {
            if let Ok(value) = reqwest::header::HeaderValue::from_str(&parent.child().to_string()) {
                request.headers_mut().insert("traceparent", value);
            }
        }
        let seen = (!self.observers.is_empty()).then(|| {
            let url = request.url();
            let path = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            };
            let body = request
                .body()
                .and_then(|b| b.as_bytes())
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            (request.method().to_string(), path, body)
        });
        let started = Instant::now();
        let mut status = None;
        let mut answer = String::new();
        let result = async {
            let response = self
                .outbound
                .execute(request)
                .await
                .map_err(classify_send)?;
            status = Some(response.status().as_u16());
            answer = response.text().await.map_err(classify_transport)?;
            classify_status(status.unwrap_or_default(), answer.clone())
        }
        .await;
        if let Some((method, path, request_body)) = seen {
            let exchange = Exchange {
                method,
                path,
                status,
                latency: started.elapsed(),
                request_body,
                response_body: answer,
                error: result.as_ref().err().map(ToString::to_string),
                error_code: result.as_ref().err().map(ConnectorError::error_code),
                technical_failure: result
                    .as_ref()
                    .err()
                    .is_some_and(ConnectorError::is_technical),
            };
            let ctx = CALL.try_with(Clone::clone).ok();
            for o in &self.observers {
                o.exchange(ctx.as_ref(), &exchange);
            }
        }
        result
    }
}

fn classify_send(err: SendError) -> ConnectorError {
    match err {
        SendError::Refused(refused) => ConnectorError::Unreachable(format!(
            "refused by the outbound policy ({}): {refused}",
            refused.code()
        )),
        SendError::Http(e) => classify_transport(e),
    }
}

fn classify_transport(err: reqwest::Error) -> ConnectorError {
    if err.is_timeout() {
        ConnectorError::Timeout
    } else if err.is_connect() {
        ConnectorError::Unreachable(err.to_string())
    } else {
        ConnectorError::Protocol(err.to_string())
    }
}

/// Maps an HTTP status to the error classes of the README (Mozarto's normalised codes).
pub fn classify_status(status: u16, body: String) -> Result<PspResponse, ConnectorError> {
    match status {
        401 | 403 | 404 => Err(ConnectorError::InvalidCredentials { status }),
        408 => Err(ConnectorError::Timeout),
        429 => Err(ConnectorError::RateLimited),
        // A 3xx says nothing about whether the PSP acted, and is never followed.
        300..=399 => Err(ConnectorError::Protocol(format!(
            "PSP answered a redirect (HTTP {status}); redirects are not followed"
        ))),
        500..=599 => Err(ConnectorError::Unavailable { status }),
        _ => Ok(PspResponse { status, body }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_once() {
        assert!(matches!(
            classify_status(401, String::new()),
            Err(ConnectorError::InvalidCredentials { status: 401 })
        ));
        assert!(matches!(
            classify_status(429, String::new()),
            Err(ConnectorError::RateLimited)
        ));
        assert!(matches!(
            classify_status(503, String::new()),
            Err(ConnectorError::Unavailable { status: 503 })
        ));
        assert!(matches!(
            classify_status(408, String::new()),
            Err(ConnectorError::Timeout)
        ));
        assert!(matches!(
            classify_status(307, String::new()),
            Err(ConnectorError::Protocol(m)) if m.contains("HTTP 307")
        ));
        assert_eq!(classify_status(200, "ok".into()).unwrap().body, "ok");
        assert_eq!(classify_status(400, "bad".into()).unwrap().status, 400);
    }
}
