//! The webflow (`{base}/webflow?transaction=…&token=…`): `GET` shows the Interac page of a
//! `CPI` transaction with a form; `POST outcome=approve|decline` stands in for the payer
//! sending (or refusing) the e-Transfer, then redirects (303) to the `returnUrl` given at token
//! time, or shows the result.
//!
//! Approve: `STATUS_PENDING`, then the scenario's final status after `processing_delay`.
//! Decline: `STATUS_REJECTED` at once. A page already acted on changes nothing; a token that
//! does not match, or a payout's token, is refused.

use super::{notify, Kind, Order, Shared, Status};
use crate::html::{self, escape, page};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use std::collections::HashMap;
use std::sync::Arc;

type Params = HashMap<String, String>;

/// The pay-in the URL names, if `token` matches it.
fn lookup(shared: &Arc<Shared>, query: &Params) -> Option<Order> {
    let id = query
        .get("transaction")
        .or_else(|| query.get("transactionId"))?;
    let token = query.get("token")?;
    let (order, expired) = shared.update(id, |o| o.clone())?;
    if expired {
        notify::send(shared, order.clone());
    }
    (order.kind == Kind::Cpi && &order.token == token).then_some(order)
}

/// `GET /webflow?transaction=…&token=…`.
pub(crate) async fn show(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<Params>,
) -> Response {
    let Some(order) = lookup(&shared, &query) else {
        return html::not_found("No such transaction or token");
    };
    if order.status != Status::Inited {
        return result_page(&order);
    }
    let body = format!(
        "<h1>Interac e-Transfer (Gigadat sandbox)</h1>\
         <p>Send <b>{amount} CAD</b> as {name}</p>\
         <form method=\"post\">\
         <button name=\"outcome\" value=\"approve\">Send e-Transfer</button> \
         <button name=\"outcome\" value=\"decline\">Cancel</button>\
         </form>",
        amount = escape(&order.amount),
        name = escape(&order.name),
    );
    Html(page("Gigadat sandbox webflow", &body)).into_response()
}

/// `POST /webflow?transaction=…&token=…` with `outcome=approve|decline`.
pub(crate) async fn complete(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<Params>,
    Form(form): Form<Params>,
) -> Response {
    let approve = match form.get("outcome").map(String::as_str) {
        Some("approve") => true,
        Some("decline") => false,
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Html(page(
                    "Bad request",
                    "<p>outcome must be approve or decline</p>",
                )),
            )
                .into_response()
        }
    };
    let Some(order) = lookup(&shared, &query) else {
        return html::not_found("No such transaction or token");
    };
    // Check and change the state in one step so that two racing POSTs act once.
    let acted = shared.update(&order.transaction_id, |o| {
        let first = o.status == Status::Inited;
        if first && approve {
            o.status = Status::Pending;
            o.executions += 1;
        }
        (o.clone(), first)
    });
    let Some(((order, first), _)) = acted else {
        return html::not_found("No such transaction or token");
    };
    if first {
        if approve {
            notify::settle_later(&shared, &order);
        } else {
            notify::finish(
                &shared,
                &order.transaction_id,
                Status::Rejected,
                Some("Cancelled by the payer"),
            );
        }
    }
    match order.return_url.as_deref() {
        Some(url) => Redirect::to(url).into_response(),
        None => match shared.update(&order.transaction_id, |o| o.clone()) {
            Some((current, _)) => result_page(&current),
            None => html::not_found("No such transaction or token"),
        },
    }
}

fn result_page(order: &Order) -> Response {
    let body = format!(
        "<h1>{}</h1><p>Transaction {}</p>",
        escape(order.status.word()),
        escape(&order.transaction_id)
    );
    Html(page("Gigadat sandbox result", &body)).into_response()
}
