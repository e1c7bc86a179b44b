//! Payouts at or above the company threshold wait for an operator. Each decision's audit
//! record is written with it or not at all.

use crate::harness::*;
use overture_core::Role;
use sqlx::{Connection, Executor};

#[tokio::test]
async fn held_payout_approved_by_an_operator_goes_to_the_psp() {
    let app = TestApp::start().await;
    let id = app.payout("1500.00").await;
    let view = app.status(&id).await;
    assert_eq!(
        (view["state"].as_str(), view["status"].as_str()),
        (Some("awaiting_approval"), Some("PENDING"))
    );
    assert!(
        app.sandbox_orders("paymentsoft")
            .await
            .iter()
            .all(|o| o["client_orderid"] != id.as_str()),
        "not sent yet"
    );

    let viewer = app.operator(Role::Viewer).await;
    let (status, body) = app
        .decide(&viewer, &id, "approve", Some("looks fine"))
        .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (403, Some("FORBIDDEN"))
    );
    let (status, _) = app.decide("opt_not_a_token", &id, "approve", None).await;
    assert_eq!(status, 401);

    let approver = app.operator(Role::Approver).await;
    let (status, body) = app
        .decide(&approver, &id, "approve", Some("KYC checked"))
        .await;
    assert_eq!(status, 200, "{body}");
    let view = app.wait_final(&id).await;
    assert_eq!(view["transactionStatus"], "Approved");
    let approval = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["from"] == "awaiting_approval")
        .unwrap()
        .clone();
    assert!(approval["actor"]
        .as_str()
        .unwrap()
        .starts_with("operator:opr_"));
    assert_eq!(approval["reason"], "KYC checked");
    // A second decision (double click) changes nothing.
    let (status, body) = app.decide(&approver, &id, "approve", None).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (409, Some("INVALID_STATE"))
    );
    assert_eq!(app.mp.wait_delivered(&id, 1).await.len(), 1);
    let executed = app.sandbox_orders("paymentsoft").await;
    assert_eq!(
        executed
            .iter()
            .filter(|o| o["client_orderid"] == id.as_str())
            .count(),
        1
    );
}

#[tokio::test]
async fn rejected_payout_never_reaches_the_psp() {
    let app = TestApp::start().await;
    let id = app.payout("2000.00").await;
    let admin = app.operator(Role::Admin).await;
    let (status, body) = app.decide(&admin, &id, "reject", None).await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (400, Some("reason")),
        "reason required"
    );
    let (status, body) = app
        .decide(&admin, &id, "reject", Some("suspected bonus abuse"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["state"], "rejected");
    let hook = &app.mp.wait_delivered(&id, 1).await[0];
    assert_eq!(hook.json["transaction_status"], "Rejected");
    assert_eq!(hook.json["status"], "rejected");
    assert_eq!(hook.json["message"], "suspected bonus abuse");
    let (status, _) = app.decide(&admin, &id, "approve", Some("oops")).await;
    assert_eq!(status, 409);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app
        .sandbox_orders("paymentsoft")
        .await
        .iter()
        .all(|o| o["client_orderid"] != id.as_str()));
    let view = app.status(&id).await;
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["reason"], "suspected bonus abuse");
    assert!(last["actor"].as_str().unwrap().starts_with("operator:"));
}

#[tokio::test]
async fn two_operators_at_once_decide_only_once() {
    let app = TestApp::start().await;
    let id = app.payout("1200.00").await;
    let a = app.operator(Role::Approver).await;
    let b = app.operator(Role::Approver).await;
    let (ra, rb) = tokio::join!(
        app.decide(&a, &id, "reject", Some("a says no")),
        app.decide(&b, &id, "approve", Some("b says yes"))
    );
    let oks = [ra.0, rb.0].iter().filter(|s| **s == 200).count();
    assert_eq!(oks, 1, "{ra:?} {rb:?}");
    assert!([ra.0, rb.0].contains(&409));
    app.wait_final(&id).await;
    assert_eq!(app.mp.wait_delivered(&id, 1).await.len(), 1);
}

async fn sent_to_psp(app: &TestApp, id: &str) -> usize {
    app.sandbox_orders("paymentsoft")
        .await
        .iter()
        .filter(|o| o["client_orderid"] == id)
        .count()
}

#[tokio::test]
async fn a_decision_whose_audit_record_fails_changes_nothing() {
    let app = TestApp::start().await;
    let approve_me = app.payout("1500.00").await;
    let reject_me = app.payout("1600.00").await;
    let url = format!("sqlite://{}", app.dir.join("overture.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    db.execute(
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
         BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
    )
    .await
    .unwrap();
    let admin = app.operator(Role::Admin).await;
    let (status, _) = app.decide(&admin, &approve_me, "approve", Some("ok")).await;
    assert_eq!(status, 500);
    let (status, _) = app.decide(&admin, &reject_me, "reject", Some("no")).await;
    assert_eq!(status, 500);
    for id in [&approve_me, &reject_me] {
        let view = app.status(id).await;
        assert_eq!(view["state"], "awaiting_approval");
        assert_eq!(view["history"].as_array().unwrap().len(), 2);
        assert!(view["webhooks"].as_array().unwrap().is_empty(), "{view}");
        assert_eq!(sent_to_psp(&app, id).await, 0);
    }
}
