//! With real `serve` processes on one database:
//! - a rules document stored through one node routes on another within 5 s;
//! - a Cashier body carrying a card number is refused with 400, and nothing of the number is
//!   stored (database file) or logged (the node's log).

use crate::harness::FakeMp;
use crate::procs::{env, free_port, provision, spawn};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn evaluate(http: &reqwest::Client, url: &str, token: &str) -> Value {
    let body = json!({"pspType": "PAYMENTSOFT", "type": "PAYOUT", "baseamount": 10.00,
        "currency": "EUR", "userId": "u1", "email": "p@example.com"});
    let v: Value = http
        .post(format!("{url}/v1/api/routing/evaluate"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rules_change_reaches_another_node_within_5_s() {
    let e = env();
    let mp = FakeMp::start().await;
    let log = e.dir.join("logs.txt");
    let p = provision(&e.db, &mp.url, &[], &log);
    let node = |role: &str| {
        let mut env = e.db.clone();
        env.push(("OVERTURE_LISTEN", format!("127.0.0.1:{}", free_port())));
        spawn(&["serve", "--role", role], &env, &log)
    };
    let (_a, url_a) = node("api");
    let (_b, url_b) = node("api");
    let http = reqwest::Client::new();
    let before = evaluate(&http, &url_b, &p.token).await;
    assert_eq!(
        before["rule"],
        Value::Null,
        "default routing first: {before}"
    );
    let doc = json!({"rules": [{"name": "stop payouts", "when": {"type": "PAYOUT"},
        "then": {"block": "maintenance"}}]});
    let put = http
        .put(format!("{url_a}/v1/api/routing/rules"))
        .bearer_auth(&p.token)
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let stored = Instant::now();
    loop {
        let d = evaluate(&http, &url_b, &p.token).await;
        if d["action"] == "block" {
            assert_eq!(d["rule"], "stop payouts");
            break;
        }
        assert!(
            stored.elapsed() < Duration::from_secs(5),
            "node B still routes by default: {d}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen_after = stored.elapsed();
    assert_eq!(
        evaluate(&http, &url_a, &p.token).await["action"],
        "block",
        "at once where stored"
    );
    eprintln!("the other node applied the new rules after {seen_after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_number_is_refused_and_neither_stored_nor_logged() {
    let e = env();
    let mp = FakeMp::start().await;
    let log = e.dir.join("logs.txt");
    let p = provision(&e.db, &mp.url, &[], &log);
    let mut env = e.db.clone();
    env.push(("OVERTURE_LISTEN", format!("127.0.0.1:{}", free_port())));
    // Debug logs: even then, the number must not appear.
    env.push(("RUST_LOG", "debug".to_owned()));
    let (node, url) = spawn(&["serve"], &env, &log);
    let http = reqwest::Client::new();
    const PAN: &str = "4111111111111111";
    for body in [
        json!({"pspType": "TRUST", "type": "PAYIN", "baseamount": 10.00, "currency": "GBP",
               "userId": "u1", "email": "p@example.com", "cardNumber": PAN, "cvv": "123"}),
        json!({"pspType": "WORLDPAY_EU", "type": "PAYIN", "baseamount": 10.00, "currency": "EUR",
               "userId": "u1", "email": "p@example.com", "note": PAN}),
    ] {
        let resp = http
            .post(format!("{url}/v1/api/mozarto/cashier"))
            .bearer_auth(&p.token)
            .header("x-user-authorization", "mp-session")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["errorCode"], "VALIDATION_ERROR");
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("hosted payment page"),
            "{v}"
        );
        assert!(!v.to_string().contains(PAN), "the answer never echoes it");
    }
    let listed: Value = http
        .get(format!(
            "{url}/v1/api/backoffice/transactions?company={}",
            p.company_id
        ))
        .bearer_auth(&p.operator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"]["items"], json!([]), "nothing stored");
    assert!(
        mp.verify_calls.lock().unwrap().is_empty(),
        "nothing sent anywhere"
    );
    node.kill9();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains(PAN), "the card number is in the log");
    for entry in std::fs::read_dir(&e.dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let found = bytes.windows(PAN.len()).any(|w| w == PAN.as_bytes());
            assert!(!found, "the card number is in {}", path.display());
        }
    }
}
