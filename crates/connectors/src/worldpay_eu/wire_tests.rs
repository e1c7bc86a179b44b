//! Wire tests built from Worldpay's published samples: the REFUSED, CAPTURED and AUTHORISED
//! order notifications of the WPG guides (support.worldpay.com, PayPal guides), the order
//! inquiry and HPP reply structures, and the redirect example of the "redirect shopper to
//! payment pages" guide (its MAC recomputed with HMAC-SHA256 and a known secret by openssl).

use super::*;

/// support.worldpay.com/support/kb/gg/paypal-ssl/content/refused.htm, verbatim.
pub(crate) const REFUSED_SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE paymentService PUBLIC "-//WorldPay//DTD WorldPay PaymentService v1//EN" "http://dtd.worldpay.com/paymentService_v1.dtd">
<paymentService version="1.4" merchantCode="MERCHANT_CODE"> <!--Will contain the merchant code used in the request-->
    <notify>
    <orderStatusEvent orderCode="ORDER_CODE"> <!--Will contain the order code used in the request-->
        <payment>
            <paymentMethod>PAYPAL-EXPRESS</paymentMethod>
            <amount value="1500" currencyCode="GBP" exponent="2" debitCreditIndicator="credit" />
            <lastEvent>REFUSED</lastEvent>
            <riskScore value="0" />
        </payment>
        <journal journalType="REFUSED" description="REFUSED">
            <bookingDate>
                <date dayOfMonth="09" month="11" year="2012" />
            </bookingDate>
        </journal>
    </orderStatusEvent>
    </notify>
</paymentService>"#;

/// support.worldpay.com/support/kb/gg/paypal/content/captured.htm, verbatim.
const CAPTURED_SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE paymentService PUBLIC "-//WorldPay//DTD WorldPay PaymentService v1//EN" "http://dtd.worldpay.com/paymentService_v1.dtd">
<paymentService version="1.4" merchantCode="MERCHANT_CODE"> <!--Will contain the merchant code used in the request-->
<notify>
<orderStatusEvent orderCode="ORDER_CODE"> <!--Will contain the order code used in the request-->
<payment>
<paymentMethod>PAYPAL-EXPRESS</paymentMethod>
<amount value="5500" currencyCode="GBP" exponent="2" debitCreditIndicator="credit" />
<lastEvent>CAPTURED</lastEvent>
<riskScore value="0" />
</payment>
<journal journalType="CAPTURED">
<bookingDate>
<date dayOfMonth="05" month="11" year="2012" />
</bookingDate>
<accountTx accountType="IN_PROCESS_CAPTURED" batchId="1910">
<amount value="5500" currencyCode="GBP" exponent="2" debitCreditIndicator="credit" />
</accountTx>
<accountTx accountType="IN_PROCESS_AUTHORISED" batchId="2047">
<amount value="5500" currencyCode="GBP" exponent="2" debitCreditIndicator="debit" />
</accountTx>
</journal>
</orderStatusEvent>
</notify>
</paymentService>"#;

/// support.worldpay.com/support/kb/gg/paypal-ssl/content/authorised.htm (no space between the
/// DTD's public and system ids, as published), shortened to its first elements.
const WAITING_SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE paymentService PUBLIC "-//WorldPay//DTD WorldPay PaymentService v1//EN""http://dtd.wp.fte92.test.worldpay.com/dtd/paymentService_v1.dtd">
<paymentService version="1.4" merchantCode="CGFELICIAM2">
<notify>
<orderStatusEvent orderCode="jsxml3544346896">
<payment>
<paymentMethod>PAYPAL-SSL</paymentMethod>
<amount value="101" currencyCode="USD" exponent="2" debitCreditIndicator="credit"/>
<lastEvent>WAITING_FOR_SHOPPER</lastEvent>
<balance accountType="IN_PROCESS_AUTHORISED">
<amount value="101" currencyCode="USD" exponent="2" debitCreditIndicator="credit"/>
</balance>
</payment>
<paymentAdditionalDetails><firstName>Lee</firstName></paymentAdditionalDetails>
<journal journalType="AUTHORISED"><bookingDate><date dayOfMonth="22" month="11" year="2023"/></bookingDate></journal>
</orderStatusEvent>
</notify>
</paymentService>"#;

fn event(xml: &str) -> (String, OrderStatusEvent) {
    let doc = PaymentService::parse(xml).expect("published sample parses");
    (doc.merchant_code, doc.notify.unwrap().order_status_event)
}

#[test]
fn published_notifications_parse() {
    let (merchant, refused) = event(REFUSED_SAMPLE);
    assert_eq!(merchant, "MERCHANT_CODE");
    assert_eq!(refused.order_code, "ORDER_CODE");
    let payment = refused.payment.unwrap();
    assert_eq!(payment.last_event, "REFUSED");
    assert_eq!(payment.payment_method.as_deref(), Some("PAYPAL-EXPRESS"));
    let amount = payment.amount.unwrap();
    assert_eq!(amount.to_money().unwrap().to_major_string(), "15.00");
    assert_eq!(amount.currency_code, "GBP");
    assert_eq!(refused.journal.unwrap().journal_type, "REFUSED");

    let (_, captured) = event(CAPTURED_SAMPLE);
    let payment = captured.payment.unwrap();
    assert_eq!(map_last_event(&payment.last_event), PspOutcome::Approved);
    assert_eq!(
        payment
            .amount
            .unwrap()
            .to_money()
            .unwrap()
            .to_major_string(),
        "55.00"
    );

    let (merchant, waiting) = event(WAITING_SAMPLE);
    assert_eq!(merchant, "CGFELICIAM2");
    assert_eq!(waiting.order_code, "jsxml3544346896");
    let last = waiting.payment.unwrap().last_event;
    assert_eq!(map_last_event(&last), PspOutcome::Pending);
}

#[test]
fn hpp_order_serialises_with_the_published_envelope() {
    let mut doc = PaymentService::new("MYMERCHANT");
    doc.submit = Some(Submit {
        order: Order {
            order_code: "txn_0123".into(),
            installation_id: Some("1234567".into()),
            description: "Deposit & bonus".into(),
            amount: Amount {
                value: "1000".into(),
                currency_code: "EUR".into(),
                exponent: "2".into(),
                debit_credit_indicator: None,
            },
            payment_method_mask: Some(PaymentMethodMask {
                include: vec![Include { code: "ALL".into() }],
            }),
            shopper: Some(Shopper {
                shopper_email_address: Some("a@b.example".into()),
            }),
        },
    });
    let xml = doc.to_xml().unwrap();
    assert!(xml.starts_with(PROLOGUE), "{xml}");
    assert!(xml.contains(r#"<paymentService version="1.4" merchantCode="MYMERCHANT"><submit><order orderCode="txn_0123" installationId="1234567"><description>Deposit &amp; bonus</description><amount value="1000" currencyCode="EUR" exponent="2"/><paymentMethodMask><include code="ALL"/></paymentMethodMask><shopper><shopperEmailAddress>a@b.example</shopperEmailAddress></shopper></order></submit></paymentService>"#), "{xml}");
    assert_eq!(PaymentService::parse(&xml).unwrap(), doc);

    let mut inquiry = PaymentService::new("MYMERCHANT");
    inquiry.inquiry = Some(Inquiry {
        order_inquiry: OrderInquiry {
            order_code: "txn_0123".into(),
        },
    });
    assert!(inquiry
        .to_xml()
        .unwrap()
        .ends_with(r#"<inquiry><orderInquiry orderCode="txn_0123"/></inquiry></paymentService>"#));
}

#[test]
fn replies_with_reference_payment_and_errors() {
    let hpp = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE paymentService PUBLIC "-//WorldPay//DTD WorldPay PaymentService v1//EN" "http://dtd.worldpay.com/paymentService_v1.dtd">
<paymentService version="1.4" merchantCode="YOUR_MERCHANT_CODE">
  <reply>
    <orderStatus orderCode="YOUR ORDER CODE">
      <reference id="REFERENCE">https://payments-test.worldpay.com/app/hpp/integration/wpg/corporate?OrderKey=YOUR_MERCHANT_CODE%5EYOUR+ORDER+CODE&amp;Ticket=00123</reference>
    </orderStatus>
  </reply>
</paymentService>"#;
    let reply = PaymentService::parse(hpp).unwrap().reply.unwrap();
    let reference = reply.order_status.unwrap().reference.unwrap();
    assert_eq!(reference.id, "REFERENCE");
    assert!(
        reference.url.ends_with("&Ticket=00123"),
        "{}",
        reference.url
    );

    let paid = r#"<paymentService version="1.4" merchantCode="M"><reply><orderStatus orderCode="o1"><payment><paymentMethod>VISA-SSL</paymentMethod><amount value="2000" currencyCode="EUR" exponent="2" debitCreditIndicator="credit"/><lastEvent>REFUSED</lastEvent><ISO8583ReturnCode code="51" description="INSUFFICIENT FUNDS"/></payment></orderStatus></reply></paymentService>"#;
    let reply = PaymentService::parse(paid).unwrap().reply.unwrap();
    let InquiryAnswer::Payment(payment) = inquiry_answer(&reply, "o1").unwrap() else {
        panic!("payment expected");
    };
    let code = payment.return_code.as_ref().map(|c| c.code.as_str());
    assert_eq!(
        failure_class(&payment.last_event, code),
        Some(FailureClass::SoftDecline)
    );
    assert!(inquiry_answer(&reply, "o2").is_err(), "another order");

    let unknown = r#"<paymentService version="1.4" merchantCode="M"><reply><error code="5"><![CDATA[Could not find payment for order]]></error></reply></paymentService>"#;
    let reply = PaymentService::parse(unknown).unwrap().reply.unwrap();
    assert_eq!(
        inquiry_answer(&reply, "o1").unwrap(),
        InquiryAnswer::NoPayment("Could not find payment for order".into())
    );
    let security = r#"<paymentService version="1.4" merchantCode="M"><reply><error code="4">Security violation</error></reply></paymentService>"#;
    let reply = PaymentService::parse(security).unwrap().reply.unwrap();
    assert!(matches!(
        inquiry_answer(&reply, "o1").unwrap(),
        InquiryAnswer::Refused(e) if e.code == "4"
    ));
}

#[test]
fn last_events_map_and_classify() {
    for word in [
        "AUTHORISED",
        "CAPTURED",
        "SETTLED",
        "settled_by_merchant",
        "REFUNDED",
    ] {
        assert_eq!(map_last_event(word), PspOutcome::Approved, "{word}");
    }
    for word in ["REFUSED", "CANCELLED", "SHOPPER_CANCELLED"] {
        assert_eq!(map_last_event(word), PspOutcome::Declined, "{word}");
    }
    assert_eq!(map_last_event("ERROR"), PspOutcome::Failed);
    assert_eq!(map_last_event("EXPIRED"), PspOutcome::Failed);
    for word in [
        "SENT_FOR_AUTHORISATION",
        "WAITING_FOR_SHOPPER",
        "QUERY_REQUIRED",
        "SOMETHING_NEW",
    ] {
        assert_eq!(map_last_event(word), PspOutcome::Pending, "{word}");
    }
    assert_eq!(
        failure_class("REFUSED", Some("43")),
        Some(FailureClass::HardDecline)
    );
    assert_eq!(
        failure_class("REFUSED", None),
        Some(FailureClass::SoftDecline)
    );
    assert_eq!(
        failure_class("CANCELLED", None),
        Some(FailureClass::HardDecline)
    );
    assert_eq!(
        failure_class("EXPIRED", None),
        Some(FailureClass::NotProcessed)
    );
    assert_eq!(failure_class("ERROR", None), Some(FailureClass::Technical));
    assert_eq!(failure_class("AUTHORISED", None), None);
}

/// The redirect of the "redirect shopper to payment pages" guide, with its MAC recomputed as
/// `printf 'BIBIT^DEMO^Example_ToditoCash_Order:100:USD:AUTHORISED' |
/// openssl dgst -sha256 -hmac macsecret`.
#[test]
fn redirect_mac_matches_openssl() {
    let query = "orderKey=BIBIT%5EDEMO%5EExample_ToditoCash_Order&paymentStatus=AUTHORISED\
                 &paymentAmount=100&paymentCurrency=USD\
                 &mac2=08e04b1c9f93a7cf631fb20f0bc84961bdd8de876d6bbb8c800337da0267caa5";
    let params = RedirectParams::from_query(query).unwrap();
    assert_eq!(params.order_code(), "Example_ToditoCash_Order");
    assert_eq!(params.merchant_code(), Some("DEMO"));
    assert_eq!(params.amount_and_currency(), ("100", "USD"));
    assert!(verify_redirect("macsecret", &params));
    assert!(!verify_redirect("other", &params));
    let tampered = RedirectParams {
        payment_status: "REFUSED".into(),
        ..params.clone()
    };
    assert!(!verify_redirect("macsecret", &tampered));
    // A cancelled page signs orderKey:orderAmount:orderCurrency.
    let cancelled = "orderKey=BIBIT%5EDEMO%5EExample_ToditoCash_Order&orderAmount=100\
                     &orderCurrency=USD\
                     &mac2=3eb61f8bfc0b6245bacae5298bb004a737af2170e097e4d0c5ed7376e2bcb780";
    assert!(verify_redirect(
        "macsecret",
        &RedirectParams::from_query(cancelled).unwrap()
    ));
    assert_eq!(
        redirect_mac("macsecret", &params.mac_values()),
        params.mac2.to_ascii_lowercase()
    );
    assert!(RedirectParams::from_query("paymentStatus=AUTHORISED").is_none());
}
