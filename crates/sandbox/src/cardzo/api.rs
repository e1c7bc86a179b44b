//! The API calls: `/api/v4/payout-check`, `/api/v4/payout-pay` and `/api/v2/status`
//! (doc.payneteasy.com). Answers use the PaynetEasy `name=value\n&…` layout; error codes are the
//! sandbox's documented choices (module docs and `overture_connectors::cardzo::wire`). What the
//! PaynetEasy family shares (answer layout, OAuth check, payout fields, status) comes from the
//! PAYMENTSOFT simulator.

use super::{process, Order, Sim, BANK_NEVER_VALIDATES_CENTS, RECEIVER_FORM_CENTS};
use crate::paymentsoft::api::{
    accepted, duplicate_order, field, signed_form, status_answer, validate, validation_error,
};
use crate::Scenario;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use overture_connectors::cardzo::wire::{self, stage, status};
use std::sync::Arc;

/// `POST /paynet/api/v4/payout-check/{endpoint_id}` ("/api/v4/payout-check"): creates the
/// order and hands it to the bank for validation. No money moves.
pub(crate) async fn payout_check(
    State(sim): State<Arc<Sim>>,
    Path(endpoint_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form = match signed_form(
        &sim,
        wire::PAYOUT_CHECK_PATH,
        &endpoint_id,
        uri.path(),
        &headers,
        &body,
    ) {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let new = match validate(&form) {
        Ok(new) => new,
        Err(message) => return validation_error(wire::CODE_INVALID_FIELD, &message, &[]),
    };
    let scenario = Scenario::from_minor(new.amount.minor());
    if scenario == Scenario::Http500OnCreate {
        // The PSP fails before creating anything: a later status query finds no order.
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n").into_response();
    }
    let paynet_order_id = {
        let mut orders = sim.orders();
        if let Some(existing) = orders.by_client_mut(&endpoint_id, &new.client_orderid) {
            let id = existing.paynet_order_id.clone();
            drop(orders);
            return duplicate_order(&new.client_orderid, &id);
        }
        let id = sim.next_order_id();
        orders.insert(
            &endpoint_id,
            &new.client_orderid,
            &id,
            Order {
                endpoint_id: endpoint_id.clone(),
                client_orderid: new.client_orderid.clone(),
                paynet_order_id: id.clone(),
                amount: new.amount_text.clone(),
                currency: new.amount.currency().code().to_owned(),
                status: status::PROCESSING.to_owned(),
                stage: stage::CHECK_VALIDATING,
                scenario,
                bank_never_validates: new.amount.cents() == BANK_NEVER_VALIDATES_CENTS,
                receiver_form: new.amount.cents() == RECEIVER_FORM_CENTS,
                callback_url: new.callback_url.clone(),
                redirect_url: new.redirect_url.clone(),
                error_message: None,
                check_executions: 1,
                pay_requests: 0,
                pay_executions: 0,
                callbacks_sent: 0,
                status_queries: 0,
            },
        );
        id
    };
    process::validate_later(sim.clone(), paynet_order_id.clone());
    accepted(&new.client_orderid, &paynet_order_id)
}

/// `POST /paynet/api/v4/payout-pay/{endpoint_id}` ("/api/v4/payout-pay"): executes the payout
/// of a validated order, exactly once.
pub(crate) async fn payout_pay(
    State(sim): State<Arc<Sim>>,
    Path(endpoint_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form = match signed_form(
        &sim,
        wire::PAYOUT_PAY_PATH,
        &endpoint_id,
        uri.path(),
        &headers,
        &body,
    ) {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let (Some(client_orderid), Some(orderid), Some(login)) = (
        field(&form, "client_orderid"),
        field(&form, "orderid"),
        field(&form, "login"),
    ) else {
        return validation_error(
            wire::CODE_INVALID_FIELD,
            "client_orderid, orderid and login are required",
            &[],
        );
    };
    if login != sim.login(&endpoint_id) {
        return validation_error(wire::CODE_BAD_CONTROL, "login does not match", &[]);
    }
    // Check and change the stage under one lock so two racing payout-pays execute once.
    let executed = {
        let mut orders = sim.orders();
        let Some(order) = orders
            .by_paynet_mut(&orderid)
            .filter(|o| o.client_orderid == client_orderid && o.endpoint_id == endpoint_id)
        else {
            drop(orders);
            return validation_error(wire::CODE_ORDER_NOT_FOUND, "Order not found", &[]);
        };
        order.pay_requests += 1;
        if order.pay_executions > 0 {
            Err((
                wire::CODE_PAY_ALREADY_RECEIVED,
                "payout-pay already received for this order",
            ))
        } else if order.stage != stage::CHECK_VALIDATED {
            Err((
                wire::CODE_NOT_VALIDATED,
                "order is not validated by the bank",
            ))
        } else {
            order.pay_executions += 1;
            order.stage = if order.receiver_form {
                stage::RECEIVER_FORM
            } else {
                stage::PROCESSING
            };
            Ok(order.receiver_form)
        }
    };
    match executed {
        // A receiver-form order waits for the form; the others go on at once.
        Ok(waits_for_form) => {
            if !waits_for_form {
                process::start(sim.clone(), orderid.clone());
            }
            accepted(&client_orderid, &orderid)
        }
        Err((code, message)) => validation_error(
            code,
            message,
            &[
                ("merchant-order-id", client_orderid.as_str()),
                ("paynet-order-id", orderid.as_str()),
            ],
        ),
    }
}

/// `POST /paynet/api/v2/status/{endpoint_id}` ("/api/v2/status").
pub(crate) async fn status(
    State(sim): State<Arc<Sim>>,
    Path(endpoint_id): Path<String>,
    body: String,
) -> Response {
    status_answer(&sim, &endpoint_id, &body, stage::RECEIVER_FORM)
}
