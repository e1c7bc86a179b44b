//! Conformance of what observability stores and counts, on every backend (SQLite always,
//! PostgreSQL when `OVERTURE_TEST_POSTGRES_URL` is set): a transaction's trace id round-trips
//! and is copied onto its webhook, and the queue gauges count due polls and pending webhooks.

mod support;

use overture_core::store::{NewWebhook, QueueDepths, TransactionStore, Transition, WorkStore};
use overture_core::{Actor, TraceId, TxnState, WebhookId};
use support::*;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test]
async fn the_trace_id_is_kept_with_the_transaction_and_its_webhook() {
    let all = backends("trace").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Traced").await;
        let a = account(s, &c, "PAYMENTSOFT").await;
        let mut traced = txn(&c, &a, TxnState::Pending, "u1", 10);
        traced.trace_id = TraceId::parse(TRACE);
        let traced = stored(s, &traced).await;
        let untraced = stored(s, &txn(&c, &a, TxnState::Pending, "u2", 11)).await;

        let read = s.transaction(&traced.id).await.unwrap().unwrap();
        assert_eq!(read.trace_id.map(|t| t.to_string()).as_deref(), Some(TRACE));
        let read = s.transaction(&untraced.id).await.unwrap().unwrap();
        assert_eq!(read.trace_id, None);

        for (t, expected) in [(&traced, Some(TRACE)), (&untraced, None)] {
            let mut fin = Transition::of(t, TxnState::Approved, Actor::Psp, 20);
            fin.webhook = Some(NewWebhook {
                id: WebhookId::generate(),
                payload: "{}".into(),
            });
            let approved = s.transition(&fin).await.unwrap();
            assert_eq!(
                approved.trace_id.map(|t| t.to_string()).as_deref(),
                expected,
                "the updated row keeps it"
            );
            let hooks = s.webhooks_for_transaction(&t.id).await.unwrap();
            assert_eq!(hooks.len(), 1);
            assert_eq!(
                hooks[0].trace_id.map(|t| t.to_string()).as_deref(),
                expected
            );
        }
        let claimed = s.claim_due_webhooks(20, 1_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 2);
        let traced_hook = claimed.iter().find(|d| d.transaction_id == traced.id);
        assert_eq!(
            traced_hook
                .and_then(|d| d.trace_id)
                .map(|t| t.to_string())
                .as_deref(),
            Some(TRACE),
            "the worker's claim carries it"
        );
    }
    finish(all).await;
}

#[tokio::test]
async fn queue_depths_count_due_polls_and_pending_webhooks() {
    let all = backends("queues").await;
    for b in &all {
        let s = &b.store;
        assert_eq!(s.queue_depths(1_000).await.unwrap(), QueueDepths::default());
        let c = company(s, "Queued").await;
        let a = account(s, &c, "PAYMENTSOFT").await;
        for (user, due) in [
            ("due-1", Some(500)),
            ("due-2", Some(1_000)),
            ("later", Some(5_000)),
        ] {
            let mut t = txn(&c, &a, TxnState::Pending, user, 1);
            t.next_poll_at = due;
            stored(s, &t).await;
        }
        stored(s, &txn(&c, &a, TxnState::Pending, "never", 1)).await;
        let closing = stored(s, &txn(&c, &a, TxnState::Pending, "closing", 1)).await;
        let mut fin = Transition::of(&closing, TxnState::Declined, Actor::Psp, 900);
        fin.webhook = Some(NewWebhook {
            id: WebhookId::generate(),
            payload: "{}".into(),
        });
        s.transition(&fin).await.unwrap();
        assert_eq!(
            s.queue_depths(1_000).await.unwrap(),
            QueueDepths {
                due_polls: 2,
                pending_webhooks: 1,
            }
        );
        assert_eq!(s.queue_depths(10_000).await.unwrap().due_polls, 3);
    }
    finish(all).await;
}
