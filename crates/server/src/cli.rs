//! The `overture` command line: `serve`, `migrate`, `sandbox`, `companies`, `psp-accounts`,
//! `operators`. Admin commands print one JSON document on stdout; logs go to stderr.

use crate::api::auth::{issue_company_token, token_digest};
use crate::backoffice;
use crate::config::{parse_duration, DbArgs, SandboxArgs, ServeArgs};
use crate::demo::{self, NewCompany};
use crate::service::audit::{self, Channel};
use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use overture_core::backoffice::AuditAction;
use overture_core::store::Store;
use overture_core::*;
use rand::distributions::{Alphanumeric, DistString};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::json;
use std::net::SocketAddr;
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
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// Manage merchant companies.
    #[command(subcommand)]
    Companies(CompanyCommand),
    /// Manage PSP accounts.
    #[command(subcommand, name = "psp-accounts")]
    PspAccounts(PspAccountCommand),
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
        #[arg(long)]
        name: String,
        #[arg(long)]
        webhook_url: String,
        #[arg(long)]
        verify_user_url: String,
        /// Sent as `Authorization` on every webhook.
        #[arg(long)]
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
        /// Add an account for every built-in PSP sandbox.
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
pub enum PspAccountCommand {
    /// Add a PSP account; credentials as name=value pairs.
    Add {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        company: String,
        #[arg(long)]
        psp_type: String,
        #[arg(long)]
        base_url: String,
        /// `name=value`, repeatable (see `GET /v1/api/psps` for each PSP's names).
        #[arg(long = "credential")]
        credentials: Vec<String>,
        #[arg(long, default_value_t = 0)]
        priority: i32,
    },
    /// List a company's PSP accounts (credentials are never printed).
    List {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        company: String,
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

fn now_ms() -> i64 {
    SystemClock.now_ms()
}

fn company_id(s: &str) -> anyhow::Result<CompanyId> {
    CompanyId::parse(s).with_context(|| format!("{s:?} is not a company id (cmp_…)"))
}

async fn store(db: &DbArgs) -> anyhow::Result<Box<dyn Store>> {
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
            sandbox,
        } => run_sandbox(listen, public_url, sandbox).await,
        Command::Companies(c) => companies(c).await,
        Command::Psps => {
            let registry = overture_connectors::Registry::builtin(
                overture_connectors::http::PspHttp::new(Duration::from_secs(30)),
            );
            print!(
                "{}",
                crate::api::psps::capability_markdown(&registry.capabilities())
            );
            Ok(())
        }
        Command::PspAccounts(c) => psp_accounts(c).await,
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

/// Hashes and stores a password, and audits it (channel cli).
async fn set_password(
    store: &dyn Store,
    operator: &Operator,
    password: &str,
) -> anyhow::Result<()> {
    let hash = backoffice::password::hash_password(password)?;
    store.set_operator_password(&operator.id, &hash).await?;
    let entry = audit::entry(
        operator,
        AuditAction::SetPassword,
        Some(operator.id.to_string()),
        None,
        Channel::Cli.as_str().to_owned(),
        now_ms(),
    );
    store.append_audit(&entry).await?;
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
            for (flag, url) in [
                ("--webhook-url", &webhook_url),
                ("--verify-user-url", &verify_user_url),
            ] {
                url::Url::parse(url).with_context(|| format!("{flag} must be an absolute URL"))?;
            }
            if payout_approval_threshold.is_some_and(|t| t <= Decimal::ZERO) {
                bail!("--payout-approval-threshold must be positive");
            }
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
            if with_sandbox_psps {
                let base = sandbox_url
                    .or_else(|| std::env::var("OVERTURE_PUBLIC_URL").ok())
                    .unwrap_or_else(|| "http://127.0.0.1:8080".into());
                demo::add_sandbox_accounts(store.as_ref(), &company.id, &base, now_ms()).await?;
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

async fn psp_accounts(command: PspAccountCommand) -> anyhow::Result<()> {
    match command {
        PspAccountCommand::Add {
            db,
            company,
            psp_type,
            base_url,
            credentials,
            priority,
        } => {
            let company = company_id(&company)?;
            let registry = overture_connectors::Registry::builtin(
                overture_connectors::http::PspHttp::new(Duration::from_secs(30)),
            );
            let connector = registry
                .get(&psp_type)
                .with_context(|| format!("unknown --psp-type {psp_type}"))?;
            let mut creds = std::collections::BTreeMap::new();
            for pair in credentials {
                let (k, v) = pair
                    .split_once('=')
                    .with_context(|| format!("--credential {pair:?} is not name=value"))?;
                creds.insert(k.to_owned(), SecretString::from(v.to_owned()));
            }
            for needed in connector.capabilities().credential_fields {
                if !creds.contains_key(*needed) {
                    bail!("{psp_type} needs --credential {needed}=…");
                }
            }
            url::Url::parse(&base_url).context("--base-url must be an absolute URL")?;
            let store = store(&db).await?;
            store.company(&company).await?.context("no such company")?;
            let account = PspAccount {
                id: PspAccountId::generate(),
                company_id: company,
                psp_type: PspType(psp_type),
                base_url,
                credentials: Credentials(creds),
                enabled: true,
                priority,
                created_at: now_ms(),
            };
            store.insert_psp_account(&account).await?;
            println!("{}", json!({ "pspAccountId": account.id }));
            Ok(())
        }
        PspAccountCommand::List { db, company } => {
            let accounts = store(&db)
                .await?
                .psp_accounts(&company_id(&company)?)
                .await?;
            let rows: Vec<_> = accounts
                .iter()
                .map(|a| {
                    json!({
                        "pspAccountId": a.id, "pspType": a.psp_type, "baseUrl": a.base_url,
                        "enabled": a.enabled, "priority": a.priority,
                        "credentialNames": a.credentials.0.keys().collect::<Vec<_>>(),
                    })
                })
                .collect();
            println!("{}", json!({ "pspAccounts": rows }));
            Ok(())
        }
    }
}

async fn run_sandbox(
    listen: SocketAddr,
    public_url: Option<String>,
    sandbox: SandboxArgs,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let public_url = public_url.unwrap_or_else(|| url.clone());
    let router = overture_sandbox::router(&public_url, sandbox.sim_config())
        .merge(demo::DemoMp::default().router());
    println!("{}", json!({ "listening": url }));
    axum::serve(listener, router).await?;
    Ok(())
}
