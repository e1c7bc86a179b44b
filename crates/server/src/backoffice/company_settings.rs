//! `GET /backoffice/companies`: each company's settings (URLs, whether the webhook
//! `Authorization` value is set, pay-in verification, the payout approval and four-eyes
//! thresholds, per currency and the fallback); admins change them with
//! `POST /backoffice/companies/{id}` and a reason. The same checks as the merchant API
//! (`PATCH /v1/api/company`): the form is refused whole, each problem named, nothing stored;
//! an accepted change is written with its audit record in one DB transaction. Secrets (the API
//! and webhook secrets, the webhook `Authorization` value) are not shown or edited here.

use crate::backoffice::error::PageError;
use crate::backoffice::format::when;
use crate::backoffice::lookup;
use crate::backoffice::session::{Posted, Signed};
use crate::backoffice::views::{render, Layout};
use crate::backoffice::Backoffice;
use crate::service::audit::{self, Channel};
use crate::service::company::{self, parse_threshold, CompanyPatch};
use crate::service::error::ServiceError;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use overture_core::backoffice::AuditAction;
use overture_core::{Company, CompanyId, Currency, Role};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One company's settings as the page shows (and the form pre-fills) them.
pub struct SettingsBlock {
    pub id: String,
    pub name: String,
    pub webhook_url: String,
    pub verify_user_url: String,
    pub authorization_set: bool,
    pub verify_payins: bool,
    /// `EUR 5000.00, USD 6000.00`.
    pub payout_thresholds: String,
    pub default_payout_threshold: String,
    pub four_eyes_thresholds: String,
    pub default_four_eyes_threshold: String,
    pub created: String,
    /// Problems of a refused form for this company.
    pub errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "companies.html")]
pub struct CompaniesPage {
    pub layout: Layout,
    pub companies: Vec<SettingsBlock>,
}

/// The settings form. Thresholds are `CODE amount` pairs separated by commas or new lines;
/// an empty fallback removes it.
#[derive(Deserialize, Default, Clone)]
pub struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    webhook_url: String,
    #[serde(default)]
    verify_user_url: String,
    /// A checkbox: present ("on") or absent.
    #[serde(default)]
    verify_payins: Option<String>,
    #[serde(default)]
    payout_thresholds: String,
    #[serde(default)]
    default_payout_threshold: String,
    #[serde(default)]
    four_eyes_thresholds: String,
    #[serde(default)]
    default_four_eyes_threshold: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize, Default)]
pub struct SettingsQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// `EUR 5000.00, USD 6000.00` for stored thresholds.
fn pairs(map: &BTreeMap<String, Decimal>) -> String {
    map.iter()
        .map(|(code, v)| format!("{code} {}", v.normalize()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn block(c: &Company, four_eyes: Option<Decimal>, errors: Vec<String>) -> SettingsBlock {
    SettingsBlock {
        id: c.id.to_string(),
        name: c.name.clone(),
        webhook_url: c.webhook_url.clone(),
        verify_user_url: c.verify_user_url.clone(),
        authorization_set: c.webhook_authorization.is_some(),
        verify_payins: c.verify_payins,
        payout_thresholds: pairs(&c.thresholds.payout_approval),
        default_payout_threshold: c
            .payout_approval_threshold
            .map(|t| t.normalize().to_string())
            .unwrap_or_default(),
        four_eyes_thresholds: pairs(&c.thresholds.four_eyes),
        default_four_eyes_threshold: four_eyes
            .map(|t| t.normalize().to_string())
            .unwrap_or_default(),
        created: when(c.created_at),
        errors,
    }
}

/// `GET /backoffice/companies`.
pub async fn page(
    State(bo): State<Backoffice>,
    signed: Signed,
    Query(q): Query<SettingsQuery>,
) -> Result<Html<String>, PageError> {
    let notice = q
        .saved
        .as_deref()
        .and_then(CompanyId::parse)
        .map(|id| format!("Settings of {id} saved."));
    render_page(&bo, &signed, None, notice).await
}

/// The page; `refused` puts a refused form's values and problems in its company's block.
async fn render_page(
    bo: &Backoffice,
    signed: &Signed,
    refused: Option<(CompanyId, SettingsForm, Vec<String>)>,
    notice: Option<String>,
) -> Result<Html<String>, PageError> {
    let app = &bo.app;
    let mut summaries: Vec<_> = lookup::companies(app).await?.into_values().collect();
    summaries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut blocks = Vec::with_capacity(summaries.len());
    for s in summaries {
        let Some(c) = app.store.company(&s.id).await? else {
            continue;
        };
        let four_eyes = app.store.four_eyes_threshold(&c.id).await?;
        let mut b = block(&c, four_eyes, Vec::new());
        if let Some((id, form, errors)) = &refused {
            if *id == c.id {
                // What the operator typed stays in the form beside the problems.
                b.name = form.name.clone();
                b.webhook_url = form.webhook_url.clone();
                b.verify_user_url = form.verify_user_url.clone();
                b.verify_payins = form.verify_payins.is_some();
                b.payout_thresholds = form.payout_thresholds.clone();
                b.default_payout_threshold = form.default_payout_threshold.clone();
                b.four_eyes_thresholds = form.four_eyes_thresholds.clone();
                b.default_four_eyes_threshold = form.default_four_eyes_threshold.clone();
                b.errors = errors.clone();
            }
        }
        blocks.push(b);
    }
    let mut layout = Layout::new(signed, "companies", "Company settings");
    layout.notice = notice;
    render(&CompaniesPage {
        layout,
        companies: blocks,
    })
}

/// `EUR 5000, USD 6000.50` ⇒ code → amount; each problem named by its field and currency.
fn parse_pairs(
    field: &str,
    text: &str,
    problems: &mut Vec<(String, String)>,
) -> BTreeMap<String, Decimal> {
    let mut out = BTreeMap::new();
    for item in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        let mut parts = item.split(|c: char| c.is_whitespace() || c == '=');
        let code = parts.next().unwrap_or_default().to_ascii_uppercase();
        let amount = parts.filter(|p| !p.is_empty()).collect::<Vec<_>>().join("");
        let Some(currency) = Currency::from_code(&code) else {
            problems.push((
                field.into(),
                format!("{item:?}: not an ISO 4217 code and an amount"),
            ));
            continue;
        };
        match parse_threshold(&amount, currency) {
            Ok(v) if out.insert(code.clone(), v).is_some() => {
                problems.push((format!("{field}.{code}"), "given twice".into()))
            }
            Ok(_) => {}
            Err(e) => problems.push((format!("{field}.{code}"), e)),
        }
    }
    out
}

/// A fallback threshold: empty ⇒ none; otherwise positive major units.
fn parse_default(field: &str, text: &str, problems: &mut Vec<(String, String)>) -> Option<Decimal> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<Decimal>() {
        Ok(v) if v > Decimal::ZERO => Some(v),
        _ => {
            problems.push((
                field.into(),
                format!("{text:?}: a positive amount, or empty for none"),
            ));
            None
        }
    }
}

/// The patch that makes the stored company look like the form: every setting the form holds,
/// and a removal for each per-currency threshold it no longer lists.
fn patch_of(form: &SettingsForm, stored: &Company) -> Result<CompanyPatch, Vec<(String, String)>> {
    let mut problems = Vec::new();
    let payout = parse_pairs(
        "payoutApprovalThresholds",
        &form.payout_thresholds,
        &mut problems,
    );
    let four = parse_pairs(
        "fourEyesThresholds",
        &form.four_eyes_thresholds,
        &mut problems,
    );
    let default_payout = parse_default(
        "defaultPayoutApprovalThreshold",
        &form.default_payout_threshold,
        &mut problems,
    );
    let default_four = parse_default(
        "defaultFourEyesThreshold",
        &form.default_four_eyes_threshold,
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    let with_removals = |new: BTreeMap<String, Decimal>, old: &BTreeMap<String, Decimal>| {
        let mut map: BTreeMap<String, Option<Decimal>> =
            new.into_iter().map(|(k, v)| (k, Some(v))).collect();
        for code in old.keys() {
            map.entry(code.clone()).or_insert(None);
        }
        map
    };
    Ok(CompanyPatch {
        name: Some(form.name.trim().to_owned()),
        webhook_url: Some(form.webhook_url.trim().to_owned()),
        verify_user_url: Some(form.verify_user_url.trim().to_owned()),
        webhook_authorization: None,
        verify_payins: Some(form.verify_payins.is_some()),
        payout_approval_thresholds: with_removals(payout, &stored.thresholds.payout_approval),
        default_payout_approval_threshold: Some(default_payout),
        four_eyes_thresholds: with_removals(four, &stored.thresholds.four_eyes),
        default_four_eyes_threshold: Some(default_four),
    })
}

/// `POST /backoffice/companies/{id}` (admins).
pub async fn save(
    State(bo): State<Backoffice>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted<SettingsForm>,
) -> Result<Response, PageError> {
    signed.require(&[Role::Admin], "change company settings")?;
    let id = CompanyId::parse(&id).ok_or(PageError::NotFound)?;
    let reason = lookup::required_reason(&form.reason)?;
    let app = &bo.app;
    let stored = app.store.company(&id).await?.ok_or(PageError::NotFound)?;
    let refuse = |problems: Vec<(String, String)>| {
        let errors = problems
            .into_iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect();
        (id.clone(), form.clone(), errors)
    };
    let patch = match patch_of(&form, &stored) {
        Ok(p) => p,
        Err(problems) => {
            let page = render_page(&bo, &signed, Some(refuse(problems)), None).await?;
            return Ok(page.into_response());
        }
    };
    let record = audit::operator_action(
        &signed.operator,
        Channel::Web,
        AuditAction::UpdateCompany,
        Some(id.to_string()),
        Some(reason),
        Some(&patch.audit_detail()),
        app.now(),
    );
    let updated = company::update(
        app.store.as_ref(),
        app.http.policy(),
        &id,
        patch,
        Some(&record),
    )
    .await;
    app.companies.invalidate(&id);
    match updated {
        Ok(_) => {
            tracing::info!(company = %id, operator = %signed.operator.id, "company settings changed");
            Ok(
                Redirect::to(&format!("/backoffice/companies?saved={id}#company-{id}"))
                    .into_response(),
            )
        }
        Err(ServiceError::InvalidDocument(problems)) => {
            let page = render_page(&bo, &signed, Some(refuse(problems)), None).await?;
            Ok(page.into_response())
        }
        Err(e) => Err(e.into()),
    }
}
