//! Bad input: each a 4xx Mozarto error envelope, nothing stored.

use crate::harness::*;
use serde_json::{json, Value};

fn assert_envelope(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["isSuccess"], false);
    assert_eq!(body["errorCode"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn bad_fields_are_refused_with_the_field_named() {
    let app = TestApp::start().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "missing amount",
            json!({"pspType":"PAYMENTSOFT","type":"PAYOUT","currency":"EUR","userId":"u","email":"a@b.co"}),
            "baseamount",
        ),
        ("extra precision", json!(null), "baseamount"),
        ("negative", json!(null), "baseamount"),
        ("non-numeric", json!(null), "baseamount"),
        ("unknown currency", json!(null), "currency"),
        ("unknown pspType", json!(null), "pspType"),
        ("type REFUND", json!(null), "type"),
    ];
    let raw_bodies = [
        None,
        Some(
            r#"{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":10.001,"currency":"EUR","userId":"u","email":"a@b.co"}"#,
        ),
        Some(
            r#"{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":-10.00,"currency":"EUR","userId":"u","email":"a@b.co"}"#,
        ),
        Some(
            r#"{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":"ten","currency":"EUR","userId":"u","email":"a@b.co"}"#,
        ),
        Some(
            r#"{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":10.00,"currency":"ABC","userId":"u","email":"a@b.co"}"#,
        ),
        Some(
            r#"{"pspType":"NOSUCHPSP","type":"PAYOUT","baseamount":10.00,"currency":"EUR","userId":"u","email":"a@b.co"}"#,
        ),
        Some(
            r#"{"pspType":"PAYMENTSOFT","type":"REFUND","baseamount":10.00,"currency":"EUR","userId":"u","email":"a@b.co"}"#,
        ),
    ];
    for ((name, body, field), raw) in cases.into_iter().zip(raw_bodies) {
        let body = raw
            .map(|r| serde_json::from_str(r).unwrap())
            .unwrap_or(body);
        let (status, resp) = app.cashier(&body).await;
        assert_envelope(status, &resp, 400, "VALIDATION_ERROR");
        let fields: Vec<_> = resp["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{name}: {resp}");
    }
    assert_eq!(app.stored_count().await, 0);
    assert!(
        app.mp.verify_calls.lock().unwrap().is_empty(),
        "nothing reached the MP"
    );
    assert!(
        app.sandbox_orders("paymentsoft").await.is_empty(),
        "nothing reached the PSP"
    );
}

async fn raw_post(app: &TestApp, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}/v1/api/mozarto/cashier", app.url))
        .bearer_auth(&app.token)
        .header("x-user-token", format!("Bearer {}", app.user_token("u")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn malformed_oversized_and_wrong_type_bodies() {
    let app = TestApp::start().await;
    let (s, b) = raw_post(&app, "application/json", b"{\"pspType\": ".to_vec()).await;
    assert_envelope(s, &b, 400, "MALFORMED_JSON");
    let (s, b) = raw_post(&app, "application/json", b"[1,2,3]".to_vec()).await;
    assert_envelope(s, &b, 400, "MALFORMED_JSON");
    let (s, b) = raw_post(&app, "text/plain", b"{}".to_vec()).await;
    assert_envelope(s, &b, 415, "UNSUPPORTED_MEDIA_TYPE");
    let mut huge = br#"{"pspType":"PAYMENTSOFT","pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 200 * 1024));
    huge.extend(br#""}"#);
    let (s, b) = raw_post(&app, "application/json", huge).await;
    assert_envelope(s, &b, 413, "PAYLOAD_TOO_LARGE");
    assert_eq!(app.stored_count().await, 0);
}

#[tokio::test]
async fn psp_that_cannot_serve_is_422_before_any_call() {
    let app = TestApp::start().await;
    let mut body = TestApp::payout_body("10.00");
    body["type"] = json!("PAYIN");
    let (s, b) = app.cashier(&body).await;
    assert_envelope(s, &b, 422, "PSP_NOT_SUPPORTED");
    let mut body = TestApp::payout_body("1000");
    body["currency"] = json!("JPY");
    let (s, b) = app.cashier(&body).await;
    assert_envelope(s, &b, 422, "PSP_NOT_SUPPORTED");
    // FORUMPAY payouts need walletAddress: 400 naming it.
    let mut body = TestApp::payout_body("10.00");
    body["pspType"] = json!("FORUMPAY");
    body["preferredCrypto"] = json!("BTC");
    let (s, b) = app.cashier(&body).await;
    assert_envelope(s, &b, 400, "VALIDATION_ERROR");
    assert_eq!(b["errors"][0]["field"], "walletAddress");
    assert_eq!(app.stored_count().await, 0);
}
