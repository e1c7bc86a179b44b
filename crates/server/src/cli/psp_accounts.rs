//! `overture psp-accounts add|update|list`: a company's PSP accounts. Credentials come from
//! stdin (one JSON object) or, with `--sandbox`, from an account opened at the PSP's sandbox;
//! never from the command line.

use super::{check_outbound_url, company_id, now_ms, store};
use crate::config::{DbArgs, OutboundArgs};
use crate::demo;
use crate::service::psp_accounts::{
    account_view as account_json, apply_limits as apply, parse_count_cap, parse_limit, Limit,
};
use anyhow::{bail, Context};
use clap::Subcommand;
use overture_core::routing::AccountLimits;
use overture_core::{Credentials, PspAccount, PspAccountId, PspType};
use overture_outbound::OutboundPolicy;
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum PspAccountCommand {
    /// Add a PSP account; prints {"accountId"}. Its credentials are read from stdin as one
    /// JSON object of strings (`{"login":"…","merchant_control":"…"}`), never from the command
    /// line, or opened at the PSP's sandbox with --sandbox.
    Add {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        company: String,
        /// Production mode and allow-list the URL is checked against (as for `serve`).
        #[command(flatten)]
        outbound: OutboundArgs,
        #[arg(long)]
        psp_type: String,
        /// The PSP API's base URL; must pass the outbound policy. With --sandbox it defaults
        /// to `<OVERTURE_SANDBOX_URL or http://127.0.0.1:8080>/sandbox/<psp>`.
        #[arg(long)]
        base_url: Option<String>,
        /// Open a new account at the PSP's sandbox (which must be running at the base URL) and
        /// use its credentials: nothing is read from stdin.
        #[arg(long)]
        sandbox: bool,
        /// Higher goes first when several accounts of the company could serve a payment.
        #[arg(long, default_value_t = 0)]
        priority: i32,
    },
    /// Change an account's routing settings; prints the account. Amounts are a number and a
    /// currency (`10EUR`, `50000.00 EUR`); each limit flag may be repeated, one per currency;
    /// `none` clears that limit.
    Update {
        #[command(flatten)]
        db: DbArgs,
        /// The account (`psp_…`).
        #[arg(long)]
        id: String,
        /// Smallest amount the account takes in that currency (inclusive).
        #[arg(long, value_parser = parse_limit)]
        min_amount: Vec<Limit>,
        /// Largest amount the account takes in that currency (inclusive).
        #[arg(long, value_parser = parse_limit)]
        max_amount: Vec<Limit>,
        /// Most the PSP may accept through the account in one UTC day, in that currency.
        #[arg(long, value_parser = parse_limit)]
        daily_amount_cap: Vec<Limit>,
        /// Most attempts the PSP may accept through the account in one UTC day (`none`: no cap).
        #[arg(long)]
        daily_count_cap: Option<String>,
        #[arg(long)]
        priority: Option<i32>,
        #[arg(long)]
        enabled: Option<bool>,
    },
    /// Disable an account (it leaves routing at once; `update --enabled true` enables it
    /// again); prints the account.
    Disable {
        #[command(flatten)]
        db: DbArgs,
        /// The account (`psp_…`).
        #[arg(long)]
        id: String,
    },
    /// List a company's PSP accounts (credentials are never printed).
    List {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        company: String,
    },
}

/// PSP credentials from stdin: one JSON object of name → string value (so secrets never show
/// in the process list or the shell history).
fn credentials_from_stdin() -> anyhow::Result<std::collections::BTreeMap<String, SecretString>> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .context("reading the credentials from stdin")?;
    let values: std::collections::BTreeMap<String, String> = serde_json::from_str(&text)
        .context("stdin must be one JSON object of credential name to string value")?;
    Ok(values
        .into_iter()
        .map(|(k, v)| (k, SecretString::from(v)))
        .collect())
}

/// Runs a `psp-accounts` command.
pub async fn run(command: PspAccountCommand) -> anyhow::Result<()> {
    match command {
        PspAccountCommand::Add {
            db,
            outbound,
            company,
            psp_type,
            base_url,
            sandbox,
            priority,
        } => {
            let company = company_id(&company)?;
            let registry =
                overture_connectors::Registry::builtin(overture_connectors::http::PspHttp::new(
                    Duration::from_secs(30),
                    OutboundPolicy::default(),
                ));
            let connector = registry
                .get(&psp_type)
                .with_context(|| format!("unknown --psp-type {psp_type}"))?;
            let psp = connector.capabilities().psp_type;
            let base_url = match (base_url, sandbox) {
                (Some(url), _) => url,
                (None, true) => {
                    let base = std::env::var("OVERTURE_SANDBOX_URL")
                        .unwrap_or_else(|_| "http://127.0.0.1:8080".into());
                    format!(
                        "{}/sandbox/{}",
                        base.trim_end_matches('/'),
                        psp.to_ascii_lowercase()
                    )
                }
                (None, false) => bail!("--base-url is required (or --sandbox)"),
            };
            check_outbound_url(&outbound.policy(), "--base-url", &base_url).await?;
            let creds = if sandbox {
                demo::open_sandbox_account(psp, &base_url).await?.0
            } else {
                credentials_from_stdin()?
            };
            let creds = Credentials(creds);
            if let Err(e) = connector.validate_credentials(&creds) {
                bail!("credential {:?}: {}", e.field, e.message);
            }
            let store = store(&db).await?;
            store.company(&company).await?.context("no such company")?;
            let account = PspAccount {
                id: PspAccountId::generate(),
                company_id: company,
                psp_type: PspType(psp_type),
                base_url,
                credentials: creds,
                enabled: true,
                priority,
                limits: AccountLimits::default(),
                created_at: now_ms(),
                deleted_at: None,
            };
            store.insert_psp_account(&account).await?;
            println!("{}", json!({ "accountId": account.id }));
            Ok(())
        }
        PspAccountCommand::Update {
            db,
            id,
            min_amount,
            max_amount,
            daily_amount_cap,
            daily_count_cap,
            priority,
            enabled,
        } => {
            let id = PspAccountId::parse(&id).context("--id must be a PSP account id (psp_…)")?;
            let store = store(&db).await?;
            let mut account = store
                .psp_account(&id)
                .await?
                .context("no such PSP account")?;
            apply(&mut account.limits.min_amount, min_amount);
            apply(&mut account.limits.max_amount, max_amount);
            apply(&mut account.limits.daily_amount_cap, daily_amount_cap);
            if let Some(cap) = daily_count_cap {
                account.limits.daily_count_cap =
                    parse_count_cap(&cap).map_err(|e| anyhow::anyhow!("--daily-count-cap: {e}"))?;
            }
            account.priority = priority.unwrap_or(account.priority);
            account.enabled = enabled.unwrap_or(account.enabled);
            store.update_psp_account(&account).await?;
            println!("{}", account_json(&account));
            Ok(())
        }
        PspAccountCommand::Disable { db, id } => {
            let id = PspAccountId::parse(&id).context("--id must be a PSP account id (psp_…)")?;
            let store = store(&db).await?;
            let mut account = store
                .psp_account(&id)
                .await?
                .filter(|a| a.deleted_at.is_none())
                .context("no such PSP account")?;
            account.enabled = false;
            store.update_psp_account(&account).await?;
            println!("{}", account_json(&account));
            Ok(())
        }
        PspAccountCommand::List { db, company } => {
            let accounts = store(&db)
                .await?
                .psp_accounts(&company_id(&company)?)
                .await?;
            let rows: Vec<_> = accounts.iter().map(account_json).collect();
            println!("{}", json!({ "pspAccounts": rows }));
            Ok(())
        }
    }
}
