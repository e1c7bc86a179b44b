//! Conformance of the back-office store operations (audit log, search, four-eyes approvals,
//! problem deliveries, PSP account switches; logins are in `login.rs`), on SQLite always and
//! on PostgreSQL when `OVERTURE_TEST_POSTGRES_URL` is set (each test in its own schema; an
//! unreachable server fails the test).

mod support;

use overture_core::backoffice::*;
use overture_core::store::*;
use overture_core::*;
use overture_store::SqlStore;
use support::{account, audit, backends, company, finish, operator, stored, txn};

/// Appends `e` the only way records enter the log: with an action, here a password change.
async fn append(s: &SqlStore, op: &Operator, e: &AuditEntry) {
    s.set_operator_password(&op.id, "$argon2id$v=19$fake", e)
        .await
        .unwrap();
}

#[tokio::test]
async fn audit_log_is_newest_first_filtered_and_paged() {
    let all = backends("audit").await;
    for b in &all {
        let s = &b.store;
        let op = operator(s, "a@ops.example", Role::Admin).await;
        let entry = |at, action, target: Option<&str>| AuditEntry {
            id: 0,
            at,
            operator_id: Some(op.id.clone()),
            operator_email: op.email.clone(),
            action,
            target: target.map(str::to_owned),
            reason: Some("why".into()),
            detail: Some("web".into()),
        };
        append(s, &op, &entry(1, AuditAction::Login, None)).await;
        append(s, &op, &entry(2, AuditAction::Approve, Some("txn_1"))).await;
        append(s, &op, &entry(3, AuditAction::Reject, Some("txn_2"))).await;
        let stranger = AuditEntry {
            operator_id: None,
            operator_email: "who@x".into(),
            ..entry(4, AuditAction::LoginFailed, None)
        };
        append(s, &op, &stranger).await;

        let page = s
            .audit_log(&AuditQuery {
                limit: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.has_more);
        let ats: Vec<_> = page.items.iter().map(|e| e.at).collect();
        assert_eq!(ats, vec![4, 3]);
        assert_eq!(page.items[0].operator_id, None);
        let rest = s
            .audit_log(&AuditQuery {
                limit: 2,
                offset: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(!rest.has_more);
        assert_eq!(rest.items[1].action, AuditAction::Login);
        let approvals = s
            .audit_log(&AuditQuery {
                action: Some(AuditAction::Approve),
                operator_id: Some(op.id.clone()),
                limit: 10,
                offset: 0,
            })
            .await
            .unwrap();
        assert_eq!(approvals.items.len(), 1);
        let got = &approvals.items[0];
        assert_eq!(
            (got.target.as_deref(), got.reason.as_deref()),
            (Some("txn_1"), Some("why"))
        );
    }
    finish(all).await;
}

#[tokio::test]
async fn transaction_search_filters_orders_and_pages() {
    let all = backends("search").await;
    for b in &all {
        let s = &b.store;
        let c1 = company(s, "One").await;
        let c2 = company(s, "Two").await;
        let a1 = account(s, &c1, "PAYMENTSOFT").await;
        let a2 = account(s, &c2, "FORUMPAY").await;
        let held = stored(s, &txn(&c1, &a1, TxnState::AwaitingApproval, "u1", 100)).await;
        let held2 = stored(s, &txn(&c1, &a1, TxnState::AwaitingApproval, "u2", 200)).await;
        let other = stored(s, &txn(&c2, &a2, TxnState::Pending, "u1", 300)).await;

        let ids = |p: Page<Transaction>| p.items.into_iter().map(|t| t.id).collect::<Vec<_>>();
        let search = |q: TxnSearch| async move { s.search_transactions(&q).await.unwrap() };
        assert_eq!(
            ids(search(TxnSearch::default()).await),
            vec![other.id.clone(), held2.id.clone(), held.id.clone()],
            "newest first by default"
        );
        let queue = search(TxnSearch {
            state: Some(TxnState::AwaitingApproval),
            order: SearchOrder::OldestFirst,
            limit: 1,
            ..Default::default()
        })
        .await;
        assert!(queue.has_more);
        assert_eq!(ids(queue), vec![held.id.clone()]);
        let second = search(TxnSearch {
            state: Some(TxnState::AwaitingApproval),
            order: SearchOrder::OldestFirst,
            limit: 1,
            offset: 1,
            ..Default::default()
        })
        .await;
        assert!(!second.has_more);
        assert_eq!(ids(second), vec![held2.id.clone()]);

        let one = |q: TxnSearch| async move { ids(s.search_transactions(&q).await.unwrap()) };
        let by = |f: fn(&mut TxnSearch)| {
            let mut q = TxnSearch::default();
            f(&mut q);
            q
        };
        let mut q = by(|_| {});
        q.transaction_id = Some(held.id.clone());
        assert_eq!(one(q).await, vec![held.id.clone()]);
        let mut q = by(|_| {});
        q.session_id = held2.session_id.clone();
        assert_eq!(one(q).await, vec![held2.id.clone()]);
        let mut q = by(|_| {});
        q.psp_transaction_id = other.psp_transaction_id.clone();
        assert_eq!(one(q).await, vec![other.id.clone()]);
        let mut q = by(|_| {});
        q.user_id = Some("u1".into());
        assert_eq!(one(q).await, vec![other.id.clone(), held.id.clone()]);
        let mut q = by(|_| {});
        q.merchant_reference = Some("ref-u2".into());
        assert_eq!(one(q).await, vec![held2.id.clone()]);
        let mut q = by(|_| {});
        q.psp_type = Some(PspType("FORUMPAY".into()));
        assert_eq!(one(q).await, vec![other.id.clone()]);
        let mut q = by(|_| {});
        q.company_id = Some(c1.id.clone());
        q.user_id = Some("u1".into());
        assert_eq!(one(q).await, vec![held.id.clone()]);
        let mut q = by(|_| {});
        q.created_from = Some(200);
        q.created_before = Some(300);
        assert_eq!(one(q).await, vec![held2.id.clone()]);
        let mut q = by(|_| {});
        q.txn_type = Some(TxnType::Payin);
        assert!(one(q).await.is_empty());
    }
    finish(all).await;
}

#[tokio::test]
async fn four_eyes_settings_and_serialised_approvals() {
    let all = backends("foureyes").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        assert_eq!(s.four_eyes_threshold(&c.id).await.unwrap(), None);
        s.set_four_eyes_threshold(&c.id, Some("5000.50".parse().unwrap()))
            .await
            .unwrap();
        let summaries = s.company_summaries().await.unwrap();
        assert_eq!(summaries.len(), 1);
        assert_eq!(
            summaries[0].four_eyes_threshold.map(|d| d.to_string()),
            Some("5000.50".into())
        );
        assert_eq!(
            summaries[0]
                .payout_approval_threshold
                .map(|d| d.to_string()),
            Some("1000".into())
        );
        assert!(matches!(
            s.set_four_eyes_threshold(&CompanyId::generate(), None)
                .await,
            Err(StoreError::NotFound(_))
        ));

        let a = account(s, &c, "PAYMENTSOFT").await;
        let t = stored(s, &txn(&c, &a, TxnState::AwaitingApproval, "u", 10)).await;
        let op1 = operator(s, "one@ops.example", Role::Approver).await;
        let op2 = operator(s, "two@ops.example", Role::Approver).await;
        let approval = |op: &Operator, at| PayoutApproval {
            transaction_id: t.id.clone(),
            operator_id: op.id.clone(),
            reason: Some(format!("ok by {}", op.email)),
            at,
        };
        let new = |a: PayoutApproval, prior| NewApproval {
            audit: AuditEntry {
                reason: a.reason.clone(),
                ..audit(
                    &op1,
                    AuditAction::Approve,
                    Some(a.transaction_id.as_str()),
                    a.at,
                )
            },
            approval: a,
            prior,
        };
        let first = s
            .record_approval(&new(approval(&op1, 20), 0))
            .await
            .unwrap();
        assert_eq!(first, vec![approval(&op1, 20)]);
        assert!(matches!(
            s.record_approval(&new(approval(&op1, 21), 1)).await,
            Err(StoreError::Duplicate(_))
        ));
        assert!(
            matches!(
                s.record_approval(&new(approval(&op2, 22), 0)).await,
                Err(StoreError::Conflict(_))
            ),
            "read before the first approval: stale"
        );
        let both = s
            .record_approval(&new(approval(&op2, 22), 1))
            .await
            .unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(s.approvals(&t.id).await.unwrap(), both);
        let records = s
            .audit_log(&AuditQuery {
                action: Some(AuditAction::Approve),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let ats: Vec<i64> = records.items.iter().map(|e| e.at).collect();
        assert_eq!(
            ats,
            [22, 20],
            "one record per approval written, none for refusals"
        );

        // Once the payout moved on, approvals are refused.
        s.transition(&Transition::of(&t, TxnState::Rejected, Actor::System, 30))
            .await
            .unwrap();
        let op3 = operator(s, "three@ops.example", Role::Admin).await;
        assert!(matches!(
            s.record_approval(&new(approval(&op3, 31), 2)).await,
            Err(StoreError::Conflict(_))
        ));

        // Two operators at once, both having read no approval: one is recorded, the other
        // must read again, then sees the first.
        let t2 = stored(s, &txn(&c, &a, TxnState::AwaitingApproval, "v", 40)).await;
        let on_t2 = |op: &Operator| {
            new(
                PayoutApproval {
                    transaction_id: t2.id.clone(),
                    ..approval(op, 41)
                },
                0,
            )
        };
        let (x, y, ax, ay) = (s.clone(), s.clone(), on_t2(&op1), on_t2(&op2));
        let (rx, ry) = tokio::join!(
            tokio::spawn(async move { x.record_approval(&ax).await.map(|all| all.len()) }),
            tokio::spawn(async move { y.record_approval(&ay).await.map(|all| all.len()) })
        );
        let (rx, ry) = (rx.unwrap(), ry.unwrap());
        assert!(
            matches!(
                (&rx, &ry),
                (Ok(1), Err(StoreError::Conflict(_))) | (Err(StoreError::Conflict(_)), Ok(1))
            ),
            "{rx:?} {ry:?}"
        );
        let loser = if rx.is_ok() { &op2 } else { &op1 };
        let retry = NewApproval {
            prior: 1,
            ..on_t2(loser)
        };
        assert_eq!(s.record_approval(&retry).await.unwrap().len(), 2);
    }
    finish(all).await;
}

async fn final_with_webhook(s: &SqlStore, t: &Transaction, at: i64) -> WebhookId {
    let id = WebhookId::generate();
    let mut tr = Transition::of(t, TxnState::Declined, Actor::Psp, at);
    tr.webhook = Some(NewWebhook {
        id: id.clone(),
        payload: "{}".into(),
    });
    s.transition(&tr).await.unwrap();
    id
}

fn attempt(id: &WebhookId, n: i32, status: i32, next: DeliveryNext) -> WebhookAttemptResult {
    WebhookAttemptResult {
        attempt: WebhookAttempt {
            webhook_id: id.clone(),
            attempt: n,
            at: 1_000 + i64::from(n),
            http_status: Some(status),
            latency_ms: 5,
            response_excerpt: "nope".into(),
        },
        next,
    }
}

#[tokio::test]
async fn problem_deliveries_and_redelivery_keep_the_webhook_id() {
    let all = backends("redeliver").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        let a = account(s, &c, "PAYMENTSOFT").await;
        let mut hooks = Vec::new();
        for (i, user) in ["dead", "failing", "fresh", "done"].iter().enumerate() {
            let t = stored(s, &txn(&c, &a, TxnState::Pending, user, i as i64)).await;
            hooks.push(final_with_webhook(s, &t, 100 + i as i64).await);
        }
        let [dead, failing, fresh, done] = [0, 1, 2, 3].map(|i| hooks[i].clone());
        s.record_webhook_attempt(&attempt(&dead, 1, 500, DeliveryNext::Dead))
            .await
            .unwrap();
        s.record_webhook_attempt(&attempt(&failing, 1, 502, DeliveryNext::RetryAt(9_000)))
            .await
            .unwrap();
        s.record_webhook_attempt(&attempt(&done, 1, 200, DeliveryNext::Delivered))
            .await
            .unwrap();

        let list = |problem| async move {
            let q = DeliveryQuery {
                problem,
                ..Default::default()
            };
            let page = s.problem_deliveries(&q).await.unwrap();
            page.items.into_iter().map(|d| d.id).collect::<Vec<_>>()
        };
        assert_eq!(
            list(DeliveryProblem::Any).await,
            vec![dead.clone(), failing.clone()]
        );
        assert_eq!(list(DeliveryProblem::Dead).await, vec![dead.clone()]);
        assert_eq!(list(DeliveryProblem::Failing).await, vec![failing.clone()]);

        let op = operator(s, "ops@ops.example", Role::Approver).await;
        let why = |id: &WebhookId| audit(&op, AuditAction::Redeliver, Some(id.as_str()), 5_000);
        let again = s
            .redeliver_webhook(&dead, 5_000, Some(&why(&dead)))
            .await
            .unwrap();
        assert_eq!(again.id, dead);
        assert_eq!(
            (again.state, again.next_attempt_at, again.attempts),
            (DeliveryState::Pending, 5_000, 1)
        );
        let claimed = s.claim_due_webhooks(5_000, 6_000, 10).await.unwrap();
        assert!(claimed.iter().any(|d| d.id == dead), "due again at once");
        assert!(
            matches!(
                s.redeliver_webhook(&dead, 5_500, Some(&why(&dead))).await,
                Err(StoreError::Conflict(_))
            ),
            "being attempted right now"
        );
        assert!(matches!(
            s.redeliver_webhook(&done, 5_000, Some(&why(&done))).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.redeliver_webhook(&WebhookId::generate(), 5_000, Some(&why(&done)))
                .await,
            Err(StoreError::NotFound(_))
        ));
        let moved = s
            .redeliver_webhook(&failing, 5_000, Some(&why(&failing)))
            .await
            .unwrap();
        assert_eq!(moved.next_attempt_at, 5_000);
        assert_eq!(
            s.webhook_delivery(&fresh).await.unwrap().unwrap().attempts,
            0
        );
        let records = s.audit_log(&AuditQuery::default()).await.unwrap().items;
        let targets: Vec<_> = records.iter().map(|e| e.target.clone().unwrap()).collect();
        assert_eq!(
            targets,
            [failing.to_string(), dead.to_string()],
            "a record for each redelivery made, none for the refused ones"
        );
    }
    finish(all).await;
}

#[tokio::test]
async fn psp_accounts_switch_and_report_success_rates() {
    let all = backends("accounts").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        let a = account(s, &c, "PAYMENTSOFT").await;
        let idle = account(s, &c, "FORUMPAY").await;
        let op = operator(s, "admin@ops.example", Role::Admin).await;
        let off = audit(&op, AuditAction::DisableAccount, Some(a.id.as_str()), 7);
        let on = audit(&op, AuditAction::EnableAccount, Some(a.id.as_str()), 8);
        s.set_psp_account_enabled(&a.id, false, &off).await.unwrap();
        assert!(!s.psp_account(&a.id).await.unwrap().unwrap().enabled);
        s.set_psp_account_enabled(&a.id, true, &on).await.unwrap();
        assert!(s.psp_account(&a.id).await.unwrap().unwrap().enabled);
        assert!(matches!(
            s.set_psp_account_enabled(&PspAccountId::generate(), false, &off)
                .await,
            Err(StoreError::NotFound(_))
        ));
        let actions: Vec<_> = s
            .audit_log(&AuditQuery::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            [AuditAction::EnableAccount, AuditAction::DisableAccount]
        );

        for (state, at) in [
            (TxnState::Approved, 100),
            (TxnState::Approved, 110),
            (TxnState::Declined, 120),
            (TxnState::Rejected, 130),
            (TxnState::Pending, 140),
            (TxnState::Failed, 10),
        ] {
            stored(s, &txn(&c, &a, state, "u", at)).await;
        }
        let stats = s.psp_account_stats(50).await.unwrap();
        assert_eq!(stats.len(), 1, "accounts without transactions have no row");
        assert_eq!(stats[0].psp_account_id, a.id);
        assert_eq!((stats[0].approved, stats[0].unsuccessful), (2, 1));
        assert_eq!(stats[0].success_percent(), Some(67));
        assert!(stats.iter().all(|x| x.psp_account_id != idle.id));
    }
    finish(all).await;
}
