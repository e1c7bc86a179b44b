//! The login throttle over HTTP: failed logins are counted per client address (long waits)
//! and per account (short waits), so an anonymous client can slow an operator's login by at
//! most the short per-account wait and never lock them out; an attempt inside a wait is
//! refused with 429 and `Retry-After` without its password being checked; `X-Forwarded-For`
//! counts only from a trusted proxy; each login write carries its audit record.
//!
//! The test client connects from 127.0.0.1; with `--trusted-proxies 127.0.0.1/32` a
//! [`Browser::from_address`] gives its requests a client address of their own.

use crate::backoffice_support::*;
use crate::harness::*;
use overture_core::backoffice::{AuditAction, AuditEntry, AuditQuery, ThrottleKey, ThrottleScope};
use overture_core::Role;
use sqlx::{Connection, Executor, Row};
use std::time::Duration;

/// A server behind a trusted proxy on 127.0.0.1, with `extra` flags.
async fn behind_proxy(extra: &[&str]) -> TestApp {
    let mut extra_args = vec!["--trusted-proxies".to_owned(), "127.0.0.1/32".to_owned()];
    extra_args.extend(extra.iter().map(|a| a.to_string()));
    TestApp::with(Options {
        extra_args,
        ..Default::default()
    })
    .await
}

async fn audit_entries(app: &TestApp) -> Vec<AuditEntry> {
    let query = AuditQuery {
        limit: 500,
        ..Default::default()
    };
    app.running.app.store.audit_log(&query).await.unwrap().items
}

fn count(entries: &[AuditEntry], action: AuditAction) -> usize {
    entries.iter().filter(|e| e.action == action).count()
}

/// Stored failures of one counter (0 when it has none).
async fn failures(app: &TestApp, scope: ThrottleScope, id: &str) -> i64 {
    let key = ThrottleKey::new(scope, id);
    let store = &app.running.app.store;
    let found = store.login_throttles(&[key]).await.unwrap();
    found.first().map_or(0, |t| t.failures)
}

/// A connection of the test's own to the server's SQLite file.
async fn database(app: &TestApp) -> sqlx::SqliteConnection {
    let url = format!("sqlite://{}", app.dir.join("overture.db").display());
    sqlx::SqliteConnection::connect(&url).await.unwrap()
}

#[tokio::test]
async fn an_attacker_guessing_from_one_address_does_not_lock_the_operator_out() {
    let app = behind_proxy(&["--backoffice-login-first-wait", "60s"]).await;
    let op = operator_with_password(&app, Role::Approver).await;
    let mut attacker = Browser::from_address(&app, "203.0.113.7");
    let mut statuses = Vec::new();
    for i in 0..20 {
        statuses.push(
            attacker
                .login(&op.email, &format!("guess {i}"))
                .await
                .status,
        );
    }
    // Five free failures, the sixth starts the address's wait; the rest are not checked.
    assert_eq!(statuses[..6], [401; 6], "{statuses:?}");
    assert!(statuses[6..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(
        failures(&app, ThrottleScope::Account, op.id.as_str()).await,
        6
    );

    let mut owner = Browser::from_address(&app, "198.51.100.20");
    owner.login_as(&op).await;
    assert_eq!(owner.get("/backoffice/queue").await.status, 200);
    assert_eq!(
        failures(&app, ThrottleScope::Account, op.id.as_str()).await,
        0,
        "a login clears the account's counter"
    );
    assert_eq!(
        failures(&app, ThrottleScope::Address, "203.0.113.7").await,
        6,
        "and not the attacker's"
    );
}

#[tokio::test]
async fn guesses_from_many_addresses_delay_the_operator_by_the_short_account_wait_at_most() {
    let app = behind_proxy(&[
        "--backoffice-login-first-wait",
        "2s",
        "--backoffice-login-max-wait-per-account",
        "2s",
    ])
    .await;
    let op = operator_with_password(&app, Role::Approver).await;
    // Ten free failures for the account, the eleventh starts its (2 s) wait.
    for i in 1..=11 {
        let mut attacker = Browser::from_address(&app, &format!("203.0.113.{i}"));
        assert_eq!(attacker.login(&op.email, "a guess").await.status, 401);
    }
    let mut owner = Browser::from_address(&app, "198.51.100.20");
    let wait = owner.login(&op.email, PASSWORD).await;
    assert_eq!(wait.status, 429, "{}", wait.body);
    assert!(wait.body.contains("for this account"), "{}", wait.body);
    let secs: u64 = wait.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=2).contains(&secs), "Retry-After {secs}");
    assert!(!owner.has_session());

    tokio::time::sleep(Duration::from_secs(secs) + Duration::from_millis(100)).await;
    owner.login_as(&op).await;
}

#[tokio::test]
async fn an_address_past_its_allowance_waits_for_every_account_unchecked() {
    let app = behind_proxy(&["--backoffice-login-first-wait", "60s"]).await;
    let first = operator_with_password(&app, Role::Approver).await;
    let second = operator_with_password(&app, Role::Viewer).await;
    let mut a = Browser::from_address(&app, "203.0.113.7");
    for i in 0..6 {
        let email = format!("nobody-{i}@ops.example");
        assert_eq!(
            a.login(&email, "a guess").await.status,
            401,
            "unknown emails count too"
        );
    }
    // The right password inside the wait is refused without being checked.
    let refused = a.login(&first.email, PASSWORD).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    let secs: u64 = refused.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((50..=60).contains(&secs), "Retry-After {secs}");
    assert!(
        refused
            .body
            .contains("Too many failed logins from your network address. Try again in"),
        "{}",
        refused.body
    );
    assert!(!a.has_session());
    assert_eq!(a.login(&second.email, "wrong").await.status, 429);
    // Nothing was checked, counted or audited for the refused attempts.
    assert_eq!(
        failures(&app, ThrottleScope::Address, "203.0.113.7").await,
        6
    );
    assert_eq!(
        failures(&app, ThrottleScope::Account, first.id.as_str()).await,
        0
    );
    let entries = audit_entries(&app).await;
    assert_eq!(count(&entries, AuditAction::LoginFailed), 6);
    assert_eq!(count(&entries, AuditAction::Login), 0);

    // Another address is not affected.
    Browser::from_address(&app, "198.51.100.20")
        .login_as(&first)
        .await;
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_gets_few_checks_beyond_the_allowance() {
    let app = behind_proxy(&["--backoffice-login-first-wait", "60s"]).await;
    let op = operator_with_password(&app, Role::Approver).await;
    let guesses: Vec<_> = (0..24)
        .map(|i| {
            let mut b = Browser::from_address(&app, "203.0.113.7");
            let email = op.email.clone();
            tokio::spawn(async move { b.login(&email, &format!("guess {i}")).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    // Checks run one per CPU and a failure is counted before its slot is free again, so past
    // the five free failures and the sixth that starts the wait, at most the other slots'
    // guesses were already being checked.
    let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
    assert!(
        (6..=5 + slots).contains(&checked),
        "{checked} checked with {slots} slots: {statuses:?}"
    );
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429));
    let counted = failures(&app, ThrottleScope::Address, "203.0.113.7").await;
    assert_eq!(counted, checked as i64, "every checked guess is counted");
}

#[tokio::test]
async fn without_trusted_proxies_forwarded_for_is_ignored() {
    let app = TestApp::with(Options {
        extra_args: vec!["--backoffice-login-first-wait".into(), "60s".into()],
        ..Default::default()
    })
    .await;
    let mut answers = Vec::new();
    for i in 0..8 {
        // A fresh "address" and email each time: only the socket's address stays the same.
        let mut b = Browser::from_address(&app, &format!("203.0.113.{i}"));
        let email = format!("nobody-{i}@ops.example");
        answers.push(b.login(&email, "a guess").await.status);
    }
    assert_eq!(answers, [401, 401, 401, 401, 401, 401, 429, 429]);
    assert_eq!(failures(&app, ThrottleScope::Address, "127.0.0.1").await, 6);
    assert_eq!(
        failures(&app, ThrottleScope::Address, "203.0.113.0").await,
        0
    );
}

#[tokio::test]
async fn login_writes_are_audited_with_the_client_address_in_the_same_transaction() {
    let app = behind_proxy(&[]).await;
    let op = operator_with_password(&app, Role::Admin).await;
    let mut attacker = Browser::from_address(&app, "203.0.113.7");
    assert_eq!(attacker.login(&op.email, "a guess").await.status, 401);
    let entries = audit_entries(&app).await;
    let failed = &entries[0];
    assert_eq!(failed.action, AuditAction::LoginFailed);
    assert_eq!(failed.operator_id.as_ref(), Some(&op.id));
    assert_eq!(
        failed.detail.as_deref(),
        Some("web; client 203.0.113.7; wrong password")
    );
    assert_eq!(
        failures(&app, ThrottleScope::Address, "203.0.113.7").await,
        1
    );
    assert_eq!(
        failures(&app, ThrottleScope::Account, op.id.as_str()).await,
        1
    );

    let mut owner = Browser::from_address(&app, "198.51.100.20");
    owner.login_as(&op).await;
    let csrf = owner.csrf().await;
    assert_eq!(
        owner
            .post("/backoffice/logout", &[("csrf", &csrf)])
            .await
            .status,
        303
    );
    let entries = audit_entries(&app).await;
    let details: Vec<_> = entries[..2]
        .iter()
        .map(|e| (e.action, e.detail.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        details,
        [
            (AuditAction::Logout, "web; client 198.51.100.20".to_owned()),
            (
                AuditAction::Login,
                "web; client 198.51.100.20; password accepted".to_owned()
            ),
        ]
    );

    // The database refuses audit records: the login fails as a whole, no session is stored.
    let mut db = database(&app).await;
    db.execute(
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
         BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
    )
    .await
    .unwrap();
    let mut late = Browser::from_address(&app, "198.51.100.21");
    let answer = late.login(&op.email, PASSWORD).await;
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert!(!late.has_session());
    let sessions: i64 = sqlx::query("SELECT COUNT(*) AS n FROM operator_sessions")
        .fetch_one(&mut db)
        .await
        .unwrap()
        .get("n");
    assert_eq!(
        sessions, 0,
        "the logged-out session is gone and no new one exists"
    );
}
