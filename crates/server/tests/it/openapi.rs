//! The OpenAPI document against a live server: every documented operation is routed,
//! `/docs` works from the binary alone, and schemathesis (PyPI, in the test venv) calls every
//! operation with generated requests and fails on any 5xx or any answer the document does not
//! describe (status, content type, body schema).
//!
//! Schemathesis runs from `<venv>/bin/schemathesis` beside the test interpreter (see
//! [`crate::python`]); `OVERTURE_SCHEMATHESIS_EXAMPLES` (default 25) bounds the examples per
//! operation and `OVERTURE_SCHEMATHESIS_SEED` (default 1) fixes the generated cases.

use crate::harness::*;
use overture_core::Role;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// The document as served.
async fn document(app: &TestApp) -> Value {
    let response = app
        .http
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// How many operations (path and method pairs) the document has.
fn operation_count(doc: &Value) -> usize {
    doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum()
}

/// `path` with every `{param}` replaced by a value no resource has.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').unwrap() + open;
        out.push_str("none");
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_the_docs_page_is_served() {
    let app = TestApp::start().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let url = format!("{}{}", app.url, concrete(path));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app.http.request(method.clone(), &url).send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path}: {body}");
            assert!(
                !body.contains("No such endpoint"),
                "{method} {path} is documented but not routed: {body}"
            );
            assert!(status < 500, "{method} {path}: {status} {body}");
        }
    }
    assert!(operations >= 27, "{operations} operations");
    // Swagger UI from the binary: the page and the script it loads.
    let page = app
        .http
        .get(format!("{}/docs/", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");
    assert!(
        !html.contains("https://"),
        "the page loads nothing from outside: {html}"
    );
    let script = app
        .http
        .get(format!("{}/docs/swagger-ui-bundle.js", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.bytes().await.unwrap().len() > 100_000);
    let init = app
        .http
        .get(format!("{}/docs/swagger-initializer.js", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
}

/// `<venv>/bin/schemathesis`, beside the interpreter that has the package.
fn schemathesis() -> PathBuf {
    let python = crate::python::python("schemathesis", "4.32.5", "the schemathesis run");
    let bin = python.with_file_name("schemathesis");
    assert!(
        bin.exists(),
        "{} is missing: {}",
        bin.display(),
        crate::python::SETUP_HINT
    );
    bin
}

/// One schemathesis run over the operations `filter` selects, with `authorization`; panics
/// with its report when it finds anything. Returns how many operations it tested.
async fn run_schemathesis(app: &TestApp, authorization: &str, filter: &[&str]) -> usize {
    let examples =
        std::env::var("OVERTURE_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".to_owned());
    let seed = std::env::var("OVERTURE_SCHEMATHESIS_SEED").unwrap_or_else(|_| "1".to_owned());
    let mut command = tokio::process::Command::new(schemathesis());
    command
        .arg("--no-color")
        .arg("run")
        .arg(format!("{}/openapi.json", app.url))
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
        .args(["--max-examples", &examples, "--seed", &seed])
        // One worker: CPython 3.11's parser is not thread-safe under hypothesis' lambda
        // descriptions ("AST constructor recursion depth mismatch" with two).
        .args(["--workers", "1"])
        .args(["--request-timeout", "10", "--max-failures", "20"])
        // No example database or cache: every run starts from the seed alone, and nothing is
        // written into the checkout.
        .args(["--generation-database", "none"])
        .args(["-H", &format!("Authorization: {authorization}")])
        // A session token for the Cashier: the test MP's verify-user allows it.
        .args(["-H", "x-user-authorization: schemathesis-session"])
        .args(filter)
        .env("NO_COLOR", "1")
        .current_dir(&app.dir)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(600), command.output())
        .await
        .expect("schemathesis finishes within 10 minutes")
        .expect("schemathesis runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems ({:?}):\n{report}",
        filter
    );
    assert!(report.contains("Test cases:"), "{report}");
    // "Tested: 23" in the summary.
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no operation count in the report:\n{report}"))
}

#[tokio::test]
async fn schemathesis_finds_no_5xx_and_no_answer_outside_the_document() {
    let app = TestApp::start().await;
    // Something to find: a pay-in, and a payout held for approval.
    let (status, body) = app.cashier(&TestApp::payin_body("25.00")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.cashier(&TestApp::payout_body("1500.00")).await;
    assert_eq!(status, 200, "{body}");
    let company = format!("Bearer {}", app.token);
    // Settings that can break later calls by design run after those calls: a generated
    // `verifyUserUrl` or PSP account `baseUrl` that points nowhere makes the Cashier answer
    // 502 (`USER_VERIFICATION_UNAVAILABLE`, `PSP_UNAVAILABLE`), and a second API secret
    // rotation retires the secret of the token in use.
    let settings = "^(getCompany|patchCompany|rotateWebhookSecret|createPspAccount|patchPspAccount|deletePspAccount)$";
    let operations = operation_count(&document(&app).await);
    let mut tested = run_schemathesis(
        &app,
        &company,
        &[
            "--exclude-tag",
            "Back office",
            "--exclude-operation-id-regex",
            settings,
            "--exclude-operation-id",
            "rotateApiSecret",
        ],
    )
    .await;
    let operator = app.operator(Role::Admin).await;
    tested += run_schemathesis(
        &app,
        &format!("Bearer {operator}"),
        &["--include-tag", "Back office"],
    )
    .await;
    tested += run_schemathesis(&app, &company, &["--include-operation-id-regex", settings]).await;
    tested += run_schemathesis(
        &app,
        &company,
        &["--include-operation-id", "rotateApiSecret"],
    )
    .await;
    assert_eq!(tested, operations, "every operation is run exactly once");
}
