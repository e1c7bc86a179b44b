//! The one HTTP client every connector uses: timeouts, and the classification of transport
//! failures and HTTP statuses into [`ConnectorError`] (STYLE.md: classified once).

use overture_core::connector::ConnectorError;
use std::time::Duration;

/// Default time a PSP call may take before it counts as [`ConnectorError::Timeout`].
pub const DEFAULT_PSP_TIMEOUT: Duration = Duration::from_secs(30);

/// A PSP response whose status was 2xx, 4xx other than the classified ones, or 3xx.
#[derive(Debug, Clone)]
pub struct PspResponse {
    pub status: u16,
    pub body: String,
}

/// Shared HTTP client for PSP calls.
#[derive(Clone, Debug)]
pub struct PspHttp {
    client: reqwest::Client,
}

impl PspHttp {
    /// A client whose calls time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(64)
            .user_agent(concat!("overture/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("reqwest client with static settings");
        Self { client }
    }

    /// The underlying client, to build a request.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request` and classifies the result: 401/403/404 ⇒ `InvalidCredentials`,
    /// 429 ⇒ `RateLimited`, 5xx ⇒ `Unavailable`, timeout ⇒ `Timeout`, connect failure ⇒
    /// `Unreachable` (nothing was sent). Any other status is returned with its body.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<PspResponse, ConnectorError> {
        let response = request.send().await.map_err(classify_transport)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(classify_transport)?;
        classify_status(status, body)
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
        assert_eq!(classify_status(200, "ok".into()).unwrap().body, "ok");
        assert_eq!(classify_status(400, "bad".into()).unwrap().status, 400);
    }
}
