//! `Idempotency-Key`: same key + same body ⇒ the original response; other body ⇒ 409.

use crate::harness::*;

#[tokio::test]
async fn replay_returns_the_original_and_other_body_conflicts() {
    let app = TestApp::start().await;
    let key = [("idempotency-key", "order-7781".to_owned())];
    let body = TestApp::payout_body("100.00");
    let (s1, first) = app.cashier_with(&body, &key).await;
    assert_eq!(s1, 200, "{first}");
    let (s2, second) = app.cashier_with(&body, &key).await;
    assert_eq!((s2, &second), (200, &first), "identical replay");
    // Key order and whitespace do not make a different body.
    let reordered: serde_json::Value =
        serde_json::from_str(&serde_json::to_string_pretty(&body).unwrap()).unwrap();
    assert_eq!(app.cashier_with(&reordered, &key).await.1, first);
    let (s3, conflict) = app
        .cashier_with(&TestApp::payout_body("100.01"), &key)
        .await;
    assert_eq!(
        (s3, conflict["errorCode"].as_str()),
        (409, Some("IDEMPOTENCY_CONFLICT"))
    );
    assert_eq!(app.stored_count().await, 1);
    let id = first["data"]["transactionId"].as_str().unwrap();
    app.wait_final(id).await;
    assert_eq!(
        app.sandbox_orders("paymentsoft")
            .await
            .iter()
            .filter(|o| o["client_orderid"] == id)
            .count(),
        1
    );
}

#[tokio::test]
async fn replay_of_an_error_returns_the_same_error() {
    let app = TestApp::start().await;
    let key = [("idempotency-key", "k-54".to_owned())];
    let body = TestApp::payout_body("10.54");
    let (s1, first) = app.cashier_with(&body, &key).await;
    assert_eq!(s1, 502);
    let (s2, second) = app.cashier_with(&body, &key).await;
    assert_eq!((s2, second), (502, first));
    assert_eq!(app.stored_count().await, 1);
}
