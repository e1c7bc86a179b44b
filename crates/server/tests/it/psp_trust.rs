//! TRUST end to end: pay-ins through the Cashier API on the sandbox's Payment Pages, and the
//! proof against outside code: Trust Payments' official Python SDK `securetrading` 1.0.26,
//! unchanged, queries the sandbox's Webservices endpoint (`tests/python/trust_query.py`).
//!
//! The SDK runs in the interpreter `$OVERTURE_TEST_PYTHON`, else `<repo>/.venv/bin/python`
//! (made by `python3 -m venv .venv && .venv/bin/pip install -r tests/python/requirements.txt`,
//! as `.ci/run` does). Without it the test fails with that hint; it never skips.

use crate::harness::*;
use crate::python::repo_root;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::path::PathBuf;

const RETURN_URL: &str = "https://merchant.example/back";

/// The interpreter with `securetrading` 1.0.26.
fn python() -> PathBuf {
    crate::python::python("securetrading", "1.0.26", "the TRUST SDK test")
}

/// Webservices credentials the SDK is configured with.
struct WsUser {
    username: String,
    password: String,
    sitereference: String,
}

/// Runs `tests/python/trust_query.py` against the sandbox of `app`; returns its JSON. Async:
/// the server answering the script runs on this test's runtime.
async fn sdk_query(app: &TestApp, user: &WsUser, order: &str) -> Value {
    let script = repo_root().join("tests/python/trust_query.py");
    let output = tokio::process::Command::new(python())
        .arg(&script)
        .args(["--datacenterurl", &app.url])
        .args(["--datacenterpath", "/sandbox/trust/json/"])
        .args(["--username", &user.username])
        .args(["--password", &user.password])
        .args(["--sitereference", &user.sitereference])
        .args(["--orderreference", order])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The test company's TRUST account, as opened at the sandbox.
async fn trust_user(app: &TestApp) -> WsUser {
    let accounts = app
        .running
        .app
        .store
        .psp_accounts(&app.company.id)
        .await
        .unwrap();
    let account = accounts
        .iter()
        .find(|a| a.psp_type.as_str() == "TRUST")
        .expect("a TRUST sandbox account");
    let get = |name: &str| account.credentials.0[name].expose_secret().to_owned();
    WsUser {
        username: get("username"),
        password: get("password"),
        sitereference: get("sitereference"),
    }
}

/// Starts a TRUST pay-in of 20.00 EUR; returns its id and `data.url`.
async fn start_payin(app: &TestApp) -> (String, String) {
    let body = json!({"pspType": "TRUST", "type": "PAYIN", "baseamount": 20.00,
        "currency": "EUR", "userId": "user-trust", "email": "payer@example.com",
        "country": "GB", "firstName": "Jay", "lastName": "Doe", "returnUrl": RETURN_URL});
    let (status, resp) = app.cashier(&body).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["data"]["status"], "PENDING");
    let id = resp["data"]["transactionId"].as_str().unwrap().to_owned();
    let url = resp["data"]["url"].as_str().unwrap().to_owned();
    assert!(
        url.contains("/sandbox/trust/process/payments/choice?"),
        "{url}"
    );
    (id, url)
}

/// Opens the page and submits `outcome` like a browser; returns the redirect's `Location`.
async fn pay(url: &str, outcome: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200, "{url}");
    let done = browser
        .post(url)
        .form(&[("outcome", outcome)])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    done.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_official_python_sdk_queries_a_paid_order_on_the_sandbox() {
    let python = python();
    assert!(python.exists());
    let app = TestApp::start().await;
    let (id, url) = start_payin(&app).await;
    let back = pay(&url, "approve").await;
    assert!(
        back.starts_with(&format!("{RETURN_URL}?errorcode=0&")),
        "{back}"
    );
    let view = app.wait_final(&id).await;
    assert_eq!(view["transactionStatus"], "Approved", "{view}");

    let user = trust_user(&app).await;
    let answer = sdk_query(&app, &user, &id).await;
    assert_eq!(answer["requestreference"], answer["sentreference"]);
    let response = &answer["responses"][0];
    assert_eq!(response["errorcode"], "0", "{answer}");
    assert_eq!(response["requesttypedescription"], "TRANSACTIONQUERY");
    let records = response["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{answer}");
    let record = &records[0];
    assert_eq!(record["orderreference"], id.as_str());
    assert_eq!(record["errorcode"], "0");
    assert_eq!(record["baseamount"], "2000");
    assert_eq!(record["currencyiso3a"], "EUR");
    assert_eq!(record["requesttypedescription"], "AUTH");
    assert_eq!(
        record["transactionreference"].as_str(),
        view["pspTransactionId"].as_str()
    );

    // A wrong password: the sandbox answers 401, which the SDK reports as its error 6.
    let wrong = WsUser {
        password: "not-the-password".into(),
        ..trust_user(&app).await
    };
    let refused = sdk_query(&app, &wrong, &id).await;
    assert_eq!(refused["responses"][0]["errorcode"], "6", "{refused}");

    // The documented default test account works too, and sees nothing of another site.
    let default = WsUser {
        username: "webservices@example.com".into(),
        password: "Password1^".into(),
        sitereference: "test_site12345".into(),
    };
    let empty = sdk_query(&app, &default, &id).await;
    let response = &empty["responses"][0];
    assert_eq!(
        (response["errorcode"].as_str(), response["found"].as_str()),
        (Some("0"), Some("0")),
        "{empty}"
    );
}

#[tokio::test]
async fn a_card_declined_on_the_page_declines_the_pay_in() {
    let app = TestApp::start().await;
    let (id, url) = start_payin(&app).await;
    let back = pay(&url, "decline").await;
    assert!(
        back.starts_with(&format!("{RETURN_URL}?errorcode=70000&")),
        "{back}"
    );
    let view = app.wait_final(&id).await;
    assert_eq!(view["transactionStatus"], "Declined", "{view}");
    assert_eq!(view["pspStatus"], "errorcode=70000 settlestatus=3");
    let hook = &app.mp.wait_delivered(&id, 1).await[0];
    assert!(app.signature_ok(hook));
    assert_eq!(hook.json["pspType"], "TRUST");
    let orders = app.sandbox_orders("trust").await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["notifications_sent"], 1);
}
