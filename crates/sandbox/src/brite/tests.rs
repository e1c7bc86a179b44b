//! Connector ⇄ sandbox over real HTTP on 127.0.0.1: the BRITE connector drives this
//! simulator, and a small receiver feeds every callback into `parse_callback`.

use super::BriteSandbox;
use crate::testkit::{self, order_ref, Outcome, Setup};
use overture_connectors::brite::Brite;
use overture_connectors::http::{OutboundPolicy, PspHttp};
use overture_core::connector::*;
use overture_core::domain::TxnType;
use overture_core::ids::OrderId;
use overture_core::money::{Currency, Money};
use secrecy::ExposeSecret;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::Duration;

const RETURN_URL: &str = "https://merchant.example/return";

struct Hook {
    order_id: String,
    body: Value,
    outcome: Outcome,
}

fn record(request: &CallbackRequest, outcome: Outcome) -> Hook {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(&request.query).unwrap();
    Hook {
        order_id: params
            .into_iter()
            .find(|(k, _)| k == "order_id")
            .map(|(_, v)| v)
            .unwrap_or_default(),
        body: serde_json::from_slice(&request.body).unwrap(),
        outcome,
    }
}

type Harness = testkit::Harness<Brite, Hook>;

async fn harness() -> Harness {
    harness_with(Duration::from_secs(60)).await
}

async fn harness_with(token_ttl: Duration) -> Harness {
    harness_setup(token_ttl, Setup::new(record)).await
}

async fn harness_setup(token_ttl: Duration, setup: Setup<Hook>) -> Harness {
    let connector = Brite::new(PspHttp::new(
        Duration::from_secs(5),
        OutboundPolicy::default(),
    ));
    testkit::start(BriteSandbox { token_ttl }, connector, setup).await
}

fn request(amount: &str) -> PaymentRequest {
    let mut extras = std::collections::BTreeMap::new();
    extras.insert("firstName".into(), "Sven".into());
    extras.insert("lastName".into(), "Svensson".into());
    PaymentRequest {
        order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
        txn_type: TxnType::Payin,
        amount: Money::parse_major(amount, Currency::from_code("SEK").unwrap()).unwrap(),
        user_id: "user-1".into(),
        email: "user@example.com".into(),
        country: Some("SE".into()),
        return_url: Some(RETURN_URL.into()),
        merchant_reference: None,
        extras,
    }
}

/// A callback as (subject, state): `("session", 12)`.
fn event(body: &Value) -> (&'static str, i64) {
    match body.get("session_state") {
        Some(s) => ("session", s.as_i64().unwrap()),
        None => ("transaction", body["transaction_state"].as_i64().unwrap()),
    }
}

impl Harness {
    /// Syncs like the poller until the outcome is not pending (or ~3 s pass).
    async fn wait_final(&self, order: &OrderRef) -> PspUpdate {
        for _ in 0..150 {
            let update = self.connector.sync(&self.account, order).await.unwrap();
            if update.outcome != PspOutcome::Pending {
                return update;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.connector.sync(&self.account, order).await.unwrap()
    }

    async fn start_and_pay(&self, amount: &str, outcome: &str) -> (PaymentRequest, OrderRef) {
        let req = request(amount);
        let started = self
            .connector
            .start_payin(&self.account, &req)
            .await
            .unwrap();
        let page = self
            .web
            .get(started.redirect_url.as_deref().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("value=\"approve\""));
        let form = [("outcome", outcome)];
        let done = self
            .web
            .post(started.redirect_url.as_deref().unwrap())
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 303);
        assert_eq!(done.headers()["location"], RETURN_URL);
        let order = order_ref(&req, Some(&started.update));
        (req, order)
    }

    async fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.base);
        self.web
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn order(&self, txn: &OrderId) -> Value {
        let message = "exactly one session per reference";
        self.only_order("merchant_reference", txn.as_str(), message)
            .await
    }

    /// Waits until at least `n` callbacks for `txn` arrived (or ~2 s), returns them in order.
    async fn hooks_for(&self, txn: &OrderId, n: usize) -> Vec<(Value, CallbackOutcome)> {
        self.wait_hooks(n, |h| {
            (h.order_id == txn.as_str()).then(|| (h.body.clone(), h.outcome.clone().unwrap()))
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
        other => panic!("callback must stay unverified, got {other:?}"),
    }
}

#[tokio::test]
async fn brite_payin_approved_with_every_callback() {
    let h = harness().await;
    let req = request("100");
    let started = h.connector.start_payin(&h.account, &req).await.unwrap();
    assert!(started
        .redirect_url
        .as_deref()
        .unwrap()
        .starts_with(&format!("{}/client/", h.base)));
    let order = order_ref(&req, Some(&started.update));
    let waiting = h.connector.sync(&h.account, &order).await.unwrap();
    assert_eq!(
        (waiting.outcome, waiting.raw_status.as_str()),
        (PspOutcome::Pending, "session:STATE_0")
    );
    let form = [("outcome", "approve")];
    let paid = h
        .web
        .post(started.redirect_url.as_deref().unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(paid.headers()["location"], RETURN_URL);
    let done = h.wait_final(&order).await;
    assert_eq!(
        (done.outcome, done.raw_status.as_str()),
        (PspOutcome::Approved, "transaction:STATE_CREDIT")
    );
    let hooks = h.hooks_for(&req.order_id, 5).await;
    let events: Vec<_> = hooks.iter().map(|(b, _)| event(b)).collect();
    assert_eq!(
        events,
        [
            ("session", 2),
            ("transaction", 1),
            ("transaction", 4),
            ("session", 12),
            ("transaction", 5)
        ]
    );
    for (_, outcome) in &hooks {
        assert_unverified(outcome, &req.order_id);
    }
    let o = h.order(&req.order_id).await;
    assert_eq!(
        (o["amount"].as_str(), o["executions"].as_u64()),
        (Some("100.00"), Some(1))
    );
}

#[tokio::test]
async fn brite_payin_cancelled_in_the_client_is_declined() {
    let h = harness().await;
    let (req, order) = h.start_and_pay("100.00", "decline").await;
    let done = h.wait_final(&order).await;
    assert_eq!(
        (done.outcome, done.raw_status.as_str()),
        (PspOutcome::Declined, "session:STATE_ABORTED")
    );
    let hooks = h.hooks_for(&req.order_id, 1).await;
    assert_eq!(event(&hooks[0].0), ("session", 10));
    assert_eq!(h.order(&req.order_id).await["executions"], 0);
}

#[tokio::test]
async fn brite_scenarios_decline_error_and_pending() {
    let h = harness().await;
    let (_, declined) = h.start_and_pay("100.51", "approve").await;
    let update = h.wait_final(&declined).await;
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Declined, "transaction:STATE_ABORTED")
    );
    let (_, failed) = h.start_and_pay("100.52", "approve").await;
    let update = h.wait_final(&failed).await;
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Failed, "transaction:STATE_FAILED")
    );
    let (req, stuck) = h.start_and_pay("100.53", "approve").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let update = h.connector.sync(&h.account, &stuck).await.unwrap();
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Pending, "transaction:STATE_PENDING")
    );
    assert_eq!(
        h.hooks_for(&req.order_id, 2).await.len(),
        2,
        "only the authentication callbacks"
    );
}

#[tokio::test]
async fn brite_http_500_on_create_creates_nothing() {
    let h = harness().await;
    let req = request("100.54");
    let err = h.connector.start_payin(&h.account, &req).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unavailable { status: 500 }));
    assert!(h.orders().await.is_empty());
    let update = h
        .connector
        .sync(&h.account, &order_ref(&req, None))
        .await
        .unwrap();
    assert_eq!(update.outcome, PspOutcome::NotFound);
    let mut unknown = order_ref(&req, None);
    unknown.psp_transaction_id = Some("agunknown".into());
    let update = h.connector.sync(&h.account, &unknown).await.unwrap();
    assert_eq!(update.outcome, PspOutcome::NotFound);
}

#[tokio::test]
async fn brite_no_callbacks_on_55_but_polling_finds_it() {
    let h = harness().await;
    let (req, order) = h.start_and_pay("100.55", "approve").await;
    assert_eq!(h.wait_final(&order).await.outcome, PspOutcome::Approved);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.hooks_for(&req.order_id, 1).await.is_empty());
    assert_eq!(h.order(&req.order_id).await["callback_attempts"], 0);
}

#[tokio::test]
async fn brite_callbacks_twice_on_56() {
    let h = harness().await;
    let (req, order) = h.start_and_pay("100.56", "approve").await;
    assert_eq!(h.hooks_for(&req.order_id, 10).await.len(), 10);
    assert_eq!(h.wait_final(&order).await.outcome, PspOutcome::Approved);
}

#[tokio::test]
async fn brite_lying_callback_on_57_is_ignored() {
    let h = harness().await;
    let (req, order) = h.start_and_pay("100.57", "approve").await;
    let hooks = h.hooks_for(&req.order_id, 3).await;
    // The last callback claims ABORTED; the connector does not read it, transaction.state rules.
    assert_eq!(event(&hooks[2].0), ("transaction", 2));
    assert_unverified(&hooks[2].1, &req.order_id);
    assert_eq!(h.wait_final(&order).await.outcome, PspOutcome::Approved);
}

#[tokio::test]
async fn brite_out_of_order_and_late_callbacks_change_nothing() {
    let h = harness().await;
    let (req, order) = h.start_and_pay("100.58", "approve").await;
    let hooks = h.hooks_for(&req.order_id, 5).await;
    let events: Vec<_> = hooks.iter().map(|(b, _)| event(b)).collect();
    assert_eq!(
        events,
        [
            ("transaction", 5),
            ("session", 12),
            ("transaction", 4),
            ("transaction", 1),
            ("session", 2)
        ],
        "CREDIT first, a late PENDING and AUTHENTICATION_COMPLETED last"
    );
    // What Overture does with each callback, in arrival order: take the transaction id it
    // maps to, ask Brite, apply; a final state never changes afterwards.
    let mut final_outcome: Option<PspOutcome> = None;
    for (body, outcome) in &hooks {
        assert_unverified(outcome, &req.order_id);
        let update = h.connector.sync(&h.account, &order).await.unwrap();
        assert_eq!(
            update.outcome,
            PspOutcome::Approved,
            "after callback {body}"
        );
        assert_eq!(update.raw_status, "transaction:STATE_CREDIT");
        final_outcome.get_or_insert(update.outcome);
    }
    assert_eq!(final_outcome, Some(PspOutcome::Approved));
    assert_eq!(h.order(&req.order_id).await["executions"], 1);
}

#[tokio::test]
async fn brite_callback_retried_until_accepted() {
    let h = harness().await;
    h.rx.fail_next.store(1, Ordering::SeqCst);
    let (req, order) = h.start_and_pay("100.00", "approve").await;
    assert_eq!(h.hooks_for(&req.order_id, 5).await.len(), 5);
    h.wait_final(&order).await;
    let o = h.order(&req.order_id).await;
    assert_eq!(
        (
            o["callback_attempts"].as_u64(),
            o["callbacks_sent"].as_u64()
        ),
        (Some(6), Some(5))
    );
}

#[tokio::test]
async fn brite_token_is_cached_refreshed_before_expiry_and_reauthorised() {
    // Tokens live 1.5 s: renewed from 1.2 s on, refresh token dead after 1.75 s.
    let h = harness_with(Duration::from_millis(1_500)).await;
    let counts = |v: Value| {
        (
            v["authorizations"].as_u64().unwrap(),
            v["refreshes"].as_u64().unwrap(),
        )
    };
    h.connector
        .start_payin(&h.account, &request("10.00"))
        .await
        .unwrap();
    h.connector
        .start_payin(&h.account, &request("11.00"))
        .await
        .unwrap();
    assert_eq!(
        counts(h.get("/_auth").await),
        (1, 0),
        "one token for both calls"
    );
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    h.connector
        .start_payin(&h.account, &request("12.00"))
        .await
        .unwrap();
    assert_eq!(
        counts(h.get("/_auth").await),
        (1, 1),
        "renewed with merchant.token"
    );
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    h.connector
        .start_payin(&h.account, &request("13.00"))
        .await
        .unwrap();
    assert_eq!(
        counts(h.get("/_auth").await),
        (2, 1),
        "refresh token dead: authorised again"
    );
    // A token Brite revoked: the call is refused (401), re-authorised and sent once more.
    let revoke = h
        .web
        .post(format!("{}/_revoke_tokens", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    let req = request("14.00");
    let started = h.connector.start_payin(&h.account, &req).await.unwrap();
    let auth = h.get("/_auth").await;
    assert_eq!(counts(auth.clone()), (3, 1));
    assert!(auth["rejected"].as_u64().unwrap() >= 1);
    assert_eq!(
        h.orders().await.len(),
        5,
        "the refused call created nothing"
    );
    let order = order_ref(&req, Some(&started.update));
    assert_eq!(
        h.connector.sync(&h.account, &order).await.unwrap().outcome,
        PspOutcome::Pending
    );
}

#[tokio::test]
async fn brite_wrong_credentials_are_invalid_credentials() {
    let h = harness().await;
    let other = h.other_account().await;
    let their_secret = other.credentials.0["secret"].expose_secret().to_owned();
    assert_ne!(h.credential("secret"), their_secret);
    // A made-up secret, then another account's real secret with our public key.
    for secret in ["wrong", their_secret.as_str()] {
        let account = h.account_with(&[("secret", secret)]);
        let req = request("10.00");
        let err = h.connector.start_payin(&account, &req).await.unwrap_err();
        assert!(matches!(
            err,
            ConnectorError::InvalidCredentials { status: 401 }
        ));
        let mut order = order_ref(&req, None);
        order.psp_transaction_id = Some("agsomething".into());
        let err = h.connector.sync(&account, &order).await.unwrap_err();
        assert!(matches!(
            err,
            ConnectorError::InvalidCredentials { status: 401 }
        ));
    }
    assert!(h.orders().await.is_empty());
}

#[tokio::test]
async fn another_account_does_not_see_our_sessions() {
    let h = harness().await;
    let other = h.other_account().await;
    let req = request("10.00");
    let started = h.connector.start_payin(&h.account, &req).await.unwrap();
    let order = order_ref(&req, Some(&started.update));
    let theirs = h.connector.sync(&other, &order).await.unwrap();
    assert_eq!(theirs.outcome, PspOutcome::NotFound);
    let ours = h.connector.sync(&h.account, &order).await.unwrap();
    assert_eq!(ours.outcome, PspOutcome::Pending);
    let sessions = h.orders().await;
    assert_eq!(sessions[0]["checks"], 1, "only our own query counted");
}

#[tokio::test]
async fn a_restarted_sandbox_with_the_same_seed_knows_the_account() {
    let before = harness().await;
    let setup = Setup::new(record).seed(before.seed.clone());
    let restarted = harness_setup(Duration::from_secs(60), setup).await;
    let account = testkit::rebase(&before.account, &restarted.base);
    let started = restarted
        .connector
        .start_payin(&account, &request("10.00"))
        .await;
    assert_eq!(started.unwrap().update.outcome, PspOutcome::Pending);
    let stranger = harness().await;
    let account = testkit::rebase(&before.account, &stranger.base);
    let err = stranger
        .connector
        .start_payin(&account, &request("10.00"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ConnectorError::InvalidCredentials { status: 401 }
    ));
}

#[tokio::test]
async fn brite_validation_and_pay_in_only() {
    let h = harness().await;
    let mut req = request("10.00");
    req.country = Some("DE".into());
    assert_eq!(h.connector.validate(&req).unwrap_err().field, "currency");
    req.country = None;
    assert_eq!(h.connector.validate(&req).unwrap_err().field, "country");
    let refused = h.connector.start_payin(&h.account, &req).await.unwrap_err();
    assert!(matches!(refused, ConnectorError::Unsupported(_)));
    assert!(!h.connector.capabilities().payout);
    let mut payout = request("10.00");
    payout.txn_type = TxnType::Payout;
    let err = h
        .connector
        .submit_payout(&h.account, &payout)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Unsupported(_)));
    assert!(h.orders().await.is_empty());
}
