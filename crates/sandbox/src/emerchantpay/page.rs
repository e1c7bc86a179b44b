//! The hosted web payment form (`{base}/payment/{unique_id}`). `GET` shows the amount and a
//! form; `POST outcome=approve|decline` stands in for the customer paying with a card (and
//! passing 3-D Secure): the form reaches its scenario's state, notifications go out, and the
//! customer is redirected (303) to the matching return URL (the sandboxes' hosted-page
//! convention).

use super::{notify, Attempt, PaymentForm, Shared};
use crate::html::{self, escape, page};
use crate::Scenario;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use overture_connectors::emerchantpay::wire::status;
use std::collections::HashMap;
use std::sync::Arc;

/// `GET /payment/{unique_id}`.
pub(crate) async fn show(
    State(shared): State<Arc<Shared>>,
    Path(unique_id): Path<String>,
) -> Response {
    let Some(form) = shared.update(&unique_id, |f| f.clone()) else {
        return html::not_found("No such payment form");
    };
    if form.status != status::NEW {
        return result_page(&form);
    }
    let body = format!(
        "<h1>emerchantpay payment form (Genesis sandbox)</h1>\
         <p>Pay <b>{} {}</b> by card. No card details are asked in the sandbox.</p>\
         <form method=\"post\">\
         <button name=\"outcome\" value=\"approve\">Pay</button> \
         <button name=\"outcome\" value=\"decline\">Decline</button>\
         </form>",
        escape(&form.amount.to_major_string()),
        escape(form.amount.currency().code()),
    );
    Html(page("Genesis Web Payment Form", &body)).into_response()
}

/// The state, code and reason a form choice gives.
fn outcome(
    approve: bool,
    scenario: Scenario,
) -> (&'static str, Option<&'static str>, Option<&'static str>) {
    let declined = (
        status::DECLINED,
        Some("500"),
        Some("Transaction declined by issuer"),
    );
    if !approve {
        return declined;
    }
    match scenario {
        Scenario::Decline => declined,
        Scenario::Error => (
            status::ERROR,
            Some("200"),
            Some("Communication with issuer failed"),
        ),
        Scenario::StaysProcessing => (status::PENDING_ASYNC, None, None),
        Scenario::Approve
        | Scenario::Http500OnCreate
        | Scenario::NoCallback
        | Scenario::DuplicateCallback
        | Scenario::ForgedCallback => (status::APPROVED, None, None),
    }
}

/// `POST /payment/{unique_id}` with `outcome=approve|decline`.
pub(crate) async fn complete(
    State(shared): State<Arc<Shared>>,
    Path(unique_id): Path<String>,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    let approve = match fields.get("outcome").map(String::as_str) {
        Some("approve") => true,
        Some("decline") => false,
        _ => {
            let body = "<p>outcome must be approve or decline</p>";
            return (StatusCode::BAD_REQUEST, Html(page("Bad request", body))).into_response();
        }
    };
    // Decide and record in one step so that two racing POSTs act once.
    let acted = shared.update(&unique_id, |f| {
        let first = f.status == status::NEW;
        if first {
            let (state, code, message) = outcome(approve, f.scenario);
            f.status = state;
            f.attempt = Some(Attempt {
                unique_id: super::random_hex(16),
                status: state,
                code,
                message,
            });
            f.executions += u32::from(state == status::APPROVED);
        }
        (first, f.clone())
    });
    let Some((first, form)) = acted else {
        return html::not_found("No such payment form");
    };
    if first && form.status != status::PENDING_ASYNC {
        notify::send(&shared, &form);
    }
    let target = match form.status {
        status::APPROVED => Some(form.return_success_url.clone()),
        status::PENDING_ASYNC => form
            .return_pending_url
            .clone()
            .or(Some(form.return_success_url.clone())),
        _ => Some(form.return_failure_url.clone()),
    };
    match target {
        Some(url) => Redirect::to(&url).into_response(),
        None => result_page(&form),
    }
}

fn result_page(form: &PaymentForm) -> Response {
    let body = format!(
        "<h1>Payment {}</h1><p>Transaction {}</p>",
        escape(form.status),
        escape(&form.transaction_id)
    );
    Html(page("Genesis sandbox result", &body)).into_response()
}
