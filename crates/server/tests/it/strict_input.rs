//! Strict request bodies (issue: money-path hardening): duplicate keys, nesting depth, control
//! and bidirectional characters, and idempotency hashes that never collapse. Each refusal is a
//! 400 naming the field, before any outside call, with nothing stored — on SQLite and, when
//! `OVERTURE_TEST_POSTGRES_URL` is set, on PostgreSQL (which cannot store U+0000 at all).

use crate::harness::*;
use serde_json::{json, Value};

async fn raw_cashier(app: &TestApp, body: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/v1/api/mozarto/cashier", app.url))
        .bearer_auth(&app.token)
        .header(
            "x-user-token",
            format!("Bearer {}", app.user_token("user-1")),
        )
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn assert_nothing_happened(app: &TestApp) {
    assert_eq!(app.stored_count().await, 0, "nothing stored");
    assert!(
        app.mp.verify_calls.lock().unwrap().is_empty(),
        "the MP was not asked"
    );
    assert!(
        app.sandbox_orders("paymentsoft").await.is_empty(),
        "nothing reached the PSP"
    );
}

async fn start() -> TestApp {
    TestApp::with(Options {
        postgres: true,
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn duplicate_keys_are_refused_naming_the_key() {
    let app = start().await;
    let body = r#"{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":1,"baseamount":100000,"currency":"EUR","userId":"user-1","email":"p@example.com"}"#;
    let (status, resp) = raw_cashier(&app, body, &[]).await;
    assert_eq!(status, 400, "{resp}");
    assert_eq!(resp["errorCode"], "VALIDATION_ERROR");
    assert_eq!(fields(&resp), ["baseamount"], "{resp}");
    assert_nothing_happened(&app).await;
}

#[tokio::test]
async fn deep_bodies_are_refused_and_never_share_an_idempotency_hash() {
    let app = start().await;
    let deep = |amount: &str| {
        format!(
            r#"{{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":{amount},"currency":"EUR","userId":"user-1","email":"p@example.com","x":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        )
    };
    let key = [("idempotency-key", "deep-1")];
    for amount in ["10.00", "20.00"] {
        let (status, resp) = raw_cashier(&app, &deep(amount), &key).await;
        assert_eq!(status, 400, "{resp}");
        assert_eq!(resp["errorCode"], "VALIDATION_ERROR");
        assert_eq!(fields(&resp), ["body"], "{resp}");
    }
    assert_nothing_happened(&app).await;
    // Depth 33 is refused, 32 is read (and then refused for its nested PSP field's type).
    let nested = |depth: usize| {
        format!(
            r#"{{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":10,"currency":"EUR","userId":"user-1","email":"p@example.com","x":{}{{}}{}}}"#,
            "{\"a\":".repeat(depth - 2),
            "}".repeat(depth - 2)
        )
    };
    let (_, resp) = raw_cashier(&app, &nested(33), &[]).await;
    assert_eq!(fields(&resp), ["body"], "{resp}");
    let (_, resp) = raw_cashier(&app, &nested(32), &[]).await;
    assert_eq!(fields(&resp), ["x"], "{resp}");
    assert_nothing_happened(&app).await;
}

#[tokio::test]
async fn control_and_bidi_characters_are_refused_naming_the_field() {
    let app = start().await;
    for (field, value) in [
        ("userId", "user\u{0}1"),
        ("email", "p\u{7}@example.com"),
        ("merchantReference", "ref\u{0}"),
        ("brandId", "brand\u{202e}a"),
        ("returnUrl", "https://shop.example/\u{2066}back"),
        ("walletAddress", "bc1q\u{1b}[31m"),
    ] {
        let mut body = TestApp::payout_body("10.00");
        body[field] = json!(value);
        // userId must match the token's: send the body with a session header instead.
        let resp = app
            .http
            .post(format!("{}/v1/api/mozarto/cashier", app.url))
            .bearer_auth(&app.token)
            .header("x-user-authorization", "mp-session")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let resp: Value = resp.json().await.unwrap();
        assert_eq!(status, 400, "{field}: {resp}");
        assert_eq!(resp["errorCode"], "VALIDATION_ERROR");
        assert!(fields(&resp).contains(&field.to_owned()), "{field}: {resp}");
    }
    assert_nothing_happened(&app).await;
}

#[tokio::test]
async fn user_token_claims_follow_the_same_rules() {
    let app = start().await;
    let claims = json!({
        "userId": "user-1", "email": "p@example.com", "firstName": "Ada\u{0}", "lastName": "L",
        "phone": "1", "countryCode": "DE", "exp": now_secs() + 600,
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(
            secrecy::ExposeSecret::expose_secret(&app.company.api_secret).as_bytes(),
        ),
    )
    .unwrap();
    let resp = app
        .http
        .post(format!("{}/v1/api/mozarto/cashier", app.url))
        .bearer_auth(&app.token)
        .header("x-user-token", format!("Bearer {token}"))
        .json(&TestApp::payout_body("10.00"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp: Value = resp.json().await.unwrap();
    assert_eq!(fields(&resp), ["x-user-token.firstName"], "{resp}");
    assert_nothing_happened(&app).await;
}

#[tokio::test]
async fn operator_reasons_with_a_nul_are_refused() {
    let app = start().await;
    let id = app.payout("1500.00").await;
    let approver = app.operator(overture_core::Role::Approver).await;
    let (status, resp) = app
        .decide(&approver, &id, "reject", Some("bonus\u{0}abuse"))
        .await;
    assert_eq!(status, 400, "{resp}");
    assert_eq!(fields(&resp), ["reason"], "{resp}");
    assert_eq!(app.status(&id).await["state"], "awaiting_approval");
    let (status, resp) = app
        .decide(&approver, &id, "reject", Some("bonus abuse"))
        .await;
    assert_eq!(status, 200, "{resp}");
}

#[tokio::test]
async fn idempotency_keys_must_be_printable_ascii() {
    let app = start().await;
    let body = TestApp::payout_body("10.00").to_string();
    let (status, resp) = raw_cashier(&app, &body, &[("idempotency-key", "a\tb")]).await;
    assert_eq!(status, 400, "{resp}");
    assert_eq!(fields(&resp), ["Idempotency-Key"]);
    assert_nothing_happened(&app).await;
}

#[tokio::test]
async fn a_login_email_with_a_nul_is_refused_not_a_500() {
    let app = start().await;
    let mut browser = crate::backoffice_support::Browser::new(&app);
    let answer = browser.login("ops\u{0}@example.com", "whatever").await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.error_code.as_deref(), Some("VALIDATION_ERROR"));
}
