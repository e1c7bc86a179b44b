//! Conformance of attempts, routing rules and account limits on every backend (SQLite always,
//! PostgreSQL when `OVERTURE_TEST_POSTGRES_URL` is set), and the migration that turns existing
//! transactions into their first attempt.

mod support;

use overture_core::connector::FailureClass;
use overture_core::routing::{AccountLimits, Decision, DecisionAction, RoutingPlan};
use overture_core::store::{
    CompanyStore, NewWebhook, StoreError, TransactionStore, Transition, WorkStore,
};
use overture_core::{
    Actor, Attempt, AttemptState, AttemptWrite, OrderId, Transaction, TxnState, WebhookId,
};
use overture_store::{Cipher, SqlStore, StoreOptions};
use sqlx::{Connection, Executor};
use support::*;

fn decision(chosen: &overture_core::PspAccountId) -> Decision {
    Decision {
        rule: Some("r1".into()),
        version: Some(3),
        action: DecisionAction::Route,
        block_reason: None,
        hold_for_approval: false,
        candidates: Vec::new(),
        chosen: Some(chosen.clone()),
    }
}

fn first_attempt(t: &Transaction, at: i64) -> Attempt {
    Attempt::start(
        &t.id,
        1,
        (&t.psp_account_id, &t.psp_type),
        t.amount,
        decision(&t.psp_account_id),
        at,
    )
}

/// A submitted payout whose first attempt is stored with it, as the Cashier API creates it.
async fn submitted(s: &SqlStore, t: &mut Transaction, at: i64) -> Attempt {
    let a = first_attempt(t, at);
    t.state = TxnState::Submitting;
    t.submitted_at = Some(at);
    t.attempt_id = Some(a.id.clone());
    t.attempt_seq = 1;
    t.order_id = Some(a.order_id.clone());
    t.routing = Some(RoutingPlan {
        rule: Some("r1".into()),
        version: Some(3),
        candidates: vec![t.psp_account_id.clone()],
        max_attempts: 2,
        cascade_payouts: true,
        hold_for_approval: false,
    });
    s.create_transaction(t, &[], Some(&a), None).await.unwrap();
    a
}

#[tokio::test]
async fn attempts_follow_their_transaction_through_a_cascade() {
    let all = backends("attempts").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        let (first, second) = (
            account(s, &c, "PAYMENTSOFT").await,
            account(s, &c, "CARDZO").await,
        );
        let mut t = txn(&c, &first, TxnState::Created, "u1", 100);
        let a1 = submitted(s, &mut t, 100).await;
        let stored = s.transaction(&t.id).await.unwrap().unwrap();
        assert_eq!(stored.attempt_id.as_ref(), Some(&a1.id));
        assert_eq!(
            stored.psp_order_id().as_str(),
            t.id.as_str(),
            "first order id = txn id"
        );
        assert_eq!(stored.routing, t.routing);
        let got = s.attempts(&t.id).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].state, AttemptState::Submitting);
        assert_eq!(got[0].decision, a1.decision);
        assert_eq!(got[0].amount, t.amount);
        let by_order = s.attempt_by_order(&a1.order_id).await.unwrap().unwrap();
        assert_eq!(by_order.id, a1.id);

        // Accepted, then refused before anything was paid: the attempt is closed with its
        // class, the transaction waits for its next attempt.
        let mut accept = Transition::of(&stored, TxnState::Pending, Actor::Psp, 110);
        accept.psp_transaction_id = Some("P-1".into());
        accept.psp_status = Some("processing".into());
        accept.attempt = AttemptWrite::Update {
            state: AttemptState::Pending,
            class: None,
            error: None,
        };
        let pending = s.transition(&accept).await.unwrap();
        let mut refuse = Transition::of(&pending, TxnState::Retrying, Actor::Psp, 120);
        refuse.psp_status = Some("declined".into());
        refuse.attempt = AttemptWrite::Update {
            state: AttemptState::Declined,
            class: Some(FailureClass::NotProcessed),
            error: Some("receiver account closed".into()),
        };
        let retrying = s.transition(&refuse).await.unwrap();
        assert_eq!(retrying.state, TxnState::Retrying);
        let closed = &s.attempts(&t.id).await.unwrap()[0];
        assert_eq!(closed.state, AttemptState::Declined);
        assert_eq!(closed.error_class, Some(FailureClass::NotProcessed));
        assert_eq!(
            closed.error_message.as_deref(),
            Some("receiver account closed")
        );
        assert_eq!(closed.psp_transaction_id.as_deref(), Some("P-1"));
        assert_eq!(
            (closed.accepted_at, closed.finished_at),
            (Some(110), Some(120))
        );

        // A stale writer changes neither the row nor the attempts.
        let mut stale = Transition::of(&pending, TxnState::Approved, Actor::Psp, 125);
        stale.attempt = AttemptWrite::Update {
            state: AttemptState::Approved,
            class: None,
            error: None,
        };
        assert!(matches!(
            s.transition(&stale).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            s.attempts(&t.id).await.unwrap()[0].state,
            AttemptState::Declined
        );

        // The next attempt at another account becomes the live one.
        let a2 = Attempt::start(
            &t.id,
            2,
            (&second.id, &second.psp_type),
            t.amount,
            decision(&second.id),
            130,
        );
        let mut start = Transition::of(&retrying, TxnState::Submitting, Actor::System, 130);
        start.attempt = AttemptWrite::Start(Box::new(a2.clone()));
        let resubmitted = s.transition(&start).await.unwrap();
        assert_eq!(resubmitted.psp_account_id, second.id);
        assert_eq!(resubmitted.psp_type, second.psp_type);
        assert_eq!(resubmitted.attempt_seq, 2);
        assert_eq!(resubmitted.psp_order_id(), OrderId::for_attempt(&t.id, 2));
        assert_eq!(
            resubmitted.psp_transaction_id, None,
            "the last attempt's PSP id is gone"
        );
        assert_eq!(resubmitted.psp_status, None);
        assert_eq!(resubmitted.submitted_at, Some(130));

        let mut approve = Transition::of(&resubmitted, TxnState::Approved, Actor::Psp, 140);
        approve.psp_transaction_id = Some("C-9".into());
        approve.webhook = Some(NewWebhook {
            id: WebhookId::generate(),
            payload: "{}".into(),
        });
        approve.attempt = AttemptWrite::Update {
            state: AttemptState::Approved,
            class: None,
            error: None,
        };
        let done = s.transition(&approve).await.unwrap();
        assert_eq!(done.psp_transaction_id.as_deref(), Some("C-9"));
        let attempts = s.attempts(&t.id).await.unwrap();
        assert_eq!(attempts.len(), 2);
        assert_eq!(
            (
                attempts[1].seq,
                attempts[1].state,
                attempts[1].psp_transaction_id.as_deref()
            ),
            (2, AttemptState::Approved, Some("C-9"))
        );
        assert_eq!(s.webhooks_for_transaction(&t.id).await.unwrap().len(), 1);
        assert_eq!(
            s.attempt_by_order(&OrderId::for_attempt(&t.id, 2))
                .await
                .unwrap()
                .map(|a| a.id),
            Some(a2.id)
        );

        // Usage counts accepted attempts per account and currency since a time.
        for (acct, since, count) in [(&first, 0, 1), (&second, 0, 1), (&second, 141, 0)] {
            let u = s.account_usage(&acct.id, since).await.unwrap();
            assert_eq!(u.count, count, "{} since {since}", acct.psp_type);
            if count == 1 {
                assert_eq!(u.amounts["EUR"], 150_000);
            }
        }
    }
    finish(all).await;
}

#[tokio::test]
async fn rules_are_versioned_and_account_settings_round_trip() {
    let all = backends("rules").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        assert!(s.routing_rules(&c.id).await.unwrap().is_none());
        let v1 = s
            .put_routing_rules(&c.id, r#"{"rules":[]}"#, 10, "cli", None)
            .await
            .unwrap();
        let v2 = s
            .put_routing_rules(
                &c.id,
                r#"{"rules":[{"name":"a","then":{"block":"x"}}]}"#,
                20,
                "merchant",
                None,
            )
            .await
            .unwrap();
        assert_eq!((v1, v2), (1, 2));
        let active = s.routing_rules(&c.id).await.unwrap().unwrap();
        assert_eq!(
            (active.version, active.created_by.as_str()),
            (2, "merchant")
        );
        assert!(active.document.contains("block"));
        let versions: Vec<i64> = s
            .routing_rule_versions(&c.id)
            .await
            .unwrap()
            .iter()
            .map(|r| r.version)
            .collect();
        assert_eq!(versions, vec![2, 1]);
        // Writers at once get distinct versions.
        let writes = (0..4).map(|i| {
            let (s, id) = (s.clone(), c.id.clone());
            tokio::spawn(async move {
                s.put_routing_rules(&id, "{\"rules\":[]}", 30 + i, "x", None)
                    .await
            })
        });
        let mut got = Vec::new();
        for w in writes {
            got.push(w.await.unwrap().unwrap());
        }
        got.sort();
        assert_eq!(got, vec![3, 4, 5, 6]);
        let other = company(s, "Other").await;
        assert!(
            s.routing_rules(&other.id).await.unwrap().is_none(),
            "per company"
        );

        let mut a = account(s, &c, "PAYMENTSOFT").await;
        a.priority = 9;
        a.enabled = false;
        a.limits = AccountLimits {
            min_amount: [("EUR".to_owned(), 1_000)].into(),
            max_amount: [("EUR".to_owned(), 900_000)].into(),
            daily_amount_cap: [("EUR".to_owned(), 5_000_000)].into(),
            daily_count_cap: Some(500),
        };
        s.update_psp_account(&a).await.unwrap();
        let back = s.psp_account(&a.id).await.unwrap().unwrap();
        assert_eq!((back.priority, back.enabled), (9, false));
        assert_eq!(back.limits, a.limits);
    }
    finish(all).await;
}

/// The first five migrations of `backend`, as a database deployed before attempts has them.
fn legacy_migrator(dir: &str) -> sqlx::migrate::Migrator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir);
    let runtime = tokio::runtime::Handle::current();
    let mut m =
        tokio::task::block_in_place(|| runtime.block_on(sqlx::migrate::Migrator::new(path)))
            .unwrap();
    m.migrations = m
        .migrations
        .iter()
        .filter(|mig| mig.version < 6)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn existing_transactions_become_their_first_attempt() {
    sqlx::any::install_default_drivers();
    let mut targets = vec![];
    let dir = std::env::temp_dir().join(format!("overture-mig-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    targets.push((
        format!("sqlite://{}?mode=rwc", dir.join("t.db").display()),
        None,
        "sqlite",
    ));
    if let Ok(url) = std::env::var("OVERTURE_TEST_POSTGRES_URL") {
        targets.push((
            url,
            Some(format!("mig_{}", uuid::Uuid::new_v4().simple())),
            "postgres",
        ));
    }
    for (url, schema, dir_name) in targets {
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        if let Some(schema) = &schema {
            conn.execute(format!("CREATE SCHEMA \"{schema}\"").as_str())
                .await
                .unwrap();
            conn.execute(format!("SET search_path TO \"{schema}\"").as_str())
                .await
                .unwrap();
        }
        legacy_migrator(dir_name).run(&mut conn).await.unwrap();
        for sql in [
            "INSERT INTO companies (id, name, api_secret_enc, webhook_url, webhook_secret_enc, verify_user_url, created_at) \
             VALUES ('cmp_old', 'Old', 'x', 'http://h', 'x', 'http://v', 1)",
            "INSERT INTO psp_accounts (id, company_id, psp_type, base_url, credentials_enc, enabled, priority, created_at) \
             VALUES ('psp_old', 'cmp_old', 'PAYMENTSOFT', 'http://p', 'x', 1, 0, 1)",
        ] {
            conn.execute(sql).await.unwrap();
        }
        for (id, state, submitted, psp_id) in [
            ("txn_inflight", "pending", "5", "'777'"),
            ("txn_done", "declined", "5", "NULL"),
            ("txn_held", "awaiting_approval", "NULL", "NULL"),
        ] {
            conn.execute(
                format!(
                    "INSERT INTO transactions (id, company_id, txn_type, psp_type, psp_account_id, amount_minor, \
                     currency, user_id, email, extras, state, psp_transaction_id, message, created_at, updated_at, \
                     submitted_at, version) VALUES ('{id}', 'cmp_old', 'PAYOUT', 'PAYMENTSOFT', 'psp_old', 1000, \
                     'EUR', 'u', 'e@x.y', '{{}}', '{state}', {psp_id}, 'refused', 1, 9, {submitted}, 3)"
                )
                .as_str(),
            )
            .await
            .unwrap();
        }
        conn.close().await.unwrap();
        let cipher = Cipher::from_base64(&Cipher::generate_key()).unwrap();
        let options = StoreOptions {
            url: url.clone(),
            max_connections: 2,
            schema: schema.clone(),
            worker_connections: 0,
        };
        let s = SqlStore::connect(&options, cipher).await.unwrap();
        let inflight = s
            .transaction(&overture_core::TransactionId::from_trusted("txn_inflight"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(inflight.attempt_seq, 1, "{dir_name}");
        assert_eq!(inflight.psp_order_id().as_str(), "txn_inflight");
        let order = OrderId::from_trusted("txn_inflight");
        let a = s
            .attempt_by_order(&order)
            .await
            .unwrap()
            .expect("migrated attempt");
        assert_eq!(a.state, AttemptState::Pending);
        assert_eq!(a.psp_transaction_id.as_deref(), Some("777"));
        assert_eq!(
            a.decision.chosen.as_ref().map(|c| c.as_str()),
            Some("psp_old")
        );
        assert_eq!(a.accepted_at, Some(5));
        let done = s
            .attempts(&overture_core::TransactionId::from_trusted("txn_done"))
            .await
            .unwrap();
        assert_eq!(
            (
                done[0].state,
                done[0].error_message.as_deref(),
                done[0].finished_at
            ),
            (AttemptState::Declined, Some("refused"), Some(9))
        );
        let held = overture_core::TransactionId::from_trusted("txn_held");
        assert!(
            s.attempts(&held).await.unwrap().is_empty(),
            "nothing was sent"
        );
        assert_eq!(
            s.transaction(&held).await.unwrap().unwrap().attempt_id,
            None
        );
        // The migrated in-flight order moves on like any other.
        let mut t = Transition::of(&inflight, TxnState::Approved, Actor::Psp, 20);
        t.attempt = AttemptWrite::Update {
            state: AttemptState::Approved,
            class: None,
            error: None,
        };
        s.transition(&t).await.unwrap();
        assert_eq!(
            s.attempt_by_order(&order).await.unwrap().unwrap().state,
            AttemptState::Approved
        );
        s.close().await;
        if let Some(schema) = schema {
            SqlStore::drop_schema(&url, &schema).await.unwrap();
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_exchange_log_appends_lists_and_prunes() {
    use overture_core::insight::{ExchangeDirection, InsightStore, PspExchange};
    let all = backends("exchanges").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        let a = account(s, &c, "PAYMENTSOFT").await;
        let t = stored(s, &txn(&c, &a, TxnState::Pending, "u", 1)).await;
        let entry = |at: i64, direction| PspExchange {
            id: 0,
            transaction_id: Some(t.id.clone()),
            attempt_id: None,
            psp_account_id: a.id.clone(),
            psp_type: "PAYMENTSOFT".into(),
            direction,
            operation: "status".into(),
            method: "POST".into(),
            path: "/paynet/api/v2/status/1".into(),
            http_status: Some(200),
            latency_ms: Some(12),
            request_excerpt: "control=***".into(),
            response_excerpt: "status=approved".into(),
            outcome: None,
            at,
        };
        s.record_exchanges(&[
            entry(10, ExchangeDirection::Outbound),
            entry(20, ExchangeDirection::Callback),
        ])
        .await
        .unwrap();
        let got = s.exchanges(&t.id).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].at, got[1].direction),
            (10, ExchangeDirection::Callback)
        );
        assert_eq!(got[0].latency_ms, Some(12));
        assert_eq!(s.prune_exchanges(15).await.unwrap(), 1);
        assert_eq!(s.exchanges(&t.id).await.unwrap().len(), 1);
    }
    finish(all).await;
}

#[tokio::test]
async fn an_exchange_batch_longer_than_one_statement_is_written_whole_and_in_order() {
    use overture_core::insight::{ExchangeDirection, InsightStore, PspExchange};
    let all = backends("exchange_chunks").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        let a = account(s, &c, "PAYMENTSOFT").await;
        let t = stored(s, &txn(&c, &a, TxnState::Pending, "u", 1)).await;
        // 37 entries: two full statements and a shorter last one.
        let batch: Vec<PspExchange> = (0..37)
            .map(|i| PspExchange {
                id: 0,
                transaction_id: Some(t.id.clone()),
                attempt_id: None,
                psp_account_id: a.id.clone(),
                psp_type: "PAYMENTSOFT".into(),
                direction: ExchangeDirection::Outbound,
                operation: "status".into(),
                method: "POST".into(),
                path: format!("/paynet/api/v2/status/{i}"),
                http_status: Some(200),
                latency_ms: Some(i),
                request_excerpt: String::new(),
                response_excerpt: String::new(),
                outcome: None,
                at: 100 + i,
            })
            .collect();
        s.record_exchanges(&batch).await.unwrap();
        let got = s.exchanges(&t.id).await.unwrap();
        let ats: Vec<i64> = got.iter().map(|e| e.at).collect();
        assert_eq!(ats, (100..137).collect::<Vec<i64>>());
        assert_eq!(got[36].path, "/paynet/api/v2/status/36");
    }
    finish(all).await;
}

#[tokio::test]
async fn final_states_roll_up_into_the_overview() {
    use overture_core::insight::{InsightStore, OverviewQuery};
    let all = backends("overview").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        let other = company(s, "Other").await;
        let a = account(s, &c, "PAYMENTSOFT").await;
        let o = account(s, &other, "CARDZO").await;
        let hour = 3_600_000;
        // Created in hour 10: approved after 1.5 s, declined after 20 s; hour 11: failed after 2 h.
        let close = |t: Transaction, to: TxnState, at: i64| async move {
            let mut tr = Transition::of(&t, to, Actor::Psp, at);
            tr.webhook = Some(NewWebhook {
                id: WebhookId::generate(),
                payload: "{}".into(),
            });
            s.transition(&tr).await.unwrap()
        };
        let t1 = stored(s, &txn(&c, &a, TxnState::Pending, "u1", 10 * hour)).await;
        close(t1, TxnState::Approved, 10 * hour + 1_500).await;
        let t2 = stored(s, &txn(&c, &a, TxnState::Pending, "u2", 10 * hour + 5)).await;
        close(t2, TxnState::Declined, 10 * hour + 20_005).await;
        let t3 = stored(s, &txn(&c, &a, TxnState::Pending, "u3", 11 * hour)).await;
        close(t3, TxnState::Failed, 13 * hour).await;
        let t4 = stored(s, &txn(&other, &o, TxnState::Pending, "u4", 10 * hour)).await;
        close(t4, TxnState::Approved, 10 * hour + 100).await;
        stored(
            s,
            &txn(&c, &a, TxnState::AwaitingApproval, "u5", 10 * hour + 7),
        )
        .await;

        let q = OverviewQuery {
            from: 10 * hour,
            to: 12 * hour,
            company: Some(c.id.clone()),
            bucket_ms: hour,
        };
        let v = s.overview(&q).await.unwrap();
        let count = |state: TxnState| {
            v.totals
                .iter()
                .filter(|t| t.state == state)
                .map(|t| t.count)
                .sum::<i64>()
        };
        assert_eq!(
            (
                count(TxnState::Approved),
                count(TxnState::Declined),
                count(TxnState::Failed)
            ),
            (1, 1, 1)
        );
        assert_eq!(
            v.totals.iter().map(|t| t.sum_minor).sum::<i64>(),
            3 * 150_000
        );
        assert_eq!(v.accounts.len(), 1, "the other company is out");
        let acc = &v.accounts[0];
        assert_eq!((acc.approved, acc.declined, acc.failed), (1, 1, 1));
        assert_eq!(
            (acc.buckets[1], acc.buckets[4], acc.buckets[12]),
            (1, 1, 1),
            "{:?}",
            acc.buckets
        );
        assert_eq!(v.series.len(), 2);
        assert_eq!(
            (
                v.series[0].start,
                v.series[0].approved,
                v.series[0].unsuccessful
            ),
            (10 * hour, 1, 1)
        );
        assert_eq!(
            (v.series[1].start, v.series[1].unsuccessful),
            (11 * hour, 1)
        );
        assert_eq!(
            (v.open, v.queue_size, v.queue_oldest),
            (1, 1, Some(10 * hour + 7))
        );
        assert_eq!(
            v.webhooks.total, 2,
            "deliveries made in the period (t3 failed after it)"
        );
        let everyone = s
            .overview(&OverviewQuery { company: None, ..q })
            .await
            .unwrap();
        assert_eq!(everyone.accounts.len(), 2);
    }
    finish(all).await;
}
