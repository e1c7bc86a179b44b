//! Crash safety (docs/ARCHITECTURE.md): `serve` is killed with SIGKILL while payouts are
//! `submitting` and `pending`, then restarted on the same database. Every payout reaches one
//! final state, the sandbox executed each order once, and the MP got one event per payout.

use crate::harness::{one_webhook_id, FakeMp};
use crate::procs::{
    env, free_port, list_all, payout, provision, sandbox_orders, spawn, Provisioned,
};
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_payouts_then_restart() {
    let e = env();
    let mp = FakeMp::start().await;
    let log = e.dir.join("logs.txt");
    let sandbox_env = vec![
        ("OVERTURE_SANDBOX_DELAY", "1500ms".to_owned()),
        ("OVERTURE_SANDBOX_RESPONSE_DELAY", "400ms".to_owned()),
        (
            "OVERTURE_SANDBOX_CALLBACK_RETRIES",
            "300ms,300ms,300ms,300ms,300ms,300ms".to_owned(),
        ),
    ];
    let Provisioned {
        sandbox: _sandbox,
        sandbox_url,
        company_id,
        token,
        operator,
    } = provision(&e.db, &mp.url, &sandbox_env, &log);

    let port = free_port();
    let mut serve_env = e.db.clone();
    serve_env.extend([
        ("OVERTURE_LISTEN", format!("127.0.0.1:{port}")),
        ("OVERTURE_PSP_TIMEOUT", "2s".to_owned()),
        ("OVERTURE_POLL_INTERVAL", "200ms".to_owned()),
        ("OVERTURE_WORKER_TICK", "50ms".to_owned()),
        // The killed node's claims are taken over once their lease ends.
        ("OVERTURE_LEASE", "3s".to_owned()),
        (
            "OVERTURE_WEBHOOK_RETRY_SCHEDULE",
            "200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms".to_owned(),
        ),
    ]);
    let (serve, url) = spawn(&["serve"], &serve_env, &log);
    let http = reqwest::Client::new();

    // First wave: accepted by the PSP, still processing (pending) at the kill.
    let mut first = Vec::new();
    for i in 0..6 {
        let amount = format!("{}.{:02}", 20 + i, [0, 51, 55, 0, 51, 55][i]);
        first.push(tokio::spawn({
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move { payout(&http, &url, &token, "mp-session", &amount).await }
        }));
    }
    for f in first {
        assert!(
            f.await.unwrap().is_some(),
            "first wave is accepted before the kill"
        );
    }
    // Second wave: in flight (submitting: committed, PSP call not answered) at the kill.
    for i in 0..8 {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        tokio::spawn(async move {
            payout(&http, &url, &token, "mp-session", &format!("{}.00", 40 + i)).await
        });
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    let before = list_all(&http, &url, &operator, &company_id).await;
    serve.kill9();

    let states: BTreeMap<String, String> = before
        .iter()
        .map(|t| {
            (
                t["transactionId"].as_str().unwrap().to_owned(),
                t["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        states.values().any(|s| s == "submitting"),
        "some payouts were submitting at the kill: {states:?}"
    );
    assert!(
        states.values().any(|s| s == "pending"),
        "some payouts were pending at the kill: {states:?}"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_serve, url) = spawn(&["serve"], &serve_env, &log);

    // Every payout reaches one final state.
    let mut finals = Vec::new();
    for _ in 0..300 {
        finals = list_all(&http, &url, &operator, &company_id).await;
        if finals.iter().all(|t| {
            matches!(
                t["state"].as_str(),
                Some("approved" | "declined" | "failed")
            )
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open: Vec<_> = finals
        .iter()
        .filter(|t| {
            !matches!(
                t["state"].as_str(),
                Some("approved" | "declined" | "failed")
            )
        })
        .collect();
    assert!(
        open.is_empty(),
        "not final after restart: {open:?}\nlogs: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(finals.len() >= states.len());

    // The sandbox executed each order at most once, and every approved/declined payout once.
    let orders = sandbox_orders(&http, &sandbox_url, "paymentsoft").await;
    let mut per_order: BTreeMap<String, u64> = BTreeMap::new();
    for o in &orders {
        *per_order
            .entry(o["client_orderid"].as_str().unwrap().to_owned())
            .or_default() += o["executions"].as_u64().unwrap();
    }
    for t in &finals {
        let id = t["transactionId"].as_str().unwrap();
        let executed = per_order.get(id).copied().unwrap_or(0);
        match t["state"].as_str().unwrap() {
            "approved" | "declined" => assert_eq!(executed, 1, "{id} executed {executed} times"),
            _ => assert!(executed <= 1, "{id} executed {executed} times"),
        }
    }

    // One final webhook event (one webhook-id) per payout, delivered at least once.
    let hooks = mp.wait_distinct_delivered(finals.len()).await;
    for t in &finals {
        let id = t["transactionId"].as_str().unwrap();
        one_webhook_id(&hooks, id);
        let w = hooks
            .iter()
            .find(|w| w.json["transaction_id"] == id && w.answered == 200)
            .expect("delivered");
        assert_eq!(w.json["transaction_status"], t["transactionStatus"]);
    }
}
