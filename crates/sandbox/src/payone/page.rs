//! The hosted Interac webflow page (`webflowURL` = `{base}/webflow/{transactionId}`). `GET`
//! shows the amount and a form; `POST outcome=approve|decline` stands in for the customer
//! approving (or cancelling) the Interac request in their bank, then redirects (303) to the
//! pay-in's `returnUrl` when given, else shows a small result page (the sandbox convention).
//!
//! Approve: the pay-in is `processing` and reaches its scenario's final status after
//! `processing_delay` (`.51` declined, `.52` failed, `.53` never). Decline: `cancelled` at
//! once. A page already acted on changes nothing.

use super::{webhook, Kind, Order, Shared};
use crate::html::{self, escape, page};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use overture_connectors::payone::wire::status;
use std::collections::HashMap;
use std::sync::Arc;

/// `GET /webflow/{transaction_id}`.
pub(crate) async fn show(
    State(shared): State<Arc<Shared>>,
    Path(transaction_id): Path<String>,
) -> Response {
    let Some(order) = shared
        .get(&transaction_id)
        .filter(|o| o.kind == Kind::Payin)
    else {
        return html::not_found("No such payment");
    };
    if order.status != status::PENDING {
        return result_page(&order);
    }
    let body = format!(
        "<h1>Interac e-Transfer (Payone sandbox)</h1>\
         <p>Pay <b>{} {}</b> from your bank.</p>\
         <form method=\"post\">\
         <button name=\"outcome\" value=\"approve\">Approve</button> \
         <button name=\"outcome\" value=\"decline\">Cancel</button>\
         </form>",
        escape(&order.amount),
        escape(&order.currency),
    );
    Html(page("Payone Interac webflow", &body)).into_response()
}

/// `POST /webflow/{transaction_id}` with `outcome=approve|decline`.
pub(crate) async fn complete(
    State(shared): State<Arc<Shared>>,
    Path(transaction_id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let approve = match form.get("outcome").map(String::as_str) {
        Some("approve") => true,
        Some("decline") => false,
        _ => {
            let body = "<p>outcome must be approve or decline</p>";
            return (StatusCode::BAD_REQUEST, Html(page("Bad request", body))).into_response();
        }
    };
    // Check and change the state in one step so that two racing POSTs act once.
    let acted = shared
        .update(&transaction_id, |o| {
            if o.kind != Kind::Payin {
                return None;
            }
            let first = o.status == status::PENDING;
            if first && approve {
                o.status = status::PROCESSING;
                o.executions += 1;
            }
            Some((o.clone(), first))
        })
        .flatten();
    let Some((order, first)) = acted else {
        return html::not_found("No such payment");
    };
    if first {
        if approve {
            webhook::settle_later(&shared, &order.transaction_id);
        } else {
            webhook::finish(
                &shared,
                &order.transaction_id,
                status::CANCELLED,
                Some("Cancelled by the customer"),
            )
            .await;
        }
    }
    match order.return_url.as_deref() {
        Some(url) => Redirect::to(url).into_response(),
        None => match shared.get(&order.transaction_id) {
            Some(current) => result_page(&current),
            None => html::not_found("No such payment"),
        },
    }
}

fn result_page(order: &Order) -> Response {
    let body = format!(
        "<h1>Payment {}</h1><p>Reference {}</p>",
        escape(order.status),
        escape(&order.merchant_reference)
    );
    Html(page("Payone sandbox result", &body)).into_response()
}
