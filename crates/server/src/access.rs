//! The access log and HTTP metrics: one middleware around every route (API, back office,
//! sandboxes) that gives the request its W3C trace ([`crate::trace`]), then, once the answer is
//! ready, records it in `/metrics` and logs one line (target `overture_server::access`, level
//! info):
//!
//! `method`, `route` (the matched template, `unmatched` for none: never the raw path, which
//! may carry ids), `status`, `latency_ms` (float), `trace_id`, `span_id` (this request's),
//! `parent_span_id` (the caller's, when it sent a valid `traceparent`) and `transaction_id`
//! when the handler named one ([`with_transaction`]).

use crate::metrics::Metrics;
use crate::trace;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use overture_core::TransactionId;
use std::sync::Arc;
use std::time::Instant;

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The transaction a response is about, for the access log (a response extension).
#[derive(Clone, Debug)]
pub struct LoggedTransaction(pub TransactionId);

/// `response`, marked as being about transaction `id` (shown in its access-log line).
pub fn with_transaction(mut response: Response, id: TransactionId) -> Response {
    response.extensions_mut().insert(LoggedTransaction(id));
    response
}

/// The middleware (`axum::middleware::from_fn_with_state(metrics, access::log)`); must be
/// added with `Router::layer` so the matched route is known.
pub async fn log(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let (ours, incoming) = trace::for_request(request.headers());
    let response = trace::scope(ours, next.run(request)).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let route = route.as_deref().unwrap_or(UNMATCHED);
    metrics.record_http(method, route, status, elapsed);
    let transaction = response.extensions().get::<LoggedTransaction>();
    let parent = incoming.map(|p| p.span_id());
    tracing::info!(
        method,
        route,
        status,
        latency_ms = elapsed.as_micros() as f64 / 1000.0,
        trace_id = %ours.trace_id(),
        span_id = ours.span_id(),
        parent_span_id = parent.as_deref(),
        transaction_id = transaction.map(|t| t.0.as_str()),
        "request"
    );
    response
}

/// A fixed label for the method (`OTHER` beyond the standard ones).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_a_fixed_set() {
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(
            method_label(&Method::from_bytes(b"PROPFIND").unwrap()),
            "OTHER"
        );
    }
}
