//! Connector ⇄ sandbox over real HTTP on 127.0.0.1: the FLEXEPIN connector validates and
//! redeems test vouchers at this simulator; every PIN outcome, the amount and currency checks,
//! the lost-answer paths and the authentication rules.

use super::{FlexepinSandbox, DEFAULT_API_KEY, DEFAULT_SECRET, DEFAULT_TERMINAL_ID};
use crate::testkit::{self, outcome_only, Outcome, Setup};
use axum::middleware::{self, Next};
use axum::response::Response;
use hmac::{Hmac, Mac};
use overture_connectors::flexepin::{wire, Flexepin, PIN_FIELD};
use overture_connectors::http::{OutboundPolicy, PspHttp};
use overture_core::connector::*;
use overture_core::{Currency, Money, OrderId, TxnType};
use secrecy::ExposeSecret;
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Harness = testkit::Harness<Flexepin, Outcome>;

fn connector(timeout: Duration) -> Flexepin {
    Flexepin::new(PspHttp::new(timeout, OutboundPolicy::default()))
}

async fn harness() -> Harness {
    let c = connector(Duration::from_secs(5));
    testkit::start(FlexepinSandbox, c, Setup::new(outcome_only)).await
}

/// A test PIN (module docs of [`super`]): currency code, value, `n` to keep PINs unique, and
/// the outcome digits `oo`.
fn pin(currency: &str, value: u32, n: u32, oo: &str) -> String {
    format!("{currency}{value:06}{n:05}{oo}")
}

fn request(pin: &str, amount: &str, currency: &str) -> PaymentRequest {
    PaymentRequest {
        order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
        txn_type: TxnType::Payin,
        amount: Money::parse_major(amount, Currency::from_code(currency).unwrap()).unwrap(),
        user_id: "user-1".into(),
        email: "user@example.com".into(),
        country: None,
        return_url: None,
        merchant_reference: None,
        extras: BTreeMap::from([
            (PIN_FIELD.to_owned(), pin.to_owned()),
            ("userIp".to_owned(), "203.0.113.9".to_owned()),
        ]),
    }
}

impl Harness {
    async fn pay(&self, req: &PaymentRequest) -> Result<PayinStarted, ConnectorError> {
        self.connector.start_payin(&self.account, req).await
    }

    /// The sandbox's record of the voucher last asked about with `req`'s transaction number.
    async fn voucher(&self, req: &PaymentRequest) -> Value {
        self.only_order("trans_no", req.order_id.as_str(), "one voucher")
            .await
    }
}

fn counts(v: &Value) -> (u64, u64, u64) {
    let n = |k: &str| v[k].as_u64().unwrap();
    (n("validations"), n("redeem_calls"), n("executions"))
}

#[tokio::test]
async fn an_active_voucher_of_the_right_value_is_redeemed_once() {
    let h = harness().await;
    let req = request(&pin("978", 20, 1, "00"), "20.00", "EUR");
    assert!(h.connector.validate(&req).is_ok());
    let started = h.pay(&req).await.unwrap();
    assert_eq!(started.redirect_url, None, "settled in the create call");
    let update = started.update;
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Approved, "USED")
    );
    assert!(update.psp_transaction_id.unwrap().starts_with("FX"));
    let v = h.voucher(&req).await;
    assert_eq!(counts(&v), (1, 1, 1));
    assert_eq!(v["pin"], "****0100", "the sandbox shows the PIN masked");
    // The same voucher for another order: used already, declined, not redeemed again.
    let again = request(&pin("978", 20, 1, "00"), "20.00", "EUR");
    let update = h.pay(&again).await.unwrap().update;
    assert_eq!(
        (update.outcome, update.failure_class()),
        (PspOutcome::Declined, FailureClass::HardDecline)
    );
    assert_eq!(counts(&h.orders().await[0]), (2, 1, 1));
}

#[tokio::test]
async fn a_voucher_of_another_value_or_currency_is_declined_untouched() {
    let h = harness().await;
    let fifty = request(&pin("978", 50, 2, "00"), "20.00", "EUR");
    let update = h.pay(&fifty).await.unwrap().update;
    assert_eq!(
        (
            update.outcome,
            update.raw_status.as_str(),
            update.failure_class()
        ),
        (
            PspOutcome::Declined,
            "amount-mismatch",
            FailureClass::HardDecline
        )
    );
    assert!(update.message.unwrap().contains("50 EUR"));
    assert_eq!(counts(&h.voucher(&fifty).await), (1, 0, 0));
    let cad = request(&pin("124", 20, 3, "00"), "20.00", "EUR");
    let update = h.pay(&cad).await.unwrap().update;
    assert_eq!(update.raw_status, "currency-mismatch");
    assert_eq!(counts(&h.voucher(&cad).await), (1, 0, 0));
}

#[tokio::test]
async fn used_inactive_and_unknown_vouchers_are_declined_without_redeem() {
    let h = harness().await;
    for (pin, raw) in [
        (pin("978", 20, 4, "51"), "USED"),
        (pin("978", 20, 5, "58"), "INACTIVE"),
        (pin("999", 20, 6, "00"), "result-4001"),
    ] {
        let req = request(&pin, "20", "EUR");
        let update = h.pay(&req).await.unwrap().update;
        assert_eq!(
            (
                update.outcome,
                update.raw_status.as_str(),
                update.failure_class()
            ),
            (PspOutcome::Declined, raw, FailureClass::HardDecline),
            "{raw}"
        );
    }
    let orders = h.orders().await;
    assert!(orders.iter().all(|o| o["redeem_calls"] == 0), "{orders:?}");
}

#[tokio::test]
async fn a_system_error_fails_and_leaves_the_voucher_active() {
    let h = harness().await;
    let req = request(&pin("978", 20, 7, "52"), "20", "EUR");
    let update = h.pay(&req).await.unwrap().update;
    assert_eq!(
        (update.outcome, update.failure_class()),
        (PspOutcome::Failed, FailureClass::Technical)
    );
    let v = h.voucher(&req).await;
    assert_eq!(
        (counts(&v), v["status"].as_str()),
        ((1, 1, 0), Some("ACTIVE"))
    );
}

#[tokio::test]
async fn a_lost_redeem_answer_is_resolved_by_validating_never_by_redeeming_again() {
    let h = harness().await;
    // 504 after the voucher was used: validating again shows it used by this transaction.
    let lost = request(&pin("978", 20, 8, "55"), "20", "EUR");
    let update = h.pay(&lost).await.unwrap().update;
    assert_eq!(update.outcome, PspOutcome::Approved);
    assert!(update.psp_transaction_id.is_some());
    assert_eq!(counts(&h.voucher(&lost).await), (2, 1, 1));
    // 500 before anything happened: validating again shows it still active.
    let refused = request(&pin("978", 20, 9, "54"), "20", "EUR");
    let update = h.pay(&refused).await.unwrap().update;
    assert_eq!(
        (
            update.outcome,
            update.raw_status.as_str(),
            update.failure_class()
        ),
        (PspOutcome::Failed, "ACTIVE", FailureClass::Technical)
    );
    assert_eq!(counts(&h.voucher(&refused).await), (2, 1, 0));
}

#[tokio::test]
async fn when_nothing_can_be_learned_the_create_errs_and_sync_stays_pending() {
    let h = harness().await;
    let req = request(&pin("978", 20, 10, "53"), "20", "EUR");
    let err = h.pay(&req).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unavailable { status: 504 }),
        "{err:?}"
    );
    assert!(!err.certainly_not_processed());
    assert_eq!(counts(&h.voucher(&req).await), (2, 1, 1));
    let mut order = testkit::order_ref(&req, None);
    order
        .extras
        .insert(PIN_FIELD.into(), mask_secret(&pin("978", 20, 10, "53")));
    let update = h.connector.sync(&h.account, &order).await.unwrap();
    assert_eq!(update.outcome, PspOutcome::Pending);
    assert_eq!(
        counts(&h.voucher(&req).await),
        (2, 1, 1),
        "sync calls nothing"
    );
}

/// Delays every redeem answer past the client's timeout (the redeem itself is done).
async fn slow_redeem(request: axum::extract::Request, next: Next) -> Response {
    let is_redeem = request.uri().path().contains("/voucher/redeem/");
    let response = next.run(request).await;
    if is_redeem {
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
    response
}

#[tokio::test]
async fn a_redeem_timeout_is_resolved_by_validating_the_same_pin_and_transaction() {
    let c = connector(Duration::from_millis(300));
    let setup = Setup::new(outcome_only).wrap(|r| r.layer(middleware::from_fn(slow_redeem)));
    let h = testkit::start(FlexepinSandbox, c, setup).await;
    let req = request(&pin("036", 100, 11, "00"), "100", "AUD");
    let update = h.pay(&req).await.unwrap().update;
    assert_eq!(update.outcome, PspOutcome::Approved);
    assert_eq!(counts(&h.voucher(&req).await), (2, 1, 1));
}

#[tokio::test]
async fn bad_credentials_and_foreign_terminals_are_refused() {
    let h = harness().await;
    let other = h.other_account().await;
    let req = || request(&pin("978", 20, 12, "00"), "20", "EUR");
    let their_secret = other.credentials.0["secret"].expose_secret().to_owned();
    for wrong in [
        h.account_with(&[("secret", "nope")]),
        h.account_with(&[("secret", their_secret.as_str())]),
        h.account_with(&[("api_key", "fxk_unknown")]),
    ] {
        let err = h.connector.start_payin(&wrong, &req()).await.unwrap_err();
        assert!(
            matches!(err, ConnectorError::InvalidCredentials { status: 401 }),
            "{err:?}"
        );
    }
    let their_terminal = other.credentials.0["terminal_id"]
        .expose_secret()
        .to_owned();
    let foreign = h.account_with(&[("terminal_id", their_terminal.as_str())]);
    let update = h
        .connector
        .start_payin(&foreign, &req())
        .await
        .unwrap()
        .update;
    assert_eq!(
        (update.outcome, update.failure_class()),
        (PspOutcome::Declined, FailureClass::NotProcessed)
    );
    assert!(h.orders().await.is_empty(), "no voucher was looked at");
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The published formula computed here with the `hmac` crate directly, not the wire module.
fn header(key: &str, secret: &str, method: &str, path: &str, nonce: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{method}\n{path}\n{nonce}\n").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    format!("HMAC {key}:{signature}:{nonce}")
}

#[tokio::test]
async fn the_default_account_answers_hand_signed_requests_and_refuses_replays() {
    let h = harness().await;
    let path = wire::validate_path(
        &pin("840", 10, 13, "00"),
        DEFAULT_TERMINAL_ID,
        "txn_manual1",
    );
    let nonce = now_ms();
    let auth = header(DEFAULT_API_KEY, DEFAULT_SECRET, "GET", &path, nonce);
    let url = format!("{}{path}", h.base);
    let first = h
        .web
        .get(&url)
        .header("Authentication", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let body: wire::VoucherOut = first.json().await.unwrap();
    assert!(body.is_active(), "{body:?}");
    assert_eq!(
        (body.value.as_deref(), body.currency.as_deref()),
        (Some("10"), Some("USD"))
    );
    let replay = h
        .web
        .get(&url)
        .header("AUTHENTICATION", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401, "a nonce is used once");
    let stale = header(
        DEFAULT_API_KEY,
        DEFAULT_SECRET,
        "GET",
        &path,
        nonce - 11 * 60_000,
    );
    let old = h
        .web
        .get(&url)
        .header("AUTHENTICATION", stale)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401, "a nonce must be recent");
    let alive: Value = h
        .web
        .get(format!("{}/status", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alive["status"], "alive");
    // The default account through the connector.
    let account = h.account_with(&[
        ("api_key", DEFAULT_API_KEY),
        ("secret", DEFAULT_SECRET),
        ("terminal_id", DEFAULT_TERMINAL_ID),
    ]);
    let req = request(&pin("840", 10, 14, "00"), "10", "USD");
    let update = h
        .connector
        .start_payin(&account, &req)
        .await
        .unwrap()
        .update;
    assert_eq!(update.outcome, PspOutcome::Approved);
}

#[tokio::test]
async fn a_restarted_sandbox_with_the_same_seed_knows_the_account() {
    let before = harness().await;
    let c = connector(Duration::from_secs(5));
    let setup = Setup::new(outcome_only).seed(before.seed.clone());
    let restarted = testkit::start(FlexepinSandbox, c, setup).await;
    let account = testkit::rebase(&before.account, &restarted.base);
    let req = request(&pin("978", 20, 15, "00"), "20", "EUR");
    let update = restarted
        .connector
        .start_payin(&account, &req)
        .await
        .unwrap();
    assert_eq!(update.update.outcome, PspOutcome::Approved);
    let stranger = harness().await;
    let account = testkit::rebase(&before.account, &stranger.base);
    let err = stranger
        .connector
        .start_payin(&account, &req)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidCredentials { status: 401 }),
        "{err:?}"
    );
}
