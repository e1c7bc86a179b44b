//! The hosted payment page (`access_url` = `{base}/pay/{payment_id}`). `GET` shows the
//! invoice and a form; `POST outcome=approve|decline` stands in for the payer paying (or
//! abandoning) on-chain, then redirects (303) to `on_success_redirect_url` /
//! `on_failure_redirect_url` when given, else shows a small result page.
//!
//! Approve: the payment is `Processing` (seen, awaiting confirmations) and reaches its
//! scenario's final status after `processing_delay` (`.51` cancelled, `.52` error, `.53`
//! never). Decline: `Cancelled` at once. A page already acted on changes nothing.

use super::{webhook, Kind, Order, Shared, Status};
use crate::html::{self, escape, page};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use std::collections::HashMap;
use std::sync::Arc;

/// `GET /pay/{payment_id}`.
pub(crate) async fn show(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
) -> Response {
    let Some(order) = shared.get(&payment_id).filter(|o| o.kind == Kind::Payin) else {
        return html::not_found("No such payment");
    };
    if order.status != Status::Waiting {
        return result_page(&order);
    }
    let body = format!(
        "<h1>ForumPay sandbox</h1>\
         <p>Pay <b>{amount} {crypto}</b> ({fiat} {fiat_cur}) to</p>\
         <p><code>{address}</code></p>\
         <form method=\"post\">\
         <button name=\"outcome\" value=\"approve\">Pay</button> \
         <button name=\"outcome\" value=\"decline\">Cancel</button>\
         </form>",
        amount = escape(&order.amount),
        crypto = escape(&order.currency),
        fiat = escape(&order.invoice_amount),
        fiat_cur = escape(&order.invoice_currency),
        address = escape(&order.address),
    );
    Html(page("ForumPay sandbox payment", &body)).into_response()
}

/// `POST /pay/{payment_id}` with `outcome=approve|decline`.
pub(crate) async fn complete(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
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
    // Check and change the state in one step so that two racing POSTs act once.
    let acted = shared
        .update(&payment_id, |o| {
            if o.kind != Kind::Payin {
                return None;
            }
            let first = o.status == Status::Waiting;
            if first && approve {
                o.status = Status::Processing;
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
            webhook::settle_later(&shared, &order);
        } else {
            webhook::finish(
                &shared,
                &order.payment_id,
                Status::Cancelled,
                Some("Cancelled by payer"),
            );
        }
    }
    let success = if first {
        approve
            && webhook::final_status(order.kind, order.scenario)
                .is_none_or(|(s, _)| s == Status::Confirmed)
    } else {
        matches!(order.status, Status::Confirmed | Status::Processing)
    };
    let target = if success {
        order.success_url.as_deref()
    } else {
        order.failure_url.as_deref()
    };
    match target {
        Some(url) => Redirect::to(url).into_response(),
        None => match shared.get(&order.payment_id) {
            Some(current) => result_page(&current),
            None => html::not_found("No such payment"),
        },
    }
}

fn result_page(order: &Order) -> Response {
    let body = format!(
        "<h1>Payment {}</h1><p>Reference {}</p>",
        escape(order.status.word()),
        escape(&order.reference_no)
    );
    Html(page("ForumPay sandbox result", &body)).into_response()
}
