//! One error envelope everywhere under `/v1`: the router's own 404 and 405 and axum's extractor
//! refusals come back in the API's JSON envelope, with the status and the `Allow` header kept.

use crate::harness::*;
use serde_json::Value;

async fn send(app: &TestApp, method: reqwest::Method, path: &str) -> (u16, Option<String>, Value) {
    let resp = app
        .http
        .request(method, format!("{}{path}", app.url))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let allow = resp
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json")),
        "{path}: JSON"
    );
    (status, allow, resp.json().await.unwrap())
}

fn assert_envelope(body: &Value, code: &str) {
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["isSuccess"], false, "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["errors"].is_array(), "{body}");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_in_the_envelope() {
    let app = TestApp::start().await;
    let (status, _, body) = send(&app, reqwest::Method::GET, "/v1/api/mozarto/nope").await;
    assert_eq!(status, 404);
    assert_envelope(&body, "NOT_FOUND");

    let (status, allow, body) = send(&app, reqwest::Method::GET, "/v1/api/mozarto/cashier").await;
    assert_eq!(status, 405);
    assert_envelope(&body, "METHOD_NOT_ALLOWED");
    assert_eq!(allow.as_deref(), Some("POST"));

    let (status, allow, body) = send(&app, reqwest::Method::DELETE, "/v1/api/psps").await;
    assert_eq!(status, 405);
    assert_envelope(&body, "METHOD_NOT_ALLOWED");
    assert!(allow.is_some_and(|a| a.contains("GET")));

    // An extractor's own refusal (a query string that does not parse).
    let operator = app.operator(overture_core::Role::Viewer).await;
    let resp = app
        .http
        .get(format!(
            "{}/v1/api/backoffice/transactions?limit=many",
            app.url
        ))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_envelope(&resp.json().await.unwrap(), "VALIDATION_ERROR");

    // Outside /v1 nothing changes: the back office keeps its own pages.
    let resp = app
        .http
        .get(format!("{}/nowhere", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
