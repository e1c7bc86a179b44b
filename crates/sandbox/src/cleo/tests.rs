//! Connector ⇄ sandbox over real HTTP on 127.0.0.1: the CLEO connector drives this simulator
//! (hosted bank-transfer pay-ins, bank payouts in CL, PE and MX), and a webhook receiver feeds
//! every webhook into `parse_callback`.

use super::{CleoSandbox, DEFAULT_KEY_CL, DEFAULT_KEY_MX, DEFAULT_KEY_PE, DEFAULT_WEBHOOK_SECRET};
use crate::testkit::{self, outcome_only, Outcome, Setup};
use overture_connectors::cleo::Cleo;
use overture_connectors::http::{OutboundPolicy, PspHttp};
use overture_core::connector::*;
use overture_core::{Currency, Money, OrderId, TxnType};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

const RETURN_URL: &str = "https://merchant.example/return";

type Harness = testkit::Harness<Cleo, Outcome>;

fn connector() -> Cleo {
    Cleo::new(PspHttp::new(
        Duration::from_secs(5),
        OutboundPolicy::default(),
    ))
}

async fn harness() -> Harness {
    testkit::start(CleoSandbox, connector(), Setup::new(outcome_only)).await
}

/// A request in `country`'s own currency, with that country's payout account fields.
fn request(txn_type: TxnType, amount: &str, country: &str) -> PaymentRequest {
    let (currency, account, extra) = match country {
        "CL" => (
            "CLP",
            "12345678",
            vec![("bankCode", "012"), ("documentId", "12.345.678-5")],
        ),
        "PE" => ("PEN", "00219300123456789012", vec![]),
        _ => ("MXN", "002010077777777771", vec![]),
    };
    let mut extras: BTreeMap<String, String> = [
        ("firstName", "Ana"),
        ("lastName", "Pérez"),
        ("bankAccount", account),
    ]
    .into_iter()
    .chain(extra)
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    extras.insert("phone".into(), "+56912345678".into());
    PaymentRequest {
        order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
        txn_type,
        amount: Money::parse_major(amount, Currency::from_code(currency).unwrap()).unwrap(),
        user_id: "user-1".into(),
        email: "user@example.cl".into(),
        country: Some(country.into()),
        return_url: Some(RETURN_URL.into()),
        merchant_reference: None,
        extras,
    }
}

impl Harness {
    async fn sync(&self, req: &PaymentRequest, psp_id: Option<String>) -> PspUpdate {
        let mut order = testkit::order_ref(req, None);
        order.psp_transaction_id = psp_id;
        self.connector.sync(&self.account, &order).await.unwrap()
    }

    async fn webhooks(&self, n: usize) -> Vec<Outcome> {
        self.settled_hooks(n, 300, Duration::from_millis(150)).await
    }

    async fn payout(&self, req: &PaymentRequest) -> PspUpdate {
        assert!(
            self.connector.validate(req).is_ok(),
            "{:?}",
            self.connector.validate(req)
        );
        self.connector
            .submit_payout(&self.account, req)
            .await
            .unwrap()
    }

    /// Starts a pay-in, opens the page like a browser and submits `outcome`.
    async fn pay(&self, amount: &str, country: &str, outcome: &str) -> (PaymentRequest, String) {
        let req = request(TxnType::Payin, amount, country);
        assert!(self.connector.validate(&req).is_ok());
        let started = self
            .connector
            .start_payin(&self.account, &req)
            .await
            .unwrap();
        assert_eq!(started.update.outcome, PspOutcome::Pending);
        let url = started.redirect_url.unwrap();
        assert!(
            url.starts_with(&format!("{}/checkout/", self.base)),
            "{url}"
        );
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
        (req, started.update.psp_transaction_id.unwrap())
    }
}

fn verified(outcome: &Outcome) -> (&PspUpdate, &CallbackClaims) {
    match outcome {
        Ok(CallbackOutcome::Verified { update, claims, .. }) => (update, claims),
        other => panic!("expected a verified webhook, got {other:?}"),
    }
}

#[tokio::test]
async fn a_chilean_pay_in_in_whole_pesos_is_approved_on_the_page() {
    let h = harness().await;
    let (req, id) = h.pay("10000", "CL", "approve").await;
    let hooks = h.webhooks(1).await;
    assert_eq!(hooks.len(), 1);
    let (update, claims) = verified(&hooks[0]);
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Approved, "completed")
    );
    assert_eq!(
        (claims.amount.as_deref(), claims.currency.as_deref()),
        (Some("10000"), Some("CLP"))
    );
    assert_eq!(h.sync(&req, Some(id)).await.outcome, PspOutcome::Approved);
    let order = &h.orders().await[0];
    assert_eq!(
        (order["amount"].as_str(), order["country"].as_str()),
        (Some("10000"), Some("CL"))
    );
}

#[tokio::test]
async fn the_last_two_peso_digits_pick_the_outcome_and_a_left_page_is_cancelled() {
    let h = harness().await;
    let (rejected, id) = h.pay("10051", "CL", "approve").await;
    let hooks = h.webhooks(1).await;
    assert_eq!(verified(&hooks[0]).0.outcome, PspOutcome::Declined);
    let update = h.sync(&rejected, Some(id)).await;
    assert_eq!(
        (update.raw_status.as_str(), update.failure_class()),
        ("rejected", FailureClass::SoftDecline)
    );
    let (left, id) = h.pay("150.00", "PE", "decline").await;
    let update = h.sync(&left, Some(id)).await;
    assert_eq!(
        (
            update.outcome,
            update.raw_status.as_str(),
            update.failure_class()
        ),
        (
            PspOutcome::Declined,
            "cancelled",
            FailureClass::NotProcessed
        )
    );
}

#[tokio::test]
async fn payouts_in_mexico_and_peru_are_approved_by_webhook_and_status() {
    let h = harness().await;
    for (amount, country) in [("99.90", "MX"), ("250.00", "PE"), ("20000", "CL")] {
        let req = request(TxnType::Payout, amount, country);
        let accepted = h.payout(&req).await;
        assert_eq!(accepted.outcome, PspOutcome::Pending);
        let update = loop {
            let u = h.sync(&req, accepted.psp_transaction_id.clone()).await;
            if u.outcome != PspOutcome::Pending {
                break u;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(update.outcome, PspOutcome::Approved, "{country}");
    }
    let hooks = h.webhooks(3).await;
    assert!(hooks
        .iter()
        .all(|o| verified(o).0.outcome == PspOutcome::Approved));
    let amounts: Vec<Value> = h
        .orders()
        .await
        .iter()
        .map(|o| o["amount"].clone())
        .collect();
    assert_eq!(amounts, [json!("99.90"), json!("250.00"), json!("20000")]);
}

#[tokio::test]
async fn a_payout_error_fails_and_stays_processing_stays_pending() {
    let h = harness().await;
    let failed = request(TxnType::Payout, "10.52", "MX");
    let id = h.payout(&failed).await.psp_transaction_id;
    assert_eq!(
        verified(&h.webhooks(1).await[0]).0.outcome,
        PspOutcome::Failed
    );
    let update = h.sync(&failed, id).await;
    assert_eq!(
        (update.outcome, update.failure_class()),
        (PspOutcome::Failed, FailureClass::Technical)
    );
    let stuck = request(TxnType::Payout, "10.53", "MX");
    let id = h.payout(&stuck).await.psp_transaction_id;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.sync(&stuck, id).await.raw_status, "processing");
    assert_eq!(h.webhooks(1).await.len(), 1, "no webhook for .53");
}

#[tokio::test]
async fn http_500_on_create_then_not_found_by_reference() {
    let h = harness().await;
    let req = request(TxnType::Payout, "10054", "CL");
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
async fn no_webhook_but_lookup_by_reference_finds_it_and_duplicates_arrive_twice() {
    let h = harness().await;
    let quiet = request(TxnType::Payout, "10.55", "MX");
    h.payout(&quiet).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(h.rx.hooks.lock().unwrap().is_empty());
    assert_eq!(h.sync(&quiet, None).await.outcome, PspOutcome::Approved);
    let twice = request(TxnType::Payout, "10.56", "MX");
    h.payout(&twice).await;
    let hooks = h.webhooks(2).await;
    assert_eq!(hooks.len(), 2);
    assert!(hooks
        .iter()
        .all(|o| verified(o).0.outcome == PspOutcome::Approved));
}

#[tokio::test]
async fn a_forged_webhook_is_unverified_and_the_status_says_approved() {
    let h = harness().await;
    let req = request(TxnType::Payout, "10.57", "PE");
    let id = h.payout(&req).await.psp_transaction_id;
    match &h.webhooks(1).await[..] {
        [Ok(CallbackOutcome::Unverified { order_id, why })] => {
            assert_eq!((order_id, *why), (&req.order_id, "bad signature"));
        }
        other => panic!("forged webhook accepted: {other:?}"),
    }
    assert_eq!(h.sync(&req, id).await.outcome, PspOutcome::Approved);
}

#[tokio::test]
async fn webhooks_are_resent_until_answered_2xx_and_a_reference_pays_once() {
    let h = harness().await;
    h.rx.fail_next.store(2, Ordering::SeqCst);
    let req = request(TxnType::Payout, "12.00", "MX");
    let first = h.payout(&req).await;
    assert_eq!(h.webhooks(1).await.len(), 1);
    let order = &h.orders().await[0];
    assert_eq!(
        (
            order["webhook_attempts"].as_u64(),
            order["webhooks_sent"].as_u64()
        ),
        (Some(3), Some(1))
    );
    let second = h.payout(&req).await;
    assert_eq!(second.psp_transaction_id, first.psp_transaction_id);
    let orders = h.orders().await;
    assert_eq!(
        (orders.len(), orders[0]["executions"].as_u64()),
        (1, Some(1))
    );
}

#[tokio::test]
async fn each_country_needs_its_own_key() {
    let h = harness().await;
    let cl_key = h.credential("api_key_cl");
    let other = h.other_account().await;
    let their_pe = other.credentials.0["api_key_pe"].expose_secret().to_owned();
    let our_id = h.credential("api_key_pe");
    let mixed = format!(
        "{}.{}",
        our_id.split_once('.').unwrap().0,
        their_pe.split_once('.').unwrap().1
    );
    for (key, status) in [
        (cl_key.as_str(), 403),
        ("ck_pe_nope.x", 401),
        (mixed.as_str(), 401),
    ] {
        let wrong = h.account_with(&[("api_key_pe", key)]);
        let req = request(TxnType::Payout, "100.00", "PE");
        let err = h.connector.submit_payout(&wrong, &req).await.unwrap_err();
        assert!(
            matches!(err, ConnectorError::InvalidCredentials { status: s } if s == status),
            "{key}: {err:?}"
        );
    }
    assert!(h.orders().await.is_empty());
}

#[tokio::test]
async fn the_sandbox_enforces_the_published_country_currency_and_peso_rules() {
    let h = harness().await;
    let post = |key: &str, body: Value| {
        h.web
            .post(format!("{}/v1/payins", h.base))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let body = |amount: &str, currency: &str, country: &str| {
        json!({"reference": format!("txn_raw{amount}{currency}"), "amount": amount, "currency": currency,
            "country": country, "customer": {"id": "u", "email": "a@b.cl"},
            "webhook_url": "http://127.0.0.1:9/cb"})
    };
    for (amount, currency, country, key, field) in [
        ("10000.50", "CLP", "CL", DEFAULT_KEY_CL, "amount"),
        ("150", "PEN", "CL", DEFAULT_KEY_CL, "currency"),
        ("150.5", "PEN", "PE", DEFAULT_KEY_PE, "amount"),
        ("150.00", "USD", "MX", DEFAULT_KEY_MX, "currency"),
    ] {
        let answer = post(key, body(amount, currency, country)).await.unwrap();
        assert_eq!(answer.status(), 400, "{amount} {currency} {country}");
        let refusal: Value = answer.json().await.unwrap();
        assert_eq!(refusal["error"]["field"], field, "{refusal}");
    }
    // The default test account, and its webhook secret for the connector.
    let answer = post(DEFAULT_KEY_MX, body("150.00", "MXN", "MX"))
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let account = h.account_with(&[
        ("api_key_cl", DEFAULT_KEY_CL),
        ("api_key_pe", DEFAULT_KEY_PE),
        ("api_key_mx", DEFAULT_KEY_MX),
        ("webhook_secret", DEFAULT_WEBHOOK_SECRET),
    ]);
    let req = request(TxnType::Payout, "30000", "CL");
    let update = h.connector.submit_payout(&account, &req).await.unwrap();
    assert_eq!(update.outcome, PspOutcome::Pending);
}

#[tokio::test]
async fn a_restarted_sandbox_with_the_same_seed_knows_the_account() {
    let before = harness().await;
    let setup = Setup::new(outcome_only).seed(before.seed.clone());
    let restarted = testkit::start(CleoSandbox, connector(), setup).await;
    let account = testkit::rebase(&before.account, &restarted.base);
    let req = request(TxnType::Payout, "10.00", "MX");
    let created = restarted.connector.submit_payout(&account, &req).await;
    assert_eq!(created.unwrap().outcome, PspOutcome::Pending);
    let stranger = harness().await;
    let account = testkit::rebase(&before.account, &stranger.base);
    let err = stranger
        .connector
        .submit_payout(&account, &request(TxnType::Payout, "10.00", "MX"))
        .await;
    assert!(
        matches!(err, Err(ConnectorError::InvalidCredentials { status: 401 })),
        "{err:?}"
    );
}
