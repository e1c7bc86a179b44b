//! Authentication as typed extractors (STYLE.md): a handler that takes [`CompanyAuth`] or
//! [`OperatorAuth`] cannot forget to check the token.
//!
//! Company JWT (README): HS256 with the company's API secret, `sub` = company id, `exp`
//! required, `nbf` honoured. User tokens (`x-user-token`): HS256 with the same secret, `exp`
//! required, `nbf` honoured. Any other algorithm (including `none`), a wrong key, an expired or
//! not-yet-valid token (beyond [`JWT_LEEWAY_SECS`]) or another company's token is 401.

use crate::api::error::{ApiError, FieldProblem};
use crate::app::App;
use crate::input::{forbidden_char, forbidden_message};
use crate::service::user::{UserAuth, UserProfile};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use overture_core::{Company, CompanyId, Operator};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Claims of a company JWT.
#[derive(Debug, Serialize, Deserialize)]
pub struct CompanyClaims {
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    #[serde(default)]
    pub iat: Option<u64>,
}

/// Issues a company JWT valid for `ttl_secs` seconds from `now_secs`.
pub fn issue_company_token(
    company: &CompanyId,
    secret: &SecretString,
    now_secs: u64,
    ttl_secs: u64,
) -> String {
    let claims = CompanyClaims {
        sub: company.to_string(),
        exp: now_secs + ttl_secs,
        iat: Some(now_secs),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
    .unwrap_or_default()
}

fn bearer(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value);
    (!token.is_empty()).then(|| token.trim().to_owned())
}

/// Reads `sub` without verifying, only to find which company's key verifies the token.
fn unverified_subject(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("sub")?.as_str().map(str::to_owned)
}

/// Clock skew tolerated on `exp` and `nbf`, in seconds: enough for two NTP-synchronised
/// clocks, small enough that an expired or not-yet-valid token is refused.
pub const JWT_LEEWAY_SECS: u64 = 10;

/// HS256 only; `exp` and `nbf` (when present) checked with [`JWT_LEEWAY_SECS`]; `required`
/// claims must be present.
fn hs256_validation(required: &[&str]) -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_required_spec_claims(required);
    v.validate_exp = true;
    v.validate_nbf = true;
    v.leeway = JWT_LEEWAY_SECS;
    v
}

/// The authenticated company (from `Authorization: Bearer <company-jwt>`).
pub struct CompanyAuth(pub Company);

impl FromRequestParts<App> for CompanyAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers, "authorization")
            .ok_or(ApiError::Unauthorized("missing bearer token"))?;
        let subject =
            unverified_subject(&token).ok_or(ApiError::Unauthorized("malformed token"))?;
        let id = CompanyId::parse(&subject).ok_or(ApiError::Unauthorized("invalid token"))?;
        let company = app
            .company(&id)
            .await?
            .ok_or(ApiError::Unauthorized("invalid token"))?;
        verify_company_jwt(&token, &company, app.now())?;
        Ok(Self(company))
    }
}

/// The keys that verify `company`'s tokens at `now_ms`: its API secret, and the one a
/// rotation replaced while its grace period lasts.
fn api_keys(company: &Company, now_ms: i64) -> impl Iterator<Item = DecodingKey> + '_ {
    let retired = company.retired.api.as_ref().and_then(|r| r.live_at(now_ms));
    std::iter::once(&company.api_secret)
        .chain(retired)
        .map(|s| DecodingKey::from_secret(s.expose_secret().as_bytes()))
}

/// Decodes `token` with the first of `company`'s live API keys that verifies it.
fn decode_with_company_keys<T: serde::de::DeserializeOwned>(
    token: &str,
    company: &Company,
    now_ms: i64,
    validation: &Validation,
) -> Option<T> {
    api_keys(company, now_ms)
        .find_map(|key| jsonwebtoken::decode::<T>(token, &key, validation).ok())
        .map(|data| data.claims)
}

/// Verifies a company JWT against `company`'s key (or, during a rotation's grace period at
/// `now_ms`, its previous key): HS256 only, `exp` and `sub` required, `sub` must be the
/// company's id. Any failure is 401.
pub fn verify_company_jwt(
    token: &str,
    company: &Company,
    now_ms: i64,
) -> Result<CompanyClaims, ApiError> {
    let claims: CompanyClaims =
        decode_with_company_keys(token, company, now_ms, &hs256_validation(&["exp", "sub"]))
            .ok_or(ApiError::Unauthorized("invalid token"))?;
    if claims.sub != company.id.as_str() {
        return Err(ApiError::Unauthorized("invalid token"));
    }
    Ok(claims)
}

/// Claims of the `x-user-token` JWT (Mozarto: userId, email, firstName, lastName, phone,
/// countryCode required; emailVerified optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserClaims {
    pub user_id: UserIdValue,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub country_code: String,
    #[serde(default)]
    pub email_verified: Option<bool>,
}

/// A user id given as a JSON string or integer.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum UserIdValue {
    Text(String),
    Number(i64),
}

impl UserIdValue {
    pub fn as_string(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Number(n) => n.to_string(),
        }
    }
}

impl UserClaims {
    /// The profile the payment flows use.
    pub fn into_profile(self) -> UserProfile {
        UserProfile {
            user_id: self.user_id.as_string(),
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            phone: self.phone,
            country_code: self.country_code,
        }
    }
}

/// Reads `x-user-token` (checked with the company's key, or its previous key during a
/// rotation's grace period at `now_ms`; `exp` required, `nbf` honoured) or
/// `x-user-authorization`.
/// Neither ⇒ 401; a token that fails verification ⇒ 401 (never a hang).
pub fn user_auth(
    headers: &HeaderMap,
    company: &Company,
    now_ms: i64,
) -> Result<UserAuth, ApiError> {
    if let Some(token) = bearer(headers, "x-user-token") {
        let claims: UserClaims =
            decode_with_company_keys(&token, company, now_ms, &hs256_validation(&["exp"]))
                .ok_or(ApiError::Unauthorized("invalid x-user-token"))?;
        let profile = claims.into_profile();
        check_profile_text(&profile)?;
        return Ok(UserAuth::Token {
            token,
            profile: Box::new(profile),
        });
    }
    match headers
        .get("x-user-authorization")
        .and_then(|v| v.to_str().ok())
    {
        Some(v) if !v.trim().is_empty() => Ok(UserAuth::Session(v.trim().to_owned())),
        _ => Err(ApiError::Unauthorized(
            "x-user-token or x-user-authorization is required",
        )),
    }
}

/// A verified token's claims become PSP fields and stored text: the same character rules as
/// the body's fields, each named `x-user-token.<claim>`.
fn check_profile_text(p: &UserProfile) -> Result<(), ApiError> {
    let problems: Vec<FieldProblem> = [
        ("userId", &p.user_id),
        ("email", &p.email),
        ("firstName", &p.first_name),
        ("lastName", &p.last_name),
        ("phone", &p.phone),
        ("countryCode", &p.country_code),
    ]
    .into_iter()
    .filter_map(|(claim, value)| {
        forbidden_char(value)
            .map(|c| FieldProblem::new(&format!("x-user-token.{claim}"), forbidden_message(c)))
    })
    .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(problems))
    }
}

/// SHA-256 (hex) of an operator bearer token, as stored.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The authenticated back-office operator (`Authorization: Bearer <operator token>`).
pub struct OperatorAuth(pub Operator);

impl FromRequestParts<App> for OperatorAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers, "authorization")
            .ok_or(ApiError::Unauthorized("missing bearer token"))?;
        let operator = app
            .store
            .operator_by_token(&token_digest(&token))
            .await?
            .ok_or(ApiError::Unauthorized("invalid operator token"))?;
        Ok(Self(operator))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_subject_and_bearer() {
        let id = CompanyId::generate();
        let token = issue_company_token(&id, &SecretString::from("k"), 1_000, 60);
        assert_eq!(unverified_subject(&token).as_deref(), Some(id.as_str()));
        let mut h = HeaderMap::new();
        h.insert("authorization", format!("Bearer {token}").parse().unwrap());
        assert_eq!(bearer(&h, "authorization").as_deref(), Some(token.as_str()));
        assert_eq!(bearer(&h, "x-user-token"), None);
    }
}
