//! Unit tests of the EMERCHANTPAY flows that need no HTTP: notifications and their echo, the
//! form request, validation and refusals.

use super::*;
use crate::http::OutboundPolicy;
use overture_core::{Credentials, Currency, Money, PspAccountId, TransactionId};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::time::Duration;

const PASSWORD: &str = "50fd87e65eb415f42fb5af4c9cf497662e00b785";

fn account() -> AccountContext {
    AccountContext {
        account_id: PspAccountId::generate(),
        base_url: "http://127.0.0.1:9".into(),
        credentials: Credentials(BTreeMap::from([
            ("username".to_owned(), SecretString::from("login")),
            ("password".to_owned(), SecretString::from(PASSWORD)),
        ])),
        callback_url: "https://overture.example/v1/api/psp-callbacks/emerchantpay/psp_1".into(),
    }
}

fn connector() -> Emerchantpay {
    Emerchantpay::new(PspHttp::new(
        Duration::from_secs(1),
        OutboundPolicy::default(),
    ))
}

fn form(fields: &[(&str, &str)]) -> CallbackRequest {
    CallbackRequest {
        method: "POST".into(),
        query: String::new(),
        headers: vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: serde_urlencoded::to_string(fields).unwrap().into_bytes(),
    }
}

fn notification(id: &OrderId, status: &str, signature: &str) -> CallbackRequest {
    form(&[
        ("notification_type", "wpf"),
        ("wpf_unique_id", "26aa150ee68b1b2d6758a0e6c44fce4c"),
        ("wpf_transaction_id", id.as_str()),
        ("wpf_status", status),
        ("payment_transaction_transaction_type", "sale3d"),
        ("signature", signature),
    ])
}

#[test]
fn signed_notifications_verify_and_get_their_echo() {
    let id = OrderId::for_attempt(&TransactionId::generate(), 1);
    let good = wire::signature_for(128, "26aa150ee68b1b2d6758a0e6c44fce4c", PASSWORD).unwrap();
    let request = notification(&id, "approved", &good);
    match connector().parse_callback(&account(), &request).unwrap() {
        CallbackOutcome::Verified {
            order_id,
            update,
            claims,
        } => {
            assert_eq!(order_id, id);
            assert_eq!(update.outcome, PspOutcome::Approved);
            assert_eq!(
                claims.psp_transaction_id.as_deref(),
                Some("26aa150ee68b1b2d6758a0e6c44fce4c")
            );
        }
        other => panic!("{other:?}"),
    }
    let ack = connector().callback_ack(&request);
    assert_eq!(ack.content_type, "application/xml");
    assert!(ack.body.contains(
        "<notification_echo><wpf_unique_id>26aa150ee68b1b2d6758a0e6c44fce4c</wpf_unique_id></notification_echo>"
    ), "{}", ack.body);
    let sha1 = wire::signature_for(40, "26aa150ee68b1b2d6758a0e6c44fce4c", "other").unwrap();
    for (signature, why) in [(sha1.as_str(), "bad signature"), ("", "missing signature")] {
        let outcome =
            connector().parse_callback(&account(), &notification(&id, "declined", signature));
        assert!(
            matches!(outcome, Ok(CallbackOutcome::Unverified { why: w, .. }) if w == why),
            "{outcome:?}"
        );
    }
    for bad in [
        form(&[("wpf_status", "approved")]),
        form(&[("wpf_unique_id", "u"), ("wpf_transaction_id", "nope")]),
    ] {
        assert!(matches!(
            connector().parse_callback(&account(), &bad),
            Err(ConnectorError::BadCallback(_))
        ));
    }
}

fn payin(return_url: Option<&str>) -> PaymentRequest {
    PaymentRequest {
        order_id: OrderId::for_attempt(&TransactionId::generate(), 1),
        txn_type: TxnType::Payin,
        amount: Money::parse_major("20.50", Currency::from_code("EUR").unwrap()).unwrap(),
        user_id: "u1".into(),
        email: "player@example.com".into(),
        country: Some("DE".into()),
        return_url: return_url.map(str::to_owned),
        merchant_reference: None,
        extras: BTreeMap::from([("firstName".to_owned(), "Ada".to_owned())]),
    }
}

#[test]
fn the_form_request_carries_no_card_data() {
    let request = payin(Some("https://mp.example/back"));
    assert!(connector().validate(&request).is_ok());
    assert_eq!(
        connector().validate(&payin(None)).unwrap_err().field,
        "returnUrl"
    );
    let xml = wpf_request(&account(), &request).unwrap().to_xml().unwrap();
    assert!(
        xml.contains("<amount>2050</amount><currency>EUR</currency>"),
        "{xml}"
    );
    assert!(xml.contains(&format!(
        "<transaction_id>{}</transaction_id>",
        request.order_id
    )));
    assert!(xml.contains("<notification_url>https://overture.example/v1/api/psp-callbacks/emerchantpay/psp_1</notification_url>"));
    assert!(xml.contains("<transaction_type name=\"sale3d\"/>"));
    assert!(xml.contains("<first_name>Ada</first_name>"));
    for card_field in ["card_number", "cvv", "expiration", "card_holder"] {
        assert!(!xml.contains(card_field), "{card_field} in {xml}");
    }
}

#[test]
fn refusals_before_a_form_existed_are_not_processed() {
    let input = WpfPaymentOut {
        status: "error".into(),
        code: Some("340".into()),
        message: Some("Please check input data for errors!".into()),
        ..Default::default()
    };
    let refused = refused_create(&input).unwrap();
    assert_eq!(refused.redirect_url, None);
    assert_eq!(refused.update.outcome, PspOutcome::Declined);
    assert_eq!(refused.update.failure_class(), FailureClass::NotProcessed);
    let system = WpfPaymentOut {
        code: Some("100".into()),
        ..input
    };
    assert!(matches!(
        refused_create(&system),
        Err(ConnectorError::Protocol(_))
    ));
}

#[test]
fn reconcile_answers_update_the_order() {
    let answer = WpfPaymentOut::parse(wire::tests::RECONCILE_SAMPLE).unwrap();
    let update = update_from(&answer, "26aa150ee68b1b2d6758a0e6c44fce4c");
    assert_eq!(update.outcome, PspOutcome::Approved);
    assert_eq!(update.raw_status, "approved");
    let declined = WpfPaymentOut {
        status: "declined".into(),
        payment_transaction: vec![wire::PaymentTransaction {
            status: "declined".into(),
            code: Some("520".into()),
            technical_message: Some("card expired".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let update = update_from(&declined, "u");
    assert_eq!(update.failure_class(), FailureClass::HardDecline);
    assert_eq!(update.message.as_deref(), Some("card expired"));
}
