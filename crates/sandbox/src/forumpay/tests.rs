//! Connector ⇄ sandbox over real HTTP on 127.0.0.1: the FORUMPAY connector drives this
//! simulator, and a small webhook receiver feeds every webhook into `parse_callback`.

use super::ForumPaySandbox;
use crate::testkit::{self, order_ref, Outcome, Setup};
use overture_connectors::forumpay::ForumPay;
use overture_connectors::http::{OutboundPolicy, PspHttp};
use overture_core::connector::*;
use overture_core::domain::TxnType;
use overture_core::ids::OrderId;
use overture_core::money::{Currency, Money};
use secrecy::ExposeSecret;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

const RETURN_URL: &str = "https://merchant.example/return";

struct Hook {
    body: Value,
    outcome: Outcome,
}

fn record(request: &CallbackRequest, outcome: Outcome) -> Hook {
    Hook {
        body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
        outcome,
    }
}

type Harness = testkit::Harness<ForumPay, Hook>;

async fn harness() -> Harness {
    harness_with(Setup::new(record)).await
}

async fn harness_with(setup: Setup<Hook>) -> Harness {
    let connector = ForumPay::new(PspHttp::new(
        Duration::from_secs(5),
        OutboundPolicy::default(),
    ));
    testkit::start(ForumPaySandbox, connector, setup).await
}

fn request(txn_type: TxnType, amount: &str) -> PaymentRequest {
    let mut extras = BTreeMap::new();
    if txn_type == TxnType::Payout {
        extras.insert("walletAddress".into(), "bc1qsandboxwallet0001".into());
        extras.insert("preferredCrypto".into(), "BTC".into());
    }
    PaymentRequest {
        order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
        txn_type,
        amount: Money::parse_major(amount, Currency::from_code("EUR").unwrap()).unwrap(),
        user_id: "user-1".into(),
        email: "user@example.com".into(),
        country: Some("DE".into()),
        return_url: Some(RETURN_URL.into()),
        merchant_reference: None,
        extras,
    }
}

impl Harness {
    /// Syncs like the poller until the outcome is not pending (or ~3 s pass).
    async fn wait_final(&self, order: &mut OrderRef) -> PspUpdate {
        for _ in 0..150 {
            let update = self.connector.sync(&self.account, order).await.unwrap();
            if update.psp_transaction_id.is_some() {
                order.psp_transaction_id = update.psp_transaction_id.clone();
            }
            if update.stage.is_some() {
                order.stage = update.stage.clone();
            }
            if update.outcome != PspOutcome::Pending {
                return update;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.connector.sync(&self.account, order).await.unwrap()
    }

    /// Opens the hosted page like a browser and submits `outcome`.
    async fn pay(&self, redirect_url: &str, outcome: &str) -> reqwest::Response {
        let page = self.web.get(redirect_url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("<form") && html.contains("value=\"approve\""));
        self.web
            .post(redirect_url)
            .form(&[("outcome", outcome)])
            .send()
            .await
            .unwrap()
    }

    async fn start_and_pay(&self, amount: &str, outcome: &str) -> (PaymentRequest, OrderRef) {
        let req = request(TxnType::Payin, amount);
        let started = self
            .connector
            .start_payin(&self.account, &req)
            .await
            .unwrap();
        let response = self
            .pay(started.redirect_url.as_deref().unwrap(), outcome)
            .await;
        assert_eq!(response.status(), 303);
        let order = order_ref(&req, Some(&started.update));
        (req, order)
    }

    async fn order(&self, txn: &OrderId) -> Value {
        let message = "exactly one order per reference";
        self.only_order("reference_no", txn.as_str(), message).await
    }

    /// Waits until at least `n` webhooks for `txn` arrived (or ~2 s), returns them all.
    async fn hooks_for(&self, txn: &OrderId, n: usize) -> Vec<(Value, CallbackOutcome)> {
        self.wait_hooks(n, |h| {
            (h.body["reference_no"] == txn.as_str())
                .then(|| (h.body.clone(), h.outcome.clone().unwrap()))
        })
        .await
    }
}

fn assert_unverified(outcome: &CallbackOutcome, txn: &OrderId) {
    match outcome {
        CallbackOutcome::Unverified {
            order_id: transaction_id,
            why,
        } => {
            assert_eq!(transaction_id, txn);
            assert_eq!(*why, "unsigned webhook");
        }
        other => panic!("webhook must stay unverified, got {other:?}"),
    }
}

#[tokio::test]
async fn payin_approved_on_hosted_page() {
    let h = harness().await;
    let req = request(TxnType::Payin, "10.00");
    let started = h.connector.start_payin(&h.account, &req).await.unwrap();
    assert!(started
        .redirect_url
        .as_deref()
        .unwrap()
        .starts_with(&h.base));
    assert_eq!(started.update.outcome, PspOutcome::Pending);
    assert_eq!(started.update.raw_status, "Waiting");
    assert!(started.update.stage.as_ref().unwrap().len() <= 1024);
    let mut order = order_ref(&req, Some(&started.update));
    // Before the payer acts, CheckPayment says waiting.
    let waiting = h.connector.sync(&h.account, &order).await.unwrap();
    assert_eq!(waiting.outcome, PspOutcome::Pending);

    let response = h
        .pay(started.redirect_url.as_deref().unwrap(), "approve")
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], RETURN_URL);
    let done = h.wait_final(&mut order).await;
    assert_eq!(done.outcome, PspOutcome::Approved);
    assert_eq!(done.raw_status, "Confirmed");

    let hooks = h.hooks_for(&req.order_id, 1).await;
    assert_eq!(hooks.len(), 1);
    assert_unverified(&hooks[0].1, &req.order_id);
    assert!(
        hooks[0].0.get("status").is_none(),
        "real webhooks carry no status"
    );

    // A second submission of the page changes nothing.
    let again = h
        .web
        .post(started.redirect_url.as_deref().unwrap())
        .form(&[("outcome", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 303);
    let o = h.order(&req.order_id).await;
    assert_eq!(o["executions"], 1);
    assert_eq!(o["webhooks_sent"], 1);
    assert_eq!(o["status"], "Confirmed");
}

#[tokio::test]
async fn payin_declined_on_hosted_page() {
    let h = harness().await;
    let (req, mut order) = h.start_and_pay("10.00", "decline").await;
    let done = h.wait_final(&mut order).await;
    assert_eq!(done.outcome, PspOutcome::Declined);
    assert_eq!(done.raw_status, "Cancelled");
    let hooks = h.hooks_for(&req.order_id, 1).await;
    assert_unverified(&hooks[0].1, &req.order_id);
    assert_eq!(h.order(&req.order_id).await["executions"], 0);
}

#[tokio::test]
async fn payin_scenarios_decline_error_and_processing() {
    let h = harness().await;
    let (_, mut declined) = h.start_and_pay("10.51", "approve").await;
    assert_eq!(
        h.wait_final(&mut declined).await.outcome,
        PspOutcome::Declined
    );
    let (_, mut failed) = h.start_and_pay("10.52", "approve").await;
    let update = h.wait_final(&mut failed).await;
    assert_eq!(update.outcome, PspOutcome::Failed);
    assert_eq!(update.raw_status, "Error");

    let (req, stuck) = h.start_and_pay("10.53", "approve").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let update = h.connector.sync(&h.account, &stuck).await.unwrap();
    assert_eq!(update.outcome, PspOutcome::Pending);
    assert_eq!(update.raw_status, "Processing");
    assert!(h.hooks_for(&req.order_id, 1).await.is_empty());
}

#[tokio::test]
async fn http_500_on_create_creates_nothing() {
    let h = harness().await;
    let payin = request(TxnType::Payin, "10.54");
    let err = h
        .connector
        .start_payin(&h.account, &payin)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Unavailable { status: 500 }));
    let payout = request(TxnType::Payout, "10.54");
    let err = h
        .connector
        .submit_payout(&h.account, &payout)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Unavailable { status: 500 }));
    assert!(h.orders().await.is_empty());
    // Overture's follow-up status queries find nothing: both orders can be closed.
    for req in [&payin, &payout] {
        let update = h
            .connector
            .sync(&h.account, &order_ref(req, None))
            .await
            .unwrap();
        assert_eq!(update.outcome, PspOutcome::NotFound);
    }
}

#[tokio::test]
async fn no_webhook_on_55_but_polling_finds_it() {
    let h = harness().await;
    let (req, mut order) = h.start_and_pay("10.55", "approve").await;
    assert_eq!(h.wait_final(&mut order).await.outcome, PspOutcome::Approved);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.hooks_for(&req.order_id, 1).await.is_empty());
    assert_eq!(h.order(&req.order_id).await["webhook_attempts"], 0);
}

#[tokio::test]
async fn webhook_sent_twice_on_56() {
    let h = harness().await;
    let (req, mut order) = h.start_and_pay("10.56", "approve").await;
    let hooks = h.hooks_for(&req.order_id, 2).await;
    assert_eq!(hooks.len(), 2);
    for (_, outcome) in &hooks {
        assert_unverified(outcome, &req.order_id);
    }
    assert_eq!(h.wait_final(&mut order).await.outcome, PspOutcome::Approved);
}

#[tokio::test]
async fn lying_webhook_on_57_is_ignored() {
    let h = harness().await;
    let (req, mut order) = h.start_and_pay("10.57", "approve").await;
    let hooks = h.hooks_for(&req.order_id, 1).await;
    assert_eq!(hooks.len(), 1);
    // The webhook claims a cancellation; the connector does not read it, CheckPayment rules.
    assert_eq!(hooks[0].0["status"], "Cancelled");
    assert_unverified(&hooks[0].1, &req.order_id);
    assert_eq!(h.wait_final(&mut order).await.outcome, PspOutcome::Approved);
}

#[tokio::test]
async fn webhook_retried_until_accepted() {
    let h = harness().await;
    h.rx.fail_next.store(1, Ordering::SeqCst);
    let (req, _) = h.start_and_pay("10.00", "approve").await;
    assert_eq!(h.hooks_for(&req.order_id, 1).await.len(), 1);
    let o = h.order(&req.order_id).await;
    assert_eq!(o["webhook_attempts"], 2);
    assert_eq!(o["webhooks_sent"], 1);
}

#[tokio::test]
async fn payout_approved() {
    let h = harness().await;
    let req = request(TxnType::Payout, "25.00");
    let update = h.connector.submit_payout(&h.account, &req).await.unwrap();
    assert_eq!(update.outcome, PspOutcome::Pending);
    assert_eq!(update.raw_status, "Processing");
    let mut order = order_ref(&req, Some(&update));
    let done = h.wait_final(&mut order).await;
    assert_eq!(done.outcome, PspOutcome::Approved);
    assert_eq!(done.psp_transaction_id, update.psp_transaction_id);
    let hooks = h.hooks_for(&req.order_id, 1).await;
    assert_unverified(&hooks[0].1, &req.order_id);
    let o = h.order(&req.order_id).await;
    assert_eq!(
        (o["kind"].as_str(), o["executions"].as_u64()),
        (Some("payout"), Some(1))
    );
}

#[tokio::test]
async fn payout_declined_failed_and_processing() {
    let h = harness().await;
    for (amount, expected) in [
        ("25.51", PspOutcome::Declined),
        ("25.52", PspOutcome::Failed),
    ] {
        let req = request(TxnType::Payout, amount);
        let update = h.connector.submit_payout(&h.account, &req).await.unwrap();
        let mut order = order_ref(&req, Some(&update));
        assert_eq!(h.wait_final(&mut order).await.outcome, expected, "{amount}");
    }
    let req = request(TxnType::Payout, "25.53");
    let update = h.connector.submit_payout(&h.account, &req).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = h
        .connector
        .sync(&h.account, &order_ref(&req, Some(&update)))
        .await
        .unwrap();
    assert_eq!(later.outcome, PspOutcome::Pending);
    assert_eq!(later.raw_status, "Processing");
    assert_eq!(h.order(&req.order_id).await["executions"], 1);
}

#[tokio::test]
async fn payout_resumes_after_crash_between_start_and_confirm() {
    let h = harness().await;
    let req = request(TxnType::Payout, "40.00");
    // Overture "crashes" after StartBuyOrder: nothing of the answer was stored.
    let created = h
        .connector
        .start_buy_order(&h.account, &req)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created.status, "Created");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let o = h.order(&req.order_id).await;
    assert_eq!(
        (o["status"].as_str(), o["executions"].as_u64()),
        (Some("Created"), Some(0))
    );

    // Recovery asks the PSP by reference: sync confirms the order (the next step).
    let mut order = order_ref(&req, None);
    let resumed = h.connector.sync(&h.account, &order).await.unwrap();
    assert_eq!(resumed.outcome, PspOutcome::Pending);
    assert_eq!(resumed.psp_transaction_id, created.payment_id);
    assert_eq!(h.wait_final(&mut order).await.outcome, PspOutcome::Approved);

    // Confirming again, or resubmitting, never executes a second time.
    let payment_id = created.payment_id.unwrap();
    let again = h
        .connector
        .confirm_buy_order(&h.account, "BTC", &payment_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.status, "Confirmed");
    let resubmitted = h.connector.submit_payout(&h.account, &req).await.unwrap();
    assert_eq!(resubmitted.outcome, PspOutcome::Approved);
    assert_eq!(
        resubmitted.psp_transaction_id.as_deref(),
        Some(payment_id.as_str())
    );
    let o = h.order(&req.order_id).await;
    assert_eq!(o["executions"], 1);
    assert_eq!(o["webhooks_sent"], 1);
}

#[tokio::test]
async fn wrong_basic_auth_is_invalid_credentials() {
    let h = harness().await;
    let other = h.other_account().await;
    let their_secret = other.credentials.0["secret"].expose_secret().to_owned();
    assert_ne!(h.credential("secret"), their_secret);
    // A made-up secret, then another account's real secret with our user name.
    for secret in ["wrong", their_secret.as_str()] {
        let account = h.account_with(&[("secret", secret)]);
        let payin = request(TxnType::Payin, "10.00");
        let err = h.connector.start_payin(&account, &payin).await.unwrap_err();
        assert!(matches!(
            err,
            ConnectorError::InvalidCredentials { status: 401 }
        ));
        let payout = request(TxnType::Payout, "10.00");
        let err = h
            .connector
            .submit_payout(&account, &payout)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            ConnectorError::InvalidCredentials { status: 401 }
        ));
    }
    assert!(h.orders().await.is_empty());
}

#[tokio::test]
async fn another_account_does_not_see_our_orders() {
    let h = harness().await;
    let other = h.other_account().await;
    assert_ne!(
        h.credential("username"),
        other.credentials.0["username"].expose_secret()
    );
    let (_, mut order) = h.start_and_pay("10.00", "approve").await;
    h.wait_final(&mut order).await;
    let theirs = h.connector.sync(&other, &order).await.unwrap();
    assert_eq!(theirs.outcome, PspOutcome::NotFound);
    assert_eq!(
        h.connector.sync(&h.account, &order).await.unwrap().outcome,
        PspOutcome::Approved
    );
}

#[tokio::test]
async fn a_restarted_sandbox_with_the_same_seed_knows_the_account() {
    let before = harness().await;
    let restarted = harness_with(Setup::new(record).seed(before.seed.clone())).await;
    let account = testkit::rebase(&before.account, &restarted.base);
    let payin = request(TxnType::Payin, "10.00");
    let started = restarted.connector.start_payin(&account, &payin).await;
    assert_eq!(started.unwrap().update.outcome, PspOutcome::Pending);
    let stranger = harness().await;
    let account = testkit::rebase(&before.account, &stranger.base);
    let err = stranger
        .connector
        .start_payin(&account, &payin)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ConnectorError::InvalidCredentials { status: 401 }
    ));
}

#[tokio::test]
async fn unknown_payment_is_not_found() {
    let h = harness().await;
    let (req, mut order) = h.start_and_pay("10.00", "approve").await;
    h.wait_final(&mut order).await;
    // Same address and currency, another payment id: ForumPay knows no such payment.
    let mut other = order_ref(&req, None);
    other.psp_transaction_id = Some(uuid::Uuid::new_v4().to_string());
    other.stage = order.stage.clone();
    let update = h.connector.sync(&h.account, &other).await.unwrap();
    assert_eq!(update.outcome, PspOutcome::NotFound);
}

#[tokio::test]
async fn raw_api_accepts_paths_without_trailing_slash_and_checks_pos_id() {
    let h = harness().await;
    let rate: Value = h
        .web
        .post(format!("{}/api/v2/GetRate", h.base))
        .basic_auth(h.credential("username"), Some(h.credential("secret")))
        .form(&[
            ("pos_id", super::POS_ID),
            ("invoice_currency", "EUR"),
            ("invoice_amount", "100.00"),
            ("currency", "BTC"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rate["amount"], "0.00200000");
    let missing = h
        .web
        .post(format!("{}/api/v2/GetRate/", h.base))
        .basic_auth(h.credential("username"), Some(h.credential("secret")))
        .form(&[("invoice_currency", "EUR")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["err"], "pos_id is required");
}
