//! `GET /metrics`: needs `Authorization: Bearer <OVERTURE_METRICS_TOKEN>` in production mode
//! (everyone is refused there without a token); open outside production unless a token is set.
//! Worker-only nodes serve it under the same rule.

use crate::harness::*;
use crate::procs::{env, free_port, spawn};

async fn app(production: bool, token: Option<&str>) -> TestApp {
    TestApp::with(Options {
        extra_args: if production {
            vec!["--production".to_owned()]
        } else {
            Vec::new()
        },
        metrics_token: token.map(str::to_owned),
        ..Options::default()
    })
    .await
}

/// `GET /metrics` with an optional `Authorization` value: (status, body).
async fn metrics(app: &TestApp, authorization: Option<&str>) -> (u16, String) {
    let mut request = app.http.get(format!("{}/metrics", app.url));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The value of one counter line.
fn counter(body: &str, name: &str) -> Option<u64> {
    body.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn production_metrics_need_the_bearer_token() {
    let app = app(true, Some("metrics-token-0123456789")).await;
    // One stored transaction (a pay-in whose PSP is absent in production mode).
    let (status, body) = app.cashier(&TestApp::payin_body("25.00")).await;
    assert_ne!(status, 200, "{body}");
    for refused in [
        None,
        Some("Bearer wrong-token"),
        Some("Bearer metrics-token-012345678"),
        Some("metrics-token-0123456789"),
        Some("Basic bWV0cmljczp4"),
    ] {
        let (status, body) = metrics(&app, refused).await;
        assert_eq!(status, 401, "{refused:?}");
        assert!(!body.contains("overture_"), "{body}");
        assert!(
            !body.contains("isSuccess"),
            "plain text, not the API envelope"
        );
    }
    let (status, body) = metrics(&app, Some("Bearer metrics-token-0123456789")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        counter(&body, "overture_transactions_created_total"),
        Some(1)
    );
}

#[tokio::test]
async fn production_without_a_token_refuses_everyone() {
    let app = app(true, None).await;
    assert_eq!(metrics(&app, None).await.0, 401);
    assert_eq!(metrics(&app, Some("Bearer ")).await.0, 401);
    assert_eq!(metrics(&app, Some("Bearer anything")).await.0, 401);
}

#[tokio::test]
async fn outside_production_metrics_are_open_unless_a_token_is_set() {
    let open = app(false, None).await;
    let (status, body) = metrics(&open, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        counter(&body, "overture_transactions_created_total"),
        Some(0)
    );

    let guarded = app(false, Some("dev-token")).await;
    assert_eq!(metrics(&guarded, None).await.0, 401);
    assert_eq!(metrics(&guarded, Some("Bearer dev-token")).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reads_the_token_from_the_environment_and_warns_without_one() {
    let e = env();
    let log = e.dir.join("logs.txt");
    let http = reqwest::Client::new();
    let serve_env = |token: &str| {
        let mut vars = e.db.clone();
        vars.extend([
            ("OVERTURE_LISTEN", format!("127.0.0.1:{}", free_port())),
            ("OVERTURE_PRODUCTION", "true".to_owned()),
            ("OVERTURE_METRICS_TOKEN", token.to_owned()),
        ]);
        vars
    };
    let get = |url: String, auth: Option<&'static str>| {
        let mut request = http.get(format!("{url}/metrics"));
        if let Some(value) = auth {
            request = request.header("authorization", value);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };

    let (guarded, url) = spawn(&["serve"], &serve_env("from-the-env"), &log);
    assert_eq!(get(url.clone(), None).await, 401);
    assert_eq!(get(url.clone(), Some("Bearer from-the-env")).await, 200);
    guarded.kill9();
    let warning = "GET /metrics answers 401 to everyone";
    assert!(!std::fs::read_to_string(&log).unwrap().contains(warning));

    // An empty value is no token: production refuses everyone and says so at start.
    let (_closed, url) = spawn(&["serve"], &serve_env(""), &log);
    assert_eq!(get(url.clone(), Some("Bearer ")).await, 401);
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains(warning), "{logs}");
    assert!(!logs.contains("from-the-env"), "the token is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_only_node_serves_its_metrics_under_the_same_rule() {
    let e = env();
    let log = e.dir.join("logs.txt");
    let mut vars = e.db.clone();
    vars.extend([
        ("OVERTURE_LISTEN", format!("127.0.0.1:{}", free_port())),
        ("OVERTURE_ROLE", "worker".to_owned()),
        ("OVERTURE_PRODUCTION", "true".to_owned()),
        ("OVERTURE_METRICS_TOKEN", "worker-metrics".to_owned()),
    ]);
    let (_worker, url) = spawn(&["serve"], &vars, &log);
    let http = reqwest::Client::new();
    let get = |auth: Option<&'static str>| {
        let mut request = http.get(format!("{url}/metrics"));
        if let Some(value) = auth {
            request = request.header("authorization", value);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(get(None).await.0, 401);
    let (status, body) = get(Some("Bearer worker-metrics")).await;
    assert_eq!(status, 200);
    assert_eq!(counter(&body, "overture_polls_total"), Some(0));
    assert!(body.contains("# TYPE overture_polls_due gauge"), "{body}");
}
