//! The merchant's own company settings (company JWT):
//! - `GET /v1/api/company`: `data` as [`company::view`] (no secrets);
//! - `PATCH /v1/api/company`: any of `name`, `webhookUrl`, `verifyUserUrl`,
//!   `webhookAuthorization` (string, or `null` to clear; write-only), `verifyPayins`,
//!   `payoutApprovalThresholds` / `fourEyesThresholds` (objects of ISO code → major units as a
//!   string, or `null` to remove that currency's own), `defaultPayoutApprovalThreshold` /
//!   `defaultFourEyesThreshold` (string or `null`). Only the keys given change; the whole body
//!   is checked first (400 `VALIDATION_ERROR` naming each field; nothing stored); answers the
//!   new settings;
//! - `POST /v1/api/company/rotate-api-secret` / `rotate-webhook-secret`: a new secret, shown
//!   once (`data: {"apiSecret"|"webhookSecret", "previousValidUntil"}`); the old one keeps
//!   working for `OVERTURE_SECRET_GRACE`.

use crate::api::auth::CompanyAuth;
use crate::api::cashier::json_body;
use crate::api::error::{success, ApiError, FieldProblem};
use crate::api::openapi::manage_schemas::{
    CompanyPatch as CompanyPatchDoc, CompanyView, RotatedApiSecret, RotatedWebhookSecret,
};
use crate::api::openapi::schemas::Envelope;
use crate::api::strict_json;
use crate::app::App;
use crate::service::audit::{self, Channel};
use crate::service::company::{self, CompanyPatch};
use crate::service::views::rfc3339;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use overture_core::backoffice::AuditAction;
use overture_core::{Currency, SecretKind};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, value::RawValue, Value};
use std::collections::BTreeMap;

/// Longest webhook `Authorization` value accepted, in bytes.
const MAX_AUTHORIZATION_BYTES: usize = 4096;

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/api/company", get(show).patch(patch))
        .route("/v1/api/company/rotate-api-secret", post(rotate_api))
        .route(
            "/v1/api/company/rotate-webhook-secret",
            post(rotate_webhook),
        )
}

/// The company's settings (no secret values).
#[utoipa::path(get, path = "/v1/api/company", tag = "Company", operation_id = "getCompany",
    security(("companyJwt" = [])),
    responses(
        (status = 200, description = "The settings", body = Envelope<CompanyView>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {
                "companyId": "cmp_01jfxq5z0000000000000000aa", "name": "Example shop",
                "webhookUrl": "https://merchant.example/overture/webhook", "verifyUserUrl": "https://merchant.example/verify-user",
                "webhookAuthorizationSet": false, "verifyPayins": false, "payoutApprovalThresholds": {"EUR": "5000.00"},
                "defaultPayoutApprovalThreshold": "1000", "fourEyesThresholds": {}, "defaultFourEyesThreshold": null,
                "previousApiSecretValidUntil": null, "previousWebhookSecretSignsUntil": null,
                "createdAt": "2026-12-01T09:00:00.000Z"}})),
    ))]
pub(crate) async fn show(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
) -> Result<Json<Value>, ApiError> {
    let view = company::view(app.store.as_ref(), &company, app.now()).await?;
    Ok(Json(success(view)))
}

/// Changes the keys given; the whole body is checked first (nothing stored on error).
#[utoipa::path(patch, path = "/v1/api/company", tag = "Company", operation_id = "patchCompany",
    security(("companyJwt" = [])),
    request_body(content = CompanyPatchDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "The new settings", body = Envelope<CompanyView>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {
                "companyId": "cmp_01jfxq5z0000000000000000aa", "name": "Example shop", "webhookAuthorizationSet": false,
                "verifyPayins": false, "payoutApprovalThresholds": {"EUR": "5000.00"}, "fourEyesThresholds": {},
                "createdAt": "2026-12-01T09:00:00.000Z"}})),
    ))]
pub(crate) async fn patch(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let bytes = json_body(&headers, body).await?;
    let body = strict_json::parse_object(&bytes)?;
    let patch = parse_patch(&body.fields)?;
    let record = audit::actor_action(
        "merchant API",
        Channel::Api,
        AuditAction::UpdateCompany,
        Some(company.id.to_string()),
        Some(&patch.audit_detail()),
        app.now(),
    );
    let updated = company::update(
        app.store.as_ref(),
        app.http.policy(),
        &company.id,
        patch,
        Some(&record),
    )
    .await;
    // Whatever happened, this node reads the company afresh next time.
    app.companies.invalidate(&company.id);
    let updated = updated?;
    let view = company::view(app.store.as_ref(), &updated, app.now()).await?;
    Ok(Json(success(view)))
}

/// A new API secret, shown once; the old one keeps verifying tokens for the grace period
/// (`OVERTURE_SECRET_GRACE`, 24 h).
#[utoipa::path(post, path = "/v1/api/company/rotate-api-secret", tag = "Company", operation_id = "rotateApiSecret",
    security(("companyJwt" = [])),
    responses(
        (status = 200, description = "The new secret", body = Envelope<RotatedApiSecret>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {
                "apiSecret": "3q2+7w…", "previousValidUntil": "2026-12-04T10:00:00.000Z"}})),
    ))]
pub(crate) async fn rotate_api(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
) -> Result<Json<Value>, ApiError> {
    rotate(&app, &company.id, SecretKind::Api, "apiSecret").await
}

/// A new webhook secret (`whsec_…`), shown once; webhooks carry both signatures for the grace
/// period.
#[utoipa::path(post, path = "/v1/api/company/rotate-webhook-secret", tag = "Company", operation_id = "rotateWebhookSecret",
    security(("companyJwt" = [])),
    responses(
        (status = 200, description = "The new secret", body = Envelope<RotatedWebhookSecret>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {
                "webhookSecret": "whsec_…", "previousValidUntil": "2026-12-04T10:00:00.000Z"}})),
    ))]
pub(crate) async fn rotate_webhook(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
) -> Result<Json<Value>, ApiError> {
    rotate(&app, &company.id, SecretKind::Webhook, "webhookSecret").await
}

async fn rotate(
    app: &App,
    id: &overture_core::CompanyId,
    which: SecretKind,
    key: &str,
) -> Result<Json<Value>, ApiError> {
    let rotated = company::rotate(
        app.store.as_ref(),
        id,
        which,
        app.now(),
        app.tuning.secret_grace,
    )
    .await?;
    app.companies.invalidate(id);
    tracing::info!(company = %id, ?which, "company secret rotated");
    Ok(Json(success(json!({
        key: rotated.secret.expose_secret(),
        "previousValidUntil": rfc3339(rotated.previous_valid_until),
    }))))
}

/// Reads a PATCH body into a [`CompanyPatch`]; every problem is reported at once, each named
/// by its field (`payoutApprovalThresholds.EUR`), and an unknown key is a problem too.
pub fn parse_patch(fields: &BTreeMap<String, Box<RawValue>>) -> Result<CompanyPatch, ApiError> {
    let mut patch = CompanyPatch::default();
    let mut problems = Vec::new();
    for (key, raw) in fields {
        let value: Value =
            serde_json::from_str(raw.get()).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
        match key.as_str() {
            "name" => match value.as_str() {
                Some(s) => patch.name = Some(s.to_owned()),
                None => bad(&mut problems, key, "must be a string"),
            },
            "webhookUrl" => match value.as_str() {
                Some(s) => patch.webhook_url = Some(s.trim().to_owned()),
                None => bad(&mut problems, key, "must be a string"),
            },
            "verifyUserUrl" => match value.as_str() {
                Some(s) => patch.verify_user_url = Some(s.trim().to_owned()),
                None => bad(&mut problems, key, "must be a string"),
            },
            "webhookAuthorization" => match &value {
                Value::Null => patch.webhook_authorization = Some(None),
                Value::String(s) if s.trim().is_empty() => {
                    bad(&mut problems, key, "must not be empty (null clears it)")
                }
                Value::String(s) if s.len() > MAX_AUTHORIZATION_BYTES => {
                    bad(&mut problems, key, "at most 4096 bytes")
                }
                Value::String(s) if s.chars().any(|c| c.is_control()) => {
                    bad(&mut problems, key, "must be a single-line header value")
                }
                Value::String(s) => {
                    patch.webhook_authorization = Some(Some(SecretString::from(s.clone())))
                }
                _ => bad(&mut problems, key, "must be a string or null"),
            },
            "verifyPayins" => match value.as_bool() {
                Some(b) => patch.verify_payins = Some(b),
                None => bad(&mut problems, key, "must be true or false"),
            },
            "payoutApprovalThresholds" => {
                patch.payout_approval_thresholds = thresholds(key, &value, &mut problems)
            }
            "fourEyesThresholds" => {
                patch.four_eyes_thresholds = thresholds(key, &value, &mut problems)
            }
            "defaultPayoutApprovalThreshold" => {
                patch.default_payout_approval_threshold =
                    default_threshold(key, &value, &mut problems)
            }
            "defaultFourEyesThreshold" => {
                patch.default_four_eyes_threshold = default_threshold(key, &value, &mut problems)
            }
            _ => bad(&mut problems, key, "unknown setting"),
        }
    }
    if problems.is_empty() {
        Ok(patch)
    } else {
        Err(ApiError::Validation(problems))
    }
}

fn bad(problems: &mut Vec<FieldProblem>, key: &str, message: &str) {
    problems.push(FieldProblem::new(key, message));
}

/// `{"EUR":"1000.00","CLP":null}` ⇒ per-currency changes; problems named `key.CUR`.
fn thresholds(
    key: &str,
    value: &Value,
    problems: &mut Vec<FieldProblem>,
) -> BTreeMap<String, Option<Decimal>> {
    let mut out = BTreeMap::new();
    let Some(map) = value.as_object() else {
        problems.push(FieldProblem::new(
            key,
            "must be an object of currency code to amount string",
        ));
        return out;
    };
    for (code, amount) in map {
        let field = format!("{key}.{code}");
        let Some(currency) = Currency::from_code(code) else {
            problems.push(FieldProblem::new(&field, "unknown currency"));
            continue;
        };
        match amount {
            Value::Null => {
                out.insert(code.clone(), None);
            }
            Value::String(text) => match company::parse_threshold(text, currency) {
                Ok(d) => {
                    out.insert(code.clone(), Some(d));
                }
                Err(m) => problems.push(FieldProblem::new(&field, m)),
            },
            _ => problems.push(FieldProblem::new(
                &field,
                "must be a string of major units (\"1000.00\") or null",
            )),
        }
    }
    out
}

/// The fallback threshold: a positive decimal string (any currency), or `null` to clear it.
fn default_threshold(
    key: &str,
    value: &Value,
    problems: &mut Vec<FieldProblem>,
) -> Option<Option<Decimal>> {
    match value {
        Value::Null => Some(None),
        Value::String(text) => match Decimal::from_str_exact(text.trim()) {
            Ok(d) if d > Decimal::ZERO => Some(Some(d)),
            _ => {
                problems.push(FieldProblem::new(key, "must be a positive decimal string"));
                None
            }
        },
        _ => {
            problems.push(FieldProblem::new(key, "must be a decimal string or null"));
            None
        }
    }
}
