//! Sessions and CSRF as typed extractors: a handler that takes [`Signed`] cannot run without a
//! live session, and one that takes [`Posted`] cannot run without a matching CSRF token.
//!
//! The session cookie holds 32 random bytes; the store keeps only their SHA-256, with a
//! per-session CSRF token that every form echoes. Sessions end at an absolute expiry or after
//! an idle period, whichever comes first.

use crate::api::auth::token_digest;
use crate::backoffice::error::PageError;
use crate::backoffice::Backoffice;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use overture_core::backoffice::OperatorSession;
use overture_core::{Operator, Role};
use rand::RngCore;
use serde::de::DeserializeOwned;

/// The session cookie.
pub const SESSION_COOKIE: &str = "overture_bo";
/// The login form's double-submit CSRF cookie (there is no session yet to hold a token).
pub const LOGIN_COOKIE: &str = "overture_bo_login";
/// Idle-time updates are written at most this often (ms), capped by a quarter of the idle
/// period, to spare a write per page view.
const TOUCH_EVERY_MS: i64 = 30_000;

/// 32 random bytes, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Constant-time string equality (tokens must not leak through timing).
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name`, from every `Cookie` header.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, scoped to `/backoffice`, `Secure` over
/// https; `max_age_secs` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path=/backoffice; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A new session for `operator` at `now`; returns the cookie value and the stored row.
pub fn new_session(bo: &Backoffice, operator: &Operator, now: i64) -> (String, OperatorSession) {
    let cookie = random_token();
    let session = OperatorSession {
        id_sha256: token_digest(&cookie),
        operator_id: operator.id.clone(),
        csrf_token: random_token(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + bo.settings.session_ttl_ms,
    };
    (cookie, session)
}

/// A logged-in operator and their session.
#[derive(Clone, Debug)]
pub struct Signed {
    pub operator: Operator,
    pub session: OperatorSession,
}

impl Signed {
    /// Refuses unless the operator's role is one of `roles`, with a message naming both.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), PageError> {
        if roles.contains(&self.operator.role) {
            Ok(())
        } else {
            Err(PageError::Forbidden(format!(
                "Your role ({}) cannot {what}. Nothing was changed.",
                self.operator.role.as_str()
            )))
        }
    }

    /// Whether this operator may approve or reject payouts.
    pub fn can_decide(&self) -> bool {
        self.operator.role.can_decide_payouts()
    }

    /// Whether this operator is an admin.
    pub fn is_admin(&self) -> bool {
        self.operator.role == Role::Admin
    }
}

fn is_expired(bo: &Backoffice, s: &OperatorSession, now: i64) -> bool {
    now >= s.expires_at || now - s.last_seen_at > bo.settings.idle_ms
}

impl FromRequestParts<Backoffice> for Signed {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, bo: &Backoffice) -> Result<Self, PageError> {
        // Only GET pages redirect to the login page; a POST gets an error page so the
        // operator sees that their action was not applied.
        let next = (parts.method == Method::GET)
            .then(|| parts.uri.path_and_query().map(|p| p.as_str().to_owned()))
            .flatten();
        let value = cookie(&parts.headers, SESSION_COOKIE)
            .ok_or_else(|| PageError::LoginRequired { next: next.clone() })?;
        let digest = token_digest(&value);
        let app = &bo.app;
        let session = app
            .store
            .session(&digest)
            .await?
            .ok_or_else(|| PageError::LoginRequired { next: next.clone() })?;
        let now = app.now();
        if is_expired(bo, &session, now) {
            app.store.delete_session(&digest).await?;
            return Err(PageError::SessionExpired { next });
        }
        let operator = app
            .store
            .operator(&session.operator_id)
            .await?
            .filter(|o| o.disabled_at.is_none())
            .ok_or(PageError::LoginRequired { next })?;
        if now - session.last_seen_at >= TOUCH_EVERY_MS.min(bo.settings.idle_ms / 4) {
            app.store.touch_session(&digest, now).await?;
        }
        Ok(Self { operator, session })
    }
}

/// A POSTed form from a logged-in operator whose `csrf` field matched the session's token.
pub struct Posted<T> {
    pub signed: Signed,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<Backoffice> for Posted<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, bo: &Backoffice) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::from_request_parts(&mut parts, bo).await?;
        let bytes = axum::body::to_bytes(body, 64 * 1024)
            .await
            .map_err(|_| PageError::BadInput("The form is too large.".into()))?;
        check_csrf(&bytes, &signed.session.csrf_token)?;
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| PageError::BadInput(format!("The form is incomplete: {e}.")))?;
        Ok(Self { signed, form })
    }
}

/// Checks the form's `csrf` field against `expected`.
pub fn check_csrf(body: &[u8], expected: &str) -> Result<(), PageError> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let given = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    match given {
        Some(token) if same_token(token, expected) => Ok(()),
        _ => Err(PageError::Csrf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_parse_and_are_hardened() {
        let mut h = HeaderMap::new();
        h.append("cookie", "a=1; overture_bo=abc".parse().unwrap());
        h.append("cookie", "b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
        let set = set_cookie(SESSION_COOKIE, "v", 60, true);
        let set = set.to_str().unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.ends_with("Secure")
        );
        assert!(!set_cookie("x", "v", 0, false)
            .to_str()
            .unwrap()
            .contains("Secure"));
    }

    #[test]
    fn csrf_must_match_exactly() {
        assert!(check_csrf(b"csrf=tok&reason=x", "tok").is_ok());
        assert!(matches!(
            check_csrf(b"reason=x", "tok"),
            Err(PageError::Csrf)
        ));
        assert!(check_csrf(b"csrf=tak", "tok").is_err());
        assert!(check_csrf(b"csrf=", "").is_err(), "empty never matches");
        assert_ne!(random_token(), random_token());
    }
}
