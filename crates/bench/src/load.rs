//! The load generators. Latency is measured from the moment a request was *scheduled* (fixed
//! rate) or sent (closed loop), so a slow server cannot hide its queueing (no coordinated
//! omission at a fixed rate).

use crate::backlog::create_many;
use crate::client::{payin_body, payout_body, Client};
use crate::metrics;
use crate::recorder::{ms, Recorder};
use crate::rss::Sampler;
use crate::sink::Sink;
use crate::{Load, Target};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Results of one run.
pub struct Outcome {
    pub recorded: Recorder,
    /// The measured period (the warm-up excluded).
    pub elapsed: Duration,
}

impl Outcome {
    /// Successful requests measured.
    pub fn ok(&self) -> u64 {
        self.recorded.latency_us.len()
    }

    /// Server CPU ms per request when `cpu_ms` was used around the whole run: the measured
    /// request count is scaled up to the warm-up as well (an approximation).
    pub fn cpu_ms_per_request(&self, load: &Load, cpu_ms: u64) -> f64 {
        let secs = self.elapsed.as_secs_f64().max(0.001);
        let requests = self.ok() as f64 * (load.warmup.as_secs_f64() + secs) / secs;
        (cpu_ms as f64 / requests.max(1.0) * 100.0).round() / 100.0
    }
}

/// Runs `request` under `load`, recording latency after the warm-up. `request(i)` makes the
/// run's request number `i` (0, 1, 2… in scheduling order) and returns its kind (an index
/// below `kinds`) and result; latency is also kept per `window` of the measured period.
pub async fn drive<F, Fut>(load: &Load, kinds: usize, window: Duration, request: F) -> Outcome
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (usize, Result<(), String>)> + Send,
{
    let request = Arc::new(request);
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.duration;
    let recorder = Arc::new(Mutex::new(Recorder::new(
        measure_from,
        load.duration,
        window,
        kinds,
    )));
    let record = {
        let recorder = recorder.clone();
        move |scheduled: Instant, (kind, result): (usize, Result<(), String>)| {
            let done = Instant::now();
            if let Ok(mut r) = recorder.lock() {
                r.record(kind, scheduled, done, result);
            }
        }
    };
    let record = Arc::new(record);
    match load.rate {
        None => {
            let next = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for _ in 0..load.concurrency {
                let (request, record, next) = (request.clone(), record.clone(), next.clone());
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < end {
                        let sent = Instant::now();
                        let result = request(next.fetch_add(1, Ordering::Relaxed)).await;
                        record(sent, result);
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        }
        Some(rate) => {
            // Open loop: one request every 1/rate s, whatever the server does.
            let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
            let permits = Arc::new(tokio::sync::Semaphore::new(load.concurrency.max(1) * 64));
            let mut next = Instant::now();
            let mut index = 0u64;
            let mut tasks = tokio::task::JoinSet::new();
            while next < end {
                tokio::time::sleep_until(next.into()).await;
                let scheduled = next;
                next += interval;
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let (request, record) = (request.clone(), record.clone());
                let i = index;
                index += 1;
                tasks.spawn(async move {
                    let result = request(i).await;
                    record(scheduled, result);
                    drop(permit);
                });
            }
            while tasks.join_next().await.is_some() {}
        }
    }
    let recorded = recorder
        .lock()
        .map(|r| r.clone())
        .unwrap_or_else(|_| Recorder::new(measure_from, load.duration, window, kinds));
    Outcome {
        recorded,
        elapsed: end.saturating_duration_since(measure_from),
    }
}

/// The summary every load report starts with.
pub fn report(title: &str, load: &Load, o: &Outcome, rss: &Sampler) -> Value {
    let secs = o.elapsed.as_secs_f64();
    json!({
        "benchmark": title,
        "mode": match load.rate { Some(r) => format!("fixed rate {r}/s"), None => format!("closed loop, {} clients", load.concurrency) },
        "durationSecs": secs,
        "ok": o.ok(),
        "errors": o.recorded.errors,
        "firstError": o.recorded.first_error,
        "throughputPerSec": (o.ok() as f64 / secs * 10.0).round() / 10.0,
        "latencyMs": o.recorded.percentiles_ms(),
        "serverPeakRssMiB": (rss.peak_mib() * 10.0).round() / 10.0,
    })
}

/// `overture-bench payins`: the report, plus the server's CPU per pay-in (with `--pid`) and
/// what its workers did meanwhile (`pollsDuringRun`, `metricsDelta`: see [`metrics::annotate`]).
pub async fn payins(target: &Target, load: &Load, psp: &str) -> anyhow::Result<Value> {
    let client = Client::new(target)?;
    let body = payin_body(psp);
    let rss = Sampler::start(target.pid);
    let before = metrics::scrape(&client.http, &client.url).await;
    let cpu_before = target.pid.and_then(crate::rss::cpu_ms);
    let outcome = drive(load, 1, load.duration, {
        let client = client.clone();
        move |_| {
            let (client, body) = (client.clone(), body.clone());
            async move { (0, client.cashier(&body).await.map(|_| ())) }
        }
    })
    .await;
    let cpu = cpu_before
        .zip(target.pid.and_then(crate::rss::cpu_ms))
        .map(|(a, b)| b - a);
    let after = metrics::scrape(&client.http, &client.url).await;
    let mut summary = report("pay-in creation", load, &outcome, &rss);
    if let Some(cpu) = cpu {
        // Includes the warm-up requests: CPU is read around the whole run.
        summary["serverCpuMsPerPayin (approx.)"] = json!(outcome.cpu_ms_per_request(load, cpu));
        summary["serverCpuMs"] = json!(cpu);
    }
    metrics::annotate(&mut summary, before.as_ref(), after.as_ref());
    Ok(summary)
}

/// `overture-bench payouts`: every approved payout's webhook must reach the sink.
pub async fn payouts(
    target: &Target,
    load: &Load,
    sink_addr: std::net::SocketAddr,
    drain: Duration,
) -> anyhow::Result<Value> {
    let sink = Sink::start(sink_addr).await?;
    let client = Client::new(target)?;
    let created: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let rss = Sampler::start(target.pid);
    let cpu_before = target.pid.and_then(crate::rss::cpu_ms);
    let started = Instant::now();
    let outcome = drive(load, 1, load.duration, {
        let created = created.clone();
        move |_| {
            let (client, created) = (client.clone(), created.clone());
            async move {
                let sent = Instant::now();
                let result = client.cashier(&payout_body("10.00")).await.map(|id| {
                    if let Ok(mut c) = created.lock() {
                        c.push((id, sent));
                    }
                });
                (0, result)
            }
        }
    })
    .await;
    let total = created.lock().map(|c| c.len()).unwrap_or(0);
    let deadline = Instant::now() + drain;
    while sink.count() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut summary = report("payout creation", load, &outcome, &rss);
    let arrivals = sink.arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    let mut lag = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut last = started;
    let mut missing = 0;
    for (id, sent) in created.lock().map(|c| c.clone()).unwrap_or_default() {
        match arrivals.get(&id) {
            Some(at) => {
                let _ = lag.record(at.saturating_duration_since(sent).as_micros().max(1) as u64);
                last = last.max(*at);
            }
            None => missing += 1,
        }
    }
    let span = last
        .saturating_duration_since(started)
        .as_secs_f64()
        .max(0.001);
    summary = json!({
        "benchmark": "payout pipeline (create → PSP → callback → webhook at the sink)",
        "payoutsCreated": total,
        "webhooksReceived": total - missing,
        "missing": missing,
        "endToEndPayoutsPerSec": ((total - missing) as f64 / span * 10.0).round() / 10.0,
        "webhookLagMs (create → webhook)": { "p50": ms(lag.value_at_quantile(0.5)), "p90": ms(lag.value_at_quantile(0.9)),
                                             "p99": ms(lag.value_at_quantile(0.99)), "max": ms(lag.max()) },
        "creation": summary,
        "serverCpuMsPerPayout (approx.)": cpu_before
            .zip(target.pid.and_then(crate::rss::cpu_ms))
            .map(|(a, b)| ((b - a) as f64 / total.max(1) as f64 * 100.0).round() / 100.0),
    });
    Ok(summary)
}

/// `overture-bench pending`: payouts that stay processing (.53), then memory and polling.
pub async fn pending(
    target: &Target,
    count: usize,
    concurrency: usize,
    watch: Duration,
    sink_addr: std::net::SocketAddr,
) -> anyhow::Result<Value> {
    let _sink = Sink::start(sink_addr).await?;
    let client = Client::new(target)?;
    let rss = Sampler::start(target.pid);
    let started = Instant::now();
    let created = create_many(&client, count, concurrency, &payout_body("10.53")).await;
    println!(
        "{}",
        json!({ "created": created.created, "errors": created.errors, "firstError": created.first_error,
                "secs": created.elapsed.as_secs_f64(), "rssMiB": rss.last_mib() })
    );
    let watch_start = Instant::now();
    while watch_start.elapsed() < watch {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let metrics = client
            .http
            .get(format!("{}/metrics", client.url))
            .send()
            .await;
        let text = match metrics {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let pick = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("?")
                .to_owned()
        };
        println!(
            "{}",
            json!({ "t": watch_start.elapsed().as_secs(), "rssMiB": rss.last_mib(), "peakRssMiB": rss.peak_mib(),
                    "polls": pick("overture_polls_total"), "pollLagMsMax": pick("overture_poll_lag_ms_max"),
                    "pollLagMsLastRound": pick("overture_poll_lag_ms_last_round") })
        );
    }
    let orders: Vec<Value> = client
        .http
        .get(format!("{}/sandbox/paymentsoft/_orders", client.url))
        .send()
        .await?
        .json()
        .await?;
    let queries: Vec<u64> = orders
        .iter()
        .filter(|o| o["amount"] == "10.53")
        .filter_map(|o| o["status_queries"].as_u64())
        .collect();
    let max = queries.iter().max().copied().unwrap_or(0);
    let total_secs = started.elapsed().as_secs_f64();
    Ok(
        json!({ "benchmark": "pending payouts", "pending": queries.len(), "statusQueriesMaxPerOrder": max,
                "statusQueriesTotal": queries.iter().sum::<u64>(), "elapsedSecs": total_secs,
                "allowedPerOrderAt3sMinInterval": (total_secs / 3.0).ceil() as u64 + 1,
                "peakRssMiB": rss.peak_mib() }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    fn load(rate: Option<u64>, secs: f64) -> Load {
        Load {
            concurrency: 2,
            duration: Duration::from_secs_f64(secs),
            rate,
            warmup: Duration::ZERO,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn payins_report_the_polls_the_server_made_during_the_run() {
        // Polled every 100 ms: a backlog is polled while the run lasts.
        let server = testkit::start(&["--poll-interval", "100ms", "--worker-tick", "50ms"]).await;
        let backlog = crate::backlog::run(&server.target, 10, 2, "FORUMPAY").await;
        assert_eq!(backlog.unwrap()["created"], json!(10));
        let report = payins(&server.target, &load(None, 1.5), "FORUMPAY")
            .await
            .unwrap();
        assert_eq!(report["errors"], json!(0), "{report}");
        let polls = report["pollsDuringRun"].as_u64().expect("a poll count");
        assert!(polls > 0, "{report}");
        assert_eq!(report["metricsDelta"]["overture_polls_total"], json!(polls));
        // Without a warm-up every request is measured: the server created exactly those.
        assert_eq!(
            report["metricsDelta"]["overture_transactions_created_total"], report["ok"],
            "{report}"
        );
        assert!(report["serverCpuMsPerPayin (approx.)"].as_f64().is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn drive_numbers_requests_in_order_and_keeps_kinds_apart() {
        // 40/s for 0.5 s: requests 0..19, each scheduled 25 ms after the previous one.
        let seen: Arc<Mutex<Vec<u64>>> = Arc::default();
        let outcome = drive(&load(Some(40), 0.5), 2, Duration::from_millis(250), {
            let seen = seen.clone();
            move |i| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(i);
                    let result = if i % 4 == 3 {
                        Err(format!("e{i}"))
                    } else {
                        Ok(())
                    };
                    ((i % 2) as usize, result)
                }
            }
        })
        .await;
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..20).collect::<Vec<_>>());
        let r = &outcome.recorded;
        assert_eq!((r.errors, outcome.ok()), (5, 15));
        assert_eq!(r.kinds[0].latency_us.len(), 10);
        assert_eq!((r.kinds[1].latency_us.len(), r.kinds[1].errors), (5, 5));
        assert_eq!(r.windows.len(), 2);
        assert_eq!(r.windows[0].len() + r.windows[1].len(), 15);
    }
}
