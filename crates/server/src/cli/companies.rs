//! `overture companies create|list|show|update|rotate-secret|token`: merchant companies for
//! the box's administrator. `update` and `rotate-secret` share the merchant API's code
//! (`service::company`); secrets are printed only by `create`, `rotate-secret` and
//! `show --reveal-secrets`, and read only from the environment, a file or stdin.

use super::{check_outbound_url, company_id, now_ms, store};
use crate::api::auth::issue_company_token;
use crate::config::{parse_duration, DbArgs, OutboundArgs};
use crate::demo::{self, NewCompany};
use crate::service::audit::{self, Channel};
use crate::service::company::{self, CompanyPatch};
use crate::service::error::ServiceError;
use crate::service::psp_accounts::{parse_limit, Limit};
use anyhow::{bail, Context};
use clap::Subcommand;
use overture_core::backoffice::AuditAction;
use overture_core::{Money, SecretKind};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// List every company (no secrets); prints {"companies":[…]}.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print a company's settings as `GET /v1/api/company` shows them; with
    /// --reveal-secrets also its API and webhook secrets, the webhook `Authorization` value and
    /// any rotated-out secret still in its grace period.
    Show {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        company: String,
        #[arg(long)]
        reveal_secrets: bool,
    },
    /// Change a company's settings (only the flags given); checked whole before anything is
    /// stored, as `PATCH /v1/api/company`. Prints the settings.
    Update {
        #[command(flatten)]
        db: DbArgs,
        /// Production mode and allow-list the URLs are checked against (as for `serve`).
        #[command(flatten)]
        outbound: OutboundArgs,
        #[arg(long)]
        company: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        webhook_url: Option<String>,
        #[arg(long)]
        verify_user_url: Option<String>,
        #[arg(long)]
        verify_payins: Option<bool>,
        /// The fallback hold threshold (major units, any currency), or `none`.
        #[arg(long)]
        payout_approval_threshold: Option<String>,
        /// A currency's own hold threshold (`1000EUR`, `900000CLP`; `noneEUR` removes it);
        /// repeat per currency.
        #[arg(long, value_parser = parse_limit)]
        payout_approval_threshold_for: Vec<Limit>,
        /// The fallback four-eyes threshold, or `none`.
        #[arg(long)]
        four_eyes_threshold: Option<String>,
        /// A currency's own four-eyes threshold (`5000EUR`; `noneEUR` removes it).
        #[arg(long, value_parser = parse_limit)]
        four_eyes_threshold_for: Vec<Limit>,
        /// Read the webhook `Authorization` value from this file (`-`: standard input), never
        /// from the command line.
        #[arg(long)]
        webhook_authorization_file: Option<PathBuf>,
        /// Stop sending an `Authorization` value with webhooks.
        #[arg(long, conflicts_with = "webhook_authorization_file")]
        clear_webhook_authorization: bool,
    },
    /// Replace the API secret (`--which api`: company JWTs and x-user-tokens) or the webhook
    /// secret (`--which webhook`); prints the new one once. The old one keeps working for
    /// --grace (verifying tokens; signing beside the new one).
    RotateSecret {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        company: String,
        /// `api` or `webhook`.
        #[arg(long)]
        which: String,
        #[arg(long, env = "OVERTURE_SECRET_GRACE", value_parser = parse_duration, default_value = "24h")]
        grace: Duration,
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

/// Runs a `companies` command.
pub async fn run(command: CompanyCommand) -> anyhow::Result<()> {
    match command {
        CompanyCommand::List { db } => list(db).await,
        CompanyCommand::Show {
            db,
            company,
            reveal_secrets,
        } => show(db, &company, reveal_secrets).await,
        CompanyCommand::Update {
            db,
            outbound,
            company,
            name,
            webhook_url,
            verify_user_url,
            verify_payins,
            payout_approval_threshold,
            payout_approval_threshold_for,
            four_eyes_threshold,
            four_eyes_threshold_for,
            webhook_authorization_file,
            clear_webhook_authorization,
        } => {
            let authorization = match (webhook_authorization_file, clear_webhook_authorization) {
                (Some(file), _) => Some(Some(read_secret_file(&file)?)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let patch = CompanyPatch {
                name,
                webhook_url,
                verify_user_url,
                webhook_authorization: authorization,
                verify_payins,
                payout_approval_thresholds: per_currency(payout_approval_threshold_for),
                default_payout_approval_threshold: fallback(
                    "--payout-approval-threshold",
                    payout_approval_threshold,
                )?,
                four_eyes_thresholds: per_currency(four_eyes_threshold_for),
                default_four_eyes_threshold: fallback(
                    "--four-eyes-threshold",
                    four_eyes_threshold,
                )?,
            };
            update(db, outbound, &company, patch).await
        }
        CompanyCommand::RotateSecret {
            db,
            company,
            which,
            grace,
        } => rotate(db, &company, &which, grace).await,
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

/// Per-currency thresholds from `--…-for` values (minor units back to exact major units).
fn per_currency(limits: Vec<Limit>) -> BTreeMap<String, Option<Decimal>> {
    limits
        .into_iter()
        .map(|l| {
            let value = l
                .minor
                .and_then(|m| Money::from_minor(m, l.currency).ok())
                .map(|m| m.to_decimal());
            (l.currency.code().to_owned(), value)
        })
        .collect()
}

/// A fallback threshold flag: a positive decimal, or `none` to clear it.
fn fallback(flag: &str, value: Option<String>) -> anyhow::Result<Option<Option<Decimal>>> {
    match value.as_deref().map(str::trim) {
        None => Ok(None),
        Some("none") => Ok(Some(None)),
        Some(text) => match Decimal::from_str_exact(text) {
            Ok(d) if d > Decimal::ZERO => Ok(Some(Some(d))),
            _ => bail!("{flag} must be a positive amount or none"),
        },
    }
}

/// A secret from a file (`-`: standard input), without its final line break.
fn read_secret_file(path: &Path) -> anyhow::Result<SecretString> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .context("reading standard input")?;
    } else {
        text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    }
    let value = text.trim_end_matches(['\n', '\r']);
    if value.trim().is_empty() {
        bail!("the webhook Authorization value is empty (use --clear-webhook-authorization)");
    }
    Ok(SecretString::from(value.to_owned()))
}

/// A service refusal as the command line says it: each field and its problem.
fn service_error(e: ServiceError) -> anyhow::Error {
    match e {
        ServiceError::InvalidDocument(problems) => anyhow::anyhow!(
            "refused, nothing stored: {}",
            problems
                .iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        ServiceError::NotFound => anyhow::anyhow!("no such company"),
        other => anyhow::Error::new(other),
    }
}

async fn list(db: DbArgs) -> anyhow::Result<()> {
    let store = store(&db).await?;
    let mut rows = Vec::new();
    for summary in store.company_summaries().await? {
        if let Some(c) = store.company(&summary.id).await? {
            rows.push(
                company::view(store.as_ref(), &c, now_ms())
                    .await
                    .map_err(service_error)?,
            );
        }
    }
    println!("{}", json!({ "companies": rows }));
    Ok(())
}

async fn show(db: DbArgs, id: &str, reveal: bool) -> anyhow::Result<()> {
    let id = company_id(id)?;
    let store = store(&db).await?;
    let c = store.company(&id).await?.context("no such company")?;
    let now = now_ms();
    let mut view: Value = company::view(store.as_ref(), &c, now)
        .await
        .map_err(service_error)?;
    if reveal {
        let live = |r: &Option<overture_core::RetiredSecret>| {
            r.as_ref()
                .and_then(|r| r.live_at(now))
                .map(|s| s.expose_secret().to_owned())
        };
        view["apiSecret"] = json!(c.api_secret.expose_secret());
        view["webhookSecret"] = json!(c.webhook_secret.expose_secret());
        view["webhookAuthorization"] =
            json!(c.webhook_authorization.as_ref().map(|a| a.expose_secret()));
        view["previousApiSecret"] = json!(live(&c.retired.api));
        view["previousWebhookSecret"] = json!(live(&c.retired.webhook));
    }
    println!("{view}");
    Ok(())
}

async fn update(
    db: DbArgs,
    outbound: OutboundArgs,
    id: &str,
    patch: CompanyPatch,
) -> anyhow::Result<()> {
    let id = company_id(id)?;
    let store = store(&db).await?;
    let record = audit::actor_action(
        "command line",
        Channel::Cli,
        AuditAction::UpdateCompany,
        Some(id.to_string()),
        Some(&patch.audit_detail()),
        now_ms(),
    );
    let c = company::update(
        store.as_ref(),
        &outbound.policy(),
        &id,
        patch,
        Some(&record),
    )
    .await
    .map_err(service_error)?;
    println!(
        "{}",
        company::view(store.as_ref(), &c, now_ms())
            .await
            .map_err(service_error)?
    );
    Ok(())
}

async fn rotate(db: DbArgs, id: &str, which: &str, grace: Duration) -> anyhow::Result<()> {
    let id = company_id(id)?;
    let (which, key) = match which {
        "api" => (SecretKind::Api, "apiSecret"),
        "webhook" => (SecretKind::Webhook, "webhookSecret"),
        other => bail!("--which must be api or webhook, not {other:?}"),
    };
    let store = store(&db).await?;
    let rotated = company::rotate(store.as_ref(), &id, which, now_ms(), grace)
        .await
        .map_err(service_error)?;
    println!(
        "{}",
        json!({
            key: rotated.secret.expose_secret(),
            "previousValidUntil": crate::service::views::rfc3339(rotated.previous_valid_until),
        })
    );
    Ok(())
}
