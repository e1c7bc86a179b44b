//! Changing routing rules from the back office (admins): a new document, or a roll-back to a
//! stored version (stored again as the newest, so history only grows); a dry run for any role;
//! and one version's page with its diff to the version before. The same checks as the API:
//! a document is refused whole, with every problem's path, and the active version stays.

use crate::api::{cashier_in, strict_json};
use crate::backoffice::error::PageError;
use crate::backoffice::format::when;
use crate::backoffice::lookup::{self, company_name};
use crate::backoffice::routing_page::{pretty, render_page, Focus};
use crate::backoffice::session::{Posted, Signed};
use crate::backoffice::views::{
    render, CandidateRow, DecisionView, DiffLine, Layout, RoutingVersionPage,
};
use crate::backoffice::Backoffice;
use crate::service::audit::{self, Channel};
use crate::service::error::ServiceError;
use crate::service::{create, routing};
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use overture_core::backoffice::AuditAction;
use overture_core::routing::{Decision, DecisionAction};
use overture_core::{CompanyId, Role, TransactionId};
use serde::Deserialize;
use similar::{ChangeTag, TextDiff};

#[derive(Deserialize)]
pub struct RulesForm {
    #[serde(default)]
    document: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
pub struct DryRunForm {
    #[serde(default)]
    body: String,
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

fn company_of(id: &str) -> Result<CompanyId, PageError> {
    CompanyId::parse(id).ok_or(PageError::NotFound)
}

/// Stores `document` for `company` with the operator's audit record, or shows why not.
async fn store(
    bo: &Backoffice,
    signed: &Signed,
    company: CompanyId,
    document: String,
    reason: String,
    detail: &str,
) -> Result<Response, PageError> {
    let app = &bo.app;
    let refused = |errors: Vec<String>, draft: String| Focus {
        company: Some(company.clone()),
        errors,
        draft: Some(draft),
        ..Focus::default()
    };
    if let Err(e) = strict_json::parse_object(document.as_bytes()) {
        let focus = refused(vec![format!("body: {e}")], document);
        return Ok(render_page(bo, signed, focus).await?.into_response());
    }
    app.store
        .company(&company)
        .await?
        .ok_or(PageError::NotFound)?;
    let record = audit::operator_action(
        &signed.operator,
        Channel::Web,
        AuditAction::SetRoutingRules,
        Some(company.to_string()),
        Some(reason),
        Some(detail),
        app.now(),
    );
    let by = format!("operator:{}", signed.operator.id);
    match routing::store_rules(app, &company, &document, &by, Some(&record)).await {
        Ok(version) => Ok(Redirect::to(&format!(
            "/backoffice/routing?saved={version}#routing-{company}"
        ))
        .into_response()),
        Err(ServiceError::InvalidDocument(problems)) => {
            let errors = problems
                .into_iter()
                .map(|(p, m)| format!("{p}: {m}"))
                .collect();
            Ok(render_page(bo, signed, refused(errors, document))
                .await?
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /backoffice/routing/{company}/rules` (admins): `document`, `reason`.
pub async fn save(
    State(bo): State<Backoffice>,
    Path(company): Path<String>,
    Posted { signed, form }: Posted<RulesForm>,
) -> Result<Response, PageError> {
    signed.require(&[Role::Admin], "change routing rules")?;
    let company = company_of(&company)?;
    let reason = lookup::required_reason(&form.reason)?;
    store(
        &bo,
        &signed,
        company,
        form.document,
        reason,
        "rules document stored as a new version",
    )
    .await
}

/// `POST /backoffice/routing/{company}/versions/{version}/rollback` (admins): `reason`.
pub async fn rollback(
    State(bo): State<Backoffice>,
    Path((company, version)): Path<(String, i64)>,
    Posted { signed, form }: Posted<ReasonForm>,
) -> Result<Response, PageError> {
    signed.require(&[Role::Admin], "roll routing rules back")?;
    let company = company_of(&company)?;
    let reason = lookup::required_reason(&form.reason)?;
    let versions = bo.app.store.routing_rule_versions(&company).await?;
    let old = versions
        .iter()
        .find(|v| v.version == version)
        .ok_or(PageError::NotFound)?;
    let detail = format!("roll-back to version {version}");
    store(&bo, &signed, company, old.document.clone(), reason, &detail).await
}

fn decision_view(d: &Decision) -> DecisionView {
    let summary = match (d.action, &d.rule) {
        (DecisionAction::Block, Some(rule)) => format!(
            "blocked by rule \"{rule}\": {}",
            d.block_reason.as_deref().unwrap_or("")
        ),
        (_, Some(rule)) => format!(
            "rule \"{rule}\" (version {})",
            d.version.unwrap_or_default()
        ),
        (_, None) => "default routing: the requested PSP's enabled accounts by priority".into(),
    };
    DecisionView {
        summary,
        hold: d.hold_for_approval,
        chosen: d
            .chosen
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "none".into()),
        candidates: d
            .candidates
            .iter()
            .map(|c| CandidateRow {
                account: c.account.to_string(),
                psp: c.psp_type.clone(),
                eligible: c.eligible,
                chosen: d.chosen.as_ref() == Some(&c.account),
                reason: c.reason.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

/// `POST /backoffice/routing/{company}/evaluate` (any role): `body`, a Cashier request. Shows
/// the routing decision; stores and calls nothing.
pub async fn dry_run(
    State(bo): State<Backoffice>,
    Path(company): Path<String>,
    Posted { signed, form }: Posted<DryRunForm>,
) -> Result<Html<String>, PageError> {
    let app = &bo.app;
    let id = company_of(&company)?;
    let company = app.store.company(&id).await?.ok_or(PageError::NotFound)?;
    let mut focus = Focus {
        company: Some(id),
        dry_run_body: Some(form.body.clone()),
        ..Focus::default()
    };
    let parsed = strict_json::parse_object(form.body.as_bytes())
        .map_err(crate::api::error::ApiError::from)
        .and_then(|body| cashier_in::parse(&body.fields, |p| app.registry.get(p).is_some()));
    match parsed {
        Err(e) => focus.errors = problems(&e),
        Ok(input) => {
            let request = create::payment_request(&input, None, &TransactionId::generate());
            match routing::evaluate(app, &company, &input, &request).await {
                Ok(d) => focus.decision = Some(decision_view(&d)),
                Err(e) => focus.errors = problems(&crate::api::error::ApiError::from(e)),
            }
        }
    }
    render_page(&bo, &signed, focus).await
}

/// What an API refusal says, field by field.
fn problems(e: &crate::api::error::ApiError) -> Vec<String> {
    let body = e.envelope();
    let mut out = vec![body["message"].as_str().unwrap_or("refused").to_owned()];
    if let Some(list) = body["errors"].as_array() {
        out.extend(list.iter().map(|p| {
            format!(
                "{}: {}",
                p["field"].as_str().unwrap_or(""),
                p["message"].as_str().unwrap_or("")
            )
        }));
    }
    out
}

/// `GET /backoffice/routing/{company}/versions/{version}`: the version and its diff to the one
/// before.
pub async fn version(
    State(bo): State<Backoffice>,
    signed: Signed,
    Path((company, version)): Path<(String, i64)>,
) -> Result<Html<String>, PageError> {
    let app = &bo.app;
    let id = company_of(&company)?;
    let versions = app.store.routing_rule_versions(&id).await?;
    let this = versions
        .iter()
        .find(|v| v.version == version)
        .ok_or(PageError::NotFound)?;
    let previous = versions
        .iter()
        .filter(|v| v.version < version)
        .max_by_key(|v| v.version);
    let (old, new) = (
        previous.map(|p| pretty(&p.document)).unwrap_or_default(),
        pretty(&this.document),
    );
    let diff = TextDiff::from_lines(&old, &new)
        .iter_all_changes()
        .map(|c| DiffLine {
            class: match c.tag() {
                ChangeTag::Insert => "add",
                ChangeTag::Delete => "del",
                ChangeTag::Equal => "same",
            },
            text: c.to_string_lossy().trim_end_matches('\n').to_owned(),
        })
        .collect();
    let companies = lookup::companies(app).await?;
    render(&RoutingVersionPage {
        layout: Layout::new(
            &signed,
            "routing",
            format!("Routing rules, version {version}"),
        ),
        company_id: id.to_string(),
        company: company_name(&companies, &id),
        version,
        stored: format!("{} by {}", when(this.created_at), this.created_by),
        active: versions.first().map(|v| v.version) == Some(version),
        diff,
        previous: previous.map(|p| p.version),
    })
}
