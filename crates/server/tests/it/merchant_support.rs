//! What the merchant API tests share: calls with the company JWT, and each test run on both
//! backends (PostgreSQL when `OVERTURE_TEST_POSTGRES_URL` is set).

use crate::harness::*;
use serde_json::Value;

/// Declares `<name>_sqlite` and `<name>_postgres` tests running `body(postgres)`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$body(false).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$body(true).await
            }
        }
    };
}

/// A test app on SQLite, or PostgreSQL when asked (and configured).
pub async fn start(postgres: bool) -> TestApp {
    TestApp::with(Options {
        postgres,
        ..Options::default()
    })
    .await
}

/// Sends `method path` with `token` as bearer and `body` as JSON (when given); returns the
/// status and the JSON answer.
pub async fn call_as(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app
        .http
        .request(method, format!("{}{path}", app.url))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// [`call_as`] with the test company's JWT.
pub async fn call(app: &TestApp, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    call_as(app, &app.token, method, path, body).await
}

/// The fields a 400 names, in order.
pub fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
