//! The poller works within its budget: with many orders due at once it makes at most
//! `OVERTURE_POLL_RATE` status queries per second, and the rest wait their turn.

use crate::harness::*;
use std::time::Duration;

/// `overture_polls_total` from `/metrics`.
async fn polls(app: &TestApp) -> u64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("overture_polls_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn status_queries_stay_within_the_rate_budget() {
    let app = TestApp::with(Options {
        extra_args: vec![
            "--poll-interval".into(),
            "50ms".into(),
            "--poll-rate".into(),
            "10".into(),
        ],
        ..Options::default()
    })
    .await;
    // 20 pay-ins waiting for their customers: unbudgeted, that is ~400 queries a second.
    for _ in 0..20 {
        let (status, body) = app.cashier(&TestApp::payin_body("10.00")).await;
        assert_eq!(status, 200, "{body}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = polls(&app).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let made = polls(&app).await - before;
    assert!(made >= 10, "the budget is used: {made}");
    assert!(made <= 24, "{made} polls in 2 s at a budget of 10/s");
}

#[tokio::test]
async fn the_poller_yields_to_api_requests() {
    let app = TestApp::with(Options {
        extra_args: vec![
            "--poll-interval".into(),
            "50ms".into(),
            "--poll-rate".into(),
            "0".into(),
            "--poll-rate-busy".into(),
            "10".into(),
        ],
        ..Options::default()
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        let (status, body) = app.cashier(&TestApp::payin_body("10.00")).await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["data"]["transactionId"].as_str().unwrap().to_owned());
    }
    // While the API is serving requests, the poller keeps to the busy rate.
    let before = polls(&app).await;
    let busy_until = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < busy_until {
        app.status(&ids[0]).await;
    }
    let busy = polls(&app).await - before;
    assert!(
        busy <= 24,
        "{busy} polls in 2 s of API traffic at a busy rate of 10/s"
    );
    // Idle, it is unlimited: every pay-in every 50 ms or so.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = polls(&app).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = polls(&app).await - before;
    assert!(idle >= 100, "{idle} polls in 1 s idle");
}
