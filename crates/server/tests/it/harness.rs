//! `TestApp`: the real server on 127.0.0.1:0 (own SQLite file, sandboxes mounted in-process),
//! a fake merchant platform (verify-user + webhook sink with fault injection), and helpers.

use clap::Parser;
use overture_core::*;
use overture_server::api::auth::issue_company_token;
use overture_server::config::ServeArgs;
use overture_server::demo::{self, NewCompany};
use overture_server::serve::{self, Running};
use overture_server::workers::signing;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    serve: ServeArgs,
}

/// How the fake MP answers verify-user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    Allow,
    Deny,
    Error500,
    Slow,
}

/// One webhook the fake MP received.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub authorization: Option<String>,
    /// The W3C `traceparent` header, when sent.
    pub traceparent: Option<String>,
    pub body: String,
    pub json: Value,
    /// The status the fake MP answered.
    pub answered: u16,
}

/// One verify-user call the fake MP received.
#[derive(Clone, Debug)]
pub struct VerifyCall {
    pub authorization: Option<String>,
    /// Standard Webhooks headers (the approval-time call is signed like a webhook).
    pub webhook_id: Option<String>,
    pub timestamp: Option<i64>,
    pub signature: Option<String>,
    /// The raw body (what a signature covers) and its JSON.
    pub body: String,
    pub json: Value,
}

/// Verify-user calls the fake MP received, oldest first.
pub type VerifyCalls = Arc<Mutex<Vec<VerifyCall>>>;

/// The fake merchant platform.
#[derive(Clone)]
pub struct FakeMp {
    pub url: String,
    pub verify: Arc<Mutex<Verify>>,
    pub verify_calls: VerifyCalls,
    pub webhooks: Arc<Mutex<Vec<Received>>>,
    /// The next N webhook requests are answered 500.
    pub fail_next: Arc<AtomicUsize>,
}

impl FakeMp {
    pub async fn start() -> Self {
        let mp = Self {
            url: String::new(),
            verify: Arc::new(Mutex::new(Verify::Allow)),
            verify_calls: Arc::default(),
            webhooks: Arc::default(),
            fail_next: Arc::new(AtomicUsize::new(0)),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = mp.clone();
        let router = axum::Router::new()
            .route("/verify", axum::routing::post(verify_handler))
            .route("/webhook", axum::routing::post(webhook_handler))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { url, ..mp }
    }

    /// Webhooks received for one transaction.
    pub fn webhooks_for(&self, txn: &str) -> Vec<Received> {
        self.webhooks
            .lock()
            .unwrap()
            .iter()
            .filter(|w| w.json["transaction_id"] == txn)
            .cloned()
            .collect()
    }

    /// Waits (up to 10 s) until `n` distinct transactions have a delivered webhook; returns every
    /// webhook received.
    pub async fn wait_distinct_delivered(&self, n: usize) -> Vec<Received> {
        for _ in 0..100 {
            let delivered: std::collections::BTreeSet<String> = self
                .webhooks
                .lock()
                .unwrap()
                .iter()
                .filter(|w| w.answered == 200)
                .map(|w| {
                    w.json["transaction_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            if delivered.len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.webhooks.lock().unwrap().clone()
    }

    /// Waits until `n` webhooks for `txn` were answered 2xx.
    pub async fn wait_delivered(&self, txn: &str, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.webhooks_for(txn);
            if got.iter().filter(|w| w.answered == 200).count() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no delivered webhook for {txn}: {:?}",
            self.webhooks_for(txn)
        );
    }
}

async fn verify_handler(
    axum::extract::State(mp): axum::extract::State<FakeMp>,
    headers: axum::http::HeaderMap,
    body: String,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    mp.verify_calls.lock().unwrap().push(VerifyCall {
        authorization: h("authorization"),
        webhook_id: h("webhook-id"),
        timestamp: h("webhook-timestamp").and_then(|t| t.parse().ok()),
        signature: h("webhook-signature"),
        json: serde_json::from_str(&body).unwrap_or(Value::Null),
        body,
    });
    let mode = *mp.verify.lock().unwrap();
    match mode {
        Verify::Allow => axum::Json(json!({ "allowed": true })).into_response(),
        Verify::Deny => {
            axum::Json(json!({ "allowed": false, "reason": "self-excluded" })).into_response()
        }
        Verify::Error500 => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down").into_response(),
        Verify::Slow => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            axum::Json(json!({ "allowed": true })).into_response()
        }
    }
}

async fn webhook_handler(
    axum::extract::State(mp): axum::extract::State<FakeMp>,
    headers: axum::http::HeaderMap,
    body: String,
) -> (axum::http::StatusCode, &'static str) {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let fail = mp
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let answered = if fail { 500 } else { 200 };
    mp.webhooks.lock().unwrap().push(Received {
        id: h("webhook-id").unwrap_or_default(),
        timestamp: h("webhook-timestamp")
            .and_then(|t| t.parse().ok())
            .unwrap_or_default(),
        signature: h("webhook-signature").unwrap_or_default(),
        authorization: h("authorization"),
        traceparent: h("traceparent"),
        json: serde_json::from_str(&body).unwrap_or(Value::Null),
        body,
        answered,
    });
    (
        axum::http::StatusCode::from_u16(answered).unwrap(),
        if fail { "boom" } else { "ok" },
    )
}

/// A running Overture with one company wired to the fake MP and the in-process sandboxes.
pub struct TestApp {
    pub url: String,
    pub running: Running,
    pub mp: FakeMp,
    pub company: Company,
    pub token: String,
    pub http: reqwest::Client,
    pub dir: PathBuf,
    /// The PostgreSQL URL and schema when the app runs on PostgreSQL.
    pub postgres: Option<(String, String)>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.running.cancel.cancel();
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((url, schema)) = self.postgres.take() {
            // Drop is synchronous: a short-lived runtime on its own thread drops the schema.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let _ = rt.block_on(overture_store::SqlStore::drop_schema(&url, &schema));
            })
            .join();
        }
    }
}

/// Test settings: short schedules so tests finish in seconds.
pub struct Options {
    pub extra_args: Vec<String>,
    pub threshold: Option<Decimal>,
    /// Run on PostgreSQL (a fresh schema) when `OVERTURE_TEST_POSTGRES_URL` is set.
    pub postgres: bool,
    /// The `/metrics` token, as `OVERTURE_METRICS_TOKEN` would give it (tests run in one
    /// process, so they set it here rather than in the environment).
    pub metrics_token: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            extra_args: Vec::new(),
            threshold: Some(Decimal::from(1000)),
            postgres: false,
            metrics_token: None,
        }
    }
}

/// `OVERTURE_TEST_POSTGRES_URL` and a fresh schema name, when the variable is set.
pub fn test_postgres() -> Option<(String, String)> {
    let url = std::env::var("OVERTURE_TEST_POSTGRES_URL").ok()?;
    Some((url, format!("it_{}", uuid::Uuid::new_v4().simple())))
}

impl TestApp {
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Self {
        let mp = FakeMp::start().await;
        let dir =
            std::env::temp_dir().join(format!("overture-it-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let postgres = options.postgres.then(test_postgres).flatten();
        let mut argv: Vec<String> = vec!["overture".into(), "--database-url".into()];
        match &postgres {
            Some((url, schema)) => {
                argv.extend([url.clone(), "--db-schema".into(), schema.clone()]);
            }
            None => argv.push(format!("sqlite://{}", dir.join("overture.db").display())),
        }
        argv.extend([
            "--master-key-file".to_owned(),
            dir.join("master.key").display().to_string(),
            "--public-url".into(),
            url.clone(),
        ]);
        // Short schedules so tests finish in seconds; a test's own value for a flag wins.
        let defaults = [
            ("--poll-interval", "150ms"),
            ("--psp-timeout", "1s"),
            ("--verify-timeout", "1s"),
            ("--worker-tick", "50ms"),
            ("--webhook-retry-schedule", "200ms,200ms,200ms"),
            ("--sandbox-delay", "100ms"),
            ("--sandbox-callback-retries", "200ms,200ms"),
        ];
        for (flag, value) in defaults {
            if !options.extra_args.iter().any(|a| a == flag) {
                argv.extend([flag.to_owned(), value.to_owned()]);
            }
        }
        argv.extend(options.extra_args.iter().cloned());
        let mut args = Wrap::try_parse_from(argv).expect("serve args").serve;
        args.metrics_token = options.metrics_token.map(secrecy::SecretString::from);
        let running = serve::start(args, listener, CancellationToken::new())
            .await
            .expect("server starts");
        let store = running.app.store.clone();
        let company = demo::create_company(
            store.as_ref(),
            NewCompany {
                name: "Test MP".into(),
                webhook_url: format!("{}/webhook", mp.url),
                verify_user_url: format!("{}/verify", mp.url),
                webhook_authorization: Some("Bearer mp-webhook-secret".into()),
                payout_approval_threshold: options.threshold,
                verify_payins: false,
            },
            SystemClock.now_ms(),
        )
        .await
        .unwrap();
        if options.extra_args.iter().any(|a| a == "--production") {
            // No sandboxes are mounted in production mode: one account whose PSP is absent.
            store
                .insert_psp_account(&PspAccount {
                    id: PspAccountId::generate(),
                    company_id: company.id.clone(),
                    psp_type: PspType("FORUMPAY".into()),
                    base_url: format!("{url}/sandbox/forumpay"),
                    credentials: Credentials(
                        ["username", "secret", "pos_id"]
                            .into_iter()
                            .map(|k| (k.to_owned(), secrecy::SecretString::from("placeholder")))
                            .collect(),
                    ),
                    enabled: true,
                    priority: 0,
                    limits: Default::default(),
                    created_at: SystemClock.now_ms(),
                    deleted_at: None,
                })
                .await
                .unwrap();
        } else {
            // The server listens already: its sandboxes open the accounts over HTTP.
            demo::add_sandbox_accounts(
                store.as_ref(),
                &company.id,
                &url,
                &url,
                SystemClock.now_ms(),
            )
            .await
            .unwrap();
        }
        let token = issue_company_token(&company.id, &company.api_secret, now_secs(), 3600);
        Self {
            url,
            running,
            mp,
            company,
            token,
            http: reqwest::Client::new(),
            dir,
            postgres,
        }
    }

    /// A valid `x-user-token` for `user_id`, signed with this company's secret.
    pub fn user_token(&self, user_id: &str) -> String {
        let claims = json!({
            "userId": user_id, "email": "player@example.com", "firstName": "Ada", "lastName": "Lovelace",
            "phone": "4165550123", "countryCode": "DE", "exp": now_secs() + 600,
        });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(
                self.company.api_secret.expose_secret().as_bytes(),
            ),
        )
        .unwrap()
    }

    /// POSTs a Cashier request with the company JWT and a user token for `body.userId`.
    pub async fn cashier(&self, body: &Value) -> (u16, Value) {
        self.cashier_with(body, &[]).await
    }

    pub async fn cashier_with(&self, body: &Value, headers: &[(&str, String)]) -> (u16, Value) {
        let user = body["userId"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| body["userId"].to_string());
        let mut req = self
            .http
            .post(format!("{}/v1/api/mozarto/cashier", self.url))
            .bearer_auth(&self.token)
            .header("x-user-token", format!("Bearer {}", self.user_token(&user)))
            .json(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A payout request to PAYMENTSOFT for `amount` EUR (JSON number literal).
    pub fn payout_body(amount: &str) -> Value {
        let mut body: Value = serde_json::from_str(&format!(
            r#"{{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":{amount},"currency":"EUR","userId":"user-1","email":"player@example.com","country":"DE","merchantReference":"ref-{amount}"}}"#
        ))
        .unwrap();
        body["brandId"] = json!("brand-a");
        body
    }

    /// A pay-in request to FORUMPAY.
    pub fn payin_body(amount: &str) -> Value {
        serde_json::from_str(&format!(
            r#"{{"pspType":"FORUMPAY","type":"PAYIN","baseamount":{amount},"currency":"EUR","userId":"user-2","email":"player@example.com","country":"DE","preferredCrypto":"BTC"}}"#
        ))
        .unwrap()
    }

    /// Creates a payout and returns its transaction id (asserts 200).
    pub async fn payout(&self, amount: &str) -> String {
        let (status, body) = self.cashier(&Self::payout_body(amount)).await;
        assert_eq!(status, 200, "{body}");
        body["data"]["transactionId"].as_str().unwrap().to_owned()
    }

    /// GET status view (`data`).
    pub async fn status(&self, id: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}/v1/api/mozarto/transactions/{id}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()["data"].clone()
    }

    /// Waits until the transaction's internal state is final; returns the view.
    pub async fn wait_final(&self, id: &str) -> Value {
        for _ in 0..400 {
            let view = self.status(id).await;
            if matches!(
                view["state"].as_str(),
                Some("approved" | "declined" | "failed" | "rejected")
            ) {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{id} never became final: {}", self.status(id).await);
    }

    /// The sandbox's inspection list for a PSP path (`paymentsoft`, `forumpay`).
    pub async fn sandbox_orders(&self, psp: &str) -> Vec<Value> {
        let url = format!("{}/sandbox/{psp}/_orders", self.url);
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Number of transactions stored for the company.
    pub async fn stored_count(&self) -> usize {
        let filter = overture_core::store::TxnFilter {
            company_id: Some(self.company.id.clone()),
            state: None,
            limit: 1000,
        };
        self.running
            .app
            .store
            .list_transactions(&filter)
            .await
            .unwrap()
            .len()
    }

    /// Creates an operator with `role`; returns its bearer token.
    pub async fn operator(&self, role: Role) -> String {
        let token = format!("opt_test_{}", uuid::Uuid::new_v4().simple());
        let op = Operator {
            id: OperatorId::generate(),
            email: format!("{}@ops.example", uuid::Uuid::new_v4().simple()),
            role,
            token_sha256: overture_server::api::auth::token_digest(&token),
            created_at: SystemClock.now_ms(),
            disabled_at: None,
        };
        self.running.app.store.insert_operator(&op).await.unwrap();
        token
    }

    /// POST a back-office decision.
    pub async fn decide(
        &self,
        token: &str,
        id: &str,
        action: &str,
        reason: Option<&str>,
    ) -> (u16, Value) {
        let body = match reason {
            Some(r) => json!({ "reason": r }),
            None => json!({}),
        };
        let resp = self
            .http
            .post(format!(
                "{}/v1/api/backoffice/transactions/{id}/{action}",
                self.url
            ))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Checks a verify-user call's Standard Webhooks signature with the company's webhook
    /// secret (false when it carries none).
    pub fn verify_signature_ok(&self, call: &VerifyCall) -> bool {
        match (&call.webhook_id, call.timestamp, &call.signature) {
            (Some(id), Some(ts), Some(sig)) => signing::verify(
                self.company.webhook_secret.expose_secret(),
                id,
                ts,
                &call.body,
                sig,
            ),
            _ => false,
        }
    }

    /// Checks a received webhook's Standard Webhooks signature with the company secret.
    pub fn signature_ok(&self, w: &Received) -> bool {
        signing::verify(
            self.company.webhook_secret.expose_secret(),
            &w.id,
            w.timestamp,
            &w.body,
            &w.signature,
        )
    }
}

pub fn now_secs() -> u64 {
    SystemClock.now_ms() as u64 / 1000
}

/// The one webhook-id among `hooks` for transaction `txn` (fails if there are several or none).
pub fn one_webhook_id(hooks: &[Received], txn: &str) -> String {
    let ids: std::collections::BTreeSet<_> = hooks
        .iter()
        .filter(|w| w.json["transaction_id"] == txn)
        .map(|w| w.id.clone())
        .collect();
    assert_eq!(ids.len(), 1, "{txn}: webhook ids {ids:?}");
    ids.into_iter().next().unwrap()
}
