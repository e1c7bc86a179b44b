//! Connector ⇄ sandbox over real HTTP on 127.0.0.1: the GIGADAT connector drives this
//! simulator, and a small listener feeds every notification into `parse_callback`.

use super::GigadatSandbox;
use crate::testkit::{self, order_ref, Outcome, Setup};
use overture_connectors::gigadat::Gigadat;
use overture_connectors::http::{OutboundPolicy, PspHttp};
use overture_core::connector::*;
use overture_core::domain::TxnType;
use overture_core::ids::OrderId;
use overture_core::money::{Currency, Money};
use secrecy::ExposeSecret;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::time::Duration;

mod payout;

const RETURN_URL: &str = "https://merchant.example/return";

struct Hook {
    query: HashMap<String, String>,
    outcome: Outcome,
}

fn record(request: &CallbackRequest, outcome: Outcome) -> Hook {
    Hook {
        query: serde_urlencoded::from_str(&request.query).unwrap(),
        outcome,
    }
}

type Harness = testkit::Harness<Gigadat, Hook>;

async fn harness() -> Harness {
    harness_with(GigadatSandbox::default()).await
}

async fn harness_with(sim: GigadatSandbox) -> Harness {
    harness_setup(sim, Setup::new(record)).await
}

async fn harness_setup(sim: GigadatSandbox, setup: Setup<Hook>) -> Harness {
    let connector = Gigadat::new(PspHttp::new(
        Duration::from_secs(5),
        OutboundPolicy::default(),
    ));
    testkit::start(sim, connector, setup).await
}

fn request(txn_type: TxnType, amount: &str) -> PaymentRequest {
    let mut extras = BTreeMap::new();
    extras.insert("firstName".into(), "Jane".into());
    extras.insert("lastName".into(), "Doe".into());
    extras.insert("phone".into(), "+1 403-123-4567".into());
    if txn_type == TxnType::Payin {
        extras.insert("userIp".into(), "70.67.168.5".into());
    }
    PaymentRequest {
        order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
        txn_type,
        amount: Money::parse_major(amount, Currency::from_code("CAD").unwrap()).unwrap(),
        user_id: "user-1".into(),
        email: "user@example.com".into(),
        country: Some("CA".into()),
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

    /// Opens the webflow like a browser and submits `outcome`.
    async fn pay(&self, url: &str, outcome: &str) -> reqwest::Response {
        let page = self.web.get(url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("<form") && html.contains("value=\"approve\""));
        let form = [("outcome", outcome)];
        self.web.post(url).form(&form).send().await.unwrap()
    }

    async fn start_and_pay(&self, amount: &str, outcome: &str) -> (PaymentRequest, OrderRef) {
        let req = request(TxnType::Payin, amount);
        let started = self
            .connector
            .start_payin(&self.account, &req)
            .await
            .unwrap();
        assert_eq!(
            self.pay(started.redirect_url.as_deref().unwrap(), outcome)
                .await
                .status(),
            303
        );
        (req.clone(), order_ref(&req, Some(&started.update)))
    }

    async fn order(&self, txn: &OrderId) -> Value {
        let message = "exactly one transaction per id";
        self.only_order("transactionId", txn.as_str(), message)
            .await
    }

    /// Waits until at least `n` notifications for `txn` arrived (or ~2 s), returns them all.
    async fn hooks_for(&self, txn: &OrderId, n: usize) -> Vec<(String, CallbackOutcome)> {
        self.wait_hooks(n, |h| {
            (h.query.get("transaction").map(String::as_str) == Some(txn.as_str()))
                .then(|| (h.query["status"].clone(), h.outcome.clone().unwrap()))
        })
        .await
    }
}

fn assert_unverified(outcome: &CallbackOutcome, txn: &OrderId) {
    match outcome {
        CallbackOutcome::Unverified {
            order_id: transaction_id,
            ..
        } => assert_eq!(transaction_id, txn),
        other => panic!("notification must stay unverified, got {other:?}"),
    }
}

#[tokio::test]
async fn gigadat_payin_approved_on_webflow() {
    let h = harness().await;
    let req = request(TxnType::Payin, "10.5");
    let started = h.connector.start_payin(&h.account, &req).await.unwrap();
    let url = started.redirect_url.as_deref().unwrap();
    assert!(url.starts_with(&format!("{}/webflow?transaction=", h.base)));
    assert!(url.contains("&token="));
    assert_eq!(started.update.raw_status, "STATUS_INITED");
    assert_eq!(
        started.update.psp_transaction_id.as_deref(),
        Some(req.order_id.as_str())
    );
    let mut order = order_ref(&req, Some(&started.update));
    let waiting = h.connector.sync(&h.account, &order).await.unwrap();
    assert_eq!(waiting.outcome, PspOutcome::Pending);

    let response = h.pay(url, "approve").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], RETURN_URL);
    let done = h.wait_final(&mut order).await;
    assert_eq!(
        (done.outcome, done.raw_status.as_str()),
        (PspOutcome::Approved, "STATUS_SUCCESS")
    );
    let hooks = h.hooks_for(&req.order_id, 1).await;
    assert_eq!(hooks.len(), 1);
    assert_unverified(&hooks[0].1, &req.order_id);

    // A second submission changes nothing; the amount went out with exactly 2 decimals.
    let again = h.web.post(url).form(&[("outcome", "decline")]).send().await;
    assert_eq!(again.unwrap().status(), 303);
    let o = h.order(&req.order_id).await;
    assert_eq!(
        (o["amount"].as_str(), o["type"].as_str()),
        (Some("10.50"), Some("CPI"))
    );
    assert_eq!(
        (o["executions"].as_u64(), o["status"].as_str()),
        (Some(1), Some("STATUS_SUCCESS"))
    );
}

#[tokio::test]
async fn gigadat_payin_declined_on_webflow() {
    let h = harness().await;
    let (req, mut order) = h.start_and_pay("10.00", "decline").await;
    let done = h.wait_final(&mut order).await;
    assert_eq!(
        (done.outcome, done.raw_status.as_str()),
        (PspOutcome::Declined, "STATUS_REJECTED")
    );
    assert_unverified(&h.hooks_for(&req.order_id, 1).await[0].1, &req.order_id);
    assert_eq!(h.order(&req.order_id).await["executions"], 0);
}

#[tokio::test]
async fn gigadat_payin_scenarios_decline_error_and_pending() {
    let h = harness().await;
    let (_, mut declined) = h.start_and_pay("10.51", "approve").await;
    assert_eq!(
        h.wait_final(&mut declined).await.outcome,
        PspOutcome::Declined
    );
    let (_, mut failed) = h.start_and_pay("10.52", "approve").await;
    let update = h.wait_final(&mut failed).await;
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Failed, "STATUS_FAILED")
    );
    let (req, stuck) = h.start_and_pay("10.53", "approve").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let update = h.connector.sync(&h.account, &stuck).await.unwrap();
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Pending, "STATUS_PENDING")
    );
    assert!(h.hooks_for(&req.order_id, 1).await.is_empty());
}

#[tokio::test]
async fn gigadat_http_500_on_create_creates_nothing() {
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
async fn gigadat_no_notification_on_55_but_polling_finds_it() {
    let h = harness().await;
    let (req, mut order) = h.start_and_pay("10.55", "approve").await;
    assert_eq!(h.wait_final(&mut order).await.outcome, PspOutcome::Approved);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.hooks_for(&req.order_id, 1).await.is_empty());
    assert_eq!(h.order(&req.order_id).await["notification_attempts"], 0);
}

#[tokio::test]
async fn gigadat_notification_twice_on_56() {
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
async fn gigadat_lying_notification_on_57_is_ignored() {
    let h = harness().await;
    let (req, mut order) = h.start_and_pay("10.57", "approve").await;
    let hooks = h.hooks_for(&req.order_id, 1).await;
    // The notification claims a rejection; the connector does not read it, the status rules.
    assert_eq!(hooks[0].0, "STATUS_REJECTED");
    assert_unverified(&hooks[0].1, &req.order_id);
    assert_eq!(h.wait_final(&mut order).await.outcome, PspOutcome::Approved);
}

#[tokio::test]
async fn gigadat_notification_retried_until_accepted() {
    let h = harness().await;
    h.rx.fail_next.store(1, Ordering::SeqCst);
    let (req, _) = h.start_and_pay("10.00", "approve").await;
    assert_eq!(h.hooks_for(&req.order_id, 1).await.len(), 1);
    let o = h.order(&req.order_id).await;
    assert_eq!(
        (
            o["notification_attempts"].as_u64(),
            o["notifications_sent"].as_u64()
        ),
        (Some(2), Some(1))
    );
}

#[tokio::test]
async fn gigadat_validation_names_fields_before_any_call() {
    let h = harness().await;
    for (field, value) in [
        ("phone", "12345"),
        ("userIp", "not-an-ip"),
        ("lastName", ""),
    ] {
        let mut req = request(TxnType::Payin, "10.00");
        req.extras.insert(field.into(), value.into());
        let err = h.connector.validate(&req).unwrap_err();
        let expected = if field == "lastName" { "name" } else { field };
        assert_eq!(err.field, expected);
        // Even when validate is skipped, the connector refuses before calling Gigadat.
        let refused = h.connector.start_payin(&h.account, &req).await.unwrap_err();
        assert!(matches!(refused, ConnectorError::Unsupported(ref m) if m.contains(expected)));
    }
    assert!(h.orders().await.is_empty());
    // The sandbox applies the same rules to raw calls.
    let raw = h
        .web
        .post(format!(
            "{}/api/payment-token/{}",
            h.base,
            h.credential("campaign_id")
        ))
        .basic_auth(
            h.credential("access_token"),
            Some(h.credential("security_token")),
        )
        .json(
            &serde_json::json!({"transactionId":"t1","type":"CPI","currency":"CAD",
            "amount":10.5,"mobile":"4031234567","userIp":"1.2.3.4","email":"a@b.c",
            "userId":"1","name":"J"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["err"], "amount must have exactly 2 decimals");
}

#[tokio::test]
async fn gigadat_wrong_credentials_are_invalid_credentials() {
    let h = harness().await;
    let other = h.other_account().await;
    let theirs = |name: &str| other.credentials.0[name].expose_secret().to_owned();
    let (their_token, their_campaign) = (theirs("security_token"), theirs("campaign_id"));
    assert_ne!(h.credential("security_token"), their_token);
    // A made-up security token, then another account's real one with our access token.
    for security_token in ["wrong", their_token.as_str()] {
        let account = h.account_with(&[("security_token", security_token)]);
        let payin = request(TxnType::Payin, "10.00");
        let err = h.connector.start_payin(&account, &payin).await.unwrap_err();
        assert!(matches!(
            err,
            ConnectorError::InvalidCredentials { status: 401 }
        ));
        let err = h
            .connector
            .sync(&account, &order_ref(&payin, None))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            ConnectorError::InvalidCredentials { status: 401 }
        ));
    }
    // A made-up campaign, then another account's campaign.
    for campaign in ["other", their_campaign.as_str()] {
        let account = h.account_with(&[("campaign_id", campaign)]);
        let payout = request(TxnType::Payout, "10.00");
        let err = h
            .connector
            .submit_payout(&account, &payout)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            ConnectorError::InvalidCredentials { status: 403 }
        ));
    }
    assert!(h.orders().await.is_empty());
}

#[tokio::test]
async fn another_account_does_not_see_our_transactions() {
    let h = harness().await;
    let other = h.other_account().await;
    let (req, order) = h.start_and_pay("10.00", "approve").await;
    let theirs = h.connector.sync(&other, &order).await.unwrap();
    assert_eq!(theirs.outcome, PspOutcome::NotFound);
    assert_eq!(h.order(&req.order_id).await["checks"], 0);
    assert_ne!(
        h.connector.sync(&h.account, &order).await.unwrap().outcome,
        PspOutcome::NotFound
    );
}

#[tokio::test]
async fn a_restarted_sandbox_with_the_same_seed_knows_the_account() {
    let before = harness().await;
    let setup = Setup::new(record).seed(before.seed.clone());
    let restarted = harness_setup(GigadatSandbox::default(), setup).await;
    let account = testkit::rebase(&before.account, &restarted.base);
    let payin = request(TxnType::Payin, "10.00");
    let started = restarted.connector.start_payin(&account, &payin).await;
    assert_eq!(started.unwrap().update.outcome, PspOutcome::Pending);
    let stranger = harness().await;
    let account = testkit::rebase(&before.account, &stranger.base);
    let err = stranger
        .connector
        .start_payin(&account, &request(TxnType::Payin, "10.00"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ConnectorError::InvalidCredentials { status: 401 }
    ));
}
