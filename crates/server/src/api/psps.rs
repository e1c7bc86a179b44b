//! `GET /v1/api/psps`: the capability table, generated from the connector registry.

use crate::api::openapi::manage_schemas::PspList;
use crate::api::openapi::schemas::Envelope;
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

/// The capability table as Markdown (what `overture psps` prints and the README embeds).
pub fn capability_markdown(caps: &[&Capabilities]) -> String {
    let mut out = String::from(
        "| pspType | PSP | pay-in | payout | currencies | countries | required fields | final status by |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let yes = |b: bool| if b { "yes" } else { "no" };
    for c in caps {
        let mut fields = Vec::new();
        if !c.payin_fields.is_empty() {
            fields.push(format!("pay-in: {}", c.payin_fields.join(", ")));
        }
        if !c.payout_fields.is_empty() {
            fields.push(format!("payout: {}", c.payout_fields.join(", ")));
        }
        let countries = if c.countries.is_empty() {
            "any".to_owned()
        } else {
            c.countries.join(" ")
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            c.psp_type,
            c.display_name,
            yes(c.payin),
            yes(c.payout),
            c.currencies.join(" "),
            countries,
            if fields.is_empty() {
                "—".to_owned()
            } else {
                fields.join("; ")
            },
            c.async_model.replace('|', "/"),
        ));
    }
    out
}

/// The PSP table: what each connector can do and the credentials its accounts take.
#[utoipa::path(get, path = "/v1/api/psps", tag = "PSP accounts", operation_id = "listPsps",
    responses(
        (status = 200, description = "Every PSP", body = Envelope<PspList>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {"psps": [
                {"pspType": "PAYMENTSOFT", "name": "Payment Soft", "payin": false, "payout": true, "currencies": ["EUR"],
                 "countries": "any", "payinFields": [], "payoutFields": ["cardToken"], "asyncModel": "callback+poll",
                 "credentialFields": ["client_id", "oauth_private_key"]}]}})),
    ))]
pub(crate) async fn list(State(app): State<App>) -> Json<Value> {
    let rows: Vec<Value> = app
        .registry
        .capabilities()
        .into_iter()
        .map(capability_json)
        .collect();
    Json(crate::api::error::success(json!({ "psps": rows })))
}

#[cfg(test)]
mod tests {
    use overture_connectors::http::{OutboundPolicy, PspHttp};
    use overture_connectors::Registry;

    #[test]
    fn readme_capability_table_is_generated_from_the_registry() {
        let http = PspHttp::new(std::time::Duration::from_secs(1), OutboundPolicy::default());
        let registry = Registry::builtin(http);
        let table = super::capability_markdown(&registry.capabilities());
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
        assert!(
            readme.contains(&table),
            "README.md's PSP table is stale; replace it with the output of `overture psps`:\n{table}"
        );
    }
}
