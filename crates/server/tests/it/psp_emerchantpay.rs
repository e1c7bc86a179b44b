//! EMERCHANTPAY end to end: a card pay-in on the sandbox's Genesis web payment form, its
//! signed notification received by the server and answered with the `notification_echo`
//! (the sandbox counts only correctly echoed notifications), the `wpf_reconcile` that decides,
//! and the MP's webhook.

use crate::harness::*;
use serde_json::{json, Value};

fn body(amount: f64) -> Value {
    json!({"pspType": "EMERCHANTPAY", "type": "PAYIN", "baseamount": amount, "currency": "EUR",
        "userId": "user-emp", "email": "player@example.com", "country": "DE",
        "returnUrl": "https://merchant.example/back"})
}

async fn pay(app: &TestApp, amount: f64, outcome: &str) -> String {
    let (status, resp) = app.cashier(&body(amount)).await;
    assert_eq!(status, 200, "{resp}");
    let url = resp["data"]["url"].as_str().unwrap().to_owned();
    assert!(url.contains("/sandbox/emerchantpay/payment/"), "{url}");
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 200);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let done = no_redirects
        .post(&url)
        .form(&[("outcome", outcome)])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "https://merchant.example/back");
    resp["data"]["transactionId"].as_str().unwrap().to_owned()
}

async fn sandbox_form(app: &TestApp, id: &str) -> Value {
    let forms = app.sandbox_orders("emerchantpay").await;
    forms
        .into_iter()
        .find(|f| f["transaction_id"] == id)
        .expect("the form")
}

#[tokio::test]
async fn notification_is_echoed_and_reconcile_approves() {
    let app = TestApp::start().await;
    let id = pay(&app, 20.00, "approve").await;
    let view = app.wait_final(&id).await;
    assert_eq!(view["transactionStatus"], "Approved", "{view}");
    let hook = &app.mp.wait_delivered(&id, 1).await[0];
    assert!(app.signature_ok(hook));
    assert_eq!(hook.json["pspType"], "EMERCHANTPAY");
    for _ in 0..100 {
        if sandbox_form(&app, &id).await["notifications_echoed"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let form = sandbox_form(&app, &id).await;
    assert_eq!(
        form["notifications_echoed"], 1,
        "the server echoed the unique id: {form}"
    );
    assert_eq!(
        form["notify_attempts"], 1,
        "echoed at the first attempt: {form}"
    );
    assert!(
        form["reconciles"].as_u64().unwrap() >= 1,
        "reconcile decided: {form}"
    );
}

#[tokio::test]
async fn declined_form_and_a_forged_notification() {
    let app = TestApp::start().await;
    let declined = pay(&app, 20.00, "decline").await;
    assert_eq!(
        app.wait_final(&declined).await["transactionStatus"],
        "Declined"
    );
    let forged = pay(&app, 20.57, "approve").await;
    let view = app.wait_final(&forged).await;
    assert_eq!(view["transactionStatus"], "Approved", "{view}");
}

#[tokio::test]
async fn a_payin_without_return_url_is_refused_before_the_psp() {
    let app = TestApp::start().await;
    let mut without = body(20.00);
    without.as_object_mut().unwrap().remove("returnUrl");
    let (status, resp) = app.cashier(&without).await;
    assert_eq!(status, 400, "{resp}");
    assert!(resp.to_string().contains("returnUrl"), "{resp}");
    assert!(app.sandbox_orders("emerchantpay").await.is_empty());
}
