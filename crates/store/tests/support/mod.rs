//! What the back-office conformance tests share: one store per backend (SQLite always,
//! PostgreSQL when `OVERTURE_TEST_POSTGRES_URL` is set, each test in its own schema; an
//! unreachable server fails the test), operators, companies, PSP accounts and payouts, and a
//! way to make the database refuse audit records.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use overture_core::backoffice::{AuditAction, AuditEntry};
use overture_core::store::{CompanyStore, TransactionStore};
use overture_core::{
    Company, CompanyId, Credentials, Currency, Money, Operator, OperatorId, PspAccount,
    PspAccountId, PspType, Role, SessionId, Transaction, TransactionId, TxnState, TxnType,
};
use overture_store::{Cipher, SqlStore, StoreOptions};
use secrecy::SecretString;
use sqlx::{Connection, Executor};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One backend under test.
pub struct Backend {
    pub store: SqlStore,
    /// The database URL, for a connection of the test's own.
    pub url: String,
    /// The PostgreSQL schema of this test.
    pub schema: Option<String>,
    dir: Option<PathBuf>,
}

pub async fn backends(tag: &str) -> Vec<Backend> {
    let cipher = Cipher::from_base64(&Cipher::generate_key()).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "overture-bo-{tag}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("t.db").display());
    let options = StoreOptions {
        url: url.clone(),
        max_connections: 4,
        schema: None,
        worker_connections: 0,
    };
    let sqlite = SqlStore::connect(&options, cipher.clone())
        .await
        .expect("sqlite store");
    let mut out = vec![Backend {
        store: sqlite,
        url,
        schema: None,
        dir: Some(dir),
    }];
    if let Ok(url) = std::env::var("OVERTURE_TEST_POSTGRES_URL") {
        let schema = format!("bo_{}_{}", tag, uuid::Uuid::new_v4().simple());
        let options = StoreOptions {
            url: url.clone(),
            max_connections: 8,
            schema: Some(schema.clone()),
            worker_connections: 0,
        };
        let pg = SqlStore::connect(&options, cipher)
            .await
            .expect("OVERTURE_TEST_POSTGRES_URL is set but PostgreSQL cannot be reached");
        out.push(Backend {
            store: pg,
            url,
            schema: Some(schema),
            dir: None,
        });
    }
    out
}

pub async fn finish(backends: Vec<Backend>) {
    for b in backends {
        b.store.close().await;
        if let Some(schema) = b.schema {
            SqlStore::drop_schema(&b.url, &schema).await.unwrap();
        }
        if let Some(dir) = b.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub async fn operator(s: &SqlStore, email: &str, role: Role) -> Operator {
    let o = Operator {
        id: OperatorId::generate(),
        email: email.into(),
        role,
        token_sha256: format!("tok-{}", uuid::Uuid::new_v4().simple()),
        created_at: 3,
        disabled_at: None,
    };
    s.insert_operator(&o).await.unwrap();
    o
}

/// An audit record of `op` doing `action` on `target` at `at`.
pub fn audit(op: &Operator, action: AuditAction, target: Option<&str>, at: i64) -> AuditEntry {
    AuditEntry {
        id: 0,
        at,
        operator_id: Some(op.id.clone()),
        operator_email: op.email.clone(),
        action,
        target: target.map(str::to_owned),
        reason: Some("why".into()),
        detail: Some("web".into()),
    }
}

pub async fn company(s: &SqlStore, name: &str) -> Company {
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
        thresholds: Default::default(),
        retired: Default::default(),
    };
    s.insert_company(&c).await.unwrap();
    c
}

pub async fn account(s: &SqlStore, c: &Company, psp: &str) -> PspAccount {
    let a = PspAccount {
        id: PspAccountId::generate(),
        company_id: c.id.clone(),
        psp_type: PspType(psp.into()),
        base_url: "http://127.0.0.1:1/sandbox".into(),
        credentials: Credentials(BTreeMap::new()),
        enabled: true,
        priority: 0,
        limits: Default::default(),
        created_at: 2,
        deleted_at: None,
    };
    s.insert_psp_account(&a).await.unwrap();
    a
}

/// A 1500.00 EUR payout of `user` in `state`, created at `at` (not stored).
pub fn txn(c: &Company, a: &PspAccount, state: TxnState, user: &str, at: i64) -> Transaction {
    let eur = Currency::from_code("EUR").unwrap();
    Transaction {
        id: TransactionId::generate(),
        company_id: c.id.clone(),
        brand_id: None,
        txn_type: TxnType::Payout,
        psp_type: a.psp_type.clone(),
        psp_account_id: a.id.clone(),
        attempt_id: None,
        attempt_seq: 0,
        order_id: None,
        routing: None,
        metadata: Default::default(),
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
        trace_id: None,
    }
}

/// Stores `t` (no events) and returns it.
pub async fn stored(s: &SqlStore, t: &Transaction) -> Transaction {
    s.create_transaction(t, &[], None, None).await.unwrap();
    t.clone()
}

/// Runs `sql` on the test's database over a connection of its own.
pub async fn raw(b: &Backend, sql: &str) {
    let mut conn = sqlx::AnyConnection::connect(&b.url).await.unwrap();
    if let Some(schema) = &b.schema {
        conn.execute(format!("SET search_path TO \"{schema}\"").as_str())
            .await
            .unwrap();
    }
    conn.execute(sql).await.unwrap();
    conn.close().await.unwrap();
}

/// Makes the database refuse every new audit record, as a full disk or a lost connection
/// would at that moment.
pub async fn refuse_audit_records(b: &Backend) {
    if b.schema.is_some() {
        raw(
            b,
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'audit refused'; END; $$",
        )
        .await;
        raw(
            b,
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
             FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        )
        .await;
    } else {
        raw(
            b,
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
        )
        .await;
    }
}
