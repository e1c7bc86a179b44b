//! Payouts at or above the company threshold wait for an operator. The deciding approval asks
//! the MP again (signed like a webhook): denied ⇒ rejected by the system; unreachable ⇒
//! nothing changes. Each decision's audit record is written with it or not at all.

use crate::backoffice_support::{operator_with_password, state_of, Browser};
use crate::harness::*;
use overture_core::backoffice::{AuditAction, AuditQuery};
use overture_core::{Role, TransactionId, TxnState};
use overture_server::service::verify;
use serde_json::json;
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

/// The payout's operator-approval audit records, oldest first: `(detail, reason)`.
async fn approve_records(app: &TestApp, id: &str) -> Vec<(String, Option<String>)> {
    let query = AuditQuery {
        action: Some(AuditAction::Approve),
        limit: 100,
        ..Default::default()
    };
    let page = app.running.app.store.audit_log(&query).await.unwrap();
    let mut records: Vec<_> = page
        .items
        .into_iter()
        .filter(|e| e.target.as_deref() == Some(id))
        .map(|e| (e.detail.unwrap_or_default(), e.reason))
        .collect();
    records.reverse();
    records
}

fn set_verify(app: &TestApp, mode: Verify) {
    *app.mp.verify.lock().unwrap() = mode;
}

fn verify_calls(app: &TestApp) -> Vec<VerifyCall> {
    app.mp.verify_calls.lock().unwrap().clone()
}

async fn sent_to_psp(app: &TestApp, id: &str) -> usize {
    app.sandbox_orders("paymentsoft")
        .await
        .iter()
        .filter(|o| o["client_orderid"] == id)
        .count()
}

#[tokio::test]
async fn the_mp_denying_the_user_at_approval_rejects_the_payout() {
    let app = TestApp::start().await;
    let id = app.payout("1500.00").await;
    set_verify(&app, Verify::Deny);
    let approver = app.operator(Role::Approver).await;
    let (status, body) = app
        .decide(&approver, &id, "approve", Some("KYC checked"))
        .await;
    let why = "merchant platform denied the user at approval: self-excluded";
    assert_eq!(
        (status, body["errorCode"].as_str(), body["message"].as_str()),
        (403, Some("USER_NOT_VERIFIED"), Some(why)),
        "{body}"
    );

    let view = app.status(&id).await;
    assert_eq!(
        (view["state"].as_str(), view["transactionStatus"].as_str()),
        (Some("rejected"), Some("Rejected"))
    );
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["actor"].as_str(), last["reason"].as_str()),
        (Some("system"), Some(why))
    );
    let hooks = app.mp.wait_delivered(&id, 1).await;
    one_webhook_id(&hooks, &id);
    assert_eq!(hooks[0].json["status"], "rejected");
    assert_eq!(hooks[0].json["message"], why);
    assert_eq!(sent_to_psp(&app, &id).await, 0, "nothing went to the PSP");
    assert_eq!(
        approve_records(&app, &id).await,
        [(
            format!("api; {why}; rejected by the system"),
            Some("KYC checked".to_owned())
        )],
        "the operator's attempt is audited with the rejection"
    );
    let (status, _) = app.decide(&approver, &id, "approve", None).await;
    assert_eq!(status, 409, "decided");
}

#[tokio::test]
async fn the_mp_unreachable_at_approval_keeps_the_payout_held_until_a_retry() {
    let app = TestApp::start().await;
    let id = app.payout("1500.00").await;
    let approver = app.operator(Role::Approver).await;
    set_verify(&app, Verify::Error500);
    let (status, body) = app.decide(&approver, &id, "approve", Some("ok")).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (502, Some("USER_VERIFICATION_UNAVAILABLE")),
        "{body}"
    );
    let view = app.status(&id).await;
    assert_eq!(view["state"], "awaiting_approval");
    assert_eq!(view["history"].as_array().unwrap().len(), 2, "no new event");
    assert!(
        approve_records(&app, &id).await.is_empty(),
        "nothing changed"
    );
    assert_eq!(sent_to_psp(&app, &id).await, 0);

    set_verify(&app, Verify::Allow);
    let (status, body) = app.decide(&approver, &id, "approve", Some("ok")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.wait_final(&id).await["transactionStatus"], "Approved");
    assert_eq!(sent_to_psp(&app, &id).await, 1);
    assert_eq!(
        approve_records(&app, &id).await,
        [(
            "api; submitted to the PSP".to_owned(),
            Some("ok".to_owned())
        )]
    );
}

#[tokio::test]
async fn the_approval_time_call_is_signed_like_a_webhook() {
    let app = TestApp::start().await;
    let id = app.payout("1500.00").await;
    let approver = app.operator(Role::Approver).await;
    let (status, body) = app.decide(&approver, &id, "approve", Some("ok")).await;
    assert_eq!(status, 200, "{body}");
    let calls = verify_calls(&app);
    assert_eq!(calls.len(), 2, "at creation and at approval");
    assert_eq!(
        calls[0].webhook_id, None,
        "the creation call carries the user's token"
    );
    let call = &calls[1];
    assert!(app.verify_signature_ok(call), "{call:?}");
    assert!(call.webhook_id.as_deref().unwrap().starts_with("msg_"));
    assert_eq!(
        call.authorization.as_deref(),
        Some("Bearer mp-webhook-secret"),
        "the company's webhook Authorization value"
    );
    assert_eq!(
        call.json,
        json!({
            "userId": "user-1", "type": "PAYOUT", "amount": "1500.00", "currency": "EUR",
            "transactionId": id, "context": "approval",
        })
    );
    let forged = VerifyCall {
        body: call.body.replace("1500.00", "15.00"),
        ..call.clone()
    };
    assert!(
        !app.verify_signature_ok(&forged),
        "the signature covers the body"
    );
}

#[tokio::test]
async fn four_eyes_asks_the_mp_at_the_second_approval_only() {
    let app = TestApp::start().await;
    let store = &app.running.app.store;
    store
        .set_four_eyes_threshold(&app.company.id, Some(1500.into()))
        .await
        .unwrap();
    let id = app.payout("1500.00").await;
    let (first, second) = (
        app.operator(Role::Approver).await,
        app.operator(Role::Admin).await,
    );
    let (status, body) = app.decide(&first, &id, "approve", Some("one")).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(verify_calls(&app).len(), 1, "only the creation call");

    set_verify(&app, Verify::Error500);
    let (status, _) = app.decide(&second, &id, "approve", Some("two")).await;
    assert_eq!(status, 502);
    assert_eq!(verify_calls(&app).len(), 2);
    assert_eq!(app.status(&id).await["state"], "awaiting_approval");
    let id_typed = TransactionId::parse(&id).unwrap();
    assert_eq!(
        store.approvals(&id_typed).await.unwrap().len(),
        2,
        "the recorded approvals stand"
    );

    set_verify(&app, Verify::Allow);
    let (status, body) = app.decide(&second, &id, "approve", Some("two")).await;
    assert_eq!(
        status, 200,
        "the same operator's retry completes it: {body}"
    );
    assert_eq!(app.wait_final(&id).await["transactionStatus"], "Approved");
    assert_eq!(verify_calls(&app).len(), 3);
    let details: Vec<String> = approve_records(&app, &id)
        .await
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert_eq!(
        details,
        [
            "api; four-eyes: approval 1 of 2",
            "api; four-eyes: approval 2 of 2",
            "api; four-eyes: deciding approval; submitted to the PSP"
        ]
    );
}

#[tokio::test]
async fn the_back_office_page_shows_the_mp_denial() {
    let app = TestApp::start().await;
    let id = app.payout("1500.00").await;
    let held = app.payout("1600.00").await;
    set_verify(&app, Verify::Deny);
    let op = operator_with_password(&app, Role::Approver).await;
    let mut b = Browser::new(&app);
    b.login_as(&op).await;
    let answer = b.decide(&id, "approve", "looks fine").await;
    assert_eq!(answer.status, 403);
    assert!(
        answer
            .body
            .contains("merchant platform denied the user at approval: self-excluded"),
        "{}",
        answer.body
    );
    assert_eq!(state_of(&app, &id).await, TxnState::Rejected);

    set_verify(&app, Verify::Error500);
    let answer = b.decide(&held, "approve", "looks fine").await;
    assert_eq!(answer.status, 502);
    assert!(
        answer.body.contains("still waiting for approval"),
        "{}",
        answer.body
    );
    assert_eq!(state_of(&app, &held).await, TxnState::AwaitingApproval);
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

#[tokio::test]
async fn the_demo_mp_allows_the_approval_time_call() {
    let app = TestApp::start().await;
    let id = app.payout("1500.00").await;
    let store = &app.running.app.store;
    let txn = store
        .transaction(&TransactionId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut company = app.company.clone();
    company.verify_user_url = format!("{}/sandbox/mp/verify-user", app.url);
    let asked = verify::verify_at_approval(&app.running.app, &company, &txn).await;
    assert!(asked.is_ok(), "{asked:?}");
}
