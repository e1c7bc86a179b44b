//! Login and logout. The login form is protected by a double-submit CSRF cookie (there is no
//! session yet); wrong passwords are counted and lock the account for a while after too many;
//! unknown emails cost the same argon2 time as known ones and get the same message.

use crate::backoffice::error::PageError;
use crate::backoffice::format;
use crate::backoffice::password;
use crate::backoffice::session::{
    check_csrf, cookie, new_session, random_token, set_cookie, Posted, LOGIN_COOKIE, SESSION_COOKIE,
};
use crate::backoffice::views::{render, LoginPage};
use crate::backoffice::Backoffice;
use crate::service::audit::{self, Channel};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use overture_core::backoffice::{AuditAction, AuditEntry, OperatorLogin};
use overture_core::Operator;
use serde::Deserialize;

/// Lifetime of the login form's CSRF cookie.
const LOGIN_COOKIE_SECS: i64 = 3_600;
/// Longest email kept in the audit log for a failed login (it is user input).
const EMAIL_MAX: usize = 254;

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    expired: Option<String>,
    #[serde(default)]
    bye: Option<String>,
}

/// Where to go after login: only back-office pages, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/backoffice/")
                && !n.contains("//")
                && !n.contains('\\')
                && !n.starts_with("/backoffice/login")
                && !n.starts_with("/backoffice/logout") =>
        {
            n.to_owned()
        }
        _ => "/backoffice/queue".to_owned(),
    }
}

fn login_page(
    bo: &Backoffice,
    status: StatusCode,
    csrf: String,
    page: LoginPage,
) -> Result<Response, PageError> {
    let cookie = set_cookie(
        LOGIN_COOKIE,
        &csrf,
        LOGIN_COOKIE_SECS,
        bo.settings.secure_cookies,
    );
    Ok((status, [(header::SET_COOKIE, cookie)], render(&page)?).into_response())
}

/// `GET /backoffice/login`.
pub async fn form(
    State(bo): State<Backoffice>,
    Query(q): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let info = if q.expired.is_some() {
        Some("Your session expired. Please log in again.".to_owned())
    } else if q.bye.is_some() {
        Some("You are logged out.".to_owned())
    } else {
        None
    };
    let csrf = random_token();
    let page = LoginPage {
        csrf: csrf.clone(),
        email: String::new(),
        next: safe_next(q.next.as_deref()),
        error: None,
        info,
    };
    login_page(&bo, StatusCode::OK, csrf, page)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// Why a login was refused.
enum Refusal {
    WrongCredentials,
    Locked { until: i64 },
}

impl Refusal {
    fn status_and_message(&self, now: i64) -> (StatusCode, String) {
        match self {
            Self::WrongCredentials => (
                StatusCode::UNAUTHORIZED,
                "Wrong email or password.".to_owned(),
            ),
            Self::Locked { until } => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many failed logins: this account is locked until {} (in {}). Try again later.",
                    format::when(*until),
                    format::age(until - now)
                ),
            ),
        }
    }
}

/// `POST /backoffice/login`.
pub async fn submit(
    State(bo): State<Backoffice>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let token = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    check_csrf(&body, &token)?;
    let form: LoginForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| PageError::BadInput(format!("The login form is incomplete: {e}.")))?;
    let email: String = form.email.trim().chars().take(EMAIL_MAX).collect();
    let next = safe_next(form.next.as_deref());
    match authenticate(&bo, &email, form.password).await? {
        Ok(operator) => start_session(&bo, &operator, &next).await,
        Err(refusal) => {
            let (status, message) = refusal.status_and_message(bo.app.now());
            let page = LoginPage {
                csrf: token.clone(),
                email,
                next,
                error: Some(message),
                info: None,
            };
            login_page(&bo, status, token, page)
        }
    }
}

/// Checks the password and keeps the lockout counters; audits every outcome.
async fn authenticate(
    bo: &Backoffice,
    email: &str,
    password: String,
) -> Result<Result<Operator, Refusal>, PageError> {
    let app = &bo.app;
    let now = app.now();
    let Some(login) = app.store.operator_login(email).await? else {
        password::verify_in_background(password, None).await;
        let entry = AuditEntry {
            id: 0,
            at: now,
            operator_id: None,
            operator_email: email.to_owned(),
            action: AuditAction::LoginFailed,
            target: None,
            reason: None,
            detail: Some("web; unknown email".into()),
        };
        audit::record(app, entry).await;
        return Ok(Err(Refusal::WrongCredentials));
    };
    if let Some(until) = login.locked_until.filter(|_| login.is_locked(now)) {
        audit_login(
            bo,
            &login,
            AuditAction::LoginLocked,
            "refused: account locked",
        )
        .await;
        return Ok(Err(Refusal::Locked { until }));
    }
    if password::verify_in_background(password, login.password_hash.clone()).await {
        app.store.clear_login_failures(&login.operator.id).await?;
        audit_login(bo, &login, AuditAction::Login, "password accepted").await;
        return Ok(Ok(login.operator));
    }
    let policy = bo.settings.lockout;
    let failure = app
        .store
        .record_login_failure(&login.operator.id, now, &policy)
        .await?;
    if let Some(until) = failure.locked_until {
        let detail = format!("locked after {} failed logins", policy.max_failures);
        audit_login(bo, &login, AuditAction::LoginLocked, &detail).await;
        return Ok(Err(Refusal::Locked { until }));
    }
    let detail = format!(
        "wrong password ({} of {})",
        failure.failed_logins, policy.max_failures
    );
    audit_login(bo, &login, AuditAction::LoginFailed, &detail).await;
    Ok(Err(Refusal::WrongCredentials))
}

async fn audit_login(bo: &Backoffice, login: &OperatorLogin, action: AuditAction, detail: &str) {
    audit::operator_action(
        &bo.app,
        &login.operator,
        Channel::Web,
        action,
        None,
        None,
        Some(detail),
    )
    .await;
}

/// A fresh session (never reusing a cookie from before the login), then on to `next`.
async fn start_session(
    bo: &Backoffice,
    operator: &Operator,
    next: &str,
) -> Result<Response, PageError> {
    let app = &bo.app;
    let now = app.now();
    // Housekeeping: sessions past their expiry are useless rows.
    app.store
        .delete_expired_sessions(now, now - bo.settings.idle_ms)
        .await?;
    let (value, session) = new_session(bo, operator, now);
    app.store.insert_session(&session).await?;
    let secure = bo.settings.secure_cookies;
    let mut response = Redirect::to(next).into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            &value,
            bo.settings.session_ttl_ms / 1000,
            secure,
        ),
    );
    h.append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0, secure));
    Ok(response)
}

/// Any form fields (logout has none but the CSRF token).
#[derive(Deserialize)]
pub struct NoFields {}

/// `POST /backoffice/logout`. An already expired session just goes to the login page.
pub async fn logout(
    State(bo): State<Backoffice>,
    posted: Result<Posted<NoFields>, PageError>,
) -> Result<Response, PageError> {
    let posted = match posted {
        Ok(p) => p,
        Err(PageError::LoginRequired { .. } | PageError::SessionExpired { .. }) => {
            return Ok(Redirect::to("/backoffice/login").into_response())
        }
        Err(e) => return Err(e),
    };
    let signed = posted.signed;
    bo.app
        .store
        .delete_session(&signed.session.id_sha256)
        .await?;
    audit::operator_action(
        &bo.app,
        &signed.operator,
        Channel::Web,
        AuditAction::Logout,
        None,
        None,
        None,
    )
    .await;
    let clear = set_cookie(SESSION_COOKIE, "", 0, bo.settings.secure_cookies);
    Ok((
        [(header::SET_COOKIE, clear)],
        Redirect::to("/backoffice/login?bye=1"),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_back_office() {
        assert_eq!(
            safe_next(Some("/backoffice/transactions?page=2")),
            "/backoffice/transactions?page=2"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/backoffice//evil",
            "/backoffice/login",
            "/v1/api",
        ] {
            assert_eq!(safe_next(Some(bad)), "/backoffice/queue", "{bad}");
        }
        assert_eq!(safe_next(None), "/backoffice/queue");
    }
}
