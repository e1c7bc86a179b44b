//! `overture-bench backlog`: N pay-ins created as fast as the server takes them and left unpaid,
//! the backlog of pending, polled pay-ins that real traffic builds up (most customers leave the
//! hosted page).

use crate::client::{payin_body, Client};
use crate::Target;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What [`create_many`] did.
#[derive(Debug)]
pub struct Created {
    /// Requests answered 2xx with a transaction id.
    pub created: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

/// Sends `body` to the Cashier API `count` times from `concurrency` clients, each sending its
/// next request as soon as the previous one is answered (closed loop).
pub async fn create_many(
    client: &Client,
    count: usize,
    concurrency: usize,
    body: &Value,
) -> Created {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (client, next, body) = (client.clone(), next.clone(), body.clone());
        tasks.spawn(async move {
            let (mut created, mut errors, mut first_error) = (0u64, 0u64, None::<String>);
            while (next.fetch_add(1, Ordering::Relaxed) as usize) < count {
                match client.cashier(&body).await {
                    Ok(_) => created += 1,
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (created, errors, first_error)
        });
    }
    let mut total = Created {
        created: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((created, errors, first_error)) => {
                total.created += created;
                total.errors += errors;
                if let Some(e) = first_error {
                    total.first_error.get_or_insert(e);
                }
            }
            Err(panicked) => {
                total.first_error.get_or_insert(panicked.to_string());
            }
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// Creates `count` pay-ins at `psp` (FORUMPAY: they stay pending until the hosted page is
/// used). Returns `{"benchmark":"backlog","created","errors","firstError","elapsedSecs",
/// "ratePerSec"}` (rate = created pay-ins per second).
pub async fn run(
    target: &Target,
    count: usize,
    concurrency: usize,
    psp: &str,
) -> anyhow::Result<Value> {
    let client = Client::new(target)?;
    let done = create_many(&client, count, concurrency, &payin_body(psp)).await;
    let secs = done.elapsed.as_secs_f64().max(0.001);
    Ok(json!({
        "benchmark": "backlog",
        "pspType": psp,
        "concurrency": concurrency,
        "created": done.created,
        "errors": done.errors,
        "firstError": done.first_error,
        "elapsedSecs": (secs * 100.0).round() / 100.0,
        "ratePerSec": (done.created as f64 / secs * 10.0).round() / 10.0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics;
    use crate::testkit;
    use overture_core::store::TxnFilter;
    use overture_core::{CompanyId, TxnState};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn creates_exactly_count_pending_payins() {
        let server = testkit::start(&[]).await;
        let http = reqwest::Client::new();
        let before = metrics::scrape(&http, &server.target.url).await.unwrap();
        let report = run(&server.target, 25, 4, "FORUMPAY").await.unwrap();
        assert_eq!(report["created"], json!(25), "{report}");
        assert_eq!(report["errors"], json!(0), "{report}");
        assert!(report["ratePerSec"].as_f64().unwrap() > 0.0, "{report}");
        let after = metrics::scrape(&http, &server.target.url).await.unwrap();
        let delta = before.counter_deltas(&after);
        assert_eq!(delta["overture_transactions_created_total"], json!(25));
        // Left unpaid: every one is still pending at the server.
        let filter = TxnFilter {
            company_id: CompanyId::parse(&server.target.company_id),
            state: Some(TxnState::Pending),
            limit: 1000,
        };
        let pending = server.running.app.store.list_transactions(&filter).await;
        assert_eq!(pending.unwrap().len(), 25);
    }
}
