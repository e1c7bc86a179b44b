//! FLEXEPIN end to end: a voucher pay-in is final in the Cashier answer itself; the PIN is
//! stored only masked (status view, store, database file); declines, a voucher of another
//! value, a bad PIN, and a redemption whose outcome cannot be learned.

use crate::harness::*;
use overture_core::TransactionId;
use serde_json::{json, Value};

/// A sandbox voucher worth 20 EUR (`978` `000020`), unique by `n`, with outcome digits `oo`.
fn pin(n: u32, oo: &str) -> String {
    format!("978000020{n:05}{oo}")
}

fn body(pin: &str, amount: &str) -> Value {
    let mut b: Value = serde_json::from_str(&format!(
        r#"{{"pspType":"FLEXEPIN","type":"PAYIN","baseamount":{amount},"currency":"EUR","userId":"user-v","email":"player@example.com","userIp":"203.0.113.9"}}"#
    ))
    .unwrap();
    b["voucherPin"] = json!(pin);
    b
}

/// Every byte of the app's database files (SQLite and its WAL).
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(&app.dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("overture.db") {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(!all.is_empty(), "database files found");
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_voucher_is_final_in_the_answer_and_stored_only_masked() {
    let app = TestApp::start().await;
    let pin = pin(1, "00");
    let (status, resp) = app.cashier(&body(&pin, "20.00")).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["data"]["status"], "APPROVED", "{resp}");
    assert!(
        resp["data"].get("url").is_none(),
        "no page for a voucher: {resp}"
    );
    let id = resp["data"]["transactionId"].as_str().unwrap().to_owned();
    assert!(!resp.to_string().contains(&pin));
    // The status view: final, and the PIN nowhere.
    let view = app.status(&id).await;
    assert_eq!(view["state"], "approved", "{view}");
    assert!(!view.to_string().contains(&pin), "{view}");
    // The store keeps the last four characters only.
    let store = &app.running.app.store;
    let txn = store
        .transaction(&TransactionId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(txn.extras["voucherPin"], "****0100");
    assert!(!format!("{txn:?}").contains(&pin));
    let events = store.events(&txn.id).await.unwrap();
    assert!(!format!("{events:?}").contains(&pin));
    // Nor is it anywhere in the database files.
    let bytes = database_bytes(&app);
    assert!(contains(&bytes, &id), "the transaction is in the files");
    assert!(!contains(&bytes, &pin), "the full PIN must never be stored");
    // One webhook, Approved; the voucher was redeemed once.
    let hook = &app.mp.wait_delivered(&id, 1).await[0];
    assert_eq!(hook.json["transaction_status"], "Approved");
    assert!(!hook.body.contains(&pin));
    let vouchers = app.sandbox_orders("flexepin").await;
    let mine: Vec<&Value> = vouchers.iter().filter(|v| v["trans_no"] == id).collect();
    assert_eq!(mine.len(), 1, "{vouchers:?}");
    assert_eq!(
        (
            mine[0]["redeem_calls"].as_u64(),
            mine[0]["executions"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(mine[0]["pin"], "****0100");
}

#[tokio::test]
async fn used_vouchers_and_vouchers_of_another_value_are_declined_in_the_answer() {
    let app = TestApp::start().await;
    for (pin, amount, psp_status) in [
        (pin(2, "51"), "20", "USED"),
        (pin(3, "00"), "25", "amount-mismatch"),
    ] {
        let (status, resp) = app.cashier(&body(&pin, amount)).await;
        assert_eq!(status, 200, "{resp}");
        assert_eq!(resp["data"]["status"], "DECLINED", "{resp}");
        let id = resp["data"]["transactionId"].as_str().unwrap();
        let view = app.status(id).await;
        assert_eq!(
            (view["state"].as_str(), view["pspStatus"].as_str()),
            (Some("declined"), Some(psp_status))
        );
        let hook = &app.mp.wait_delivered(id, 1).await[0];
        assert_eq!(hook.json["transaction_status"], "Declined");
    }
    let vouchers = app.sandbox_orders("flexepin").await;
    assert!(
        vouchers.iter().all(|v| v["redeem_calls"] == 0),
        "{vouchers:?}"
    );
}

#[tokio::test]
async fn a_malformed_pin_or_a_fractional_amount_is_refused_before_any_call() {
    let app = TestApp::start().await;
    for (body, field) in [
        (body("12345", "20"), "voucherPin"),
        (body(&pin(4, "00"), "20.50"), "baseamount"),
    ] {
        let (status, resp) = app.cashier(&body).await;
        assert_eq!(status, 400, "{resp}");
        assert!(resp.to_string().contains(field), "{resp}");
        assert!(!resp.to_string().contains(&pin(4, "00")), "{resp}");
    }
    let mut missing = body("x", "20");
    missing.as_object_mut().unwrap().remove("voucherPin");
    let (status, resp) = app.cashier(&missing).await;
    assert_eq!(status, 400, "{resp}");
    assert!(resp.to_string().contains("voucherPin"), "{resp}");
    assert_eq!(app.stored_count().await, 0);
    assert!(app.sandbox_orders("flexepin").await.is_empty());
}

#[tokio::test]
async fn an_outcome_nobody_can_learn_fails_when_the_schedule_gives_up() {
    let app = TestApp::with(Options {
        extra_args: vec!["--poll-timeout".into(), "2s".into()],
        ..Options::default()
    })
    .await;
    let pin = pin(5, "53");
    let (status, resp) = app.cashier(&body(&pin, "20")).await;
    assert_eq!(
        (status, resp["errorCode"].as_str()),
        (502, Some("PSP_UNAVAILABLE")),
        "{resp}"
    );
    let id = resp["transactionId"].as_str().unwrap().to_owned();
    let view = app.wait_final(&id).await;
    assert_eq!(view["state"], "failed", "{view}");
    assert!(
        view["message"].as_str().unwrap().contains("timeout"),
        "{view}"
    );
    assert!(!view.to_string().contains(&pin));
    let hook = &app.mp.wait_delivered(&id, 1).await[0];
    assert_eq!(hook.json["transaction_status"], "Failed");
    assert!(!contains(&database_bytes(&app), &pin));
    // Redeemed once at the PSP, never again.
    let vouchers = app.sandbox_orders("flexepin").await;
    assert_eq!(vouchers[0]["redeem_calls"], 1, "{vouchers:?}");
}
