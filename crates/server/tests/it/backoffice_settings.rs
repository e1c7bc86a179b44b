//! The back office's settings pages: company settings (admins change them, checked whole,
//! audited; others read them) and PSP accounts with their caps, today's usage, health and the
//! credentials test.

use crate::backoffice_support::*;
use crate::harness::*;
use crate::merchant_support::call;
use overture_core::backoffice::{AuditAction, AuditEntry, AuditQuery};
use overture_core::*;
use serde_json::json;

async fn audit_entries(app: &TestApp, action: AuditAction) -> Vec<AuditEntry> {
    app.running
        .app
        .store
        .audit_log(&AuditQuery {
            action: Some(action),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
}

/// The settings form as the page fills it for the test company, with `changes` applied.
fn settings_form<'a>(
    app: &'a TestApp,
    csrf: &'a str,
    changes: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("name", "Test MP"),
        ("webhook_url", app.company.webhook_url.as_str()),
        ("verify_user_url", app.company.verify_user_url.as_str()),
        ("payout_thresholds", ""),
        ("default_payout_threshold", "1000"),
        ("four_eyes_thresholds", ""),
        ("default_four_eyes_threshold", ""),
        ("reason", "new risk policy"),
    ];
    for (k, v) in changes {
        form.retain(|(name, _)| name != k);
        form.push((k, v));
    }
    form
}

#[tokio::test]
async fn backoffice_company_settings_are_changed_by_admins_checked_whole_and_audited() {
    let app = TestApp::start().await;
    let path = format!("/backoffice/companies/{}", app.company.id);

    // A viewer reads the settings and cannot change them.
    let viewer = operator_with_password(&app, Role::Viewer).await;
    let mut v = Browser::new(&app);
    v.login_as(&viewer).await;
    let page = v.get("/backoffice/companies").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(app.company.webhook_url.as_str()),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("name=\"payout_thresholds\""),
        "no form for a viewer"
    );
    let csrf = v.csrf().await;
    let refused = v.post(&path, &settings_form(&app, &csrf, &[])).await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    let admin = operator_with_password(&app, Role::Admin).await;
    let mut b = Browser::new(&app);
    b.login_as(&admin).await;
    let csrf = b.csrf().await;
    // Refused whole: a bad amount and an unknown currency, each named; nothing changes.
    let bad = b
        .post(
            &path,
            &settings_form(
                &app,
                &csrf,
                &[
                    ("payout_thresholds", "EUR 5x0, XYZ 10"),
                    ("name", "Renamed"),
                ],
            ),
        )
        .await;
    assert_eq!(bad.status, 200, "{}", bad.body);
    assert!(
        bad.body.contains("Not saved; nothing changed"),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("payoutApprovalThresholds.EUR"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("XYZ 10"), "{}", bad.body);
    let stored = app
        .running
        .app
        .store
        .company(&app.company.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name, "Test MP");
    assert!(audit_entries(&app, AuditAction::UpdateCompany)
        .await
        .is_empty());

    // Accepted: payouts of 500 EUR or more wait for approval, other currencies keep 1000.
    let ok = b
        .post(
            &path,
            &settings_form(&app, &csrf, &[("payout_thresholds", "EUR 500")]),
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let page = b.get(ok.location.as_deref().unwrap()).await;
    assert!(page.body.contains("saved"), "{}", page.body);
    assert!(page.body.contains("EUR 500"), "{}", page.body);
    let (status, body) = app.cashier(&TestApp::payout_body("600.00")).await;
    assert_eq!(status, 200, "{body}");
    let held = body["data"]["transactionId"].as_str().unwrap().to_owned();
    assert_eq!(state_of(&app, &held).await, TxnState::AwaitingApproval);
    let mut usd = TestApp::payout_body("600.00");
    usd["currency"] = json!("USD");
    let (status, body) = app.cashier(&usd).await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["transactionId"].as_str().unwrap().to_owned();
    assert_ne!(state_of(&app, &id).await, TxnState::AwaitingApproval);
    // The merchant sees the same settings.
    let (_, company) = call(&app, "GET", "/v1/api/company", None).await;
    assert_eq!(company["data"]["payoutApprovalThresholds"]["EUR"], "500.00");

    let records = audit_entries(&app, AuditAction::UpdateCompany).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(r.operator_id.as_ref(), Some(&admin.id));
    assert_eq!(r.target.as_deref(), Some(app.company.id.as_str()));
    assert_eq!(r.reason.as_deref(), Some("new risk policy"));
    assert!(
        r.detail
            .as_deref()
            .unwrap_or_default()
            .contains("payoutApprovalThresholds"),
        "{r:?}"
    );

    // Removing the currency's own threshold goes back to the fallback.
    let cleared = b.post(&path, &settings_form(&app, &csrf, &[])).await;
    assert_eq!(cleared.status, 303, "{}", cleared.body);
    let stored = app
        .running
        .app
        .store
        .company(&app.company.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.thresholds.payout_approval.is_empty(),
        "{:?}",
        stored.thresholds
    );
}

#[tokio::test]
async fn merchant_api_changes_to_settings_are_in_the_audit_log() {
    let app = TestApp::start().await;
    let (status, body) = call(
        &app,
        "PATCH",
        "/v1/api/company",
        Some(&json!({"name": "Renamed MP", "webhookAuthorization": "Bearer other"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let records = audit_entries(&app, AuditAction::UpdateCompany).await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.operator_id, None);
    assert_eq!(r.operator_email, "merchant API");
    let detail = r.detail.as_deref().unwrap();
    assert!(
        detail.contains("name") && detail.contains("webhookAuthorization"),
        "{detail}"
    );
    assert!(
        !detail.contains("Bearer other"),
        "names only, never a value: {detail}"
    );
}

#[tokio::test]
async fn backoffice_psp_accounts_show_caps_usage_health_and_test_credentials() {
    let app = TestApp::start().await;
    let store = &app.running.app.store;
    let account = store
        .psp_accounts(&app.company.id)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.psp_type.as_str() == "FORUMPAY")
        .unwrap();
    let id = account.id.to_string();
    let (status, body) = call(
        &app,
        "PATCH",
        &format!("/v1/api/psp-accounts/{id}"),
        Some(&json!({"dailyCountCap": 5, "dailyAmountCap": {"EUR": "10000.00"}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.cashier(&TestApp::payin_body("25.00")).await;
    assert_eq!(status, 200, "{body}");

    let admin = operator_with_password(&app, Role::Admin).await;
    let mut b = Browser::new(&app);
    b.login_as(&admin).await;
    let page = b.get("/backoffice/psp-accounts").await;
    assert_eq!(page.status, 200);
    let row = page
        .body
        .split(&format!("<tr id=\"account-{id}\">"))
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap_or_else(|| panic!("no row for {id}: {}", page.body));
    assert!(row.contains("daily cap 10000.00 EUR"), "{row}");
    assert!(row.contains("daily cap 5 payments"), "{row}");
    assert!(row.contains("1 of 5 accepted"), "{row}");
    assert!(row.contains("25.00 EUR of 10000.00 EUR"), "{row}");
    assert!(row.contains("circuit closed"), "{row}");
    assert!(row.contains("Test credentials"), "{row}");

    // The test with the sandbox's credentials, then with a wrong secret.
    let csrf = b.csrf().await;
    let test = format!("/backoffice/psp-accounts/{id}/test");
    let good = b.post(&test, &[("csrf", &csrf)]).await;
    assert_eq!(good.status, 303, "{}", good.body);
    let shown = b.get(good.location.as_deref().unwrap()).await;
    assert!(
        shown
            .body
            .contains(&format!("Credentials test of {id}: the PSP accepted")),
        "{}",
        shown.body
    );
    let (status, body) = call(
        &app,
        "PATCH",
        &format!("/v1/api/psp-accounts/{id}"),
        Some(&json!({"credentials": {"secret": "wrong-credential-value"}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let wrong = b.post(&test, &[("csrf", &csrf)]).await;
    let shown = b.get(wrong.location.as_deref().unwrap()).await;
    assert!(
        shown.body.contains("failed: INVALID_PSP_CREDENTIALS"),
        "{}",
        shown.body
    );
    let records = audit_entries(&app, AuditAction::TestCredentials).await;
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records
        .iter()
        .all(|r| r.target.as_deref() == Some(id.as_str())));
    assert!(records[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("INVALID_PSP_CREDENTIALS"));
    assert!(records[1].detail.as_deref().unwrap().contains("outcome ok"));

    // Others read the page but cannot test.
    let approver = operator_with_password(&app, Role::Approver).await;
    let mut a = Browser::new(&app);
    a.login_as(&approver).await;
    let page = a.get("/backoffice/psp-accounts").await;
    assert!(!page.body.contains("Test credentials"));
    let csrf = a.csrf().await;
    assert_eq!(a.post(&test, &[("csrf", &csrf)]).await.status, 403);
    // A query string cannot put text in the notice.
    let forged = b
        .get(&format!(
            "/backoffice/psp-accounts?test=%3Cscript%3E&id={id}&ms=1"
        ))
        .await;
    assert!(!forged.body.contains("<script>") && !forged.body.contains("Credentials test of"));
}
