//! The `overture` command line: `serve`, `migrate`, `sandbox`, `companies`, `psp-accounts`,
//! `routing`, `operators`. Admin commands print one JSON document on stdout; logs go to stderr.

mod companies;
mod operators;
mod psp_accounts;
mod routing;

use crate::config::{DbArgs, SandboxArgs, ServeArgs};
use crate::demo;
use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use overture_core::store::Store;
use overture_core::*;
use overture_outbound::{OutboundPolicy, SavedUrl};
use overture_sandbox::SandboxSeed;
use secrecy::ExposeSecret;
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Overture: payments orchestration (Cashier API, PSP connectors, webhooks, approvals).
#[derive(Parser, Debug)]
#[command(name = "overture", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server and the background workers.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations (additive only; safe on every deploy).
    Migrate(DbArgs),
    /// Run the PSP sandboxes alone.
    Sandbox {
        #[arg(
            long,
            env = "OVERTURE_SANDBOX_LISTEN",
            default_value = "127.0.0.1:8090"
        )]
        listen: SocketAddr,
        /// Base URL the sandboxes are reachable at (default http://<listen>).
        #[arg(long)]
        public_url: Option<String>,
        /// File holding the base64 32-byte seed every sandbox account's secrets derive from
        /// (same seed ⇒ the accounts survive a restart); created, mode 0600, when missing.
        /// Ignored when `OVERTURE_SANDBOX_SEED` (base64) is set.
        #[arg(
            long,
            env = "OVERTURE_SANDBOX_SEED_FILE",
            default_value = "overture-data/sandbox.seed"
        )]
        seed_file: PathBuf,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// Manage merchant companies.
    #[command(subcommand)]
    Companies(companies::CompanyCommand),
    /// Manage PSP accounts.
    #[command(subcommand, name = "psp-accounts")]
    PspAccounts(psp_accounts::PspAccountCommand),
    /// Show or replace a company's routing rules.
    #[command(subcommand)]
    Routing(routing::RoutingCommand),
    /// Print the PSP capability table (Markdown) generated from the connector registry.
    Psps,
    /// Manage back-office operators.
    #[command(subcommand)]
    Operators(operators::OperatorCommand),
}

pub(crate) fn now_ms() -> i64 {
    SystemClock.now_ms()
}

pub(crate) fn company_id(s: &str) -> anyhow::Result<CompanyId> {
    CompanyId::parse(s).with_context(|| format!("{s:?} is not a company id (cmp_…)"))
}

pub(crate) async fn store(db: &DbArgs) -> anyhow::Result<Box<dyn Store>> {
    Ok(Box::new(crate::serve::open_store(db).await?))
}

/// Runs a parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => crate::serve::run(*args).await,
        Command::Migrate(db) => {
            crate::serve::open_store(&db).await?;
            println!("{}", json!({ "migrated": true }));
            Ok(())
        }
        Command::Sandbox {
            listen,
            public_url,
            seed_file,
            sandbox,
        } => {
            let env_seed = std::env::var(SANDBOX_SEED_ENV).ok();
            let seed = sandbox_seed(env_seed.as_deref(), &seed_file)?;
            run_sandbox(listen, public_url, sandbox, seed).await
        }
        Command::Companies(c) => companies::run(c).await,
        Command::Psps => {
            let registry =
                overture_connectors::Registry::builtin(overture_connectors::http::PspHttp::new(
                    Duration::from_secs(30),
                    OutboundPolicy::default(),
                ));
            print!(
                "{}",
                crate::api::psps::capability_markdown(&registry.capabilities())
            );
            Ok(())
        }
        Command::PspAccounts(c) => psp_accounts::run(c).await,
        Command::Routing(c) => routing::run(c).await,
        Command::Operators(c) => operators::run(c).await,
    }
}

/// Checks a URL an operator is saving against the outbound policy; errors name `flag`. A host
/// that does not resolve from here is accepted with a warning on stderr: it is checked again
/// at every connection.
pub(crate) async fn check_outbound_url(
    policy: &OutboundPolicy,
    flag: &str,
    url: &str,
) -> anyhow::Result<()> {
    match policy.check_saved_url(url).await {
        Ok(SavedUrl::Accepted) => Ok(()),
        Ok(SavedUrl::Unresolved { host, error }) => {
            eprintln!(
                "warning: {flag}: {host} does not resolve from here ({error}); its addresses \
                 will be checked at every connection"
            );
            Ok(())
        }
        Err(refused) => bail!("{flag} refused ({}): {refused}", refused.code()),
    }
}

/// The environment variable holding a base64 sandbox seed (never a flag: argv is public).
const SANDBOX_SEED_ENV: &str = "OVERTURE_SANDBOX_SEED";

/// The sandboxes' seed: `env_seed` (the value of `OVERTURE_SANDBOX_SEED`) when set, else the
/// seed in `seed_file`, which is created with a new random seed (base64, mode 0600) when
/// missing.
fn sandbox_seed(env_seed: Option<&str>, seed_file: &Path) -> anyhow::Result<SandboxSeed> {
    if let Some(text) = env_seed {
        return SandboxSeed::from_base64(text).context(SANDBOX_SEED_ENV);
    }
    if !seed_file.exists() {
        if let Some(dir) = seed_file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let text = SandboxSeed::generate_base64();
        crate::serve::write_private(seed_file, text.expose_secret())?;
        tracing::info!(path = %seed_file.display(), "created a new sandbox seed");
    }
    let text = std::fs::read_to_string(seed_file)
        .with_context(|| format!("reading {}", seed_file.display()))?;
    SandboxSeed::from_base64(&text)
        .with_context(|| format!("sandbox seed in {}", seed_file.display()))
}

async fn run_sandbox(
    listen: SocketAddr,
    public_url: Option<String>,
    sandbox: SandboxArgs,
    seed: SandboxSeed,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let public_url = public_url.unwrap_or_else(|| url.clone());
    let router = overture_sandbox::router(&public_url, sandbox.sim_config(seed))
        .merge(demo::DemoMp::default().router());
    println!("{}", json!({ "listening": url }));
    axum::serve(listener, router).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("overture-seed-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Same seed ⇔ same derived secrets.
    fn same(a: &SandboxSeed, b: &SandboxSeed) -> bool {
        a.derive("p", "n", "id") == b.derive("p", "n", "id")
    }

    #[test]
    fn seed_file_is_created_private_then_reused() {
        let dir = temp_dir();
        let file = dir.join("nested").join("sandbox.seed");
        let first = sandbox_seed(None, &file).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = sandbox_seed(None, &file).unwrap();
        assert!(same(&first, &again), "a restart keeps the seed");
        let elsewhere = sandbox_seed(None, &dir.join("other.seed")).unwrap();
        assert!(!same(&first, &elsewhere));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn environment_seed_wins_and_must_be_valid() {
        let dir = temp_dir();
        let file = dir.join("sandbox.seed");
        let text = SandboxSeed::generate_base64();
        let from_env = sandbox_seed(Some(text.expose_secret()), &file).unwrap();
        let expected = SandboxSeed::from_base64(text.expose_secret()).unwrap();
        assert!(same(&from_env, &expected));
        assert!(
            !file.exists(),
            "no file when the environment gives the seed"
        );
        assert!(sandbox_seed(Some("c2hvcnQ="), &file).is_err());
        std::fs::write(&file, "not a seed").unwrap();
        assert!(sandbox_seed(None, &file).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
