//! What the routing and failover tests share: more PSP accounts for the test company (working,
//! unreachable, with wrong credentials, or behind a controllable proxy), rules documents put
//! through the API, and the attempts of a transaction.

use crate::harness::*;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use overture_core::*;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How a test account reaches its PSP.
pub enum Reach {
    /// The in-process sandbox, with its own working credentials.
    Sandbox,
    /// A closed port on 127.0.0.1: nothing is ever sent.
    ClosedPort,
    /// The sandbox, with a credential the PSP refuses.
    WrongCredentials,
    /// This base URL (a [`Proxy`] in front of the sandbox).
    At(String),
}

/// Adds a `psp` account (upper-case `pspType`) with `priority` to the test company; returns
/// its id.
pub async fn add_account(app: &TestApp, psp: &str, priority: i32, reach: Reach) -> PspAccountId {
    let sandbox = format!("{}/sandbox/{}", app.url, psp.to_ascii_lowercase());
    let psp_static: &'static str = Box::leak(psp.to_owned().into_boxed_str());
    let mut creds = overture_server::demo::open_sandbox_account(psp_static, &sandbox)
        .await
        .unwrap();
    let base_url = match reach {
        Reach::Sandbox => sandbox,
        Reach::ClosedPort => {
            let port = crate::procs::free_port();
            format!(
                "http://127.0.0.1:{port}/sandbox/{}",
                psp.to_ascii_lowercase()
            )
        }
        Reach::WrongCredentials => {
            // The PSP's secret (or the login it is checked for), not an id in a URL path.
            for (name, v) in creds.0.iter_mut() {
                if matches!(name.as_str(), "login" | "secret") {
                    *v = SecretString::from("wrongcredential");
                }
            }
            sandbox
        }
        Reach::At(url) => url,
    };
    let account = PspAccount {
        id: PspAccountId::generate(),
        company_id: app.company.id.clone(),
        psp_type: PspType(psp.to_owned()),
        base_url,
        credentials: creds,
        enabled: true,
        priority,
        limits: Default::default(),
        created_at: SystemClock.now_ms(),
        deleted_at: None,
    };
    app.running
        .app
        .store
        .insert_psp_account(&account)
        .await
        .unwrap();
    // Written behind the server's back (as the CLI does): let its routing see it at once.
    app.running.app.psp_accounts.invalidate(&app.company.id);
    account.id
}

/// The test company's first account of `psp` (the one the harness opened).
pub async fn harness_account(app: &TestApp, psp: &str) -> PspAccountId {
    app.running
        .app
        .store
        .psp_accounts(&app.company.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.psp_type.as_str() == psp)
        .min_by_key(|a| a.created_at)
        .unwrap()
        .id
}

/// `PUT /v1/api/routing/rules`; returns (status, body).
pub async fn put_rules(app: &TestApp, doc: &Value) -> (u16, Value) {
    let resp = app
        .http
        .put(format!("{}/v1/api/routing/rules", app.url))
        .bearer_auth(&app.token)
        .json(doc)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// `POST /v1/api/routing/evaluate` with a Cashier body; returns `data`.
pub async fn evaluate(app: &TestApp, body: &Value) -> Value {
    let resp = app
        .http
        .post(format!("{}/v1/api/routing/evaluate", app.url))
        .bearer_auth(&app.token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<Value>().await.unwrap()["data"].clone()
}

/// The attempts in a transaction's status view.
pub async fn attempts(app: &TestApp, id: &str) -> Vec<Value> {
    app.status(id).await["attempts"].as_array().unwrap().clone()
}

/// Waits until the transaction has `n` attempts and is final; returns the view.
pub async fn wait_final_with(app: &TestApp, id: &str, n: usize) -> Value {
    for _ in 0..200 {
        let view = app.status(id).await;
        let done = matches!(
            view["state"].as_str(),
            Some("approved" | "declined" | "failed")
        );
        if done && view["attempts"].as_array().map(Vec::len) == Some(n) {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{id}: not final with {n} attempts: {}",
        app.status(id).await
    );
}

/// A pay-in body for FORUMPAY in EUR.
pub fn forumpay_payin(amount: &str) -> Value {
    TestApp::payin_body(amount)
}

/// One rule routing everything of `kind` to `route` (priority list), then `fallback`.
pub fn rule(name: &str, kind: &str, route: &[&PspAccountId], fallback: &[&PspAccountId]) -> Value {
    json!({
        "name": name,
        "when": {"type": kind},
        "then": {
            "route": route.iter().map(|a| json!({"account": a})).collect::<Vec<_>>(),
            "fallback": fallback,
        }
    })
}

/// One request a [`Proxy`] received: its path and query, and its `traceparent` header.
pub type Seen = (String, Option<String>);

/// An HTTP proxy in front of a sandbox: forwards every request, or answers 503 while failing,
/// and can hold the create call's answer past the PSP timeout. Counts what it received, and
/// keeps each request's path and `traceparent` header.
#[derive(Clone)]
pub struct Proxy {
    pub url: String,
    pub failing: Arc<AtomicBool>,
    /// Answers to requests whose path contains this are delayed by `delay_ms`.
    pub slow_path: Arc<std::sync::Mutex<Option<String>>>,
    pub delay_ms: Arc<AtomicU64>,
    pub received: Arc<AtomicUsize>,
    /// `(path and query, traceparent)` of every request, oldest first.
    pub seen: Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl Proxy {
    /// A proxy whose base URL stands for `target` (e.g. `http://127.0.0.1:1234/sandbox/forumpay`).
    pub async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let proxy = Proxy {
            url: url.clone(),
            failing: Arc::default(),
            slow_path: Arc::default(),
            delay_ms: Arc::default(),
            received: Arc::default(),
            seen: Arc::default(),
        };
        let state = (proxy.clone(), target, reqwest::Client::new());
        let router = axum::Router::new().fallback(forward).with_state(state);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        proxy
    }
}

async fn forward(
    State((proxy, target, http)): State<(Proxy, String, reqwest::Client)>,
    request: Request,
) -> Response {
    proxy.received.fetch_add(1, Ordering::SeqCst);
    if proxy.failing.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    proxy.seen.lock().unwrap().push((path.clone(), traceparent));
    let slow = proxy
        .slow_path
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|p| path.contains(p.as_str()));
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let mut out = http
        .request(parts.method, format!("{target}{path}"))
        .body(bytes);
    for (k, v) in &parts.headers {
        if k != "host" {
            out = out.header(k, v);
        }
    }
    let answer = out.send().await.unwrap();
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.bytes().await.unwrap();
    if slow {
        tokio::time::sleep(Duration::from_millis(proxy.delay_ms.load(Ordering::SeqCst))).await;
    }
    let mut response = Response::builder().status(status.as_u16());
    for (k, v) in &headers {
        if k != "content-length" && k != "transfer-encoding" {
            response = response.header(k, v);
        }
    }
    response.body(Body::from(body)).unwrap()
}
