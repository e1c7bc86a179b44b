//! One error envelope everywhere under `/v1`. Handlers answer with [`ApiError`]; what the router
//! and axum's extractors answer by themselves (no such route, a method the route does not take,
//! a query string that does not parse) comes out as plain text or an empty body, and this
//! middleware rewrites it into the same `{"status":"error","isSuccess":false,"message",
//! "errorCode","errors"}` body, keeping the status and headers (`Allow` on a 405).

use crate::api::error::error_body;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// Bytes of a plain-text error body kept as the envelope's message.
const MESSAGE_BYTES: usize = 1024;

/// Rewrites every non-JSON error response to a `/v1` request into the API envelope.
pub async fn envelope_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let under_v1 = path == "/v1" || path.starts_with("/v1/");
    let method = request.method().clone();
    let path = path.to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if !under_v1 || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MESSAGE_BYTES * 4)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let allow = parts
        .headers
        .get(ALLOW)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (code, message) = code_and_message(status, &text, &format!("{method} {path}"), &allow);
    let body = error_body(code, &message, &[]).to_string();
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(body))
}

/// The stable code and message for an error status the handlers did not shape themselves.
fn code_and_message(
    status: StatusCode,
    text: &str,
    request: &str,
    allow: &str,
) -> (&'static str, String) {
    let text: String = text.chars().take(MESSAGE_BYTES).collect();
    let or = |default: String| {
        if text.is_empty() {
            default
        } else {
            text.clone()
        }
    };
    match status {
        StatusCode::NOT_FOUND => ("NOT_FOUND", or(format!("No such endpoint: {request}"))),
        StatusCode::METHOD_NOT_ALLOWED => (
            "METHOD_NOT_ALLOWED",
            format!("{request}: method not allowed; this endpoint takes {allow}"),
        ),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
            ("VALIDATION_ERROR", or("Invalid request".into()))
        }
        StatusCode::UNAUTHORIZED => ("UNAUTHORIZED", or("Unauthorized".into())),
        StatusCode::FORBIDDEN => ("FORBIDDEN", or("Forbidden".into())),
        StatusCode::PAYLOAD_TOO_LARGE => ("PAYLOAD_TOO_LARGE", or("Request body too large".into())),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "UNSUPPORTED_MEDIA_TYPE",
            or("Unsupported content type".into()),
        ),
        StatusCode::TOO_MANY_REQUESTS => ("RATE_LIMITED", or("Too many requests".into())),
        StatusCode::SERVICE_UNAVAILABLE => (
            "SERVICE_UNAVAILABLE",
            "Temporarily unavailable; retry later".into(),
        ),
        s if s.is_server_error() => ("INTERNAL_ERROR", "Something went wrong".into()),
        _ => ("BAD_REQUEST", or(format!("HTTP {}", status.as_u16()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_it_shapes_has_a_documented_code() {
        for status in [400, 401, 403, 404, 405, 413, 415, 422, 429, 500, 503] {
            let status = StatusCode::from_u16(status).unwrap();
            let (code, _) = code_and_message(status, "", "GET /v1/x", "POST");
            let entry = crate::api::error_codes::lookup(code)
                .unwrap_or_else(|| panic!("{code} is not in ERROR_CODES"));
            assert!(entry.statuses.contains(&status.as_u16()), "{code} {status}");
        }
    }

    #[test]
    fn statuses_get_stable_codes_and_5xx_stay_generic() {
        let (code, msg) = code_and_message(StatusCode::METHOD_NOT_ALLOWED, "", "GET /v1/x", "POST");
        assert_eq!(code, "METHOD_NOT_ALLOWED");
        assert!(msg.contains("POST"), "{msg}");
        assert_eq!(
            code_and_message(StatusCode::NOT_FOUND, "", "GET /v1/nope", "").1,
            "No such endpoint: GET /v1/nope"
        );
        let (code, msg) = code_and_message(
            StatusCode::BAD_REQUEST,
            "Failed to deserialize query string",
            "GET /v1/x",
            "",
        );
        assert_eq!(
            (code, msg.as_str()),
            ("VALIDATION_ERROR", "Failed to deserialize query string")
        );
        let (code, msg) = code_and_message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "db password hunter2",
            "",
            "",
        );
        assert_eq!(code, "INTERNAL_ERROR");
        assert!(!msg.contains("hunter2"));
    }
}
