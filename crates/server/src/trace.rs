//! W3C Trace Context for the requests this process serves and the calls it makes.
//!
//! Each request gets a trace: the one of a valid incoming `traceparent` header (kept), else a
//! new one ([`for_request`]). The access log shows it; a transaction created by the request
//! stores its trace id, and every call made for that transaction later — PSP calls, status
//! polls, its webhook — sends `traceparent` with that trace id and a span id of its own
//! ([`for_transaction`], [`outgoing`]).

use axum::http::HeaderMap;
use overture_core::{TraceId, TraceParent, Transaction};
use std::future::Future;

/// The header name, lowercase as HTTP/2 sends it.
pub const TRACEPARENT: &str = "traceparent";

tokio::task_local! {
    static REQUEST: TraceParent;
}

/// This request's trace and span: `(ours, incoming)`. Ours is a child of a valid incoming
/// `traceparent` (same trace id and flags, a new span id), or a new sampled trace when the
/// header is missing or invalid.
pub fn for_request(headers: &HeaderMap) -> (TraceParent, Option<TraceParent>) {
    let incoming = headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse);
    let ours = incoming.map_or_else(TraceParent::generate, |parent| parent.child());
    (ours, incoming)
}

/// Runs `handling` (a request's) with `trace` as [`current`].
pub async fn scope<F: Future>(trace: TraceParent, handling: F) -> F::Output {
    REQUEST.scope(trace, handling).await
}

/// The trace of the request being served on this task, if any.
pub fn current() -> Option<TraceParent> {
    REQUEST.try_with(|t| *t).ok()
}

/// The trace id a new transaction stores: the current request's.
pub fn current_trace_id() -> Option<TraceId> {
    current().map(|t| t.trace_id())
}

/// The trace a call made for `txn` belongs to: the current request's when it is the one that
/// created `txn` (its flags kept), else a new span in the stored trace id; `None` for a
/// transaction stored without one.
pub fn for_transaction(txn: &Transaction) -> Option<TraceParent> {
    let stored = txn.trace_id?;
    Some(
        current()
            .filter(|t| t.trace_id() == stored)
            .unwrap_or_else(|| TraceParent::in_trace(stored)),
    )
}

/// The `traceparent` value of one outgoing call in `trace`: a child span.
pub fn outgoing(trace: &TraceParent) -> String {
    trace.child().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_is_kept_and_anything_else_starts_a_trace() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_static(INCOMING));
        let (ours, incoming) = for_request(&headers);
        assert_eq!(incoming.map(|t| t.to_string()).as_deref(), Some(INCOMING));
        assert_eq!(
            ours.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_ne!(ours.span_id(), "00f067aa0ba902b7");

        headers.insert(TRACEPARENT, HeaderValue::from_static("00-nonsense-01"));
        let (fresh, incoming) = for_request(&headers);
        assert_eq!(incoming, None);
        let (other, _) = for_request(&HeaderMap::new());
        assert_ne!(fresh.trace_id(), other.trace_id());
    }

    #[tokio::test]
    async fn current_is_the_scoped_request_only() {
        assert_eq!(current(), None);
        let trace = TraceParent::parse(INCOMING).unwrap();
        let seen = scope(trace, async { current() }).await;
        assert_eq!(seen, Some(trace));
        assert_eq!(
            TraceParent::parse(&outgoing(&trace)).unwrap().trace_id(),
            trace.trace_id()
        );
    }
}
