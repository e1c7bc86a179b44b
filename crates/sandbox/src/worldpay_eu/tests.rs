//! Connector ⇄ sandbox over real HTTP on 127.0.0.1: the WORLDPAY_EU connector submits HPP
//! orders to this simulator, a browser-like client pays or refuses on the page, notifications
//! reach a receiver that feeds them into `parse_callback` and answers with `callback_ack`, and
//! the redirect's `mac2` is checked by the connector.

use super::{WorldpayEuSandbox, DEFAULT_MERCHANT_CODE, DEFAULT_XML_PASSWORD};
use crate::testkit::{self, Outcome, Setup};
use overture_connectors::http::{OutboundPolicy, PspHttp};
use overture_connectors::worldpay_eu::{wire, WorldpayEu};
use overture_core::connector::*;
use overture_core::{Currency, Money, OrderId, TransactionId, TxnType};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

const RETURN_URL: &str = "https://merchant.example/return";

/// Each notification kept beside what `parse_callback` said about it.
type Kept = (CallbackRequest, Outcome);
type Harness = testkit::Harness<WorldpayEu, Kept>;

fn keep(request: &CallbackRequest, outcome: Outcome) -> Kept {
    (request.clone(), outcome)
}

fn connector() -> WorldpayEu {
    WorldpayEu::new(PspHttp::new(
        Duration::from_secs(5),
        OutboundPolicy::default(),
    ))
}

/// A harness whose merchant channel points at the receiver (as an operator sets it in the MAI).
async fn harness() -> Harness {
    let h = testkit::start(WorldpayEuSandbox, connector(), Setup::new(keep)).await;
    set_channel(
        &h,
        &h.credential("merchant_code"),
        &h.credential("xml_password"),
    )
    .await;
    h
}

async fn set_channel(h: &Harness, user: &str, password: &str) {
    let response = h
        .web
        .post(format!("{}/_merchant_channel", h.base))
        .basic_auth(user, Some(password))
        .form(&[("address", h.account.callback_url.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
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

    /// Submits an order, opens its page and answers `outcome`; returns the redirect target.
    async fn pay(&self, req: &PaymentRequest, outcome: &str) -> (PayinStarted, String) {
        let started = self
            .connector
            .start_payin(&self.account, req)
            .await
            .unwrap();
        assert_eq!(started.update.outcome, PspOutcome::Pending);
        let url = started.redirect_url.clone().unwrap();
        assert!(
            url.starts_with(&format!("{}/hpp?OrderKey=", self.base)),
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
        let location = done.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(RETURN_URL), "{location}");
        (started, location)
    }

    async fn notifications(&self, n: usize) -> Vec<Kept> {
        self.settled_hooks(n, 300, Duration::from_millis(150)).await
    }

    /// `parse_callback` of the shopper redirect to `location`, as if forwarded to Overture.
    fn redirect(&self, location: &str) -> Outcome {
        let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let request = CallbackRequest {
            method: "GET".into(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        self.connector.parse_callback(&self.account, &request)
    }
}

fn hinted(kept: &Kept, id: &OrderId) {
    match &kept.1 {
        Ok(CallbackOutcome::Unverified { order_id, why }) => {
            assert_eq!(order_id, id);
            assert_eq!(*why, "unsigned order notification");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn approved_on_the_page_notified_acknowledged_and_inquired() {
    let h = harness().await;
    let req = request("20.00");
    let (started, location) = h.pay(&req, "approve").await;
    let kept = h.notifications(1).await;
    assert_eq!(kept.len(), 1);
    hinted(&kept[0], &req.order_id);
    let body = String::from_utf8_lossy(&kept[0].0.body).to_string();
    assert!(body.contains("<lastEvent>AUTHORISED</lastEvent>"), "{body}");
    let update = h.sync(&req, Some(&started)).await;
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Approved, "AUTHORISED")
    );
    match h.redirect(&location).unwrap() {
        CallbackOutcome::Verified {
            order_id,
            update,
            claims,
        } => {
            assert_eq!(order_id, req.order_id);
            assert_eq!(update.outcome, PspOutcome::Approved);
            assert_eq!(claims.amount.as_deref(), Some("20.00"));
        }
        other => panic!("{other:?}"),
    }
    let order = &h.orders().await[0];
    assert_eq!(order["executions"], 1);
    assert_eq!(
        order["notifications_acked"], 1,
        "the receiver answered [OK]"
    );
    assert_eq!(
        order["reference_id"].as_str(),
        started.update.psp_transaction_id.as_deref()
    );
}

#[tokio::test]
async fn refused_on_the_page_or_by_the_issuer() {
    let h = harness().await;
    let refused = request("20.00");
    let (started, location) = h.pay(&refused, "decline").await;
    let update = h.sync(&refused, Some(&started)).await;
    assert_eq!(update.outcome, PspOutcome::Declined);
    assert_eq!(update.failure_class(), FailureClass::SoftDecline);
    assert!(location.contains("paymentStatus=REFUSED"), "{location}");
    let issuer = request("20.51");
    let (started, _) = h.pay(&issuer, "approve").await;
    let update = h.sync(&issuer, Some(&started)).await;
    assert_eq!(update.outcome, PspOutcome::Declined);
    assert!(update.message.unwrap().contains("51"));
    assert_eq!(h.notifications(2).await.len(), 2);
}

#[tokio::test]
async fn error_fails_and_stays_processing_stays_pending() {
    let h = harness().await;
    let error = request("20.52");
    let (started, _) = h.pay(&error, "approve").await;
    let update = h.sync(&error, Some(&started)).await;
    assert_eq!(update.outcome, PspOutcome::Failed);
    assert_eq!(update.failure_class(), FailureClass::Technical);
    let stuck = request("20.53");
    let (started, location) = h.pay(&stuck, "approve").await;
    assert!(location.contains("paymentStatus=SENT_FOR_AUTHORISATION"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let update = h.sync(&stuck, Some(&started)).await;
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Pending, "SENT_FOR_AUTHORISATION")
    );
    assert_eq!(
        h.notifications(1).await.len(),
        1,
        "only the ERROR is notified"
    );
}

#[tokio::test]
async fn http_500_on_submit_then_not_found() {
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
async fn unpaid_page_is_pending_and_a_lost_reply_is_not_found() {
    let h = harness().await;
    let req = request("20.00");
    let started = h.connector.start_payin(&h.account, &req).await.unwrap();
    let update = h.sync(&req, Some(&started)).await;
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Pending, "SHOPPER_REDIRECTED")
    );
    // Without the reference (the reply was lost) nobody has the page: nothing can be paid.
    assert_eq!(h.sync(&req, None).await.outcome, PspOutcome::NotFound);
}

#[tokio::test]
async fn no_notification_but_the_inquiry_finds_it() {
    let h = harness().await;
    let req = request("20.55");
    let (started, _) = h.pay(&req, "approve").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.rx.hooks.lock().unwrap().is_empty());
    assert_eq!(
        h.sync(&req, Some(&started)).await.outcome,
        PspOutcome::Approved
    );
}

#[tokio::test]
async fn duplicate_notification_and_the_payment_once() {
    let h = harness().await;
    let req = request("20.56");
    h.pay(&req, "approve").await;
    let kept = h.notifications(2).await;
    assert_eq!(kept.len(), 2);
    kept.iter().for_each(|k| hinted(k, &req.order_id));
    let order = &h.orders().await[0];
    assert_eq!(
        (
            order["executions"].as_u64(),
            order["notifications_acked"].as_u64()
        ),
        (Some(1), Some(2))
    );
}

#[tokio::test]
async fn forged_notification_and_redirect_mac_are_not_believed() {
    let h = harness().await;
    let req = request("20.57");
    let (started, location) = h.pay(&req, "approve").await;
    let kept = h.notifications(1).await;
    let body = String::from_utf8_lossy(&kept[0].0.body).to_string();
    assert!(
        body.contains("<lastEvent>REFUSED</lastEvent>"),
        "the lie: {body}"
    );
    hinted(&kept[0], &req.order_id);
    assert!(matches!(
        h.redirect(&location),
        Ok(CallbackOutcome::Unverified {
            why: "bad redirect MAC",
            ..
        })
    ));
    assert_eq!(
        h.sync(&req, Some(&started)).await.outcome,
        PspOutcome::Approved
    );
}

#[tokio::test]
async fn notifications_are_resent_until_acknowledged() {
    let h = harness().await;
    h.rx.fail_next.store(2, Ordering::SeqCst);
    let req = request("20.00");
    h.pay(&req, "approve").await;
    assert_eq!(h.notifications(1).await.len(), 1);
    let order = &h.orders().await[0];
    assert_eq!(
        (
            order["notify_attempts"].as_u64(),
            order["notifications_acked"].as_u64()
        ),
        (Some(3), Some(1))
    );
}

#[tokio::test]
async fn bad_credentials_and_foreign_orders_are_refused() {
    let h = harness().await;
    let other = h.other_account().await;
    let their_password = other.credentials.0["xml_password"].clone();
    let mut mixed = h.account.clone();
    mixed
        .credentials
        .0
        .insert("xml_password".into(), their_password);
    let err = h
        .connector
        .start_payin(&mixed, &request("20.00"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidCredentials { status: 401 }),
        "{err:?}"
    );
    // Our credentials with another merchant code in the envelope: error 4, nothing created.
    let theirs = other.credentials.0["merchant_code"].clone();
    let mut foreign = h.account.clone();
    foreign.credentials.0.insert("merchant_code".into(), theirs);
    let err = h
        .connector
        .start_payin(&foreign, &request("20.00"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Protocol(_)), "{err:?}");
    let wrong_installation = h.account_with(&[("installation_id", "999")]);
    let refused = h
        .connector
        .start_payin(&wrong_installation, &request("20.00"))
        .await
        .unwrap();
    assert_eq!(refused.redirect_url, None);
    assert_eq!(refused.update.failure_class(), FailureClass::NotProcessed);
    // Another account's order is unknown to us.
    let req = request("20.00");
    let started = h.connector.start_payin(&other, &req).await.unwrap();
    assert!(started.redirect_url.is_some());
    assert_eq!(h.sync(&req, None).await.outcome, PspOutcome::NotFound);
    assert_eq!(h.orders().await.len(), 1);
}

#[tokio::test]
async fn the_default_test_account_works_and_a_restart_keeps_accounts() {
    let h = harness().await;
    let default = h.account_with(&[
        ("merchant_code", DEFAULT_MERCHANT_CODE),
        ("xml_username", DEFAULT_MERCHANT_CODE),
        ("xml_password", DEFAULT_XML_PASSWORD),
        ("installation_id", super::DEFAULT_INSTALLATION_ID),
        ("mac_secret", super::DEFAULT_MAC_SECRET),
    ]);
    set_channel(&h, DEFAULT_MERCHANT_CODE, DEFAULT_XML_PASSWORD).await;
    let req = request("20.00");
    let started = h.connector.start_payin(&default, &req).await.unwrap();
    assert!(started.redirect_url.is_some());
    let restarted = testkit::start(
        WorldpayEuSandbox,
        connector(),
        Setup::new(keep).seed(h.seed.clone()),
    )
    .await;
    let account = testkit::rebase(&h.account, &restarted.base);
    let created = restarted
        .connector
        .start_payin(&account, &request("20.00"))
        .await;
    assert!(created.unwrap().redirect_url.is_some());
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

#[test]
fn notification_documents_parse_back() {
    let order = super::Order {
        seq: 1,
        merchant_code: "M".into(),
        order_code: "txn_1".into(),
        reference_id: "1".into(),
        ticket: "t".into(),
        amount: Money::parse_major("1.00", Currency::from_code("EUR").unwrap()).unwrap(),
        scenario: crate::Scenario::Approve,
        last_event: Some(wire::last_event::AUTHORISED),
        return_code: None,
        executions: 1,
        notify_attempts: 0,
        notifications_acked: 0,
        inquiries: 0,
    };
    let doc = wire::PaymentService::parse(&super::notify::document(&order, "AUTHORISED")).unwrap();
    let event = doc.notify.unwrap().order_status_event;
    assert_eq!(event.order_code, "txn_1");
    assert_eq!(event.payment.unwrap().amount.unwrap().value, "100");
}

/// An HPP order in the shape open-source integrations send (order content, shipping and
/// billing addresses the sandbox does not model), posted raw with the published DOCTYPE, then
/// the published inquiry structure: the simulator answers both as the connector reads them.
#[tokio::test]
async fn published_request_shapes_are_accepted() {
    let h = harness().await;
    let order = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE paymentService PUBLIC "-//WorldPay//DTD WorldPay PaymentService v1//EN" "http://dtd.worldpay.com/paymentService_v1.dtd">
<paymentService version="1.4" merchantCode="OVERTUREDEMO">
  <submit>
    <order orderCode="shape-1" installationId="1000001">
      <description>Your Order &amp; Order desc</description>
      <amount currencyCode="EUR" exponent="2" value="1000"/>
      <orderContent><![CDATA[<p>one item</p>]]></orderContent>
      <paymentMethodMask><include code="ALL"/></paymentMethodMask>
      <shopper><shopperEmailAddress>sp@worldpay.com</shopperEmailAddress></shopper>
      <shippingAddress><address><address1>47A</address1><postalCode>CB4 0WE</postalCode><city>Cambridge</city><countryCode>GB</countryCode></address></shippingAddress>
      <billingAddress><address><address1>47A</address1><postalCode>CB4 0WE</postalCode><city>Cambridge</city><countryCode>GB</countryCode></address></billingAddress>
    </order>
  </submit>
</paymentService>"#;
    let post = |xml: &'static str| {
        h.web
            .post(format!("{}{}", h.base, wire::PATH))
            .basic_auth(DEFAULT_MERCHANT_CODE, Some(DEFAULT_XML_PASSWORD))
            .header("content-type", "text/xml")
            .body(xml)
            .send()
    };
    let reply = post(order).await.unwrap().text().await.unwrap();
    let status = wire::PaymentService::parse(&reply)
        .unwrap()
        .reply
        .unwrap()
        .order_status
        .unwrap();
    assert_eq!(status.order_code, "shape-1");
    assert!(status.reference.unwrap().url.contains("Ticket="), "{reply}");
    let inquiry = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE paymentService PUBLIC "-//WorldPay//DTD WorldPay PaymentService v1//EN" "http://dtd.worldpay.com/paymentService_v1.dtd">
<paymentService version="1.4" merchantCode="OVERTUREDEMO"><inquiry><orderInquiry orderCode="shape-1"/></inquiry></paymentService>"#;
    let reply = post(inquiry).await.unwrap().text().await.unwrap();
    let reply = wire::PaymentService::parse(&reply).unwrap().reply.unwrap();
    assert!(matches!(
        wire::inquiry_answer(&reply, "shape-1").unwrap(),
        wire::InquiryAnswer::NoPayment(_)
    ));
    let garbage = post("<paymentService").await.unwrap().text().await.unwrap();
    let error = wire::PaymentService::parse(&garbage)
        .unwrap()
        .reply
        .unwrap()
        .error
        .unwrap();
    assert_eq!(error.code, wire::ERROR_PARSE);
}
