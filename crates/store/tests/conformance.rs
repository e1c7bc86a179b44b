//! The Store conformance suite: every operation, every state transition, version conflicts,
//! idempotency keys and leased claims, run against SQLite always and against PostgreSQL when
//! `OVERTURE_TEST_POSTGRES_URL` is set (each test in its own schema; an unreachable server fails
//! the test, it is never skipped).

use overture_core::store::*;
use overture_core::*;
use overture_store::{Cipher, SqlStore, StoreOptions};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;

struct Backend {
    store: SqlStore,
    cleanup: Option<(String, String)>,
    _dir: Option<tempdir::Dir>,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    pub fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!(
            "overture-store-{tag}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
}

async fn backends(tag: &str) -> Vec<Backend> {
    let cipher = Cipher::from_base64(&Cipher::generate_key()).unwrap();
    let dir = tempdir::new(tag);
    let url = format!("sqlite://{}", dir.0.join("t.db").display());
    let sqlite = SqlStore::connect(
        &StoreOptions {
            url,
            max_connections: 4,
            schema: None,
            worker_connections: 0,
        },
        cipher.clone(),
    )
    .await
    .expect("sqlite store");
    let mut out = vec![Backend {
        store: sqlite,
        cleanup: None,
        _dir: Some(dir),
    }];
    if let Ok(url) = std::env::var("OVERTURE_TEST_POSTGRES_URL") {
        let schema = format!("t_{}_{}", tag, uuid::Uuid::new_v4().simple());
        let pg = SqlStore::connect(
            &StoreOptions {
                url: url.clone(),
                max_connections: 8,
                schema: Some(schema.clone()),
                // The workers' own pool, as `serve` opens it on PostgreSQL.
                worker_connections: 2,
            },
            cipher,
        )
        .await
        .expect("OVERTURE_TEST_POSTGRES_URL is set but PostgreSQL cannot be reached");
        out.push(Backend {
            store: pg,
            cleanup: Some((url, schema)),
            _dir: None,
        });
    }
    out
}

async fn finish(backends: Vec<Backend>) {
    for b in backends {
        b.store.close().await;
        if let Some((url, schema)) = b.cleanup {
            SqlStore::drop_schema(&url, &schema).await.unwrap();
        }
    }
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::from_code("EUR").unwrap()).unwrap()
}

async fn seed(store: &SqlStore) -> (Company, PspAccount) {
    let company = Company {
        id: CompanyId::generate(),
        name: "Acme".into(),
        api_secret: SecretString::from("api-secret"),
        webhook_url: "http://127.0.0.1:1/hook".into(),
        webhook_secret: SecretString::from("whsec_c2VjcmV0"),
        webhook_authorization: Some(SecretString::from("Bearer mp")),
        verify_user_url: "http://127.0.0.1:1/verify".into(),
        payout_approval_threshold: Some("1000.50".parse().unwrap()),
        verify_payins: false,
        created_at: 1,
        thresholds: Default::default(),
        retired: Default::default(),
    };
    store.insert_company(&company).await.unwrap();
    let account = PspAccount {
        id: PspAccountId::generate(),
        company_id: company.id.clone(),
        psp_type: PspType("PAYMENTSOFT".into()),
        base_url: "http://127.0.0.1:1/sandbox".into(),
        credentials: Credentials(BTreeMap::from([(
            "login".to_string(),
            SecretString::from("l"),
        )])),
        enabled: true,
        priority: 5,
        limits: Default::default(),
        created_at: 2,
        deleted_at: None,
    };
    store.insert_psp_account(&account).await.unwrap();
    (company, account)
}

fn new_txn(company: &Company, account: &PspAccount, state: TxnState) -> Transaction {
    Transaction {
        id: TransactionId::generate(),
        company_id: company.id.clone(),
        brand_id: Some("brand-1".into()),
        txn_type: TxnType::Payout,
        psp_type: account.psp_type.clone(),
        psp_account_id: account.id.clone(),
        attempt_id: None,
        attempt_seq: 0,
        order_id: None,
        routing: None,
        metadata: Default::default(),
        amount: eur(10_053),
        user_id: "user-1".into(),
        email: "u@example.com".into(),
        country: Some("DE".into()),
        extras: BTreeMap::from([("walletAddress".to_string(), "bc1q".to_string())]),
        state,
        psp_status: None,
        psp_transaction_id: None,
        psp_stage: None,
        message: None,
        session_id: Some(SessionId::generate()),
        redirect_url: None,
        return_url: None,
        merchant_reference: Some("ref-1".into()),
        idempotency_key: None,
        created_at: 10,
        updated_at: 10,
        submitted_at: Some(10),
        version: 1,
        next_poll_at: None,
        poll_attempts: 0,
        trace_id: None,
    }
}

fn created_event(t: &Transaction) -> TransactionEvent {
    TransactionEvent {
        transaction_id: t.id.clone(),
        from_state: None,
        to_state: t.state,
        actor: Actor::Merchant,
        reason: None,
        psp_status: None,
        at: t.created_at,
    }
}

#[tokio::test]
async fn companies_accounts_and_operators_round_trip_with_secrets_sealed() {
    let all = backends("companies").await;
    for b in &all {
        let s = &b.store;
        let (company, account) = seed(s).await;
        let got = s.company(&company.id).await.unwrap().unwrap();
        assert_eq!(got.api_secret.expose_secret(), "api-secret");
        assert_eq!(
            got.webhook_authorization.unwrap().expose_secret(),
            "Bearer mp"
        );
        assert_eq!(
            got.payout_approval_threshold.unwrap().to_string(),
            "1000.50"
        );
        assert_eq!(s.count_companies().await.unwrap(), 1);
        let accounts = s.psp_accounts(&company.id).await.unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].credentials.0["login"].expose_secret(), "l");
        assert!(s.psp_account(&account.id).await.unwrap().unwrap().enabled);
        let op = Operator {
            id: OperatorId::generate(),
            email: "a@b.c".into(),
            role: Role::Approver,
            token_sha256: "abc".into(),
            created_at: 3,
            disabled_at: None,
        };
        s.insert_operator(&op).await.unwrap();
        assert_eq!(
            s.operator_by_token("abc").await.unwrap().unwrap().role,
            Role::Approver
        );
        assert!(s.operator_by_token("nope").await.unwrap().is_none());
        assert!(matches!(
            s.insert_operator(&op).await,
            Err(StoreError::Duplicate(_))
        ));
    }
    finish(all).await;
}

#[tokio::test]
async fn transactions_round_trip_and_every_transition_is_checked() {
    let all = backends("txns").await;
    for b in &all {
        let s = &b.store;
        let (company, account) = seed(s).await;
        let t = new_txn(&company, &account, TxnState::Submitting);
        s.create_transaction(&t, &[created_event(&t)], None, None)
            .await
            .unwrap();
        let got = s.transaction(&t.id).await.unwrap().unwrap();
        assert_eq!(got.amount, eur(10_053));
        assert_eq!(got.extras["walletAddress"], "bc1q");
        assert_eq!(got.state, TxnState::Submitting);
        let by_session = s
            .transaction_by_session(t.session_id.as_ref().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_session.id, t.id);

        // Every edge of the state machine is accepted or refused exactly as core says.
        for from in TxnState::ALL {
            for to in TxnState::ALL {
                let x = new_txn(&company, &account, from);
                s.create_transaction(&x, &[], None, None).await.unwrap();
                let result = s
                    .transition(&Transition::of(&x, to, Actor::System, 20))
                    .await;
                assert_eq!(
                    result.is_ok(),
                    from.can_transition_to(to),
                    "{from:?} -> {to:?}"
                );
            }
        }

        let mut tr = Transition::of(&got, TxnState::Pending, Actor::Psp, 20);
        tr.psp_transaction_id = Some("PSP-1".into());
        tr.psp_status = Some("processing".into());
        tr.next_poll_at = Some(25);
        let pending = s.transition(&tr).await.unwrap();
        assert_eq!(pending.version, got.version + 1);
        assert_eq!(pending.psp_transaction_id.as_deref(), Some("PSP-1"));
        // A second writer holding the old version loses.
        let stale = s
            .transition(&Transition::of(&got, TxnState::Pending, Actor::Psp, 21))
            .await;
        assert!(matches!(stale, Err(StoreError::Conflict(_))));
        let progressed = s
            .record_progress(
                &t.id,
                pending.version,
                &ProgressUpdate {
                    psp_stage: Some("stage-2".into()),
                    ..Default::default()
                },
                22,
            )
            .await
            .unwrap();
        assert_eq!(progressed.psp_stage.as_deref(), Some("stage-2"));
        assert_eq!(
            progressed.psp_transaction_id.as_deref(),
            Some("PSP-1"),
            "COALESCE keeps old values"
        );
        assert!(s
            .record_progress(&t.id, pending.version, &ProgressUpdate::default(), 23)
            .await
            .is_err());

        let mut fin = Transition::of(&progressed, TxnState::Approved, Actor::Psp, 30);
        fin.webhook = Some(NewWebhook {
            id: WebhookId::generate(),
            payload: "{}".into(),
        });
        let approved = s.transition(&fin).await.unwrap();
        assert_eq!(approved.state, TxnState::Approved);
        assert_eq!(approved.next_poll_at, None);
        let hooks = s.webhooks_for_transaction(&t.id).await.unwrap();
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].state, DeliveryState::Pending);

        let events = s.events(&t.id).await.unwrap();
        let path: Vec<_> = events.iter().map(|e| (e.from_state, e.to_state)).collect();
        assert_eq!(
            path,
            vec![
                (None, TxnState::Submitting),
                (Some(TxnState::Submitting), TxnState::Pending),
                (Some(TxnState::Pending), TxnState::Approved)
            ]
        );
        assert_eq!(events[1].actor, Actor::Psp);

        let listed = s
            .list_transactions(&TxnFilter {
                company_id: Some(company.id.clone()),
                state: Some(TxnState::Approved),
                limit: 100,
            })
            .await
            .unwrap();
        assert!(listed.iter().any(|x| x.id == t.id));
        assert!(listed.iter().all(|x| x.state == TxnState::Approved));
    }
    finish(all).await;
}

#[tokio::test]
async fn one_webhook_event_per_transaction_and_operator_actor_is_kept() {
    let all = backends("onehook").await;
    for b in &all {
        let s = &b.store;
        let (company, account) = seed(s).await;
        let t = new_txn(&company, &account, TxnState::AwaitingApproval);
        s.create_transaction(&t, &[created_event(&t)], None, None)
            .await
            .unwrap();
        let op = OperatorId::generate();
        let mut tr = Transition::of(&t, TxnState::Rejected, Actor::Operator(op.clone()), 5);
        tr.reason = Some("fraud suspected".into());
        tr.webhook = Some(NewWebhook {
            id: WebhookId::generate(),
            payload: "{}".into(),
        });
        s.transition(&tr).await.unwrap();
        let events = s.events(&t.id).await.unwrap();
        assert_eq!(events.last().unwrap().actor, Actor::Operator(op));
        assert_eq!(
            events.last().unwrap().reason.as_deref(),
            Some("fraud suspected")
        );
        // The UNIQUE transaction_id on the outbox refuses a second event even if code tried.
        let again = sqlx_insert_second_webhook(s, &t).await;
        assert!(again.is_err());
    }
    finish(all).await;
}

async fn sqlx_insert_second_webhook(s: &SqlStore, t: &Transaction) -> Result<(), StoreError> {
    // A forged second transition from an older version must fail before any outbox write.
    let mut tr = Transition::of(t, TxnState::Rejected, Actor::System, 6);
    tr.webhook = Some(NewWebhook {
        id: WebhookId::generate(),
        payload: "{}".into(),
    });
    s.transition(&tr).await.map(|_| ())
}

#[tokio::test]
async fn idempotency_keys_are_unique_per_company_and_keep_the_response() {
    let all = backends("idem").await;
    for b in &all {
        let s = &b.store;
        let (company, account) = seed(s).await;
        let mut t = new_txn(&company, &account, TxnState::Submitting);
        t.idempotency_key = Some("key-1".into());
        let rec = IdempotencyRecord {
            company_id: company.id.clone(),
            key: "key-1".into(),
            request_sha256: "h1".into(),
            transaction_id: t.id.clone(),
            response: None,
            created_at: 1,
        };
        s.create_transaction(&t, &[], None, Some(&rec))
            .await
            .unwrap();
        let mut t2 = new_txn(&company, &account, TxnState::Submitting);
        t2.idempotency_key = Some("key-1".into());
        let rec2 = IdempotencyRecord {
            transaction_id: t2.id.clone(),
            ..rec.clone()
        };
        assert!(matches!(
            s.create_transaction(&t2, &[], None, Some(&rec2)).await,
            Err(StoreError::Duplicate(_))
        ));
        assert!(
            s.transaction(&t2.id).await.unwrap().is_none(),
            "nothing of the loser is stored"
        );

        let got = s.idempotency(&company.id, "key-1").await.unwrap().unwrap();
        assert_eq!(got.request_sha256, "h1");
        assert!(got.response.is_none());
        s.transition(&Transition::of(&t, TxnState::Pending, Actor::Psp, 2))
            .await
            .unwrap();
        s.save_idempotent_response(&company.id, "key-1", 200, "{\"ok\":1}")
            .await
            .unwrap();
        let got = s.idempotency(&company.id, "key-1").await.unwrap().unwrap();
        assert_eq!(got.response, Some((200, "{\"ok\":1}".to_string())));
        assert!(s.idempotency(&company.id, "other").await.unwrap().is_none());
    }
    finish(all).await;
}

#[tokio::test]
async fn poll_claims_move_rows_to_their_next_poll() {
    let all = backends("polls").await;
    for b in &all {
        let s = &b.store;
        let (company, account) = seed(s).await;
        let mut due = new_txn(&company, &account, TxnState::Pending);
        due.next_poll_at = Some(100);
        let mut later = new_txn(&company, &account, TxnState::Pending);
        later.next_poll_at = Some(500);
        s.create_transaction(&due, &[], None, None).await.unwrap();
        s.create_transaction(&later, &[], None, None).await.unwrap();

        // Each claimed row moves to its next poll time: 1 000 after the claim.
        let next = |t: &Transaction| t.next_poll_at.unwrap_or(0) + 1_000;
        let claimed = s.claim_due_polls(200, 10, &next).await.unwrap();
        assert_eq!(
            claimed.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
            vec![due.id.clone()]
        );
        assert_eq!(claimed[0].next_poll_at, Some(100), "returned as it was");
        let moved = s.transaction(&due.id).await.unwrap().unwrap();
        assert_eq!((moved.next_poll_at, moved.poll_attempts), (Some(1_100), 1));
        assert_eq!(moved.version, due.version, "a claim is not a state change");
        assert!(
            s.claim_due_polls(300, 10, &next).await.unwrap().is_empty(),
            "a claimed row is not claimed again before its next poll"
        );
        // Oldest due first, and at most `limit`.
        let first = s.claim_due_polls(1_200, 1, &next).await.unwrap();
        assert_eq!(first[0].id, later.id);
        let second = s.claim_due_polls(1_200, 10, &next).await.unwrap();
        assert_eq!(second[0].id, due.id);
        s.reschedule_polls(&[(due.id.clone(), Some(5_000)), (later.id.clone(), None)])
            .await
            .unwrap();
        let after = s.transaction(&due.id).await.unwrap().unwrap();
        assert_eq!((after.next_poll_at, after.poll_attempts), (Some(5_000), 2));
        let stopped = s.transaction(&later.id).await.unwrap().unwrap();
        assert_eq!(stopped.next_poll_at, None);
        assert!(s
            .claim_due_polls(4_999, 10, &next)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(s.claim_due_polls(5_000, 10, &next).await.unwrap().len(), 1);

        // A final state reached meanwhile is never rescheduled.
        let fin = s
            .transition(&Transition::of(&after, TxnState::Approved, Actor::Psp, 6))
            .await
            .unwrap();
        s.reschedule_polls(&[(fin.id.clone(), Some(9_000))])
            .await
            .unwrap();
        assert_eq!(
            s.transaction(&fin.id).await.unwrap().unwrap().next_poll_at,
            None
        );
    }
    finish(all).await;
}

#[tokio::test]
async fn webhook_claims_attempts_and_dead_letters() {
    let all = backends("hooks").await;
    for b in &all {
        let s = &b.store;
        let (company, account) = seed(s).await;
        let t = new_txn(&company, &account, TxnState::Pending);
        s.create_transaction(&t, &[], None, None).await.unwrap();
        let mut tr = Transition::of(&t, TxnState::Declined, Actor::Psp, 1_000);
        let id = WebhookId::generate();
        tr.webhook = Some(NewWebhook {
            id: id.clone(),
            payload: "{\"a\":1}".into(),
        });
        s.transition(&tr).await.unwrap();

        assert!(
            s.claim_due_webhooks(999, 2_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "not due yet"
        );
        let claimed = s.claim_due_webhooks(1_000, 2_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].payload, "{\"a\":1}");
        assert!(
            s.claim_due_webhooks(1_500, 2_500, 10)
                .await
                .unwrap()
                .is_empty(),
            "leased"
        );

        let attempt = |n: i32, status: Option<i32>, next: DeliveryNext| WebhookAttemptResult {
            attempt: WebhookAttempt {
                webhook_id: id.clone(),
                attempt: n,
                at: 1_000 + i64::from(n),
                http_status: status,
                latency_ms: 3,
                response_excerpt: "boom".into(),
            },
            next,
        };
        s.record_webhook_attempt(&attempt(1, Some(500), DeliveryNext::RetryAt(3_000)))
            .await
            .unwrap();
        let d = &s.webhooks_for_transaction(&t.id).await.unwrap()[0];
        assert_eq!(
            (d.state, d.attempts, d.next_attempt_at, d.last_http_status),
            (DeliveryState::Pending, 1, 3_000, Some(500))
        );
        assert_eq!(
            s.claim_due_webhooks(3_000, 4_000, 10).await.unwrap().len(),
            1,
            "lease cleared, due again"
        );
        s.record_webhook_attempt(&attempt(2, None, DeliveryNext::Dead))
            .await
            .unwrap();
        let d = &s.webhooks_for_transaction(&t.id).await.unwrap()[0];
        assert_eq!(d.state, DeliveryState::Dead);
        assert!(
            s.claim_due_webhooks(10_000, 11_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "dead is never claimed"
        );
        let attempts = s.webhook_attempts(&id).await.unwrap();
        assert_eq!(
            attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }
    finish(all).await;
}

#[tokio::test]
async fn concurrent_claimers_never_get_the_same_row() {
    let all = backends("race").await;
    for b in &all {
        let s = &b.store;
        let (company, account) = seed(s).await;
        let mut ids = Vec::new();
        for _ in 0..40 {
            let mut t = new_txn(&company, &account, TxnState::Pending);
            t.next_poll_at = Some(1);
            s.create_transaction(&t, &[], None, None).await.unwrap();
            ids.push(t.id);
        }
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                for _ in 0..10 {
                    mine.extend(
                        s.claim_due_polls(10, 3, &|_: &Transaction| 100_000)
                            .await
                            .unwrap()
                            .into_iter()
                            .map(|t| t.id),
                    );
                }
                mine
            }));
        }
        let mut claimed = Vec::new();
        for task in tasks {
            claimed.extend(task.await.unwrap());
        }
        let unique: std::collections::BTreeSet<_> = claimed.iter().cloned().collect();
        assert_eq!(unique.len(), claimed.len(), "a row was claimed twice");
        assert_eq!(unique.len(), ids.len());
    }
    finish(all).await;
}

#[tokio::test]
async fn a_failed_write_leaves_nothing_and_the_store_keeps_working() {
    let all = backends("failed").await;
    for b in &all {
        let s = &b.store;
        let (company, account) = seed(s).await;
        let t = new_txn(&company, &account, TxnState::Submitting);
        s.create_transaction(&t, &[created_event(&t)], None, None)
            .await
            .unwrap();
        // The same id again: the write fails part-way and must be rolled back.
        let mut dup = new_txn(&company, &account, TxnState::Submitting);
        dup.id = t.id.clone();
        dup.session_id = Some(SessionId::generate());
        let result = s
            .create_transaction(&dup, &[created_event(&dup)], None, None)
            .await;
        assert!(
            matches!(result, Err(StoreError::Duplicate(_))),
            "{result:?}"
        );
        // The same session id on a new transaction: refused, nothing of it stored.
        let mut dup_session = new_txn(&company, &account, TxnState::Submitting);
        dup_session.session_id = t.session_id.clone();
        assert!(s
            .create_transaction(&dup_session, &[created_event(&dup_session)], None, None)
            .await
            .is_err());
        assert!(s.transaction(&dup_session.id).await.unwrap().is_none());
        assert!(s.events(&dup_session.id).await.unwrap().is_empty());
        assert_eq!(
            s.events(&t.id).await.unwrap().len(),
            1,
            "the failed writes added no events"
        );
        // No connection was left inside an open transaction: later writes go through at once.
        for _ in 0..8 {
            let extra = new_txn(&company, &account, TxnState::Submitting);
            s.create_transaction(&extra, &[created_event(&extra)], None, None)
                .await
                .unwrap();
        }
        let next = s
            .transition(&Transition::of(&t, TxnState::Pending, Actor::Psp, 20))
            .await
            .unwrap();
        assert_eq!(next.state, TxnState::Pending);
        assert_eq!(s.events(&t.id).await.unwrap().len(), 2);
    }
    finish(all).await;
}

#[tokio::test]
async fn recoverable_writes_apply_and_are_seen_at_once() {
    let all = backends("recoverable").await;
    for b in &all {
        let s = &b.store;
        let (company, account) = seed(s).await;
        let t = new_txn(&company, &account, TxnState::Submitting);
        s.create_transaction(&t, &[created_event(&t)], None, None)
            .await
            .unwrap();
        // Through the workers' pool on PostgreSQL (no WAL flush), read back through the main
        // pool at once: the change is committed and visible, only its flush is deferred.
        let mut tr = Transition::of(&t, TxnState::Pending, Actor::Psp, 10);
        tr.recoverable = true;
        tr.psp_status = Some("processing".into());
        let pending = s.transition(&tr).await.unwrap();
        assert_eq!(pending.state, TxnState::Pending);
        let read = s.transaction(&t.id).await.unwrap().unwrap();
        assert_eq!(
            (read.state, read.version),
            (TxnState::Pending, t.version + 1)
        );
        // The version check holds across the two pools.
        assert!(matches!(
            s.transition(&tr).await,
            Err(StoreError::Conflict(_))
        ));
        let progress = ProgressUpdate {
            psp_status: Some("still processing".into()),
            ..ProgressUpdate::default()
        };
        let moved = s
            .record_progress(&t.id, read.version, &progress, 11)
            .await
            .unwrap();
        // The flag on a final state is ignored (final states are always flushed): it applies.
        let mut fin = Transition::of(&moved, TxnState::Approved, Actor::Psp, 12);
        fin.recoverable = true;
        fin.webhook = Some(NewWebhook {
            id: WebhookId::generate(),
            payload: "{}".into(),
        });
        s.transition(&fin).await.unwrap();
        let done = s.transaction(&t.id).await.unwrap().unwrap();
        assert_eq!(done.state, TxnState::Approved);
        assert_eq!(s.webhooks_for_transaction(&t.id).await.unwrap().len(), 1);
    }
    finish(all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_in_the_background_so_the_wal_stays_small() {
    let all = backends("wal").await;
    let b = all
        .iter()
        .find(|b| b.store.backend() == overture_store::Backend::Sqlite);
    let Some(b) = b else { return };
    let s = &b.store;
    let wal = b._dir.as_ref().unwrap().0.join("t.db-wal");
    let (company, account) = seed(s).await;
    // Writes spread over a few seconds, as a steady load would: each transaction is an insert
    // and a state change, about 30 WAL pages. Commits checkpoint only past 10,000 WAL pages
    // (40 MB), so without the background checkpointer the WAL grows to that; with it, the WAL
    // is reset every few hundred milliseconds.
    let mut largest = 0;
    for round in 0..80 {
        for _ in 0..20 {
            let t = new_txn(&company, &account, TxnState::Submitting);
            s.create_transaction(&t, &[created_event(&t)], None, None)
                .await
                .unwrap();
            let mut tr = Transition::of(&t, TxnState::Pending, Actor::Psp, 1);
            tr.psp_status = Some(format!("processing {round}"));
            s.transition(&tr).await.unwrap();
        }
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    }
    assert!(
        largest < 20 * 1024 * 1024,
        "the WAL reached {largest} bytes: nothing checkpointed it"
    );
    finish(all).await;
}
