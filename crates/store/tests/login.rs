//! Conformance of the login store operations (operator lookup and passwords, the login
//! throttle's counters, sessions, and the audited writes of a login, a failed login and a
//! logout), on SQLite always and on PostgreSQL when `OVERTURE_TEST_POSTGRES_URL` is set.

mod support;

use overture_core::backoffice::{
    AuditAction, AuditEntry, AuditQuery, Backoff, BackofficeStore, FailedLogin, LoginThrottle,
    OperatorSession, SuccessfulLogin, ThrottleKey, ThrottlePolicy, ThrottleScope,
};
use overture_core::store::StoreError;
use overture_core::{Operator, OperatorId, Role};
use overture_store::SqlStore;
use support::{backends, finish, operator, refuse_audit_records};

const POLICY: ThrottlePolicy = ThrottlePolicy {
    per_address: Backoff {
        free_failures: 2,
        first_wait_ms: 1_000,
        max_wait_ms: 8_000,
    },
    per_account: Backoff {
        free_failures: 3,
        first_wait_ms: 1_000,
        max_wait_ms: 2_000,
    },
    reset_after_ms: 10_000,
};

fn keys() -> Vec<ThrottleKey> {
    vec![
        ThrottleKey::new(ThrottleScope::Address, "203.0.113.7"),
        ThrottleKey::new(ThrottleScope::Account, "email-sha256:00ff"),
    ]
}

fn audit(op: Option<&Operator>, action: AuditAction, at: i64) -> AuditEntry {
    AuditEntry {
        id: 0,
        at,
        operator_id: op.map(|o| o.id.clone()),
        operator_email: op.map_or("typed@x".into(), |o| o.email.clone()),
        action,
        target: None,
        reason: None,
        detail: Some("web; client 203.0.113.7".into()),
    }
}

async fn fail(s: &SqlStore, at: i64) -> Vec<LoginThrottle> {
    let failed = FailedLogin {
        keys: keys(),
        at,
        policy: POLICY,
        audit: audit(None, AuditAction::LoginFailed, at),
    };
    s.record_failed_login(&failed).await.unwrap()
}

/// `(failures, blocked_until)` of each counter, address first.
fn counts(throttles: &[LoginThrottle]) -> Vec<(i64, i64)> {
    throttles
        .iter()
        .map(|t| (t.failures, t.blocked_until))
        .collect()
}

async fn audit_actions(s: &SqlStore) -> Vec<AuditAction> {
    let query = AuditQuery {
        limit: 100,
        ..Default::default()
    };
    let page = s.audit_log(&query).await.unwrap();
    page.items.iter().map(|e| e.action).collect()
}

fn session(op: &Operator, id: &str, expires_at: i64) -> OperatorSession {
    OperatorSession {
        id_sha256: id.into(),
        operator_id: op.id.clone(),
        csrf_token: format!("csrf-{id}"),
        created_at: 10,
        last_seen_at: 10,
        expires_at,
    }
}

async fn log_in(s: &SqlStore, op: &Operator, id: &str, expires_at: i64) {
    let login = SuccessfulLogin {
        session: session(op, id, expires_at),
        clear: Vec::new(),
        audit: audit(Some(op), AuditAction::Login, 10),
    };
    s.record_login(&login).await.unwrap();
}

#[tokio::test]
async fn operators_are_found_by_email_and_passwords_set() {
    let all = backends("pw").await;
    for b in &all {
        let s = &b.store;
        let op = operator(s, "Ann@Ops.example", Role::Approver).await;
        let login = s.operator_login("ann@ops.example").await.unwrap().unwrap();
        assert_eq!(login.operator.id, op.id, "email matches case-insensitively");
        assert_eq!(login.password_hash, None);
        assert!(s.operator_login("bob@ops.example").await.unwrap().is_none());
        let set = support::audit(&op, AuditAction::SetPassword, Some(op.id.as_str()), 5);
        s.set_operator_password(&op.id, "$argon2id$v=19$fake", &set)
            .await
            .unwrap();
        let login = s.operator_login("Ann@Ops.example").await.unwrap().unwrap();
        assert_eq!(login.password_hash.as_deref(), Some("$argon2id$v=19$fake"));
        assert!(matches!(
            s.set_operator_password(&OperatorId::generate(), "x", &set)
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(
            audit_actions(s).await,
            [AuditAction::SetPassword],
            "one record, for the password actually set"
        );
    }
    finish(all).await;
}

#[tokio::test]
async fn failed_logins_count_per_key_back_off_reset_and_are_audited() {
    let all = backends("fail").await;
    for b in &all {
        let s = &b.store;
        assert!(s.login_throttles(&keys()).await.unwrap().is_empty());
        // Address: 2 free, then 1 s, 2 s, 4 s, 8 s (cap). Account: 3 free, then 1 s, 2 s (cap).
        assert_eq!(counts(&fail(s, 100).await), [(1, 100), (1, 100)]);
        assert_eq!(counts(&fail(s, 200).await), [(2, 200), (2, 200)]);
        assert_eq!(counts(&fail(s, 300).await), [(3, 1_300), (3, 300)]);
        assert_eq!(counts(&fail(s, 400).await), [(4, 2_400), (4, 1_400)]);
        assert_eq!(counts(&fail(s, 500).await), [(5, 4_500), (5, 2_500)]);
        assert_eq!(counts(&fail(s, 600).await), [(6, 8_600), (6, 2_600)]);
        assert_eq!(counts(&fail(s, 700).await), [(7, 8_700), (7, 2_700)]);
        let stored = s.login_throttles(&keys()).await.unwrap();
        assert_eq!(counts(&stored), [(7, 8_700), (7, 2_700)]);
        assert_eq!(stored[0].key, keys()[0]);
        assert_eq!(stored[1].last_failure_at, 700);
        let only_account = s.login_throttles(&keys()[1..]).await.unwrap();
        assert_eq!(counts(&only_account), [(7, 2_700)]);

        // Quiet for longer than the reset period: counting starts again.
        assert_eq!(counts(&fail(s, 10_701).await), [(1, 10_701), (1, 10_701)]);
        let actions = audit_actions(s).await;
        assert_eq!(actions, vec![AuditAction::LoginFailed; 8]);

        // Housekeeping keeps counters that still count or still block.
        assert_eq!(
            s.delete_stale_login_throttles(10_701, 20_000)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            s.delete_stale_login_throttles(10_702, 10_700)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            s.delete_stale_login_throttles(10_702, 20_000)
                .await
                .unwrap(),
            2
        );
        assert!(s.login_throttles(&keys()).await.unwrap().is_empty());
    }
    finish(all).await;
}

#[tokio::test]
async fn concurrent_failed_logins_are_all_counted() {
    let all = backends("race").await;
    for b in &all {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let s = b.store.clone();
                tokio::spawn(async move { fail(&s, 1_000).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let stored = b.store.login_throttles(&keys()).await.unwrap();
        // 16 failures: address wait 8 s (cap), account wait 2 s (cap).
        assert_eq!(counts(&stored), [(16, 9_000), (16, 3_000)]);
        assert_eq!(audit_actions(&b.store).await.len(), 16);
    }
    finish(all).await;
}

#[tokio::test]
async fn a_login_stores_its_session_clears_its_counters_and_is_audited() {
    let all = backends("login").await;
    for b in &all {
        let s = &b.store;
        let op = operator(s, "a@ops.example", Role::Viewer).await;
        let other = ThrottleKey::new(ThrottleScope::Address, "198.51.100.1");
        let failed = FailedLogin {
            keys: vec![keys()[0].clone(), keys()[1].clone(), other.clone()],
            at: 5,
            policy: POLICY,
            audit: audit(Some(&op), AuditAction::LoginFailed, 5),
        };
        s.record_failed_login(&failed).await.unwrap();
        let login = SuccessfulLogin {
            session: session(&op, "a", 1_000),
            clear: keys(),
            audit: audit(Some(&op), AuditAction::Login, 10),
        };
        s.record_login(&login).await.unwrap();
        assert_eq!(
            s.session("a").await.unwrap(),
            Some(session(&op, "a", 1_000))
        );
        assert!(s.login_throttles(&keys()).await.unwrap().is_empty());
        let kept = s.login_throttles(&[other]).await.unwrap();
        assert_eq!(kept.len(), 1, "only the named counters are cleared");
        assert_eq!(
            audit_actions(s).await,
            [AuditAction::Login, AuditAction::LoginFailed]
        );

        let bye = audit(Some(&op), AuditAction::Logout, 20);
        assert!(s.record_logout("a", &bye).await.unwrap());
        assert!(s.session("a").await.unwrap().is_none());
        assert!(!s.record_logout("a", &bye).await.unwrap(), "already gone");
        let actions = audit_actions(s).await;
        assert_eq!(actions[0], AuditAction::Logout);
        assert_eq!(
            actions
                .iter()
                .filter(|a| **a == AuditAction::Logout)
                .count(),
            1,
            "a logout of no session is not audited"
        );
    }
    finish(all).await;
}

#[tokio::test]
async fn sessions_touch_and_expire() {
    let all = backends("sess").await;
    for b in &all {
        let s = &b.store;
        let op = operator(s, "a@ops.example", Role::Viewer).await;
        log_in(s, &op, "a", 1_000).await;
        log_in(s, &op, "b", 1_000).await;
        log_in(s, &op, "c", 50).await;
        s.touch_session("a", 500).await.unwrap();
        s.touch_session("a", 400).await.unwrap();
        assert_eq!(s.session("a").await.unwrap().unwrap().last_seen_at, 500);
        // At 100, with 60 ms idle allowed: c is past its expiry, b idle since 10.
        assert_eq!(s.delete_expired_sessions(100, 40).await.unwrap(), 2);
        assert!(s.session("b").await.unwrap().is_none());
        assert!(s.session("c").await.unwrap().is_none());
        s.delete_session("a").await.unwrap();
        assert!(s.session("a").await.unwrap().is_none());
    }
    finish(all).await;
}

#[tokio::test]
async fn login_writes_leave_nothing_behind_when_their_audit_record_fails() {
    let all = backends("atomic").await;
    for b in &all {
        let s = &b.store;
        let op = operator(s, "a@ops.example", Role::Viewer).await;
        fail(s, 100).await;
        log_in(s, &op, "live", 1_000).await;
        refuse_audit_records(b).await;

        let failed = FailedLogin {
            keys: keys(),
            at: 200,
            policy: POLICY,
            audit: audit(None, AuditAction::LoginFailed, 200),
        };
        assert!(s.record_failed_login(&failed).await.is_err());
        let stored = s.login_throttles(&keys()).await.unwrap();
        assert_eq!(counts(&stored), [(1, 100), (1, 100)], "no failure counted");

        let login = SuccessfulLogin {
            session: session(&op, "new", 1_000),
            clear: keys(),
            audit: audit(Some(&op), AuditAction::Login, 300),
        };
        assert!(s.record_login(&login).await.is_err());
        assert!(s.session("new").await.unwrap().is_none(), "no session");
        assert_eq!(s.login_throttles(&keys()).await.unwrap().len(), 2);

        let bye = audit(Some(&op), AuditAction::Logout, 400);
        assert!(s.record_logout("live", &bye).await.is_err());
        assert!(
            s.session("live").await.unwrap().is_some(),
            "still logged in"
        );
        assert_eq!(
            audit_actions(s).await,
            [AuditAction::Login, AuditAction::LoginFailed]
        );
    }
    finish(all).await;
}
