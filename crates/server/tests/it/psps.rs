//! Every PSP through the real server: a payout approved end to end, or a pay-in approved on
//! its hosted page, with the final webhook at the MP. Also the capability table endpoint.

use crate::harness::*;
use serde_json::{json, Value};

/// A Cashier body each PSP can approve in its sandbox: one arm per PSP for its currency,
/// country and own fields.
fn body(psp: &str, kind: &str) -> Value {
    let (currency, country) = match psp {
        "GIGADAT" | "PAYONE" => ("CAD", "CA"),
        "BRITE" => ("SEK", "SE"),
        "TRUST" => ("GBP", "GB"),
        "CLEO" => ("CLP", "CL"),
        _ => ("EUR", "DE"),
    };
    let mut b = json!({"pspType": psp, "type": kind, "baseamount": 20.00, "currency": currency,
        "userId": "user-e2e", "email": "player@example.com", "country": country, "userIp": "203.0.113.9",
        "returnUrl": "https://merchant.example/back"});
    match psp {
        "FORUMPAY" => {
            b["walletAddress"] = json!("bc1qexampleaddress0000000000000000000000");
            b["preferredCrypto"] = json!("BTC");
        }
        // Card PSPs through hosted pages: the common fields (EUR, DE, returnUrl) suffice.
        "WORLDPAY_EU" | "EMERCHANTPAY" => {}
        // A sandbox voucher worth 20 EUR (978, 000020), redeemed in the create call.
        "FLEXEPIN" => b["voucherPin"] = json!("9780000200000000"),
        // A Chilean account: number, bank code and the holder's RUT.
        "CLEO" => {
            b["bankAccount"] = json!("12345678");
            b["bankCode"] = json!("012");
            b["documentId"] = json!("12.345.678-5");
        }
        _ => {}
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
        "CLEO",
        "FLEXEPIN",
        "FORUMPAY",
        "GIGADAT",
        "NEOSURF",
        "PAYMENTSOFT",
        "PAYONE",
        "TRUST",
        "WORLDPAY_EU",
        "EMERCHANTPAY",
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
            // A pay-in settled in the create call (a voucher) has no page to visit.
            if kind == "PAYIN" && resp["data"]["status"] == "PENDING" {
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

/// Two companies provisioned against the same sandboxes get different accounts: every
/// identifier and secret differs except the public-by-design ones (the PaynetEasy OAuth test
/// key, ForumPay's `pos_id` label, Gigadat's `sandbox` switch).
#[tokio::test]
async fn each_company_gets_its_own_sandbox_accounts() {
    use overture_server::demo::{self, NewCompany};
    use secrecy::ExposeSecret;
    const SHARED: &[&str] = &["oauth_private_key", "pos_id", "sandbox"];
    let app = TestApp::start().await;
    let store = app.running.app.store.clone();
    let second = demo::create_company(
        store.as_ref(),
        NewCompany {
            name: "Second MP".into(),
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
    demo::add_sandbox_accounts(store.as_ref(), &second.id, &app.url, &app.url, 0)
        .await
        .unwrap();
    let first = store.psp_accounts(&app.company.id).await.unwrap();
    let second = store.psp_accounts(&second.id).await.unwrap();
    assert_eq!(first.len(), app.running.app.registry.capabilities().len());
    for a in &first {
        let b = second
            .iter()
            .find(|b| b.psp_type == a.psp_type)
            .expect("same PSPs");
        assert_eq!(a.base_url, b.base_url);
        for (name, value) in &a.credentials.0 {
            let other = b.credentials.0[name].expose_secret();
            let same = value.expose_secret() == other;
            assert_eq!(
                same,
                SHARED.contains(&name.as_str()),
                "{} {name}",
                a.psp_type.0
            );
        }
    }
}
