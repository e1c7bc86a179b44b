//! Connector ⇄ sandbox over real HTTP on 127.0.0.1: the TRUST connector hands out Payment
//! Pages links, a browser-like client pays on them, a receiver feeds every URL notification
//! into `parse_callback`, and `sync` asks the simulated Webservices `TRANSACTIONQUERY`.

use super::*;
use crate::testkit::{self, outcome_only, Outcome, Setup};
use overture_connectors::http::{OutboundPolicy, PspHttp};
use overture_connectors::trust::pages as trust_pages;
use overture_connectors::trust::Trust;
use overture_core::connector::*;
use overture_core::{Currency, Money, OrderId, TxnType};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

const RETURN_URL: &str = "https://merchant.example/return";

type Harness = testkit::Harness<Trust, Outcome>;

fn connector() -> Trust {
    Trust::new(PspHttp::new(
        Duration::from_secs(5),
        OutboundPolicy::default(),
    ))
}

async fn harness() -> Harness {
    testkit::start(TrustSandbox, connector(), Setup::new(outcome_only)).await
}

fn request(amount: &str, return_url: Option<&str>) -> PaymentRequest {
    PaymentRequest {
        order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
        txn_type: TxnType::Payin,
        amount: Money::parse_major(amount, Currency::from_code("GBP").unwrap()).unwrap(),
        user_id: "user-1".into(),
        email: "payer@example.com".into(),
        country: Some("GB".into()),
        return_url: return_url.map(str::to_owned),
        merchant_reference: None,
        extras: BTreeMap::new(),
    }
}

/// A started pay-in: the request, the link, and what Overture stored.
struct Started {
    req: PaymentRequest,
    url: String,
    update: PspUpdate,
}

impl Harness {
    async fn start(&self, amount: &str, return_url: Option<&str>) -> Started {
        let req = request(amount, return_url);
        let started = self.connector.start_payin(&self.account, &req).await;
        let started = started.unwrap();
        let url = started.redirect_url.unwrap();
        assert!(
            url.starts_with(&format!("{}/process/payments/choice?", self.base)),
            "{url}"
        );
        Started {
            req,
            url,
            update: started.update,
        }
    }

    /// Opens the page like a browser and submits `outcome`; returns the answer.
    async fn submit(&self, url: &str, outcome: &str) -> reqwest::Response {
        let page = self.web.get(url).send().await.unwrap();
        assert_eq!(page.status(), 200, "{url}");
        let text = page.text().await.unwrap();
        assert!(text.contains("value=\"approve\""), "{text}");
        assert!(!text.contains("name=\"pan\""));
        let done = self.web.post(url).form(&[("outcome", outcome)]).send();
        done.await.unwrap()
    }

    /// Pays with a return URL: the answer is a redirect there carrying signed result fields.
    async fn pay(&self, amount: &str, outcome: &str) -> (Started, Vec<(String, String)>) {
        let started = self.start(amount, Some(RETURN_URL)).await;
        let done = self.submit(&started.url, outcome).await;
        assert_eq!(done.status(), 303);
        let location = done.headers()["location"].to_str().unwrap().to_owned();
        let (back, query) = location.split_once('?').unwrap();
        assert_eq!(back, RETURN_URL);
        let fields: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        let password = self.credential("site_security_password");
        let given = fields.iter().find(|(n, _)| n == "responsesitesecurity");
        let given = &given.unwrap().1;
        assert!(trust_pages::verify_response_site_security(
            &fields, &password, given
        ));
        (started, fields)
    }

    async fn sync(&self, started: &Started) -> PspUpdate {
        let order = testkit::order_ref(&started.req, Some(&started.update));
        self.connector.sync(&self.account, &order).await.unwrap()
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

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    &fields.iter().find(|(n, _)| n == name).unwrap().1
}

#[tokio::test]
async fn approved_on_the_page_then_settled() {
    let h = harness().await;
    let (started, back) = h.pay("25.00", "approve").await;
    assert_eq!(field(&back, "errorcode"), "0");
    assert_eq!(
        field(&back, "orderreference"),
        started.req.order_id.as_str()
    );
    let hooks = h.notifications(1).await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(verified(&hooks[0]).outcome, PspOutcome::Approved);
    let update = h.sync(&started).await;
    assert_eq!(update.outcome, PspOutcome::Approved);
    assert_eq!(
        update.psp_transaction_id.as_deref(),
        Some(field(&back, "transactionreference"))
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let settled = h.sync(&started).await;
    assert_eq!(
        (settled.outcome, settled.raw_status.as_str()),
        (PspOutcome::Approved, "errorcode=0 settlestatus=100")
    );
    let order = &h.orders().await[0];
    assert_eq!(order["baseamount"], "2500");
    assert_eq!(order["notifications_sent"], 1);
}

#[tokio::test]
async fn declined_on_the_page_or_by_the_bank() {
    let h = harness().await;
    let (chosen, back) = h.pay("25.00", "decline").await;
    assert_eq!(field(&back, "errorcode"), "70000");
    let (by_bank, _) = h.pay("25.51", "approve").await;
    let hooks = h.notifications(2).await;
    assert!(hooks
        .iter()
        .all(|o| verified(o).outcome == PspOutcome::Declined));
    for started in [&chosen, &by_bank] {
        let update = h.sync(started).await;
        assert_eq!(
            (update.outcome, update.failure_class()),
            (PspOutcome::Declined, FailureClass::SoftDecline)
        );
        assert_eq!(update.message.as_deref(), Some("Decline"));
    }
}

#[tokio::test]
async fn without_a_return_url_a_declined_customer_may_retry() {
    let h = harness().await;
    let started = h.start("30.00", None).await;
    let again = h.submit(&started.url, "decline").await;
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("try another card"));
    assert_eq!(h.sync(&started).await.outcome, PspOutcome::Pending);
    let paid = h.submit(&started.url, "approve").await;
    assert!(paid.text().await.unwrap().contains("Payment successful"));
    assert_eq!(h.sync(&started).await.outcome, PspOutcome::Approved);
    // The paid link records nothing more.
    let replay = h.web.post(&started.url).form(&[("outcome", "approve")]);
    assert_eq!(replay.send().await.unwrap().status(), 200);
    assert_eq!(h.orders().await.len(), 2);
}

#[tokio::test]
async fn bank_error_fails_and_suspended_stays_pending() {
    let h = harness().await;
    let (failed, _) = h.pay("10.52", "approve").await;
    let update = h.sync(&failed).await;
    assert_eq!(
        (update.outcome, update.failure_class()),
        (PspOutcome::Failed, FailureClass::Technical)
    );
    let (held, _) = h.pay("10.53", "approve").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let update = h.sync(&held).await;
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Pending, "errorcode=0 settlestatus=2")
    );
}

#[tokio::test]
async fn page_error_records_nothing() {
    let h = harness().await;
    let started = h.start("10.54", Some(RETURN_URL)).await;
    let page = h.web.get(&started.url).send().await.unwrap();
    assert_eq!(page.status(), 500);
    let update = h.sync(&started).await;
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Pending, "AWAITING_PAYMENT")
    );
    // Without the stored stage (the link never handed out), nothing exists at Trust.
    let order = testkit::order_ref(&started.req, None);
    let unknown = h.connector.sync(&h.account, &order).await.unwrap();
    assert_eq!(unknown.outcome, PspOutcome::NotFound);
    assert!(h.orders().await.is_empty());
}

#[tokio::test]
async fn missing_duplicate_and_forged_notifications() {
    let h = harness().await;
    let (silent, _) = h.pay("10.55", "approve").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.rx.hooks.lock().unwrap().is_empty());
    assert_eq!(h.sync(&silent).await.outcome, PspOutcome::Approved);
    h.pay("10.56", "approve").await;
    let hooks = h.notifications(2).await;
    assert_eq!(hooks.len(), 2);
    assert!(hooks
        .iter()
        .all(|o| verified(o).outcome == PspOutcome::Approved));
    h.rx.hooks.lock().unwrap().clear();
    let (forged, _) = h.pay("10.57", "approve").await;
    match &h.notifications(1).await[..] {
        [Ok(CallbackOutcome::Unverified { order_id, why })] => {
            assert_eq!(order_id, &forged.req.order_id);
            assert_eq!(*why, "bad responsesitesecurity");
        }
        other => panic!("forged notification accepted: {other:?}"),
    }
    assert_eq!(h.sync(&forged).await.outcome, PspOutcome::Approved);
    let orders = h.orders().await;
    assert_eq!(orders.len(), 3, "one AUTH per paid page");
}

#[tokio::test]
async fn notifications_are_resent_until_answered_200() {
    let h = harness().await;
    h.rx.fail_next.store(2, Ordering::SeqCst);
    h.pay("12.00", "approve").await;
    assert_eq!(h.notifications(1).await.len(), 1);
    let order = &h.orders().await[0];
    assert_eq!(
        (
            order["notification_attempts"].as_u64(),
            order["notifications_sent"].as_u64()
        ),
        (Some(3), Some(1))
    );
}

#[tokio::test]
async fn tampered_links_are_refused() {
    let h = harness().await;
    let started = h.start("10.00", Some(RETURN_URL)).await;
    let cheaper = started.url.replace("mainamount=10.00", "mainamount=1.00");
    assert_ne!(cheaper, started.url);
    let page = h.web.get(&cheaper).send().await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("Invalid details"));
    let other = h.other_account().await;
    let theirs = h.connector.start_payin(&other, &started.req).await.unwrap();
    let theirs = theirs.redirect_url.unwrap();
    let ours = format!("sitereference={}", h.credential("sitereference"));
    let stolen = theirs.replace(
        &format!(
            "sitereference={}",
            other.credentials.0["sitereference"].expose_secret()
        ),
        &ours,
    );
    assert_eq!(h.web.get(&stolen).send().await.unwrap().status(), 400);
    assert!(h.orders().await.is_empty());
}

/// The example form of docs.trustpayments.com "Request site security", against the default
/// test account: its published hash is accepted (only the 2019 timestamp is too old), a
/// changed amount is not, and the same fields signed now open the page.
#[tokio::test]
async fn the_published_example_form_verifies_on_the_default_site() {
    let h = harness().await;
    let mut form: Vec<(String, String)> = [
        ("sitereference", "test_site12345"),
        ("stprofile", "default"),
        ("currencyiso3a", "USD"),
        ("mainamount", "100.00"),
        ("version", "2"),
        ("orderreference", "myorder12345"),
        (
            "sitesecurity",
            "hee879a9ab97753b3a768925d50842f10e19fea03fef0b820026b6df92d415866",
        ),
        ("sitesecuritytimestamp", "2019-05-28 14:22:37"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let url = format!("{}/process/payments/choice", h.base);
    let post = |fields: Vec<(String, String)>| h.web.post(&url).form(&fields).send();
    let text = post(form.clone()).await.unwrap().text().await.unwrap();
    assert!(text.contains("Payment session expired"), "{text}");
    form[3].1 = "1.00".into();
    let text = post(form.clone()).await.unwrap().text().await.unwrap();
    assert!(text.contains("Invalid details"), "{text}");
    form[3].1 = "100.00".into();
    form.retain(|(n, _)| n != "sitesecurity");
    let stamp = trust_pages::timestamp(time::OffsetDateTime::now_utc());
    form[6].1 = stamp;
    let hash = trust_pages::site_security(&form, DEFAULT_SITE_SECURITY_PASSWORD);
    form.push(("sitesecurity".into(), hash));
    let page = post(form).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("myorder12345"));
}

/// help.trustpayments.com "Response site security": the sandbox signs the example fields
/// with the example string's hash (`printf '%s' '0OrderVISARR5550test_site123452-44-66PASSWORD'
/// | sha256sum`), and leaves `notificationreference` out of it.
#[test]
fn the_sandbox_signs_the_published_response_example() {
    let fields: Vec<(String, String)> = [
        ("errorcode", "0"),
        ("orderreference", "Order"),
        ("paymenttypedescription", "VISA"),
        ("requestreference", "RR555"),
        ("settlestatus", "0"),
        ("sitereference", "test_site12345"),
        ("transactionreference", "2-44-66"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let signed = notify::signed(fields, "PASSWORD");
    let value = |name: &str| &signed.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(
        value("responsesitesecurity"),
        "1a8b45c137c1d1df8ce6ff923421043f879a85a181e9c0d96a8904211af8b0b0"
    );
    assert!(value("notificationreference").starts_with("NR-"));
}

#[tokio::test]
async fn webservices_refuse_wrong_credentials_and_other_sites() {
    let h = harness().await;
    let (started, _) = h.pay("10.00", "approve").await;
    let other = h.other_account().await;
    let their_password = other.credentials.0["password"].expose_secret().to_owned();
    let mixed = h.account_with(&[("password", &their_password)]);
    let order = testkit::order_ref(&started.req, Some(&started.update));
    let err = h.connector.sync(&mixed, &order).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidCredentials { status: 401 }),
        "{err:?}"
    );
    // Another account sees nothing of ours, and may not name our site.
    let unstaged = testkit::order_ref(&started.req, None);
    let theirs = h.connector.sync(&other, &unstaged).await.unwrap();
    assert_eq!(theirs.outcome, PspOutcome::NotFound);
    let ours = h.credential("sitereference");
    let mut spy = other.clone();
    spy.credentials
        .0
        .insert("sitereference".into(), secrecy::SecretString::from(ours));
    let err = h.connector.sync(&spy, &order).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Protocol(m) if m.contains("30000")));
}

async fn raw_query(h: &Harness, body: &str, reference: Option<&str>) -> serde_json::Value {
    let mut call = h
        .web
        .post(format!("{}/json/", h.base))
        .basic_auth(h.credential("username"), Some(h.credential("password")))
        .header("content-type", "application/json;charset=utf-8")
        .body(body.to_owned());
    if let Some(r) = reference {
        call = call.header("REQUESTREFERENCE", r);
    }
    let answer = call.send().await.unwrap();
    assert_eq!(answer.status(), 200);
    answer.json().await.unwrap()
}

#[tokio::test]
async fn webservices_answer_the_documented_errors_and_echo_references() {
    let h = harness().await;
    let alias = h.credential("username");
    let no_filter = format!(
        r#"{{"alias":"{alias}","version":"1.00","request":[{{"requestreference":"Aabc",
        "requesttypedescriptions":["TRANSACTIONQUERY"]}}]}}"#
    );
    let answer = raw_query(&h, &no_filter, None).await;
    assert_eq!(answer["requestreference"], "Aabc");
    assert_eq!(answer["response"][0]["errorcode"], "60019");
    let answer = raw_query(&h, &no_filter, Some("Aheader")).await;
    assert_eq!(answer["requestreference"], "Aheader");
    let answer = raw_query(&h, "{not json", None).await;
    assert_eq!(answer["response"][0]["errorcode"], "10205");
    assert!(answer["requestreference"]
        .as_str()
        .unwrap()
        .starts_with('W'));
    let auth = format!(
        r#"{{"alias":"{alias}","version":"1.00","request":[{{"requesttypedescriptions":["AUTH"]}}]}}"#
    );
    let answer = raw_query(&h, &auth, None).await;
    assert_eq!(answer["response"][0]["errorcode"], "60018");
    let site = h.credential("sitereference");
    let by_site = format!(
        r#"{{"alias":"{alias}","version":"1.00","request":[{{"requesttypedescriptions":
        ["TRANSACTIONQUERY"],"filter":{{"sitereference":[{{"value":"{site}"}}]}}}}]}}"#
    );
    h.pay("10.00", "approve").await;
    let answer = raw_query(&h, &by_site, None).await;
    let item = &answer["response"][0];
    assert_eq!(
        (item["errorcode"].as_str(), item["found"].as_str()),
        (Some("0"), Some("1"))
    );
    assert_eq!(item["records"][0]["requesttypedescription"], "AUTH");
}

#[tokio::test]
async fn a_restarted_sandbox_with_the_same_seed_knows_the_account() {
    let before = harness().await;
    let started = before.start("10.00", Some(RETURN_URL)).await;
    let setup = Setup::new(outcome_only).seed(before.seed.clone());
    let restarted = testkit::start(TrustSandbox, connector(), setup).await;
    let account = testkit::rebase(&before.account, &restarted.base);
    let moved = started.url.replace(&before.base, &restarted.base);
    let page = restarted.web.get(&moved).send().await.unwrap();
    assert_eq!(
        page.status(),
        200,
        "the restarted sandbox verifies the link"
    );
    let order = testkit::order_ref(&started.req, Some(&started.update));
    let update = restarted.connector.sync(&account, &order).await.unwrap();
    assert_eq!(update.outcome, PspOutcome::Pending);
    let stranger = harness().await;
    let account = testkit::rebase(&before.account, &stranger.base);
    let err = stranger.connector.sync(&account, &order).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidCredentials { status: 401 }),
        "{err:?}"
    );
}

/// `orderreference` is outside the hash: two orders of one amount signed in the same second
/// share a `sitesecurity`, yet each has its own page.
#[tokio::test]
async fn two_orders_signed_in_the_same_second_have_their_own_pages() {
    let h = harness().await;
    let now = time::OffsetDateTime::now_utc();
    let base = trust_pages::pages_base(&h.account.base_url);
    let mut links = Vec::new();
    for _ in 0..2 {
        let req = request("15.00", Some(RETURN_URL));
        let (fields, _) = Trust::page_fields(&h.account, &req, now).unwrap();
        links.push((
            fields.last().unwrap().1.clone(),
            trust_pages::page_url(&base, &fields),
        ));
    }
    assert_eq!(links[0].0, links[1].0, "same sitesecurity");
    let first = h.submit(links[0].1.as_ref().unwrap(), "approve").await;
    assert_eq!(first.status(), 303);
    let second = h.submit(links[1].1.as_ref().unwrap(), "approve").await;
    assert_eq!(second.status(), 303);
    assert_eq!(h.orders().await.len(), 2);
}
