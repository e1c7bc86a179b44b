//! PSP callbacks are hints that the PSP confirms: a correctly signed callback never moves a
//! transaction by itself, one that contradicts the stored order is refused, floods of callbacks
//! cost at most one status query in flight (and one per gap) per transaction, and callbacks for
//! unknown orders cost no PSP traffic at all.

use crate::harness::*;
use overture_connectors::paymentsoft::wire::callback_control;
use overture_core::TransactionId;
use secrecy::ExposeSecret;
use serde_json::Value;
use std::time::Duration;

/// A server whose poller stays away for a minute, so every status query seen comes from a
/// callback; callback-triggered queries at least 1 s apart.
async fn quiet_poller() -> TestApp {
    TestApp::with(Options {
        extra_args: vec![
            "--poll-interval".into(),
            "60s".into(),
            "--callback-query-gap".into(),
            "1s".into(),
        ],
        ..Options::default()
    })
    .await
}

/// A PAYMENTSOFT payout that stays processing at the PSP (`.53`), once Overture has it pending.
async fn pending_payout(app: &TestApp, amount: &str) -> String {
    let id = app.payout(amount).await;
    assert_eq!(app.status(&id).await["state"], "pending");
    id
}

/// The sandbox's order for transaction `id`.
async fn order(app: &TestApp, id: &str) -> Value {
    app.sandbox_orders("paymentsoft")
        .await
        .into_iter()
        .find(|o| o["client_orderid"] == id)
        .expect("the sandbox has the order")
}

async fn status_queries(app: &TestApp, id: &str) -> u64 {
    order(app, id).await["status_queries"].as_u64().unwrap()
}

/// The account's `merchant_control` and the callback URL of transaction `id`'s PSP account.
async fn account_of(app: &TestApp, id: &str) -> (String, String) {
    let store = &app.running.app.store;
    let txn = store
        .transaction(&TransactionId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let account = store
        .psp_account(&txn.psp_account_id)
        .await
        .unwrap()
        .unwrap();
    let control = account.credentials.0["merchant_control"]
        .expose_secret()
        .to_owned();
    let url = format!(
        "{}/v1/api/psp-callbacks/paymentsoft/{}",
        app.url, account.id
    );
    (control, url)
}

/// Sends a PaynetEasy callback signed with `control` (the control covers status, orderid and
/// client_orderid, not the amount: PaynetEasy's published formula).
async fn signed_callback(
    app: &TestApp,
    url: &str,
    control: &str,
    fields: [(&str, &str); 5],
) -> u16 {
    let get = |k: &str| fields.iter().find(|(n, _)| *n == k).unwrap().1;
    let sig = callback_control(
        get("status"),
        get("orderid"),
        get("client_orderid"),
        control,
    );
    let mut query: Vec<(&str, &str)> = fields.to_vec();
    query.push(("control", &sig));
    app.http
        .get(url)
        .query(&query)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_signed_callback_that_contradicts_the_order_is_refused() {
    let app = quiet_poller().await;
    let id = pending_payout(&app, "20.53").await;
    let paynet_id = order(&app, &id).await["paynet_order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (control, url) = account_of(&app, &id).await;
    let before = status_queries(&app, &id).await;
    for (what, orderid, amount, currency) in [
        ("another PSP order", "999999", "20.53", "EUR"),
        ("another amount", paynet_id.as_str(), "2053.00", "EUR"),
        ("another currency", paynet_id.as_str(), "20.53", "USD"),
    ] {
        let status = signed_callback(
            &app,
            &url,
            &control,
            [
                ("status", "approved"),
                ("orderid", orderid),
                ("client_orderid", &id),
                ("amount", amount),
                ("currency", currency),
            ],
        )
        .await;
        assert_eq!(status, 400, "{what}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.status(&id).await["state"], "pending");
    assert_eq!(status_queries(&app, &id).await, before, "no PSP traffic");
}

#[tokio::test]
async fn a_signed_matching_callback_is_applied_only_as_the_psp_confirms() {
    let app = quiet_poller().await;
    let id = pending_payout(&app, "20.53").await;
    let paynet_id = order(&app, &id).await["paynet_order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (control, url) = account_of(&app, &id).await;
    let before = status_queries(&app, &id).await;
    // Correctly signed, every field right, claiming "approved": the PSP says processing.
    let status = signed_callback(
        &app,
        &url,
        &control,
        [
            ("status", "approved"),
            ("orderid", &paynet_id),
            ("client_orderid", &id),
            ("amount", "20.53"),
            ("currency", "EUR"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    for _ in 0..40 {
        if status_queries(&app, &id).await > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        status_queries(&app, &id).await,
        before + 1,
        "one confirmation"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let view = app.status(&id).await;
    assert_eq!(view["state"], "pending", "{view}");
    assert!(app.mp.webhooks_for(&id).is_empty(), "no webhook");
}

#[tokio::test]
async fn callback_floods_are_coalesced_per_transaction() {
    let app = quiet_poller().await;
    let id = pending_payout(&app, "30.53").await;
    let (_, url) = account_of(&app, &id).await;
    let before = status_queries(&app, &id).await;
    // 50 forged callbacks at once (no valid control): each is only a hint.
    let sends = (0..50).map(|i| {
        let (http, url, id) = (app.http.clone(), url.clone(), id.clone());
        async move {
            http.get(&url)
                .query(&[
                    ("status", "approved"),
                    ("orderid", "1"),
                    ("client_orderid", id.as_str()),
                    ("control", &format!("{i:040}")),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures_join(sends).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let first = status_queries(&app, &id).await - before;
    assert_eq!(first, 1, "one query in flight, the rest coalesced");
    // At most one trailing query once the gap (1 s) has passed, then nothing more.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let total = status_queries(&app, &id).await - before;
    assert!((1..=2).contains(&total), "{total} queries for 50 callbacks");
    assert_eq!(app.status(&id).await["state"], "pending");
}

#[tokio::test]
async fn callbacks_for_unknown_orders_cost_no_psp_traffic() {
    let app = quiet_poller().await;
    let id = pending_payout(&app, "40.53").await;
    let (control, url) = account_of(&app, &id).await;
    let before = status_queries(&app, &id).await;
    let unknown = TransactionId::generate().to_string();
    let status = signed_callback(
        &app,
        &url,
        &control,
        [
            ("status", "approved"),
            ("orderid", "1"),
            ("client_orderid", &unknown),
            ("amount", "40.53"),
            ("currency", "EUR"),
        ],
    )
    .await;
    assert_eq!(status, 404);
    let garbage = app
        .http
        .get(&url)
        .query(&[("status", "approved"), ("client_orderid", "not-an-id")])
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(status_queries(&app, &id).await, before);
}

/// Runs the futures concurrently and collects their outputs in order.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<u16>
where
    F: std::future::Future<Output = u16> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
