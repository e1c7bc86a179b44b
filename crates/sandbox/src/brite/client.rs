//! The hosted Brite client (`url` of `session.create_deposit` = `{base}/client/{session_id}`).
//! `GET` shows the deposit and a form; `POST outcome=approve|decline` stands in for the payer
//! authenticating in the bank (or cancelling), then redirects (303) to `redirect_uri` when
//! given, else shows the result. A session already acted on changes nothing.

use super::{callbacks, session, Order, Shared};
use crate::html::{self, escape, page};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use std::collections::HashMap;
use std::sync::Arc;

/// `GET /client/{session_id}`.
pub(crate) async fn show(
    State(shared): State<Arc<Shared>>,
    Path(session_id): Path<String>,
) -> Response {
    let Some(order) = shared.update(&session_id, |o| o.clone()) else {
        return html::not_found("No such session");
    };
    if order.session_state != session::CREATED {
        return result_page(&order);
    }
    let body = format!(
        "<h1>Brite sandbox</h1><p>Deposit <b>{amount}</b> from your bank ({country})</p>\
         <form method=\"post\">\
         <button name=\"outcome\" value=\"approve\">Authenticate and pay</button> \
         <button name=\"outcome\" value=\"decline\">Cancel</button>\
         </form>",
        amount = escape(&order.amount),
        country = escape(&order.country_id),
    );
    Html(page("Brite sandbox client", &body)).into_response()
}

/// `POST /client/{session_id}` with `outcome=approve|decline`.
pub(crate) async fn complete(
    State(shared): State<Arc<Shared>>,
    Path(session_id): Path<String>,
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
    if approve {
        callbacks::authenticate(&shared, &session_id);
    } else {
        callbacks::abort(&shared, &session_id);
    }
    let Some(order) = shared.update(&session_id, |o| o.clone()) else {
        return html::not_found("No such session");
    };
    match order.redirect_uri.as_deref() {
        Some(url) => Redirect::to(url).into_response(),
        None => result_page(&order),
    }
}

fn result_page(order: &Order) -> Response {
    let body = format!(
        "<h1>Session state {}</h1><p>Reference {}</p>",
        order.session_state,
        escape(&order.merchant_reference)
    );
    Html(page("Brite sandbox result", &body)).into_response()
}
