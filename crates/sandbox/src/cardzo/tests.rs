//! Connector ⇄ sandbox over real HTTP on 127.0.0.1: the CARDZO connector drives the simulator
//! through payout-check, the bank's validation and payout-pay; a small callback receiver feeds
//! every callback into `parse_callback`.

use super::*;
use crate::testkit::{self, order_ref, outcome_only, Outcome, Setup};
use overture_connectors::cardzo::wire::{marker, stage};
use overture_connectors::cardzo::Cardzo;
use overture_connectors::http::{OutboundPolicy, PspHttp};
use overture_core::connector::*;
use overture_core::{Currency, Money, OrderId, TxnType};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The connector's PSP timeout in these tests.
const PSP_TIMEOUT: Duration = Duration::from_millis(500);

struct Harness {
    kit: testkit::Harness<Cardzo, Outcome>,
    /// While set, payout-pay answers arrive after the connector gave up (the request is
    /// executed; only its answer is lost).
    lose_pay_answers: Arc<AtomicBool>,
}

impl std::ops::Deref for Harness {
    type Target = testkit::Harness<Cardzo, Outcome>;

    fn deref(&self) -> &Self::Target {
        &self.kit
    }
}

async fn harness() -> Harness {
    harness_seeded(None).await
}

/// A harness whose simulator serves `seed` (a random one when `None`).
async fn harness_seeded(seed: Option<SandboxSeed>) -> Harness {
    let connector = Cardzo::new(PspHttp::new(PSP_TIMEOUT, OutboundPolicy::default()));
    let lose_pay_answers = Arc::new(AtomicBool::new(false));
    let lose = lose_pay_answers.clone();
    let delay_lost_answers = move |sandbox: Router| {
        sandbox.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let lose = lose.clone();
                async move {
                    let delay =
                        lose.load(Ordering::SeqCst) && req.uri().path().contains("/payout-pay/");
                    let response = next.run(req).await;
                    if delay {
                        tokio::time::sleep(PSP_TIMEOUT * 2).await;
                    }
                    response
                }
            },
        ))
    };
    let mut setup = Setup::new(outcome_only)
        .any_method()
        .follow_redirects()
        .wrap(delay_lost_answers);
    if let Some(seed) = seed {
        setup = setup.seed(seed);
    }
    Harness {
        kit: testkit::start(CardzoSandbox, connector, setup).await,
        lose_pay_answers,
    }
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

impl Harness {
    async fn sync(&self, order: &OrderRef) -> PspUpdate {
        self.connector.sync(&self.account, order).await.unwrap()
    }

    /// Syncs like the poller, storing what Overture stores (ids and stage kept when absent),
    /// until the outcome is final; returns it and every stage marker returned on the way.
    async fn drive(&self, order: &mut OrderRef) -> (PspUpdate, Vec<String>) {
        let mut markers = Vec::new();
        for _ in 0..300 {
            let update = self.sync(order).await;
            if let Some(stage) = &update.stage {
                markers.push(stage.clone());
                order.stage = Some(stage.clone());
            }
            if update.psp_transaction_id.is_some() {
                order.psp_transaction_id = update.psp_transaction_id.clone();
            }
            if update.outcome != PspOutcome::Pending {
                return (update, markers);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never final; markers {markers:?}");
    }

    async fn order(&self, request: &PaymentRequest) -> serde_json::Value {
        let orders = self.orders().await;
        let mut matching = orders
            .into_iter()
            .filter(|o| o["client_orderid"] == request.order_id.as_str());
        let order = matching.next().expect("order exists at the sandbox");
        assert!(matching.next().is_none(), "one order per client_orderid");
        order
    }

    /// Waits until `n` callbacks arrived, then a little longer so extra ones would show.
    async fn callbacks(&self, n: usize) -> Vec<Result<CallbackOutcome, ConnectorError>> {
        let linger = Duration::from_millis(150);
        self.settled_hooks(n, 500, linger).await
    }

    /// Waits until the sandbox shows `order-stage` = `stage`.
    async fn wait_stage(&self, request: &PaymentRequest, stage: &str) {
        for _ in 0..300 {
            if self.order(request).await["order_stage"] == stage {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("order never reached {stage}");
    }
}

fn verified(outcome: &Result<CallbackOutcome, ConnectorError>) -> &PspUpdate {
    match outcome {
        Ok(CallbackOutcome::Verified { update, .. }) => update,
        other => panic!("expected a verified callback, got {other:?}"),
    }
}

/// Submits (payout-check) and drives the payout to its final status; checks one check and
/// one pay execution.
async fn check_then_pay(amount: &str) -> (Harness, PaymentRequest, PspUpdate) {
    let h = harness().await;
    let request = payout(amount);
    let accepted = h
        .connector
        .submit_payout(&h.account, &request)
        .await
        .unwrap();
    assert_eq!(accepted.outcome, PspOutcome::Pending);
    assert_eq!(accepted.stage.as_deref(), Some(marker::CHECK_SENT));
    let mut order = order_ref(&request, Some(&accepted));

    // The bank has not confirmed yet: pending, and no payout-pay.
    let early = h.sync(&order).await;
    assert_eq!(early.outcome, PspOutcome::Pending);
    assert_eq!(early.stage.as_deref(), Some(marker::CHECK_SENT));
    let row = h.order(&request).await;
    assert_eq!(row["order_stage"], stage::CHECK_VALIDATING);
    assert_eq!(row["pay_requests"], 0);

    let (last, markers) = h.drive(&mut order).await;
    assert!(
        markers.contains(&marker::PAY_SENT.to_owned()),
        "{markers:?}"
    );
    let row = h.order(&request).await;
    assert_eq!(row["check_executions"], 1);
    assert_eq!(row["pay_requests"], 1);
    assert_eq!(row["pay_executions"], 1);
    (h, request, last)
}

#[tokio::test]
async fn approved_through_check_validation_and_pay() {
    let (h, _request, last) = check_then_pay("10.00").await;
    assert_eq!(
        (last.outcome, last.raw_status.as_str()),
        (PspOutcome::Approved, "approved")
    );
    let callbacks = h.callbacks(1).await;
    assert_eq!(callbacks.len(), 1);
    assert_eq!(verified(&callbacks[0]).outcome, PspOutcome::Approved);
}

#[tokio::test]
async fn declined_after_pay() {
    let (h, _request, last) = check_then_pay("10.51").await;
    assert_eq!(last.outcome, PspOutcome::Declined);
    assert!(last.message.is_some());
    let callbacks = h.callbacks(1).await;
    assert_eq!(verified(&callbacks[0]).outcome, PspOutcome::Declined);
}

#[tokio::test]
async fn bank_never_validates_fails_with_a_reason_and_pays_nothing() {
    let h = harness().await;
    let request = payout("10.58");
    let accepted = h.connector.submit_payout(&h.account, &request).await;
    let mut order = order_ref(&request, Some(&accepted.unwrap()));
    let (last, markers) = h.drive(&mut order).await;
    assert_eq!(last.outcome, PspOutcome::Failed);
    assert!(last.message.unwrap().contains("validation window"));
    assert!(!markers.contains(&marker::PAY_SENT.to_owned()));
    let row = h.order(&request).await;
    assert_eq!(row["order_stage"], stage::CHECK_FAILED);
    assert_eq!(row["pay_requests"], 0);
    let callbacks = h.callbacks(1).await;
    assert_eq!(verified(&callbacks[0]).outcome, PspOutcome::Failed);
}

#[tokio::test]
async fn crash_between_check_and_pay_resumes_from_the_psp_stage_and_pays_once() {
    let h = harness().await;
    let request = payout("20.00");
    // payout-check reached the PSP, then Overture died: nothing was stored.
    let answer = h
        .connector
        .payout_check(&h.account, &request)
        .await
        .unwrap();
    assert_eq!(answer.kind(), "async-response");
    h.wait_stage(&request, stage::CHECK_VALIDATED).await;
    // Several pollers / callback-triggered syncs at once, all knowing nothing of the order.
    let stale = order_ref(&request, None);
    let syncs = (0..5).map(|_| {
        let (c, a, o) = (h.connector.clone(), h.account.clone(), stale.clone());
        tokio::spawn(async move { c.sync(&a, &o).await })
    });
    for sync in syncs {
        let update = sync.await.unwrap().unwrap();
        assert_eq!(update.outcome, PspOutcome::Pending, "{update:?}");
    }
    let (last, _) = h.drive(&mut stale.clone()).await;
    assert_eq!(last.outcome, PspOutcome::Approved);
    let row = h.order(&request).await;
    assert_eq!(row["pay_executions"], 1);
    assert_eq!(row["check_executions"], 1);
}

#[tokio::test]
async fn crash_after_pay_before_stage_stored_never_pays_twice() {
    let h = harness().await;
    let request = payout("30.53"); // stays processing after payout-pay
    let accepted = h
        .connector
        .submit_payout(&h.account, &request)
        .await
        .unwrap();
    let stored = order_ref(&request, Some(&accepted)); // stage "check_sent"
    h.wait_stage(&request, stage::CHECK_VALIDATED).await;
    let paid = h.sync(&stored).await;
    assert_eq!(paid.stage.as_deref(), Some(marker::PAY_SENT));
    // Overture died before storing "pay_sent": it syncs again with the stale stage, and with
    // no stage at all.
    for order in [stored.clone(), order_ref(&request, None)] {
        for _ in 0..3 {
            let update = h.sync(&order).await;
            assert_eq!(update.outcome, PspOutcome::Pending);
            assert_eq!(update.stage.as_deref(), Some(marker::PAY_SENT));
        }
    }
    let row = h.order(&request).await;
    assert_eq!(
        (row["pay_requests"].clone(), row["pay_executions"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(row["status"], "processing");
}

#[tokio::test]
async fn lost_pay_answer_is_resolved_by_the_psp_stage() {
    let h = harness().await;
    let request = payout("40.00");
    let accepted = h
        .connector
        .submit_payout(&h.account, &request)
        .await
        .unwrap();
    let mut order = order_ref(&request, Some(&accepted));
    h.wait_stage(&request, stage::CHECK_VALIDATED).await;
    h.lose_pay_answers.store(true, Ordering::SeqCst);
    let unknown = h.sync(&order).await;
    assert_eq!(unknown.outcome, PspOutcome::Pending);
    assert_eq!(
        unknown.stage, None,
        "the marker must not claim what is unknown"
    );
    assert!(unknown.message.unwrap().contains("unknown"));
    h.lose_pay_answers.store(false, Ordering::SeqCst);
    let (last, markers) = h.drive(&mut order).await;
    assert_eq!(last.outcome, PspOutcome::Approved);
    assert_eq!(markers.first().map(String::as_str), Some(marker::PAY_SENT));
    assert_eq!(h.order(&request).await["pay_requests"], 1);
}

#[tokio::test]
async fn forged_callback_is_unverified_and_status_says_approved() {
    let (h, request, last) = check_then_pay("10.57").await;
    assert_eq!(last.outcome, PspOutcome::Approved);
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
}

#[tokio::test]
async fn receiver_form_after_pay_then_approved() {
    let h = harness().await;
    let request = payout("30.45");
    let accepted = h
        .connector
        .submit_payout(&h.account, &request)
        .await
        .unwrap();
    let mut order = order_ref(&request, Some(&accepted));
    let mut form_url = None;
    for _ in 0..300 {
        let update = h.sync(&order).await;
        order.stage = update.stage.clone().or(order.stage);
        if update.redirect_url.is_some() {
            form_url = update.redirect_url;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let form_url = form_url.expect("redirect-to after payout-pay");
    assert_eq!(h.rx.hits.load(Ordering::SeqCst), 0, "waits for the form");
    let filled = h
        .web
        .post(&form_url)
        .form(&[("account", "DE89370400440532013000")]);
    assert_eq!(filled.send().await.unwrap().status(), 200);
    let (last, _) = h.drive(&mut order).await;
    assert_eq!(last.outcome, PspOutcome::Approved);
    assert_eq!(h.order(&request).await["pay_executions"], 1);
}

#[tokio::test]
async fn http_500_on_check_then_status_says_not_found() {
    let h = harness().await;
    let request = payout("10.54");
    let err = h
        .connector
        .submit_payout(&h.account, &request)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unavailable { status: 500 }),
        "{err:?}"
    );
    let update = h.sync(&order_ref(&request, None)).await;
    assert_eq!(update.outcome, PspOutcome::NotFound);
}

/// A payout-pay sent by hand for `account`, OAuth signed with the sandbox key.
async fn raw_pay_as(
    h: &Harness,
    account: &AccountContext,
    client_orderid: &str,
    orderid: &str,
) -> String {
    use overture_connectors::paymentsoft::oauth;
    let credential = |name: &str| account.credentials.0[name].expose_secret().to_owned();
    let (endpoint_id, login) = (credential("endpoint_id"), credential("login"));
    let url = format!("{}/paynet/api/v4/payout-pay/{endpoint_id}", h.base);
    let pairs = overture_connectors::cardzo::wire::PayoutPayRequest {
        client_orderid: client_orderid.into(),
        orderid: orderid.into(),
        login: login.clone(),
    }
    .to_pairs();
    let key = oauth::load_private_key(crate::paymentsoft::keys::SANDBOX_OAUTH_PRIVATE_KEY);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let header = oauth::sign_request(
        &url,
        &pairs,
        &login,
        &key.unwrap(),
        now.unwrap().as_secs(),
        "raw-nonce",
    );
    let response = h
        .web
        .post(&url)
        .header("authorization", header.unwrap())
        .form(&pairs)
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}

/// A payout-pay sent by hand for the harness's account.
async fn raw_pay(h: &Harness, client_orderid: &str, orderid: &str) -> String {
    raw_pay_as(h, &h.account, client_orderid, orderid).await
}

#[tokio::test]
async fn another_accounts_secrets_are_refused_and_its_orders_invisible() {
    let h = harness().await;
    let other = h.other_account().await;
    let theirs = |name: &str| other.credentials.0[name].expose_secret().to_owned();
    assert_ne!(h.credential("merchant_control"), theirs("merchant_control"));
    // Our endpoint with the other account's login: the OAuth call is refused.
    let their_login = theirs("login");
    let wrong = h.account_with(&[("login", their_login.as_str())]);
    let err = h
        .connector
        .submit_payout(&wrong, &payout("10.00"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidCredentials { status: 401 }),
        "{err:?}"
    );
    assert!(h.orders().await.is_empty());
    let request = payout("10.00");
    let accepted = h
        .connector
        .submit_payout(&h.account, &request)
        .await
        .unwrap();
    h.wait_stage(&request, stage::CHECK_VALIDATED).await;
    // Our endpoint and login with the other account's merchant_control: status refused.
    let their_control = theirs("merchant_control");
    let wrong = h.account_with(&[("merchant_control", their_control.as_str())]);
    let err = h
        .connector
        .sync(&wrong, &order_ref(&request, Some(&accepted)))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    // The other account, with its own valid credentials, can neither see nor pay our order.
    let seen = h
        .connector
        .sync(&other, &order_ref(&request, Some(&accepted)))
        .await
        .unwrap();
    assert_eq!(seen.outcome, PspOutcome::NotFound);
    let paynet_id = accepted.psp_transaction_id.clone().unwrap();
    let pay = raw_pay_as(&h, &other, request.order_id.as_str(), &paynet_id).await;
    assert!(pay.contains("error-code=404"), "{pay}");
    assert_eq!(h.order(&request).await["pay_executions"], 0);
}

#[tokio::test]
async fn a_restarted_sandbox_with_the_same_seed_knows_the_account() {
    let before = harness().await;
    let restarted = harness_seeded(Some(before.seed.clone())).await;
    let account = testkit::rebase(&before.account, &restarted.base);
    let update = restarted
        .connector
        .submit_payout(&account, &payout("10.00"))
        .await
        .unwrap();
    assert_eq!(update.outcome, PspOutcome::Pending);
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
async fn pay_before_validation_or_twice_is_refused_by_the_sandbox() {
    let h = harness().await;
    let request = payout("50.53");
    let accepted = h
        .connector
        .submit_payout(&h.account, &request)
        .await
        .unwrap();
    let paynet_id = accepted.psp_transaction_id.clone().unwrap();
    let txn = request.order_id.as_str();
    let early = raw_pay(&h, txn, &paynet_id).await;
    assert!(early.contains("error-code=422"), "{early}");
    h.wait_stage(&request, stage::CHECK_VALIDATED).await;
    let paid = h.sync(&order_ref(&request, Some(&accepted))).await;
    assert_eq!(paid.stage.as_deref(), Some(marker::PAY_SENT));
    let again = raw_pay(&h, txn, &paynet_id).await;
    assert!(again.contains("error-code=409"), "{again}");
    let row = h.order(&request).await;
    assert_eq!(
        (row["pay_requests"].clone(), row["pay_executions"].clone()),
        (3.into(), 1.into())
    );
}
