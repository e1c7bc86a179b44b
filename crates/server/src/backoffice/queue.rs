//! The approval queue: payouts in `awaiting_approval`, oldest first, and the decision form.
//! Decisions go through `service::approval` (the same code as the JSON API), so four-eyes,
//! double clicks and two operators at once behave the same on both.

use crate::app::App;
use crate::backoffice::error::PageError;
use crate::backoffice::format;
use crate::backoffice::lookup::{self, company_name};
use crate::backoffice::session::{Posted, Signed};
use crate::backoffice::views::{notice, render, Layout, Pager, QueuePage, QueueRow};
use crate::backoffice::{user_context, Backoffice};
use crate::service::approval::{self, Approved, FOUR_EYES_APPROVALS};
use crate::service::audit::Channel;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use overture_core::backoffice::{CompanySummary, SearchOrder, TxnSearch};
use overture_core::*;
use serde::Deserialize;
use std::collections::HashMap;

/// Rows per page.
const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

/// `GET /backoffice/queue`.
pub async fn page(
    State(bo): State<Backoffice>,
    signed: Signed,
    Query(q): Query<QueueQuery>,
) -> Result<Html<String>, PageError> {
    let app = &bo.app;
    let page = q.page.unwrap_or(1).max(1);
    let search = TxnSearch {
        state: Some(TxnState::AwaitingApproval),
        order: SearchOrder::OldestFirst,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
        ..Default::default()
    };
    let found = app.store.search_transactions(&search).await?;
    let companies = lookup::companies(app).await?;
    let now = app.now();
    let mut rows = Vec::with_capacity(found.items.len());
    for txn in &found.items {
        rows.push(queue_row(app, &companies, txn, now).await?);
    }
    let mut layout = Layout::new(&signed, "queue", "Approval queue");
    layout.notice = notice(q.done.as_deref(), q.id.as_deref());
    render(&QueuePage {
        layout,
        rows,
        can_decide: signed.can_decide(),
        pager: Pager::new("/backoffice/queue", &[], page, found.has_more),
    })
}

async fn queue_row(
    app: &App,
    companies: &HashMap<CompanyId, CompanySummary>,
    txn: &Transaction,
    now: i64,
) -> Result<QueueRow, PageError> {
    // The same rule the approval applies (the currency's threshold, else the fallback).
    let above = approval::needs_four_eyes(app, txn).await?;
    let four_eyes = if above {
        let given = app.store.approvals(&txn.id).await?.len();
        Some(format!("{given} of {FOUR_EYES_APPROVALS} approvals"))
    } else {
        None
    };
    Ok(QueueRow {
        id: txn.id.to_string(),
        company: company_name(companies, &txn.company_id),
        amount: format::amount(&txn.amount),
        user_id: txn.user_id.clone(),
        psp: txn.psp_type.to_string(),
        age: format::age(now - txn.created_at),
        created: format::when(txn.created_at),
        reference: format::or_dash(txn.merchant_reference.as_deref()),
        four_eyes,
        confirm: above,
        verification: user_context::verification(app, txn).await?,
        history: user_context::of(app, txn).await?,
    })
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    /// `yes` when the operator confirmed approving above the four-eyes threshold.
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /backoffice/transactions/{id}/decide` with `decision=approve|reject` and `reason`.
pub async fn decide(
    State(bo): State<Backoffice>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted<DecideForm>,
) -> Result<Response, PageError> {
    signed.require(&[Role::Approver, Role::Admin], "approve or reject payouts")?;
    let id = TransactionId::parse(&id).ok_or(PageError::NotFound)?;
    let reason = lookup::required_reason(&form.reason)?;
    let app = &bo.app;
    let done = match form.decision.as_str() {
        "approve" => {
            let txn = app
                .store
                .transaction(&id)
                .await?
                .ok_or(PageError::NotFound)?;
            if approval::needs_four_eyes(app, &txn).await? && form.confirm.as_deref() != Some("yes")
            {
                return Err(PageError::BadInput(format!(
                    "{} is at or above the company's four-eyes threshold: tick the confirmation \
                     to approve it. Nothing was changed.",
                    format::amount(&txn.amount)
                )));
            }
            let outcome =
                approval::approve(app, &signed.operator, &id, Some(reason), Channel::Web).await?;
            match outcome {
                Approved::Submitted {
                    psp_error: None, ..
                } => "approved",
                Approved::Submitted { txn, .. } if txn.state.is_final() => "approved_psp_failed",
                Approved::Submitted { .. } => "approved_psp_error",
                Approved::NeedsSecond { .. } => "first_approval",
            }
        }
        "reject" => {
            approval::reject(app, &signed.operator, &id, reason, Channel::Web).await?;
            "rejected"
        }
        _ => {
            return Err(PageError::BadInput(
                "Choose approve or reject. Nothing was changed.".into(),
            ))
        }
    };
    Ok(Redirect::to(&format!("/backoffice/queue?done={done}&id={id}")).into_response())
}
