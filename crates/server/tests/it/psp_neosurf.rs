//! NEOSURF end to end: Neosurf publishes no status query, so a verified callback whose order
//! id, amount and currency match is applied as final; a forged or mismatching one changes
//! nothing, and a pay-in whose callback never comes fails when the schedule gives up.

use crate::harness::*;
use overture_connectors::neosurf::wire::CallbackIn;
use secrecy::ExposeSecret;
use serde_json::Value;

fn body(amount: &str) -> Value {
    serde_json::from_str(&format!(
        r#"{{"pspType":"NEOSURF","type":"PAYIN","baseamount":{amount},"currency":"EUR","userId":"user-n","email":"player@example.com","returnUrl":"https://merchant.example/back"}}"#
    ))
    .unwrap()
}

/// Creates a pay-in; returns its id and page URL.
async fn create(app: &TestApp, amount: &str) -> (String, String) {
    let (status, resp) = app.cashier(&body(amount)).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["data"]["status"], "PENDING");
    let url = resp["data"]["url"].as_str().unwrap().to_owned();
    assert!(url.contains("/sandbox/neosurf/EN-"), "{url}");
    (
        resp["data"]["transactionId"].as_str().unwrap().to_owned(),
        url,
    )
}

async fn submit(app: &TestApp, url: &str, outcome: &str) {
    let page = app.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let done = no_redirects
        .post(url)
        .form(&[("outcome", outcome)])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "https://merchant.example/back");
}

#[tokio::test]
async fn a_paid_page_is_approved_by_its_callback_alone() {
    let app = TestApp::start().await;
    let (id, url) = create(&app, "20.00").await;
    submit(&app, &url, "approve").await;
    let view = app.wait_final(&id).await;
    assert_eq!(
        (view["state"].as_str(), view["pspStatus"].as_str()),
        (Some("approved"), Some("ok"))
    );
    let orders = app.sandbox_orders("neosurf").await;
    assert_eq!(view["pspTransactionId"], orders[0]["transaction_id"]);
    let hooks = app.mp.wait_delivered(&id, 1).await;
    assert_eq!(hooks[0].json["transaction_status"], "Approved");
}

#[tokio::test]
async fn a_declined_page_is_declined_and_a_forged_callback_is_ignored() {
    let app = TestApp::start().await;
    let (declined, url) = create(&app, "20.00").await;
    submit(&app, &url, "decline").await;
    assert_eq!(app.wait_final(&declined).await["state"], "declined");
    // .57: a forged `ko` first (refused), then the genuine `ok`.
    let (forged, url) = create(&app, "20.57").await;
    submit(&app, &url, "approve").await;
    assert_eq!(app.wait_final(&forged).await["state"], "approved");
    let hooks = app.mp.wait_delivered(&forged, 1).await;
    one_webhook_id(&hooks, &forged);
    assert_eq!(hooks[0].json["transaction_status"], "Approved");
}

/// A correctly hashed callback posted by hand: one whose amount differs from the order is
/// refused and changes nothing; the matching one is applied as final.
#[tokio::test]
async fn only_a_callback_matching_the_order_is_applied() {
    let app = TestApp::start().await;
    let (id, _) = create(&app, "20.00").await;
    let store = &app.running.app.store;
    let account = store
        .psp_accounts(&app.company.id)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.psp_type.as_str() == "NEOSURF")
        .unwrap();
    let secret = account.credentials.0["secret_key"]
        .expose_secret()
        .to_owned();
    let callback = |amount: &str, currency: &str| CallbackIn {
        amount: amount.into(),
        currency: currency.into(),
        merchant_id: account.credentials.0["merchant_id"]
            .expose_secret()
            .to_owned(),
        merchant_transaction_id: id.clone(),
        status: "ok".into(),
        transaction_id: "hand-1".into(),
        ..Default::default()
    };
    let url = format!("{}/v1/api/psp-callbacks/neosurf/{}", app.url, account.id);
    for (amount, currency) in [("2100", "eur"), ("2000", "gbp")] {
        let fields = callback(amount, currency).fields(&secret);
        let answer = app.http.post(&url).form(&fields).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{amount} {currency}");
        assert_eq!(app.status(&id).await["state"], "pending");
    }
    let unsigned = callback("2000", "eur").fields("not-the-key");
    let answer = app.http.post(&url).form(&unsigned).send().await.unwrap();
    assert_eq!(
        answer.status(),
        400,
        "an unverified callback of a PSP without status query"
    );
    assert_eq!(app.status(&id).await["state"], "pending");
    let fields = callback("2000", "eur").fields(&secret);
    let answer = app.http.post(&url).form(&fields).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "OK");
    let view = app.status(&id).await;
    assert_eq!(
        (view["state"].as_str(), view["pspTransactionId"].as_str()),
        (Some("approved"), Some("hand-1"))
    );
}

#[tokio::test]
async fn a_pay_in_without_callback_fails_when_the_schedule_gives_up() {
    let app = TestApp::with(Options {
        extra_args: vec!["--poll-timeout".into(), "2s".into()],
        ..Options::default()
    })
    .await;
    let (id, url) = create(&app, "20.55").await;
    submit(&app, &url, "approve").await;
    let view = app.wait_final(&id).await;
    assert_eq!(view["state"], "failed", "{view}");
    assert!(
        view["message"].as_str().unwrap().contains("timeout"),
        "{view}"
    );
    let orders = app.sandbox_orders("neosurf").await;
    assert_eq!(
        (
            orders[0]["status"].as_str(),
            orders[0]["callback_attempts"].as_u64()
        ),
        (Some("ok"), Some(0))
    );
}
