//! The PSP exchange log: every exchange of a transaction with its PSP (create, status queries)
//! and every callback, masked, on the back office's transaction page.

use crate::harness::*;
use overture_core::insight::ExchangeDirection;
use overture_core::TransactionId;
use secrecy::ExposeSecret;
use std::time::Duration;

#[tokio::test]
async fn every_psp_exchange_and_callback_is_logged_masked() {
    let app = TestApp::start().await;
    let id = app.payout("12.00").await;
    app.wait_final(&id).await;
    let store = app.running.app.store.clone();
    let txn = TransactionId::parse(&id).unwrap();
    let mut logged = Vec::new();
    for _ in 0..50 {
        logged = store.exchanges(&txn).await.unwrap();
        let has_callback = logged
            .iter()
            .any(|e| e.direction == ExchangeDirection::Callback);
        if has_callback && logged.iter().any(|e| e.operation == "create") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let create = logged
        .iter()
        .find(|e| e.operation == "create")
        .expect("the create call");
    assert_eq!(create.direction, ExchangeDirection::Outbound);
    assert_eq!(create.http_status, Some(200));
    assert!(
        create
            .path
            .starts_with("/sandbox/paymentsoft/paynet/api/v4/payout/"),
        "{}",
        create.path
    );
    assert!(
        create
            .request_excerpt
            .contains(&format!("client_orderid={id}")),
        "{}",
        create.request_excerpt
    );
    assert!(
        create.request_excerpt.contains("email=***"),
        "{}",
        create.request_excerpt
    );
    assert!(
        create.response_excerpt.contains("paynet-order-id"),
        "{}",
        create.response_excerpt
    );
    assert!(create.attempt_id.is_some() && create.latency_ms.is_some());
    let callback = logged
        .iter()
        .find(|e| e.direction == ExchangeDirection::Callback)
        .expect("the callback");
    assert!(
        callback.outcome.as_deref().unwrap().contains("verified"),
        "{:?}",
        callback.outcome
    );
    assert!(
        callback.request_excerpt.contains("control=***") || callback.path.contains("control=***"),
        "{callback:?}"
    );
    // No secret of the account and no personal data anywhere in the log.
    let account = store
        .psp_account(&create.psp_account_id)
        .await
        .unwrap()
        .unwrap();
    let everything = format!("{logged:?}");
    for (name, value) in &account.credentials.0 {
        let v = value.expose_secret();
        // The endpoint id is a public identifier in the URL path (PaynetEasy), not a secret.
        if v.len() > 8 && !matches!(name.as_str(), "oauth_private_key" | "endpoint_id") {
            assert!(!everything.contains(v), "credential {name} is in the log");
        }
    }
    assert!(
        !everything.contains("player@example.com"),
        "an email is in the log"
    );

    let op =
        crate::backoffice_support::operator_with_password(&app, overture_core::Role::Viewer).await;
    let mut b = crate::backoffice_support::Browser::new(&app);
    b.login_as(&op).await;
    let page = b.get(&format!("/backoffice/transactions/{id}")).await;
    for expected in [
        "PSP exchanges",
        "Overture → PSP",
        "PSP → Overture",
        "/paynet/api/v4/payout/",
    ] {
        assert!(page.body.contains(expected), "{expected:?} missing");
    }
}
