//! The server's `GET /metrics` (Prometheus text format), read before and after a run so a report
//! can say what the server did meanwhile (status polls, webhooks, transactions created).

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The name of the counter of status polls the server made.
pub const POLLS: &str = "overture_polls_total";

/// One scrape: every series' value, and which series are counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Series (`name` or `name{labels}`) → value.
    pub values: BTreeMap<String, f64>,
    /// Metric names declared `# TYPE <name> counter`.
    counters: Vec<String>,
    /// Metric names declared `# TYPE <name> histogram` (series `<name>_bucket`, `_sum`,
    /// `_count`).
    histograms: Vec<String>,
}

impl Snapshot {
    /// Parses the exposition text: `# TYPE name kind` lines, and `series value [timestamp]`
    /// lines; other comments, blank lines and values that are not numbers are skipped.
    pub fn parse(text: &str) -> Self {
        let mut snapshot = Self::default();
        for line in text.lines().map(str::trim) {
            if let Some(decl) = line.strip_prefix("# TYPE ") {
                let mut parts = decl.split_whitespace();
                match (parts.next(), parts.next()) {
                    (Some(name), Some("counter")) => snapshot.counters.push(name.to_owned()),
                    (Some(name), Some("histogram")) => snapshot.histograms.push(name.to_owned()),
                    _ => {}
                }
                continue;
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // Labels may contain spaces: the series ends at the closing brace when there is one.
            let (series, rest) = match line.find('{').and(line.rfind('}')) {
                Some(close) => line.split_at(close + 1),
                None => line.split_once(char::is_whitespace).unwrap_or((line, "")),
            };
            if let Some(value) = rest
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
            {
                snapshot.values.insert(series.to_owned(), value);
            }
        }
        snapshot
    }

    /// Whether `series` counts up: a declared counter, a histogram's `_sum` or `_count`, or
    /// (no declaration) named `…_total`.
    fn is_counter(&self, series: &str) -> bool {
        let name = series.split('{').next().unwrap_or(series);
        self.counters.iter().any(|c| c == name)
            || matches!(self.histogram_part(name), Some("_sum" | "_count"))
            || (self.counters.is_empty() && name.ends_with("_total"))
    }

    /// `_bucket`, `_sum` or `_count` when `name` is a series of a declared histogram.
    fn histogram_part<'n>(&self, name: &'n str) -> Option<&'n str> {
        self.histograms.iter().find_map(|h| {
            let part = name.strip_prefix(h.as_str())?;
            matches!(part, "_bucket" | "_sum" | "_count").then_some(part)
        })
    }

    /// `after − self` for every counter (and histogram count and sum) present in both
    /// scrapes, as a JSON object (`{"overture_polls_total": 1234, …}`); integers stay
    /// integers. Histogram buckets are left out.
    pub fn counter_deltas(&self, after: &Snapshot) -> Value {
        let mut out = Map::new();
        for (series, value) in &after.values {
            if !after.is_counter(series) {
                continue;
            }
            if let Some(before) = self.values.get(series) {
                out.insert(series.clone(), number(value - before));
            }
        }
        Value::Object(out)
    }

    /// The series that are neither counters nor histograms (gauges such as the worst poll
    /// lag), as JSON.
    pub fn gauges(&self) -> Value {
        let out: Map<String, Value> = self
            .values
            .iter()
            .filter(|(series, _)| !self.is_counter(series))
            .filter(|(series, _)| {
                let name = series.split('{').next().unwrap_or(series);
                self.histogram_part(name).is_none()
            })
            .map(|(series, value)| (series.clone(), number(*value)))
            .collect();
        Value::Object(out)
    }
}

/// An integral value as a JSON integer, anything else as a float.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// Scrapes `<url>/metrics`; `None` when the server does not answer 2xx.
pub async fn scrape(http: &reqwest::Client, url: &str) -> Option<Snapshot> {
    let resp = http
        .get(format!("{}/metrics", url.trim_end_matches('/')))
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    Some(Snapshot::parse(&resp.text().await.ok()?))
}

/// Adds the server's activity between two scrapes to a report: `pollsDuringRun` (the delta of
/// `overture_polls_total`), `metricsDelta` (every counter's delta) and `metricsAfter` (the
/// gauges at the end). Null when a scrape failed.
pub fn annotate(report: &mut Value, before: Option<&Snapshot>, after: Option<&Snapshot>) {
    let deltas = before
        .zip(after)
        .map(|(b, a)| b.counter_deltas(a))
        .unwrap_or(Value::Null);
    report["pollsDuringRun"] = deltas.get(POLLS).cloned().unwrap_or(Value::Null);
    report["metricsDelta"] = deltas;
    report["metricsAfter"] = after.map(Snapshot::gauges).unwrap_or(Value::Null);
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "# TYPE overture_polls_total counter\noverture_polls_total 10\n\
        # TYPE overture_poll_lag_ms_max gauge\noverture_poll_lag_ms_max 40\n\
        # TYPE overture_webhooks_delivered_total counter\noverture_webhooks_delivered_total 3\n";
    const AFTER: &str = "# TYPE overture_polls_total counter\noverture_polls_total 1244\n\
        # TYPE overture_poll_lag_ms_max gauge\noverture_poll_lag_ms_max 900\n\
        # TYPE overture_webhooks_delivered_total counter\noverture_webhooks_delivered_total 3\n\
        # TYPE overture_new_total counter\noverture_new_total 5\n";

    #[test]
    fn counters_give_deltas_and_gauges_their_last_value() {
        let (b, a) = (Snapshot::parse(BEFORE), Snapshot::parse(AFTER));
        assert_eq!(
            b.counter_deltas(&a),
            json!({"overture_polls_total": 1234, "overture_webhooks_delivered_total": 0})
        );
        assert_eq!(a.gauges(), json!({"overture_poll_lag_ms_max": 900}));
    }

    #[test]
    fn labels_timestamps_and_undeclared_totals() {
        let s = Snapshot::parse(
            "http_requests_total{path=\"/a b\",code=\"200\"} 7 1700000000\nup 1\nbad_total x\n",
        );
        assert_eq!(
            s.values
                .get("http_requests_total{path=\"/a b\",code=\"200\"}"),
            Some(&7.0)
        );
        assert!(!s.values.contains_key("bad_total"));
        let later = Snapshot::parse("http_requests_total{path=\"/a b\",code=\"200\"} 9.5\nup 1\n");
        assert_eq!(
            s.counter_deltas(&later),
            json!({"http_requests_total{path=\"/a b\",code=\"200\"}": 2.5})
        );
    }

    #[test]
    fn histograms_give_count_and_sum_deltas_and_no_buckets() {
        let text = |n: u64, sum: f64| {
            format!(
                "# TYPE lat_seconds histogram\nlat_seconds_bucket{{route=\"/a\",le=\"0.1\"}} {n}\n\
                 lat_seconds_sum{{route=\"/a\"}} {sum}\nlat_seconds_count{{route=\"/a\"}} {n}\n\
                 # TYPE depth gauge\ndepth 4\n"
            )
        };
        let (b, a) = (
            Snapshot::parse(&text(2, 0.5)),
            Snapshot::parse(&text(5, 1.5)),
        );
        assert_eq!(
            b.counter_deltas(&a),
            json!({"lat_seconds_count{route=\"/a\"}": 3, "lat_seconds_sum{route=\"/a\"}": 1})
        );
        assert_eq!(a.gauges(), json!({"depth": 4}));
    }

    #[test]
    fn annotate_reports_polls_and_null_without_a_scrape() {
        let (b, a) = (Snapshot::parse(BEFORE), Snapshot::parse(AFTER));
        let mut report = json!({});
        annotate(&mut report, Some(&b), Some(&a));
        assert_eq!(report["pollsDuringRun"], json!(1234));
        assert_eq!(
            report["metricsAfter"]["overture_poll_lag_ms_max"],
            json!(900)
        );
        let mut missing = json!({});
        annotate(&mut missing, None, Some(&a));
        assert_eq!(missing["pollsDuringRun"], Value::Null);
        assert_eq!(missing["metricsDelta"], Value::Null);
    }
}
