//! The one HTTP client every connector uses: the guarded outbound client (policy-checked URLs
//! and addresses, no redirects), timeouts, and the classification of transport failures and
//! HTTP statuses into [`ConnectorError`] (classified once).

use overture_core::connector::ConnectorError;
use overture_outbound::{Outbound, SendError, Settings};
use std::time::Duration;

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
#[derive(Clone, Debug)]
pub struct PspHttp {
    outbound: Outbound,
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
        Self { outbound }
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
        let response = self.outbound.send(request).await.map_err(classify_send)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(classify_transport)?;
        classify_status(status, body)
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

/// Maps an HTTP status to the error classes of DESIGN.md §4 (Mozarto's normalised codes).
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
