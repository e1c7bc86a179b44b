//! CLEO end to end: pay-ins on the hosted bank-transfer page and payouts in each country's own
//! currency (CLP in whole pesos), the per-country key chosen by the request, and the published
//! country/currency rules refused with a clear field error before any PSP call.

use crate::harness::*;
use serde_json::{json, Value};

fn body(kind: &str, amount: &str, currency: &str, country: &str) -> Value {
    let mut b: Value = serde_json::from_str(&format!(
        r#"{{"pspType":"CLEO","type":"{kind}","baseamount":{amount},"currency":"{currency}","userId":"user-c","email":"cliente@example.cl","country":"{country}","returnUrl":"https://merchant.example/back"}}"#
    ))
    .unwrap();
    let account = match country {
        "MX" => "002010077777777771",
        "PE" => "00219300123456789012",
        _ => "12345678",
    };
    b["bankAccount"] = json!(account);
    if country == "CL" {
        b["bankCode"] = json!("012");
        b["documentId"] = json!("12.345.678-5");
    }
    b
}

async fn approve(url: &str) {
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
    assert_eq!(done.status(), 303);
}

#[tokio::test]
async fn pay_ins_and_payouts_in_each_country_use_its_currency_and_key() {
    let app = TestApp::start().await;
    let mut ids = Vec::new();
    for (amount, currency, country) in [("15000", "CLP", "CL"), ("150.50", "PEN", "PE")] {
        let (status, resp) = app.cashier(&body("PAYIN", amount, currency, country)).await;
        assert_eq!(status, 200, "{resp}");
        approve(resp["data"]["url"].as_str().unwrap()).await;
        ids.push(resp["data"]["transactionId"].as_str().unwrap().to_owned());
    }
    let (status, resp) = app.cashier(&body("PAYOUT", "99.90", "MXN", "MX")).await;
    assert_eq!(status, 200, "{resp}");
    ids.push(resp["data"]["transactionId"].as_str().unwrap().to_owned());
    for id in &ids {
        let view = app.wait_final(id).await;
        assert_eq!(view["state"], "approved", "{view}");
        let hook = &app.mp.wait_delivered(id, 1).await[0];
        assert_eq!(hook.json["pspType"], "CLEO");
    }
    let orders = app.sandbox_orders("cleo").await;
    let seen: Vec<(Value, Value, Value)> = orders
        .iter()
        .map(|o| {
            (
                o["amount"].clone(),
                o["currency"].clone(),
                o["country"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (json!("15000"), json!("CLP"), json!("CL")),
            (json!("150.50"), json!("PEN"), json!("PE")),
            (json!("99.90"), json!("MXN"), json!("MX")),
        ]
    );
    assert_eq!(
        app.mp.wait_delivered(&ids[0], 1).await[0].json["amount"],
        "15000"
    );
}

#[tokio::test]
async fn other_pairs_and_centavos_are_refused_before_any_call() {
    let app = TestApp::start().await;
    for (body, status, needle) in [
        (body("PAYIN", "150", "PEN", "CL"), 400, "CLP for CL"),
        (body("PAYIN", "150", "MXN", "PE"), 400, "PEN for PE"),
        (body("PAYIN", "10000.50", "CLP", "CL"), 400, "baseamount"),
        (body("PAYIN", "100", "USD", "MX"), 422, "PSP_NOT_SUPPORTED"),
        (body("PAYIN", "100", "CLP", "AR"), 422, "PSP_NOT_SUPPORTED"),
    ] {
        let (got, resp) = app.cashier(&body).await;
        assert_eq!(got, status, "{resp}");
        assert!(resp.to_string().contains(needle), "{needle}: {resp}");
    }
    let mut bad_clabe = body("PAYOUT", "100", "MXN", "MX");
    bad_clabe["bankAccount"] = json!("002010077777777772");
    let (got, resp) = app.cashier(&bad_clabe).await;
    assert_eq!(got, 400, "{resp}");
    assert!(resp.to_string().contains("bankAccount"), "{resp}");
    let mut no_rut = body("PAYOUT", "20000", "CLP", "CL");
    no_rut.as_object_mut().unwrap().remove("documentId");
    let (got, resp) = app.cashier(&no_rut).await;
    assert_eq!(got, 400, "{resp}");
    assert!(resp.to_string().contains("documentId"), "{resp}");
    assert_eq!(app.stored_count().await, 0);
    assert!(app.sandbox_orders("cleo").await.is_empty());
}

#[tokio::test]
async fn a_rejected_payout_is_declined_and_a_forged_webhook_changes_nothing() {
    // The demo approval threshold is in major units of any currency: 10051 CLP would be held.
    let app = TestApp::with(Options {
        threshold: None,
        ..Options::default()
    })
    .await;
    // 10051 pesos: the last two digits pick "rejected".
    let (_, resp) = app.cashier(&body("PAYOUT", "10051", "CLP", "CL")).await;
    let rejected = resp["data"]["transactionId"].as_str().unwrap().to_owned();
    let (_, resp) = app.cashier(&body("PAYOUT", "100.57", "PEN", "PE")).await;
    let forged = resp["data"]["transactionId"].as_str().unwrap().to_owned();
    let view = app.wait_final(&rejected).await;
    assert_eq!(
        (view["state"].as_str(), view["pspStatus"].as_str()),
        (Some("declined"), Some("rejected"))
    );
    let view = app.wait_final(&forged).await;
    assert_eq!(view["state"], "approved", "the status call decides: {view}");
}
