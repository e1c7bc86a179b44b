//! The voucher page (`{base}/EN-<token>`). `GET` shows the amount, a voucher PIN field and the
//! form; `POST outcome=approve|decline` stands in for the customer typing a voucher PIN (or
//! giving up), then redirects (303) to the merchant's `urlOk`, `urlKo` or `urlPending`, else
//! shows a small result page (the sandbox convention). A page already acted on changes nothing; a
//! page past its `expiry` is refused.

use super::{callback, Order, Shared};
use crate::html::{self, escape, page};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use overture_connectors::neosurf::wire::status;
use overture_core::{Currency, Money};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

fn expired(order: &Order) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    order.expires_at.is_some_and(|at| now > at)
}

fn major(order: &Order) -> String {
    Currency::from_code(&order.currency.to_ascii_uppercase())
        .and_then(|c| Money::from_minor(order.amount_minor, c).ok())
        .map(|m| m.to_major_string())
        .unwrap_or_default()
}

/// `GET /{page}`.
pub(crate) async fn show(
    State(shared): State<Arc<Shared>>,
    Path(page_id): Path<String>,
) -> Response {
    let Some(order) = shared.get(&page_id) else {
        return html::not_found("No such payment");
    };
    if order.status != status::PENDING || order.executions > 0 {
        return result_page(&order);
    }
    if expired(&order) {
        return html::not_found("This payment page has expired");
    }
    let body = format!(
        "<h1>Neosurf (sandbox)</h1><p>Pay <b>{} {}</b> with a Neosurf voucher.</p>\
         <form method=\"post\"><label>Voucher PIN <input name=\"pin\" maxlength=\"10\"></label>\
         <button name=\"outcome\" value=\"approve\">Pay</button> \
         <button name=\"outcome\" value=\"decline\">Cancel</button></form>",
        escape(&major(&order)),
        escape(&order.currency.to_ascii_uppercase()),
    );
    Html(page("Neosurf", &body)).into_response()
}

/// `POST /{page}` with `outcome=approve|decline`.
pub(crate) async fn complete(
    State(shared): State<Arc<Shared>>,
    Path(page_id): Path<String>,
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
    let acted = shared.update(&page_id, |o| {
        let first = o.status == status::PENDING && o.executions == 0 && !expired(o);
        if first {
            if approve {
                o.executions += 1;
            } else {
                o.status = status::KO;
                o.error_code = "CANCELLED".into();
            }
        }
        (o.clone(), first)
    });
    let Some((order, first)) = acted else {
        return html::not_found("No such payment");
    };
    if !first && order.status == status::PENDING && order.executions == 0 {
        return html::not_found("This payment page has expired");
    }
    if first {
        callback::settle(&shared, &order.page, approve);
    }
    let target = match (approve, order.scenario) {
        (true, crate::Scenario::StaysProcessing) => order.url_pending.clone(),
        (true, crate::Scenario::Decline | crate::Scenario::Error) => order.url_ko.clone(),
        (true, _) => order.url_ok.clone(),
        (false, _) => order.url_ko.clone(),
    };
    match target {
        Some(url) => Redirect::to(&url).into_response(),
        None => result_page(&order),
    }
}

fn result_page(order: &Order) -> Response {
    let body = format!(
        "<h1>Payment {}</h1><p>Reference {}</p>",
        escape(order.status),
        escape(&order.merchant_transaction_id)
    );
    Html(page("Neosurf sandbox result", &body)).into_response()
}
