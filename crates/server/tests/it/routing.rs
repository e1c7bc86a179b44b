//! Routing rules through the API: documents checked whole (400 naming the path, the active
//! version kept), block and hold rules, the volume split, daily caps with a fallback, and the
//! evaluate dry run.

use crate::harness::*;
use crate::routing_support::*;
use serde_json::{json, Value};

#[tokio::test]
async fn invalid_documents_name_the_path_and_the_active_version_stays() {
    let app = TestApp::start().await;
    let ps = harness_account(&app, "PAYMENTSOFT").await;
    let good = json!({"rules": [rule("all payouts", "PAYOUT", &[&ps], &[])]});
    let (status, body) = put_rules(&app, &good).await;
    assert_eq!(
        (status, &body["data"]["version"]),
        (200, &json!(1)),
        "{body}"
    );

    let bad = json!({"rules": [
        rule("ok", "PAYOUT", &[&ps], &[]),
        {"name": "broken", "when": {"currency": ["EUR", "EURO"]},
         "then": {"route": [{"account": "psp_nope"}], "maxAttempts": 99}},
    ]});
    let (status, body) = put_rules(&app, &bad).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "VALIDATION_ERROR");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for path in [
        "rules[1].when.currency[1]",
        "rules[1].then.route[0].account",
        "rules[1].then.maxAttempts",
    ] {
        assert!(fields.contains(&path), "{path} in {fields:?}");
    }
    let (status, body) = put_rules(&app, &json!({"rules": [{"name": "x"}], "rules2": 1})).await;
    assert_eq!(status, 400, "{body}");
    let dup = r#"{"rules":[],"rules":[]}"#;
    let resp = app
        .http
        .put(format!("{}/v1/api/routing/rules", app.url))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(dup)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "duplicate keys are refused");

    let shown: Value = app
        .http
        .get(format!("{}/v1/api/routing/rules", app.url))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        shown["data"]["version"], 1,
        "the old version stays active: {shown}"
    );
    assert_eq!(shown["data"]["rules"][0]["name"], "all payouts");
    let unauthenticated = app
        .http
        .get(format!("{}/v1/api/routing/rules", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn a_block_rule_stores_nothing_and_a_hold_rule_queues_cad_payouts_from_500() {
    let app = TestApp::start().await;
    let gigadat = harness_account(&app, "GIGADAT").await;
    let doc = json!({"rules": [
        {"name": "no brand-x", "when": {"brandId": ["brand-x"]}, "then": {"block": "brand-x is suspended"}},
        {"name": "big CAD payouts", "when": {"type": "PAYOUT", "currency": ["CAD"], "amount": {"min": 500}},
         "then": {"route": [{"account": gigadat}], "holdForApproval": true}},
    ]});
    assert_eq!(put_rules(&app, &doc).await.0, 200);

    let mut blocked = TestApp::payout_body("10.00");
    blocked["brandId"] = json!("brand-x");
    let before = app.stored_count().await;
    let (status, body) = app.cashier(&blocked).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (422, Some("ROUTING_BLOCKED")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("brand-x is suspended"),
        "{body}"
    );
    assert_eq!(app.stored_count().await, before, "nothing stored");
    assert!(
        app.mp.verify_calls.lock().unwrap().is_empty(),
        "nobody was asked"
    );

    let cad = |amount: &str| -> Value {
        serde_json::from_str(&format!(
            r#"{{"pspType":"GIGADAT","type":"PAYOUT","baseamount":{amount},"currency":"CAD","userId":"user-c",
                "email":"p@example.com","country":"CA","name":"Ada Lovelace","phone":"4165550123"}}"#
        ))
        .unwrap()
    };
    let (status, body) = app.cashier(&cad("600")).await;
    assert_eq!(status, 200, "{body}");
    let held = body["data"]["transactionId"].as_str().unwrap().to_owned();
    assert_eq!(
        app.status(&held).await["state"],
        "awaiting_approval",
        "below the 1000 threshold, held by the rule"
    );
    assert!(
        attempts(&app, &held).await.is_empty(),
        "nothing sent before approval"
    );
    let (status, body) = app.cashier(&cad("499.99")).await;
    assert_eq!(status, 200, "{body}");
    let free = body["data"]["transactionId"].as_str().unwrap().to_owned();
    assert_eq!(app.wait_final(&free).await["transactionStatus"], "Approved");

    // Approval sends the held payout through the account routing chooses then.
    let approver = app.operator(overture_core::Role::Approver).await;
    let (status, body) = app.decide(&approver, &held, "approve", Some("ok")).await;
    assert_eq!(status, 200, "{body}");
    let view = app.wait_final(&held).await;
    assert_eq!(view["attempts"][0]["pspAccountId"], json!(gigadat));
    assert_eq!(view["attempts"][0]["decision"]["rule"], "big CAD payouts");
}

#[tokio::test]
async fn a_70_30_split_lands_within_five_points_over_1000_evaluations() {
    let app = TestApp::start().await;
    let a = harness_account(&app, "PAYMENTSOFT").await;
    let b = add_account(&app, "PAYMENTSOFT", 0, Reach::Sandbox).await;
    let doc = json!({"rules": [{"name": "split", "when": {"type": "PAYOUT"},
        "then": {"route": [{"account": a, "weight": 70}, {"account": b, "weight": 30}]}}]});
    assert_eq!(put_rules(&app, &doc).await.0, 200);
    let body = TestApp::payout_body("10.00");
    let mut to_a = 0;
    for _ in 0..1000 {
        let d = evaluate(&app, &body).await;
        assert_eq!(d["rule"], "split");
        assert_eq!(d["candidates"].as_array().unwrap().len(), 2);
        if d["chosen"] == json!(a) {
            to_a += 1;
        } else {
            assert_eq!(d["chosen"], json!(b));
        }
    }
    assert!(
        (650..=750).contains(&to_a),
        "{to_a} of 1000 to the 70% account"
    );
    assert_eq!(app.stored_count().await, 0, "evaluate stores nothing");
}

/// A daily count cap of 1 on the first account: the second payout goes to the fallback, and
/// the evaluate answer names the cap.
async fn daily_cap_moves_payouts_to_the_fallback(postgres: bool) {
    let app = TestApp::with(Options {
        postgres,
        ..Options::default()
    })
    .await;
    let capped = harness_account(&app, "PAYMENTSOFT").await;
    let fallback = add_account(&app, "PAYMENTSOFT", 0, Reach::Sandbox).await;
    let store = app.running.app.store.clone();
    let mut account = store.psp_account(&capped).await.unwrap().unwrap();
    account.limits.daily_count_cap = Some(1);
    store.update_psp_account(&account).await.unwrap();
    app.running.app.psp_accounts.invalidate(&app.company.id);
    let doc = json!({"rules": [rule("capped", "PAYOUT", &[&capped], &[&fallback])]});
    assert_eq!(put_rules(&app, &doc).await.0, 200);

    let first = app.payout("20.00").await;
    let view = app.wait_final(&first).await;
    assert_eq!(view["attempts"][0]["pspAccountId"], json!(capped));
    let d = evaluate(&app, &TestApp::payout_body("20.00")).await;
    assert_eq!(d["chosen"], json!(fallback), "{d}");
    let refused = &d["candidates"][0];
    assert_eq!(
        (refused["account"].clone(), refused["eligible"].clone()),
        (json!(capped), json!(false))
    );
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("daily count cap"),
        "{d}"
    );
    let second = app.payout("20.00").await;
    let view = app.wait_final(&second).await;
    assert_eq!(view["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(view["attempts"][0]["pspAccountId"], json!(fallback));
    assert_eq!(view["transactionStatus"], "Approved");
}

#[tokio::test]
async fn daily_cap_moves_payouts_to_the_fallback_sqlite() {
    daily_cap_moves_payouts_to_the_fallback(false).await;
}

#[tokio::test]
async fn daily_cap_moves_payouts_to_the_fallback_postgres() {
    daily_cap_moves_payouts_to_the_fallback(true).await;
}

#[tokio::test]
async fn a_rule_may_route_a_body_without_psp_type() {
    let app = TestApp::start().await;
    let ps = harness_account(&app, "PAYMENTSOFT").await;
    let mut body = TestApp::payout_body("30.00");
    body.as_object_mut().unwrap().remove("pspType");
    let (status, resp) = app.cashier(&body).await;
    assert_eq!(
        (status, resp["errors"][0]["field"].as_str()),
        (400, Some("pspType")),
        "{resp}"
    );
    let doc = json!({"rules": [{"name": "vip", "when": {"type": "PAYOUT", "metadata": {"tier": "vip"}},
        "then": {"route": [{"account": ps}]}}]});
    assert_eq!(put_rules(&app, &doc).await.0, 200);
    body["metadata"] = json!({"tier": "vip"});
    let (status, resp) = app.cashier(&body).await;
    assert_eq!(status, 200, "{resp}");
    let id = resp["data"]["transactionId"].as_str().unwrap();
    let view = app.wait_final(id).await;
    assert_eq!(view["pspType"], "PAYMENTSOFT");
    assert_eq!(view["metadata"]["tier"], "vip");
    assert_eq!(view["routing"]["rule"], "vip");
}
