//! Wire tests from Genesis' published material: the .NET SDK's sample WPF notification and its
//! two signature examples, its sample `wpf_payment` create and reconcile answers, the genesis_php
//! WPF request fixture and the echo the SDKs render.

use super::*;

/// Genesis .NET SDK `describe_notification`: the 3-D (API) example, SHA-1, password "bogus".
const API_UNIQUE_ID: &str = "fc6c3c8c0219730c7a099eaa540f70dc";
const API_SIGNATURE: &str = "08d01ae1ebdc22b6a1a764257819bb26e9e94e8d";
/// The WPF example, SHA-512, published with upper-case `C` digits.
const WPF_UNIQUE_ID: &str = "26aa150ee68b1b2d6758a0e6c44fce4c";
const WPF_PASSWORD: &str = "50fd87e65eb415f42fb5af4c9cf497662e00b785";
const WPF_SIGNATURE: &str = "c5219b3d385e74496b2b48a5497b347e102849f10eacd25b062f823bbd11249ce4e233f031C0ecebc9b691e69d23eb0c1cd65a79621152467b56aC2bf103b512";

/// Genesis .NET SDK `it_should_parse_wpf_notifications` (form body).
const WPF_NOTIFICATION: &str = "notification_type=wpf&wpf_unique_id=26aa150ee68b1b2d6758a0e6c44fce4c&wpf_status=approved&payment_transaction_transaction_type=sale&wpf_transaction_id=mtid201104081447161135536962&payment_transaction_unique_id=bad08183a9ec545daf0f24c48361aa10&payment_transaction_terminal_token=e9fd7a957845450fb7ab9dccb498b6e1f6e1e3aa&signature=c5219b3d385e74496b2b48a5497b347e102849f10eacd25b062f823b";

/// Genesis .NET SDK `it_should_parse_wpf_reconcile_response_of_successful_payment`.
pub(crate) const RECONCILE_SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><wpf_payment><status>approved</status><unique_id>26aa150ee68b1b2d6758a0e6c44fce4c</unique_id><transaction_id>mtid201104081447161135536962</transaction_id><technical_message>TESTMODE: No real money will be transferred!</technical_message><message>TESTMODE: No real money will be transferred!</message><mode>test</mode><timestamp>2011-04-08T14:46:27Z</timestamp><amount>5000</amount><currency>USD</currency><payment_transaction><status>approved</status><authorization_code>345678</authorization_code><response_code>00</response_code><transaction_type>sale</transaction_type><unique_id>bad08183a9ec545daf0f24c48361aa10</unique_id><transaction_id>mtid201104081447161135536962</transaction_id><terminal_token>e9fd7a957845450fb7ab9dccb498b6e1f6e1e3aa</terminal_token><mode>test</mode><timestamp>2011-04-08T14:46:40Z</timestamp><descriptor>descriptor one</descriptor><amount>5000</amount><currency>USD</currency><customer_email>john.doe@example.com</customer_email><customer_phone>+11234567890</customer_phone><technical_message>TESTMODE: No real money will be transferred!</technical_message><message>TESTMODE: No real money will be transferred!</message><billing_address><first_name>John</first_name><last_name>Doe</last_name><address1>32, Doestreet</address1><address2></address2><zip_code>12345</zip_code><city>New York</city><state>NY</state><country>US</country></billing_address></payment_transaction></wpf_payment>"#;

/// Genesis .NET SDK `CreateWpfCreateSuccessResponse` and `CreateWpfCreateErrorResponse`.
const CREATE_SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><wpf_payment><status>approved</status><unique_id>eabcb7a41044e764746b0c7e32c1e9d1</unique_id><transaction_id>wev238f328nc</transaction_id><technical_message>TESTMODE: No real money will be transferred!</technical_message><message>TESTMODE: No real money will be transferred!</message><mode>test</mode><timestamp>2011-04-19T15:00:11Z</timestamp><amount>5000</amount><currency>USD</currency><redirect_url>https://gateway/payment/step1/eabcb7a41044e764746b0c7e32c1e9d1</redirect_url></wpf_payment>"#;
const CREATE_ERROR_SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><wpf_payment><status>error</status><code>100</code><technical_message>Unknown system error. Please contact support.</technical_message><message>Transaction failed, please contact support!</message></wpf_payment>"#;

#[test]
fn published_signature_examples_verify() {
    assert!(verify_signature(API_SIGNATURE, API_UNIQUE_ID, "bogus"));
    assert!(!verify_signature(API_SIGNATURE, API_UNIQUE_ID, "boguS"));
    assert!(verify_signature(WPF_SIGNATURE, WPF_UNIQUE_ID, WPF_PASSWORD));
    let wrong_case_password = "50Fd87e65eb415f42fb5af4c9cf497662e00b785";
    assert!(!verify_signature(
        WPF_SIGNATURE,
        WPF_UNIQUE_ID,
        wrong_case_password
    ));
    assert_eq!(
        signature_for(128, WPF_UNIQUE_ID, WPF_PASSWORD).unwrap(),
        WPF_SIGNATURE.to_ascii_lowercase()
    );
    // SHA-256 by length; other lengths never verify.
    let sha256 = signature_for(64, "u1", "pw").unwrap();
    assert_eq!(sha256.len(), 64);
    assert!(verify_signature(&sha256, "u1", "pw"));
    assert!(!verify_signature(&sha256[..63], "u1", "pw"));
    assert!(!verify_signature("", "u1", "pw"));
}

#[test]
fn published_notification_parses() {
    let n = WpfNotification::from_form(WPF_NOTIFICATION.as_bytes()).unwrap();
    assert_eq!(n.notification_type, NOTIFICATION_TYPE_WPF);
    assert_eq!(n.wpf_unique_id, WPF_UNIQUE_ID);
    assert_eq!(n.wpf_transaction_id, "mtid201104081447161135536962");
    assert_eq!(map_status(&n.wpf_status), PspOutcome::Approved);
    assert_eq!(
        n.payment_transaction_unique_id,
        "bad08183a9ec545daf0f24c48361aa10"
    );
    // The sample's signature is truncated to 56 digits in the SDK: no hash has that length.
    assert!(!verify_signature(
        &n.signature,
        &n.wpf_unique_id,
        WPF_PASSWORD
    ));
}

#[test]
fn published_answers_parse() {
    let created = WpfPaymentOut::parse(CREATE_SAMPLE).unwrap();
    assert_eq!(
        created.unique_id.as_deref(),
        Some("eabcb7a41044e764746b0c7e32c1e9d1")
    );
    assert_eq!(created.transaction_id.as_deref(), Some("wev238f328nc"));
    assert_eq!(
        created.redirect_url.as_deref(),
        Some("https://gateway/payment/step1/eabcb7a41044e764746b0c7e32c1e9d1")
    );
    let refused = WpfPaymentOut::parse(CREATE_ERROR_SAMPLE).unwrap();
    assert_eq!(
        (refused.status.as_str(), refused.code.as_deref()),
        ("error", Some("100"))
    );
    assert!(!refusal_creates_nothing(refused.code.as_deref()));
    assert!(refusal_creates_nothing(Some("340")));

    let reconciled = WpfPaymentOut::parse(RECONCILE_SAMPLE).unwrap();
    assert_eq!(map_status(&reconciled.status), PspOutcome::Approved);
    assert_eq!(reconciled.amount.as_deref(), Some("5000"));
    assert_eq!(reconciled.payment_transaction.len(), 1);
    let tx = &reconciled.payment_transaction[0];
    assert_eq!(
        (tx.transaction_type.as_str(), tx.status.as_str()),
        ("sale", "approved")
    );
    assert_eq!(tx.unique_id, "bad08183a9ec545daf0f24c48361aa10");
}

#[test]
fn requests_and_echo_serialise_like_the_sdk_fixtures() {
    let request = WpfPaymentIn {
        transaction_id: "wev238f328nc".into(),
        usage: "Order ID 500, Shoes".into(),
        description: "You are about to buy 3 shoes at www.shoes.com!".into(),
        notification_url: "https://example.com/notification".into(),
        return_success_url: "https://example.com/return_success".into(),
        return_failure_url: "https://example.com/return_failure".into(),
        return_cancel_url: "https://example.com/return_cancel".into(),
        return_pending_url: None,
        amount: "5000".into(),
        currency: "USD".into(),
        customer_email: "john.doe@example.com".into(),
        customer_phone: Some("+11234567890".into()),
        billing_address: Some(BillingAddress {
            first_name: Some("John".into()),
            last_name: Some("Doe".into()),
            country: Some("US".into()),
        }),
        transaction_types: TransactionTypes::sale3d(),
    };
    let xml = request.to_xml().unwrap();
    // The element order and names of genesis_php's spec/Fixtures/Xml/WpfRequest.xml.
    assert!(xml.contains("<wpf_payment><transaction_id>wev238f328nc</transaction_id><usage>Order ID 500, Shoes</usage><description>You are about to buy 3 shoes at www.shoes.com!</description><notification_url>https://example.com/notification</notification_url><return_success_url>https://example.com/return_success</return_success_url><return_failure_url>https://example.com/return_failure</return_failure_url><return_cancel_url>https://example.com/return_cancel</return_cancel_url><amount>5000</amount><currency>USD</currency><customer_email>john.doe@example.com</customer_email><customer_phone>+11234567890</customer_phone><billing_address><first_name>John</first_name><last_name>Doe</last_name><country>US</country></billing_address><transaction_types><transaction_type name=\"sale3d\"/></transaction_types></wpf_payment>"), "{xml}");
    let reconcile = WpfReconcileIn {
        unique_id: WPF_UNIQUE_ID.into(),
    };
    assert!(reconcile.to_xml().unwrap().ends_with(
        "<wpf_reconcile><unique_id>26aa150ee68b1b2d6758a0e6c44fce4c</unique_id></wpf_reconcile>"
    ));
    let echo = NotificationEcho {
        wpf_unique_id: Some(WPF_UNIQUE_ID.into()),
        unique_id: None,
    };
    let xml = echo.to_xml().unwrap();
    assert!(xml.ends_with("<notification_echo><wpf_unique_id>26aa150ee68b1b2d6758a0e6c44fce4c</wpf_unique_id></notification_echo>"), "{xml}");
    assert_eq!(NotificationEcho::parse(&xml).unwrap(), echo);
}

#[test]
fn states_map_and_classify() {
    assert_eq!(map_status("approved"), PspOutcome::Approved);
    assert_eq!(map_status("refunded"), PspOutcome::Approved);
    assert_eq!(map_status("declined"), PspOutcome::Declined);
    assert_eq!(map_status("voided"), PspOutcome::Declined);
    for failed in ["error", "unsuccessful", "timeout"] {
        assert_eq!(map_status(failed), PspOutcome::Failed, "{failed}");
    }
    for pending in [
        "new",
        "user",
        "submitted",
        "pending_async",
        "in_progress",
        "what",
    ] {
        assert_eq!(map_status(pending), PspOutcome::Pending, "{pending}");
    }
    assert_eq!(
        failure_class("declined", Some("510")),
        Some(FailureClass::HardDecline)
    );
    assert_eq!(
        failure_class("declined", Some("614")),
        Some(FailureClass::HardDecline)
    );
    assert_eq!(
        failure_class("declined", Some("500")),
        Some(FailureClass::SoftDecline)
    );
    assert_eq!(
        failure_class("declined", None),
        Some(FailureClass::SoftDecline)
    );
    assert_eq!(
        failure_class("timeout", None),
        Some(FailureClass::NotProcessed)
    );
    assert_eq!(failure_class("error", None), Some(FailureClass::Technical));
    assert_eq!(failure_class("approved", None), None);
}
