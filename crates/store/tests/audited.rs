//! Conformance of audited operator actions: each action and its audit record are written in
//! one DB transaction, so when the database refuses the record the action is undone too.
//! Payout approvals and rejections (`Transition::audit`), four-eyes approvals, webhook
//! redeliveries, PSP account switches and passwords; on SQLite always and on PostgreSQL when
//! `OVERTURE_TEST_POSTGRES_URL` is set.

mod support;

use overture_core::backoffice::{
    AuditAction, AuditEntry, AuditQuery, BackofficeStore, NewApproval, PayoutApproval,
};
use overture_core::store::{
    CompanyStore, NewWebhook, StoreError, TransactionStore, Transition, WorkStore,
};
use overture_core::{Actor, DeliveryState, Operator, Role, Transaction, TxnState, WebhookId};
use overture_store::SqlStore;
use support::{
    account, audit, backends, company, finish, operator, refuse_audit_records, stored, txn,
};

async fn records(s: &SqlStore) -> Vec<AuditEntry> {
    let query = AuditQuery {
        limit: 100,
        ..Default::default()
    };
    s.audit_log(&query).await.unwrap().items
}

/// The operator's rejection of a held payout: final, with its webhook and audit record.
fn rejection(t: &Transaction, op: &Operator, at: i64) -> Transition {
    let mut tr = Transition::of(t, TxnState::Rejected, Actor::Operator(op.id.clone()), at);
    tr.reason = Some("bonus abuse".into());
    tr.webhook = Some(NewWebhook {
        id: WebhookId::generate(),
        payload: "{}".into(),
    });
    tr.audit = Some(audit(op, AuditAction::Reject, Some(t.id.as_str()), at));
    tr
}

/// The state, version, event count and webhook count of `t` as stored.
async fn footprint(s: &SqlStore, t: &Transaction) -> (TxnState, i64, usize, usize) {
    let now = s.transaction(&t.id).await.unwrap().unwrap();
    let events = s.events(&t.id).await.unwrap().len();
    let hooks = s.webhooks_for_transaction(&t.id).await.unwrap().len();
    (now.state, now.version, events, hooks)
}

#[tokio::test]
async fn a_transition_carries_its_audit_record_in_the_same_db_transaction() {
    let all = backends("trans").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        let a = account(s, &c, "PAYMENTSOFT").await;
        let op = operator(s, "ann@ops.example", Role::Approver).await;

        // Approve: the record is written with the state change.
        let held = stored(s, &txn(&c, &a, TxnState::AwaitingApproval, "u1", 10)).await;
        let mut approve = Transition::of(
            &held,
            TxnState::Submitting,
            Actor::Operator(op.id.clone()),
            20,
        );
        approve.audit = Some(audit(&op, AuditAction::Approve, Some(held.id.as_str()), 20));
        let moved = s.transition(&approve).await.unwrap();
        assert_eq!((moved.state, moved.version), (TxnState::Submitting, 2));
        assert_eq!(moved.submitted_at, Some(20));
        assert_eq!(footprint(s, &held).await, (TxnState::Submitting, 2, 1, 0));
        let got = records(s).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].action, AuditAction::Approve);
        assert_eq!(got[0].target.as_deref(), Some(held.id.as_str()));

        // Reject: state, event, webhook and record together.
        let other = stored(s, &txn(&c, &a, TxnState::AwaitingApproval, "u2", 30)).await;
        let rejected = s.transition(&rejection(&other, &op, 40)).await.unwrap();
        assert_eq!(rejected.state, TxnState::Rejected);
        assert_eq!(footprint(s, &other).await, (TxnState::Rejected, 2, 1, 1));
        assert_eq!(records(s).await.len(), 2);

        // A stale version: no change and no record.
        let stale = rejection(&held, &op, 50);
        assert!(matches!(
            s.transition(&stale).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(footprint(s, &held).await, (TxnState::Submitting, 2, 1, 0));
        assert_eq!(records(s).await.len(), 2);
    }
    finish(all).await;
}

#[tokio::test]
async fn a_refused_audit_record_undoes_the_transition() {
    let all = backends("transfail").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        let a = account(s, &c, "PAYMENTSOFT").await;
        let op = operator(s, "ann@ops.example", Role::Approver).await;
        let held = stored(s, &txn(&c, &a, TxnState::AwaitingApproval, "u1", 10)).await;
        let live = stored(s, &txn(&c, &a, TxnState::Pending, "u2", 10)).await;
        refuse_audit_records(b).await;

        assert!(s.transition(&rejection(&held, &op, 20)).await.is_err());
        assert_eq!(
            footprint(s, &held).await,
            (TxnState::AwaitingApproval, 1, 0, 0),
            "no state change, no event, no webhook"
        );
        let mut approve = Transition::of(
            &held,
            TxnState::Submitting,
            Actor::Operator(op.id.clone()),
            30,
        );
        approve.audit = Some(audit(&op, AuditAction::Approve, Some(held.id.as_str()), 30));
        assert!(s.transition(&approve).await.is_err());
        assert_eq!(
            footprint(s, &held).await,
            (TxnState::AwaitingApproval, 1, 0, 0)
        );

        // Transitions without a record (the payment paths) never touch the audit log.
        let mut psp = Transition::of(&live, TxnState::Approved, Actor::Psp, 40);
        psp.webhook = Some(NewWebhook {
            id: WebhookId::generate(),
            payload: "{}".into(),
        });
        s.transition(&psp).await.unwrap();
        assert_eq!(footprint(s, &live).await, (TxnState::Approved, 2, 1, 1));
        assert!(records(s).await.is_empty());
    }
    finish(all).await;
}

#[tokio::test]
async fn a_refused_audit_record_undoes_the_other_operator_actions() {
    let all = backends("actfail").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        let a = account(s, &c, "PAYMENTSOFT").await;
        let op = operator(s, "ann@ops.example", Role::Admin).await;
        let held = stored(s, &txn(&c, &a, TxnState::AwaitingApproval, "u1", 10)).await;
        let done = stored(s, &txn(&c, &a, TxnState::Pending, "u2", 10)).await;
        let mut fail = Transition::of(&done, TxnState::Failed, Actor::Psp, 20);
        let hook = WebhookId::generate();
        fail.webhook = Some(NewWebhook {
            id: hook.clone(),
            payload: "{}".into(),
        });
        s.transition(&fail).await.unwrap();
        refuse_audit_records(b).await;

        let first = NewApproval {
            approval: PayoutApproval {
                transaction_id: held.id.clone(),
                operator_id: op.id.clone(),
                reason: Some("looks fine".into()),
                at: 30,
            },
            prior: 0,
            audit: audit(&op, AuditAction::Approve, Some(held.id.as_str()), 30),
        };
        assert!(s.record_approval(&first).await.is_err());
        assert!(
            s.approvals(&held.id).await.unwrap().is_empty(),
            "no approval without its record"
        );

        let redeliver = audit(&op, AuditAction::Redeliver, Some(hook.as_str()), 40);
        assert!(s
            .redeliver_webhook(&hook, 40, Some(&redeliver))
            .await
            .is_err());
        let delivery = s.webhook_delivery(&hook).await.unwrap().unwrap();
        assert_eq!(
            (delivery.state, delivery.next_attempt_at),
            (DeliveryState::Pending, 20),
            "not made due again"
        );

        let off = audit(&op, AuditAction::DisableAccount, Some(a.id.as_str()), 50);
        assert!(s.set_psp_account_enabled(&a.id, false, &off).await.is_err());
        assert!(s.psp_account(&a.id).await.unwrap().unwrap().enabled);

        let pw = audit(&op, AuditAction::SetPassword, Some(op.id.as_str()), 60);
        assert!(s
            .set_operator_password(&op.id, "$argon2id$x", &pw)
            .await
            .is_err());
        let login = s.operator_login(&op.email).await.unwrap().unwrap();
        assert_eq!(login.password_hash, None, "password unchanged");

        assert!(records(s).await.is_empty());
    }
    finish(all).await;
}
