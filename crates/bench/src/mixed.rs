//! `overture-bench mixed`: a fixed-rate mix of what a merchant's traffic looks like — pay-in
//! creations, payouts and status reads — with the latency tail per window, so a server that
//! slows down as its backlog grows shows it within the run.

use crate::client::{payin_body, payout_body, Client};
use crate::load::{drive, report};
use crate::metrics;
use crate::rss::Sampler;
use crate::sink::Sink;
use crate::{Load, Target};
use anyhow::bail;
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one request of the mix does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `POST /v1/api/mozarto/cashier`, a FORUMPAY pay-in of 10.00 EUR (stays pending).
    Payin,
    /// `POST /v1/api/mozarto/cashier`, a PAYMENTSOFT payout of 10.00 EUR (verify-user and the
    /// final webhook go to the sink MP).
    Payout,
    /// `GET /v1/api/mozarto/transactions/{id}` of a transaction created shortly before.
    Status,
}

impl Kind {
    /// Every kind, in report order (their index is [`Kind::index`]).
    pub const ALL: [Kind; 3] = [Kind::Payin, Kind::Payout, Kind::Status];

    /// The kind of request number `i`, by `i` modulo 10: 0–6 pay-in (70%), 7–8 payout (20%),
    /// 9 status read (10%). Deterministic, so two runs at one rate send the same sequence.
    pub fn of(i: u64) -> Kind {
        match i % 10 {
            0..=6 => Kind::Payin,
            7 | 8 => Kind::Payout,
            _ => Kind::Status,
        }
    }

    /// Position in [`Kind::ALL`].
    pub fn index(self) -> usize {
        match self {
            Kind::Payin => 0,
            Kind::Payout => 1,
            Kind::Status => 2,
        }
    }

    /// The key in the report's `byKind`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Payin => "payin",
            Kind::Payout => "payout",
            Kind::Status => "status",
        }
    }
}

/// The ids of the last transactions this run created, for the status reads.
#[derive(Clone, Default)]
struct Recent(Arc<Mutex<VecDeque<String>>>);

impl Recent {
    const KEEP: usize = 256;

    fn push(&self, id: String) {
        if let Ok(mut ids) = self.0.lock() {
            if ids.len() == Self::KEEP {
                ids.pop_front();
            }
            ids.push_back(id);
        }
    }

    /// One of the recent ids, chosen by `i` so reads spread over them.
    fn pick(&self, i: u64) -> Option<String> {
        let ids = self.0.lock().ok()?;
        let len = ids.len() as u64;
        (len > 0).then(|| ids[(len - 1 - (i / 10) % len) as usize].clone())
    }
}

/// Sends request number `i` of the mix; returns its kind's index and the result.
async fn one(client: &Client, recent: &Recent, i: u64) -> (usize, Result<(), String>) {
    let kind = Kind::of(i);
    let result = match kind {
        Kind::Payin => client
            .cashier(&payin_body("FORUMPAY"))
            .await
            .map(|id| recent.push(id)),
        Kind::Payout => client
            .cashier(&payout_body("10.00"))
            .await
            .map(|id| recent.push(id)),
        Kind::Status => match recent.pick(i) {
            Some(id) => client.status(&id).await,
            None => Err("no transaction to read yet".to_owned()),
        },
    };
    (kind.index(), result)
}

/// `overture-bench mixed`: serves the sink MP on `sink_addr`, then runs [`measure`]; adds
/// `sink` (its address) and `webhooksAtSink` (final payout webhooks received by the end of the
/// run).
pub async fn run(
    target: &Target,
    load: &Load,
    window: Duration,
    sink_addr: std::net::SocketAddr,
) -> anyhow::Result<Value> {
    let sink = Sink::start(sink_addr).await?;
    let mut report = measure(target, load, window).await?;
    report["sink"] = json!(sink.addr.to_string());
    report["webhooksAtSink"] = json!(sink.count());
    Ok(report)
}

/// Runs the mix at `load.rate` (required: open loop, latency from each request's scheduled
/// start) and reports the usual summary plus `byKind` (`{"payin": {"ok","errors","p99Ms"}, …}`),
/// `p99ByWindowMs` (one p99 per `window` of the measured period; null when a window had no
/// successful request), the server's CPU per request (with `--pid`) and its `/metrics` deltas.
pub async fn measure(target: &Target, load: &Load, window: Duration) -> anyhow::Result<Value> {
    let Some(rate) = load.rate else {
        bail!("mixed needs --rate (requests per second): it is a fixed-rate run");
    };
    let client = Client::new(target)?;
    let recent = Recent::default();
    // One transaction to read before the first pay-in of the run is answered.
    match client.cashier(&payin_body("FORUMPAY")).await {
        Ok(id) => recent.push(id),
        Err(e) => bail!("the first pay-in failed: {e}"),
    }
    let rss = Sampler::start(target.pid);
    let before = metrics::scrape(&client.http, &client.url).await;
    let cpu_before = target.pid.and_then(crate::rss::cpu_ms);
    let outcome = drive(load, Kind::ALL.len(), window, {
        let client = client.clone();
        move |i| {
            let (client, recent) = (client.clone(), recent.clone());
            async move { one(&client, &recent, i).await }
        }
    })
    .await;
    let cpu = cpu_before
        .zip(target.pid.and_then(crate::rss::cpu_ms))
        .map(|(a, b)| b - a);
    let after = metrics::scrape(&client.http, &client.url).await;
    let title = "mixed: 70% FORUMPAY pay-ins, 20% PAYMENTSOFT payouts, 10% status reads";
    let mut summary = report(title, load, &outcome, &rss);
    let by_kind: Map<String, Value> = Kind::ALL
        .iter()
        .map(|kind| {
            let stats = &outcome.recorded.kinds[kind.index()];
            let h = &stats.latency_us;
            let p99 = (!h.is_empty()).then(|| crate::recorder::ms(h.value_at_quantile(0.99)));
            let entry = json!({ "ok": h.len(), "errors": stats.errors, "p99Ms": p99 });
            (kind.name().to_owned(), entry)
        })
        .collect();
    summary["rate"] = json!(rate);
    summary["byKind"] = Value::Object(by_kind);
    summary["windowSecs"] = json!(outcome.recorded.window().as_secs_f64());
    summary["p99ByWindowMs"] = json!(outcome.recorded.p99_by_window_ms());
    if let Some(cpu) = cpu {
        // Includes the warm-up requests and the workers' polls and webhooks meanwhile.
        summary["serverCpuMsPerRequest (approx.)"] = json!(outcome.cpu_ms_per_request(load, cpu));
        summary["serverCpuMs"] = json!(cpu);
    }
    metrics::annotate(&mut summary, before.as_ref(), after.as_ref());
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_70_20_10_and_the_same_every_run() {
        let mut counts = [0usize; 3];
        for i in 0..1000 {
            counts[Kind::of(i).index()] += 1;
        }
        assert_eq!(counts, [700, 200, 100]);
        let first: Vec<Kind> = (0..20).map(Kind::of).collect();
        assert_eq!(first, (0..20).map(Kind::of).collect::<Vec<_>>());
        assert_eq!(Kind::of(9), Kind::Status);
        assert_eq!(Kind::of(17), Kind::Payout);
        for kind in Kind::ALL {
            assert_eq!(Kind::ALL[kind.index()], kind);
        }
    }

    #[test]
    fn recent_keeps_the_last_ids_and_spreads_reads() {
        let recent = Recent::default();
        assert_eq!(recent.pick(9), None);
        for n in 0..300 {
            recent.push(format!("txn_{n}"));
        }
        assert_eq!(recent.pick(9).as_deref(), Some("txn_299"));
        assert_eq!(recent.pick(19).as_deref(), Some("txn_298"));
        // Only the last 256 are kept: the oldest readable is txn_44.
        assert_eq!(recent.pick(255 * 10 + 9).as_deref(), Some("txn_44"));
        assert_eq!(recent.pick(256 * 10 + 9).as_deref(), Some("txn_299"));
    }
}

#[cfg(test)]
mod server_tests {
    use super::*;
    use crate::testkit;

    fn load(rate: Option<u64>) -> Load {
        Load {
            concurrency: 8,
            duration: Duration::from_secs(2),
            rate,
            warmup: Duration::ZERO,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_mix_reaches_the_server_as_scheduled() {
        let server = testkit::start(&[]).await;
        // 40/s for 2 s: requests 0..79, whatever the server's speed.
        let report = measure(&server.target, &load(Some(40)), Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(report["errors"], json!(0), "{report}");
        assert_eq!(report["byKind"]["payin"]["ok"], json!(56), "{report}");
        // Accepted payouts: verify-user at the sink MP allowed them.
        assert_eq!(report["byKind"]["payout"]["ok"], json!(16), "{report}");
        assert_eq!(report["byKind"]["status"]["ok"], json!(8), "{report}");
        let windows = report["p99ByWindowMs"].as_array().unwrap();
        assert_eq!(windows.len(), 2, "{report}");
        assert!(windows.iter().all(Value::is_f64), "{report}");
        // The first pay-in (the one to read) was made before the counters were read.
        assert_eq!(
            report["metricsDelta"]["overture_transactions_created_total"],
            json!(72),
            "{report}"
        );
        assert!(report["serverCpuMsPerRequest (approx.)"].as_f64().is_some());
        // The payouts are real: each one's final webhook reaches the sink MP.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while server.sink.count() < 16 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(server.sink.count(), 16);
    }

    #[tokio::test]
    async fn a_closed_loop_mix_is_refused() {
        let target = Target {
            url: "http://127.0.0.1:9".into(),
            company_id: "cmp_x".into(),
            api_secret: "s".into(),
            pid: None,
        };
        let err = measure(&target, &load(None), Duration::from_secs(1)).await;
        assert!(err.unwrap_err().to_string().contains("--rate"));
    }
}
