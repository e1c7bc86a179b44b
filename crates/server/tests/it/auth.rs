//! Company JWT and user token checks: every bad token is 401, never a hang.

use crate::harness::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use overture_server::api::auth::issue_company_token;
use secrecy::SecretString;
use serde_json::{json, Value};

async fn post_with(
    app: &TestApp,
    company_token: &str,
    user_header: Option<(&str, String)>,
) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/v1/api/mozarto/cashier", app.url))
        .bearer_auth(company_token)
        .json(&TestApp::payout_body("10.00"));
    if let Some((name, value)) = user_header {
        req = req.header(name, value);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn unsigned_token(sub: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(json!({ "sub": sub, "exp": now_secs() + 600 }).to_string());
    format!("{header}.{claims}.")
}

#[tokio::test]
async fn bad_company_tokens_are_401() {
    let app = TestApp::start().await;
    let user = Some((
        "x-user-token",
        format!("Bearer {}", app.user_token("user-1")),
    ));
    let id = &app.company.id;
    let cases = [
        ("alg none", unsigned_token(id.as_str())),
        (
            "wrong key",
            issue_company_token(id, &SecretString::from("not-the-secret"), now_secs(), 600),
        ),
        (
            "expired",
            issue_company_token(id, &app.company.api_secret, now_secs() - 7200, 600),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (name, token) in cases {
        let (status, body) = post_with(&app, &token, user.clone()).await;
        assert_eq!(
            (status, body["errorCode"].as_str()),
            (401, Some("UNAUTHORIZED")),
            "{name}: {body}"
        );
    }
    // Another company's token (valid for it) cannot act as this company.
    let other = overture_server::demo::create_company(
        app.running.app.store.as_ref(),
        overture_server::demo::NewCompany {
            name: "Other".into(),
            webhook_url: "http://127.0.0.1:9/h".into(),
            verify_user_url: "http://127.0.0.1:9/v".into(),
            webhook_authorization: None,
            payout_approval_threshold: None,
            verify_payins: false,
        },
        0,
    )
    .await
    .unwrap();
    let forged = issue_company_token(id, &other.api_secret, now_secs(), 600);
    assert_eq!(
        post_with(&app, &forged, user.clone()).await.0,
        401,
        "signed by another company's key"
    );
    // Other company's own token works but cannot read this company's transactions.
    let txn = app.payout("10.00").await;
    let other_token = issue_company_token(&other.id, &other.api_secret, now_secs(), 600);
    let resp = app
        .http
        .get(format!("{}/v1/api/mozarto/transactions/{txn}", app.url))
        .bearer_auth(other_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn user_headers_are_required_and_checked() {
    let app = TestApp::start().await;
    let (status, body) = post_with(&app, &app.token, None).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (401, Some("UNAUTHORIZED")),
        "{body}"
    );
    let (status, _) = post_with(
        &app,
        &app.token,
        Some(("x-user-token", "Bearer not-a-jwt".into())),
    )
    .await;
    assert_eq!(
        status, 401,
        "a non-JWT user token is refused at once, not a 504"
    );
    let (status, body) = post_with(
        &app,
        &app.token,
        Some((
            "x-user-token",
            format!("Bearer {}", app.user_token("someone-else")),
        )),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (403, Some("FORBIDDEN")),
        "{body}"
    );
    assert_eq!(app.stored_count().await, 0);
    // x-user-authorization is forwarded verbatim to the MP.
    let (status, body) = post_with(
        &app,
        &app.token,
        Some(("x-user-authorization", "mp-session-abc".into())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let calls = app.mp.verify_calls.lock().unwrap().clone();
    assert_eq!(
        calls.last().unwrap().authorization.as_deref(),
        Some("mp-session-abc")
    );
}

/// HS256 token with `claims`, signed with this company's API secret.
fn signed(app: &TestApp, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(
            secrecy::ExposeSecret::expose_secret(&app.company.api_secret).as_bytes(),
        ),
    )
    .unwrap()
}

#[tokio::test]
async fn not_before_is_honoured_and_user_tokens_need_an_expiry() {
    let app = TestApp::start().await;
    let id = app.company.id.as_str();
    let user = Some((
        "x-user-token",
        format!("Bearer {}", app.user_token("user-1")),
    ));
    // A company JWT that becomes valid in an hour is not valid now.
    let later = signed(
        &app,
        &json!({ "sub": id, "exp": now_secs() + 7200, "nbf": now_secs() + 3600 }),
    );
    let (status, body) = post_with(&app, &later, user.clone()).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (401, Some("UNAUTHORIZED")),
        "{body}"
    );
    // Within the documented leeway it is.
    let skewed = signed(
        &app,
        &json!({ "sub": id, "exp": now_secs() + 600, "nbf": now_secs() + 3 }),
    );
    assert_eq!(post_with(&app, &skewed, user.clone()).await.0, 200);

    let profile = |extra: Value| {
        let mut claims = json!({
            "userId": "user-1", "email": "player@example.com", "firstName": "Ada",
            "lastName": "Lovelace", "phone": "4165550123", "countryCode": "DE",
        });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        format!("Bearer {}", signed(&app, &claims))
    };
    for (name, extra) in [
        ("no exp", json!({})),
        (
            "nbf in an hour",
            json!({ "exp": now_secs() + 7200, "nbf": now_secs() + 3600 }),
        ),
        ("expired", json!({ "exp": now_secs() - 600 })),
    ] {
        let (status, body) =
            post_with(&app, &app.token, Some(("x-user-token", profile(extra)))).await;
        assert_eq!(
            (status, body["errorCode"].as_str()),
            (401, Some("UNAUTHORIZED")),
            "{name}: {body}"
        );
    }
    let (status, body) = post_with(
        &app,
        &app.token,
        Some(("x-user-token", profile(json!({ "exp": now_secs() + 600 })))),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
