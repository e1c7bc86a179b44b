//! The load generators. Latency is measured from the moment a request was *scheduled* (fixed
//! rate) or sent (closed loop), so a slow server cannot hide its queueing (no coordinated
//! omission at a fixed rate).

use crate::rss::Sampler;
use crate::sink::Sink;
use crate::{Load, Target};
use hdrhistogram::Histogram;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Signed headers reused for every request (a client signs its tokens once).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    company_jwt: String,
    user_jwt: String,
}

impl Client {
    pub fn new(target: &Target) -> anyhow::Result<Self> {
        let key = EncodingKey::from_secret(target.api_secret.as_bytes());
        let company_jwt = encode(
            &Header::default(),
            &json!({ "sub": target.company_id, "exp": now_secs() + 86_400 }),
            &key,
        )?;
        let user_jwt = encode(
            &Header::default(),
            &json!({ "userId": "bench-user", "email": "bench@example.com", "firstName": "B", "lastName": "M",
                     "phone": "4165550123", "countryCode": "DE", "exp": now_secs() + 86_400 }),
            &key,
        )?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()?;
        Ok(Self {
            http,
            url: target.url.trim_end_matches('/').to_owned(),
            company_jwt,
            user_jwt,
        })
    }

    /// POSTs one Cashier request; returns the transaction id on a 2xx.
    pub async fn cashier(&self, body: &Value) -> Result<String, String> {
        let resp = self
            .http
            .post(format!("{}/v1/api/mozarto/cashier", self.url))
            .bearer_auth(&self.company_jwt)
            .header("x-user-token", format!("Bearer {}", self.user_jwt))
            .json(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let v: Value = resp.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status} {}", v["errorCode"]));
        }
        v["data"]["transactionId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no transactionId".into())
    }
}

fn payin_body(psp: &str) -> Value {
    json!({"pspType": psp, "type": "PAYIN", "baseamount": 10.00, "currency": "EUR", "userId": "bench-user",
           "email": "bench@example.com", "country": "DE", "preferredCrypto": "BTC"})
}

fn payout_body(amount: &str) -> Value {
    let amount: Value = serde_json::from_str(amount).unwrap_or(json!(10.00));
    json!({"pspType": "PAYMENTSOFT", "type": "PAYOUT", "baseamount": amount, "currency": "EUR",
           "userId": "bench-user", "email": "bench@example.com", "country": "DE"})
}

/// Results of one run.
struct Outcome {
    latency_us: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
}

/// Runs `request` under `load`, recording latency after the warm-up.
async fn drive<F, Fut>(load: &Load, request: F) -> Outcome
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let request = Arc::new(request);
    let hist = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
    ));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.duration;
    let record = {
        let (hist, errors, first_error) = (hist.clone(), errors.clone(), first_error.clone());
        move |scheduled: Instant, result: Result<(), String>| {
            if scheduled < measure_from {
                return;
            }
            match result {
                Ok(()) => {
                    let us = scheduled.elapsed().as_micros() as u64;
                    if let Ok(mut h) = hist.lock() {
                        let _ = h.record(us.max(1));
                    }
                }
                Err(e) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut f) = first_error.lock() {
                        f.get_or_insert(e);
                    }
                }
            }
        }
    };
    let record = Arc::new(record);
    match load.rate {
        None => {
            let mut tasks = Vec::new();
            for _ in 0..load.concurrency {
                let (request, record) = (request.clone(), record.clone());
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < end {
                        let sent = Instant::now();
                        let result = request().await;
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
            let mut tasks = tokio::task::JoinSet::new();
            while next < end {
                tokio::time::sleep_until(next.into()).await;
                let scheduled = next;
                next += interval;
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let (request, record) = (request.clone(), record.clone());
                tasks.spawn(async move {
                    let result = request().await;
                    record(scheduled, result);
                    drop(permit);
                });
            }
            while tasks.join_next().await.is_some() {}
        }
    }
    let latency_us = hist
        .lock()
        .map(|h| h.clone())
        .unwrap_or_else(|_| Histogram::new(3).expect("histogram"));
    let first_error = first_error.lock().ok().and_then(|f| f.clone());
    Outcome {
        latency_us,
        errors: errors.load(Ordering::Relaxed),
        first_error,
        elapsed: end.saturating_duration_since(measure_from),
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn report(title: &str, load: &Load, o: &Outcome, rss: &Sampler) -> Value {
    let h = &o.latency_us;
    let ok = h.len();
    let secs = o.elapsed.as_secs_f64();
    let summary = json!({
        "benchmark": title,
        "mode": match load.rate { Some(r) => format!("fixed rate {r}/s"), None => format!("closed loop, {} clients", load.concurrency) },
        "durationSecs": secs,
        "ok": ok,
        "errors": o.errors,
        "firstError": o.first_error,
        "throughputPerSec": (ok as f64 / secs * 10.0).round() / 10.0,
        "latencyMs": { "p50": ms(h.value_at_quantile(0.50)), "p90": ms(h.value_at_quantile(0.90)),
                        "p99": ms(h.value_at_quantile(0.99)), "max": ms(h.max()) },
        "serverPeakRssMiB": (rss.peak_mib() * 10.0).round() / 10.0,
    });
    summary
}

/// `overture-bench payins`.
pub async fn payins(target: &Target, load: &Load, psp: &str) -> anyhow::Result<()> {
    let client = Client::new(target)?;
    let body = payin_body(psp);
    let rss = Sampler::start(target.pid);
    let cpu_before = target.pid.and_then(crate::rss::cpu_ms);
    let outcome = drive(load, move || {
        let (client, body) = (client.clone(), body.clone());
        async move { client.cashier(&body).await.map(|_| ()) }
    })
    .await;
    let cpu = cpu_before
        .zip(target.pid.and_then(crate::rss::cpu_ms))
        .map(|(a, b)| b - a);
    let mut summary = report("pay-in creation", load, &outcome, &rss);
    if let Some(cpu) = cpu {
        // Includes the warm-up requests: CPU is read around the whole run.
        let requests = outcome.latency_us.len() as f64
            * (load.warmup + outcome.elapsed).as_secs_f64()
            / outcome.elapsed.as_secs_f64();
        summary["serverCpuMsPerPayin (approx.)"] =
            json!((cpu as f64 / requests.max(1.0) * 100.0).round() / 100.0);
        summary["serverCpuMs"] = json!(cpu);
    }
    println!("{summary}");
    Ok(())
}

/// `overture-bench payouts`: every approved payout's webhook must reach the sink.
pub async fn payouts(
    target: &Target,
    load: &Load,
    sink_addr: std::net::SocketAddr,
    drain: Duration,
) -> anyhow::Result<()> {
    let sink = Sink::start(sink_addr).await?;
    let client = Client::new(target)?;
    let created: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let rss = Sampler::start(target.pid);
    let cpu_before = target.pid.and_then(crate::rss::cpu_ms);
    let started = Instant::now();
    let outcome = drive(load, {
        let created = created.clone();
        move || {
            let (client, created) = (client.clone(), created.clone());
            async move {
                let sent = Instant::now();
                let id = client.cashier(&payout_body("10.00")).await?;
                if let Ok(mut c) = created.lock() {
                    c.push((id, sent));
                }
                Ok(())
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
    println!("{summary}");
    Ok(())
}

/// `overture-bench pending`: payouts that stay processing (.53), then memory and polling.
pub async fn pending(
    target: &Target,
    count: usize,
    concurrency: usize,
    watch: Duration,
    sink_addr: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let _sink = Sink::start(sink_addr).await?;
    let client = Client::new(target)?;
    let rss = Sampler::start(target.pid);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let started = Instant::now();
    for _ in 0..concurrency {
        let (client, next) = (client.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut errors = 0u64;
            while (next.fetch_add(1, Ordering::Relaxed) as usize) < count {
                if client.cashier(&payout_body("10.53")).await.is_err() {
                    errors += 1;
                }
            }
            errors
        }));
    }
    let mut errors = 0;
    for t in tasks {
        errors += t.await.unwrap_or(0);
    }
    let created_in = started.elapsed();
    println!(
        "{}",
        json!({ "created": count, "errors": errors, "secs": created_in.as_secs_f64(), "rssMiB": rss.last_mib() })
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
    println!(
        "{}",
        json!({ "benchmark": "pending payouts", "pending": queries.len(), "statusQueriesMaxPerOrder": max,
                "statusQueriesTotal": queries.iter().sum::<u64>(), "elapsedSecs": total_secs,
                "allowedPerOrderAt3sMinInterval": (total_secs / 3.0).ceil() as u64 + 1,
                "peakRssMiB": rss.peak_mib() })
    );
    Ok(())
}
