//! Problem webhooks: dead-lettered and failing deliveries, and "redeliver", which makes the
//! same delivery (same `webhook-id`, same payload) due at once and wakes the dispatcher.

use crate::backoffice::error::PageError;
use crate::backoffice::format::{or_dash, when};
use crate::backoffice::lookup::{self, company_name};
use crate::backoffice::session::{Posted, Signed};
use crate::backoffice::views::*;
use crate::backoffice::Backoffice;
use crate::service::audit::{self, Channel};
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use overture_core::backoffice::{AuditAction, DeliveryProblem, DeliveryQuery};
use overture_core::store::StoreError;
use overture_core::*;
use serde::Deserialize;

/// Rows per page.
const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct WebhooksQuery {
    #[serde(default)]
    problem: String,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

fn problem(s: &str) -> DeliveryProblem {
    match s {
        "dead" => DeliveryProblem::Dead,
        "failing" => DeliveryProblem::Failing,
        _ => DeliveryProblem::Any,
    }
}

/// `GET /backoffice/webhooks`.
pub async fn page(
    State(bo): State<Backoffice>,
    signed: Signed,
    Query(q): Query<WebhooksQuery>,
) -> Result<Html<String>, PageError> {
    let app = &bo.app;
    let page = q.page.unwrap_or(1).max(1);
    let query = DeliveryQuery {
        problem: problem(&q.problem),
        company_id: None,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    let found = app.store.problem_deliveries(&query).await?;
    let companies = lookup::companies(app).await?;
    let rows = found
        .items
        .iter()
        .map(|d| DeliveryRow {
            id: d.id.to_string(),
            transaction_id: d.transaction_id.to_string(),
            company: company_name(&companies, &d.company_id),
            state: d.state.as_str(),
            attempts: d.attempts,
            last_status: d
                .last_http_status
                .map(|s| format!("HTTP {s}"))
                .unwrap_or_else(|| "no answer".into()),
            last_error: or_dash(d.last_error.as_deref()),
            next_attempt: match d.state {
                DeliveryState::Pending => when(d.next_attempt_at),
                DeliveryState::Dead | DeliveryState::Delivered => "—".into(),
            },
            created: when(d.created_at),
        })
        .collect();
    let filters = vec![
        Opt::new("", "dead and failing", &q.problem),
        Opt::new("dead", "dead-lettered", &q.problem),
        Opt::new("failing", "failing (still retrying)", &q.problem),
    ];
    let mut layout = Layout::new(&signed, "webhooks", "Webhooks");
    layout.notice = notice(q.done.as_deref(), q.id.as_deref());
    render(&WebhooksPage {
        layout,
        filters,
        rows,
        can_redeliver: signed.can_decide(),
        pager: Pager::new(
            "/backoffice/webhooks",
            &[("problem", q.problem.clone())],
            page,
            found.has_more,
        ),
    })
}

/// `POST /backoffice/webhooks/{id}/redeliver` (approvers and admins).
pub async fn redeliver(
    State(bo): State<Backoffice>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted<lookup::ReasonForm>,
) -> Result<Response, PageError> {
    signed.require(&[Role::Approver, Role::Admin], "redeliver webhooks")?;
    let id = WebhookId::parse(&id).ok_or(PageError::NotFound)?;
    let reason = lookup::required_reason(&form.reason)?;
    let app = &bo.app;
    let before = app
        .store
        .webhook_delivery(&id)
        .await?
        .ok_or(PageError::NotFound)?;
    let detail = format!(
        "transaction {}; was {} after {} attempts",
        before.transaction_id,
        before.state.as_str(),
        before.attempts
    );
    let record = audit::operator_action(
        &signed.operator,
        Channel::Web,
        AuditAction::Redeliver,
        Some(id.to_string()),
        Some(reason),
        Some(&detail),
        app.now(),
    );
    let delivery = app
        .store
        .redeliver_webhook(&id, app.now(), Some(&record))
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => PageError::NotFound,
            StoreError::Conflict(m) => PageError::Conflict(format!("{m}. Nothing was changed.")),
            other => other.into(),
        })?;
    app.webhook_wakeup.notify_one();
    tracing::info!(webhook_id = %id, transaction_id = %delivery.transaction_id, operator = %signed.operator.id, "webhook redelivery requested");
    Ok(Redirect::to(&format!("/backoffice/webhooks?done=redelivered&id={id}")).into_response())
}
