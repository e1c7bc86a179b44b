//! Every PSP through the real server: a payout approved end to end, or a pay-in approved on
//! its hosted page, with the final webhook at the MP. Also the capability table endpoint.

use crate::harness::*;
use serde_json::{json, Value};

fn body(psp: &str, kind: &str) -> Value {
    let (currency, country) = match psp {
        "GIGADAT" | "PAYONE" => ("CAD", "CA"),
        "BRITE" => ("SEK", "SE"),
        _ => ("EUR", "DE"),
    };
    let mut b = json!({"pspType": psp, "type": kind, "baseamount": 20.00, "currency": currency,
        "userId": "user-e2e", "email": "player@example.com", "country": country, "userIp": "203.0.113.9",
        "returnUrl": "https://merchant.example/back"});
    if psp == "FORUMPAY" {
        b["walletAddress"] = json!("bc1qexampleaddress0000000000000000000000");
        b["preferredCrypto"] = json!("BTC");
    }
    b
}

async fn approve_page(app: &TestApp, url: &str) {
    let page = app.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200, "{url}");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let done = no_redirects
        .post(url)
        .form(&[("outcome", "approve")])
        .send()
        .await
        .unwrap();
    assert!(
        done.status().is_success() || done.status().is_redirection(),
        "{url}: {}",
        done.status()
    );
}

#[tokio::test]
async fn every_psp_works_through_the_api() {
    let app = TestApp::start().await;
    let psps: Value = app
        .http
        .get(format!("{}/v1/api/psps", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = psps["data"]["psps"].as_array().unwrap().clone();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["pspType"].as_str().unwrap())
        .collect();
    for expected in [
        "BRITE",
        "CARDZO",
        "FORUMPAY",
        "GIGADAT",
        "PAYMENTSOFT",
        "PAYONE",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let mut ids = Vec::new();
    for row in &rows {
        let psp = row["pspType"].as_str().unwrap();
        for (kind, supported) in [
            ("PAYIN", row["payin"].as_bool().unwrap()),
            ("PAYOUT", row["payout"].as_bool().unwrap()),
        ] {
            let (status, resp) = app.cashier(&body(psp, kind)).await;
            if !supported {
                assert_eq!(
                    (status, resp["errorCode"].as_str()),
                    (422, Some("PSP_NOT_SUPPORTED")),
                    "{psp} {kind}"
                );
                continue;
            }
            assert_eq!(status, 200, "{psp} {kind}: {resp}");
            let id = resp["data"]["transactionId"].as_str().unwrap().to_owned();
            if kind == "PAYIN" {
                approve_page(&app, resp["data"]["url"].as_str().unwrap()).await;
            }
            ids.push((psp.to_owned(), kind, id));
        }
    }
    for (psp, kind, id) in &ids {
        let view = app.wait_final(id).await;
        assert_eq!(
            view["transactionStatus"], "Approved",
            "{psp} {kind}: {view}"
        );
        let hook = &app.mp.wait_delivered(id, 1).await[0];
        assert!(app.signature_ok(hook));
        assert_eq!(hook.json["pspType"], psp.as_str());
    }
    assert!(ids.len() >= 9, "{ids:?}");
}
