//! The Hosted Payment Page (`{base}/hpp?OrderKey=…&Ticket=…` plus the merchant's result URLs).
//! `GET` shows the amount and a form; `POST outcome=approve|decline` stands in for the shopper
//! entering a card: the payment gets its final `lastEvent` (the amount's scenario, or REFUSED
//! for a declined page), notifications go out, and the shopper is redirected (303) to the
//! result URL with Worldpay's parameters and `mac2` (the sandboxes' hosted-page
//! convention).

use super::{notify, AccountSecrets, Key, Order, Shared};
use crate::html::{self, escape, page};
use crate::Scenario;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use overture_connectors::worldpay_eu::wire::{self, last_event};
use std::collections::HashMap;
use std::sync::Arc;

type Params = HashMap<String, String>;

/// The order named by the page's `Ticket`, checked against its `OrderKey`.
fn order_of(shared: &Shared, query: &Params) -> Option<(Key, Order)> {
    let key = shared.by_ticket(query.get("Ticket")?)?;
    let order = shared.update(&key, |o| o.clone())?;
    let expected = format!("{}^{}", order.merchant_code, order.order_code);
    (query.get("OrderKey") == Some(&expected)).then_some((key, order))
}

/// `GET /hpp`.
pub(crate) async fn show(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<Params>,
) -> Response {
    let Some((_, order)) = order_of(&shared, &query) else {
        return html::not_found("No such payment page");
    };
    if let Some(event) = order.last_event {
        return result_page(&order, event);
    }
    let body = format!(
        "<h1>Worldpay payment page (sandbox)</h1>\
         <p>Pay <b>{} {}</b> by card. No card details are asked in the sandbox.</p>\
         <form method=\"post\">\
         <button name=\"outcome\" value=\"approve\">Pay</button> \
         <button name=\"outcome\" value=\"decline\">Refuse</button>\
         </form>",
        escape(&order.amount.to_major_string()),
        escape(order.amount.currency().code()),
    );
    Html(page("Worldpay Hosted Payment Page", &body)).into_response()
}

/// The `lastEvent` (and ISO 8583 code) a page choice gives.
fn outcome(
    approve: bool,
    scenario: Scenario,
) -> (&'static str, Option<(&'static str, &'static str)>) {
    if !approve {
        return (last_event::REFUSED, Some(("5", "REFUSED")));
    }
    match scenario {
        Scenario::Decline => (last_event::REFUSED, Some(("51", "INSUFFICIENT FUNDS"))),
        Scenario::Error => (last_event::ERROR, None),
        Scenario::StaysProcessing => (last_event::SENT_FOR_AUTHORISATION, None),
        Scenario::Approve
        | Scenario::Http500OnCreate
        | Scenario::NoCallback
        | Scenario::DuplicateCallback
        | Scenario::ForgedCallback => (last_event::AUTHORISED, None),
    }
}

/// `POST /hpp` with `outcome=approve|decline`.
pub(crate) async fn complete(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<Params>,
    Form(form): Form<Params>,
) -> Response {
    let approve = match form.get("outcome").map(String::as_str) {
        Some("approve") => true,
        Some("decline") => false,
        _ => {
            let body = "<p>outcome must be approve or decline</p>";
            return (StatusCode::BAD_REQUEST, Html(page("Bad request", body))).into_response();
        }
    };
    let Some((key, order)) = order_of(&shared, &query) else {
        return html::not_found("No such payment page");
    };
    let (event, code) = outcome(approve, order.scenario);
    // Decide and record in one step so that two racing POSTs act once.
    let first = shared
        .update(&key, |o| {
            let first = o.last_event.is_none();
            if first {
                o.last_event = Some(event);
                o.return_code = code;
                o.executions += u32::from(event == last_event::AUTHORISED);
            }
            (first, o.clone())
        })
        .filter(|(first, _)| *first);
    let order = match first {
        Some((_, order)) => {
            if event != last_event::SENT_FOR_AUTHORISATION {
                notify::send(&shared, &order, event);
            }
            order
        }
        None => shared.update(&key, |o| o.clone()).unwrap_or(order),
    };
    let current = order.last_event.unwrap_or(event);
    match result_url(&query, current) {
        Some(url) => Redirect::to(&with_result(&shared, &order, &url, current)).into_response(),
        None => result_page(&order, current),
    }
}

/// The merchant's result URL for `event`, if the page URL carried one.
fn result_url(query: &Params, event: &str) -> Option<String> {
    let name = match event {
        last_event::AUTHORISED => "successURL",
        last_event::REFUSED => "failureURL",
        last_event::ERROR => "errorURL",
        _ => "pendingURL",
    };
    query.get(name).filter(|u| !u.is_empty()).cloned()
}

/// `url` with Worldpay's redirect parameters; `mac2` for AUTHORISED and REFUSED only, a wrong
/// one for `.57`.
fn with_result(shared: &Shared, order: &Order, url: &str, event: &str) -> String {
    let key = order.order_key();
    let amount = order.amount.minor().to_string();
    let currency = order.amount.currency().code();
    let mut params = vec![
        ("orderKey", key.clone()),
        ("paymentStatus", event.to_owned()),
        ("paymentAmount", amount.clone()),
        ("paymentCurrency", currency.to_owned()),
    ];
    if matches!(event, last_event::AUTHORISED | last_event::REFUSED) {
        let secret = match order.scenario {
            Scenario::ForgedCallback => "not-the-merchants-mac-secret".to_owned(),
            _ => AccountSecrets::of(&shared.config.seed, &order.merchant_code).mac_secret,
        };
        params.push((
            "mac2",
            wire::redirect_mac(&secret, &[&key, &amount, currency, event]),
        ));
    }
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

fn result_page(order: &Order, event: &str) -> Response {
    let body = format!(
        "<h1>Payment {}</h1><p>Order {}</p>",
        escape(event),
        escape(&order.order_code)
    );
    Html(page("Worldpay sandbox result", &body)).into_response()
}
