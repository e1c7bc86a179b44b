//! PSP call metrics, fed by the PSP HTTP layer: every exchange a connector makes through
//! [`PspHttp`](overture_connectors::http::PspHttp) is counted by PSP, operation and outcome, and
//! its latency observed ([`Metrics::record_psp`]).

use super::{Metrics, PspLabels};
use overture_connectors::http::{CallContext, Exchange, ExchangeObserver};
use std::sync::Arc;

/// The [`ExchangeObserver`] recording PSP calls in [`Metrics`].
#[derive(Debug)]
pub struct PspMetrics(pub Arc<Metrics>);

impl ExchangeObserver for PspMetrics {
    fn exchange(&self, ctx: Option<&CallContext>, exchange: &Exchange) {
        let labels = PspLabels {
            psp: ctx.map_or_else(|| "unknown".to_owned(), |c| c.psp.clone()),
            operation: ctx.map_or("unknown", |c| c.operation),
            outcome: exchange.error_code.unwrap_or("ok"),
        };
        self.0.record_psp(labels, exchange.latency);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overture_core::PspAccountId;
    use std::time::Duration;

    fn exchange(error_code: Option<&'static str>) -> Exchange {
        Exchange {
            method: "POST".into(),
            path: "/api/payout?x=1".into(),
            status: error_code.is_none().then_some(200),
            latency: Duration::from_millis(40),
            request_body: Vec::new(),
            response_body: String::new(),
            error: error_code.map(str::to_owned),
            error_code,
            technical_failure: error_code.is_some(),
        }
    }

    #[test]
    fn counts_by_psp_operation_and_outcome() {
        let metrics = Arc::new(Metrics::new());
        let observer = PspMetrics(metrics.clone());
        let ctx = CallContext {
            psp: "FORUMPAY".into(),
            account: PspAccountId::generate(),
            transaction: None,
            attempt: None,
            operation: "status",
            traceparent: None,
        };
        observer.exchange(Some(&ctx), &exchange(None));
        observer.exchange(Some(&ctx), &exchange(Some("PSP_UNAVAILABLE")));
        observer.exchange(None, &exchange(None));
        let text = metrics.render();
        for series in [
            "overture_psp_requests_total{psp=\"FORUMPAY\",operation=\"status\",outcome=\"ok\"} 1",
            "overture_psp_requests_total{psp=\"FORUMPAY\",operation=\"status\",outcome=\"PSP_UNAVAILABLE\"} 1",
            "overture_psp_requests_total{psp=\"unknown\",operation=\"unknown\",outcome=\"ok\"} 1",
            "overture_psp_request_duration_seconds_count{psp=\"FORUMPAY\",operation=\"status\"} 2",
        ] {
            assert!(text.lines().any(|l| l == series), "{series} in\n{text}");
        }
        assert!(!text.contains("/api/payout"), "no paths in labels");
    }
}
