//! MP user verification before payouts: denied ⇒ 403; down ⇒ 502; slow ⇒ 504; nothing sent.

use crate::harness::*;

async fn payout_with_verify(mode: Verify) -> (u16, serde_json::Value, TestApp) {
    let app = TestApp::start().await;
    *app.mp.verify.lock().unwrap() = mode;
    let (status, body) = app.cashier(&TestApp::payout_body("100.00")).await;
    (status, body, app)
}

async fn nothing_sent(app: &TestApp) {
    assert_eq!(app.stored_count().await, 0);
    assert!(
        app.sandbox_orders("paymentsoft").await.is_empty(),
        "nothing reached the PSP"
    );
}

#[tokio::test]
async fn denied_user_is_403() {
    let (status, body, app) = payout_with_verify(Verify::Deny).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (403, Some("USER_NOT_VERIFIED")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("self-excluded"));
    nothing_sent(&app).await;
}

#[tokio::test]
async fn mp_down_is_502() {
    let (status, body, app) = payout_with_verify(Verify::Error500).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (502, Some("USER_VERIFICATION_UNAVAILABLE"))
    );
    nothing_sent(&app).await;
}

#[tokio::test]
async fn mp_too_slow_is_504() {
    let (status, body, app) = payout_with_verify(Verify::Slow).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (504, Some("USER_VERIFICATION_UNAVAILABLE"))
    );
    nothing_sent(&app).await;
}

#[tokio::test]
async fn mp_unreachable_is_502() {
    let app = TestApp::start().await;
    let mut company = app.company.clone();
    company.id = overture_core::CompanyId::generate();
    company.verify_user_url = "http://127.0.0.1:9/verify".into();
    // A second company pointing at a closed port.
    app.running
        .app
        .store
        .insert_company(&company)
        .await
        .unwrap();
    overture_server::demo::add_sandbox_accounts(
        app.running.app.store.as_ref(),
        &company.id,
        &app.url,
        &app.url,
        0,
    )
    .await
    .unwrap();
    let token = overture_server::api::auth::issue_company_token(
        &company.id,
        &company.api_secret,
        now_secs(),
        600,
    );
    let resp = app
        .http
        .post(format!("{}/v1/api/mozarto/cashier", app.url))
        .bearer_auth(token)
        .header(
            "x-user-token",
            format!("Bearer {}", app.user_token("user-1")),
        )
        .json(&TestApp::payout_body("100.00"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
}
