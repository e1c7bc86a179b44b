//! Routing rules and the dry run (company JWT):
//! - `PUT /v1/api/routing/rules`: body `{"rules":[…]}` (see
//!   [`overture_core::routing::document`]); the whole document is checked (400
//!   `VALIDATION_ERROR`, each problem named by its path, e.g. `rules[1].then.route[0].account`),
//!   stored as the next version and activated at once; answers `data: {"version": N}`;
//! - `GET /v1/api/routing/rules`: `data: {"version": N, "rules": […], "createdAt"}` (version 0
//!   and no rules when none were stored);
//! - `POST /v1/api/routing/evaluate`: a Cashier body; answers the routing decision
//!   (`{"rule","action","holdForApproval","candidates":[{"account","pspType","eligible",
//!   "reason"?}],"chosen"}`), storing and calling nothing.

use crate::api::auth::CompanyAuth;
use crate::api::cashier::json_body_limited;
use crate::api::cashier_in;
use crate::api::error::{success, ApiError};
use crate::api::openapi::manage_schemas::{ActiveRules, RulesDocument, RulesVersion};
use crate::api::openapi::schemas::{CashierRequest, Envelope, ErrorEnvelope, RoutingDecision};
use crate::api::strict_json;
use crate::app::App;
use crate::service::views::rfc3339;
use crate::service::{create, routing};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, value::RawValue, Value};

/// Largest rules document accepted, in bytes (500 rules fit with room to spare).
pub const MAX_RULES_BYTES: usize = 1024 * 1024;

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/api/routing/rules", get(show).put(put))
        .route("/v1/api/routing/evaluate", post(evaluate))
}

/// Replaces the routing rules: the whole document is checked, stored as the next version and
/// activated at once (every node within 5 s).
#[utoipa::path(put, path = "/v1/api/routing/rules", tag = "Routing", operation_id = "putRoutingRules",
    security(("companyJwt" = [])),
    request_body(content = RulesDocument, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored and active", body = Envelope<RulesVersion>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {"version": 4}})),
    ))]
pub(crate) async fn put(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let bytes = json_body_limited(&headers, body, MAX_RULES_BYTES).await?;
    // Depth and duplicate keys first, as for every body.
    strict_json::parse_object(&bytes)?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| ApiError::MalformedJson("not UTF-8".into()))?;
    let version = routing::store_rules(&app, &company.id, text, "merchant", None).await?;
    Ok(Json(success(json!({ "version": version }))))
}

/// The active rules document and its version.
#[utoipa::path(get, path = "/v1/api/routing/rules", tag = "Routing", operation_id = "getRoutingRules",
    security(("companyJwt" = [])),
    responses(
        (status = 200, description = "The active document (version 0 and no rules when none was stored)", body = Envelope<ActiveRules>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {"version": 4,
                "rules": [{"name": "no TRY", "when": {"currency": "TRY"}, "then": {"block": "not served"}}],
                "createdAt": "2026-12-03T10:00:00.000Z", "createdBy": "merchant"}})),
    ))]
pub(crate) async fn show(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
) -> Result<Json<Value>, ApiError> {
    let data = match app.store.routing_rules(&company.id).await? {
        None => json!({ "version": 0, "rules": [] }),
        Some(stored) => {
            let doc: std::collections::BTreeMap<String, Box<RawValue>> =
                serde_json::from_str(&stored.document).map_err(|e| ApiError::Internal(e.into()))?;
            json!({
                "version": stored.version,
                "rules": doc.get("rules"),
                "createdAt": rfc3339(stored.created_at),
                "createdBy": stored.created_by,
            })
        }
    };
    Ok(Json(success(data)))
}

/// The routing decision for a Cashier body, explained; nothing is stored or sent.
#[utoipa::path(post, path = "/v1/api/routing/evaluate", tag = "Routing", operation_id = "evaluateRouting",
    security(("companyJwt" = [])),
    request_body(content = CashierRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The decision", body = Envelope<RoutingDecision>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {
                "rule": "EUR payouts split", "version": 4, "action": "route", "holdForApproval": false,
                "candidates": [{"account": "psp_01jfxq7a0000000000000000aa", "pspType": "PAYMENTSOFT", "eligible": true}],
                "chosen": "psp_01jfxq7a0000000000000000aa"}})),
        (status = 422, description = "`PSP_NOT_CONFIGURED` or `PSP_NOT_SUPPORTED`: no rule routes the request and the named PSP cannot take it", body = ErrorEnvelope),
    ))]
pub(crate) async fn evaluate(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let bytes = json_body_limited(&headers, body, crate::api::cashier::MAX_BODY_BYTES).await?;
    let body = strict_json::parse_object(&bytes)?;
    let input = cashier_in::parse(&body.fields, |p| app.registry.get(p).is_some())?;
    // No user token on a dry run: fields a token would carry must be in the body.
    let id = overture_core::TransactionId::generate();
    let request = create::payment_request(&input, None, &id);
    let mut decision = routing::evaluate(&app, &company, &input, &request).await?;
    decision.hold_for_approval |= input.txn_type == overture_core::TxnType::Payout
        && company
            .payout_threshold(input.amount.currency().code())
            .is_some_and(|t| input.amount.to_decimal() >= t);
    Ok(Json(success(
        serde_json::to_value(&decision).map_err(|e| ApiError::Internal(e.into()))?,
    )))
}
