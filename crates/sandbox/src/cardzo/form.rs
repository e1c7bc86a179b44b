//! The receiver form behind `redirect-to` (seed 004, steps 9–13: "Some payout methods require
//! the Receiver to fill the additional data on the form") and the browser's "Final redirect"
//! back to the merchant. The sandbox asks for one field, `account`, as the PAYMENTSOFT
//! simulator does, and serves it with that simulator's form code.

use super::{process, Order, Sim};
use crate::paymentsoft::form::{show_form, submit_form, FormFlow};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;
use overture_connectors::cardzo::wire::stage;
use std::collections::BTreeMap;
use std::sync::Arc;

/// This simulator's form flow.
fn flow() -> FormFlow<Order> {
    FormFlow {
        receiver_form: stage::RECEIVER_FORM,
        processing: stage::PROCESSING,
        label: "Cardzo sandbox",
        start: process::start,
    }
}

/// `GET /paynet/form/payout/{paynet_order_id}`: the form, while the order waits for it.
pub(crate) async fn show(
    State(sim): State<Arc<Sim>>,
    Path(paynet_order_id): Path<String>,
) -> Response {
    show_form(&sim, &flow(), &paynet_order_id)
}

/// `POST /paynet/form/payout/{paynet_order_id}` with `account`: completes the form, resumes
/// processing and sends the browser back to `redirect_url` when the payout-check had one.
pub(crate) async fn submit(
    State(sim): State<Arc<Sim>>,
    Path(paynet_order_id): Path<String>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> Response {
    submit_form(&sim, &flow(), &paynet_order_id, &fields)
}
