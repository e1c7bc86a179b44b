//! The OpenAPI 3.1 document of the public API, generated from the handlers' `#[utoipa::path]`
//! attributes and the schema types ([`schemas`], [`manage_schemas`]), served at
//! `GET /openapi.json`, with Swagger UI at `GET /docs/` whose files are compiled into the
//! binary (nothing is loaded from elsewhere, so it works offline).
//!
//! After generation the document is completed in one place ([`complete`]): the security
//! schemes, the error responses every operation shares (401 on authenticated ones; 400, 413
//! and 415 on those with a body; 404 on those naming a resource), the `errorCode` enum and its
//! table (from [`crate::api::error_codes`]) and the outgoing webhook.

pub mod manage_schemas;
pub mod schemas;

use crate::api::error_codes::ERROR_CODES;
use crate::api::{backoffice, callbacks, cashier, company, metrics, psp_accounts, psps};
use crate::api::{routing, transactions, webhooks};
use crate::app::App;
use axum::Router;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/openapi.json";
/// Where Swagger UI is served.
pub const DOCS_PATH: &str = "/docs";

/// Name of the company JWT security scheme.
pub const COMPANY_JWT: &str = "companyJwt";
/// Name of the operator token security scheme.
pub const OPERATOR_TOKEN: &str = "operatorToken";
/// Name of the metrics token security scheme.
pub const METRICS_TOKEN: &str = "metricsToken";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Overture",
        description = "Payments orchestration: one Cashier API for pay-ins and payouts over many PSPs, \
            routing and failover, signed webhooks, and the merchant's own settings.\n\n\
            Amounts in requests are **major units** of the currency (`100.00` EUR); answers give \
            them as strings with the currency's decimals (`\"100.00\"`). Times are RFC 3339 UTC. \
            Every `/v1` answer is an envelope: `{\"status\":\"success\",\"isSuccess\":true,\"data\":…}` \
            or `{\"status\":\"error\",\"isSuccess\":false,\"errorCode\",\"message\",\"errors\"}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        cashier::create_transaction,
        cashier::get_transaction,
        transactions::list,
        routing::put,
        routing::show,
        routing::evaluate,
        psps::list,
        company::show,
        company::patch,
        company::rotate_api,
        company::rotate_webhook,
        psp_accounts::list,
        psp_accounts::create,
        psp_accounts::show,
        psp_accounts::update,
        psp_accounts::delete,
        psp_accounts::test,
        webhooks::list,
        webhooks::redeliver,
        webhooks::test,
        backoffice::list,
        backoffice::approve,
        backoffice::reject,
        callbacks::callback,
        metrics::metrics,
        health,
    ),
    components(schemas(schemas::ErrorEnvelope, schemas::WebhookPayload)),
    tags(
        (name = "Cashier", description = "Create pay-ins and payouts; read one transaction."),
        (name = "Transactions", description = "The company's transactions and webhook deliveries, for reconciliation."),
        (name = "Routing", description = "Routing rules (versioned, validated as a whole) and the dry run."),
        (name = "Company", description = "The company's own settings and secrets."),
        (name = "PSP accounts", description = "The company's PSP accounts and the PSP table."),
        (name = "Back office", description = "Operators' decisions on held payouts."),
        (name = "PSP callbacks", description = "Where PSPs send their notifications (hints, confirmed by a status query)."),
        (name = "Operations", description = "Health and metrics."),
    ),
)]
struct ApiDoc;

/// `GET /healthz`: `ok` while the process serves.
#[utoipa::path(get, path = "/healthz", tag = "Operations",
    responses((status = 200, description = "The process serves", content_type = "text/plain", body = String, example = "ok")))]
#[allow(dead_code)] // the route is a closure in `api::router`; this only documents it
fn health() {}

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
        complete(&mut doc);
        doc
    })
}

/// `GET /openapi.json` and Swagger UI under `/docs/`.
pub fn router() -> Router<App> {
    SwaggerUi::new(DOCS_PATH)
        .external_url_unchecked(DOCUMENT_PATH, document().clone())
        .into()
}

/// Adds what the generator cannot know (see the module docs).
fn complete(doc: &mut Value) {
    let codes: Vec<Value> = ERROR_CODES.iter().map(|c| json!(c.code)).collect();
    let table: String = ERROR_CODES
        .iter()
        .map(|c| {
            let statuses: Vec<String> = c.statuses.iter().map(u16::to_string).collect();
            format!(
                "| `{}` | {} | {} |\n",
                c.code,
                statuses.join(", "),
                c.meaning
            )
        })
        .collect();
    let description = doc["info"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    doc["info"]["description"] = json!(format!(
        "{description}\n\n### Error codes\n\n| errorCode | HTTP | meaning |\n|---|---|---|\n{table}"
    ));
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    let components = &mut doc["components"];
    components["schemas"]["ErrorCodeName"] = json!({
        "type": "string",
        "enum": codes,
        "description": "A stable error code (the table in the document's description)."
    });
    components["securitySchemes"] = security_schemes();
    components["responses"] = shared_responses();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                add_shared_responses(path, method, op);
            }
        }
    }
    doc["webhooks"] = webhook();
}

fn security_schemes() -> Value {
    json!({
        COMPANY_JWT: {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "A company JWT: HS256 with the company's API secret, claims `sub` = company id, `iat`, `exp` (`overture companies token` makes one)."
        },
        OPERATOR_TOKEN: {
            "type": "http", "scheme": "bearer",
            "description": "A back-office operator's API token (`overture operators create` prints it once)."
        },
        METRICS_TOKEN: {
            "type": "http", "scheme": "bearer",
            "description": "`OVERTURE_METRICS_TOKEN`; required in production mode."
        },
        "userToken": {
            "type": "apiKey", "in": "header", "name": "x-user-token",
            "description": "The user's JWT (HS256, the company's API secret, `exp` required): an alternative to `x-user-authorization`."
        }
    })
}

fn error_response(description: &str, example_code: &str, message: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorEnvelope"},
            "example": {"status": "error", "isSuccess": false, "message": message,
                        "errorCode": example_code, "errors": []}
        }}
    })
}

fn shared_responses() -> Value {
    json!({
        "BadRequest": error_response(
            "`VALIDATION_ERROR` (each field named in `errors`) or `MALFORMED_JSON`; nothing stored",
            "VALIDATION_ERROR", "Validation failed"),
        "Unauthorized": error_response(
            "`UNAUTHORIZED`: no valid token", "UNAUTHORIZED", "Unauthorized: missing bearer token"),
        "NotFound": error_response(
            "`NOT_FOUND`: no such resource of this company", "NOT_FOUND", "Not found"),
        "PayloadTooLarge": error_response(
            "`PAYLOAD_TOO_LARGE`", "PAYLOAD_TOO_LARGE", "Request body exceeds 65536 bytes"),
        "UnsupportedMediaType": error_response(
            "`UNSUPPORTED_MEDIA_TYPE`: the body must be application/json",
            "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json"),
    })
}

/// The shared error responses an operation gets by what it is: authenticated ⇒ 401, with a
/// JSON body ⇒ 400/413/415, naming a resource (`{id}`) ⇒ 404, any query parameter ⇒ 400.
fn add_shared_responses(path: &str, method: &str, op: &mut Value) {
    if !path.starts_with("/v1/") || path.starts_with("/v1/api/psp-callbacks/") {
        return;
    }
    let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
    let has_body = op.get("requestBody").is_some();
    let has_query = op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    let names_resource = path.contains('{');
    let responses = op["responses"].as_object_mut();
    let Some(responses) = responses else {
        return;
    };
    let mut add = |status: &str, name: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
    };
    if secured {
        add("401", "Unauthorized");
    }
    if has_body || has_query {
        add("400", "BadRequest");
    }
    if has_body {
        add("413", "PayloadTooLarge");
        add("415", "UnsupportedMediaType");
    }
    if names_resource {
        add("404", "NotFound");
    }
    let _ = method;
}

/// The outgoing webhook, as OpenAPI 3.1 `webhooks`.
fn webhook() -> Value {
    let header = |name: &str, description: &str| {
        json!({"name": name, "in": "header", "required": true, "schema": {"type": "string"},
               "description": description})
    };
    let mut item = Map::new();
    item.insert(
        "post".into(),
        json!({
            "summary": "A transaction reached its final state",
            "description": "POSTed to the company's webhook URL once per final state (`Approved`, `Declined`, `Failed`, `Rejected`), at least once: the event is written with the final state and retried after 5s, 5m, 30m, 2h, 5h, 10h, 10h (±10 %) until a 2xx answer, then dead-lettered (the merchant can redeliver it). De-duplicate by `webhook-id`; verify `webhook-signature` over the raw body (Standard Webhooks).",
            "operationId": "transactionFinal",
            "tags": ["Cashier"],
            "parameters": [
                header("webhook-id", "`msg_…`: the same on every retry and redelivery"),
                header("webhook-timestamp", "Seconds since the Unix epoch when this attempt was signed"),
                header("webhook-signature", "`v1,<base64 HMAC-SHA256(key, \"<webhook-id>.<webhook-timestamp>.<body>\")>` with `key` the base64-decoded part of the company's `whsec_…` secret; during a rotation both signatures, space-separated"),
            ],
            "requestBody": {"required": true, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/WebhookPayload"}}}},
            "responses": {"2XX": {"description": "Delivered; anything else (or no answer in 10 s) is retried"}}
        }),
    );
    json!({ "transactionFinal": Value::Object(item) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_error_code() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let codes = doc["components"]["schemas"]["ErrorCodeName"]["enum"]
            .as_array()
            .unwrap();
        assert_eq!(codes.len(), ERROR_CODES.len());
        let description = doc["info"]["description"].as_str().unwrap();
        for c in ERROR_CODES {
            assert!(description.contains(&format!("`{}`", c.code)), "{}", c.code);
        }
        assert!(doc["webhooks"]["transactionFinal"]["post"].is_object());
    }

    /// Every `.route("…", get(…).post(…))` under `src/api/` (read from the source, so a new
    /// route counts the moment it is written) with its methods; `any(…)` stands for GET and POST
    /// (PSP callbacks).
    fn routes_in_source() -> Vec<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut rest = text.as_str();
            while let Some(at) = rest.find(".route(") {
                rest = &rest[at + ".route(".len()..];
                let Some(open) = rest.find('"') else { break };
                let after = &rest[open + 1..];
                let close = after.find('"').unwrap();
                let route = after[..close].to_owned();
                // The method chain runs to the end of the `.route(…)` call: the next `.route(`
                // or the end of the builder.
                let chain_end = after.find(".route(").unwrap_or(after.len());
                let chain = &after[close..chain_end];
                let chain = &chain[..chain.find("\n}").unwrap_or(chain.len())];
                for method in ["get", "post", "put", "patch", "delete"] {
                    let called = chain.contains(&format!(" {method}("))
                        || chain.contains(&format!(".{method}("))
                        || chain.contains(&format!("({method}("))
                        || chain.contains(&format!("::{method}("));
                    if called {
                        found.push((route.clone(), method.to_owned()));
                    }
                }
                if chain.contains("any(") {
                    found.push((route.clone(), "get".to_owned()));
                    found.push((route.clone(), "post".to_owned()));
                }
            }
        }
        found.sort();
        found.dedup();
        found
    }

    #[test]
    fn every_route_is_in_the_document() {
        let doc = document();
        let routes = routes_in_source();
        assert!(
            routes.len() > 20,
            "the source scan found too little: {routes:?}"
        );
        let mut missing = Vec::new();
        for (route, method) in &routes {
            if !doc["paths"][route.as_str()][method.as_str()].is_object() {
                missing.push(format!("{} {route}", method.to_uppercase()));
            }
        }
        assert!(
            missing.is_empty(),
            "routes missing from the OpenAPI document: {missing:?}"
        );
        // And the other way: nothing documented that no route serves.
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                assert!(
                    routes.contains(&(path.clone(), method.clone())),
                    "{method} {path} is documented but not routed"
                );
            }
        }
    }

    #[test]
    fn every_operation_has_an_example_and_documented_errors() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let text = op.to_string();
                assert!(
                    text.contains("\"example\"") || text.contains("\"examples\""),
                    "{method} {path} has no example"
                );
                if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                    assert!(
                        op["responses"]["401"].is_object(),
                        "{method} {path}: no 401"
                    );
                }
            }
        }
    }
}
