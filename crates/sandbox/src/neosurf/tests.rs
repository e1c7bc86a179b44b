//! Connector ⇄ sandbox over real HTTP on 127.0.0.1: the NEOSURF connector creates pages at
//! this simulator, a browser-like client completes them, and a receiver feeds every callback
//! into `parse_callback`.

use super::{NeosurfSandbox, DEFAULT_MERCHANT_ID, DEFAULT_SECRET_KEY};
use crate::testkit::{self, outcome_only, Outcome, Setup};
use overture_connectors::http::{OutboundPolicy, PspHttp};
use overture_connectors::neosurf::{wire, Neosurf};
use overture_core::connector::*;
use overture_core::{Currency, Money, OrderId, TxnType};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

const RETURN_URL: &str = "https://merchant.example/return";

type Harness = testkit::Harness<Neosurf, Outcome>;

fn connector() -> Neosurf {
    Neosurf::new(PspHttp::new(
        Duration::from_secs(5),
        OutboundPolicy::default(),
    ))
}

async fn harness() -> Harness {
    testkit::start(NeosurfSandbox, connector(), Setup::new(outcome_only)).await
}

fn request(amount: &str) -> PaymentRequest {
    PaymentRequest {
        order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
        txn_type: TxnType::Payin,
        amount: Money::parse_major(amount, Currency::from_code("EUR").unwrap()).unwrap(),
        user_id: "user-1".into(),
        email: "user@example.com".into(),
        country: None,
        return_url: Some(RETURN_URL.into()),
        merchant_reference: None,
        extras: BTreeMap::new(),
    }
}

impl Harness {
    /// Creates a page, opens it like a browser and submits `outcome`.
    async fn pay(&self, amount: &str, outcome: &str) -> PaymentRequest {
        let req = request(amount);
        let started = self
            .connector
            .start_payin(&self.account, &req)
            .await
            .unwrap();
        assert_eq!(started.update.outcome, PspOutcome::Pending);
        let url = started.redirect_url.unwrap();
        assert!(url.starts_with(&format!("{}/EN-", self.base)), "{url}");
        let page = self.web.get(&url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("value=\"approve\""));
        let done = self
            .web
            .post(&url)
            .form(&[("outcome", outcome)])
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 303);
        assert_eq!(done.headers()["location"], RETURN_URL);
        req
    }

    async fn callbacks(&self, n: usize) -> Vec<Outcome> {
        self.settled_hooks(n, 300, Duration::from_millis(150)).await
    }
}

fn verified(outcome: &Outcome) -> (&PspUpdate, &CallbackClaims) {
    match outcome {
        Ok(CallbackOutcome::Verified { update, claims, .. }) => (update, claims),
        other => panic!("expected a verified callback, got {other:?}"),
    }
}

#[tokio::test]
async fn a_paid_page_sends_one_hashed_callback_with_matching_claims() {
    let h = harness().await;
    let req = h.pay("20.00", "approve").await;
    let hooks = h.callbacks(1).await;
    assert_eq!(hooks.len(), 1);
    let (update, claims) = verified(&hooks[0]);
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Approved, "ok")
    );
    assert_eq!(claims.amount.as_deref(), Some("20.00"));
    assert_eq!(claims.currency.as_deref(), Some("EUR"));
    let order = h
        .only_order("merchant_transaction_id", req.order_id.as_str(), "one")
        .await;
    assert_eq!(
        (order["executions"].as_u64(), order["amount"].as_u64()),
        (Some(1), Some(2000))
    );
    assert_eq!(
        claims.psp_transaction_id.as_deref(),
        order["transaction_id"].as_str()
    );
    // No status query exists: sync answers Pending and calls nothing.
    let update = h
        .connector
        .sync(&h.account, &testkit::order_ref(&req, None))
        .await
        .unwrap();
    assert_eq!(update.outcome, PspOutcome::Pending);
}

#[tokio::test]
async fn declined_pages_and_declined_or_failed_vouchers_send_their_status() {
    let h = harness().await;
    h.pay("20.00", "decline").await;
    h.pay("20.51", "approve").await;
    h.pay("20.52", "approve").await;
    let hooks = h.callbacks(3).await;
    let mut seen: Vec<(PspOutcome, FailureClass)> = hooks
        .iter()
        .map(|o| verified(o).0)
        .map(|u| (u.outcome, u.failure_class()))
        .collect();
    seen.sort_by_key(|(o, _)| format!("{o:?}"));
    assert_eq!(
        seen,
        vec![
            (PspOutcome::Declined, FailureClass::SoftDecline),
            (PspOutcome::Declined, FailureClass::SoftDecline),
            (PspOutcome::Failed, FailureClass::Technical),
        ]
    );
}

#[tokio::test]
async fn stays_processing_and_no_callback_send_nothing() {
    let h = harness().await;
    h.pay("20.53", "approve").await;
    h.pay("20.55", "approve").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.rx.hits.load(Ordering::SeqCst), 0);
    let orders = h.orders().await;
    let statuses: Vec<&str> = orders
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending", "ok"]);
}

#[tokio::test]
async fn http_500_on_create_creates_nothing() {
    let h = harness().await;
    let err = h
        .connector
        .start_payin(&h.account, &request("20.54"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unavailable { status: 500 }),
        "{err:?}"
    );
    assert!(h.orders().await.is_empty());
}

#[tokio::test]
async fn a_duplicate_callback_arrives_twice_and_a_forged_one_is_not_verified() {
    let h = harness().await;
    h.pay("20.56", "approve").await;
    let hooks = h.callbacks(2).await;
    assert_eq!(hooks.len(), 2);
    assert!(hooks
        .iter()
        .all(|o| verified(o).0.outcome == PspOutcome::Approved));
    let h = harness().await;
    let req = h.pay("20.57", "approve").await;
    let hooks = h.callbacks(2).await;
    match &hooks[..] {
        [Ok(CallbackOutcome::Unverified { order_id, why }), genuine] => {
            assert_eq!((order_id, *why), (&req.order_id, "bad hash"));
            assert_eq!(verified(genuine).0.outcome, PspOutcome::Approved);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn callbacks_are_resent_until_answered_2xx() {
    let h = harness().await;
    h.rx.fail_next.store(2, Ordering::SeqCst);
    h.pay("21.00", "approve").await;
    assert_eq!(h.callbacks(1).await.len(), 1);
    let order = &h.orders().await[0];
    assert_eq!(
        (
            order["callback_attempts"].as_u64(),
            order["callbacks_sent"].as_u64()
        ),
        (Some(3), Some(1))
    );
}

#[tokio::test]
async fn a_wrong_key_or_a_reused_reference_is_refused_without_a_page() {
    let h = harness().await;
    let wrong = h.account_with(&[("secret_key", "not-the-key")]);
    let started = h
        .connector
        .start_payin(&wrong, &request("20.00"))
        .await
        .unwrap();
    assert_eq!(started.redirect_url, None);
    assert_eq!(
        (started.update.outcome, started.update.failure_class()),
        (PspOutcome::Failed, FailureClass::NotProcessed)
    );
    assert!(started.update.message.unwrap().contains("invalid hash"));
    let req = request("20.00");
    h.connector.start_payin(&h.account, &req).await.unwrap();
    let again = h.connector.start_payin(&h.account, &req).await.unwrap();
    assert_eq!(again.update.outcome, PspOutcome::Failed);
    assert_eq!(h.orders().await.len(), 1);
}

/// The field set of the open-source integrations (with `subMerchantId` and `test`), hashed
/// here by hand for the default test account, posted as a query string like the Node.js
/// cashier does; an `expiry` in the past makes the page refuse the customer.
#[tokio::test]
async fn the_default_account_takes_a_hand_built_request_and_expiry_is_enforced() {
    let h = harness().await;
    let mut fields: BTreeMap<String, String> = [
        ("amount", "5000"),
        ("currency", "eur"),
        ("language", "en"),
        ("merchantId", DEFAULT_MERCHANT_ID),
        ("merchantTransactionId", "txn_handbuilt1"),
        ("prohibitedForMinors", "yes"),
        ("subMerchantId", "https://merchant.example"),
        ("test", "yes"),
        ("urlCallback", "http://127.0.0.1:9/cb"),
        ("version", "3"),
        ("expiry", "2020-01-01T00:00:00+00:00"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let hash = wire::hash(&fields, DEFAULT_SECRET_KEY);
    fields.insert("hash".into(), hash);
    let query = serde_urlencoded::to_string(&fields).unwrap();
    let answer = h
        .web
        .post(format!("{}?{query}", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let url = wire::page_url(&answer.text().await.unwrap()).unwrap();
    let page = h.web.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 404, "expired");
    let done = h
        .web
        .post(&url)
        .form(&[("outcome", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 404);
    assert_eq!(h.orders().await[0]["executions"], 0);
}

#[tokio::test]
async fn a_restarted_sandbox_with_the_same_seed_knows_the_account() {
    let before = harness().await;
    let setup = Setup::new(outcome_only).seed(before.seed.clone());
    let restarted = testkit::start(NeosurfSandbox, connector(), setup).await;
    let account = testkit::rebase(&before.account, &restarted.base);
    let started = restarted
        .connector
        .start_payin(&account, &request("20.00"))
        .await
        .unwrap();
    assert!(started.redirect_url.is_some());
    let stranger = harness().await;
    let account = testkit::rebase(&before.account, &stranger.base);
    let refused = stranger
        .connector
        .start_payin(&account, &request("20.00"))
        .await
        .unwrap();
    assert_eq!(
        refused.redirect_url, None,
        "another seed: unknown merchant key"
    );
}
