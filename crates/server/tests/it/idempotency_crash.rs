//! An `Idempotency-Key` never sticks at `IDEMPOTENCY_IN_PROGRESS`: `serve` is killed with
//! SIGKILL while the first request waits for the PSP (after the transaction and its key were
//! stored, before the response was), then restarted. A replay answers 409 only while the first
//! request could still be running; after that, the success envelope for the transaction as it
//! now stands — the same transaction, sent to the PSP once.

use crate::harness::FakeMp;
use crate::procs::{env, free_port, provision, sandbox_orders, spawn, Provisioned};
use serde_json::Value;
use std::time::{Duration, Instant};

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
) -> Option<(u16, Value, Option<String>)> {
    let body = r#"{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":25.00,"currency":"EUR","userId":"u1","email":"p@example.com"}"#;
    let resp = http
        .post(format!("{url}/v1/api/mozarto/cashier"))
        .bearer_auth(token)
        .header("x-user-authorization", "mp-session")
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Some((status, resp.json().await.ok()?, retry_after))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_answers_the_transaction_after_a_crash_during_the_psp_call() {
    let e = env();
    let mp = FakeMp::start().await;
    let log = e.dir.join("logs.txt");
    // The PSP takes 1.5 s to answer: the order exists there while Overture still waits.
    let sandbox_env = vec![("OVERTURE_SANDBOX_RESPONSE_DELAY", "1500ms".to_owned())];
    let Provisioned {
        sandbox: _sandbox,
        sandbox_url,
        token,
        ..
    } = provision(&e.db, &mp.url, &sandbox_env, &log);
    let port = free_port();
    let mut serve_env = e.db.clone();
    serve_env.extend([
        ("OVERTURE_LISTEN", format!("127.0.0.1:{port}")),
        // The first request can run for at most 2 × 2 s after it stored the transaction.
        ("OVERTURE_PSP_TIMEOUT", "2s".to_owned()),
        ("OVERTURE_POLL_INTERVAL", "200ms".to_owned()),
        ("OVERTURE_WORKER_TICK", "50ms".to_owned()),
    ]);
    let (serve, url) = spawn(&["serve"], &serve_env, &log);
    let http = reqwest::Client::new();
    let started = Instant::now();
    let first = tokio::spawn({
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move { post(&http, &url, &token, "crash-key-1").await }
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    serve.kill9();
    assert!(
        first.await.unwrap().is_none(),
        "the first request got no answer"
    );

    let (_serve, url) = spawn(&["serve"], &serve_env, &log);
    let (status, body, retry_after) = post(&http, &url, &token, "crash-key-1").await.unwrap();
    if started.elapsed() < Duration::from_millis(3500) {
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["errorCode"], "IDEMPOTENCY_IN_PROGRESS");
        assert!(retry_after.is_some(), "409 carries Retry-After");
    }
    // Past the bound, the key answers the transaction as it stands, and keeps doing so.
    let deadline = Duration::from_millis(4200);
    if let Some(wait) = deadline.checked_sub(started.elapsed()) {
        tokio::time::sleep(wait).await;
    }
    let (status, body, _) = post(&http, &url, &token, "crash-key-1").await.unwrap();
    assert_eq!(
        status,
        200,
        "{body}\nlogs: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(body["isSuccess"], true);
    let id = body["data"]["transactionId"].as_str().unwrap().to_owned();
    assert!(
        matches!(
            body["data"]["status"].as_str(),
            Some("PENDING" | "APPROVED")
        ),
        "{body}"
    );
    let (status, again, _) = post(&http, &url, &token, "crash-key-1").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(again["data"]["transactionId"], id.as_str());

    // One order at the PSP for that transaction, executed at most once.
    let orders = sandbox_orders(&http, &sandbox_url, "paymentsoft").await;
    let ours: Vec<_> = orders
        .iter()
        .filter(|o| o["client_orderid"] == id.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{orders:?}");
    assert_eq!(orders.len(), 1, "no second order was created: {orders:?}");
}
