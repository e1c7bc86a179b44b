//! Connector ⇄ sandbox over real HTTP on 127.0.0.1: the PAYMENTSOFT connector drives the
//! simulator, and a small callback receiver feeds every callback into `parse_callback`.

use super::*;
use crate::testkit::{self, outcome_only, Outcome, Setup};
use axum::http::StatusCode;
use overture_connectors::http::{OutboundPolicy, PspHttp};
use overture_connectors::paymentsoft::PaymentSoft;
use overture_core::connector::*;
use overture_core::{Currency, Money, OrderId, TxnType};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::time::Duration;

type Harness = testkit::Harness<PaymentSoft, Outcome>;

fn connector() -> PaymentSoft {
    PaymentSoft::new(PspHttp::new(
        Duration::from_secs(5),
        OutboundPolicy::default(),
    ))
}

/// Callbacks refused (see `fail_next`) are answered 503, to exercise resends.
fn setup<H>(record: testkit::Record<H>) -> Setup<H> {
    Setup::new(record)
        .any_method()
        .refuse_with(StatusCode::SERVICE_UNAVAILABLE)
        .follow_redirects()
}

async fn harness() -> Harness {
    testkit::start(PaymentSoftSandbox, connector(), setup(outcome_only)).await
}

fn payout(amount: &str) -> PaymentRequest {
    PaymentRequest {
        order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
        txn_type: TxnType::Payout,
        amount: Money::parse_major(amount, Currency::from_code("EUR").unwrap()).unwrap(),
        user_id: "user-42".into(),
        email: "ada@example.com".into(),
        country: Some("DE".into()),
        return_url: None,
        merchant_reference: None,
        extras: BTreeMap::from([("firstName".to_owned(), "Ada".to_owned())]),
    }
}

fn order_ref(request: &PaymentRequest, psp_id: Option<String>) -> OrderRef {
    OrderRef {
        order_id: request.order_id.clone(),
        txn_type: request.txn_type,
        amount: request.amount,
        psp_transaction_id: psp_id,
        stage: None,
        extras: BTreeMap::new(),
    }
}

impl Harness {
    async fn submit(&self, request: &PaymentRequest) -> Result<PspUpdate, ConnectorError> {
        self.connector.submit_payout(&self.account, request).await
    }

    async fn sync(&self, request: &PaymentRequest, psp_id: Option<String>) -> PspUpdate {
        self.connector
            .sync(&self.account, &order_ref(request, psp_id))
            .await
            .unwrap()
    }

    async fn order(&self, request: &PaymentRequest) -> serde_json::Value {
        let id = request.order_id.as_str();
        let orders = self.orders().await;
        let mut matching = orders.into_iter().filter(|o| o["client_orderid"] == id);
        let order = matching.next().expect("order exists at the sandbox");
        assert!(matching.next().is_none(), "one order per client_orderid");
        order
    }

    /// Waits until `n` callbacks were accepted, then a little longer so extra ones would show.
    async fn callbacks(&self, n: usize) -> Vec<Result<CallbackOutcome, ConnectorError>> {
        let linger = Duration::from_millis(200);
        self.settled_hooks(n, 500, linger).await
    }

    /// Waits until the sandbox reports the order's status as `status`.
    async fn wait_status(&self, request: &PaymentRequest, status: &str) {
        for _ in 0..500 {
            if self.order(request).await["status"] == status {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("order never reached {status}");
    }
}

fn verified(outcome: &Result<CallbackOutcome, ConnectorError>) -> (&OrderId, &PspUpdate) {
    match outcome {
        Ok(CallbackOutcome::Verified {
            order_id: transaction_id,
            update,
            ..
        }) => (transaction_id, update),
        other => panic!("expected a verified callback, got {other:?}"),
    }
}

/// Submits, expects acceptance, waits for exactly one verified callback with `outcome`.
async fn final_via_callback(amount: &str, outcome: PspOutcome, raw: &str) {
    let h = harness().await;
    let request = payout(amount);
    let accepted = h.submit(&request).await.unwrap();
    assert_eq!(accepted.outcome, PspOutcome::Pending);
    assert_eq!(accepted.raw_status, "processing");
    let psp_id = accepted.psp_transaction_id.clone().unwrap();

    let callbacks = h.callbacks(1).await;
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    let (txn, update) = verified(&callbacks[0]);
    assert_eq!(txn, &request.order_id);
    assert_eq!((update.outcome, update.raw_status.as_str()), (outcome, raw));
    assert_eq!(update.psp_transaction_id.as_deref(), Some(psp_id.as_str()));

    let status = h.sync(&request, Some(psp_id)).await;
    assert_eq!(status.outcome, outcome);
    assert_eq!(status.stage.as_deref(), Some(STAGE_FINISHED));
    if outcome != PspOutcome::Approved {
        assert!(status.message.is_some());
    }
    let order = h.order(&request).await;
    assert_eq!(order["executions"], 1);
    assert_eq!(order["amount"], request.amount.to_major_string());
}

#[tokio::test]
async fn approved_payout_calls_back_once_and_status_agrees() {
    final_via_callback("10.00", PspOutcome::Approved, "approved").await;
}

#[tokio::test]
async fn declined_payout() {
    final_via_callback("10.51", PspOutcome::Declined, "declined").await;
}

#[tokio::test]
async fn error_payout_fails() {
    final_via_callback("10.52", PspOutcome::Failed, "error").await;
}

#[tokio::test]
async fn stays_processing() {
    let h = harness().await;
    let request = payout("10.53");
    let psp_id = h.submit(&request).await.unwrap().psp_transaction_id;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.rx.hooks.lock().unwrap().is_empty());
    let status = h.sync(&request, psp_id).await;
    assert_eq!(
        (status.outcome, status.raw_status.as_str()),
        (PspOutcome::Pending, "processing")
    );
}

#[tokio::test]
async fn http_500_on_create_then_status_says_not_found() {
    let h = harness().await;
    let request = payout("10.54");
    let err = h.submit(&request).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unavailable { status: 500 }),
        "{err:?}"
    );
    // The create answer was lost: ask by client_orderid alone.
    assert_eq!(h.sync(&request, None).await.outcome, PspOutcome::NotFound);
    assert!(h.orders().await.is_empty());
}

#[tokio::test]
async fn no_callback_but_status_finds_approved() {
    let h = harness().await;
    let request = payout("10.55");
    h.submit(&request).await.unwrap();
    h.wait_status(&request, "approved").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.rx.hits.load(Ordering::SeqCst), 0);
    // Without the paynet id too, as after a crash between the call and the commit.
    assert_eq!(h.sync(&request, None).await.outcome, PspOutcome::Approved);
}

#[tokio::test]
async fn duplicate_callback_arrives_twice_verified() {
    let h = harness().await;
    let request = payout("10.56");
    h.submit(&request).await.unwrap();
    let callbacks = h.callbacks(2).await;
    assert_eq!(callbacks.len(), 2);
    for c in &callbacks {
        assert_eq!(verified(c).1.outcome, PspOutcome::Approved);
    }
    assert_eq!(h.order(&request).await["executions"], 1);
}

#[tokio::test]
async fn forged_callback_is_unverified_and_status_says_approved() {
    let h = harness().await;
    let request = payout("10.57");
    let psp_id = h.submit(&request).await.unwrap().psp_transaction_id;
    let callbacks = h.callbacks(1).await;
    assert_eq!(callbacks.len(), 1);
    match &callbacks[0] {
        Ok(CallbackOutcome::Unverified {
            order_id: transaction_id,
            why,
        }) => {
            assert_eq!(transaction_id, &request.order_id);
            assert_eq!(*why, "bad control");
        }
        other => panic!("forged callback accepted: {other:?}"),
    }
    assert_eq!(h.sync(&request, psp_id).await.outcome, PspOutcome::Approved);
}

#[tokio::test]
async fn callback_is_resent_until_answered_200() {
    let h = harness().await;
    h.rx.fail_next.store(2, Ordering::SeqCst);
    let request = payout("12.00");
    h.submit(&request).await.unwrap();
    let callbacks = h.callbacks(1).await;
    assert_eq!(callbacks.len(), 1);
    assert_eq!(verified(&callbacks[0]).1.outcome, PspOutcome::Approved);
    assert_eq!(h.rx.hits.load(Ordering::SeqCst), 3);
    assert_eq!(h.order(&request).await["callbacks_sent"], 3);
}

#[tokio::test]
async fn same_client_orderid_is_not_executed_twice() {
    let h = harness().await;
    let request = payout("20.00");
    let first = h.submit(&request).await.unwrap();
    let second = h.submit(&request).await.unwrap();
    // The second answer reports where the existing order stands, not a decline.
    assert_ne!(second.outcome, PspOutcome::Declined);
    assert_ne!(second.outcome, PspOutcome::NotFound);
    assert_eq!(second.psp_transaction_id, first.psp_transaction_id);
    h.wait_status(&request, "approved").await;
    let orders = h.orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["executions"], 1);
    assert_eq!(h.callbacks(1).await.len(), 1);
}

#[tokio::test]
async fn receiver_form_then_approved() {
    let h = harness().await;
    let request = payout("30.45");
    let psp_id = h
        .submit(&request)
        .await
        .unwrap()
        .psp_transaction_id
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = h.sync(&request, Some(psp_id.clone())).await;
    assert_eq!(status.outcome, PspOutcome::Pending);
    assert_eq!(status.stage.as_deref(), Some(STAGE_RECEIVER_FORM));
    let form_url = format!("{}/paynet/form/payout/{psp_id}", h.base);
    assert_eq!(status.redirect_url.as_deref(), Some(form_url.as_str()));
    assert_eq!(h.rx.hits.load(Ordering::SeqCst), 0, "waits for the form");

    let page = h.web.get(&form_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=\"account\""));
    let empty = h.web.post(&form_url).form(&[("account", "")]).send();
    assert_eq!(empty.await.unwrap().status(), 400);
    let filled = h
        .web
        .post(&form_url)
        .form(&[("account", "DE89370400440532013000")]);
    assert_eq!(filled.send().await.unwrap().status(), 200);

    let callbacks = h.callbacks(1).await;
    assert_eq!(callbacks.len(), 1);
    assert_eq!(verified(&callbacks[0]).1.outcome, PspOutcome::Approved);
    let status = h.sync(&request, Some(psp_id)).await;
    assert_eq!(status.outcome, PspOutcome::Approved);
    assert_eq!(status.redirect_url, None);
}

#[tokio::test]
async fn wrong_oauth_key_or_login_is_refused_and_creates_nothing() {
    let h = harness().await;
    let other = h.other_account().await;
    let other_login = other.credentials.0["login"].expose_secret().to_owned();
    let other_endpoint = other.credentials.0["endpoint_id"]
        .expose_secret()
        .to_owned();
    let cases = [
        ("oauth_private_key", keys::OTHER_PRIVATE_KEY),
        ("login", "someone-else"),
        // The endpoint is ours, the login another account's.
        ("login", other_login.as_str()),
        // Another account's endpoint with our login.
        ("endpoint_id", other_endpoint.as_str()),
    ];
    for (credential, value) in cases {
        let wrong = h.account_with(&[(credential, value)]);
        let err = h
            .connector
            .submit_payout(&wrong, &payout("10.00"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConnectorError::InvalidCredentials { status: 401 }),
            "{credential}={value}: {err:?}"
        );
    }
    assert!(h.orders().await.is_empty());
}

#[tokio::test]
async fn wrong_status_control_is_refused() {
    let h = harness().await;
    let request = payout("10.00");
    let psp_id = h.submit(&request).await.unwrap().psp_transaction_id;
    let other = h.other_account().await;
    let other_control = other.credentials.0["merchant_control"]
        .expose_secret()
        .to_owned();
    // A made-up key, then another account's real key with our endpoint and login.
    for control in ["nope", other_control.as_str()] {
        let wrong = h.account_with(&[("merchant_control", control)]);
        let err = h
            .connector
            .sync(&wrong, &order_ref(&request, psp_id.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    }
    assert_eq!(h.order(&request).await["status_queries"], 0);
    h.sync(&request, psp_id).await;
    assert_eq!(h.order(&request).await["status_queries"], 1);
}

#[tokio::test]
async fn accounts_have_their_own_secrets_and_orders() {
    let h = harness().await;
    let other = h.other_account().await;
    for name in ["endpoint_id", "login", "merchant_control"] {
        assert_ne!(
            h.credential(name),
            other.credentials.0[name].expose_secret(),
            "{name}"
        );
    }
    let request = payout("10.00");
    let psp_id = h.submit(&request).await.unwrap().psp_transaction_id;
    // The other account asks about our order with its own valid credentials: not its order.
    let by_other = h
        .connector
        .sync(&other, &order_ref(&request, psp_id.clone()))
        .await
        .unwrap();
    assert_eq!(by_other.outcome, PspOutcome::NotFound);
    let by_other = h.connector.sync(&other, &order_ref(&request, None)).await;
    assert_eq!(by_other.unwrap().outcome, PspOutcome::NotFound);
    // The same client_orderid is a new order for the other account, not a duplicate.
    let theirs = h.connector.submit_payout(&other, &request).await.unwrap();
    assert_eq!(theirs.outcome, PspOutcome::Pending);
    assert_ne!(theirs.psp_transaction_id, psp_id);
    let orders = h.orders().await;
    assert_eq!(orders.len(), 2);
    assert_ne!(orders[0]["endpoint_id"], orders[1]["endpoint_id"]);
}

/// Keeps each callback request beside its outcome (checked with the harness's account).
type Kept = (CallbackRequest, Outcome);

fn keep(request: &CallbackRequest, outcome: Outcome) -> Kept {
    (request.clone(), outcome)
}

#[tokio::test]
async fn a_callback_signed_for_one_account_does_not_verify_for_another() {
    let h = testkit::start(PaymentSoftSandbox, connector(), setup(keep)).await;
    let a = h.account.clone();
    let b = h.other_account().await;
    // A's payout and B's payout; the receiver checks both with A's credentials.
    let for_a = payout("10.00");
    let for_b = payout("11.00");
    h.connector.submit_payout(&a, &for_a).await.unwrap();
    h.connector.submit_payout(&b, &for_b).await.unwrap();
    let kept = h.settled_hooks(2, 500, Duration::from_millis(100)).await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    let callback_of = |request: &PaymentRequest| {
        let id = request.order_id.as_str();
        kept.iter()
            .find(|(req, _)| req.query.contains(id))
            .map(|(req, _)| req.clone())
            .expect("callback arrived")
    };
    let (callback_a, callback_b) = (callback_of(&for_a), callback_of(&for_b));
    let check = |account: &AccountContext, callback: &CallbackRequest| {
        h.connector.parse_callback(account, callback).unwrap()
    };
    // Each account's callbacks verify with its own merchant_control…
    assert!(matches!(
        check(&a, &callback_a),
        CallbackOutcome::Verified { .. }
    ));
    assert!(matches!(
        check(&b, &callback_b),
        CallbackOutcome::Verified { .. }
    ));
    // …and never with another account's.
    for (account, callback) in [(&b, &callback_a), (&a, &callback_b)] {
        match check(account, callback) {
            CallbackOutcome::Unverified { why, .. } => assert_eq!(why, "bad control"),
            other => panic!("verified with another account's key: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_restarted_sandbox_with_the_same_seed_knows_the_account() {
    let before = harness().await;
    let restarted = testkit::start(
        PaymentSoftSandbox,
        connector(),
        setup(outcome_only).seed(before.seed.clone()),
    )
    .await;
    let account = testkit::rebase(&before.account, &restarted.base);
    let update = restarted
        .connector
        .submit_payout(&account, &payout("10.00"))
        .await
        .unwrap();
    assert_eq!(update.outcome, PspOutcome::Pending);
    let request = payout("10.00");
    let unknown = order_ref(&request, None);
    let status = restarted.connector.sync(&account, &unknown).await;
    assert_eq!(status.unwrap().outcome, PspOutcome::NotFound);
    // Another seed knows nothing of it.
    let stranger = harness().await;
    let account = testkit::rebase(&before.account, &stranger.base);
    let err = stranger
        .connector
        .submit_payout(&account, &payout("10.00"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidCredentials { status: 401 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_field_is_a_validation_error_and_declined() {
    let h = harness().await;
    let mut request = payout("10.00");
    request.extras.insert("userIp".into(), "not-an-ip".into());
    let update = h.submit(&request).await.unwrap();
    assert_eq!(update.outcome, PspOutcome::Declined);
    assert!(update.message.unwrap().contains("ipaddress"));
    assert!(h.orders().await.is_empty());
}

#[tokio::test]
async fn unknown_paynet_order_id_is_not_found() {
    let h = harness().await;
    let request = payout("10.00");
    let status = h.sync(&request, Some("999".into())).await;
    assert_eq!(status.outcome, PspOutcome::NotFound);
}
