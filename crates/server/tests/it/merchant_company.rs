//! `GET`/`PATCH /v1/api/company` and the secret rotations, over HTTP on both backends.

use crate::harness::*;
use crate::merchant_support::*;
use crate::on_both_backends;
use overture_server::api::auth::issue_company_token;
use overture_server::workers::signing;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

fn payout(amount: &str, currency: &str) -> Value {
    let mut body = TestApp::payout_body(amount);
    body["currency"] = json!(currency);
    body
}

async fn state_of(app: &TestApp, body: &Value) -> String {
    let (status, resp) = app.cashier(body).await;
    assert_eq!(status, 200, "{resp}");
    let id = resp["data"]["transactionId"].as_str().unwrap();
    app.status(id).await["state"].as_str().unwrap().to_owned()
}

on_both_backends!(company_settings_change_only_the_keys_given, settings);
async fn settings(postgres: bool) {
    let app = start(postgres).await;
    let (status, got) = call(&app, "GET", "/v1/api/company", None).await;
    assert_eq!(status, 200, "{got}");
    let data = &got["data"];
    assert_eq!(data["name"], "Test MP");
    assert_eq!(data["webhookAuthorizationSet"], true);
    assert_eq!(data["defaultPayoutApprovalThreshold"], "1000");
    assert!(
        !got.to_string().contains("mp-webhook-secret"),
        "the Authorization value is write-only: {got}"
    );
    // Cached by that request; a payout of 600 EUR is not held yet.
    assert_ne!(
        state_of(&app, &payout("600.00", "EUR")).await,
        "awaiting_approval"
    );

    let patch = json!({
        "name": "Renamed MP",
        "payoutApprovalThresholds": {"EUR": "500.00", "CLP": "900000"},
        "fourEyesThresholds": {"EUR": "800"},
        "verifyPayins": true,
        "webhookAuthorization": null,
    });
    let (status, got) = call(&app, "PATCH", "/v1/api/company", Some(&patch)).await;
    assert_eq!(status, 200, "{got}");
    let data = &got["data"];
    assert_eq!(data["name"], "Renamed MP");
    assert_eq!(
        data["payoutApprovalThresholds"],
        json!({"CLP": "900000", "EUR": "500.00"})
    );
    assert_eq!(data["fourEyesThresholds"], json!({"EUR": "800.00"}));
    assert_eq!(data["webhookAuthorizationSet"], false);
    assert_eq!(data["verifyPayins"], true);
    assert_eq!(
        data["defaultPayoutApprovalThreshold"], "1000",
        "fallback kept"
    );

    // Only the keys given change.
    let (status, got) = call(
        &app,
        "PATCH",
        "/v1/api/company",
        Some(&json!({"name": "Again"})),
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["data"]["payoutApprovalThresholds"]["EUR"], "500.00");
    assert_eq!(got["data"]["verifyPayins"], true);

    // This node's cache serves the new settings at once: EUR uses its own threshold, USD the
    // fallback.
    assert_eq!(
        state_of(&app, &payout("600.00", "EUR")).await,
        "awaiting_approval"
    );
    assert_ne!(
        state_of(&app, &payout("600.00", "USD")).await,
        "awaiting_approval"
    );
    assert_eq!(
        state_of(&app, &payout("1000.00", "USD")).await,
        "awaiting_approval"
    );
    let stored = app
        .running
        .app
        .store
        .company(&app.company.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name, "Again");
    assert!(stored.webhook_authorization.is_none());

    // Threshold per currency removed with null.
    let (status, got) = call(
        &app,
        "PATCH",
        "/v1/api/company",
        Some(&json!({"payoutApprovalThresholds": {"CLP": null}})),
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got["data"]["payoutApprovalThresholds"],
        json!({"EUR": "500.00"})
    );
}

on_both_backends!(bad_company_settings_are_refused_whole, refused);
async fn refused(postgres: bool) {
    let app = start(postgres).await;
    let (_, before) = call(&app, "GET", "/v1/api/company", None).await;
    let patch = json!({
        "name": "Should not be stored",
        "webhookUrl": "http://10.0.0.1/hook",
        "verifyUserUrl": "http://169.254.169.254/latest",
        "payoutApprovalThresholds": {"EUR": "10.001", "XXX": "1"},
        "bogus": 1,
    });
    let (status, got) = call(&app, "PATCH", "/v1/api/company", Some(&patch)).await;
    assert_eq!(status, 400, "{got}");
    assert_eq!(got["errorCode"], "VALIDATION_ERROR");
    let mut fields = error_fields(&got);
    fields.sort();
    assert_eq!(
        fields,
        [
            "bogus",
            "payoutApprovalThresholds.EUR",
            "payoutApprovalThresholds.XXX"
        ],
        "{got}"
    );
    // The URLs alone: refused by the outbound policy, each named.
    let patch = json!({
        "name": "Should not be stored",
        "webhookUrl": "http://10.0.0.1/hook",
        "verifyUserUrl": "http://169.254.169.254/latest",
    });
    let (status, got) = call(&app, "PATCH", "/v1/api/company", Some(&patch)).await;
    assert_eq!(status, 400, "{got}");
    assert_eq!(error_fields(&got), ["webhookUrl", "verifyUserUrl"], "{got}");
    // Four-eyes below the hold threshold of its currency.
    let patch = json!({"fourEyesThresholds": {"USD": "5"}});
    let (status, got) = call(&app, "PATCH", "/v1/api/company", Some(&patch)).await;
    assert_eq!(status, 400, "{got}");
    assert_eq!(error_fields(&got), ["fourEyesThresholds.USD"], "{got}");
    let (_, after) = call(&app, "GET", "/v1/api/company", None).await;
    assert_eq!(before, after, "nothing stored");
    // A duplicate key is refused before anything else.
    let resp = app
        .http
        .patch(format!("{}/v1/api/company", app.url))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(r#"{"name":"a","name":"b"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

on_both_backends!(
    a_rotated_api_secret_keeps_working_for_the_grace_period,
    rotate_api
);
async fn rotate_api(postgres: bool) {
    let app = start(postgres).await;
    let old_user_token = app.user_token("user-1");
    let (status, got) = call(&app, "POST", "/v1/api/company/rotate-api-secret", None).await;
    assert_eq!(status, 200, "{got}");
    let secret = got["data"]["apiSecret"].as_str().unwrap().to_owned();
    assert_ne!(secret, app.company.api_secret.expose_secret());
    assert!(got["data"]["previousValidUntil"].is_string());
    let fresh = issue_company_token(
        &app.company.id,
        &SecretString::from(secret.clone()),
        now_secs(),
        600,
    );
    for token in [&app.token, &fresh] {
        let (status, got) = call_as(&app, token, "GET", "/v1/api/company", None).await;
        assert_eq!(status, 200, "{got}");
    }
    let (_, got) = call(&app, "GET", "/v1/api/company", None).await;
    assert!(
        got["data"]["previousApiSecretValidUntil"].is_string(),
        "{got}"
    );
    assert!(!got.to_string().contains(&secret), "shown once only");
    // An x-user-token signed with the old secret still verifies.
    let resp = app
        .http
        .post(format!("{}/v1/api/mozarto/cashier", app.url))
        .bearer_auth(&fresh)
        .header("x-user-token", format!("Bearer {old_user_token}"))
        .json(&TestApp::payout_body("10.00"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

#[tokio::test]
async fn without_grace_the_rotated_api_secret_stops_at_once() {
    let app = TestApp::with(Options {
        extra_args: vec!["--secret-grace".into(), "0s".into()],
        ..Options::default()
    })
    .await;
    let (status, got) = call(&app, "POST", "/v1/api/company/rotate-api-secret", None).await;
    assert_eq!(status, 200, "{got}");
    let (status, got) = call(&app, "GET", "/v1/api/company", None).await;
    assert_eq!(
        status, 401,
        "the old secret is refused at once on this node: {got}"
    );
    let secret = SecretString::from(got_secret(&app).await);
    let fresh = issue_company_token(&app.company.id, &secret, now_secs(), 600);
    let (status, _) = call_as(&app, &fresh, "GET", "/v1/api/company", None).await;
    assert_eq!(status, 200);
}

async fn got_secret(app: &TestApp) -> String {
    let company = app
        .running
        .app
        .store
        .company(&app.company.id)
        .await
        .unwrap()
        .unwrap();
    company.api_secret.expose_secret().to_owned()
}

on_both_backends!(
    a_rotated_webhook_secret_signs_beside_the_new_one,
    rotate_webhook
);
async fn rotate_webhook(postgres: bool) {
    let app = start(postgres).await;
    let old = app.company.webhook_secret.expose_secret().to_owned();
    let (status, got) = call(&app, "POST", "/v1/api/company/rotate-webhook-secret", None).await;
    assert_eq!(status, 200, "{got}");
    let new = got["data"]["webhookSecret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("whsec_") && new != old);
    // A payout without merchantReference: its webhook says null, as the status API does.
    let mut body = TestApp::payout_body("20.00");
    body.as_object_mut().unwrap().remove("merchantReference");
    let (status, resp) = app.cashier(&body).await;
    assert_eq!(status, 200, "{resp}");
    let id = resp["data"]["transactionId"].as_str().unwrap().to_owned();
    app.wait_final(&id).await;
    let hook = wait_webhook(&app, &id).await;
    let entries: Vec<&str> = hook.signature.split(' ').collect();
    assert_eq!(entries.len(), 2, "old and new: {}", hook.signature);
    assert!(entries.iter().all(|e| e.starts_with("v1,")));
    for key in [&old, &new] {
        assert!(
            signing::verify(key, &hook.id, hook.timestamp, &hook.body, &hook.signature),
            "a receiver holding only one key accepts the delivery"
        );
    }
    assert!(!signing::verify(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &hook.id,
        hook.timestamp,
        &hook.body,
        &hook.signature
    ));
    assert!(hook.json["merchantReference"].is_null(), "{}", hook.body);
    assert_eq!(hook.json["transaction_status"], "Approved");
    assert!(hook.json["message"].is_null(), "{}", hook.body);

    // The signed verify-user call at a held payout's approval carries both signatures too.
    let held = app.payout("1500.00").await;
    let approver = app.operator(overture_core::Role::Approver).await;
    let (status, got) = app
        .decide(&approver, &held, "approve", Some("KYC ok"))
        .await;
    assert_eq!(status, 200, "{got}");
    let call = app
        .mp
        .verify_calls
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|c| c.signature.is_some())
        .cloned()
        .expect("a signed verify-user call");
    let (id, ts, sig) = (
        call.webhook_id.unwrap(),
        call.timestamp.unwrap(),
        call.signature.unwrap(),
    );
    assert_eq!(sig.split(' ').count(), 2, "{sig}");
    for key in [&old, &new] {
        assert!(signing::verify(key, &id, ts, &call.body, &sig));
    }
}

/// The first webhook the fake MP received for `txn` (waits up to 10 s).
pub async fn wait_webhook(app: &TestApp, txn: &str) -> Received {
    for _ in 0..200 {
        if let Some(w) = app.mp.webhooks_for(txn).into_iter().next() {
            return w;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no webhook for {txn}");
}
