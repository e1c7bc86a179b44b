//! Conformance of the back-office store operations (audit log, search, four-eyes approvals,
//! problem deliveries, PSP account switches; logins are in `login.rs`), on SQLite always and
//! on PostgreSQL when `OVERTURE_TEST_POSTGRES_URL` is set (each test in its own schema; an
//! unreachable server fails the test).

mod support;

use overture_core::backoffice::*;
use overture_core::store::*;
use overture_core::*;
use overture_store::SqlStore;
use secrecy::SecretString;
use std::collections::BTreeMap;
use support::{backends, finish, operator};

async fn company(s: &SqlStore, name: &str) -> Company {
    let c = Company {
        id: CompanyId::generate(),
        name: name.into(),
        api_secret: SecretString::from("k"),
        webhook_url: "http://127.0.0.1:1/hook".into(),
        webhook_secret: SecretString::from("whsec_c2VjcmV0"),
        webhook_authorization: None,
        verify_user_url: "http://127.0.0.1:1/verify".into(),
        payout_approval_threshold: Some("1000".parse().unwrap()),
        verify_payins: false,
        created_at: 1,
    };
    s.insert_company(&c).await.unwrap();
    c
}

async fn account(s: &SqlStore, c: &Company, psp: &str) -> PspAccount {
    let a = PspAccount {
        id: PspAccountId::generate(),
        company_id: c.id.clone(),
        psp_type: PspType(psp.into()),
        base_url: "http://127.0.0.1:1/sandbox".into(),
        credentials: Credentials(BTreeMap::new()),
        enabled: true,
        priority: 0,
        created_at: 2,
    };
    s.insert_psp_account(&a).await.unwrap();
    a
}

fn txn(c: &Company, a: &PspAccount, state: TxnState, user: &str, at: i64) -> Transaction {
    let eur = Currency::from_code("EUR").unwrap();
    Transaction {
        id: TransactionId::generate(),
        company_id: c.id.clone(),
        brand_id: None,
        txn_type: TxnType::Payout,
        psp_type: a.psp_type.clone(),
        psp_account_id: a.id.clone(),
        amount: Money::from_minor(150_000, eur).unwrap(),
        user_id: user.into(),
        email: "u@example.com".into(),
        country: None,
        extras: BTreeMap::new(),
        state,
        psp_status: None,
        psp_transaction_id: Some(format!("PSP-{user}-{at}")),
        psp_stage: None,
        message: None,
        session_id: Some(SessionId::generate()),
        redirect_url: None,
        return_url: None,
        merchant_reference: Some(format!("ref-{user}")),
        idempotency_key: None,
        created_at: at,
        updated_at: at,
        submitted_at: None,
        version: 1,
        next_poll_at: None,
        poll_attempts: 0,
    }
}

async fn stored(s: &SqlStore, t: &Transaction) -> Transaction {
    s.create_transaction(t, &[], None).await.unwrap();
    t.clone()
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
        s.append_audit(&entry(1, AuditAction::Login, None))
            .await
            .unwrap();
        s.append_audit(&entry(2, AuditAction::Approve, Some("txn_1")))
            .await
            .unwrap();
        s.append_audit(&entry(3, AuditAction::Reject, Some("txn_2")))
            .await
            .unwrap();
        let stranger = AuditEntry {
            operator_id: None,
            operator_email: "who@x".into(),
            ..entry(4, AuditAction::LoginFailed, None)
        };
        s.append_audit(&stranger).await.unwrap();

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
        let first = s.record_approval(&approval(&op1, 20)).await.unwrap();
        assert_eq!(first, vec![approval(&op1, 20)]);
        assert!(matches!(
            s.record_approval(&approval(&op1, 21)).await,
            Err(StoreError::Duplicate(_))
        ));
        let both = s.record_approval(&approval(&op2, 22)).await.unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(s.approvals(&t.id).await.unwrap(), both);

        // Once the payout moved on, approvals are refused.
        s.transition(&Transition::of(&t, TxnState::Rejected, Actor::System, 30))
            .await
            .unwrap();
        let op3 = operator(s, "three@ops.example", Role::Admin).await;
        assert!(matches!(
            s.record_approval(&approval(&op3, 31)).await,
            Err(StoreError::Conflict(_))
        ));

        // Two operators at once: the later of the two always sees both approvals.
        let t2 = stored(s, &txn(&c, &a, TxnState::AwaitingApproval, "v", 40)).await;
        let (x, y) = (s.clone(), s.clone());
        let (ax, ay) = (
            PayoutApproval {
                transaction_id: t2.id.clone(),
                ..approval(&op1, 41)
            },
            PayoutApproval {
                transaction_id: t2.id.clone(),
                ..approval(&op2, 41)
            },
        );
        let (rx, ry) = tokio::join!(
            tokio::spawn(async move { x.record_approval(&ax).await.unwrap().len() }),
            tokio::spawn(async move { y.record_approval(&ay).await.unwrap().len() })
        );
        let mut counts = vec![rx.unwrap(), ry.unwrap()];
        counts.sort();
        assert_eq!(counts, vec![1, 2]);
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

        let again = s.redeliver_webhook(&dead, 5_000).await.unwrap();
        assert_eq!(again.id, dead);
        assert_eq!(
            (again.state, again.next_attempt_at, again.attempts),
            (DeliveryState::Pending, 5_000, 1)
        );
        let claimed = s.claim_due_webhooks(5_000, 6_000, 10).await.unwrap();
        assert!(claimed.iter().any(|d| d.id == dead), "due again at once");
        assert!(
            matches!(
                s.redeliver_webhook(&dead, 5_500).await,
                Err(StoreError::Conflict(_))
            ),
            "being attempted right now"
        );
        assert!(matches!(
            s.redeliver_webhook(&done, 5_000).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.redeliver_webhook(&WebhookId::generate(), 5_000).await,
            Err(StoreError::NotFound(_))
        ));
        let moved = s.redeliver_webhook(&failing, 5_000).await.unwrap();
        assert_eq!(moved.next_attempt_at, 5_000);
        assert_eq!(
            s.webhook_delivery(&fresh).await.unwrap().unwrap().attempts,
            0
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
        s.set_psp_account_enabled(&a.id, false).await.unwrap();
        assert!(!s.psp_account(&a.id).await.unwrap().unwrap().enabled);
        s.set_psp_account_enabled(&a.id, true).await.unwrap();
        assert!(s.psp_account(&a.id).await.unwrap().unwrap().enabled);
        assert!(matches!(
            s.set_psp_account_enabled(&PspAccountId::generate(), false)
                .await,
            Err(StoreError::NotFound(_))
        ));

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
