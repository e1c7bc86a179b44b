//! Failover, safe with money: what cascades to the next account and what never does, the
//! circuit breaker, and one webhook per transaction whatever the attempts.

use crate::harness::*;
use crate::routing_support::*;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn orders_for<'a>(orders: &'a [Value], order_id: &str) -> Vec<&'a Value> {
    orders
        .iter()
        .filter(|o| o["client_orderid"] == order_id || o["reference_no"] == order_id)
        .collect()
}

/// A payout whose first account is at a closed port goes through the second, in the request.
async fn unreachable_first_account(postgres: bool) {
    let app = TestApp::with(Options {
        postgres,
        ..Options::default()
    })
    .await;
    let dead = add_account(&app, "PAYMENTSOFT", 10, Reach::ClosedPort).await;
    let live = harness_account(&app, "PAYMENTSOFT").await;
    let id = app.payout("42.00").await;
    let view = wait_final_with(&app, &id, 2).await;
    assert_eq!(view["transactionStatus"], "Approved", "{view}");
    let a = view["attempts"].as_array().unwrap();
    assert_eq!(
        (a[0]["pspAccountId"].clone(), a[0]["state"].clone()),
        (json!(dead), json!("failed"))
    );
    assert_eq!(a[0]["errorClass"], "not_processed");
    assert_eq!(
        (a[1]["pspAccountId"].clone(), a[1]["state"].clone()),
        (json!(live), json!("approved"))
    );
    assert_eq!(a[1]["orderId"], format!("{id}_a2"));
    assert_eq!(
        a[1]["decision"]["candidates"][0]["reason"],
        "already tried by this transaction"
    );
    let orders = app.sandbox_orders("paymentsoft").await;
    let executed = orders_for(&orders, &format!("{id}_a2"));
    assert_eq!(executed.len(), 1, "one PSP order");
    assert_eq!(executed[0]["executions"], 1);
    assert!(
        orders_for(&orders, &id).is_empty(),
        "the first attempt never reached a PSP"
    );
    let hooks = app.mp.wait_delivered(&id, 1).await;
    one_webhook_id(&hooks, &id);
    assert_eq!(
        hooks[0].json["psp_transaction_id"],
        a[1]["pspTransactionId"]
    );
    assert_eq!(hooks[0].json["pspType"], "PAYMENTSOFT");
}

#[tokio::test]
async fn a_payout_at_a_closed_port_goes_through_the_next_account_sqlite() {
    unreachable_first_account(false).await;
}

#[tokio::test]
async fn a_payout_at_a_closed_port_goes_through_the_next_account_postgres() {
    unreachable_first_account(true).await;
}

#[tokio::test]
async fn pay_ins_fail_over_in_the_request_but_never_once_the_customer_has_a_page() {
    let app = TestApp::start().await;
    let refusing = add_account(&app, "FORUMPAY", 10, Reach::WrongCredentials).await;
    let good = harness_account(&app, "FORUMPAY").await;
    let (status, body) = app.cashier(&forumpay_payin("15.00")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["url"].as_str().is_some(),
        "the second account's page"
    );
    let id = body["data"]["transactionId"].as_str().unwrap().to_owned();
    let a = attempts(&app, &id).await;
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(
        (a[0]["pspAccountId"].clone(), a[0]["state"].clone()),
        (json!(refusing), json!("failed"))
    );
    assert_eq!(
        (a[1]["pspAccountId"].clone(), a[1]["state"].clone()),
        (json!(good), json!("pending"))
    );

    // The customer declines on the page: the pay-in ends declined, nothing else is tried.
    let extra = add_account(&app, "FORUMPAY", 0, Reach::Sandbox).await;
    let doc = json!({"rules": [rule("pay-ins", "PAYIN", &[&good], &[&extra])]});
    assert_eq!(put_rules(&app, &doc).await.0, 200);
    let (status, body) = app.cashier(&forumpay_payin("16.00")).await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["transactionId"].as_str().unwrap().to_owned();
    let url = body["data"]["url"].as_str().unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    no_redirects
        .post(url)
        .form(&[("outcome", "decline")])
        .send()
        .await
        .unwrap();
    let view = app.wait_final(&id).await;
    assert_eq!(view["transactionStatus"], "Declined", "{view}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        attempts(&app, &id).await.len(),
        1,
        "no cascade after the page"
    );
    assert_eq!(app.mp.wait_delivered(&id, 1).await.len(), 1);
}

/// Payouts cascade after the PSP answered only with `cascadePayouts` and a refusal that proves
/// nothing was paid; the worker starts the next attempt.
async fn cascade_payouts(postgres: bool) {
    let app = TestApp::with(Options {
        postgres,
        ..Options::default()
    })
    .await;
    let refusing = add_account(&app, "PAYMENTSOFT", 0, Reach::WrongCredentials).await;
    let good = harness_account(&app, "PAYMENTSOFT").await;
    let mut doc = json!({"rules": [rule("cascade", "PAYOUT", &[&refusing], &[&good])]});
    doc["rules"][0]["then"]["cascadePayouts"] = json!(true);
    assert_eq!(put_rules(&app, &doc).await.0, 200);
    let (status, body) = app.cashier(&TestApp::payout_body("25.00")).await;
    assert_eq!(status, 200, "refused at create, the worker goes on: {body}");
    let id = body["data"]["transactionId"].as_str().unwrap().to_owned();
    let view = wait_final_with(&app, &id, 2).await;
    assert_eq!(view["transactionStatus"], "Approved", "{view}");
    let history: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap())
        .collect();
    assert!(
        history.windows(2).any(|w| w == ["retrying", "submitting"]),
        "{history:?}"
    );
    assert_eq!(view["attempts"][0]["errorClass"], "not_processed");
    one_webhook_id(&app.mp.wait_delivered(&id, 1).await, &id);

    // Without cascadePayouts the same refusal ends the payout.
    doc["rules"][0]["then"]["cascadePayouts"] = json!(false);
    assert_eq!(put_rules(&app, &doc).await.0, 200);
    let (status, body) = app.cashier(&TestApp::payout_body("26.00")).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (502, Some("INVALID_PSP_CREDENTIALS")),
        "{body}"
    );
    let id = body["transactionId"].as_str().unwrap().to_owned();
    let view = app.wait_final(&id).await;
    assert_eq!(
        (
            view["transactionStatus"].clone(),
            view["attempts"].as_array().unwrap().len()
        ),
        (json!("Failed"), 1)
    );
}

#[tokio::test]
async fn cascade_payouts_moves_a_refused_payout_to_the_next_account_sqlite() {
    cascade_payouts(false).await;
}

#[tokio::test]
async fn cascade_payouts_moves_a_refused_payout_to_the_next_account_postgres() {
    cascade_payouts(true).await;
}

#[tokio::test]
async fn a_payout_timeout_never_cascades_the_poller_resolves_it() {
    let app = TestApp::start().await;
    let sandbox = format!("{}/sandbox/forumpay", app.url);
    let proxy = Proxy::start(sandbox).await;
    *proxy.slow_path.lock().unwrap() = Some("StartBuyOrder".into());
    proxy.delay_ms.store(1_500, Ordering::SeqCst); // past the 1 s PSP timeout of the tests
    let slow = add_account(&app, "FORUMPAY", 0, Reach::At(proxy.url.clone())).await;
    let other = add_account(&app, "FORUMPAY", 0, Reach::Sandbox).await;
    let mut doc = json!({"rules": [rule("slow first", "PAYOUT", &[&slow], &[&other])]});
    doc["rules"][0]["then"]["cascadePayouts"] = json!(true);
    assert_eq!(put_rules(&app, &doc).await.0, 200);
    let body = json!({"pspType": "FORUMPAY", "type": "PAYOUT", "baseamount": 30.00, "currency": "EUR",
        "userId": "user-t", "email": "p@example.com", "walletAddress": "bc1qexampleaddress0000000000000000000000",
        "preferredCrypto": "BTC"});
    let (status, resp) = app.cashier(&body).await;
    assert_eq!(
        (status, resp["errorCode"].as_str()),
        (504, Some("PSP_TIMEOUT")),
        "{resp}"
    );
    let id = resp["transactionId"].as_str().unwrap().to_owned();
    let view = app.wait_final(&id).await;
    assert_eq!(
        view["transactionStatus"], "Approved",
        "resolved at the slow account: {view}"
    );
    let a = view["attempts"].as_array().unwrap();
    assert_eq!(
        (a.len(), a[0]["pspAccountId"].clone()),
        (1, json!(slow)),
        "never cascaded"
    );
    let other_orders = app.sandbox_orders("forumpay").await;
    assert!(orders_for(&other_orders, &format!("{id}_a2")).is_empty());
    one_webhook_id(&app.mp.wait_delivered(&id, 1).await, &id);
}

#[tokio::test]
async fn the_circuit_opens_after_n_failures_and_closes_after_a_good_probe() {
    let app = TestApp::with(Options {
        extra_args: ["--breaker-failures", "2", "--breaker-cooldown", "1s"]
            .map(String::from)
            .to_vec(),
        ..Options::default()
    })
    .await;
    let proxy = Proxy::start(format!("{}/sandbox/forumpay", app.url)).await;
    proxy.failing.store(true, Ordering::SeqCst);
    let flaky = add_account(&app, "FORUMPAY", 0, Reach::At(proxy.url.clone())).await;
    let good = harness_account(&app, "FORUMPAY").await;
    let doc = json!({"rules": [rule("flaky first", "PAYIN", &[&flaky], &[&good])]});
    assert_eq!(put_rules(&app, &doc).await.0, 200);
    for i in 0..2 {
        let (status, body) = app.cashier(&forumpay_payin("10.00")).await;
        assert_eq!(status, 200, "pay-in {i} fails over: {body}");
    }
    assert_eq!(proxy.received.load(Ordering::SeqCst), 2);
    let d = evaluate(&app, &forumpay_payin("10.00")).await;
    assert_eq!(d["candidates"][0]["eligible"], false, "{d}");
    assert!(
        d["candidates"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("circuit open"),
        "{d}"
    );
    let (status, body) = app.cashier(&forumpay_payin("10.00")).await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["transactionId"].as_str().unwrap();
    assert_eq!(
        attempts(&app, id).await.len(),
        1,
        "the open account was skipped"
    );
    assert_eq!(
        proxy.received.load(Ordering::SeqCst),
        2,
        "no call while open"
    );

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    proxy.failing.store(false, Ordering::SeqCst);
    let (status, body) = app.cashier(&forumpay_payin("10.00")).await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["transactionId"].as_str().unwrap();
    let a = attempts(&app, id).await;
    assert_eq!(
        (a.len(), a[0]["pspAccountId"].clone()),
        (1, json!(flaky)),
        "the probe went to it"
    );
    let d = evaluate(&app, &forumpay_payin("10.00")).await;
    assert_eq!(
        (d["candidates"][0]["eligible"].clone(), d["chosen"].clone()),
        (json!(true), json!(flaky)),
        "closed: {d}"
    );
}

#[tokio::test]
async fn the_back_office_shows_attempts_rules_and_account_health() {
    use crate::backoffice_support::{operator_with_password, Browser};
    let app = TestApp::start().await;
    let dead = add_account(&app, "PAYMENTSOFT", 10, Reach::ClosedPort).await;
    let live = harness_account(&app, "PAYMENTSOFT").await;
    let doc = json!({"rules": [rule("dead first", "PAYOUT", &[&dead], &[&live])]});
    assert_eq!(put_rules(&app, &doc).await.0, 200);
    let id = app.payout("44.00").await;
    wait_final_with(&app, &id, 2).await;
    let op = operator_with_password(&app, overture_core::Role::Viewer).await;
    let mut b = Browser::new(&app);
    b.login_as(&op).await;
    let page = b.get(&format!("/backoffice/transactions/{id}")).await;
    assert_eq!(page.status, 200);
    for expected in [
        "Attempt 1",
        "Attempt 2",
        &format!("{id}_a2"),
        "not_processed",
        "dead first",
        "(version 1)",
        "already tried by this transaction",
    ] {
        assert!(page.body.contains(expected), "{expected:?} missing");
    }
    let routing = b.get("/backoffice/routing").await;
    assert_eq!(routing.status, 200);
    for expected in [
        "Version 1, stored",
        "dead first",
        &format!("route {dead}; fallback {live}"),
        &format!("health-{dead}"),
        "1 accepted",
    ] {
        assert!(
            routing.body.contains(expected),
            "{expected:?} missing from the routing page"
        );
    }
}
