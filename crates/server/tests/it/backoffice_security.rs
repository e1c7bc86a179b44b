//! Back-office security over HTTP: login, wrong password, CSRF, session expiry, logout and
//! roles (the login throttle is in `backoffice_throttle.rs`). Each refusal has a clear message and a stable code, and changes nothing.

use crate::backoffice_support::*;
use crate::harness::*;
use overture_core::backoffice::{AuditAction, AuditQuery};
use overture_core::*;
use std::time::Duration;

async fn audit_actions(app: &TestApp) -> Vec<AuditAction> {
    let query = AuditQuery {
        limit: 500,
        ..Default::default()
    };
    let page = app.running.app.store.audit_log(&query).await.unwrap();
    page.items.iter().map(|e| e.action).collect()
}

#[tokio::test]
async fn backoffice_login_needs_the_right_password() {
    let app = TestApp::start().await;
    let op = operator_with_password(&app, Role::Approver).await;
    let mut b = Browser::new(&app);

    let wrong = b.login(&op.email, "not the password at all").await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("Wrong email or password."),
        "{}",
        wrong.body
    );
    assert!(!b.has_session());
    let unknown = b.login("nobody@ops.example", PASSWORD).await;
    assert_eq!(unknown.status, 401, "same answer for an unknown email");
    assert!(unknown.body.contains("Wrong email or password."));

    b.login_as(&op).await;
    let queue = b.get("/backoffice/queue").await;
    assert_eq!(queue.status, 200);
    assert!(queue.body.contains(&op.email));
    let actions = audit_actions(&app).await;
    assert_eq!(
        actions,
        [
            AuditAction::Login,
            AuditAction::LoginFailed,
            AuditAction::LoginFailed,
            AuditAction::SetPassword
        ],
        "newest first; the password was set (and audited) when the operator was made"
    );
}

#[tokio::test]
async fn backoffice_login_form_without_csrf_token_is_refused() {
    let app = TestApp::start().await;
    let op = operator_with_password(&app, Role::Admin).await;
    let mut b = Browser::new(&app);
    let answer = b
        .post(
            "/backoffice/login",
            &[("email", op.email.as_str()), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_code.as_deref(), Some("CSRF_INVALID"));
    assert!(answer.body.contains("security token (CSRF) is missing"));
    assert!(!b.has_session());
}

#[tokio::test]
async fn backoffice_pages_need_a_session_and_sessions_expire_when_idle() {
    let app = TestApp::with(Options {
        extra_args: vec!["--backoffice-session-idle".into(), "1s".into()],
        ..Default::default()
    })
    .await;
    let id = app.payout("1500.00").await;
    let op = operator_with_password(&app, Role::Approver).await;
    let mut b = Browser::new(&app);

    let anonymous = b.get("/backoffice/transactions?user=user-1").await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(
        anonymous.location.as_deref(),
        Some("/backoffice/login?next=%2Fbackoffice%2Ftransactions%3Fuser%3Duser-1")
    );
    let anonymous_post = b
        .post(&format!("/backoffice/transactions/{id}/decide"), &[])
        .await;
    assert_eq!(anonymous_post.error_code.as_deref(), Some("LOGIN_REQUIRED"));

    b.login_as(&op).await;
    let csrf = b.csrf().await;
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let late = b
        .post(
            &format!("/backoffice/transactions/{id}/decide"),
            &[("csrf", &csrf), ("decision", "approve"), ("reason", "ok")],
        )
        .await;
    assert_eq!(late.status, 401);
    assert_eq!(late.error_code.as_deref(), Some("SESSION_EXPIRED"));
    assert!(late
        .body
        .contains("Your session has expired. Log in again; nothing was changed."));
    assert_eq!(state_of(&app, &id).await, TxnState::AwaitingApproval);
    let page = b.get("/backoffice/queue").await;
    assert_eq!(page.status, 303, "the expired session is gone");
    assert!(page.location.unwrap().starts_with("/backoffice/login"));
}

#[tokio::test]
async fn backoffice_forms_without_the_session_csrf_token_change_nothing() {
    let app = TestApp::start().await;
    let id = app.payout("1500.00").await;
    let op = operator_with_password(&app, Role::Admin).await;
    let mut b = Browser::new(&app);
    b.login_as(&op).await;
    let path = format!("/backoffice/transactions/{id}/decide");
    for fields in [
        vec![("decision", "approve"), ("reason", "ok")],
        vec![
            ("csrf", "forged"),
            ("decision", "approve"),
            ("reason", "ok"),
        ],
    ] {
        let answer = b.post(&path, &fields).await;
        assert_eq!(answer.status, 403, "{fields:?}");
        assert_eq!(answer.error_code.as_deref(), Some("CSRF_INVALID"));
    }
    // Another session's token does not work either.
    let mut other = Browser::new(&app);
    other.login_as(&op).await;
    let foreign = other.csrf().await;
    let answer = b
        .post(
            &path,
            &[("csrf", &foreign), ("decision", "reject"), ("reason", "x")],
        )
        .await;
    assert_eq!(answer.error_code.as_deref(), Some("CSRF_INVALID"));
    let logout = b.post("/backoffice/logout", &[]).await;
    assert_eq!(logout.error_code.as_deref(), Some("CSRF_INVALID"));
    assert_eq!(state_of(&app, &id).await, TxnState::AwaitingApproval);
    assert!(audit_actions(&app).await.iter().all(|a| !matches!(
        a,
        AuditAction::Approve | AuditAction::Reject | AuditAction::Logout
    )));
}

#[tokio::test]
async fn backoffice_roles_are_enforced_on_the_server() {
    let app = TestApp::start().await;
    let id = app.payout("1500.00").await;
    let viewer = operator_with_password(&app, Role::Viewer).await;
    let mut b = Browser::new(&app);
    b.login_as(&viewer).await;

    let queue = b.get("/backoffice/queue").await;
    assert!(queue.body.contains(&id), "viewers see the queue");
    assert!(queue.body.contains("view only"));
    assert!(
        !queue.body.contains("value=\"approve\""),
        "no decision form for viewers"
    );
    let answer = b.decide(&id, "approve", "looks fine").await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_code.as_deref(), Some("FORBIDDEN"));
    assert!(
        answer
            .body
            .contains("Your role (viewer) cannot approve or reject payouts. Nothing was changed."),
        "{}",
        answer.body
    );
    assert_eq!(b.get("/backoffice/audit").await.status, 403);
    let accounts = app
        .running
        .app
        .store
        .psp_accounts(&app.company.id)
        .await
        .unwrap();
    let csrf = b.csrf().await;
    let switch = b
        .post(
            &format!("/backoffice/psp-accounts/{}/disable", accounts[0].id),
            &[("csrf", &csrf), ("reason", "test")],
        )
        .await;
    assert_eq!(switch.status, 403);
    assert!(
        app.running
            .app
            .store
            .psp_accounts(&app.company.id)
            .await
            .unwrap()[0]
            .enabled
    );

    // An approver may decide but not switch accounts or read the audit log.
    let approver = operator_with_password(&app, Role::Approver).await;
    let mut a = Browser::new(&app);
    a.login_as(&approver).await;
    assert_eq!(a.get("/backoffice/audit").await.status, 403);
    let missing_reason = a.decide(&id, "approve", "  ").await;
    assert_eq!(missing_reason.status, 400);
    assert!(missing_reason.body.contains("A reason is required"));
    assert_eq!(state_of(&app, &id).await, TxnState::AwaitingApproval);
    assert_eq!(
        a.decide(&id, "reject", "duplicate payout").await.status,
        303
    );
    assert_eq!(state_of(&app, &id).await, TxnState::Rejected);
}

#[tokio::test]
async fn backoffice_logout_ends_the_session_and_pages_are_hardened() {
    let app = TestApp::start().await;
    let op = operator_with_password(&app, Role::Admin).await;
    let mut b = Browser::new(&app);
    let login_page = b.get("/backoffice/login").await;
    assert!(login_page.body.contains("name=\"password\""));
    b.login_as(&op).await;
    let resp = reqwest::Client::new()
        .get(format!("{}/backoffice/login", app.url))
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http test server");
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");

    let saved = b.csrf().await;
    let out = b.post("/backoffice/logout", &[("csrf", &saved)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location.as_deref(), Some("/backoffice/login?bye=1"));
    assert!(!b.has_session());
    assert_eq!(b.get("/backoffice/queue").await.status, 303);
    let actions = audit_actions(&app).await;
    assert_eq!(actions[0], AuditAction::Logout, "{actions:?}");
    assert!(actions.contains(&AuditAction::Login));
}
