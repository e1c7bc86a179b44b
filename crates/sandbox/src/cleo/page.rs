//! The hosted bank-transfer page (`checkout_url` = `{base}/checkout/{id}`). `GET` shows the
//! amount and a form; `POST outcome=approve|decline` stands in for the customer making (or
//! abandoning) the transfer from their bank, then redirects (303) to the pay-in's
//! `return_url` when given, else shows a small result page (the sandbox convention).
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
use overture_connectors::cleo::wire::status;
use std::collections::HashMap;
use std::sync::Arc;

/// `GET /checkout/{id}`.
pub(crate) async fn show(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Some(order) = shared.get(&id).filter(|o| o.kind == Kind::Payin) else {
        return html::not_found("No such payment");
    };
    if order.status != status::PENDING {
        return result_page(&order);
    }
    let body = format!(
        "<h1>Transferencia bancaria (Cleo sandbox)</h1>\
         <p>Pay <b>{} {}</b> by bank transfer ({}).</p>\
         <form method=\"post\">\
         <button name=\"outcome\" value=\"approve\">Approve</button> \
         <button name=\"outcome\" value=\"decline\">Cancel</button>\
         </form>",
        escape(&order.amount),
        escape(&order.currency),
        escape(&order.country),
    );
    Html(page("Cleo bank transfer", &body)).into_response()
}

/// `POST /checkout/{id}` with `outcome=approve|decline`.
pub(crate) async fn complete(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
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
        .update(&id, |o| {
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
            webhook::settle_later(&shared, &order.id);
        } else {
            webhook::finish(
                &shared,
                &order.id,
                status::CANCELLED,
                Some("Cancelled by the customer"),
            )
            .await;
        }
    }
    match order.return_url.as_deref() {
        Some(url) => Redirect::to(url).into_response(),
        None => match shared.get(&order.id) {
            Some(current) => result_page(&current),
            None => html::not_found("No such payment"),
        },
    }
}

fn result_page(order: &Order) -> Response {
    let body = format!(
        "<h1>Payment {}</h1><p>Reference {}</p>",
        escape(order.status),
        escape(&order.reference)
    );
    Html(page("Cleo sandbox result", &body)).into_response()
}
