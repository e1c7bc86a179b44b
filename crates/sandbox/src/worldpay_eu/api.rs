//! `POST /jsp/merchant/xml/paymentService.jsp`: authentication, `<submit>` of HPP orders and
//! `<inquiry><orderInquiry>` (wire format in `overture_connectors::worldpay_eu::wire`).

use super::{authenticate, AccountSecrets, Order, Shared};
use crate::keyring;
use crate::Scenario;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use overture_connectors::worldpay_eu::wire::{self, ErrorElement, PaymentService, Reply};
use std::sync::Arc;

/// The XML gateway.
pub(crate) async fn payment_service(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(merchant) = authenticate(&shared.config.seed, &headers) else {
        return (StatusCode::UNAUTHORIZED, "authentication error").into_response();
    };
    let text = String::from_utf8_lossy(&body);
    let doc = match PaymentService::parse(&text) {
        Ok(doc) => doc,
        Err(e) => {
            let error = ErrorElement::new(wire::ERROR_PARSE, &format!("Parse error: {e}"));
            return answer(&merchant, reply_error(error));
        }
    };
    if doc.merchant_code != merchant {
        let error = ErrorElement::new(wire::ERROR_SECURITY, "Security violation");
        return answer(&merchant, reply_error(error));
    }
    let reply = match (doc.submit, doc.inquiry) {
        (Some(submit), None) => match submit_order(&shared, &merchant, submit.order) {
            Some(reply) => reply,
            None => return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
        },
        (None, Some(inquiry)) => inquire(&shared, &merchant, &inquiry.order_inquiry.order_code),
        _ => reply_error(ErrorElement::new(
            wire::ERROR_INVALID_REQUEST,
            "Invalid request: one submit or inquiry expected",
        )),
    };
    answer(&merchant, reply)
}

fn reply_error(error: ErrorElement) -> Reply {
    Reply {
        order_status: None,
        error: Some(error),
    }
}

fn status_error(order_code: &str, message: &str) -> Reply {
    Reply {
        order_status: Some(wire::OrderStatus {
            order_code: order_code.to_owned(),
            error: Some(ErrorElement::new(wire::ERROR_INVALID_REQUEST, message)),
            ..Default::default()
        }),
        error: None,
    }
}

/// A 200 `text/xml` answer carrying `reply`.
fn answer(merchant: &str, reply: Reply) -> Response {
    let mut doc = PaymentService::new(merchant);
    doc.reply = Some(reply);
    match doc.to_xml() {
        Ok(xml) => ([(header::CONTENT_TYPE, "text/xml; charset=UTF-8")], xml).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Checks and stores an HPP order; `None` for `.54` (HTTP 500, nothing created).
fn submit_order(shared: &Shared, merchant: &str, order: wire::Order) -> Option<Reply> {
    let code = order.order_code.trim().to_owned();
    if code.is_empty() || code.len() > 64 {
        return Some(reply_error(ErrorElement::new(
            wire::ERROR_INVALID_REQUEST,
            "orderCode: 1 to 64 characters",
        )));
    }
    let secrets = AccountSecrets::of(&shared.config.seed, merchant);
    if order.installation_id.as_deref().map(str::trim) != Some(secrets.installation_id.as_str()) {
        return Some(status_error(&code, "Invalid installation id"));
    }
    let Some(amount) = order.amount.to_money().filter(|m| m.minor() > 0) else {
        return Some(status_error(&code, "Invalid amount, currency or exponent"));
    };
    let scenario = Scenario::from_minor(amount.minor());
    if scenario == Scenario::Http500OnCreate {
        return None;
    }
    let created = shared.insert(Order {
        seq: 0,
        merchant_code: merchant.to_owned(),
        order_code: code.clone(),
        reference_id: keyring::random_digits(10),
        ticket: keyring::random_alphanumeric(24),
        amount,
        scenario,
        last_event: None,
        return_code: None,
        executions: 0,
        notify_attempts: 0,
        notifications_acked: 0,
        inquiries: 0,
    });
    let Some(created) = created else {
        return Some(status_error(&code, "Duplicate Order"));
    };
    Some(Reply {
        order_status: Some(wire::OrderStatus {
            order_code: code,
            reference: Some(wire::Reference {
                id: created.reference_id.clone(),
                url: shared.page_url(&created),
            }),
            ..Default::default()
        }),
        error: None,
    })
}

/// The order's payment, "no payment" before the shopper acted, or an unknown order.
fn inquire(shared: &Shared, merchant: &str, order_code: &str) -> Reply {
    let key = (merchant.to_owned(), order_code.trim().to_owned());
    let found = shared.update(&key, |o| {
        o.inquiries += 1;
        o.clone()
    });
    let Some(order) = found else {
        return reply_error(ErrorElement::new(
            wire::ERROR_INVALID_REQUEST,
            "Could not find payment for order",
        ));
    };
    let Some(event) = order.last_event else {
        return status_error(order_code, "Order has no payment");
    };
    Reply {
        order_status: Some(wire::OrderStatus {
            order_code: order.order_code.clone(),
            payment: Some(order.payment(event)),
            ..Default::default()
        }),
        error: None,
    }
}
