//! FORUMPAY pay-ins through the sandbox's hosted page form.

use crate::harness::*;

async fn start_payin(app: &TestApp, amount: &str) -> (String, String, String) {
    let mut body = TestApp::payin_body(amount);
    body["returnUrl"] = serde_json::json!("https://merchant.example/return");
    let (status, resp) = app.cashier(&body).await;
    assert_eq!(status, 200, "{resp}");
    let data = &resp["data"];
    assert_eq!(data["status"], "PENDING");
    let url = data["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&app.url),
        "hosted page served by the sandbox: {url}"
    );
    (
        data["transactionId"].as_str().unwrap().to_owned(),
        data["sessionId"].as_str().unwrap().to_owned(),
        url,
    )
}

async fn submit_form(app: &TestApp, url: &str, outcome: &str) -> reqwest::Response {
    let page = app.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form") && html.contains("outcome"), "{html}");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    no_redirects
        .post(url)
        .form(&[("outcome", outcome)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn payin_approved_on_the_hosted_page() {
    let app = TestApp::start().await;
    let (id, session, url) = start_payin(&app, "25.00").await;
    assert_eq!(
        app.status(&session).await["transactionId"],
        id.as_str(),
        "status by sessionId"
    );
    let done = submit_form(&app, &url, "approve").await;
    assert!(done.status().is_redirection());
    assert_eq!(
        done.headers()["location"],
        "https://merchant.example/return"
    );
    let view = app.wait_final(&id).await;
    assert_eq!(view["transactionStatus"], "Approved");
    let hook = &app.mp.wait_delivered(&id, 1).await[0];
    assert!(app.signature_ok(hook));
    assert_eq!(hook.json["type"], "PAYIN");
    assert_eq!(hook.json["amount"], "25.00");
    // Pay-ins are not verified with the MP unless the company asks for it.
    assert!(app.mp.verify_calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn payin_declined_on_the_hosted_page() {
    let app = TestApp::start().await;
    let (id, _, url) = start_payin(&app, "25.00").await;
    submit_form(&app, &url, "decline").await;
    let view = app.wait_final(&id).await;
    assert_eq!(view["transactionStatus"], "Declined");
    assert_eq!(
        app.mp.wait_delivered(&id, 1).await[0].json["transaction_status"],
        "Declined"
    );
}

#[tokio::test]
async fn payin_requires_country_for_forumpay() {
    let app = TestApp::start().await;
    let mut body = TestApp::payin_body("25.00");
    body.as_object_mut().unwrap().remove("country");
    let (status, resp) = app.cashier(&body).await;
    assert_eq!(status, 400, "{resp}");
    assert_eq!(resp["errors"][0]["field"], "country");
    assert_eq!(app.stored_count().await, 0);
}

#[tokio::test]
async fn gigadat_payin_takes_name_and_phone_from_the_user_token() {
    let app = TestApp::start().await;
    let body = serde_json::json!({"pspType":"GIGADAT","type":"PAYIN","baseamount":50.00,"currency":"CAD",
        "userId":"user-ca","email":"player@example.com","country":"CA","userIp":"203.0.113.7"});
    // The token carries firstName, lastName and phone: nothing is missing.
    let (status, resp) = app.cashier(&body).await;
    assert_eq!(status, 200, "{resp}");
    assert!(
        resp["data"]["url"]
            .as_str()
            .unwrap()
            .contains("/sandbox/gigadat/"),
        "{resp}"
    );
    // An MP session token carries no profile: the PSP's required fields are named.
    let resp = app
        .http
        .post(format!("{}/v1/api/mozarto/cashier", app.url))
        .bearer_auth(&app.token)
        .header("x-user-authorization", "mp-session")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: serde_json::Value = resp.json().await.unwrap();
    assert!(
        ["name", "phone"].contains(&err["errors"][0]["field"].as_str().unwrap()),
        "{err}"
    );
}
