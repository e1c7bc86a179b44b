//! The audit log page (admins only): every operator action, newest first, filterable by action.

use crate::backoffice::error::PageError;
use crate::backoffice::format::{or_dash, when};
use crate::backoffice::session::Signed;
use crate::backoffice::views::*;
use crate::backoffice::Backoffice;
use axum::extract::{Query, State};
use axum::response::Html;
use overture_core::backoffice::{AuditAction, AuditEntry, AuditQuery};
use overture_core::*;
use serde::Deserialize;

/// Rows per page.
const PAGE_SIZE: i64 = 100;

#[derive(Deserialize, Default)]
pub struct AuditPageQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    page: Option<i64>,
}

/// A link to the page of what an entry acted on.
fn target_href(target: &str) -> Option<String> {
    if TransactionId::parse(target).is_some() {
        Some(format!("/backoffice/transactions/{target}"))
    } else if PspAccountId::parse(target).is_some() {
        Some("/backoffice/psp-accounts".into())
    } else if WebhookId::parse(target).is_some() {
        Some("/backoffice/webhooks".into())
    } else {
        None
    }
}

fn row(e: &AuditEntry) -> AuditRow {
    let who = match &e.operator_id {
        Some(id) => format!("{} ({id})", e.operator_email),
        None => format!("{} (no such operator)", e.operator_email),
    };
    let target = e.target.clone().unwrap_or_default();
    AuditRow {
        at: when(e.at),
        who,
        action: e.action.as_str(),
        href: target_href(&target),
        target: or_dash(Some(target.as_str())),
        reason: or_dash(e.reason.as_deref()),
        detail: or_dash(e.detail.as_deref()),
    }
}

/// `GET /backoffice/audit`.
pub async fn page(
    State(bo): State<Backoffice>,
    signed: Signed,
    Query(q): Query<AuditPageQuery>,
) -> Result<Html<String>, PageError> {
    signed.require(&[Role::Admin], "view the audit log")?;
    let page = q.page.unwrap_or(1).max(1);
    let query = AuditQuery {
        operator_id: None,
        action: AuditAction::parse(&q.action),
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    let found = bo.app.store.audit_log(&query).await?;
    let actions = std::iter::once(Opt::new("", "all actions", &q.action))
        .chain(
            AuditAction::ALL
                .iter()
                .map(|a| Opt::new(a.as_str(), a.as_str(), &q.action)),
        )
        .collect();
    render(&AuditPage {
        layout: Layout::new(&signed, "audit", "Audit log"),
        actions,
        rows: found.items.iter().map(row).collect(),
        pager: Pager::new(
            "/backoffice/audit",
            &[("action", q.action.clone())],
            page,
            found.has_more,
        ),
    })
}
