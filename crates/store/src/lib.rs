//! `overture-core`'s [`Store`](overture_core::store::Store) on SQLite (the embedded default)
//! and PostgreSQL, through sqlx's `Any` driver so both backends share one implementation.
//! The few statements that differ (row locking for claims) are chosen by [`Backend`].
//!
//! Conventions: money is `amount_minor BIGINT` + `currency`; times are BIGINT milliseconds
//! since the Unix epoch; booleans are BIGINT 0/1 (portable through `Any`); secrets are sealed
//! with [`Cipher`] before they reach a column.

mod backoffice;
mod checkpoint;
mod companies;
mod crypto;
mod insight;
mod manage;
mod overview;
mod pg_paths;
mod rollups;
mod rows;
mod sqlite_paths;
mod transactions;
mod work;

pub use crypto::{Cipher, CipherError};

use overture_core::store::StoreError;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

/// Which database a store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a `sqlite:` / `postgres:` URL names.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Database(
                format!("unsupported database URL scheme: {url}").into(),
            ))
        }
    }

    /// Row-locking clause for claim subqueries: several PostgreSQL nodes skip each other's
    /// rows; SQLite serialises writers, so it needs none.
    fn skip_locked(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

/// Connection settings.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` or `postgres://user@host:port/db`.
    pub url: String,
    /// Pool size (`OVERTURE_DB_MAX_CONNECTIONS`).
    pub max_connections: u32,
    /// PostgreSQL schema to use (created if missing); tests give each run its own.
    pub schema: Option<String>,
    /// Connections of a separate pool for the background workers' claims and bookkeeping
    /// (`OVERTURE_DB_WORKER_CONNECTIONS`), so a busy poller or webhook dispatcher never makes
    /// an API request wait for a connection. PostgreSQL only; 0 shares the main pool. SQLite
    /// always shares its one connection: it has a single writer, and a second connection
    /// would only wait on its lock.
    ///
    /// On PostgreSQL that pool also commits without waiting for the WAL flush
    /// (`synchronous_commit = off`): everything written through it is recoverable after a crash
    /// (a poll or webhook attempt is simply made again, a `recoverable` transition redone by a
    /// status query), and a later durable commit flushes it too, the WAL being sequential.
    pub worker_connections: u32,
}

/// The SQL store.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    /// The workers' share of connections, committing without waiting for the disk on
    /// PostgreSQL (the main pool when not separate); also carries recoverable writes.
    work_pool: AnyPool,
    backend: Backend,
    cipher: Cipher,
    /// Held by every clone; the SQLite checkpointer stops when the last one is dropped.
    _alive: std::sync::Arc<()>,
}

fn db_err(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            return StoreError::Duplicate(db.message().to_owned());
        }
    }
    StoreError::Database(Box::new(err))
}

impl SqlStore {
    /// Connects, creating the SQLite file (and the PostgreSQL schema) when missing, and applies
    /// pending migrations. Migrations only add; running them on every start is safe.
    pub async fn connect(options: &StoreOptions, cipher: Cipher) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(&options.url)?;
        let url = match backend {
            Backend::Sqlite if !options.url.contains("mode=") => {
                let sep = if options.url.contains('?') { '&' } else { '?' };
                format!("{}{sep}mode=rwc", options.url)
            }
            _ => options.url.clone(),
        };
        if let (Backend::Postgres, Some(schema)) = (backend, &options.schema) {
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
                .await
                .map_err(db_err)?;
            conn.execute(
                format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", schema_name(schema)?).as_str(),
            )
            .await
            .map_err(db_err)?;
        }
        let schema = options
            .schema
            .as_deref()
            .map(schema_name)
            .transpose()?
            .map(str::to_owned);
        let pool = open_pool(
            &url,
            backend,
            schema.clone(),
            options.max_connections,
            false,
        )
        .await?;
        let work_pool = match backend {
            Backend::Postgres if options.worker_connections > 0 => {
                open_pool(&url, backend, schema, options.worker_connections, true).await?
            }
            Backend::Postgres | Backend::Sqlite => pool.clone(),
        };
        let alive = std::sync::Arc::new(());
        if backend == Backend::Sqlite {
            checkpoint::start(&url, std::sync::Arc::downgrade(&alive)).await?;
        }
        let store = Self {
            pool,
            work_pool,
            backend,
            cipher,
            _alive: alive,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the backend's pending migrations (`migrations/<backend>/`).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Database(Box::new(e)))
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pools (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
        self.work_pool.close().await;
    }

    /// Drops a PostgreSQL schema with everything in it (test clean-up).
    pub async fn drop_schema(url: &str, schema: &str) -> Result<(), StoreError> {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
            .await
            .map_err(db_err)?;
        conn.execute(
            format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", schema_name(schema)?).as_str(),
        )
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

/// A pool of `max` connections with the per-connection settings of `backend`; `relaxed`
/// PostgreSQL connections commit without waiting for the WAL flush.
pub(crate) async fn open_pool(
    url: &str,
    backend: Backend,
    schema: Option<String>,
    max: u32,
    relaxed: bool,
) -> Result<AnyPool, StoreError> {
    AnyPoolOptions::new()
        .max_connections(max.max(1))
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            let schema = schema.clone();
            Box::pin(async move {
                match backend {
                    Backend::Sqlite => {
                        // WAL lets the CLI and `serve` share the file; NORMAL is durable
                        // across process crashes (what invariant 1-3 need) in WAL mode.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        // A background task checkpoints (see `checkpoint`); commits do only past
                        // this many WAL pages.
                        conn.execute(
                            format!(
                                "PRAGMA wal_autocheckpoint = {}",
                                checkpoint::SAFETY_NET_PAGES
                            )
                            .as_str(),
                        )
                        .await?;
                    }
                    Backend::Postgres => {
                        if let Some(schema) = schema {
                            conn.execute(format!("SET search_path TO \"{schema}\"").as_str())
                                .await?;
                        }
                        if relaxed {
                            conn.execute("SET synchronous_commit TO off").await?;
                        }
                    }
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(db_err)
}

/// Only `[a-z0-9_]` schema names, so they can be quoted into DDL safely.
fn schema_name(schema: &str) -> Result<&str, StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(schema)
    } else {
        Err(StoreError::Database(
            format!("invalid schema name {schema:?}").into(),
        ))
    }
}

impl FromStr for Backend {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        Self::from_url(s)
    }
}

/// Decodes every row with `f`.
fn decode_all<T>(
    rows: Vec<AnyRow>,
    f: impl Fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(f).collect()
}
