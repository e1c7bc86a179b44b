//! `GET /metrics`: this process's metrics ([`crate::metrics`]) in the Prometheus text format
//! (0.0.4). It is outside `/v1`, so refusals are plain text, not the API envelope.
//!
//! Access: in production mode it needs `Authorization: Bearer <OVERTURE_METRICS_TOKEN>`, and
//! without that variable it answers 401 to everyone (`serve` warns at start). Outside
//! production it is open unless the variable is set, in which case the token is required
//! there too. The token comes from the environment only (never a flag: secrets stay out of
//! argv), is held as a `SecretString` and compared in constant time.

use crate::app::App;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The environment variable holding the `/metrics` bearer token.
pub const METRICS_TOKEN_ENV: &str = "OVERTURE_METRICS_TOKEN";

/// Who may read `/metrics`.
#[derive(Clone, Debug)]
pub enum MetricsAccess {
    /// Anyone: not production mode and no token set.
    Open,
    /// Only requests with `Authorization: Bearer <token>`.
    Token(SecretString),
    /// Nobody: production mode without a token.
    Closed,
}

impl MetricsAccess {
    /// The rule for a node in production mode or not, with the token it was given (an empty
    /// value counts as none).
    pub fn new(production: bool, token: Option<SecretString>) -> Self {
        match (token.filter(|t| !t.expose_secret().is_empty()), production) {
            (Some(token), _) => Self::Token(token),
            (None, true) => Self::Closed,
            (None, false) => Self::Open,
        }
    }

    /// `OVERTURE_METRICS_TOKEN` from the environment, when set.
    pub fn token_from_env() -> Option<SecretString> {
        std::env::var(METRICS_TOKEN_ENV)
            .ok()
            .map(SecretString::from)
    }

    /// Whether a request with these headers may read the counters.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        match self {
            Self::Open => true,
            Self::Closed => false,
            Self::Token(expected) => {
                bearer(headers).is_some_and(|given| same_secret(given, expected.expose_secret()))
            }
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Equality in constant time, whatever the lengths: the SHA-256 digests are compared, so
/// neither the token's bytes nor its length leak through timing.
fn same_secret(given: &str, expected: &str) -> bool {
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    given.as_slice().ct_eq(expected.as_slice()).into()
}

/// `GET /metrics`: the metrics, or 401 (plain text) when [`MetricsAccess`] refuses.
/// Prometheus metrics of this process (text format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "Operations", operation_id = "metrics",
    security((), ("metricsToken" = [])),
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain", body = String,
            example = "# TYPE overture_transactions_created counter\noverture_transactions_created_total 12\n"),
        (status = 401, description = "A token is required (production mode, or `OVERTURE_METRICS_TOKEN` set) and was not given", content_type = "text/plain", body = String,
            example = "Unauthorized: /metrics needs Authorization: Bearer <OVERTURE_METRICS_TOKEN>"),
    ))]
pub async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    if app.metrics_access.allows(&headers) {
        let content_type = [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)];
        return (content_type, app.metrics.render()).into_response();
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "Unauthorized: /metrics needs Authorization: Bearer <OVERTURE_METRICS_TOKEN>\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn production_needs_the_token_and_refuses_all_without_one() {
        let token = || Some(SecretString::from("s3cret-metrics"));
        let guarded = MetricsAccess::new(true, token());
        assert!(guarded.allows(&with_auth("Bearer s3cret-metrics")));
        assert!(!guarded.allows(&with_auth("Bearer s3cret-metric")));
        assert!(!guarded.allows(&with_auth("Bearer s3cret-metrics2")));
        assert!(!guarded.allows(&with_auth("s3cret-metrics")));
        assert!(!guarded.allows(&HeaderMap::new()));
        let closed = MetricsAccess::new(true, None);
        assert!(!closed.allows(&with_auth("Bearer ")));
        assert!(!closed.allows(&HeaderMap::new()));
        let empty = MetricsAccess::new(true, Some(SecretString::from("")));
        assert!(
            !empty.allows(&with_auth("Bearer ")),
            "an empty token is no token"
        );
    }

    #[test]
    fn outside_production_open_unless_a_token_is_set() {
        assert!(MetricsAccess::new(false, None).allows(&HeaderMap::new()));
        let guarded = MetricsAccess::new(false, Some(SecretString::from("t")));
        assert!(!guarded.allows(&HeaderMap::new()));
        assert!(guarded.allows(&with_auth("Bearer t")));
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let access = MetricsAccess::new(true, Some(SecretString::from("s3cret-metrics")));
        assert!(!format!("{access:?}").contains("s3cret"));
    }
}
