//! `GET /backoffice/routing`: each company's active routing rules (summarised and as the
//! stored document), the versions stored (each with its diff to the one before,
//! `/backoffice/routing/{company}/versions/{n}`), a dry-run form (any role: the evaluate answer
//! for a Cashier body, storing nothing), and each PSP account's health (this node's circuit
//! breaker), limits and usage today against its caps. Admins edit the rules as JSON (refused
//! whole, each problem named by its path; the active version stays) and roll back to an older
//! version (stored again as a new one). Every change is audited in its own DB transaction.

use crate::backoffice::account_health::health_row;
use crate::backoffice::error::PageError;
use crate::backoffice::format::when;
use crate::backoffice::lookup;
use crate::backoffice::session::Signed;
use crate::backoffice::views::*;
use crate::backoffice::Backoffice;
use axum::extract::State;
use axum::response::Html;
use overture_core::routing::{parse_rules, Action, Condition, RulesContext};
use overture_core::{CompanyId, PspAccountId};

struct Stored;
impl RulesContext for Stored {
    fn psp_known(&self, _: &str) -> bool {
        true
    }
    fn account_known(&self, _: &PspAccountId) -> bool {
        true
    }
}

fn when_text(c: &Condition) -> String {
    let mut parts = Vec::new();
    if let Some(t) = c.txn_type {
        parts.push(t.as_str().to_owned());
    }
    let list =
        |name: &str, v: &[String]| (!v.is_empty()).then(|| format!("{name} {}", v.join("/")));
    let currencies: Vec<String> = c.currencies.iter().map(|c| c.code().to_owned()).collect();
    parts.extend(list("PSP", &c.psp_types));
    parts.extend(list("currency", &currencies));
    parts.extend(list("country", &c.countries));
    parts.extend(list("brand", &c.brand_ids));
    match (c.amount_min, c.amount_max) {
        (Some(min), Some(max)) => parts.push(format!("amount ≥ {min} and < {max}")),
        (Some(min), None) => parts.push(format!("amount ≥ {min}")),
        (None, Some(max)) => parts.push(format!("amount < {max}")),
        (None, None) => {}
    }
    parts.extend(
        c.metadata
            .iter()
            .map(|(k, v)| format!("metadata {k} = {v}")),
    );
    if parts.is_empty() {
        "everything".into()
    } else {
        parts.join("; ")
    }
}

fn then_text(a: &Action) -> String {
    match a {
        Action::Block(reason) => format!("block: {reason}"),
        Action::Route(r) => {
            let route: Vec<String> = r
                .route
                .iter()
                .map(|e| match e.weight {
                    Some(w) => format!("{} ({w})", e.account),
                    None => e.account.to_string(),
                })
                .collect();
            let mut text = format!(
                "{} {}",
                if r.weighted() { "split" } else { "route" },
                route.join(", ")
            );
            if !r.fallback.is_empty() {
                let f: Vec<String> = r.fallback.iter().map(ToString::to_string).collect();
                text.push_str(&format!("; fallback {}", f.join(", ")));
            }
            text.push_str(&format!("; at most {} attempts", r.max_attempts));
            if r.cascade_payouts {
                text.push_str("; payouts cascade");
            }
            if r.hold_for_approval {
                text.push_str("; payouts held for approval");
            }
            text
        }
    }
}

/// What a form just did to one company's block: a refused document, a dry-run answer.
#[derive(Default)]
pub struct Focus {
    pub company: Option<CompanyId>,
    pub errors: Vec<String>,
    pub draft: Option<String>,
    pub dry_run_body: Option<String>,
    pub decision: Option<DecisionView>,
    pub notice: Option<String>,
}

/// The body the dry-run form starts with.
const SAMPLE_BODY: &str = r#"{"pspType": "PAYMENTSOFT", "type": "PAYOUT", "baseamount": 100.00, "currency": "EUR",
 "userId": "user-1", "email": "player@example.com", "country": "DE"}"#;

/// A stored document, pretty-printed for reading and diffs.
pub fn pretty(document: &str) -> String {
    serde_json::from_str::<serde_json::Value>(document)
        .and_then(|d| serde_json::to_string_pretty(&d))
        .unwrap_or_else(|_| document.to_owned())
}

/// `?saved=N`: the version an edit or roll-back just activated.
#[derive(serde::Deserialize, Default)]
pub struct RoutingQuery {
    #[serde(default)]
    saved: Option<i64>,
}

/// `GET /backoffice/routing`.
pub async fn page(
    State(bo): State<Backoffice>,
    signed: Signed,
    axum::extract::Query(q): axum::extract::Query<RoutingQuery>,
) -> Result<Html<String>, PageError> {
    let focus = Focus {
        notice: q
            .saved
            .map(|v| format!("Version {v} is stored and active.")),
        ..Focus::default()
    };
    render_page(&bo, &signed, focus).await
}

/// The routing page, with `focus` applied to its company's block.
pub async fn render_page(
    bo: &Backoffice,
    signed: &Signed,
    mut focus: Focus,
) -> Result<Html<String>, PageError> {
    let app = &bo.app;
    let mut companies: Vec<_> = lookup::companies(app).await?.into_values().collect();
    // The company a form just acted on comes first, so its errors or answer are in view.
    companies.sort_by_key(|c| (focus.company.as_ref() != Some(&c.id), c.name.clone()));
    let mut blocks = Vec::with_capacity(companies.len());
    for c in companies {
        let versions = app.store.routing_rule_versions(&c.id).await?;
        let (active, rules, document) = match versions.first() {
            None => (
                "No rules: default routing.".to_owned(),
                Vec::new(),
                String::new(),
            ),
            Some(v) => {
                let set = parse_rules(&v.document, v.version, &Stored).unwrap_or_default();
                let rules = set
                    .rules
                    .iter()
                    .enumerate()
                    .map(|(i, r)| RuleRow {
                        n: i + 1,
                        name: r.name.clone(),
                        when: when_text(&r.when),
                        then: then_text(&r.then),
                    })
                    .collect();
                let active = format!(
                    "Version {}, stored {} by {}.",
                    v.version,
                    when(v.created_at),
                    v.created_by
                );
                (active, rules, pretty(&v.document))
            }
        };
        let mut accounts = Vec::new();
        for a in app.store.psp_accounts(&c.id).await? {
            accounts.push(health_row(app, &a).await?);
        }
        let focused = focus.company.as_ref() == Some(&c.id);
        let empty_doc = || "{\n  \"rules\": []\n}".to_owned();
        blocks.push(RoutingBlock {
            id: c.id.to_string(),
            name: c.name.clone(),
            active,
            rules,
            draft: match focused.then(|| focus.draft.take()).flatten() {
                Some(d) => d,
                None if document.is_empty() => empty_doc(),
                None => document.clone(),
            },
            document,
            errors: if focused {
                std::mem::take(&mut focus.errors)
            } else {
                Vec::new()
            },
            dry_run_body: focused
                .then(|| focus.dry_run_body.take())
                .flatten()
                .unwrap_or_else(|| SAMPLE_BODY.to_owned()),
            decision: if focused { focus.decision.take() } else { None },
            versions: versions
                .iter()
                .map(|v| VersionRow {
                    version: v.version,
                    stored: when(v.created_at),
                    by: v.created_by.clone(),
                })
                .collect(),
            accounts,
        });
    }
    let mut layout = Layout::new(signed, "routing", "Routing");
    layout.notice = focus.notice;
    render(&RoutingPage {
        layout,
        companies: blocks,
    })
}
