//! Login and logout. The login form is protected by a double-submit CSRF cookie (there is no
//! session yet). Failed logins are throttled per client address and per account (see
//! [`throttle`]): an attempt inside a wait is refused with 429 and `Retry-After` before its
//! password is looked at. Unknown emails cost the same argon2 time as known ones, are
//! throttled the same way and get the same message. A login, a failed login and a logout are
//! each written together with their audit record, in one DB transaction.

use crate::backoffice::error::PageError;
use crate::backoffice::format;
use crate::backoffice::password;
use crate::backoffice::session::{
    check_csrf, cookie, new_session, random_token, set_cookie, Posted, LOGIN_COOKIE, SESSION_COOKIE,
};
use crate::backoffice::throttle::{self, Wait};
use crate::backoffice::views::{render, LoginPage};
use crate::backoffice::Backoffice;
use crate::client_addr::ClientAddr;
use crate::input::{forbidden_char, forbidden_message};
use crate::service::audit::{self, Channel};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use overture_core::backoffice::{
    AuditAction, AuditEntry, FailedLogin, SuccessfulLogin, ThrottleKey, ThrottleScope,
};
use overture_core::Operator;
use serde::Deserialize;
use std::net::IpAddr;

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
        _ => "/backoffice/overview".to_owned(),
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
    /// Inside a throttle wait: the password was not checked.
    Throttled(Wait),
}

impl Refusal {
    fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            Self::WrongCredentials => (
                StatusCode::UNAUTHORIZED,
                "Wrong email or password.".to_owned(),
            ),
            Self::Throttled(wait) => {
                let from = match wait.scope {
                    ThrottleScope::Address => "from your network address",
                    ThrottleScope::Account => "for this account",
                };
                let after = format::age(wait.retry_after_secs() * 1000);
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Too many failed logins {from}. Try again in {after}; this attempt was not checked."
                    ),
                )
            }
        }
    }
}

/// `POST /backoffice/login`.
pub async fn submit(
    State(bo): State<Backoffice>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let token = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    check_csrf(&body, &token)?;
    let form: LoginForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| PageError::BadInput(format!("The login form is incomplete: {e}.")))?;
    let email: String = form.email.trim().chars().take(EMAIL_MAX).collect();
    // It is looked up and audited: text a database or a log cannot hold is refused here.
    if let Some(c) = forbidden_char(&email) {
        return Err(PageError::BadInput(format!(
            "The email {}.",
            forbidden_message(c)
        )));
    }
    let next = safe_next(form.next.as_deref());
    let refusal = match authenticate(&bo, client, &email, form.password).await? {
        Ok((operator, keys)) => return start_session(&bo, &operator, keys, client, &next).await,
        Err(refusal) => refusal,
    };
    let (status, message) = refusal.status_and_message();
    let page = LoginPage {
        csrf: token.clone(),
        email,
        next,
        error: Some(message),
        info: None,
    };
    let mut response = login_page(&bo, status, token, page)?;
    if let Refusal::Throttled(wait) = refusal {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.retry_after_secs()),
        );
    }
    Ok(response)
}

/// The audit detail of a login-page action: channel, client address, outcome.
fn detail(client: IpAddr, outcome: Option<&str>) -> String {
    let web = Channel::Web.as_str();
    match outcome {
        Some(o) => format!("{web}; client {client}; {o}"),
        None => format!("{web}; client {client}"),
    }
}

/// Checks the throttle, then the password; a wrong one is counted and audited. On success,
/// the operator and the counters to clear.
async fn authenticate(
    bo: &Backoffice,
    client: IpAddr,
    email: &str,
    password: String,
) -> Result<Result<(Operator, Vec<ThrottleKey>), Refusal>, PageError> {
    let app = &bo.app;
    let login = app.store.operator_login(email).await?;
    let operator_id = login.as_ref().map(|l| &l.operator.id);
    let keys = vec![
        throttle::address_key(client),
        throttle::account_key(operator_id, email),
    ];
    // Checked before queueing for a password check, so a flood is refused cheaply, and again
    // once a check slot is held: failures are counted before the slot is given back, so a
    // burst of parallel guesses gets at most as many checks as there are slots.
    if let Some(wait) = throttle::wait(app, &keys).await? {
        tracing::debug!(%client, scope = wait.scope.as_str(), "login refused: throttled");
        return Ok(Err(Refusal::Throttled(wait)));
    }
    let _slot = bo
        .password_checks
        .acquire()
        .await
        .map_err(|e| PageError::Internal(e.into()))?;
    if let Some(wait) = throttle::wait(app, &keys).await? {
        return Ok(Err(Refusal::Throttled(wait)));
    }
    let hash = login.as_ref().and_then(|l| l.password_hash.clone());
    let accepted = password::verify_in_background(password, hash).await;
    let now = app.now();
    let audit = match login {
        Some(login) if accepted => return Ok(Ok((login.operator, keys))),
        Some(login) => audit::entry(
            &login.operator,
            AuditAction::LoginFailed,
            None,
            None,
            detail(client, Some("wrong password")),
            now,
        ),
        None => AuditEntry {
            id: 0,
            at: now,
            operator_id: None,
            operator_email: email.to_owned(),
            action: AuditAction::LoginFailed,
            target: None,
            reason: None,
            detail: Some(detail(client, Some("unknown email"))),
        },
    };
    let failed = FailedLogin {
        keys,
        at: now,
        policy: bo.settings.throttle,
        audit,
    };
    app.store.record_failed_login(&failed).await?;
    Ok(Err(Refusal::WrongCredentials))
}

/// A fresh session (never reusing a cookie from before the login), then on to `next`.
async fn start_session(
    bo: &Backoffice,
    operator: &Operator,
    clear: Vec<ThrottleKey>,
    client: IpAddr,
    next: &str,
) -> Result<Response, PageError> {
    let app = &bo.app;
    let now = app.now();
    // Housekeeping: sessions past their expiry and counters that would restart at zero are
    // useless rows.
    app.store
        .delete_expired_sessions(now, now - bo.settings.idle_ms)
        .await?;
    app.store
        .delete_stale_login_throttles(now - bo.settings.throttle.reset_after_ms, now)
        .await?;
    let (value, session) = new_session(bo, operator, now);
    let audit = audit::entry(
        operator,
        AuditAction::Login,
        None,
        None,
        detail(client, Some("password accepted")),
        now,
    );
    let login = SuccessfulLogin {
        session,
        clear,
        audit,
    };
    app.store.record_login(&login).await?;
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
    ClientAddr(client): ClientAddr,
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
    let audit = audit::entry(
        &signed.operator,
        AuditAction::Logout,
        None,
        None,
        detail(client, None),
        bo.app.now(),
    );
    // `false`: a concurrent logout already ended it (and audited that).
    bo.app
        .store
        .record_logout(&signed.session.id_sha256, &audit)
        .await?;
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
            assert_eq!(safe_next(Some(bad)), "/backoffice/overview", "{bad}");
        }
        assert_eq!(safe_next(None), "/backoffice/overview");
    }
}
