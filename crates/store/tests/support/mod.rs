//! What the back-office conformance tests share: one store per backend (SQLite always,
//! PostgreSQL when `OVERTURE_TEST_POSTGRES_URL` is set, each test in its own schema; an
//! unreachable server fails the test) and operators.

use overture_core::store::CompanyStore;
use overture_core::{Operator, OperatorId, Role};
use overture_store::{Cipher, SqlStore, StoreOptions};
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
    };
    s.insert_operator(&o).await.unwrap();
    o
}
