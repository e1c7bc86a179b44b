//! `GET /v1/api/psps`: the capability table, generated from the connector registry.

use crate::app::App;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use overture_core::connector::Capabilities;
use serde_json::{json, Value};

pub fn router() -> Router<App> {
    Router::new().route("/v1/api/psps", get(list))
}

/// One capability row as JSON.
pub fn capability_json(c: &Capabilities) -> Value {
    json!({
        "pspType": c.psp_type,
        "name": c.display_name,
        "payin": c.payin,
        "payout": c.payout,
        "currencies": c.currencies,
        "countries": if c.countries.is_empty() { json!("any") } else { json!(c.countries) },
        "payinFields": c.payin_fields,
        "payoutFields": c.payout_fields,
        "asyncModel": c.async_model,
        "credentialFields": c.credential_fields,
    })
}

async fn list(State(app): State<App>) -> Json<Value> {
    let rows: Vec<Value> = app
        .registry
        .capabilities()
        .into_iter()
        .map(capability_json)
        .collect();
    Json(crate::api::error::success(json!({ "psps": rows })))
}
