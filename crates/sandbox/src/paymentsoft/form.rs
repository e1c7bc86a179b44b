//! The receiver form behind `redirect-to` (Payment Soft payout flow, steps 5–9: "Some payout
//! methods require the Receiver to fill the additional data on the form") and the browser's
//! "Final redirect" back to the merchant. The sandbox asks for one field, `account`.

use super::{process, Sim, SANDBOX_MERCHANT_CONTROL, STAGE_PROCESSING, STAGE_RECEIVER_FORM};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use overture_connectors::paymentsoft::wire;
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

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}</body></html>\n"
    )
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(page("Payout not found", "<p>No such payout.</p>")),
    )
        .into_response()
}

/// `GET /paynet/form/payout/{paynet_order_id}`: the form, while the order waits for it.
pub(crate) async fn show(
    State(sim): State<Arc<Sim>>,
    Path(paynet_order_id): Path<String>,
) -> Response {
    let Some(order) = sim.orders().by_paynet_mut(&paynet_order_id).cloned() else {
        return not_found();
    };
    if order.stage != STAGE_RECEIVER_FORM {
        return Html(page("Payout", "<p>Nothing left to fill in.</p>")).into_response();
    }
    let body = format!(
        "<p>Payout of {} {} (sandbox). Enter the account to receive it.</p>\
         <form method=\"post\"><label>Account <input name=\"account\" required></label> \
         <button type=\"submit\">Submit</button></form>",
        escape(&order.amount),
        escape(&order.currency)
    );
    Html(page("Payout details", &body)).into_response()
}

/// `POST /paynet/form/payout/{paynet_order_id}` with `account`: completes the form, resumes
/// processing and sends the browser back to `redirect_url` when the payout request had one.
pub(crate) async fn submit(
    State(sim): State<Arc<Sim>>,
    Path(paynet_order_id): Path<String>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> Response {
    let account_given = fields.get("account").is_some_and(|a| !a.trim().is_empty());
    let order = {
        let mut orders = sim.orders();
        let Some(order) = orders.by_paynet_mut(&paynet_order_id) else {
            return not_found();
        };
        if order.stage != STAGE_RECEIVER_FORM {
            return Html(page("Payout", "<p>This form was already submitted.</p>")).into_response();
        }
        if !account_given {
            return (
                StatusCode::BAD_REQUEST,
                Html(page("Payout details", "<p>account is required.</p>")),
            )
                .into_response();
        }
        order.stage = STAGE_PROCESSING;
        order.clone()
    };
    process::start(sim.clone(), order.client_orderid.clone());
    let Some(redirect_url) = order.redirect_url else {
        return Html(page("Thank you", "<p>The payout is being processed.</p>")).into_response();
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
    Html(page("Returning to the merchant", &body)).into_response()
}
