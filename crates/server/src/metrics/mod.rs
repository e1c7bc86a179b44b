//! This process's metrics, exposed at `GET /metrics` in the Prometheus text format (0.0.4):
//! HTTP requests by route template and status, PSP calls by PSP, operation and outcome (both
//! with latency histograms), transactions created, status polls and how late they ran, webhook
//! deliveries by outcome, queue depths and jobs in flight. The README's "Observability" section
//! lists every series.
//!
//! Labels never carry ids or request data: routes are the matched templates
//! (`/v1/api/mozarto/transactions/{id}`), outcomes and operations come from fixed sets.

pub mod psp;

use overture_core::store::{DeliveryNext, QueueDepths};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the HTTP and PSP latency histograms.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Upper bounds (seconds) of the poll lag histogram: due polls normally run within a tick;
/// minutes mean the poller is behind.
const LAG_BUCKETS: [f64; 11] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

/// `overture_http_requests_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: &'static str,
    /// The matched route template, or `unmatched`.
    pub route: String,
    pub status: u16,
}

/// `overture_http_request_duration_seconds` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: &'static str,
    pub route: String,
}

/// `overture_psp_requests_total` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PspLabels {
    /// `pspType` (`PAYMENTSOFT`, …), `unknown` for a call made outside a call context.
    pub psp: String,
    /// The call context's operation (`create`, `status`; `unknown` likewise).
    pub operation: &'static str,
    /// `ok` (the PSP answered a status the connector reads), or the classified error code
    /// (`PSP_TIMEOUT`, `PSP_UNAVAILABLE`, …).
    pub outcome: &'static str,
}

/// `overture_psp_request_duration_seconds` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PspOperationLabels {
    pub psp: String,
    pub operation: &'static str,
}

/// `overture_webhook_deliveries_total` labels: `delivered`, `retry` or `dead`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// `overture_worker_jobs_in_flight` labels: `poller` or `webhooks`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkerLabels {
    pub worker: &'static str,
}

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every metric of this process, registered once at start. Counters and gauges are atomics;
/// recording one is a hash lookup of its label set and an atomic add (a histogram takes a
/// short lock).
pub struct Metrics {
    registry: Registry,
    /// `overture_transactions_created_total`.
    pub transactions_created: Counter,
    /// `overture_polls_total`: status polls claimed ([`Metrics::record_poll_round`]).
    polls: Counter,
    /// `overture_callback_status_queries_total`: status queries triggered by PSP callbacks
    /// (after coalescing).
    pub confirmations: Counter,
    /// `overture_poll_lag_ms_last_round`: the largest delay (ms) between a poll's due time and
    /// its claim, in the last poll round.
    poll_lag_ms_last_round: Gauge,
    /// `overture_poll_lag_ms_max`: the largest such delay since start.
    poll_lag_ms_max: Gauge,
    poll_lag: Histogram,
    webhook_attempts: Counter,
    webhooks_delivered: Counter,
    webhooks_dead: Counter,
    webhook_deliveries: Family<OutcomeLabels, Counter>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    psp_requests: Family<PspLabels, Counter>,
    psp_duration: HistogramFamily<PspOperationLabels>,
    polls_due: Gauge,
    webhooks_pending: Gauge,
    in_flight: Family<WorkerLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Self {
        let mut m = Self {
            transactions_created: Counter::default(),
            polls: Counter::default(),
            confirmations: Counter::default(),
            poll_lag_ms_last_round: Gauge::default(),
            poll_lag_ms_max: Gauge::default(),
            poll_lag: Histogram::new(LAG_BUCKETS),
            webhook_attempts: Counter::default(),
            webhooks_delivered: Counter::default(),
            webhooks_dead: Counter::default(),
            webhook_deliveries: Family::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            psp_requests: Family::default(),
            psp_duration: Family::new_with_constructor(latency_histogram),
            polls_due: Gauge::default(),
            webhooks_pending: Gauge::default(),
            in_flight: Family::default(),
            registry: Registry::default(),
        };
        // Counters are registered without `_total`: the encoder appends it.
        let r = &mut m.registry;
        r.register(
            "overture_transactions_created",
            "Transactions stored by the Cashier API",
            m.transactions_created.clone(),
        );
        r.register("overture_polls", "Status polls claimed", m.polls.clone());
        r.register(
            "overture_callback_status_queries",
            "Status queries triggered by PSP callbacks (after coalescing)",
            m.confirmations.clone(),
        );
        r.register(
            "overture_poll_lag_ms_last_round",
            "Largest delay in ms between a poll's due time and its claim, last poll round",
            m.poll_lag_ms_last_round.clone(),
        );
        r.register(
            "overture_poll_lag_ms_max",
            "Largest delay in ms between a poll's due time and its claim, since start",
            m.poll_lag_ms_max.clone(),
        );
        r.register(
            "overture_poll_lag_seconds",
            "How late each claimed poll ran: claim time minus due time, in seconds",
            m.poll_lag.clone(),
        );
        r.register(
            "overture_webhook_attempts",
            "Webhook HTTP attempts",
            m.webhook_attempts.clone(),
        );
        r.register(
            "overture_webhooks_delivered",
            "Webhooks delivered (answered 2xx)",
            m.webhooks_delivered.clone(),
        );
        r.register(
            "overture_webhooks_dead",
            "Webhooks dead-lettered after their last attempt",
            m.webhooks_dead.clone(),
        );
        r.register(
            "overture_webhook_deliveries",
            "Webhook attempts by outcome: delivered, retry (failed, tried again later), dead",
            m.webhook_deliveries.clone(),
        );
        r.register(
            "overture_http_requests",
            "HTTP requests served, by method, route template and status",
            m.http_requests.clone(),
        );
        r.register(
            "overture_http_request_duration_seconds",
            "HTTP request latency in seconds, by method and route template",
            m.http_duration.clone(),
        );
        r.register(
            "overture_psp_requests",
            "PSP HTTP calls by PSP, operation and outcome (ok or the classified error code)",
            m.psp_requests.clone(),
        );
        r.register(
            "overture_psp_request_duration_seconds",
            "PSP HTTP call latency in seconds, by PSP and operation",
            m.psp_duration.clone(),
        );
        r.register(
            "overture_polls_due",
            "Transactions whose status poll is due (whole database, counted every few seconds)",
            m.polls_due.clone(),
        );
        r.register(
            "overture_webhooks_pending",
            "Webhook deliveries pending (whole database, counted every few seconds)",
            m.webhooks_pending.clone(),
        );
        r.register(
            "overture_worker_jobs_in_flight",
            "Jobs running now in this process's workers (poller, webhooks)",
            m.in_flight.clone(),
        );
        m
    }

    /// Records one HTTP request: `route` is the matched template (never the raw path).
    pub fn record_http(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        let route = route.to_owned();
        self.http_duration
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.http_requests
            .get_or_create(&HttpLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    /// Records one PSP HTTP exchange.
    pub fn record_psp(&self, labels: PspLabels, elapsed: Duration) {
        let operation = PspOperationLabels {
            psp: labels.psp.clone(),
            operation: labels.operation,
        };
        self.psp_duration
            .get_or_create(&operation)
            .observe(elapsed.as_secs_f64());
        self.psp_requests.get_or_create(&labels).inc();
    }

    /// Records one poll round's claims: each row's lateness is `now - due` (ms).
    pub fn record_poll_round(&self, lags_ms: impl Iterator<Item = i64>) {
        let mut worst = 0;
        let mut n = 0;
        for lag in lags_ms {
            self.poll_lag.observe(lag.max(0) as f64 / 1000.0);
            worst = worst.max(lag);
            n += 1;
        }
        self.polls.inc_by(n);
        self.poll_lag_ms_last_round.set(worst);
        let max = &self.poll_lag_ms_max;
        let _ = max
            .inner()
            .fetch_max(worst, std::sync::atomic::Ordering::Relaxed);
    }

    /// Records one webhook attempt and what follows it.
    pub fn record_webhook(&self, next: &DeliveryNext) {
        self.webhook_attempts.inc();
        let outcome = match next {
            DeliveryNext::Delivered => {
                self.webhooks_delivered.inc();
                "delivered"
            }
            DeliveryNext::RetryAt(_) => "retry",
            DeliveryNext::Dead => {
                self.webhooks_dead.inc();
                "dead"
            }
        };
        self.webhook_deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// The latest queue counts.
    pub fn set_queue_depths(&self, depths: QueueDepths) {
        self.polls_due.set(depths.due_polls);
        self.webhooks_pending.set(depths.pending_webhooks);
    }

    /// Counts a job of `worker` (`poller`, `webhooks`) in flight until the guard is dropped
    /// (also when the job panics).
    pub fn job_started(&self, worker: &'static str) -> InFlight {
        let gauge = self.in_flight.get_or_create_owned(&WorkerLabels { worker });
        gauge.inc();
        InFlight(gauge)
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; the encoder only fails on a failed write.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// A job counted in `overture_worker_jobs_in_flight` until dropped.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn records_the_worst_lag_under_the_names_the_benchmarks_read() {
        let m = Metrics::new();
        m.record_poll_round([5, 120, 30].into_iter());
        m.record_poll_round([7].into_iter());
        let text = m.render();
        assert_eq!(value(&text, "overture_polls_total"), Some("4"));
        assert_eq!(value(&text, "overture_poll_lag_ms_last_round"), Some("7"));
        assert_eq!(value(&text, "overture_poll_lag_ms_max"), Some("120"));
        assert!(
            text.contains("# TYPE overture_polls_total counter\n"),
            "{text}"
        );
        assert_eq!(value(&text, "overture_poll_lag_seconds_count"), Some("4"));
        assert_eq!(
            value(&text, "overture_poll_lag_seconds_bucket{le=\"0.1\"}"),
            Some("3")
        );
    }

    #[test]
    fn labelled_series_carry_templates_and_outcomes() {
        let m = Metrics::new();
        let route = "/v1/api/mozarto/transactions/{id}";
        m.record_http("GET", route, 200, Duration::from_millis(30));
        m.record_http("GET", route, 200, Duration::from_millis(3));
        m.record_webhook(&DeliveryNext::RetryAt(1));
        m.record_webhook(&DeliveryNext::Delivered);
        let labels = PspLabels {
            psp: "PAYMENTSOFT".into(),
            operation: "create",
            outcome: "PSP_TIMEOUT",
        };
        m.record_psp(labels, Duration::from_secs(1));
        let text = m.render();
        let series = format!(
            "overture_http_requests_total{{method=\"GET\",route=\"{route}\",status=\"200\"}}"
        );
        assert_eq!(value(&text, &series), Some("2"), "{text}");
        let bucket = format!(
            "overture_http_request_duration_seconds_bucket{{method=\"GET\",route=\"{route}\",le=\"0.005\"}}"
        );
        assert_eq!(value(&text, &bucket), Some("1"), "{text}");
        assert_eq!(
            value(
                &text,
                "overture_webhook_deliveries_total{outcome=\"retry\"}"
            ),
            Some("1")
        );
        assert_eq!(value(&text, "overture_webhook_attempts_total"), Some("2"));
        assert_eq!(value(&text, "overture_webhooks_delivered_total"), Some("1"));
        let psp = "overture_psp_requests_total{psp=\"PAYMENTSOFT\",operation=\"create\",outcome=\"PSP_TIMEOUT\"}";
        assert_eq!(value(&text, psp), Some("1"), "{text}");
    }

    #[test]
    fn jobs_in_flight_go_back_down_when_done() {
        let m = Metrics::new();
        let series = "overture_worker_jobs_in_flight{worker=\"poller\"}";
        let job = m.job_started("poller");
        let other = m.job_started("poller");
        assert_eq!(value(&m.render(), series), Some("2"));
        drop(job);
        drop(other);
        assert_eq!(value(&m.render(), series), Some("0"));
        m.set_queue_depths(QueueDepths {
            due_polls: 3,
            pending_webhooks: 9,
        });
        assert_eq!(value(&m.render(), "overture_webhooks_pending"), Some("9"));
    }
}
