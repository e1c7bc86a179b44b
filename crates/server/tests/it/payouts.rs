//! PAYMENTSOFT payouts through every sandbox scenario (the cents table).

use crate::harness::*;

async fn final_payout(app: &TestApp, amount: &str, expected: &str) -> (String, serde_json::Value) {
    let id = app.payout(amount).await;
    let view = app.wait_final(&id).await;
    assert_eq!(view["transactionStatus"], expected, "{view}");
    (id, view)
}

#[tokio::test]
async fn payout_approved_reaches_the_mp_by_signed_webhook() {
    let app = TestApp::start().await;
    let (id, view) = final_payout(&app, "100.00", "Approved").await;
    let states: Vec<_> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["created", "submitting", "pending", "approved"]);
    let hooks = app.mp.wait_delivered(&id, 1).await;
    let w = &hooks[0];
    assert!(app.signature_ok(w), "signature must verify");
    assert_eq!(w.authorization.as_deref(), Some("Bearer mp-webhook-secret"));
    assert_eq!(w.json["transaction_status"], "Approved");
    assert_eq!(w.json["amount"], "100.00");
    assert_eq!(w.json["currency"], "EUR");
    assert_eq!(w.json["user_id"], "user-1");
    assert_eq!(w.json["merchantReference"], "ref-100.00");
    assert_eq!(w.json["type"], "PAYOUT");
    assert_eq!(w.json["pspType"], "PAYMENTSOFT");
    assert!(!w.json["psp_transaction_id"].as_str().unwrap().is_empty());
    // The MP's verify-user endpoint saw the user's own token and the payout.
    let calls = app.mp.verify_calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert!(calls[0]
        .authorization
        .as_deref()
        .unwrap()
        .starts_with("Bearer ey"));
    assert_eq!(calls[0].json["amount"], "100.00");
    let orders = app.sandbox_orders("paymentsoft").await;
    assert_eq!(
        orders
            .iter()
            .filter(|o| o["client_orderid"] == id.as_str())
            .count(),
        1
    );
}

#[tokio::test]
async fn payout_declined_and_failed() {
    let app = TestApp::start().await;
    let (declined, _) = final_payout(&app, "10.51", "Declined").await;
    let (failed, _) = final_payout(&app, "10.52", "Failed").await;
    assert_eq!(
        app.mp.wait_delivered(&declined, 1).await[0].json["transaction_status"],
        "Declined"
    );
    assert_eq!(
        app.mp.wait_delivered(&failed, 1).await[0].json["transaction_status"],
        "Failed"
    );
}

#[tokio::test]
async fn payout_that_stays_processing_times_out() {
    let app = TestApp::with(Options {
        extra_args: vec!["--poll-timeout".into(), "2s".into()],
        ..Default::default()
    })
    .await;
    let (id, view) = final_payout(&app, "10.53", "Failed").await;
    assert!(
        view["message"].as_str().unwrap().starts_with("timeout"),
        "{view}"
    );
    let polls = app.sandbox_orders("paymentsoft").await;
    let order = polls
        .iter()
        .find(|o| o["client_orderid"] == id.as_str())
        .unwrap();
    assert!(
        order["status_queries"].as_u64().unwrap() >= 3,
        "polled on the short schedule: {order}"
    );
    assert_eq!(
        app.mp.wait_delivered(&id, 1).await[0].json["transaction_status"],
        "Failed"
    );
}

#[tokio::test]
async fn psp_500_on_create_is_psp_unavailable_and_later_failed() {
    let app = TestApp::start().await;
    let (status, body) = app.cashier(&TestApp::payout_body("10.54")).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["errorCode"], "PSP_UNAVAILABLE");
    assert_eq!(body["isSuccess"], false);
    let id = body["transactionId"].as_str().unwrap().to_owned();
    // The PSP may have acted, so Overture asks before closing it: the order does not exist.
    let view = app.wait_final(&id).await;
    assert_eq!(view["transactionStatus"], "Failed");
    assert_eq!(app.mp.wait_delivered(&id, 1).await.len(), 1);
    assert!(app
        .sandbox_orders("paymentsoft")
        .await
        .iter()
        .all(|o| o["client_orderid"] != id.as_str()));
}

#[tokio::test]
async fn payout_without_callback_is_found_by_polling() {
    let app = TestApp::start().await;
    let (id, _) = final_payout(&app, "10.55", "Approved").await;
    let orders = app.sandbox_orders("paymentsoft").await;
    let order = orders
        .iter()
        .find(|o| o["client_orderid"] == id.as_str())
        .unwrap();
    assert_eq!(order["callbacks_sent"], 0);
    assert!(order["status_queries"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn duplicate_callback_produces_one_webhook() {
    let app = TestApp::start().await;
    let (id, _) = final_payout(&app, "10.56", "Approved").await;
    app.mp.wait_delivered(&id, 1).await;
    // Give the second callback time to arrive and be (not) acted upon.
    for _ in 0..40 {
        let orders = app.sandbox_orders("paymentsoft").await;
        if orders
            .iter()
            .any(|o| o["client_orderid"] == id.as_str() && o["callbacks_sent"].as_u64() >= Some(2))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let hooks = app.mp.webhooks_for(&id);
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let view = app.status(&id).await;
    assert_eq!(view["webhooks"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn forged_callback_is_ignored_and_polling_resolves() {
    let app = TestApp::start().await;
    let (id, view) = final_payout(&app, "10.57", "Approved").await;
    let history: Vec<_> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !history.contains(&"declined".to_owned()),
        "the forged 'declined' was not trusted: {history:?}"
    );
    assert_eq!(
        app.mp.wait_delivered(&id, 1).await[0].json["transaction_status"],
        "Approved"
    );
}
