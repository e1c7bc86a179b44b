//! Webhook delivery: retries with the same webhook-id, signatures on every attempt, dead letters.

use crate::harness::*;
use std::sync::atomic::Ordering;

#[tokio::test]
async fn failing_mp_endpoint_gets_retries_with_the_same_webhook_id() {
    let app = TestApp::start().await;
    app.mp.fail_next.store(2, Ordering::SeqCst);
    let id = app.payout("100.00").await;
    let hooks = app.mp.wait_delivered(&id, 1).await;
    assert_eq!(hooks.len(), 3, "two failures then one success: {hooks:?}");
    assert_eq!(
        hooks.iter().map(|h| h.answered).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    assert!(hooks
        .iter()
        .all(|h| h.id == hooks[0].id && h.id.starts_with("msg_")));
    assert!(
        hooks.iter().all(|h| app.signature_ok(h)),
        "each attempt is signed"
    );
    let view = app.status(&id).await;
    let w = &view["webhooks"][0];
    assert_eq!(
        (w["state"].as_str(), w["attempts"].as_i64()),
        (Some("delivered"), Some(3))
    );
    let attempts = app
        .running
        .app
        .store
        .webhook_attempts(&overture_core::WebhookId::from_trusted(hooks[0].id.clone()))
        .await
        .unwrap();
    assert_eq!(
        attempts.iter().map(|a| a.http_status).collect::<Vec<_>>(),
        [Some(500), Some(500), Some(200)]
    );
}

#[tokio::test]
async fn webhook_is_dead_lettered_after_the_schedule() {
    let app = TestApp::start().await;
    app.mp.fail_next.store(100, Ordering::SeqCst);
    let id = app.payout("100.00").await;
    for _ in 0..100 {
        let view = app.status(&id).await;
        if view["webhooks"][0]["state"] == "dead" {
            // 1 attempt + 3 retries (schedule 200ms,200ms,200ms).
            assert_eq!(view["webhooks"][0]["attempts"], 4);
            assert_eq!(app.mp.webhooks_for(&id).len(), 4);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("never dead-lettered: {}", app.status(&id).await);
}
