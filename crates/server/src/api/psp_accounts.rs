//! The merchant's PSP accounts (company JWT; another company's account is a 404):
//! - `GET /v1/api/psp-accounts`: `data: {"pspAccounts": [account…]}` (deleted ones hidden);
//! - `POST /v1/api/psp-accounts`: `{"pspType","baseUrl","credentials":{name: value},
//!   "enabled"?, "priority"?, "minAmount"?, "maxAmount"?, "dailyAmountCap"?, "dailyCountCap"?}`
//!   ⇒ 201 with the account;
//! - `GET /v1/api/psp-accounts/{id}`: the account;
//! - `PATCH /v1/api/psp-accounts/{id}`: any of `baseUrl`, `credentials` (per name: a string
//!   replaces that credential, `null` removes an optional one, names not given stay),
//!   `enabled`, `priority`, the limits (objects of ISO code → major units as a string, or
//!   `null` to clear that currency's) and `dailyCountCap` (a count or `null`);
//! - `DELETE /v1/api/psp-accounts/{id}`: disabled and hidden, history kept;
//! - `POST /v1/api/psp-accounts/{id}/test`: `data: {"ok", "errorCode"?, "message"?,
//!   "latencyMs"}`.
//!
//! An account is `{"accountId","pspType","baseUrl","enabled","priority","minAmount",
//! "maxAmount","dailyAmountCap","dailyCountCap","credentialNames","createdAt"}`: credential
//! values are never returned. Every body is checked whole first (400 `VALIDATION_ERROR`
//! naming each field, e.g. `credentials.oauth_private_key`); nothing is stored on error.

use crate::api::auth::CompanyAuth;
use crate::api::cashier::json_body;
use crate::api::error::{success, ApiError, FieldProblem};
use crate::api::openapi::manage_schemas::{
    CredentialsTest, DeletedAccount, NewPspAccount, PspAccountList, PspAccountPatch, PspAccountView,
};
use crate::api::openapi::schemas::Envelope;
use crate::api::openapi::schemas::ErrorEnvelope;
use crate::api::strict_json;
use crate::app::App;
use crate::service::psp_accounts::{self, account_view, limit_of, AccountPatch, Limit};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use overture_core::{Credentials, Currency};
use secrecy::SecretString;
use serde_json::{json, value::RawValue, Value};
use std::collections::BTreeMap;

/// Longest credential value accepted, in bytes (an RSA private key in PEM fits).
const MAX_CREDENTIAL_BYTES: usize = 16 * 1024;

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/api/psp-accounts", get(list).post(create))
        .route(
            "/v1/api/psp-accounts/{id}",
            get(show).patch(update).delete(delete),
        )
        .route("/v1/api/psp-accounts/{id}/test", post(test))
}

/// The company's PSP accounts (deleted ones hidden; credential values never returned).
#[utoipa::path(get, path = "/v1/api/psp-accounts", tag = "PSP accounts", operation_id = "listPspAccounts",
    security(("companyJwt" = [])),
    responses(
        (status = 200, description = "The accounts", body = Envelope<PspAccountList>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {"pspAccounts": [{"accountId": "psp_01jfxq7a0000000000000000aa", "pspType": "FORUMPAY", "baseUrl": "https://sandbox.api.forumpay.com", "enabled": true, "priority": 10, "minAmount": {}, "maxAmount": {"EUR": "5000.00"}, "dailyAmountCap": {}, "dailyCountCap": 500, "credentialNames": ["api_token", "api_user", "pos_id"], "createdAt": "2026-12-03T10:00:00.000Z"}]}})),
    ))]
pub(crate) async fn list(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
) -> Result<Json<Value>, ApiError> {
    let accounts = app.store.psp_accounts(&company.id).await?;
    let rows: Vec<Value> = accounts.iter().map(account_view).collect();
    Ok(Json(success(json!({ "pspAccounts": rows }))))
}

/// One PSP account of this company.
#[utoipa::path(get, path = "/v1/api/psp-accounts/{id}", tag = "PSP accounts", operation_id = "getPspAccount",
    security(("companyJwt" = [])),
    params(("id" = String, Path, description = "A PSP account id (`psp_…`)")),
    responses(
        (status = 200, description = "The account", body = Envelope<PspAccountView>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {"accountId": "psp_01jfxq7a0000000000000000aa", "pspType": "FORUMPAY", "baseUrl": "https://sandbox.api.forumpay.com", "enabled": true, "priority": 10, "minAmount": {}, "maxAmount": {"EUR": "5000.00"}, "dailyAmountCap": {}, "dailyCountCap": 500, "credentialNames": ["api_token", "api_user", "pos_id"], "createdAt": "2026-12-03T10:00:00.000Z"}})),
    ))]
pub(crate) async fn show(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let account = psp_accounts::own_account(&app, &company.id, &id).await?;
    Ok(Json(success(account_view(&account))))
}

/// Adds a PSP account; its credentials are checked for the PSP first.
#[utoipa::path(post, path = "/v1/api/psp-accounts", tag = "PSP accounts", operation_id = "createPspAccount",
    security(("companyJwt" = [])),
    request_body(content = NewPspAccount, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = Envelope<PspAccountView>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {"accountId": "psp_01jfxq7a0000000000000000aa", "pspType": "FORUMPAY", "baseUrl": "https://sandbox.api.forumpay.com", "enabled": true, "priority": 10, "minAmount": {}, "maxAmount": {"EUR": "5000.00"}, "dailyAmountCap": {}, "dailyCountCap": 500, "credentialNames": ["api_token", "api_user", "pos_id"], "createdAt": "2026-12-03T10:00:00.000Z"}})),
    ))]
pub(crate) async fn create(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = json_body(&headers, body).await?;
    let mut fields = strict_json::parse_object(&bytes)?.fields;
    let mut problems = Vec::new();
    let mut required = |name: &str| -> Option<Value> {
        let value = fields
            .remove(name)
            .and_then(|r| serde_json::from_str(r.get()).ok());
        if value.is_none() {
            problems.push(FieldProblem::new(name, "is required"));
        }
        value
    };
    let psp = required("pspType");
    let base_url = required("baseUrl");
    let credentials = required("credentials");
    let psp = text(psp, "pspType", &mut problems);
    let base_url = text(base_url, "baseUrl", &mut problems);
    let credentials = credentials.map(|c| parse_credentials(&c, &mut problems));
    let patch = parse_patch(&fields, &mut problems);
    for key in fields.keys().filter(|k| !PATCH_KEYS.contains(&k.as_str())) {
        problems.push(FieldProblem::new(key, "unknown setting"));
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let (Some(psp), Some(base_url), Some(credentials)) = (psp, base_url, credentials) else {
        return Err(ApiError::Validation(problems));
    };
    let credentials = Credentials(
        credentials
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect(),
    );
    let account =
        psp_accounts::create(&app, &company.id, &psp, base_url, credentials, patch).await?;
    Ok((StatusCode::CREATED, Json(success(account_view(&account)))))
}

/// Changes the keys given; credentials are replaced per name.
#[utoipa::path(patch, path = "/v1/api/psp-accounts/{id}", tag = "PSP accounts", operation_id = "patchPspAccount",
    security(("companyJwt" = [])),
    params(("id" = String, Path, description = "A PSP account id (`psp_…`)")),
    request_body(content = PspAccountPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The account as stored", body = Envelope<PspAccountView>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {"accountId": "psp_01jfxq7a0000000000000000aa", "pspType": "FORUMPAY", "baseUrl": "https://sandbox.api.forumpay.com", "enabled": true, "priority": 10, "minAmount": {}, "maxAmount": {"EUR": "5000.00"}, "dailyAmountCap": {}, "dailyCountCap": 500, "credentialNames": ["api_token", "api_user", "pos_id"], "createdAt": "2026-12-03T10:00:00.000Z"}})),
        (status = 409, description = "`INVALID_STATE`: the account was deleted", body = ErrorEnvelope),
    ))]
pub(crate) async fn update(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    // The account is looked up first: another company's is a 404 whatever the body says.
    psp_accounts::own_account(&app, &company.id, &id).await?;
    let bytes = json_body(&headers, body).await?;
    let fields = strict_json::parse_object(&bytes)?.fields;
    let mut problems = Vec::new();
    let mut patch = parse_patch(&fields, &mut problems);
    if let Some(url) = fields.get("baseUrl") {
        let value = serde_json::from_str(url.get()).ok();
        patch.base_url = text(value, "baseUrl", &mut problems);
    }
    if let Some(raw) = fields.get("credentials") {
        let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
        patch.credentials = parse_credentials(&value, &mut problems);
    }
    for key in fields.keys() {
        if !PATCH_KEYS.contains(&key.as_str()) && key != "baseUrl" && key != "credentials" {
            problems.push(FieldProblem::new(key, "unknown setting"));
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let account = psp_accounts::update(&app, &company.id, &id, patch).await?;
    Ok(Json(success(account_view(&account))))
}

/// Disables and hides the account; its history stays (callbacks and polls of orders in flight
/// keep working).
#[utoipa::path(delete, path = "/v1/api/psp-accounts/{id}", tag = "PSP accounts", operation_id = "deletePspAccount",
    security(("companyJwt" = [])),
    params(("id" = String, Path, description = "A PSP account id (`psp_…`)")),
    responses(
        (status = 200, description = "Deleted", body = Envelope<DeletedAccount>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true,
                "data": {"accountId": "psp_01jfxq7a0000000000000000aa", "deleted": true}})),
    ))]
pub(crate) async fn delete(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    psp_accounts::delete(&app, &company.id, &id).await?;
    Ok(Json(success(json!({ "accountId": id, "deleted": true }))))
}

/// Proves the credentials with the PSP's cheapest authenticated call (e.g. the status of an
/// order that cannot exist).
#[utoipa::path(post, path = "/v1/api/psp-accounts/{id}/test", tag = "PSP accounts", operation_id = "testPspAccount",
    security(("companyJwt" = [])),
    params(("id" = String, Path, description = "A PSP account id (`psp_…`)")),
    responses(
        (status = 200, description = "The outcome (a refusal is `ok: false`, not an HTTP error)", body = Envelope<CredentialsTest>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true,
                "data": {"ok": false, "errorCode": "INVALID_PSP_CREDENTIALS", "message": "PSP refused the credentials (HTTP 401)", "latencyMs": 84}})),
    ))]
pub(crate) async fn test(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let outcome = psp_accounts::test(&app, &company.id, &id).await?;
    let mut data = json!({ "ok": outcome.ok, "latencyMs": outcome.latency_ms });
    if let Some(code) = outcome.error_code {
        data["errorCode"] = json!(code);
    }
    if let Some(message) = outcome.message {
        data["message"] = json!(message);
    }
    Ok(Json(success(data)))
}

/// The settings both `POST` and `PATCH` take besides `pspType`, `baseUrl` and `credentials`.
const PATCH_KEYS: [&str; 6] = [
    "enabled",
    "priority",
    "minAmount",
    "maxAmount",
    "dailyAmountCap",
    "dailyCountCap",
];

fn text(value: Option<Value>, field: &str, problems: &mut Vec<FieldProblem>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => {
            problems.push(FieldProblem::new(field, "must be a non-empty string"));
            None
        }
    }
}

/// `{"name": "value" | null}`; values are secrets: problems never repeat them.
fn parse_credentials(
    value: &Value,
    problems: &mut Vec<FieldProblem>,
) -> BTreeMap<String, Option<SecretString>> {
    let mut out = BTreeMap::new();
    let Some(map) = value.as_object() else {
        problems.push(FieldProblem::new(
            "credentials",
            "must be an object of credential name to string value",
        ));
        return out;
    };
    for (name, v) in map {
        let field = format!("credentials.{name}");
        match v {
            Value::Null => {
                out.insert(name.clone(), None);
            }
            Value::String(s) if s.len() > MAX_CREDENTIAL_BYTES => {
                problems.push(FieldProblem::new(&field, "at most 16 KiB"))
            }
            Value::String(s) => {
                out.insert(name.clone(), Some(SecretString::from(s.clone())));
            }
            _ => problems.push(FieldProblem::new(&field, "must be a string or null")),
        }
    }
    out
}

/// The routing settings of a body ([`PATCH_KEYS`]); other keys are left to the caller.
fn parse_patch(
    fields: &BTreeMap<String, Box<RawValue>>,
    problems: &mut Vec<FieldProblem>,
) -> AccountPatch {
    let mut patch = AccountPatch::default();
    for key in PATCH_KEYS {
        let Some(raw) = fields.get(key) else {
            continue;
        };
        let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
        match key {
            "enabled" => match value.as_bool() {
                Some(b) => patch.enabled = Some(b),
                None => problems.push(FieldProblem::new(key, "must be true or false")),
            },
            "priority" => match value.as_i64().and_then(|p| i32::try_from(p).ok()) {
                Some(p) => patch.priority = Some(p),
                None => problems.push(FieldProblem::new(key, "must be an integer")),
            },
            "dailyCountCap" => match &value {
                Value::Null => patch.daily_count_cap = Some(None),
                v => match v.as_u64() {
                    Some(n) => patch.daily_count_cap = Some(Some(n)),
                    None => problems.push(FieldProblem::new(key, "must be a count or null")),
                },
            },
            "minAmount" => patch.min_amount = limits(key, &value, problems),
            "maxAmount" => patch.max_amount = limits(key, &value, problems),
            _ => patch.daily_amount_cap = limits(key, &value, problems),
        }
    }
    patch
}

/// `{"EUR": "10.00", "USD": null}` ⇒ limits (`null` clears that currency's).
fn limits(key: &str, value: &Value, problems: &mut Vec<FieldProblem>) -> Vec<Limit> {
    let Some(map) = value.as_object() else {
        problems.push(FieldProblem::new(
            key,
            "must be an object of currency code to amount string",
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (code, amount) in map {
        let field = format!("{key}.{code}");
        let Some(currency) = Currency::from_code(code) else {
            problems.push(FieldProblem::new(&field, "unknown currency"));
            continue;
        };
        let parsed = match amount {
            Value::Null => limit_of(currency, "none"),
            Value::String(s) if !s.trim().eq_ignore_ascii_case("none") => limit_of(currency, s),
            _ => Err("must be a string of major units (\"10.00\") or null".into()),
        };
        match parsed {
            Ok(l) => out.push(l),
            Err(m) => problems.push(FieldProblem::new(&field, m)),
        }
    }
    out
}
