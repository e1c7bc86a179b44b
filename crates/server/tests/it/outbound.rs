//! The outbound guard end to end: redirects from webhook, verify-user and PSP URLs are never
//! followed, and in production mode a loopback webhook URL is refused unless allow-listed.

use crate::harness::*;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use overture_core::{CompanyId, WebhookAttempt, WebhookId};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A local server whose every path answers `status` with `Location: <target>/<path>` (or, with
/// no target, its own `/allow-all`), and an `/allow-all` route that tells verify-user "allowed"
/// to anyone: the redirect target an attacker would pick. Both count their calls.
#[derive(Clone)]
struct Redirector {
    url: String,
    redirected: Arc<AtomicUsize>,
    allow_all_calls: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct RedirectTo {
    status: StatusCode,
    target: Option<String>,
    redirector: Redirector,
}

impl Redirector {
    async fn start(status: StatusCode, target: Option<&str>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let redirector = Self {
            url: format!("http://{}", listener.local_addr().unwrap()),
            redirected: Arc::default(),
            allow_all_calls: Arc::default(),
        };
        let state = RedirectTo {
            status,
            target: target.map(|t| t.trim_end_matches('/').to_owned()),
            redirector: redirector.clone(),
        };
        let router = Router::new()
            .route("/allow-all", any(allow_all))
            .route("/{*rest}", any(redirect))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        redirector
    }

    fn redirected(&self) -> usize {
        self.redirected.load(Ordering::SeqCst)
    }
}

async fn redirect(State(to): State<RedirectTo>, Path(rest): Path<String>) -> Response {
    to.redirector.redirected.fetch_add(1, Ordering::SeqCst);
    let location = match &to.target {
        Some(target) => format!("{target}/{rest}"),
        None => format!("{}/allow-all", to.redirector.url),
    };
    (to.status, [("location", location)]).into_response()
}

async fn allow_all(State(to): State<RedirectTo>) -> Json<Value> {
    to.redirector.allow_all_calls.fetch_add(1, Ordering::SeqCst);
    Json(json!({ "allowed": true }))
}

/// Points the test app at a new company with these URLs and its sandbox accounts at
/// `psp_base` (the harness's own company is left alone).
async fn rewire(app: &mut TestApp, webhook_url: String, verify_user_url: String, psp_base: &str) {
    let mut company = app.company.clone();
    company.id = CompanyId::generate();
    company.webhook_url = webhook_url;
    company.verify_user_url = verify_user_url;
    let store = app.running.app.store.clone();
    store.insert_company(&company).await.unwrap();
    // Accounts are opened at the real sandbox; their base URL is `psp_base`.
    let sandbox = app.url.clone();
    overture_server::demo::add_sandbox_accounts(store.as_ref(), &company.id, psp_base, &sandbox, 0)
        .await
        .unwrap();
    app.token = overture_server::api::auth::issue_company_token(
        &company.id,
        &company.api_secret,
        now_secs(),
        600,
    );
    app.company = company;
}

/// Waits until the transaction's first webhook has at least `n` recorded attempts.
async fn wait_attempts(app: &TestApp, txn: &str, n: usize) -> Vec<WebhookAttempt> {
    for _ in 0..200 {
        let view = app.status(txn).await;
        if let Some(id) = view["webhooks"][0]["webhookId"].as_str() {
            let attempts = app
                .running
                .app
                .store
                .webhook_attempts(&WebhookId::from_trusted(id.to_owned()))
                .await
                .unwrap();
            if attempts.len() >= n {
                return attempts;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{txn}: fewer than {n} webhook attempts: {}",
        app.status(txn).await
    );
}

#[tokio::test]
async fn webhook_redirect_is_a_failed_attempt_and_never_followed() {
    let mut app = TestApp::start().await;
    // 307 keeps the method and body: following it would re-post the signed webhook.
    let redirector = Redirector::start(StatusCode::TEMPORARY_REDIRECT, Some(&app.mp.url)).await;
    let (webhook, verify) = (
        format!("{}/webhook", redirector.url),
        format!("{}/verify", app.mp.url),
    );
    let base = app.url.clone();
    rewire(&mut app, webhook, verify, &base).await;
    let id = app.payout("100.00").await;
    let attempts = wait_attempts(&app, &id, 2).await;
    assert!(
        attempts.iter().all(|a| a.http_status == Some(307)),
        "{attempts:?}"
    );
    assert!(redirector.redirected() >= 2, "the delivery was retried");
    assert!(
        app.mp.webhooks_for(&id).is_empty(),
        "the redirect target received nothing"
    );
    let view = app.status(&id).await;
    assert_ne!(view["webhooks"][0]["state"], "delivered", "{view}");
}

#[tokio::test]
async fn verify_user_redirect_is_never_followed() {
    let mut app = TestApp::start().await;
    // The 302 points at a route that allows anyone: following it would ask it by GET,
    // without the user's authorization, and trust the answer.
    let redirector = Redirector::start(StatusCode::FOUND, None).await;
    let (webhook, verify) = (
        format!("{}/webhook", app.mp.url),
        format!("{}/verify", redirector.url),
    );
    let base = app.url.clone();
    rewire(&mut app, webhook, verify, &base).await;
    let (status, body) = app.cashier(&TestApp::payout_body("100.00")).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (502, Some("USER_VERIFICATION_UNAVAILABLE")),
        "{body}"
    );
    assert_eq!(redirector.redirected(), 1);
    assert_eq!(redirector.allow_all_calls.load(Ordering::SeqCst), 0);
    assert_eq!(app.stored_count().await, 0);
    assert!(app.sandbox_orders("paymentsoft").await.is_empty());
}

#[tokio::test]
async fn psp_redirect_is_never_followed() {
    let mut app = TestApp::start().await;
    // Every PSP path answers 307 to the same path on the real sandboxes.
    let redirector = Redirector::start(StatusCode::TEMPORARY_REDIRECT, Some(&app.url)).await;
    let (webhook, verify) = (
        format!("{}/webhook", app.mp.url),
        format!("{}/verify", app.mp.url),
    );
    let base = redirector.url.clone();
    rewire(&mut app, webhook, verify, &base).await;
    let (status, body) = app.cashier(&TestApp::payout_body("100.00")).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (502, Some("UNKNOWN_PSP_ERROR")),
        "{body}"
    );
    // The create call and then status queries were all redirected, and none was followed.
    for _ in 0..100 {
        if redirector.redirected() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(redirector.redirected() >= 2, "{}", redirector.redirected());
    assert!(
        app.sandbox_orders("paymentsoft").await.is_empty(),
        "nothing reached the PSP"
    );
}

/// A FORUMPAY pay-in on a `--production` server: the sandboxes are not mounted there, so the
/// PSP call fails and the transaction fails at once, which writes the webhook to deliver.
async fn failed_payin_in_production(outbound_allow: Option<&str>) -> (TestApp, String) {
    let mut extra_args = vec!["--production".to_owned()];
    if let Some(allow) = outbound_allow {
        extra_args.extend(["--outbound-allow".to_owned(), allow.to_owned()]);
    }
    let app = TestApp::with(Options {
        extra_args,
        ..Options::default()
    })
    .await;
    assert!(
        app.company.webhook_url.starts_with("http://127.0.0.1:"),
        "the harness's company has its webhook URL on loopback"
    );
    let (status, body) = app.cashier(&TestApp::payin_body("25.00")).await;
    assert_ne!(status, 200, "{body}");
    let id = body["transactionId"].as_str().unwrap().to_owned();
    assert_eq!(app.wait_final(&id).await["state"], "failed");
    (app, id)
}

#[tokio::test]
async fn production_refuses_a_loopback_webhook_url() {
    let (app, id) = failed_payin_in_production(None).await;
    let attempts = wait_attempts(&app, &id, 2).await;
    for attempt in &attempts {
        assert_eq!(attempt.http_status, None, "{attempt:?}");
        assert!(
            attempt.response_excerpt.starts_with("refused: "),
            "{attempt:?}"
        );
    }
    assert!(
        app.mp.webhooks.lock().unwrap().is_empty(),
        "never connected"
    );
    // The PSP call was refused the same way, as "unreachable" (nothing was sent).
    let view = app.status(&id).await;
    assert!(view.to_string().contains("outbound policy"), "{view}");
}

#[tokio::test]
async fn production_allow_list_reopens_the_loopback_webhook_url() {
    let (app, id) = failed_payin_in_production(Some("127.0.0.1/32")).await;
    let hooks = app.mp.wait_delivered(&id, 1).await;
    assert!(app.signature_ok(&hooks[0]));
    assert_eq!(hooks[0].json["transaction_status"], "Failed");
}
