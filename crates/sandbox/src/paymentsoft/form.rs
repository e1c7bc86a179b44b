//! The receiver form behind `redirect-to` (Payment Soft payout flow, steps 5–9: "Some payout
//! methods require the Receiver to fill the additional data on the form") and the browser's
//! "Final redirect" back to the merchant. The sandbox asks for one field, `account`. The CARDZO
//! simulator serves the same form through [`show_form`] and [`submit_form`].

use super::{process, FamilyOrder, FamilySim, Sim, STAGE_PROCESSING, STAGE_RECEIVER_FORM};
use crate::html::escape;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use overture_connectors::paymentsoft::wire;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The `order-stage` values the form moves between, and how the page names the sandbox.
pub(crate) struct FormFlow<O> {
    /// While the form waits to be filled.
    pub(crate) receiver_form: &'static str,
    /// Once it was filled.
    pub(crate) processing: &'static str,
    /// Shown on the page: "Payout of 10.00 EUR ({label}). …".
    pub(crate) label: &'static str,
    /// Resumes processing of the order with this `paynet-order-id`.
    pub(crate) start: fn(Arc<FamilySim<O>>, String),
}

/// This simulator's form flow.
fn flow() -> FormFlow<super::Order> {
    FormFlow {
        receiver_form: STAGE_RECEIVER_FORM,
        processing: STAGE_PROCESSING,
        label: "sandbox",
        start: process::start,
    }
}

fn page(code: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}</body></html>\n"
    );
    (code, Html(html)).into_response()
}

fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Payout not found",
        "<p>No such payout.</p>",
    )
}

/// `GET /paynet/form/payout/{paynet_order_id}`: the form, while the order waits for it.
pub(crate) async fn show(
    State(sim): State<Arc<Sim>>,
    Path(paynet_order_id): Path<String>,
) -> Response {
    show_form(&sim, &flow(), &paynet_order_id)
}

/// `POST /paynet/form/payout/{paynet_order_id}` with `account`: completes the form, resumes
/// processing and sends the browser back to `redirect_url` when the payout request had one.
pub(crate) async fn submit(
    State(sim): State<Arc<Sim>>,
    Path(paynet_order_id): Path<String>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> Response {
    submit_form(&sim, &flow(), &paynet_order_id, &fields)
}

/// The form page of a PaynetEasy-family simulator, while the order waits for it.
pub(crate) fn show_form<O: FamilyOrder>(
    sim: &FamilySim<O>,
    flow: &FormFlow<O>,
    paynet_order_id: &str,
) -> Response {
    let Some(order) = sim.orders().by_paynet_mut(paynet_order_id).cloned() else {
        return not_found();
    };
    let order = order.fields();
    if order.stage != flow.receiver_form {
        return page(StatusCode::OK, "Payout", "<p>Nothing left to fill in.</p>");
    }
    let body = format!(
        "<p>Payout of {} {} ({}). Enter the account to receive it.</p>\
         <form method=\"post\"><label>Account <input name=\"account\" required></label> \
         <button type=\"submit\">Submit</button></form>",
        escape(order.amount),
        escape(order.currency),
        flow.label
    );
    page(StatusCode::OK, "Payout details", &body)
}

/// Completes the form of a PaynetEasy-family simulator: resumes processing and sends the
/// browser back to the order's `redirect_url` when it has one.
pub(crate) fn submit_form<O: FamilyOrder>(
    sim: &Arc<FamilySim<O>>,
    flow: &FormFlow<O>,
    paynet_order_id: &str,
    fields: &BTreeMap<String, String>,
) -> Response {
    let account_given = fields.get("account").is_some_and(|a| !a.trim().is_empty());
    let order = {
        let mut orders = sim.orders();
        let Some(order) = orders.by_paynet_mut(paynet_order_id) else {
            return not_found();
        };
        if order.fields().stage != flow.receiver_form {
            return page(
                StatusCode::OK,
                "Payout",
                "<p>This form was already submitted.</p>",
            );
        }
        if !account_given {
            return page(
                StatusCode::BAD_REQUEST,
                "Payout details",
                "<p>account is required.</p>",
            );
        }
        order.set_stage(flow.processing);
        order.clone()
    };
    let order = order.fields();
    (flow.start)(sim.clone(), order.paynet_order_id.to_owned());
    let Some(redirect_url) = order.redirect_url else {
        return page(
            StatusCode::OK,
            "Thank you",
            "<p>The payout is being processed.</p>",
        );
    };
    // "Final redirect": the browser POSTs the order's state to the merchant, with the same
    // control formula (and the order's account's key) as the callback.
    let control = wire::callback_control(
        order.status,
        order.paynet_order_id,
        order.client_orderid,
        &sim.merchant_control(order.endpoint_id),
    );
    let inputs: String = [
        ("status", order.status),
        ("orderid", order.paynet_order_id),
        ("merchant_order", order.client_orderid),
        ("client_orderid", order.client_orderid),
        ("control", control.as_str()),
    ]
    .iter()
    .map(|(k, v)| {
        format!(
            "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
            escape(v)
        )
    })
    .collect();
    let body = format!(
        "<form id=\"back\" method=\"post\" action=\"{}\">{inputs}\
         <button type=\"submit\">Back to the merchant</button></form>\
         <script>document.getElementById('back').submit();</script>",
        escape(redirect_url)
    );
    page(StatusCode::OK, "Returning to the merchant", &body)
}
