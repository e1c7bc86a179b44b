//! `/v1/api/psp-accounts`: create, read, change, delete and test a company's PSP accounts over
//! HTTP on both backends, against the in-process sandboxes.

use crate::harness::*;
use crate::merchant_support::*;
use crate::on_both_backends;
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};

/// Opens an account at the `psp` sandbox; returns its base URL and credentials as JSON.
async fn sandbox_credentials(app: &TestApp, psp: &str) -> (String, Map<String, Value>) {
    let base = format!("{}/sandbox/{}", app.url, psp.to_ascii_lowercase());
    let psp_static: &'static str = Box::leak(psp.to_owned().into_boxed_str());
    let creds = overture_server::demo::open_sandbox_account(psp_static, &base)
        .await
        .unwrap();
    let map = creds
        .0
        .iter()
        .map(|(k, v)| (k.clone(), json!(v.expose_secret())))
        .collect();
    (base, map)
}

/// The credential of each PSP that the credentials test must find wrong.
const SECRET_OF: [(&str, &str); 11] = [
    ("PAYMENTSOFT", "merchant_control"),
    ("CARDZO", "merchant_control"),
    ("FORUMPAY", "secret"),
    ("GIGADAT", "security_token"),
    ("BRITE", "secret"),
    ("PAYONE", "api_key"),
    ("TRUST", "password"),
    ("WORLDPAY_EU", "xml_password"),
    ("EMERCHANTPAY", "password"),
    ("FLEXEPIN", "secret"),
    ("CLEO", "api_key_cl"),
];

on_both_backends!(psp_accounts_are_created_changed_and_deleted, crud);
async fn crud(postgres: bool) {
    let app = start(postgres).await;
    let (base, creds) = sandbox_credentials(&app, "PAYMENTSOFT").await;
    let body = json!({
        "pspType": "PAYMENTSOFT", "baseUrl": base, "credentials": creds, "priority": 7,
        "minAmount": {"EUR": "10.00"}, "dailyCountCap": 100,
    });
    let (status, got) = call(&app, "POST", "/v1/api/psp-accounts", Some(&body)).await;
    assert_eq!(status, 201, "{got}");
    let id = got["data"]["accountId"].as_str().unwrap().to_owned();
    assert_eq!(got["data"]["priority"], 7);
    assert_eq!(got["data"]["minAmount"], json!({"EUR": "10.00"}));
    assert_eq!(got["data"]["dailyCountCap"], 100);
    let names: Vec<&str> = got["data"]["credentialNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(names.contains(&"merchant_control") && names.contains(&"oauth_private_key"));
    let secret = creds["merchant_control"].as_str().unwrap();
    let (status, list) = call(&app, "GET", "/v1/api/psp-accounts", None).await;
    assert_eq!(status, 200);
    assert!(
        !list.to_string().contains(secret),
        "credentials are write-only"
    );
    assert!(list["data"]["pspAccounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["accountId"] == id.as_str()));

    // PATCH: routing settings and one credential by name; the others stay.
    let patch = json!({
        "enabled": false, "priority": 3, "maxAmount": {"EUR": "5000"}, "minAmount": {"EUR": null},
        "dailyCountCap": null, "credentials": {"merchant_control": "rotated-control"},
    });
    let path = format!("/v1/api/psp-accounts/{id}");
    let (status, got) = call(&app, "PATCH", &path, Some(&patch)).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["data"]["enabled"], false);
    assert_eq!(got["data"]["minAmount"], json!({}));
    assert_eq!(got["data"]["maxAmount"], json!({"EUR": "5000.00"}));
    assert!(got["data"]["dailyCountCap"].is_null());
    let stored = app
        .running
        .app
        .store
        .psp_account(&overture_core::PspAccountId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.credentials.0["merchant_control"].expose_secret(),
        "rotated-control"
    );
    assert_eq!(
        stored.credentials.0["login"].expose_secret(),
        creds["login"].as_str().unwrap(),
        "credentials not named stay"
    );

    // Refused whole: a required credential removed, a bad base URL, an unknown key.
    let bad =
        json!({"credentials": {"login": null}, "baseUrl": "http://10.1.2.3/x", "colour": "red"});
    let (status, got) = call(&app, "PATCH", &path, Some(&bad)).await;
    assert_eq!(status, 400, "{got}");
    let mut fields = error_fields(&got);
    fields.sort();
    assert_eq!(fields, ["colour"], "{got}");
    let bad = json!({"credentials": {"login": null}, "baseUrl": "http://10.1.2.3/x"});
    let (status, got) = call(&app, "PATCH", &path, Some(&bad)).await;
    assert_eq!(status, 400, "{got}");
    let mut fields = error_fields(&got);
    fields.sort();
    assert_eq!(fields, ["baseUrl", "credentials.login"], "{got}");

    // Another company's account is a 404, for every method.
    let other = other_company_token(&app).await;
    for (method, p) in [
        ("GET", path.clone()),
        ("PATCH", path.clone()),
        ("DELETE", path.clone()),
        ("POST", format!("{path}/test")),
    ] {
        let (status, got) = call_as(&app, &other, method, &p, Some(&json!({"priority": 1}))).await;
        assert_eq!(status, 404, "{method} {p}: {got}");
    }

    // DELETE: hidden, out of routing, kept for history.
    let (status, got) = call(&app, "DELETE", &path, None).await;
    assert_eq!(status, 200, "{got}");
    let (status, _) = call(&app, "GET", &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app, "DELETE", &path, None).await;
    assert_eq!(status, 404);
    let (_, list) = call(&app, "GET", "/v1/api/psp-accounts", None).await;
    assert!(!list.to_string().contains(&id));
    let stored = app
        .running
        .app
        .store
        .psp_account(&stored.id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.deleted_at.is_some() && !stored.enabled);
}

/// A JWT of a second company.
pub async fn other_company_token(app: &TestApp) -> String {
    let other = overture_server::demo::create_company(
        app.running.app.store.as_ref(),
        overture_server::demo::NewCompany {
            name: "Other MP".into(),
            webhook_url: format!("{}/webhook", app.mp.url),
            verify_user_url: format!("{}/verify", app.mp.url),
            webhook_authorization: None,
            payout_approval_threshold: None,
            verify_payins: false,
        },
        0,
    )
    .await
    .unwrap();
    overture_server::api::auth::issue_company_token(&other.id, &other.api_secret, now_secs(), 600)
}

on_both_backends!(
    psp_credentials_are_checked_before_they_are_stored,
    validation
);
async fn validation(postgres: bool) {
    let app = start(postgres).await;
    let (base, mut creds) = sandbox_credentials(&app, "CARDZO").await;
    creds.insert(
        "oauth_private_key".into(),
        json!("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"),
    );
    creds.remove("login");
    let body = json!({"pspType": "CARDZO", "baseUrl": base, "credentials": creds});
    let (status, got) = call(&app, "POST", "/v1/api/psp-accounts", Some(&body)).await;
    assert_eq!(status, 400, "{got}");
    assert_eq!(error_fields(&got), ["credentials.login"], "{got}");
    creds.insert("login".into(), json!("someone"));
    let body = json!({"pspType": "CARDZO", "baseUrl": base, "credentials": creds});
    let (status, got) = call(&app, "POST", "/v1/api/psp-accounts", Some(&body)).await;
    assert_eq!(status, 400, "{got}");
    assert_eq!(
        error_fields(&got),
        ["credentials.oauth_private_key"],
        "{got}"
    );
    assert!(
        !got.to_string().contains("not a key"),
        "never repeats the value"
    );
    let body = json!({"pspType": "NOPE", "baseUrl": base, "credentials": {}});
    let (status, got) = call(&app, "POST", "/v1/api/psp-accounts", Some(&body)).await;
    assert_eq!(status, 400, "{got}");
    assert_eq!(error_fields(&got), ["pspType"], "{got}");
    let (status, got) = call(&app, "POST", "/v1/api/psp-accounts", Some(&json!({}))).await;
    assert_eq!(status, 400, "{got}");
    assert_eq!(
        error_fields(&got),
        ["pspType", "baseUrl", "credentials"],
        "{got}"
    );
}

#[tokio::test]
async fn credentials_tests_tell_good_from_wrong_at_every_sandbox() {
    let app = TestApp::start().await;
    let mut report = Vec::new();
    for (psp, secret) in SECRET_OF {
        let (base, mut creds) = sandbox_credentials(&app, psp).await;
        let body = json!({"pspType": psp, "baseUrl": base, "credentials": creds.clone()});
        let (status, got) = call(&app, "POST", "/v1/api/psp-accounts", Some(&body)).await;
        assert_eq!(status, 201, "{psp}: {got}");
        let id = got["data"]["accountId"].as_str().unwrap().to_owned();
        let test = format!("/v1/api/psp-accounts/{id}/test");
        let (status, good) = call(&app, "POST", &test, None).await;
        assert_eq!(status, 200, "{psp}: {good}");
        creds.insert(secret.into(), json!("wrong-credential-value"));
        let patch = json!({"credentials": {secret: "wrong-credential-value"}});
        let (status, got) = call(
            &app,
            "PATCH",
            &format!("/v1/api/psp-accounts/{id}"),
            Some(&patch),
        )
        .await;
        assert_eq!(status, 200, "{psp}: {got}");
        let (_, wrong) = call(&app, "POST", &test, None).await;
        report.push(format!(
            "{psp}: good {} / wrong {}",
            good["data"], wrong["data"]
        ));
        let ok = good["data"]["ok"] == true
            && wrong["data"]["ok"] == false
            && wrong["data"]["errorCode"] == "INVALID_PSP_CREDENTIALS"
            && good["data"]["latencyMs"].is_i64();
        if !ok {
            report.push(format!("  ^ {psp} FAILED"));
        }
    }
    let text = report.join("\n");
    assert!(!text.contains("FAILED"), "{text}");
    // NEOSURF has no call that proves credentials without a trace: said plainly.
    let (base, creds) = sandbox_credentials(&app, "NEOSURF").await;
    let body = json!({"pspType": "NEOSURF", "baseUrl": base, "credentials": creds});
    let (_, got) = call(&app, "POST", "/v1/api/psp-accounts", Some(&body)).await;
    let id = got["data"]["accountId"].as_str().unwrap().to_owned();
    let (_, got) = call(
        &app,
        "POST",
        &format!("/v1/api/psp-accounts/{id}/test"),
        None,
    )
    .await;
    assert_eq!(got["data"]["ok"], false);
    assert_eq!(got["data"]["errorCode"], "CREDENTIALS_TEST_UNSUPPORTED");
}
