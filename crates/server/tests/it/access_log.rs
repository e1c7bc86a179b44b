//! The access log of a real `overture serve` child process: with `OVERTURE_LOG_FORMAT=json`
//! every stderr line is one JSON object without `Debug` artefacts or escape characters, each
//! request has one access line (method, route template, status, latency, trace, transaction),
//! and the trace of a Cashier request's `traceparent` shows on the in-process sandbox's and
//! demo merchant's own access lines (verify-user, the PSP create call, the poller's status
//! query and the webhook carried it). Text logs to a
//! file have no colour codes either.

use crate::procs::{env, free_port, spawn_capturing};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// Every string inside `v`, recursively.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The log's lines, each parsed as a JSON object (fails on any other line).
fn json_lines(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert!(v.is_object(), "{l}");
            v
        })
        .collect()
}

/// The access-log lines.
fn access(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| l["target"] == "overture_server::access" && l["message"] == "request")
        .collect()
}

async fn wait_for(log: &Path, what: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..100 {
        let lines = json_lines(log);
        if what(&lines) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never logged: {}", std::fs::read_to_string(log).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_access_log_lines_with_trace_and_transaction() {
    let e = env();
    let log = e.dir.join("json.log");
    let mut vars = e.db.clone();
    vars.extend([
        ("OVERTURE_LISTEN", format!("127.0.0.1:{}", free_port())),
        ("OVERTURE_LOG_FORMAT", "json".to_owned()),
        ("OVERTURE_SANDBOX_DELAY", "100ms".to_owned()),
        ("OVERTURE_POLL_INTERVAL", "150ms".to_owned()),
        ("OVERTURE_WORKER_TICK", "50ms".to_owned()),
    ]);
    let (serve, url, printed) = spawn_capturing(&["serve"], &vars, &log);
    let jwt = printed
        .iter()
        .find_map(|v| v["companyJwt"].as_str())
        .expect("the demo company")
        .to_owned();
    let http = reqwest::Client::new();
    let body = serde_json::json!({"pspType": "PAYMENTSOFT", "type": "PAYOUT", "baseamount": 12.00,
        "currency": "EUR", "userId": "demo-user", "email": "player@example.com"});
    let created: Value = http
        .post(format!("{url}/v1/api/mozarto/cashier"))
        .bearer_auth(&jwt)
        .header("x-user-authorization", "demo-session")
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["data"]["transactionId"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let status = |path: String| {
        let request = http.get(format!("{url}{path}")).bearer_auth(&jwt);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        status(format!("/v1/api/mozarto/transactions/{id}")).await,
        200
    );
    assert_eq!(
        status("/v1/api/mozarto/transactions/txn_nothere".into()).await,
        404
    );
    assert_eq!(status("/no/such/page".into()).await, 404);

    // The payout is approved and its webhook reaches the demo merchant (served in-process).
    let lines = wait_for(&log, |lines| {
        lines.iter().any(|l| {
            l["message"] == "webhook attempt"
                && l["transaction_id"] == id.as_str()
                && l["outcome"] == "delivered"
        })
    })
    .await;
    serve.kill9();

    for line in &lines {
        let mut values = Vec::new();
        strings(line, &mut values);
        for v in values {
            assert!(!v.contains("Some("), "a Debug artefact: {line}");
            assert!(!v.contains('\u{1b}'), "an escape character: {line}");
        }
    }
    let raw = std::fs::read_to_string(&log).unwrap();
    assert!(
        !raw.contains('\u{1b}') && !raw.contains("\\u001b"),
        "no colours"
    );

    let access = access(&lines);
    for line in &access {
        for field in ["method", "route", "trace_id", "span_id"] {
            assert!(line[field].is_string(), "{field} in {line}");
        }
        assert!(
            line["status"].is_u64() && line["latency_ms"].is_number(),
            "{line}"
        );
        assert_eq!(line["trace_id"].as_str().unwrap().len(), 32, "{line}");
        let route = line["route"].as_str().unwrap();
        assert!(
            !route.contains("txn_") && !route.contains("psp_"),
            "a template: {line}"
        );
    }
    let one = |route: &str, status: u64| {
        let found: Vec<_> = access
            .iter()
            .filter(|l| l["route"] == route && l["status"] == status)
            .collect();
        assert_eq!(found.len(), 1, "{route} {status}: {access:#?}");
        *found[0]
    };
    let cashier = one("/v1/api/mozarto/cashier", 200);
    assert_eq!(cashier["method"], "POST");
    assert_eq!(cashier["transaction_id"], id.as_str());
    assert_eq!(cashier["trace_id"], TRACE, "the caller's trace is kept");
    assert_eq!(cashier["parent_span_id"], CALLER_SPAN);
    assert_ne!(cashier["span_id"], CALLER_SPAN);
    let viewed = one("/v1/api/mozarto/transactions/{id}", 200);
    assert_eq!(viewed["transaction_id"], id.as_str());
    assert_ne!(
        viewed["trace_id"], TRACE,
        "a request without traceparent starts a trace"
    );
    assert!(viewed.get("parent_span_id").is_none(), "{viewed}");
    assert!(one("/v1/api/mozarto/transactions/{id}", 404)
        .get("transaction_id")
        .is_none());
    assert_eq!(one("unmatched", 404)["method"], "GET");

    // The PSP calls (create and status polls) and the webhook carried the trace: the
    // in-process sandbox and demo merchant logged it on their own requests.
    let traced_routes: Vec<&str> = access
        .iter()
        .filter(|l| l["trace_id"] == TRACE)
        .filter_map(|l| l["route"].as_str())
        .collect();
    for route in [
        "/sandbox/mp/verify-user",
        "/sandbox/paymentsoft/paynet/api/v4/payout/{endpoint_id}",
        "/sandbox/paymentsoft/paynet/api/v2/status/{endpoint_id}",
        "/sandbox/mp/webhook",
    ] {
        assert!(traced_routes.contains(&route), "{route}: {traced_routes:?}");
    }
    let attempt = lines
        .iter()
        .find(|l| l["message"] == "webhook attempt" && l["outcome"] == "delivered")
        .unwrap();
    assert_eq!(
        attempt["http_status"], 200,
        "a number, not Some(200): {attempt}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_to_a_file_have_no_colour_codes() {
    let e = env();
    let log = e.dir.join("text.log");
    let mut vars = e.db.clone();
    vars.push(("OVERTURE_LISTEN", format!("127.0.0.1:{}", free_port())));
    let (serve, url, _) = spawn_capturing(&["serve"], &vars, &log);
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let mut text = String::new();
    for _ in 0..50 {
        text = std::fs::read_to_string(&log).unwrap();
        if text.contains("route=\"/healthz\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    serve.kill9();
    assert!(text.contains("route=\"/healthz\" status=200"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
}
