//! The receiver form behind `redirect-to` (seed 004, steps 9–13: "Some payout methods require
//! the Receiver to fill the additional data on the form") and the browser's "Final redirect"
//! back to the merchant. The sandbox asks for one field, `account`, as the PAYMENTSOFT
//! simulator does.

use super::{process, Sim, SANDBOX_MERCHANT_CONTROL};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use overture_connectors::cardzo::wire::{self, stage};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Minimal HTML escaping for values placed in text or attributes.
fn escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(code: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}</body></html>\n"
    );
    (code, Html(html)).into_response()
}

/// `GET /paynet/form/payout/{paynet_order_id}`: the form, while the order waits for it.
pub(crate) async fn show(
    State(sim): State<Arc<Sim>>,
    Path(paynet_order_id): Path<String>,
) -> Response {
    let Some(order) = sim.orders().by_paynet_mut(&paynet_order_id).cloned() else {
        return page(
            StatusCode::NOT_FOUND,
            "Payout not found",
            "<p>No such payout.</p>",
        );
    };
    if order.stage != stage::RECEIVER_FORM {
        return page(StatusCode::OK, "Payout", "<p>Nothing left to fill in.</p>");
    }
    let body = format!(
        "<p>Payout of {} {} (Cardzo sandbox). Enter the account to receive it.</p>\
         <form method=\"post\"><label>Account <input name=\"account\" required></label> \
         <button type=\"submit\">Submit</button></form>",
        escape(&order.amount),
        escape(&order.currency)
    );
    page(StatusCode::OK, "Payout details", &body)
}

/// `POST /paynet/form/payout/{paynet_order_id}` with `account`: completes the form, resumes
/// processing and sends the browser back to `redirect_url` when the payout-check had one.
pub(crate) async fn submit(
    State(sim): State<Arc<Sim>>,
    Path(paynet_order_id): Path<String>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> Response {
    let account_given = fields.get("account").is_some_and(|a| !a.trim().is_empty());
    let order = {
        let mut orders = sim.orders();
        let Some(order) = orders.by_paynet_mut(&paynet_order_id) else {
            return page(
                StatusCode::NOT_FOUND,
                "Payout not found",
                "<p>No such payout.</p>",
            );
        };
        if order.stage != stage::RECEIVER_FORM {
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
        order.stage = stage::PROCESSING;
        order.clone()
    };
    process::start(sim.clone(), order.client_orderid.clone());
    let Some(redirect_url) = order.redirect_url else {
        return page(
            StatusCode::OK,
            "Thank you",
            "<p>The payout is being processed.</p>",
        );
    };
    // "Final redirect": the browser POSTs the order's state to the merchant, with the same
    // control formula as the callback.
    let control = wire::callback_control(
        &order.status,
        &order.paynet_order_id,
        &order.client_orderid,
        SANDBOX_MERCHANT_CONTROL,
    );
    let inputs: String = [
        ("status", order.status.as_str()),
        ("orderid", order.paynet_order_id.as_str()),
        ("merchant_order", order.client_orderid.as_str()),
        ("client_orderid", order.client_orderid.as_str()),
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
        escape(&redirect_url)
    );
    page(StatusCode::OK, "Returning to the merchant", &body)
}
