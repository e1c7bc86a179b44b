//! Connector ⇄ sandbox over real HTTP on 127.0.0.1: the PAYONE connector drives this simulator
//! (webflow pay-ins, e-Transfer payouts), and a webhook receiver feeds every webhook into
//! `parse_callback`.

use super::PayoneSandbox;
use crate::testkit::{self, outcome_only, Outcome, Setup};
use overture_connectors::http::{OutboundPolicy, PspHttp};
use overture_connectors::payone::Payone;
use overture_core::connector::*;
use overture_core::{Currency, Money, OrderId, TxnType};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

const RETURN_URL: &str = "https://merchant.example/return";

type Harness = testkit::Harness<Payone, Outcome>;

fn connector() -> Payone {
    Payone::new(PspHttp::new(
        Duration::from_secs(5),
        OutboundPolicy::default(),
    ))
}

async fn harness() -> Harness {
    testkit::start(PayoneSandbox, connector(), Setup::new(outcome_only)).await
}

fn request(txn_type: TxnType, amount: &str) -> PaymentRequest {
    PaymentRequest {
        order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
        txn_type,
        amount: Money::parse_major(amount, Currency::from_code("CAD").unwrap()).unwrap(),
        user_id: "user-1".into(),
        email: "user@example.ca".into(),
        country: Some("CA".into()),
        return_url: Some(RETURN_URL.into()),
        merchant_reference: None,
        extras: BTreeMap::from([("phone".to_owned(), "416-555-0199".to_owned())]),
    }
}

fn order_ref(req: &PaymentRequest, psp_id: Option<String>) -> OrderRef {
    OrderRef {
        order_id: req.order_id.clone(),
        txn_type: req.txn_type,
        amount: req.amount,
        psp_transaction_id: psp_id,
        stage: None,
        extras: req.extras.clone(),
    }
}

impl Harness {
    async fn sync(&self, req: &PaymentRequest, psp_id: Option<String>) -> PspUpdate {
        let order = order_ref(req, psp_id);
        self.connector.sync(&self.account, &order).await.unwrap()
    }

    /// Waits until `n` webhooks arrived, then a little longer so extra ones would show.
    async fn webhooks(&self, n: usize) -> Vec<Result<CallbackOutcome, ConnectorError>> {
        let linger = Duration::from_millis(150);
        self.settled_hooks(n, 300, linger).await
    }

    /// Starts a pay-in, opens the webflow page like a browser and submits `outcome`.
    async fn pay(&self, amount: &str, outcome: &str) -> (PaymentRequest, String) {
        let req = request(TxnType::Payin, amount);
        let started = self
            .connector
            .start_payin(&self.account, &req)
            .await
            .unwrap();
        assert_eq!(started.update.outcome, PspOutcome::Pending);
        let url = started.redirect_url.unwrap();
        assert!(url.starts_with(&format!("{}/webflow/", self.base)), "{url}");
        let page = self.web.get(&url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("value=\"approve\""));
        let done = self.web.post(&url).form(&[("outcome", outcome)]).send();
        let done = done.await.unwrap();
        assert_eq!(done.status(), 303);
        assert_eq!(done.headers()["location"], RETURN_URL);
        (req, started.update.psp_transaction_id.unwrap())
    }
}

fn verified(outcome: &Result<CallbackOutcome, ConnectorError>) -> &PspUpdate {
    match outcome {
        Ok(CallbackOutcome::Verified { update, .. }) => update,
        other => panic!("expected a verified webhook, got {other:?}"),
    }
}

#[tokio::test]
async fn payin_approved_on_the_webflow_page() {
    let h = harness().await;
    let (req, psp_id) = h.pay("25.00", "approve").await;
    let hooks = h.webhooks(1).await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(verified(&hooks[0]).outcome, PspOutcome::Approved);
    assert_eq!(verified(&hooks[0]).raw_status, "confirmed");
    assert_eq!(
        h.sync(&req, Some(psp_id)).await.outcome,
        PspOutcome::Approved
    );
    assert_eq!(h.orders().await[0]["executions"], 1);
}

#[tokio::test]
async fn payin_cancelled_on_the_page_or_declined_by_the_bank() {
    let h = harness().await;
    let (cancelled, id) = h.pay("25.00", "decline").await;
    let update = h.sync(&cancelled, Some(id)).await;
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Declined, "cancelled")
    );
    let (declined, id) = h.pay("25.51", "approve").await;
    let hooks = h.webhooks(2).await;
    assert_eq!(hooks.len(), 2);
    assert!(hooks
        .iter()
        .all(|o| verified(o).outcome == PspOutcome::Declined));
    let update = h.sync(&declined, Some(id)).await;
    assert_eq!(update.outcome, PspOutcome::Declined);
    assert!(update.message.is_some());
}

#[tokio::test]
async fn payout_approved_by_webhook_and_status() {
    let h = harness().await;
    let req = request(TxnType::Payout, "100.00");
    let accepted = h.connector.submit_payout(&h.account, &req).await.unwrap();
    assert_eq!(accepted.outcome, PspOutcome::Pending);
    let hooks = h.webhooks(1).await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(verified(&hooks[0]).outcome, PspOutcome::Approved);
    let update = h.sync(&req, accepted.psp_transaction_id).await;
    assert_eq!(update.outcome, PspOutcome::Approved);
    let orders = h.orders().await;
    assert_eq!(
        (orders[0]["kind"].as_str(), orders[0]["amount"].as_str()),
        (Some("PAYOUT"), Some("100.00"))
    );
}

#[tokio::test]
async fn payout_error_fails_and_stays_processing_stays_pending() {
    let h = harness().await;
    let failed = request(TxnType::Payout, "10.52");
    let id = h
        .connector
        .submit_payout(&h.account, &failed)
        .await
        .unwrap()
        .psp_transaction_id;
    assert_eq!(
        verified(&h.webhooks(1).await[0]).outcome,
        PspOutcome::Failed
    );
    assert_eq!(h.sync(&failed, id).await.outcome, PspOutcome::Failed);
    let stuck = request(TxnType::Payout, "10.53");
    let id = h
        .connector
        .submit_payout(&h.account, &stuck)
        .await
        .unwrap()
        .psp_transaction_id;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.sync(&stuck, id).await.raw_status, "processing");
    assert_eq!(h.webhooks(1).await.len(), 1, "no webhook for .53");
}

#[tokio::test]
async fn http_500_on_create_then_not_found_by_reference() {
    let h = harness().await;
    let req = request(TxnType::Payout, "10.54");
    let err = h
        .connector
        .submit_payout(&h.account, &req)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unavailable { status: 500 }),
        "{err:?}"
    );
    assert_eq!(h.sync(&req, None).await.outcome, PspOutcome::NotFound);
    assert!(h.orders().await.is_empty());
}

#[tokio::test]
async fn no_webhook_but_lookup_by_reference_finds_it() {
    let h = harness().await;
    let req = request(TxnType::Payout, "10.55");
    h.connector.submit_payout(&h.account, &req).await.unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(h.rx.hooks.lock().unwrap().is_empty());
    // Without Payone's id, as after a crash between the call and the commit.
    assert_eq!(h.sync(&req, None).await.outcome, PspOutcome::Approved);
}

#[tokio::test]
async fn duplicate_webhook_arrives_twice_verified() {
    let h = harness().await;
    let req = request(TxnType::Payout, "10.56");
    h.connector.submit_payout(&h.account, &req).await.unwrap();
    let hooks = h.webhooks(2).await;
    assert_eq!(hooks.len(), 2);
    assert!(hooks
        .iter()
        .all(|o| verified(o).outcome == PspOutcome::Approved));
    assert_eq!(h.orders().await[0]["executions"], 1);
}

#[tokio::test]
async fn forged_webhook_is_unverified_and_status_says_approved() {
    let h = harness().await;
    let req = request(TxnType::Payout, "10.57");
    let id = h
        .connector
        .submit_payout(&h.account, &req)
        .await
        .unwrap()
        .psp_transaction_id;
    let hooks = h.webhooks(1).await;
    match &hooks[..] {
        [Ok(CallbackOutcome::Unverified {
            order_id: transaction_id,
            why,
        })] => {
            assert_eq!(transaction_id, &req.order_id);
            assert_eq!(*why, "bad signature");
        }
        other => panic!("forged webhook accepted: {other:?}"),
    }
    assert_eq!(h.sync(&req, id).await.outcome, PspOutcome::Approved);
}

#[tokio::test]
async fn webhook_is_resent_until_answered_2xx() {
    let h = harness().await;
    h.rx.fail_next.store(2, Ordering::SeqCst);
    let req = request(TxnType::Payout, "12.00");
    h.connector.submit_payout(&h.account, &req).await.unwrap();
    let hooks = h.webhooks(1).await;
    assert_eq!(hooks.len(), 1);
    let order = &h.orders().await[0];
    assert_eq!(
        (
            order["webhook_attempts"].as_u64(),
            order["webhooks_sent"].as_u64()
        ),
        (Some(3), Some(1))
    );
}

#[tokio::test]
async fn same_reference_is_not_paid_twice() {
    let h = harness().await;
    let req = request(TxnType::Payout, "20.00");
    let first = h.connector.submit_payout(&h.account, &req).await.unwrap();
    let second = h.connector.submit_payout(&h.account, &req).await.unwrap();
    assert_eq!(second.psp_transaction_id, first.psp_transaction_id);
    assert_ne!(second.outcome, PspOutcome::Declined);
    let orders = h.orders().await;
    assert_eq!(
        (orders.len(), orders[0]["executions"].as_u64()),
        (1, Some(1))
    );
}

#[tokio::test]
async fn wrong_api_key_is_refused_and_bad_fields_decline() {
    let h = harness().await;
    let other = h.other_account().await;
    let their_key = other.credentials.0["api_key"].expose_secret().to_owned();
    let our_key = h.credential("api_key");
    let our_id = our_key.split_once('.').unwrap().0;
    let (their_id, their_secret) = their_key.split_once('.').unwrap();
    assert_ne!(our_id, their_id);
    // A made-up key, then our key id with another account's real secret.
    let mixed = format!("{our_id}.{their_secret}");
    for api_key in ["nope", mixed.as_str()] {
        let wrong = h.account_with(&[("api_key", api_key)]);
        let req = request(TxnType::Payout, "10.00");
        let err = h.connector.submit_payout(&wrong, &req).await.unwrap_err();
        assert!(
            matches!(err, ConnectorError::InvalidCredentials { status: 401 }),
            "{err:?}"
        );
    }
    let mut euro = request(TxnType::Payout, "10.00");
    euro.amount = Money::parse_major("10.00", Currency::from_code("EUR").unwrap()).unwrap();
    let update = h.connector.submit_payout(&h.account, &euro).await.unwrap();
    assert_eq!(update.outcome, PspOutcome::Declined);
    assert!(update.message.unwrap().contains("currency"));
    assert!(h.orders().await.is_empty());
}

/// Keeps each webhook request beside its outcome (checked with the harness's account).
type Kept = (CallbackRequest, Outcome);

fn keep(request: &CallbackRequest, outcome: Outcome) -> Kept {
    (request.clone(), outcome)
}

#[tokio::test]
async fn webhooks_are_signed_per_account_and_orders_are_private() {
    let h = testkit::start(PayoneSandbox, connector(), Setup::new(keep)).await;
    let other = h.other_account().await;
    assert_ne!(
        h.credential("webhook_secret"),
        other.credentials.0["webhook_secret"].expose_secret()
    );
    let req = request(TxnType::Payout, "10.00");
    let created = h.connector.submit_payout(&other, &req).await.unwrap();
    let kept = h.settled_hooks(1, 300, Duration::from_millis(100)).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    let (webhook, checked_with_ours) = &kept[0];
    // The receiver checked the other account's webhook with our secret: refused…
    assert!(
        matches!(checked_with_ours, Ok(CallbackOutcome::Unverified { .. })),
        "{checked_with_ours:?}"
    );
    // …while the other account's own secret verifies it.
    let theirs = h.connector.parse_callback(&other, webhook).unwrap();
    assert!(
        matches!(theirs, CallbackOutcome::Verified { .. }),
        "{theirs:?}"
    );
    // Its order is not ours to see, by id (404 as for an unknown id) or by reference; the
    // reference stays free for us.
    let url = format!(
        "{}/api/v1/transactions/{}",
        h.base,
        created.psp_transaction_id.clone().unwrap()
    );
    for (key, status) in [
        (h.credential("api_key"), 404),
        (
            other.credentials.0["api_key"].expose_secret().to_owned(),
            200,
        ),
    ] {
        let answer = h.web.get(&url).header("x-api-key", key).send().await;
        assert_eq!(answer.unwrap().status(), status);
    }
    let seen = h.connector.sync(&h.account, &order_ref(&req, None)).await;
    assert_eq!(seen.unwrap().outcome, PspOutcome::NotFound);
    let ours = h.connector.submit_payout(&h.account, &req).await.unwrap();
    assert_ne!(ours.psp_transaction_id, created.psp_transaction_id);
}

#[tokio::test]
async fn a_restarted_sandbox_with_the_same_seed_knows_the_account() {
    let before = harness().await;
    let setup = Setup::new(outcome_only).seed(before.seed.clone());
    let restarted = testkit::start(PayoneSandbox, connector(), setup).await;
    let account = testkit::rebase(&before.account, &restarted.base);
    let req = request(TxnType::Payout, "10.00");
    let created = restarted.connector.submit_payout(&account, &req).await;
    assert_eq!(created.unwrap().outcome, PspOutcome::Pending);
    let stranger = harness().await;
    let account = testkit::rebase(&before.account, &stranger.base);
    let err = stranger
        .connector
        .submit_payout(&account, &request(TxnType::Payout, "10.00"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidCredentials { status: 401 }),
        "{err:?}"
    );
}
