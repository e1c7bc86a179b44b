//! The `overture` command line: `serve`, `migrate`, `sandbox`, `companies`, `psp-accounts`,
//! `routing`, `operators`. Admin commands print one JSON document on stdout; logs go to stderr.

mod psp_accounts;
mod routing;

use crate::api::auth::{issue_company_token, token_digest};
use crate::backoffice;
use crate::config::{parse_duration, DbArgs, OutboundArgs, SandboxArgs, ServeArgs};
use crate::demo::{self, NewCompany};
use crate::service::audit::{self, Channel};
use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use overture_core::backoffice::AuditAction;
use overture_core::store::Store;
use overture_core::*;
use overture_outbound::{OutboundPolicy, SavedUrl};
use overture_sandbox::SandboxSeed;
use rand::distributions::{Alphanumeric, DistString};
use rust_decimal::Decimal;
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
    Companies(CompanyCommand),
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
    Operators(OperatorCommand),
}

#[derive(Subcommand, Debug)]
pub enum CompanyCommand {
    /// Create a company; prints {"companyId","apiSecret","webhookSecret"}.
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// Production mode and allow-list the URLs are checked against (as for `serve`).
        #[command(flatten)]
        outbound: OutboundArgs,
        #[arg(long)]
        name: String,
        /// Where final-status webhooks are POSTed; must pass the outbound policy.
        #[arg(long)]
        webhook_url: String,
        /// Where users are verified before payouts; must pass the outbound policy.
        #[arg(long)]
        verify_user_url: String,
        /// Sent as `Authorization` on every webhook. A secret, so read from the environment
        /// (`OVERTURE_WEBHOOK_AUTHORIZATION`) only, never from the command line.
        #[arg(skip = std::env::var("OVERTURE_WEBHOOK_AUTHORIZATION").ok().filter(|v| !v.is_empty()))]
        webhook_authorization: Option<String>,
        /// Payouts with baseamount at or above this (major units) wait for an operator.
        #[arg(long)]
        payout_approval_threshold: Option<Decimal>,
        /// Held payouts at or above this (major units) need two different operators'
        /// approvals (four-eyes). Needs --payout-approval-threshold, and at least it.
        #[arg(long)]
        four_eyes_threshold: Option<Decimal>,
        /// Also verify users with the MP before pay-ins.
        #[arg(long)]
        verify_payins: bool,
        /// Open an account at every built-in PSP sandbox (they must be running at
        /// --sandbox-url: `overture sandbox` or `overture serve`) and add them.
        #[arg(long)]
        with_sandbox_psps: bool,
        /// Where the sandboxes are served (default: OVERTURE_PUBLIC_URL or http://127.0.0.1:8080).
        #[arg(long, env = "OVERTURE_SANDBOX_URL")]
        sandbox_url: Option<String>,
    },
    /// Print a company JWT.
    Token {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        company: String,
        /// Lifetime, e.g. 1h, 30m, 7d.
        #[arg(long, value_parser = parse_duration, default_value = "1h")]
        ttl: Duration,
    },
}

#[derive(Subcommand, Debug)]
pub enum OperatorCommand {
    /// Create an operator; prints {"operatorId","token"} (the bearer token is shown once).
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
        /// viewer, approver or admin.
        #[arg(long)]
        role: String,
        /// Read a back-office login password from standard input (at least 12 characters).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set (or reset) an operator's back-office password from standard input. Prints
    /// {"operatorId"}.
    SetPassword {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
    },
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
        Command::Companies(c) => companies(c).await,
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
        Command::Operators(c) => operators(c).await,
    }
}

/// The password on standard input, without its final line break.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .context("reading the password from standard input")?;
    let password = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    backoffice::password::check_policy(password)?;
    Ok(password.to_owned())
}

/// Hashes and stores a password with its audit record (channel cli), in one DB transaction.
async fn set_password(
    store: &dyn Store,
    operator: &Operator,
    password: &str,
) -> anyhow::Result<()> {
    let hash = backoffice::password::hash_password(password)?;
    let record = audit::operator_action(
        operator,
        Channel::Cli,
        AuditAction::SetPassword,
        Some(operator.id.to_string()),
        None,
        None,
        now_ms(),
    );
    store
        .set_operator_password(&operator.id, &hash, &record)
        .await?;
    Ok(())
}

async fn operators(command: OperatorCommand) -> anyhow::Result<()> {
    match command {
        OperatorCommand::Create {
            db,
            email,
            role,
            password_stdin,
        } => {
            let role = Role::parse(&role).context("--role must be viewer, approver or admin")?;
            // Read first, so a bad password creates nothing.
            let password = password_stdin.then(password_from_stdin).transpose()?;
            let token = format!(
                "opt_{}",
                Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
            );
            let operator = Operator {
                id: OperatorId::generate(),
                email,
                role,
                token_sha256: token_digest(&token),
                created_at: now_ms(),
                disabled_at: None,
            };
            let store = store(&db).await?;
            store.insert_operator(&operator).await?;
            if let Some(password) = password {
                set_password(store.as_ref(), &operator, &password).await?;
            }
            println!("{}", json!({ "operatorId": operator.id, "token": token }));
            Ok(())
        }
        OperatorCommand::SetPassword { db, email } => {
            let password = password_from_stdin()?;
            let store = store(&db).await?;
            let login = store
                .operator_login(&email)
                .await?
                .with_context(|| format!("no operator with email {email}"))?;
            set_password(store.as_ref(), &login.operator, &password).await?;
            println!("{}", json!({ "operatorId": login.operator.id }));
            Ok(())
        }
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

/// Four-eyes applies to held payouts, so it needs a hold threshold at or below its own.
fn check_four_eyes(held: Option<Decimal>, four_eyes: Option<Decimal>) -> anyhow::Result<()> {
    match (held, four_eyes) {
        (_, None) => Ok(()),
        (None, Some(_)) => bail!(
            "--four-eyes-threshold needs --payout-approval-threshold (only held payouts are approved)"
        ),
        (Some(h), Some(f)) if f < h => {
            bail!("--four-eyes-threshold must be at least --payout-approval-threshold")
        }
        (Some(_), Some(_)) => Ok(()),
    }
}

async fn companies(command: CompanyCommand) -> anyhow::Result<()> {
    match command {
        CompanyCommand::Create {
            db,
            outbound,
            name,
            webhook_url,
            verify_user_url,
            webhook_authorization,
            payout_approval_threshold,
            four_eyes_threshold,
            verify_payins,
            with_sandbox_psps,
            sandbox_url,
        } => {
            check_four_eyes(payout_approval_threshold, four_eyes_threshold)?;
            if payout_approval_threshold.is_some_and(|t| t <= Decimal::ZERO) {
                bail!("--payout-approval-threshold must be positive");
            }
            let policy = outbound.policy();
            check_outbound_url(&policy, "--webhook-url", &webhook_url).await?;
            check_outbound_url(&policy, "--verify-user-url", &verify_user_url).await?;
            // Opened first: when a sandbox does not answer, nothing is created.
            let sandbox_accounts = if with_sandbox_psps {
                let base = sandbox_url
                    .or_else(|| std::env::var("OVERTURE_PUBLIC_URL").ok())
                    .unwrap_or_else(|| "http://127.0.0.1:8080".into());
                check_outbound_url(&policy, "--sandbox-url", &base).await?;
                Some(demo::open_sandbox_accounts(&base, &base).await?)
            } else {
                None
            };
            let store = store(&db).await?;
            let new = NewCompany {
                name,
                webhook_url,
                verify_user_url,
                webhook_authorization,
                payout_approval_threshold,
                verify_payins,
            };
            let company = demo::create_company(store.as_ref(), new, now_ms()).await?;
            if four_eyes_threshold.is_some() {
                store
                    .set_four_eyes_threshold(&company.id, four_eyes_threshold)
                    .await?;
            }
            if let Some(accounts) = sandbox_accounts {
                demo::store_sandbox_accounts(store.as_ref(), &company.id, accounts, now_ms())
                    .await?;
            }
            println!("{}", demo::company_secrets_json(&company));
            Ok(())
        }
        CompanyCommand::Token { db, company, ttl } => {
            let id = company_id(&company)?;
            let company = store(&db)
                .await?
                .company(&id)
                .await?
                .context("no such company")?;
            let token = issue_company_token(
                &company.id,
                &company.api_secret,
                (now_ms() / 1000) as u64,
                ttl.as_secs(),
            );
            println!("{token}");
            Ok(())
        }
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
