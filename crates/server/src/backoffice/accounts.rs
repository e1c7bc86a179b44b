//! PSP accounts per company: enabled or not, the connector's capabilities, the recent success
//! rate, the limits and caps with today's usage, and health (this node's circuit breaker);
//! admins enable or disable them (routing reads the flag on every request, so a disabled
//! account is out of routing at once) and run the credentials test, the PSP's cheapest
//! authenticated call. Each of these actions is in the audit log.

use crate::backoffice::account_health::health_row;
use crate::backoffice::error::PageError;
use crate::backoffice::lookup;
use crate::backoffice::session::{Posted, Signed};
use crate::backoffice::views::*;
use crate::backoffice::Backoffice;
use crate::service::audit::{self, Channel};
use crate::service::psp_accounts;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use overture_core::backoffice::{AuditAction, CompanySummary, PspAccountStats};
use overture_core::connector::Capabilities;
use overture_core::store::StoreError;
use overture_core::*;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize, Default)]
pub struct AccountsQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    id: Option<String>,
    /// A credentials test's outcome: `ok` or its error code.
    #[serde(default)]
    test: Option<String>,
    #[serde(default)]
    ms: Option<i64>,
}

/// The notice after a credentials test (`?test=ok|CODE&id=…&ms=…`); only codes the test can
/// answer are shown, so the query string cannot put text on the page.
fn test_notice(q: &AccountsQuery) -> Option<String> {
    let id =
        q.id.as_deref()
            .and_then(PspAccountId::parse)
            .map(|i| i.to_string())?;
    let ms = q.ms.unwrap_or(0).max(0);
    let text = match q.test.as_deref()? {
        "ok" => format!("Credentials test of {id}: the PSP accepted the credentials ({ms} ms)."),
        code @ ("INVALID_PSP_CREDENTIALS" | "PSP_UNAVAILABLE" | "PSP_TIMEOUT"
        | "PSP_RATE_LIMITED" | "UNKNOWN_PSP_ERROR") => {
            format!("Credentials test of {id} failed: {code} ({ms} ms).")
        }
        "CREDENTIALS_TEST_UNSUPPORTED" => format!(
            "Credentials test of {id}: this PSP has no call that proves credentials without side effects."
        ),
        _ => return None,
    };
    Some(text)
}

fn directions(c: &Capabilities) -> String {
    match (c.payin, c.payout) {
        (true, true) => "pay-in and payout",
        (true, false) => "pay-in only",
        (false, true) => "payout only",
        (false, false) => "none",
    }
    .to_owned()
}

fn account_row(
    a: &PspAccount,
    caps: Option<&Capabilities>,
    stats: &HashMap<PspAccountId, PspAccountStats>,
    health: HealthRow,
) -> AccountRow {
    let success = match stats.get(&a.id) {
        Some(s) => match s.success_percent() {
            Some(p) => format!("{p}% ({} of {})", s.approved, s.approved + s.unsuccessful),
            None => "no outcomes".into(),
        },
        None => "no outcomes".into(),
    };
    AccountRow {
        id: a.id.to_string(),
        psp: a.psp_type.to_string(),
        name: caps.map(|c| c.display_name.to_owned()).unwrap_or_default(),
        enabled: a.enabled,
        priority: a.priority,
        base_url: a.base_url.clone(),
        directions: caps.map(directions).unwrap_or_else(|| "unknown PSP".into()),
        currencies: caps.map(|c| c.currencies.join(", ")).unwrap_or_default(),
        countries: caps
            .map(|c| {
                if c.countries.is_empty() {
                    "any country".to_owned()
                } else {
                    c.countries.join(", ")
                }
            })
            .unwrap_or_default(),
        async_model: caps.map(|c| c.async_model.to_owned()).unwrap_or_default(),
        success,
        health,
    }
}

fn thresholds(c: &CompanySummary) -> String {
    let held = c
        .payout_approval_threshold
        .map(|t| format!("payouts from {t} wait for approval"))
        .unwrap_or_else(|| "no payout approval".into());
    let four = c
        .four_eyes_threshold
        .map(|t| format!("; from {t} two different approvers (four-eyes)"))
        .unwrap_or_default();
    format!("{held}{four}")
}

/// `GET /backoffice/psp-accounts`.
pub async fn page(
    State(bo): State<Backoffice>,
    signed: Signed,
    Query(q): Query<AccountsQuery>,
) -> Result<Html<String>, PageError> {
    let app = &bo.app;
    let since = app.now() - bo.settings.stats_window_ms;
    let stats: HashMap<_, _> = app
        .store
        .psp_account_stats(since)
        .await?
        .into_iter()
        .map(|s| (s.psp_account_id.clone(), s))
        .collect();
    let mut companies: Vec<_> = lookup::companies(app).await?.into_values().collect();
    companies.sort_by(|a, b| a.name.cmp(&b.name));
    let mut blocks = Vec::with_capacity(companies.len());
    for c in companies {
        let mut rows = Vec::new();
        for a in app.store.psp_accounts(&c.id).await? {
            let caps = app
                .registry
                .get(a.psp_type.as_str())
                .map(|k| k.capabilities());
            let health = health_row(app, &a).await?;
            rows.push(account_row(&a, caps, &stats, health));
        }
        blocks.push(CompanyBlock {
            id: c.id.to_string(),
            name: c.name.clone(),
            thresholds: thresholds(&c),
            accounts: rows,
        });
    }
    let mut layout = Layout::new(&signed, "accounts", "PSP accounts");
    layout.notice = test_notice(&q).or_else(|| notice(q.done.as_deref(), q.id.as_deref()));
    render(&AccountsPage {
        layout,
        companies: blocks,
        window: humantime::format_duration(std::time::Duration::from_millis(
            bo.settings.stats_window_ms.max(0) as u64,
        ))
        .to_string(),
    })
}

/// `POST /backoffice/psp-accounts/{id}/enable|disable` (admins).
pub async fn switch(
    State(bo): State<Backoffice>,
    Path((id, action)): Path<(String, String)>,
    Posted { signed, form }: Posted<lookup::ReasonForm>,
) -> Result<Response, PageError> {
    signed.require(&[Role::Admin], "enable or disable PSP accounts")?;
    let (enabled, audit_action, done) = match action.as_str() {
        "enable" => (true, AuditAction::EnableAccount, "enabled"),
        "disable" => (false, AuditAction::DisableAccount, "disabled"),
        _ => return Err(PageError::NotFound),
    };
    let id = PspAccountId::parse(&id).ok_or(PageError::NotFound)?;
    let reason = lookup::required_reason(&form.reason)?;
    let app = &bo.app;
    let record = audit::operator_action(
        &signed.operator,
        Channel::Web,
        audit_action,
        Some(id.to_string()),
        Some(reason),
        None,
        app.now(),
    );
    psp_accounts::set_enabled(app, &id, enabled, &record)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => PageError::NotFound,
            other => other.into(),
        })?;
    tracing::info!(psp_account = %id, enabled, operator = %signed.operator.id, "PSP account switched");
    Ok(Redirect::to(&format!("/backoffice/psp-accounts?done={done}&id={id}")).into_response())
}

/// `POST /backoffice/psp-accounts/{id}/test` (admins): runs the credentials test against the
/// PSP, records it in the audit log with its outcome, and shows the outcome.
pub async fn test(
    State(bo): State<Backoffice>,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<lookup::ReasonForm>,
) -> Result<Response, PageError> {
    signed.require(&[Role::Admin], "test PSP account credentials")?;
    let id = PspAccountId::parse(&id).ok_or(PageError::NotFound)?;
    let app = &bo.app;
    let account = app
        .store
        .psp_account(&id)
        .await?
        .filter(|a| a.deleted_at.is_none())
        .ok_or(PageError::NotFound)?;
    let outcome = psp_accounts::test(app, &account.company_id, id.as_str())
        .await
        .map_err(PageError::from)?;
    let code = if outcome.ok {
        "ok"
    } else {
        outcome.error_code.unwrap_or("UNKNOWN_PSP_ERROR")
    };
    let detail = format!("outcome {code} in {} ms", outcome.latency_ms);
    let record = audit::operator_action(
        &signed.operator,
        Channel::Web,
        AuditAction::TestCredentials,
        Some(id.to_string()),
        None,
        Some(&detail),
        app.now(),
    );
    app.store.record_external_action(&record).await?;
    tracing::info!(psp_account = %id, outcome = code, operator = %signed.operator.id, "credentials tested");
    Ok(Redirect::to(&format!(
        "/backoffice/psp-accounts?test={code}&id={id}&ms={}#account-{id}",
        outcome.latency_ms
    ))
    .into_response())
}
