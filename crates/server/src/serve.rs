//! `overture serve`: opens the store, mounts the API (and, unless in production mode, the PSP
//! sandboxes and demo MP), runs the workers, and seeds the demo company on first start once
//! the sandboxes answer.

use crate::api::metrics::{MetricsAccess, METRICS_TOKEN_ENV};
use crate::app::App;
use crate::config::{DbArgs, Role, ServeArgs};
use crate::metrics::psp::PspMetrics;
use crate::metrics::Metrics;
use crate::service::confirm::Confirmations;
use crate::service::exchange_log::{self, ExchangeLog};
use crate::{access, api, backoffice, demo, workers};
use anyhow::Context;
use axum::Extension;
use overture_connectors::http::PspHttp;
use overture_connectors::Registry;
use overture_core::SystemClock;
use overture_outbound::{Outbound, Settings};
use overture_sandbox::SandboxSeed;
use overture_store::{Cipher, SqlStore, StoreOptions};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The master key: `OVERTURE_MASTER_KEY`, else the key file (created, mode 0600, when missing).
pub fn master_key(db: &DbArgs) -> anyhow::Result<Cipher> {
    if let Ok(key) = std::env::var("OVERTURE_MASTER_KEY") {
        return Cipher::from_base64(&key).context("OVERTURE_MASTER_KEY");
    }
    let path = &db.master_key_file;
    if !path.exists() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        write_private(path, &Cipher::generate_key())?;
        tracing::info!(path = %path.display(), "created a new master key");
    }
    let key =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Cipher::from_base64(&key).with_context(|| format!("master key in {}", path.display()))
}

/// Creates `path` with `contents`, readable by its owner only (mode 0600 on Unix); fails when
/// it exists.
pub(crate) fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// Opens (and migrates) the store named by `db`, creating the SQLite directory when needed.
pub async fn open_store(db: &DbArgs) -> anyhow::Result<SqlStore> {
    if let Some(path) = db
        .database_url
        .strip_prefix("sqlite://")
        .or_else(|| db.database_url.strip_prefix("sqlite:"))
    {
        let file = path.split('?').next().unwrap_or(path);
        if let Some(dir) = Path::new(file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    let cipher = master_key(db)?;
    let options = StoreOptions {
        url: db.database_url.clone(),
        max_connections: db.db_max_connections.unwrap_or(
            if db.database_url.starts_with("sqlite") {
                1
            } else {
                16
            },
        ),
        schema: db.db_schema.clone(),
        worker_connections: db.db_worker_connections,
    };
    SqlStore::connect(&options, cipher)
        .await
        .context("opening the database")
}

/// A running server.
pub struct Running {
    pub app: App,
    /// The base URL it is reachable at.
    pub url: String,
    pub cancel: CancellationToken,
    pub handle: tokio::task::JoinHandle<()>,
}

/// Starts serving on `listener` (already bound) until `cancel` fires.
pub async fn start(
    args: ServeArgs,
    listener: TcpListener,
    cancel: CancellationToken,
) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| url.clone())
        .trim_end_matches('/')
        .to_owned();
    let store = open_store(&args.db).await?;
    let policy = args.outbound.policy();
    tracing::info!(production = policy.production, allow = %policy.allow, "outbound policy");
    let metrics_access = MetricsAccess::new(args.outbound.production, args.metrics_token.clone());
    if matches!(metrics_access, MetricsAccess::Closed) {
        tracing::warn!(
            "production mode without {METRICS_TOKEN_ENV}: GET /metrics answers 401 to everyone"
        );
    }
    let clock: Arc<dyn overture_core::Clock> = Arc::new(SystemClock);
    let (exchanges, exchange_queue) = ExchangeLog::new(clock.clone());
    let metrics = Arc::new(Metrics::new());
    let psp_http = PspHttp::new(args.tuning.psp_timeout, policy.clone())
        .with_observer(exchanges.clone())
        .with_observer(Arc::new(PspMetrics(metrics.clone())));
    let app = App {
        store: Arc::new(store),
        registry: Registry::builtin(psp_http),
        public_url: public_url.clone(),
        tuning: args.tuning.clone(),
        clock: clock.clone(),
        // Per-call timeouts (verify-user, webhooks) are set on each request.
        http: Outbound::new(policy, &Settings::default())?,
        webhook_wakeup: Arc::new(Notify::new()),
        poll_wakeup: Arc::new(Notify::new()),
        metrics,
        metrics_access: Arc::new(metrics_access),
        companies: Arc::default(),
        confirmations: Arc::new(Confirmations::new(args.tuning.callback_query_gap)),
        api_activity: Arc::default(),
        psp_accounts: Arc::default(),
        routing_rules: Arc::default(),
        exchanges,
        health: Arc::new(crate::service::health::Health::new(
            args.tuning.breaker_failures,
            i64::try_from(args.tuning.breaker_cooldown.as_millis()).unwrap_or(i64::MAX),
        )),
    };
    let mut router = api::router()
        .with_state(app.clone())
        .merge(backoffice::router(app.clone(), &args.backoffice));
    if !args.outbound.production {
        // Derived from the master key: the demo company's sandbox accounts keep working after
        // a restart, and another installation's sandbox knows none of them.
        let seed = SandboxSeed::from_bytes(master_key(&args.db)?.derive_key(SANDBOX_SEED_LABEL));
        router = router
            .merge(overture_sandbox::router(
                &public_url,
                args.sandbox.sim_config(seed),
            ))
            .merge(demo::DemoMp::default().router());
    }
    // Every error under /v1 in the API envelope, including the router's own 404/405.
    let router = router
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn(api::envelope::envelope_errors))
        .layer(axum::middleware::from_fn_with_state(
            app.api_activity.clone(),
            workers::budget::track,
        ))
        .layer(Extension(args.trusted_proxies.clone()))
        .layer(axum::middleware::from_fn_with_state(
            app.metrics.clone(),
            access::log,
        ));
    let mut tasks = tokio::task::JoinSet::new();
    let retention = Duration::from_secs(86_400 * u64::from(args.tuning.exchange_retention_days));
    tasks.spawn(exchange_log::run_writer(
        app.store.clone(),
        clock,
        exchange_queue,
        retention,
        cancel.clone(),
    ));
    if matches!(args.role, Role::Worker | Role::All) {
        tasks.spawn(workers::poller::run(app.clone(), cancel.clone()));
        tasks.spawn(workers::webhooks::run(app.clone(), cancel.clone()));
        tasks.spawn(workers::queues::run(app.clone(), cancel.clone()));
    }
    let shutdown = cancel.clone();
    if matches!(args.role, Role::Api | Role::All) {
        tasks.spawn(async move {
            // Connect info gives handlers the TCP peer (see `client_addr`).
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            let served = axum::serve(listener, service)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = ?e, "http server failed");
            }
        });
    } else {
        // Worker nodes still answer health checks, and show their workers' metrics.
        let health = axum::Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .route("/metrics", axum::routing::get(api::metrics::metrics))
            .with_state(app.clone());
        tasks.spawn(async move {
            let _ = axum::serve(listener, health)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
        });
    }
    tracing::info!(%url, %public_url, role = ?args.role, "overture serving");
    let handle = tokio::spawn(async move { while tasks.join_next().await.is_some() {} });
    // The demo company's accounts are opened at the sandboxes this node now serves, through
    // its own listen address. A worker-only node serves no sandbox: an API node seeds.
    let serves_sandboxes = !args.outbound.production && matches!(args.role, Role::Api | Role::All);
    if serves_sandboxes {
        let local = local_url(addr);
        let seeded = demo::seed_demo(
            app.store.as_ref(),
            &public_url,
            &local,
            args.demo_file.as_deref(),
            app.now(),
        )
        .await;
        if let Err(e) = seeded {
            cancel.cancel();
            let _ = handle.await;
            return Err(e.context("seeding the demo company"));
        }
    }
    Ok(Running {
        app,
        url,
        cancel,
        handle,
    })
}

/// Label of the in-process sandboxes' seed derived from the master key.
const SANDBOX_SEED_LABEL: &str = "overture/sandbox-seed/v1";

/// `http://<addr>`, with a wildcard listen address (`0.0.0.0`, `::`) replaced by loopback so
/// this process can call itself.
fn local_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// `overture serve`: runs until SIGINT/SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let cancel = CancellationToken::new();
    let running = start(args, listener, cancel.clone()).await?;
    println!("{}", serde_json::json!({ "listening": running.url }));
    shutdown_signal().await;
    tracing::info!("shutting down");
    cancel.cancel();
    let _ = running.handle.await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_url_calls_wildcard_addresses_through_loopback() {
        let url = |s: &str| local_url(s.parse().unwrap());
        assert_eq!(url("0.0.0.0:8080"), "http://127.0.0.1:8080");
        assert_eq!(url("[::]:8080"), "http://[::1]:8080");
        assert_eq!(url("10.1.2.3:80"), "http://10.1.2.3:80");
    }
}
