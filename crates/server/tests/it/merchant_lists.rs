//! `GET /v1/api/transactions` (filters, cursor pages that neither skip nor repeat while rows
//! are inserted) and `/v1/api/webhooks` (list, redeliver, test event), over HTTP on both
//! backends.

use crate::harness::*;
use crate::merchant_support::*;
use crate::on_both_backends;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Every transaction id of `path` (a list URL with its query), page by page; also the number
/// of pages.
async fn all_pages(app: &TestApp, path: &str) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let (status, got) = call(app, "GET", &url, None).await;
        assert_eq!(status, 200, "{url}: {got}");
        pages += 1;
        for item in got["data"]["items"].as_array().unwrap() {
            ids.push(item["transactionId"].as_str().unwrap().to_owned());
        }
        match got["data"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (ids, pages),
        }
    }
}

async fn payin(app: &TestApp, user: &str) -> String {
    let mut body = TestApp::payin_body("10.00");
    body["userId"] = json!(user);
    let (status, got) = app.cashier(&body).await;
    assert_eq!(status, 200, "{got}");
    got["data"]["transactionId"].as_str().unwrap().to_owned()
}

on_both_backends!(
    transaction_pages_neither_skip_nor_repeat_while_rows_arrive,
    paging
);
async fn paging(postgres: bool) {
    let app = Arc::new(start(postgres).await);
    let mut before = BTreeSet::new();
    for i in 0..24 {
        before.insert(payin(&app, &format!("user-{}", i % 3)).await);
    }
    for order in ["desc", "asc"] {
        let writer = {
            let app = app.clone();
            tokio::spawn(async move {
                let mut made = Vec::new();
                for _ in 0..12 {
                    made.push(payin(&app, "late-user").await);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                made
            })
        };
        let (ids, pages) =
            all_pages(&app, &format!("/v1/api/transactions?limit=5&order={order}")).await;
        let late = writer.await.unwrap();
        let unique: HashSet<&String> = ids.iter().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "{order}: no transaction on two pages"
        );
        for id in &before {
            assert!(ids.contains(id), "{order}: {id} was skipped");
        }
        assert!(pages >= 5, "{order}: {pages} pages");
        for id in ids
            .iter()
            .filter(|i| !before.contains(*i) && !late.contains(*i))
        {
            assert!(
                before.contains(id) || app.status(id).await["userId"] == "late-user",
                "only this company's transactions"
            );
        }
        before.extend(late);
    }
    // Order: newest first by default.
    let (_, got) = call(&app, "GET", "/v1/api/transactions?limit=500", None).await;
    let times: Vec<&str> = got["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["createdAt"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert_eq!(times.len(), before.len());
}

on_both_backends!(transaction_filters_select_exactly, filters);
async fn filters(postgres: bool) {
    let app = start(postgres).await;
    let payout = app.payout("25.00").await;
    let held = app.payout("1500.00").await;
    let payin_id = payin(&app, "someone").await;
    let count = |got: &Value| got["data"]["items"].as_array().unwrap().len();
    let ids = |got: &Value| -> Vec<String> {
        got["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["transactionId"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, got) = call(&app, "GET", "/v1/api/transactions?type=PAYOUT", None).await;
    assert_eq!(ids(&got), [held.clone(), payout.clone()]);
    let (_, got) = call(&app, "GET", "/v1/api/transactions?pspType=FORUMPAY", None).await;
    assert_eq!(ids(&got), vec![payin_id.clone()]);
    let (_, got) = call(
        &app,
        "GET",
        "/v1/api/transactions?state=awaiting_approval",
        None,
    )
    .await;
    assert_eq!(ids(&got), vec![held.clone()]);
    let (_, got) = call(
        &app,
        "GET",
        "/v1/api/transactions?merchantReference=ref-25.00",
        None,
    )
    .await;
    assert_eq!(ids(&got), vec![payout.clone()]);
    let (_, got) = call(&app, "GET", "/v1/api/transactions?userId=someone", None).await;
    assert_eq!(ids(&got), vec![payin_id.clone()]);
    let (_, got) = call(
        &app,
        "GET",
        "/v1/api/transactions?createdFrom=2999-01-01T00:00:00Z",
        None,
    )
    .await;
    assert_eq!(count(&got), 0);
    let (_, got) = call(
        &app,
        "GET",
        "/v1/api/transactions?createdFrom=2000-01-01T00:00:00%2B02:00&createdTo=2999-01-01T00:00:00Z",
        None,
    )
    .await;
    assert_eq!(count(&got), 3, "{got}");
    let first = &got["data"]["items"][0];
    assert_eq!(first["transactionId"], payin_id.as_str());
    assert_eq!(first["amount"], "10.00");
    assert_eq!(first["type"], "PAYIN");
    for (query, field) in [
        ("createdFrom=yesterday", "createdFrom"),
        ("limit=501", "limit"),
        ("cursor=bm9wZQ", "cursor"),
        ("state=paid", "state"),
        ("colour=red", "colour"),
    ] {
        let (status, got) = call(&app, "GET", &format!("/v1/api/transactions?{query}"), None).await;
        assert_eq!(status, 400, "{query}: {got}");
        assert_eq!(error_fields(&got), [field], "{query}: {got}");
    }
    // Another company sees none of them.
    let other = crate::merchant_psp_accounts::other_company_token(&app).await;
    let (_, got) = call_as(&app, &other, "GET", "/v1/api/transactions", None).await;
    assert_eq!(count(&got), 0);
}

on_both_backends!(
    webhook_deliveries_are_listed_redelivered_and_tested,
    webhooks
);
async fn webhooks(postgres: bool) {
    let app = start(postgres).await;
    // Four failed attempts (the schedule has three retries): dead-lettered.
    app.mp
        .fail_next
        .store(4, std::sync::atomic::Ordering::SeqCst);
    let dead_txn = app.payout("30.00").await;
    app.wait_final(&dead_txn).await;
    let dead = wait_delivery(&app, &dead_txn, "dead").await;
    assert_eq!(dead["attempts"], 4);
    assert_eq!(dead["attemptLog"].as_array().unwrap().len(), 4);
    assert_eq!(dead["attemptLog"][0]["httpStatus"], 500);
    assert_eq!(dead["attemptLog"][0]["responseExcerpt"], "boom");
    assert_eq!(dead["payload"]["transaction_id"], dead_txn.as_str());
    let (_, got) = call(&app, "GET", "/v1/api/webhooks?state=dead", None).await;
    assert_eq!(got["data"]["items"].as_array().unwrap().len(), 1, "{got}");

    let webhook_id = dead["webhookId"].as_str().unwrap().to_owned();
    let other = crate::merchant_psp_accounts::other_company_token(&app).await;
    let redeliver = format!("/v1/api/webhooks/{webhook_id}/redeliver");
    let (status, _) = call_as(&app, &other, "POST", &redeliver, None).await;
    assert_eq!(status, 404, "another company's delivery");
    let (status, got) = call(&app, "POST", &redeliver, None).await;
    assert_eq!(status, 200, "{got}");
    let delivered = wait_delivery(&app, &dead_txn, "delivered").await;
    assert_eq!(
        delivered["webhookId"],
        webhook_id.as_str(),
        "same webhook-id"
    );
    let received = app.mp.webhooks_for(&dead_txn);
    assert_eq!(received.len(), 5);
    assert!(received.iter().all(|w| w.id == webhook_id));
    let (status, got) = call(&app, "POST", &redeliver, None).await;
    assert_eq!(status, 409, "delivered already: {got}");
    assert_eq!(got["errorCode"], "INVALID_STATE");

    // The test event: signed like a webhook, answered with the receiver's status, stored nowhere.
    let (_, before) = call(&app, "GET", "/v1/api/webhooks?limit=500", None).await;
    let (status, got) = call(&app, "POST", "/v1/api/webhooks/test", None).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["data"]["ok"], true, "{got}");
    assert_eq!(got["data"]["httpStatus"], 200);
    assert_eq!(got["data"]["responseExcerpt"], "ok");
    let id = got["data"]["webhookId"].as_str().unwrap();
    let hook = app
        .mp
        .webhooks
        .lock()
        .unwrap()
        .iter()
        .find(|w| w.id == id)
        .cloned()
        .expect("the MP got the test event");
    assert_eq!(hook.json["type"], "test");
    assert_eq!(
        hook.authorization.as_deref(),
        Some("Bearer mp-webhook-secret")
    );
    assert!(app.signature_ok(&hook));
    let (_, after) = call(&app, "GET", "/v1/api/webhooks?limit=500", None).await;
    assert_eq!(
        before["data"]["items"].as_array().unwrap().len(),
        after["data"]["items"].as_array().unwrap().len(),
        "nothing in the outbox"
    );
    // A receiver that fails: its status, not ok.
    app.mp
        .fail_next
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let (_, got) = call(&app, "POST", "/v1/api/webhooks/test", None).await;
    assert_eq!(got["data"]["ok"], false);
    assert_eq!(got["data"]["httpStatus"], 500);
}

/// The company's delivery for `txn` once it is in `state` (waits up to 15 s).
async fn wait_delivery(app: &TestApp, txn: &str, state: &str) -> Value {
    for _ in 0..300 {
        let (_, got) = call(app, "GET", "/v1/api/webhooks?limit=500", None).await;
        if let Some(d) = got["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["transactionId"] == txn && d["state"] == state)
        {
            return d.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the delivery of {txn} never became {state}");
}
