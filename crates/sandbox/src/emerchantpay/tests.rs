//! Connector ⇄ sandbox over real HTTP on 127.0.0.1: the EMERCHANTPAY connector creates web
//! payment forms at this simulator, a browser-like client pays or declines, notifications reach
//! a receiver that feeds them into `parse_callback` and answers with the connector's echo, and
//! `wpf_reconcile` gives the state.

use super::{EmerchantpaySandbox, DEFAULT_PASSWORD, DEFAULT_USERNAME};
use crate::testkit::{self, outcome_only, Outcome, Setup};
use overture_connectors::emerchantpay::Emerchantpay;
use overture_connectors::http::{OutboundPolicy, PspHttp};
use overture_core::connector::*;
use overture_core::{Currency, Money, OrderId, TransactionId, TxnType};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

const RETURN_URL: &str = "https://merchant.example/return";

type Harness = testkit::Harness<Emerchantpay, Outcome>;

fn connector() -> Emerchantpay {
    Emerchantpay::new(PspHttp::new(
        Duration::from_secs(5),
        OutboundPolicy::default(),
    ))
}

async fn harness() -> Harness {
    testkit::start(EmerchantpaySandbox, connector(), Setup::new(outcome_only)).await
}

fn request(amount: &str) -> PaymentRequest {
    PaymentRequest {
        order_id: OrderId::for_attempt(&TransactionId::generate(), 1),
        txn_type: TxnType::Payin,
        amount: Money::parse_major(amount, Currency::from_code("EUR").unwrap()).unwrap(),
        user_id: "user-1".into(),
        email: "player@example.com".into(),
        country: Some("DE".into()),
        return_url: Some(RETURN_URL.into()),
        merchant_reference: None,
        extras: BTreeMap::new(),
    }
}

impl Harness {
    async fn sync(&self, req: &PaymentRequest, started: Option<&PayinStarted>) -> PspUpdate {
        let order = testkit::order_ref(req, started.map(|s| &s.update));
        self.connector.sync(&self.account, &order).await.unwrap()
    }

    async fn pay(&self, req: &PaymentRequest, outcome: &str) -> PayinStarted {
        let started = self
            .connector
            .start_payin(&self.account, req)
            .await
            .unwrap();
        assert_eq!(
            (started.update.outcome, started.update.raw_status.as_str()),
            (PspOutcome::Pending, "new")
        );
        let url = started.redirect_url.clone().unwrap();
        assert!(url.starts_with(&format!("{}/payment/", self.base)), "{url}");
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
        started
    }

    async fn notifications(&self, n: usize) -> Vec<Outcome> {
        self.settled_hooks(n, 300, Duration::from_millis(150)).await
    }
}

fn verified(outcome: &Outcome) -> &PspUpdate {
    match outcome {
        Ok(CallbackOutcome::Verified { update, .. }) => update,
        other => panic!("expected a verified notification, got {other:?}"),
    }
}

#[tokio::test]
async fn approved_form_notified_echoed_and_reconciled() {
    let h = harness().await;
    let req = request("20.00");
    let started = h.pay(&req, "approve").await;
    let hooks = h.notifications(1).await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(verified(&hooks[0]).outcome, PspOutcome::Approved);
    let update = h.sync(&req, Some(&started)).await;
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Approved, "approved")
    );
    let form = &h.orders().await[0];
    assert_eq!(form["executions"], 1);
    assert_eq!(
        form["notifications_echoed"], 1,
        "the receiver echoed the unique id"
    );
    assert_eq!(
        form["unique_id"].as_str(),
        started.update.psp_transaction_id.as_deref()
    );
}

#[tokio::test]
async fn declined_on_the_form_or_by_the_issuer() {
    let h = harness().await;
    let declined = request("20.00");
    let started = h.pay(&declined, "decline").await;
    let update = h.sync(&declined, Some(&started)).await;
    assert_eq!(update.outcome, PspOutcome::Declined);
    assert_eq!(update.failure_class(), FailureClass::SoftDecline);
    let issuer = request("20.51");
    let started = h.pay(&issuer, "approve").await;
    let update = h.sync(&issuer, Some(&started)).await;
    assert_eq!(update.outcome, PspOutcome::Declined);
    assert!(update.message.unwrap().contains("declined"));
    let hooks = h.notifications(2).await;
    assert!(hooks
        .iter()
        .all(|o| verified(o).outcome == PspOutcome::Declined));
}

#[tokio::test]
async fn error_fails_and_stays_processing_stays_pending() {
    let h = harness().await;
    let error = request("20.52");
    let started = h.pay(&error, "approve").await;
    let update = h.sync(&error, Some(&started)).await;
    assert_eq!(
        (update.outcome, update.failure_class()),
        (PspOutcome::Failed, FailureClass::Technical)
    );
    let stuck = request("20.53");
    let started = h.pay(&stuck, "approve").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let update = h.sync(&stuck, Some(&started)).await;
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Pending, "pending_async")
    );
    assert_eq!(h.notifications(1).await.len(), 1, "no notification for .53");
}

#[tokio::test]
async fn http_500_on_create_then_not_found() {
    let h = harness().await;
    let req = request("20.54");
    let err = h.connector.start_payin(&h.account, &req).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unavailable { status: 500 }),
        "{err:?}"
    );
    assert_eq!(h.sync(&req, None).await.outcome, PspOutcome::NotFound);
    assert!(h.orders().await.is_empty());
}

#[tokio::test]
async fn no_notification_but_reconcile_finds_it() {
    let h = harness().await;
    let req = request("20.55");
    let started = h.pay(&req, "approve").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.rx.hooks.lock().unwrap().is_empty());
    assert_eq!(
        h.sync(&req, Some(&started)).await.outcome,
        PspOutcome::Approved
    );
}

#[tokio::test]
async fn duplicate_notification_arrives_twice_and_pays_once() {
    let h = harness().await;
    let req = request("20.56");
    h.pay(&req, "approve").await;
    let hooks = h.notifications(2).await;
    assert_eq!(hooks.len(), 2);
    assert!(hooks
        .iter()
        .all(|o| verified(o).outcome == PspOutcome::Approved));
    assert_eq!(h.orders().await[0]["executions"], 1);
}

#[tokio::test]
async fn forged_notification_is_unverified_and_reconcile_says_approved() {
    let h = harness().await;
    let req = request("20.57");
    let started = h.pay(&req, "approve").await;
    let hooks = h.notifications(1).await;
    match &hooks[..] {
        [Ok(CallbackOutcome::Unverified { order_id, why })] => {
            assert_eq!(order_id, &req.order_id);
            assert_eq!(*why, "bad signature");
        }
        other => panic!("forged notification accepted: {other:?}"),
    }
    assert_eq!(
        h.sync(&req, Some(&started)).await.outcome,
        PspOutcome::Approved
    );
}

#[tokio::test]
async fn notifications_are_resent_until_echoed() {
    let h = harness().await;
    h.rx.fail_next.store(2, Ordering::SeqCst);
    let req = request("20.00");
    h.pay(&req, "approve").await;
    assert_eq!(h.notifications(1).await.len(), 1);
    let form = &h.orders().await[0];
    assert_eq!(
        (
            form["notify_attempts"].as_u64(),
            form["notifications_echoed"].as_u64()
        ),
        (Some(3), Some(1))
    );
}

#[tokio::test]
async fn bad_credentials_invalid_fields_and_foreign_forms() {
    let h = harness().await;
    let other = h.other_account().await;
    let wrong = h.account_with(&[("password", "nope")]);
    let err = h
        .connector
        .start_payin(&wrong, &request("20.00"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidCredentials { status: 401 }),
        "{err:?}"
    );
    let mut bad_url = request("20.00");
    bad_url.return_url = Some("not a url".into());
    let refused = h.connector.start_payin(&h.account, &bad_url).await.unwrap();
    assert_eq!(refused.redirect_url, None);
    assert_eq!(
        (refused.update.outcome, refused.update.failure_class()),
        (PspOutcome::Declined, FailureClass::NotProcessed)
    );
    assert!(refused
        .update
        .message
        .unwrap()
        .contains("return_success_url"));
    // Another account's form cannot be reconciled with our credentials.
    let req = request("20.00");
    let theirs = h.connector.start_payin(&other, &req).await.unwrap();
    let order = testkit::order_ref(&req, Some(&theirs.update));
    let err = h.connector.sync(&h.account, &order).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Protocol(_)), "{err:?}");
    assert_eq!(h.orders().await.len(), 1);
}

#[tokio::test]
async fn the_default_test_account_works_and_a_restart_keeps_accounts() {
    let h = harness().await;
    let default = h.account_with(&[
        ("username", DEFAULT_USERNAME),
        ("password", DEFAULT_PASSWORD),
    ]);
    let started = h
        .connector
        .start_payin(&default, &request("20.00"))
        .await
        .unwrap();
    assert!(started.redirect_url.is_some());
    let restarted = testkit::start(
        EmerchantpaySandbox,
        connector(),
        Setup::new(outcome_only).seed(h.seed.clone()),
    )
    .await;
    let account = testkit::rebase(&h.account, &restarted.base);
    assert!(restarted
        .connector
        .start_payin(&account, &request("20.00"))
        .await
        .is_ok());
    let stranger = harness().await;
    let account = testkit::rebase(&h.account, &stranger.base);
    let err = stranger
        .connector
        .start_payin(&account, &request("20.00"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidCredentials { status: 401 }),
        "{err:?}"
    );
}

/// genesis_php's `spec/Fixtures/Xml/WpfRequest.xml`, verbatim (several transaction types, risk
/// parameters and a card holder the WPF ignores), posted to `/en/wpf` as genesis.js does.
const PUBLISHED_WPF_REQUEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<wpf_payment>
    <transaction_id>wev238f328nc</transaction_id>
    <usage>Order ID 500, Shoes</usage>
    <description>You are about to buy 3 shoes at www.shoes.com!</description>
    <notification_url>https://example.com/notification</notification_url>
    <return_success_url>https://example.com/return_success</return_success_url>
    <return_failure_url>https://example.com/return_failure</return_failure_url>
    <return_cancel_url>https://example.com/return_cancel</return_cancel_url>
    <amount>5000</amount>
    <currency>USD</currency>
    <customer_email>john.doe@example.com</customer_email>
    <customer_phone>+11234567890</customer_phone>
    <card_holder> ‘‘‘‘‘‘ </card_holder>
    <billing_address>
        <first_name>John</first_name>
        <last_name>Doe</last_name>
        <address1>23, Doestreet</address1>
        <zip_code>11923</zip_code>
        <city>New York City</city>
        <state>NY</state>
        <country>US</country>
    </billing_address>
    <transaction_types>
        <transaction_type name="sale"/>
        <transaction_type name="sale3d"/>
        <transaction_type name="cashu"/>
        <transaction_type name="ezeewallet">
            <source_wallet_id>john@example.com</source_wallet_id>
        </transaction_type>
        <transaction_type name="paybyvoucher">
            <product_name>Some Product Name</product_name>
            <product_category>Some Product Category</product_category>
        </transaction_type>
    </transaction_types>
    <risk_params>
        <user_id>123456</user_id>
    </risk_params>
</wpf_payment>"#;

#[tokio::test]
async fn the_published_wpf_request_is_accepted() {
    use overture_connectors::emerchantpay::wire::{WpfPaymentOut, WpfReconcileIn};
    let h = harness().await;
    let post = |path: &str, xml: String| {
        h.web
            .post(format!("{}{path}", h.base))
            .basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
            .header("content-type", "text/xml")
            .body(xml)
            .send()
    };
    let answer = post("/en/wpf", PUBLISHED_WPF_REQUEST.into()).await.unwrap();
    assert_eq!(answer.status(), 200);
    let created = WpfPaymentOut::parse(&answer.text().await.unwrap()).unwrap();
    assert_eq!(
        (created.status.as_str(), created.transaction_id.as_deref()),
        ("new", Some("wev238f328nc"))
    );
    assert_eq!(created.amount.as_deref(), Some("5000"));
    let unique_id = created.unique_id.unwrap();
    let reconcile = WpfReconcileIn {
        unique_id: unique_id.clone(),
    }
    .to_xml()
    .unwrap();
    let answer = post("/wpf/reconcile", reconcile).await.unwrap();
    let state = WpfPaymentOut::parse(&answer.text().await.unwrap()).unwrap();
    assert_eq!(
        (state.status.as_str(), state.unique_id.as_deref()),
        ("new", Some(unique_id.as_str()))
    );
    let again = post("/wpf", PUBLISHED_WPF_REQUEST.into()).await.unwrap();
    let duplicate = WpfPaymentOut::parse(&again.text().await.unwrap()).unwrap();
    assert_eq!(
        (duplicate.status.as_str(), duplicate.code.as_deref()),
        ("error", Some("450"))
    );
}
