//! `overture routing set|show`: a company's routing rules, for the box's administrator. The
//! same checks as `PUT /v1/api/routing/rules`: a document with problems is refused whole, each
//! problem named by its path, and the active version stays.

use super::{company_id, now_ms, store};
use crate::config::DbArgs;
use crate::service::routing::validate_document;
use anyhow::{bail, Context};
use clap::Subcommand;
use overture_outbound::OutboundPolicy;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum RoutingCommand {
    /// Check a rules document and store it as the company's next version, active at once
    /// (every node within 2 s); prints {"version"}.
    Set {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        company: String,
        /// The document (`{"rules":[…]}`); `-` reads stdin.
        #[arg(long)]
        file: PathBuf,
    },
    /// Print the active rules document and its version.
    Show {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        company: String,
    },
}

/// Runs a `routing` command.
pub async fn run(command: RoutingCommand) -> anyhow::Result<()> {
    match command {
        RoutingCommand::Set { db, company, file } => {
            let company = company_id(&company)?;
            let text = if file.as_os_str() == "-" {
                let mut t = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)?;
                t
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            crate::api::strict_json::parse_object(text.as_bytes())
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let store = store(&db).await?;
            store.company(&company).await?.context("no such company")?;
            let accounts = store.psp_accounts(&company).await?;
            let registry =
                overture_connectors::Registry::builtin(overture_connectors::http::PspHttp::new(
                    Duration::from_secs(1),
                    OutboundPolicy::default(),
                ));
            if let Err(crate::service::error::ServiceError::InvalidDocument(problems)) =
                validate_document(&registry, &accounts, &text)
            {
                let lines: Vec<String> = problems
                    .iter()
                    .map(|(p, m)| format!("  {p}: {m}"))
                    .collect();
                bail!(
                    "the rules document was refused; the active version stays:\n{}",
                    lines.join("\n")
                );
            }
            let version = store
                .put_routing_rules(&company, &text, now_ms(), "cli", None)
                .await?;
            println!("{}", json!({ "version": version }));
            Ok(())
        }
        RoutingCommand::Show { db, company } => {
            let company = company_id(&company)?;
            let stored = store(&db).await?.routing_rules(&company).await?;
            match stored {
                None => println!("{}", json!({ "version": 0, "rules": [] })),
                Some(s) => {
                    let doc: serde_json::Value = serde_json::from_str(&s.document)?;
                    println!(
                        "{}",
                        json!({ "version": s.version, "rules": doc["rules"], "createdBy": s.created_by })
                    );
                }
            }
            Ok(())
        }
    }
}
