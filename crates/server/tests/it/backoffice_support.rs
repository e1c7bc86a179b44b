//! Helpers for the back-office tests: operators with passwords, and a cookie-keeping HTTP
//! client that does not follow redirects (so tests see each 303 and its target).

use crate::harness::TestApp;
use overture_core::backoffice::AuditAction;
use overture_core::*;
use overture_server::backoffice::password::hash_password;
use overture_server::service::audit::{self, Channel};
use reqwest::header::{HeaderMap, COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use std::collections::BTreeMap;

/// The password every test operator gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// Creates an operator with `role` and [`PASSWORD`]; returns it.
pub async fn operator_with_password(app: &TestApp, role: Role) -> Operator {
    let op = Operator {
        id: OperatorId::generate(),
        email: format!(
            "{}-{}@ops.example",
            role.as_str(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
        role,
        token_sha256: format!("unused-{}", uuid::Uuid::new_v4().simple()),
        created_at: SystemClock.now_ms(),
        disabled_at: None,
    };
    let store = &app.running.app.store;
    store.insert_operator(&op).await.unwrap();
    // As `overture operators set-password` does: the password with its audit record.
    let record = audit::operator_action(
        &op,
        Channel::Cli,
        AuditAction::SetPassword,
        Some(op.id.to_string()),
        None,
        None,
        SystemClock.now_ms(),
    );
    store
        .set_operator_password(&op.id, &hash_password(PASSWORD).unwrap(), &record)
        .await
        .unwrap();
    op
}

/// One answer: status, `Location` (for redirects), `x-overture-error`, `Retry-After` and the
/// body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub error_code: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
}

/// A browser-like client: keeps cookies, never follows redirects.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
    /// Sent as `X-Forwarded-For` with every request.
    forwarded_for: Option<String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self {
            base: app.url.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            forwarded_for: None,
        }
    }

    /// A browser whose requests say, through `X-Forwarded-For`, that they come from `address`
    /// (believed only when the server trusts 127.0.0.1 as a proxy).
    pub fn from_address(app: &TestApp, address: &str) -> Self {
        Self {
            forwarded_for: Some(address.to_owned()),
            ..Self::new(app)
        }
    }

    fn send(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let req = req.header(COOKIE, self.cookie_header());
        match &self.forwarded_for {
            Some(address) => req.header("x-forwarded-for", address),
            None => req,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, attrs) = text.split_once(';').unwrap_or((text, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
    }

    async fn answer(&mut self, resp: reqwest::Response) -> Answer {
        self.keep_cookies(resp.headers());
        let header = |n| {
            resp.headers()
                .get(n)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let location = header(LOCATION.as_str());
        let error_code = header("x-overture-error");
        let retry_after = header(RETRY_AFTER.as_str());
        Answer {
            status: resp.status().as_u16(),
            location,
            error_code,
            retry_after,
            body: resp.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let resp = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .send()
            .await
            .unwrap();
        self.answer(resp).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let resp = self
            .send(self.http.post(format!("{}{path}", self.base)))
            .form(fields)
            .send()
            .await
            .unwrap();
        self.answer(resp).await
    }

    /// Whether a session cookie is held.
    pub fn has_session(&self) -> bool {
        self.cookies.contains_key("overture_bo")
    }

    /// Opens the login page and submits `email` / `password`.
    pub async fn login(&mut self, email: &str, password: &str) -> Answer {
        let page = self.get("/backoffice/login").await;
        assert_eq!(page.status, 200);
        let csrf = csrf_of(&page.body);
        self.post(
            "/backoffice/login",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
    }

    /// Logs in as `op` (asserts success).
    pub async fn login_as(&mut self, op: &Operator) {
        let answer = self.login(&op.email, PASSWORD).await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        assert!(self.has_session());
    }

    /// The session's CSRF token, read from a page as the browser would.
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/backoffice/queue").await;
        assert_eq!(page.status, 200, "{page:?}");
        csrf_of(&page.body)
    }

    /// Decides a payout through the queue form.
    pub async fn decide(&mut self, id: &str, decision: &str, reason: &str) -> Answer {
        let csrf = self.csrf().await;
        self.post(
            &format!("/backoffice/transactions/{id}/decide"),
            &[("csrf", &csrf), ("decision", decision), ("reason", reason)],
        )
        .await
    }

    /// [`Browser::decide`] with the four-eyes confirmation ticked.
    pub async fn decide_confirmed(&mut self, id: &str, decision: &str, reason: &str) -> Answer {
        let csrf = self.csrf().await;
        self.post(
            &format!("/backoffice/transactions/{id}/decide"),
            &[
                ("csrf", &csrf),
                ("decision", decision),
                ("reason", reason),
                ("confirm", "yes"),
            ],
        )
        .await
    }
}

/// The first `name="csrf"` value in a page.
pub fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The transaction's current internal state, from the store.
pub async fn state_of(app: &TestApp, id: &str) -> TxnState {
    let id = TransactionId::parse(id).unwrap();
    app.running
        .app
        .store
        .transaction(&id)
        .await
        .unwrap()
        .unwrap()
        .state
}
