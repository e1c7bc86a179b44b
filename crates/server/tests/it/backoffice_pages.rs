//! Back-office pages over HTTP: decisions (double click, two operators at once, four-eyes on
//! pages and JSON API), search and detail, redelivery of a dead webhook, PSP account switches
//! and the audit log.

use crate::backoffice_support::*;
use crate::harness::*;
use overture_core::backoffice::{AuditAction, AuditQuery};
use overture_core::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn backoffice_double_click_and_two_operators_decide_once() {
    let app = TestApp::start().await;
    let id = app.payout("1500.00").await;
    let op = operator_with_password(&app, Role::Approver).await;
    let mut b = Browser::new(&app);
    b.login_as(&op).await;
    let first = b.decide(&id, "approve", "KYC checked").await;
    assert_eq!(first.status, 303, "{}", first.body);
    assert_eq!(
        first.location.as_deref(),
        Some(format!("/backoffice/queue?done=approved&id={id}").as_str())
    );
    let notice = b.get(first.location.as_deref().unwrap()).await;
    assert!(notice
        .body
        .contains(&format!("Payout {id} approved and sent to the PSP.")));
    let again = b.decide(&id, "approve", "KYC checked").await;
    assert_eq!(again.status, 409);
    assert_eq!(again.error_code.as_deref(), Some("INVALID_STATE"));
    assert!(
        again
            .body
            .contains("not awaiting approval. Nothing was changed."),
        "{}",
        again.body
    );
    assert_eq!(app.wait_final(&id).await["transactionStatus"], "Approved");
    assert_eq!(app.mp.wait_delivered(&id, 1).await.len(), 1);

    // Two operators at once on another payout: exactly one decision wins.
    let id2 = app.payout("1600.00").await;
    let other = operator_with_password(&app, Role::Admin).await;
    let mut c = Browser::new(&app);
    c.login_as(&other).await;
    let (ra, rb) = tokio::join!(
        b.decide(&id2, "approve", "fine by me"),
        c.decide(&id2, "reject", "not fine")
    );
    let mut statuses = vec![ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, vec![303, 409], "{ra:?} {rb:?}");
    app.wait_final(&id2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.mp.wait_delivered(&id2, 1).await.len(), 1, "one webhook");
    let executed = app.sandbox_orders("paymentsoft").await;
    assert!(
        executed
            .iter()
            .filter(|o| o["client_orderid"] == id2.as_str())
            .count()
            <= 1
    );
}

#[tokio::test]
async fn backoffice_four_eyes_marker_follows_the_currency_threshold() {
    let app = TestApp::start().await;
    // No fallback four-eyes threshold; EUR has its own, below the payout.
    let patch = json!({"fourEyesThresholds": {"EUR": "1100"}});
    let (status, got) =
        crate::merchant_support::call(&app, "PATCH", "/v1/api/company", Some(&patch)).await;
    assert_eq!(status, 200, "{got}");
    let big = app.payout("1200.00").await;
    let op = operator_with_password(&app, Role::Approver).await;
    let mut b = Browser::new(&app);
    b.login_as(&op).await;
    let queue = b.get("/backoffice/queue").await;
    assert!(
        queue.body.contains("four-eyes: 0 of 2 approvals"),
        "the queue marks the payout by its currency's threshold: {}",
        queue.body
    );
    let unconfirmed = b.decide(&big, "approve", "first look ok").await;
    assert_eq!(unconfirmed.status, 400, "{}", unconfirmed.body);
    let one = b.decide_confirmed(&big, "approve", "first look ok").await;
    assert_eq!(
        one.location.as_deref(),
        Some(format!("/backoffice/queue?done=first_approval&id={big}").as_str())
    );
}

#[tokio::test]
async fn backoffice_four_eyes_needs_two_different_operators() {
    let app = TestApp::start().await;
    let store = &app.running.app.store;
    store
        .set_four_eyes_threshold(&app.company.id, Some(1500.into()))
        .await
        .unwrap();
    let small = app.payout("1200.00").await;
    let big = app.payout("1500.00").await;
    let first = operator_with_password(&app, Role::Approver).await;
    let mut b = Browser::new(&app);
    b.login_as(&first).await;

    assert_eq!(
        b.decide(&small, "approve", "below four-eyes").await.status,
        303
    );
    assert_eq!(
        app.wait_final(&small).await["transactionStatus"],
        "Approved"
    );

    let queue = b.get("/backoffice/queue").await;
    assert!(
        queue.body.contains("four-eyes: 0 of 2 approvals"),
        "{}",
        queue.body
    );
    let unconfirmed = b.decide(&big, "approve", "first look ok").await;
    assert_eq!(
        unconfirmed.status, 400,
        "approving above four-eyes asks for a confirmation"
    );
    assert!(
        unconfirmed.body.contains("tick the confirmation"),
        "{}",
        unconfirmed.body
    );
    assert!(app
        .running
        .app
        .store
        .approvals(&TransactionId::parse(&big).unwrap())
        .await
        .unwrap()
        .is_empty());
    let one = b.decide_confirmed(&big, "approve", "first look ok").await;
    assert_eq!(
        one.location.as_deref(),
        Some(format!("/backoffice/queue?done=first_approval&id={big}").as_str())
    );
    assert_eq!(state_of(&app, &big).await, TxnState::AwaitingApproval);
    let same = b.decide_confirmed(&big, "approve", "me again").await;
    assert_eq!(same.status, 409);
    assert!(
        same.body
            .contains("the four-eyes rule needs a different operator"),
        "{}",
        same.body
    );
    assert!(b
        .get("/backoffice/queue")
        .await
        .body
        .contains("1 of 2 approvals"));

    // The second pair of eyes uses the JSON API (same service, same rule).
    let token = app.operator(Role::Admin).await;
    let (status, body) = app
        .decide(&token, &big, "approve", Some("second look ok"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.wait_final(&big).await["transactionStatus"], "Approved");
    assert_eq!(app.mp.wait_delivered(&big, 1).await.len(), 1);

    // JSON API first, page second.
    let big2 = app.payout("2000.00").await;
    let (status, body) = app
        .decide(&token, &big2, "approve", Some("api first"))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body["data"]["approvals"],
        json!({ "given": 1, "required": 2 })
    );
    assert_eq!(body["data"]["state"], "awaiting_approval");
    assert_eq!(
        b.decide_confirmed(&big2, "approve", "page second")
            .await
            .status,
        303
    );
    assert_eq!(app.wait_final(&big2).await["transactionStatus"], "Approved");
    let detail = b.get(&format!("/backoffice/transactions/{big2}")).await;
    assert!(detail.body.contains("Four-eyes approvals"));
    assert!(detail.body.contains("api first"));
}

#[tokio::test]
async fn backoffice_search_and_detail_show_history_and_webhook_attempts() {
    let app = TestApp::start().await;
    let held = app.payout("1500.00").await;
    let plain = app.payout("10.00").await;
    app.wait_final(&plain).await;
    app.mp.wait_delivered(&plain, 1).await;
    let op = operator_with_password(&app, Role::Viewer).await;
    let mut b = Browser::new(&app);
    b.login_as(&op).await;

    let by_state = b
        .get("/backoffice/transactions?state=awaiting_approval")
        .await;
    assert!(by_state.body.contains(&held) && !by_state.body.contains(&plain));
    let by_ref = b.get("/backoffice/transactions?reference=ref-10.00").await;
    assert!(by_ref.body.contains(&plain) && !by_ref.body.contains(&held));
    let by_user = b
        .get(&format!(
            "/backoffice/transactions?user=user-1&psp=PAYMENTSOFT&company={}",
            app.company.id
        ))
        .await;
    assert!(by_user.body.contains(&plain) && by_user.body.contains(&held));
    let by_id = b.get(&format!("/backoffice/transactions?id={held}")).await;
    assert!(by_id.body.contains(&held) && !by_id.body.contains(&plain));
    let future = b.get("/backoffice/transactions?from=2999-01-01").await;
    assert!(future.body.contains("No transaction matches."));
    let bad = b.get("/backoffice/transactions?id=nonsense").await;
    assert!(
        bad.body.contains("Transaction id (txn_…) is not valid"),
        "{}",
        bad.body
    );

    let detail = b.get(&format!("/backoffice/transactions/{plain}")).await;
    assert_eq!(detail.status, 200);
    let hook = &app.mp.webhooks_for(&plain)[0];
    assert!(detail.body.contains(&hook.id), "webhook id shown");
    assert!(detail.body.contains("ms</td>"), "latency shown");
    assert!(detail.body.contains(">200<"), "HTTP status shown");
    assert!(detail.body.contains("submitting") && detail.body.contains("approved"));
    assert_eq!(b.get("/backoffice/transactions/txn_nope").await.status, 404);
}

#[tokio::test]
async fn backoffice_redelivers_a_dead_webhook_with_the_same_id() {
    let app = TestApp::start().await;
    app.mp
        .fail_next
        .store(100, std::sync::atomic::Ordering::SeqCst);
    let id = app.payout("10.00").await;
    app.wait_final(&id).await;
    let txn = TransactionId::parse(&id).unwrap();
    let store = &app.running.app.store;
    let mut dead = None;
    for _ in 0..200 {
        let d = store.webhooks_for_transaction(&txn).await.unwrap();
        if d.first().is_some_and(|d| d.state == DeliveryState::Dead) {
            dead = d.into_iter().next();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dead = dead.expect("the webhook was dead-lettered");
    app.mp
        .fail_next
        .store(0, std::sync::atomic::Ordering::SeqCst);

    let op = operator_with_password(&app, Role::Approver).await;
    let mut b = Browser::new(&app);
    b.login_as(&op).await;
    let page = b.get("/backoffice/webhooks?problem=dead").await;
    assert!(page.body.contains(dead.id.as_str()), "{}", page.body);
    let csrf = b.csrf().await;
    let path = format!("/backoffice/webhooks/{}/redeliver", dead.id);
    let answer = b
        .post(
            &path,
            &[("csrf", &csrf), ("reason", "MP fixed their endpoint")],
        )
        .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let got = app.mp.wait_delivered(&id, 1).await;
    assert!(
        got.iter().all(|w| w.id == dead.id.as_str()),
        "same webhook-id"
    );
    assert!(got.len() > 1, "failed attempts, then the redelivery");
    for _ in 0..100 {
        let d = store.webhook_delivery(&dead.id).await.unwrap().unwrap();
        if d.state == DeliveryState::Delivered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let again = b.post(&path, &[("csrf", &csrf), ("reason", "again")]).await;
    assert_eq!(again.status, 409, "a delivered webhook is not redelivered");
    assert!(again.body.contains("delivered"));
}

#[tokio::test]
async fn backoffice_disabling_an_account_takes_it_out_of_routing_and_is_audited() {
    let app = TestApp::start().await;
    let store = &app.running.app.store;
    let account = store
        .psp_accounts(&app.company.id)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.psp_type.as_str() == "PAYMENTSOFT")
        .unwrap();
    let admin = operator_with_password(&app, Role::Admin).await;
    let mut b = Browser::new(&app);
    b.login_as(&admin).await;
    let page = b.get("/backoffice/psp-accounts").await;
    assert!(page.body.contains(account.id.as_str()) && page.body.contains("enabled"));
    let csrf = b.csrf().await;
    let off = b
        .post(
            &format!("/backoffice/psp-accounts/{}/disable", account.id),
            &[("csrf", &csrf), ("reason", "PSP outage")],
        )
        .await;
    assert_eq!(off.status, 303, "{}", off.body);
    let (status, body) = app.cashier(&TestApp::payout_body("10.00")).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (422, Some("PSP_NOT_CONFIGURED"))
    );
    let on = b
        .post(
            &format!("/backoffice/psp-accounts/{}/enable", account.id),
            &[("csrf", &csrf), ("reason", "PSP back")],
        )
        .await;
    assert_eq!(on.status, 303);
    let id = app.payout("10.00").await;
    assert_eq!(app.wait_final(&id).await["transactionStatus"], "Approved");
    let after = b.get("/backoffice/psp-accounts").await;
    assert!(after.body.contains("100% (1 of 1)"), "success rate shown");

    let audit = b.get("/backoffice/audit").await;
    assert_eq!(audit.status, 200);
    assert!(audit.body.contains("disable_account") && audit.body.contains("PSP outage"));
    let entries = store
        .audit_log(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    let switch = entries
        .iter()
        .find(|e| e.action == AuditAction::EnableAccount)
        .unwrap();
    assert_eq!(switch.operator_id.as_ref(), Some(&admin.id));
    assert_eq!(switch.target.as_deref(), Some(account.id.as_str()));
    assert_eq!(switch.reason.as_deref(), Some("PSP back"));
}

#[tokio::test]
async fn backoffice_queue_shows_the_users_history_and_the_mp_answer() {
    let app = TestApp::start().await;
    // user-1's history: two approved payouts and one rejected by an operator.
    for amount in ["100.00", "20.00"] {
        let id = app.payout(amount).await;
        app.wait_final(&id).await;
    }
    let rejected = app.payout("1100.00").await;
    let token = app.operator(Role::Approver).await;
    assert_eq!(
        app.decide(&token, &rejected, "reject", Some("no")).await.0,
        200
    );
    let held = app.payout("1500.00").await;
    let op = operator_with_password(&app, Role::Approver).await;
    let mut b = Browser::new(&app);
    b.login_as(&op).await;
    let queue = b.get("/backoffice/queue").await;
    let context = &queue.body[queue
        .body
        .find(&format!("context-{held}"))
        .expect("a context row")..];
    for expected in [
        "payouts</dt>",
        "2 approved: 120.00 EUR · 1 rejected",
        "Net deposits",
        "−120.00 EUR",
        "1 earlier payout rejected",
        "allowed when requested",
        "Last 3 transactions of user-1",
        &rejected,
    ] {
        assert!(
            context.contains(expected),
            "{expected:?} missing from the context"
        );
    }
}

#[tokio::test]
async fn backoffice_overview_counts_final_states_and_draws_the_charts() {
    let app = TestApp::start().await;
    for amount in ["10.00", "11.00", "12.51"] {
        let id = app.payout(amount).await;
        app.wait_final(&id).await;
    }
    app.payout("1500.00").await; // held
    let op = operator_with_password(&app, Role::Viewer).await;
    let mut b = Browser::new(&app);
    b.login_as(&op).await;
    let home = b.get("/backoffice").await;
    assert_eq!(home.location.as_deref(), Some("/backoffice/overview"));
    for period in [
        "",
        "?period=7d",
        "?period=30d",
        &format!("?period=24h&company={}", app.company.id),
    ] {
        let page = b.get(&format!("/backoffice/overview{period}")).await;
        assert_eq!(page.status, 200, "{period}");
        for expected in [
            "id=\"kpi-payouts\">2<",
            "66.7%",
            "1 waiting, oldest",
            "<svg class=\"chart\"",
            "Acceptance over time",
            "2 approved · 1 declined · 0 failed",
            "PAYMENTSOFT",
        ] {
            assert!(
                page.body.contains(expected),
                "{expected:?} missing for {period:?}"
            );
        }
    }
    let other = b.get("/backoffice/overview?company=cmp_nope").await;
    assert_eq!(other.status, 200);
    assert!(
        other.body.contains("id=\"kpi-payouts\">0<") && other.body.contains("nothing waiting"),
        "another company's view is empty"
    );
    assert_eq!(
        b.get("/backoffice/overview?company=not-an-id").await.status,
        400
    );
}

#[tokio::test]
async fn backoffice_routing_rules_are_edited_dry_run_diffed_and_rolled_back_by_admins() {
    use crate::routing_support::harness_account;
    let app = TestApp::start().await;
    let ps = harness_account(&app, "PAYMENTSOFT").await;
    let admin = operator_with_password(&app, Role::Admin).await;
    let mut b = Browser::new(&app);
    b.login_as(&admin).await;
    let path = format!("/backoffice/routing/{}/rules", app.company.id);
    let csrf = b.csrf().await;
    let bad = r#"{"rules":[{"name":"x","when":{"currency":["EURO"]},"then":{"route":[{"account":"psp_nope"}]}}]}"#;
    let refused = b
        .post(
            &path,
            &[("csrf", &csrf), ("document", bad), ("reason", "try")],
        )
        .await;
    assert_eq!(refused.status, 200);
    for expected in [
        "Not stored; the active version stays",
        "rules[0].when.currency[0]",
        "rules[0].then.route[0].account",
        "psp_nope",
    ] {
        assert!(refused.body.contains(expected), "{expected:?} missing");
    }
    assert!(app
        .running
        .app
        .store
        .routing_rules(&app.company.id)
        .await
        .unwrap()
        .is_none());
    let good = format!(
        r#"{{"rules":[{{"name":"all payouts","when":{{"type":"PAYOUT"}},"then":{{"route":[{{"account":"{ps}"}}]}}}}]}}"#
    );
    let csrf = b.csrf().await;
    let saved = b
        .post(
            &path,
            &[("csrf", &csrf), ("document", &good), ("reason", "launch")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = b.get(saved.location.as_deref().unwrap()).await;
    assert!(page.body.contains("Version 1 is stored and active."));
    let blocked =
        r#"{"rules":[{"name":"stop","when":{"type":"PAYOUT"},"then":{"block":"maintenance"}}]}"#;
    let csrf = b.csrf().await;
    assert_eq!(
        b.post(
            &path,
            &[("csrf", &csrf), ("document", blocked), ("reason", "freeze")]
        )
        .await
        .status,
        303
    );
    // The dry run shows the decision, and the diff of version 2 shows what changed.
    let csrf = b.csrf().await;
    let body = r#"{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":10.00,"currency":"EUR","userId":"u","email":"a@b.co"}"#;
    let dry = b
        .post(
            &format!("/backoffice/routing/{}/evaluate", app.company.id),
            &[("csrf", &csrf), ("body", body)],
        )
        .await;
    let at = dry
        .body
        .find("decision-")
        .map(|i| &dry.body[i..i + 400])
        .unwrap_or(&dry.body[..0]);
    assert!(
        at.contains("blocked by rule") && at.contains("maintenance"),
        "dry run: {at}"
    );
    let v2 = b
        .get(&format!(
            "/backoffice/routing/{}/versions/2",
            app.company.id
        ))
        .await;
    assert!(
        v2.body.contains("Changes since version 1")
            && v2.body.contains("class=\"add\">+ ")
            && v2.body.contains("maintenance")
    );
    let csrf = b.csrf().await;
    let back = b
        .post(
            &format!("/backoffice/routing/{}/versions/1/rollback", app.company.id),
            &[("csrf", &csrf), ("reason", "unfreeze")],
        )
        .await;
    assert_eq!(back.status, 303);
    let active = app
        .running
        .app
        .store
        .routing_rules(&app.company.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(active.version, 3, "a roll-back is a new version");
    assert!(active.document.contains("all payouts"));
    let audit = app
        .running
        .app
        .store
        .audit_log(&AuditQuery {
            action: Some(AuditAction::SetRoutingRules),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let details: Vec<String> = audit
        .items
        .iter()
        .map(|a| a.detail.clone().unwrap_or_default())
        .collect();
    assert_eq!(audit.items.len(), 3, "{details:?}");
    assert!(details[0].contains("roll-back to version 1"), "{details:?}");

    let viewer = operator_with_password(&app, Role::Viewer).await;
    let mut v = Browser::new(&app);
    v.login_as(&viewer).await;
    let csrf = v.csrf().await;
    assert_eq!(
        v.post(
            &path,
            &[("csrf", &csrf), ("document", &good), ("reason", "no")]
        )
        .await
        .status,
        403
    );
    assert!(
        !v.get("/backoffice/routing")
            .await
            .body
            .contains("Check and activate"),
        "viewers read only"
    );
}
