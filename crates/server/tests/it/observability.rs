//! Observability over HTTP: `/metrics` after real pay-ins and payouts (labelled HTTP, PSP and
//! webhook series, queue gauges, poll lag), and W3C `traceparent` from a Cashier request to the
//! PSP calls (create and the poller's status queries, seen by a proxy in front of the
//! sandbox) and to the merchant's webhook, on SQLite and PostgreSQL.

use crate::harness::*;
use crate::routing_support::{add_account, Proxy, Reach};
use overture_core::{TraceParent, TransactionId};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// `/metrics` as `series → value` (`name{labels}` as printed), and its content type.
async fn scrape(app: &TestApp) -> (BTreeMap<String, f64>, String) {
    let response = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();
    let series = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse::<f64>().unwrap())
        })
        .collect();
    (series, content_type)
}

fn get(series: &BTreeMap<String, f64>, name: &str) -> f64 {
    *series
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {:#?}", series.keys().collect::<Vec<_>>()))
}

#[tokio::test]
async fn metrics_show_requests_psp_calls_and_webhooks_by_label() {
    let app = TestApp::with(Options {
        extra_args: vec!["--queue-gauge-interval".into(), "50ms".into()],
        ..Options::default()
    })
    .await;
    // A PAYMENTSOFT account nothing listens for comes first: the payout's first call fails
    // (classified) and the request fails over to the working account.
    add_account(&app, "PAYMENTSOFT", 10, Reach::ClosedPort).await;
    let (status, body) = app.cashier(&TestApp::payin_body("25.00")).await;
    assert_eq!(status, 200, "{body}");
    app.mp.fail_next.store(1, Ordering::SeqCst);
    let payout = app.payout("30.00").await;
    let view = app.wait_final(&payout).await;
    assert_eq!(view["transactionStatus"], "Approved", "{view}");
    app.mp.wait_delivered(&payout, 1).await;
    let not_found = app
        .http
        .get(format!(
            "{}/v1/api/mozarto/transactions/txn_missing",
            app.url
        ))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(not_found.status(), 404);
    // The queue gauges are counted every 50 ms; let one count follow the delivery.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (m, content_type) = scrape(&app).await;
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let cashier = "method=\"POST\",route=\"/v1/api/mozarto/cashier\"";
    let status_route = "method=\"GET\",route=\"/v1/api/mozarto/transactions/{id}\"";
    assert_eq!(
        get(
            &m,
            &format!("overture_http_requests_total{{{cashier},status=\"200\"}}")
        ),
        2.0
    );
    assert!(
        get(
            &m,
            &format!("overture_http_requests_total{{{status_route},status=\"200\"}}")
        ) >= 1.0
    );
    assert_eq!(
        get(
            &m,
            &format!("overture_http_requests_total{{{status_route},status=\"404\"}}")
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            &format!("overture_http_request_duration_seconds_count{{{cashier}}}")
        ),
        2.0
    );
    let cashier_secs = get(
        &m,
        &format!("overture_http_request_duration_seconds_sum{{{cashier}}}"),
    );
    assert!(cashier_secs > 0.0 && cashier_secs < 20.0, "{cashier_secs}");
    for labels in m.keys().filter_map(|k| k.split_once('{').map(|(_, l)| l)) {
        let ids = ["txn_", "ses_", "psp_", "att_", "msg_", "cmp_"];
        assert!(
            !ids.iter().any(|id| labels.contains(id)),
            "an id in {labels}"
        );
    }

    let psp = |p: &str, op: &str, outcome: &str| {
        format!(
            "overture_psp_requests_total{{psp=\"{p}\",operation=\"{op}\",outcome=\"{outcome}\"}}"
        )
    };
    assert!(get(&m, &psp("FORUMPAY", "create", "ok")) >= 1.0);
    assert_eq!(
        get(&m, &psp("PAYMENTSOFT", "create", "PSP_UNAVAILABLE")),
        1.0
    );
    let created = get(&m, &psp("PAYMENTSOFT", "create", "ok"));
    assert!(created >= 1.0);
    assert!(get(&m, &psp("PAYMENTSOFT", "status", "ok")) >= 1.0);
    let creates = "psp=\"PAYMENTSOFT\",operation=\"create\"";
    let timed = get(
        &m,
        &format!("overture_psp_request_duration_seconds_count{{{creates}}}"),
    );
    assert_eq!(timed, created + 1.0, "every call timed, the failed one too");
    assert_eq!(
        get(
            &m,
            &format!("overture_psp_request_duration_seconds_bucket{{{creates},le=\"+Inf\"}}")
        ),
        timed
    );

    assert_eq!(get(&m, "overture_transactions_created_total"), 2.0);
    assert_eq!(
        get(&m, "overture_webhook_deliveries_total{outcome=\"retry\"}"),
        1.0
    );
    assert!(
        get(
            &m,
            "overture_webhook_deliveries_total{outcome=\"delivered\"}"
        ) >= 1.0
    );
    assert_eq!(
        get(&m, "overture_webhook_attempts_total"),
        get(&m, "overture_webhook_deliveries_total{outcome=\"retry\"}")
            + get(
                &m,
                "overture_webhook_deliveries_total{outcome=\"delivered\"}"
            )
    );
    let polls = get(&m, "overture_polls_total");
    assert!(polls >= 1.0);
    assert_eq!(get(&m, "overture_poll_lag_seconds_count"), polls);
    assert_eq!(get(&m, "overture_webhooks_pending"), 0.0, "all delivered");
    assert!(get(&m, "overture_polls_due") >= 0.0);
    let in_flight = get(&m, "overture_worker_jobs_in_flight{worker=\"webhooks\"}");
    assert!((0.0..=32.0).contains(&in_flight), "{in_flight}");
}

#[tokio::test]
async fn queue_gauges_and_poll_lag_show_a_poller_behind() {
    // Payouts stay pending at the sandbox for a minute, each due every 50 ms, polled at 2/s.
    let args = [
        ("--sandbox-delay", "60s"),
        ("--poll-interval", "50ms"),
        ("--poll-rate", "2"),
        ("--poll-rate-busy", "2"),
        ("--queue-gauge-interval", "50ms"),
    ];
    let app = TestApp::with(Options {
        extra_args: args
            .iter()
            .flat_map(|(k, v)| [k.to_string(), v.to_string()])
            .collect(),
        ..Options::default()
    })
    .await;
    for amount in ["11.00", "12.00", "13.00", "14.00", "15.00"] {
        app.payout(amount).await;
    }
    let mut behind = None;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (m, _) = scrape(&app).await;
        if get(&m, "overture_polls_due") >= 3.0 && get(&m, "overture_poll_lag_ms_max") > 100.0 {
            behind = Some(m);
            break;
        }
    }
    let m = behind.expect("due polls pile up and run late");
    assert!(get(&m, "overture_polls_due") <= 5.0);
    let late = get(&m, "overture_poll_lag_seconds_count")
        - get(&m, "overture_poll_lag_seconds_bucket{le=\"0.1\"}");
    assert!(late >= 1.0, "some polls ran more than 100 ms late");
}

/// A FORUMPAY payout (through the proxy in front of its sandbox), sent with `traceparent`
/// (`None`: without): returns its id, once approved and its webhook delivered.
async fn traced_payout(app: &TestApp, traceparent: Option<&str>) -> String {
    let headers: Vec<(&str, String)> = traceparent
        .map(|t| ("traceparent", t.to_owned()))
        .into_iter()
        .collect();
    let payout = serde_json::json!({"pspType": "FORUMPAY", "type": "PAYOUT", "baseamount": 21.00,
        "currency": "EUR", "userId": "user-t", "email": "p@example.com",
        "walletAddress": "bc1qexampleaddress0000000000000000000000", "preferredCrypto": "BTC"});
    let (status, body) = app.cashier_with(&payout, &headers).await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["transactionId"].as_str().unwrap().to_owned();
    let view = app.wait_final(&id).await;
    assert_eq!(view["transactionStatus"], "Approved", "{view}");
    app.mp.wait_delivered(&id, 1).await;
    id
}

/// The proxy's requests for order `id`'s calls since `from`, as parsed `traceparent`s.
fn psp_traces(proxy: &Proxy, from: usize) -> Vec<(String, TraceParent)> {
    proxy.seen.lock().unwrap()[from..]
        .iter()
        .map(|(path, tp)| {
            let tp = tp
                .as_deref()
                .unwrap_or_else(|| panic!("{path}: no traceparent"));
            (
                path.clone(),
                TraceParent::parse(tp).unwrap_or_else(|| panic!("{path}: {tp}")),
            )
        })
        .collect()
}

async fn traceparent_reaches_the_psp_and_the_webhook(postgres: bool) {
    let app = TestApp::with(Options {
        postgres,
        ..Options::default()
    })
    .await;
    let proxy = Proxy::start(format!("{}/sandbox/forumpay", app.url)).await;
    add_account(&app, "FORUMPAY", 10, Reach::At(proxy.url.clone())).await;

    let incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let id = traced_payout(&app, Some(incoming)).await;
    let calls = psp_traces(&proxy, 0);
    assert!(
        calls.len() >= 2,
        "the create call and a status poll: {calls:?}"
    );
    assert!(
        calls.iter().any(|(path, _)| path.contains("CheckBuyOrder")),
        "the poller's status query: {calls:?}"
    );
    let mut spans = std::collections::BTreeSet::new();
    for (path, tp) in &calls {
        assert_eq!(
            tp.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c",
            "{path}"
        );
        assert_ne!(
            tp.span_id(),
            "b7ad6b7169203331",
            "{path}: a span of ours, not the caller's"
        );
        spans.insert(tp.span_id());
    }
    assert_eq!(spans.len(), calls.len(), "one span per PSP call");
    let hook = &app.mp.webhooks_for(&id)[0];
    let hook_trace = TraceParent::parse(hook.traceparent.as_deref().expect("webhook traceparent"));
    assert_eq!(
        hook_trace.map(|t| t.trace_id().to_string()).as_deref(),
        Some("0af7651916cd43dd8448eb211c80319c")
    );
    let txn_id = TransactionId::parse(&id).unwrap();
    let stored = app.running.app.store.transaction(&txn_id).await;
    let stored = stored.unwrap().unwrap();
    assert_eq!(
        stored.trace_id.map(|t| t.to_string()).as_deref(),
        Some("0af7651916cd43dd8448eb211c80319c")
    );

    // Without a (valid) header each request starts a trace of its own, used the same way.
    let mut seen = Vec::new();
    for header in [
        None,
        Some("00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01"),
    ] {
        let from = proxy.seen.lock().unwrap().len();
        let id = traced_payout(&app, header).await;
        let calls = psp_traces(&proxy, from);
        let trace = calls[0].1.trace_id();
        assert!(
            calls.iter().all(|(_, tp)| tp.trace_id() == trace),
            "{calls:?}"
        );
        let hook = &app.mp.webhooks_for(&id)[0];
        let hook_trace = TraceParent::parse(hook.traceparent.as_deref().unwrap()).unwrap();
        assert_eq!(hook_trace.trace_id(), trace);
        seen.push(trace.to_string());
    }
    assert!(
        !seen.contains(&"0af7651916cd43dd8448eb211c80319c".to_owned()),
        "{seen:?}"
    );
    assert_ne!(seen[0], seen[1], "{seen:?}");
}

#[tokio::test]
async fn traceparent_reaches_the_psp_and_the_webhook_sqlite() {
    traceparent_reaches_the_psp_and_the_webhook(false).await;
}

#[tokio::test]
async fn traceparent_reaches_the_psp_and_the_webhook_postgres() {
    traceparent_reaches_the_psp_and_the_webhook(true).await;
}
