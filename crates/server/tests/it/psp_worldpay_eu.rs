//! WORLDPAY_EU end to end: a card pay-in on the sandbox's Hosted Payment Page, its XML order
//! notification received by the server and acknowledged with `[OK]` (the sandbox counts only
//! acknowledged notifications), the inquiry that decides, and the MP's webhook.

use crate::harness::*;
use overture_core::connector::AccountContext;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

/// Points the company's WORLDPAY_EU account's notifications at Overture, as an operator does
/// in Worldpay's Merchant Admin Interface (the sandbox's `/_merchant_channel` stands in for it).
async fn set_merchant_channel(app: &TestApp) {
    let accounts = app
        .running
        .app
        .store
        .psp_accounts(&app.company.id)
        .await
        .unwrap();
    let account = accounts
        .iter()
        .find(|a| a.psp_type.as_str() == "WORLDPAY_EU")
        .expect("a WORLDPAY_EU sandbox account");
    let address = AccountContext::new(account, &app.url).callback_url;
    let cred = |name: &str| account.credentials.0[name].expose_secret().to_owned();
    let response = app
        .http
        .post(format!("{}/_merchant_channel", account.base_url))
        .basic_auth(cred("xml_username"), Some(cred("xml_password")))
        .form(&[("address", address.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

fn body(amount: f64) -> Value {
    json!({"pspType": "WORLDPAY_EU", "type": "PAYIN", "baseamount": amount, "currency": "EUR",
        "userId": "user-wp", "email": "player@example.com", "country": "DE",
        "returnUrl": "https://merchant.example/back"})
}

/// Creates the pay-in and answers its page with `outcome`; returns the transaction id and
/// where the shopper was sent.
async fn pay(app: &TestApp, amount: f64, outcome: &str) -> (String, String) {
    let (status, resp) = app.cashier(&body(amount)).await;
    assert_eq!(status, 200, "{resp}");
    let url = resp["data"]["url"].as_str().unwrap().to_owned();
    assert!(url.contains("/sandbox/worldpay_eu/hpp?OrderKey="), "{url}");
    assert!(
        url.contains("successURL=https%3A%2F%2Fmerchant.example%2Fback"),
        "{url}"
    );
    let page = app.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
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
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    (
        resp["data"]["transactionId"].as_str().unwrap().to_owned(),
        location,
    )
}

async fn sandbox_order(app: &TestApp, id: &str) -> Value {
    let orders = app.sandbox_orders("worldpay_eu").await;
    orders
        .into_iter()
        .find(|o| o["order_code"] == id)
        .expect("the order")
}

#[tokio::test]
async fn notification_is_acknowledged_ok_and_the_inquiry_approves() {
    let app = TestApp::start().await;
    set_merchant_channel(&app).await;
    let (id, location) = pay(&app, 20.00, "approve").await;
    assert!(
        location.starts_with("https://merchant.example/back?orderKey="),
        "{location}"
    );
    assert!(location.contains("mac2="), "{location}");
    let view = app.wait_final(&id).await;
    assert_eq!(view["transactionStatus"], "Approved", "{view}");
    let hook = &app.mp.wait_delivered(&id, 1).await[0];
    assert!(app.signature_ok(hook));
    assert_eq!(hook.json["pspType"], "WORLDPAY_EU");
    assert_eq!(hook.json["amount"], "20.00");
    for _ in 0..100 {
        if sandbox_order(&app, &id).await["notifications_acked"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let order = sandbox_order(&app, &id).await;
    assert_eq!(
        order["notifications_acked"], 1,
        "the server answered [OK]: {order}"
    );
    assert_eq!(
        order["notify_attempts"], 1,
        "acknowledged at the first attempt: {order}"
    );
    assert!(
        order["inquiries"].as_u64().unwrap() >= 1,
        "the inquiry decided: {order}"
    );
}

#[tokio::test]
async fn refused_page_declines_and_a_lying_notification_changes_nothing() {
    let app = TestApp::start().await;
    set_merchant_channel(&app).await;
    let (refused, _) = pay(&app, 20.00, "decline").await;
    let view = app.wait_final(&refused).await;
    assert_eq!(view["transactionStatus"], "Declined", "{view}");
    // .57: the notification claims REFUSED and the redirect's MAC is wrong; the inquiry says
    // AUTHORISED.
    let (lied_about, _) = pay(&app, 20.57, "approve").await;
    let view = app.wait_final(&lied_about).await;
    assert_eq!(view["transactionStatus"], "Approved", "{view}");
    assert_eq!(app.mp.wait_delivered(&lied_about, 1).await.len(), 1);
}
