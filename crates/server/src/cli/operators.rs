//! `overture operators create|set-password|reset-password|list|disable`: back-office
//! operators. Passwords come from standard input only, never from the command line.

use super::{now_ms, store};
use crate::api::auth::token_digest;
use crate::backoffice;
use crate::config::DbArgs;
use crate::service::audit::{self, Channel};
use crate::service::views::rfc3339;
use anyhow::{bail, Context};
use clap::Subcommand;
use overture_core::backoffice::AuditAction;
use overture_core::store::{Store, StoreError};
use overture_core::*;
use rand::distributions::{Alphanumeric, DistString};
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum OperatorCommand {
    /// Create an operator; prints {"operatorId","token"} (the bearer token is shown once).
    /// An email another operator has (in any letter case) is refused.
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
    /// Reset a password from standard input and end every session of the operator. Prints
    /// {"operatorId","sessionsEnded"}.
    ResetPassword {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
    },
    /// List every operator (disabled ones too); prints {"operators":[…]} (no token, no hash).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Disable an operator: no login, no bearer token, and its sessions end at once. Prints
    /// {"operatorId","disabledAt"}.
    Disable {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
    },
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

/// The operator with `email` (letter case ignored), disabled ones included.
async fn by_email(store: &dyn Store, email: &str) -> anyhow::Result<Option<Operator>> {
    let wanted = email.trim().to_lowercase();
    Ok(store
        .operators()
        .await?
        .into_iter()
        .find(|o| o.email.to_lowercase() == wanted))
}

/// A live (not disabled) operator with `email`, or an error saying why not.
async fn live_by_email(store: &dyn Store, email: &str) -> anyhow::Result<Operator> {
    match by_email(store, email).await? {
        Some(o) if o.disabled_at.is_some() => bail!("operator {email} is disabled"),
        Some(o) => Ok(o),
        None => bail!("no operator with email {email}"),
    }
}

fn duplicate(email: &str, existing: &OperatorId) -> anyhow::Error {
    anyhow::anyhow!(
        "an operator with email {email} already exists ({existing}); emails are unique, whatever their letter case"
    )
}

/// Runs an `operators` command.
pub async fn run(command: OperatorCommand) -> anyhow::Result<()> {
    match command {
        OperatorCommand::Create {
            db,
            email,
            role,
            password_stdin,
        } => {
            let role = Role::parse(&role).context("--role must be viewer, approver or admin")?;
            let email = email.trim().to_owned();
            if email.is_empty() || !email.contains('@') {
                bail!("--email must be an email address");
            }
            // Read first, so a bad password creates nothing.
            let password = password_stdin.then(password_from_stdin).transpose()?;
            let store = store(&db).await?;
            if let Some(existing) = by_email(store.as_ref(), &email).await? {
                return Err(duplicate(&email, &existing.id));
            }
            let token = format!(
                "opt_{}",
                Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
            );
            let operator = Operator {
                id: OperatorId::generate(),
                email: email.clone(),
                role,
                token_sha256: token_digest(&token),
                created_at: now_ms(),
                disabled_at: None,
            };
            match store.insert_operator(&operator).await {
                Ok(()) => {}
                // Created by someone else since the check above.
                Err(StoreError::Duplicate(_)) => {
                    let existing = by_email(store.as_ref(), &email).await?;
                    let id = existing.map(|o| o.id).unwrap_or(operator.id);
                    return Err(duplicate(&email, &id));
                }
                Err(e) => return Err(e.into()),
            }
            if let Some(password) = password {
                set_password(store.as_ref(), &operator, &password).await?;
            }
            println!("{}", json!({ "operatorId": operator.id, "token": token }));
            Ok(())
        }
        OperatorCommand::SetPassword { db, email } => {
            let password = password_from_stdin()?;
            let store = store(&db).await?;
            let operator = live_by_email(store.as_ref(), &email).await?;
            set_password(store.as_ref(), &operator, &password).await?;
            println!("{}", json!({ "operatorId": operator.id }));
            Ok(())
        }
        OperatorCommand::ResetPassword { db, email } => {
            let password = password_from_stdin()?;
            let store = store(&db).await?;
            let operator = live_by_email(store.as_ref(), &email).await?;
            set_password(store.as_ref(), &operator, &password).await?;
            let ended = store.delete_operator_sessions(&operator.id).await?;
            println!(
                "{}",
                json!({ "operatorId": operator.id, "sessionsEnded": ended })
            );
            Ok(())
        }
        OperatorCommand::List { db } => {
            let operators = store(&db).await?.operators().await?;
            let rows: Vec<_> = operators
                .iter()
                .map(|o| {
                    json!({
                        "operatorId": o.id, "email": o.email, "role": o.role.as_str(),
                        "disabled": o.disabled_at.is_some(),
                        "createdAt": rfc3339(o.created_at),
                        "disabledAt": o.disabled_at.map(rfc3339),
                    })
                })
                .collect();
            println!("{}", json!({ "operators": rows }));
            Ok(())
        }
        OperatorCommand::Disable { db, email } => {
            let store = store(&db).await?;
            let operator = live_by_email(store.as_ref(), &email).await?;
            let at = now_ms();
            let record = audit::operator_action(
                &operator,
                Channel::Cli,
                AuditAction::DisableOperator,
                Some(operator.id.to_string()),
                None,
                Some("disabled by the administrator"),
                at,
            );
            store.disable_operator(&operator.id, at, &record).await?;
            println!(
                "{}",
                json!({ "operatorId": operator.id, "disabledAt": rfc3339(at) })
            );
            Ok(())
        }
    }
}
