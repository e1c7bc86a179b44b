//! Unit tests of the TRUST flows that need no HTTP: the link, the decision over
//! `TRANSACTIONQUERY` records, answers, and notifications.

use super::*;
use crate::http::OutboundPolicy;
use overture_core::ids::PspAccountId;
use overture_core::{Credentials, TransactionId};
use secrecy::SecretString;
use std::collections::BTreeMap;

const SITE: &str = "test_site12345";
const PASSWORD: &str = "site-security-pw";

fn account() -> AccountContext {
    let creds = [
        ("username", "webservices@example.com"),
        ("password", "Password1^"),
        ("sitereference", SITE),
        ("site_security_password", PASSWORD),
    ];
    AccountContext {
        account_id: PspAccountId::generate(),
        base_url: "https://webservices.securetrading.net".into(),
        credentials: Credentials(
            creds
                .iter()
                .map(|(k, v)| ((*k).to_owned(), SecretString::from(*v)))
                .collect(),
        ),
        callback_url: "https://overture.example/v1/api/psp-callbacks/trust/psp_1".into(),
    }
}

fn request(amount: &str, return_url: Option<&str>) -> PaymentRequest {
    PaymentRequest {
        order_id: OrderId::for_attempt(&TransactionId::generate(), 1),
        txn_type: TxnType::Payin,
        amount: Money::parse_major(amount, Currency::from_code("GBP").unwrap()).unwrap(),
        user_id: "u1".into(),
        email: "payer@example.com".into(),
        country: Some("GB".into()),
        return_url: return_url.map(str::to_owned),
        merchant_reference: None,
        extras: BTreeMap::from([("firstName".to_owned(), "Jay".to_owned())]),
    }
}

fn order(req: &PaymentRequest) -> OrderRef {
    OrderRef {
        order_id: req.order_id.clone(),
        txn_type: req.txn_type,
        amount: req.amount,
        psp_transaction_id: None,
        stage: None,
        extras: req.extras.clone(),
    }
}

fn auth(req: &PaymentRequest, reference: &str, errorcode: &str, settle: &str, at: &str) -> Record {
    Record {
        requesttypedescription: "AUTH".into(),
        transactionreference: reference.into(),
        orderreference: req.order_id.to_string(),
        sitereference: SITE.into(),
        baseamount: req.amount.minor().to_string(),
        currencyiso3a: "GBP".into(),
        errorcode: errorcode.into(),
        errormessage: Some(if errorcode == "0" { "Ok" } else { "Decline" }.into()),
        settlestatus: settle.into(),
        transactionstartedtimestamp: at.into(),
        paymenttypedescription: Some("VISA".into()),
    }
}

fn now() -> OffsetDateTime {
    pages::parse_timestamp("2026-03-01 10:00:00").unwrap()
}

fn stage(ends: bool) -> Stage {
    Stage {
        sitesecuritytimestamp: "2026-03-01 09:30:00".into(),
        decline_ends_page: ends,
    }
}

#[test]
fn the_link_is_signed_and_carries_no_card_field() {
    let req = request("10.50", Some("https://merchant.example/back"));
    let (fields, stage) = Trust::page_fields(&account(), &req, now()).unwrap();
    let get = |name: &str| -> Vec<&str> {
        fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(get("mainamount"), ["10.50"]);
    assert_eq!(get("orderreference"), [req.order_id.as_str()]);
    assert_eq!(get("ruleidentifier"), ["STR-6", "STR-7", "STR-10"]);
    assert_eq!(get("allurlnotification"), [account().callback_url.as_str()]);
    assert_eq!(get("sitesecuritytimestamp"), ["2026-03-01 10:00:00"]);
    let (unsigned, hash) = fields.split_at(fields.len() - 1);
    assert_eq!(hash[0].0, "sitesecurity");
    assert_eq!(hash[0].1, pages::site_security(unsigned, PASSWORD));
    assert!(stage.decline_ends_page);
    for card in ["pan", "expirydate", "securitycode"] {
        assert!(get(card).is_empty());
    }
    let url = pages::page_url(&pages::pages_base(&account().base_url), &fields).unwrap();
    assert!(url.starts_with("https://payments.securetrading.net/process/payments/choice?"));
    // Without a return URL no redirect rule is sent, and a decline leaves the page open.
    let (fields, stage) = Trust::page_fields(&account(), &request("10.50", None), now()).unwrap();
    assert!(!fields.iter().any(|(n, _)| n == "successfulurlredirect"));
    assert!(!stage.decline_ends_page);
}

#[test]
fn an_approval_wins_over_earlier_declines() {
    let req = request("10.50", None);
    let records = [
        auth(&req, "56-9-1", "70000", "3", "2026-03-01 09:40:00"),
        auth(&req, "56-9-2", "0", "0", "2026-03-01 09:41:00"),
    ];
    let update = decide(&records, &order(&req), Some(&stage(false)), now()).unwrap();
    assert_eq!(update.outcome, PspOutcome::Approved);
    assert_eq!(update.psp_transaction_id.as_deref(), Some("56-9-2"));
    assert_eq!(update.raw_status, "errorcode=0 settlestatus=0");
}

#[test]
fn a_decline_is_final_only_when_the_page_cannot_be_retried() {
    let req = request("10.51", None);
    let declined = [auth(&req, "56-9-1", "70000", "3", "2026-03-01 09:40:00")];
    let open = decide(&declined, &order(&req), Some(&stage(false)), now()).unwrap();
    assert_eq!(open.outcome, PspOutcome::Pending);
    let ended = decide(&declined, &order(&req), Some(&stage(true)), now()).unwrap();
    assert_eq!(
        (ended.outcome, ended.failure_class()),
        (PspOutcome::Declined, FailureClass::SoftDecline)
    );
    assert_eq!(ended.message.as_deref(), Some("Decline"));
    let later = now() + Duration::from_secs(4 * 3600);
    let expired = decide(&declined, &order(&req), Some(&stage(false)), later).unwrap();
    assert_eq!(expired.outcome, PspOutcome::Declined);
}

#[test]
fn no_records_wait_for_the_customer_until_the_page_expires() {
    let req = request("10.00", None);
    let waiting = decide(&[], &order(&req), Some(&stage(true)), now()).unwrap();
    assert_eq!(
        (waiting.outcome, waiting.raw_status.as_str()),
        (PspOutcome::Pending, AWAITING_PAYMENT)
    );
    let later = now() + Duration::from_secs(4 * 3600);
    let expired = decide(&[], &order(&req), Some(&stage(true)), later).unwrap();
    assert_eq!(
        (expired.outcome, expired.failure_class()),
        (PspOutcome::Failed, FailureClass::NotProcessed)
    );
    let never = decide(&[], &order(&req), None, now()).unwrap();
    assert_eq!(never.outcome, PspOutcome::NotFound);
}

#[test]
fn suspended_stays_pending_and_unknown_results_fail_as_technical() {
    let req = request("10.53", None);
    let held = [auth(&req, "56-9-1", "0", "2", "2026-03-01 09:40:00")];
    let update = decide(&held, &order(&req), Some(&stage(true)), now()).unwrap();
    assert_eq!(update.outcome, PspOutcome::Pending);
    let error = [auth(&req, "56-9-2", "60010", "3", "2026-03-01 09:40:00")];
    let update = decide(&error, &order(&req), Some(&stage(true)), now()).unwrap();
    assert_eq!(
        (update.outcome, update.failure_class()),
        (PspOutcome::Failed, FailureClass::Technical)
    );
}

#[test]
fn records_of_other_kinds_or_other_amounts_never_approve() {
    let req = request("10.00", None);
    let mut threed = auth(&req, "56-9-1", "0", "0", "2026-03-01 09:40:00");
    threed.requesttypedescription = "THREEDQUERY".into();
    let update = decide(&[threed], &order(&req), Some(&stage(true)), now()).unwrap();
    assert_eq!(update.outcome, PspOutcome::Pending);
    let mut cheaper = auth(&req, "56-9-2", "0", "0", "2026-03-01 09:40:00");
    cheaper.baseamount = "100".into();
    let err = decide(&[cheaper], &order(&req), Some(&stage(true)), now()).unwrap_err();
    assert!(matches!(err, ConnectorError::Protocol(_)), "{err:?}");
}

#[test]
fn answers_must_echo_the_request_reference_and_succeed() {
    let ok = r#"{"requestreference":"OVabc","version":"1.00","response":[{"errorcode":"0",
        "errormessage":"Ok","requesttypedescription":"TRANSACTIONQUERY","found":"1",
        "records":[{"requesttypedescription":"AUTH","transactionreference":"56-9-1",
        "orderreference":"txn_1","baseamount":"1050","currencyiso3a":"GBP","errorcode":"0",
        "settlestatus":"100","sitereference":"test_site12345"}]}],"secrand":"x"}"#;
    let records = records_of(ok, "OVabc").unwrap();
    assert_eq!(records[0].outcome().0, PspOutcome::Approved);
    assert!(matches!(
        records_of(ok, "OVother"),
        Err(ConnectorError::Protocol(_))
    ));
    let refused = r#"{"requestreference":"OVabc","version":"1.00","response":[{"errorcode":"60019",
        "errormessage":"No searchable filter specified","requesttypedescription":"TRANSACTIONQUERY"}]}"#;
    assert!(
        matches!(records_of(refused, "OVabc"), Err(ConnectorError::Protocol(m)) if m.contains("60019"))
    );
    assert!(records_of("<html>", "OVabc").is_err());
}

fn connector() -> Trust {
    Trust::new(PspHttp::new(
        Duration::from_secs(1),
        OutboundPolicy::default(),
    ))
}

fn notification(fields: &[(&str, &str)], password: &str) -> CallbackRequest {
    let mut pairs: Fields = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let hash = pages::response_site_security(&pairs, password);
    pairs.push(("notificationreference".into(), "NR-7".into()));
    pairs.push(("responsesitesecurity".into(), hash));
    CallbackRequest {
        method: "POST".into(),
        query: String::new(),
        headers: vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded; charset=UTF-8".into(),
        )],
        body: serde_urlencoded::to_string(&pairs).unwrap().into_bytes(),
    }
}

#[test]
fn signed_notifications_are_verified_and_forged_ones_are_hints() {
    let txn = OrderId::for_attempt(&TransactionId::generate(), 2);
    let fields = [
        ("baseamount", "1050"),
        ("currencyiso3a", "GBP"),
        ("errorcode", "0"),
        ("orderreference", txn.as_str()),
        ("requesttypedescription", "AUTH"),
        ("settlestatus", "0"),
        ("sitereference", SITE),
        ("transactionreference", "56-9-7"),
    ];
    match connector().parse_callback(&account(), &notification(&fields, PASSWORD)) {
        Ok(CallbackOutcome::Verified {
            order_id,
            update,
            claims,
        }) => {
            assert_eq!(order_id, txn);
            assert_eq!(update.outcome, PspOutcome::Approved);
            assert_eq!(claims.amount.as_deref(), Some("10.50"));
            assert_eq!(claims.currency.as_deref(), Some("GBP"));
            assert_eq!(claims.psp_transaction_id, None);
        }
        other => panic!("{other:?}"),
    }
    match connector().parse_callback(&account(), &notification(&fields, "wrong")) {
        Ok(CallbackOutcome::Unverified { order_id, why }) => {
            assert_eq!((order_id, why), (txn.clone(), "bad responsesitesecurity"));
        }
        other => panic!("{other:?}"),
    }
    let mut unsigned = notification(&fields, PASSWORD);
    let text = String::from_utf8(unsigned.body.clone()).unwrap();
    let cut = text.find("&responsesitesecurity=").unwrap();
    unsigned.body = text.as_bytes()[..cut].to_vec();
    assert!(matches!(
        connector().parse_callback(&account(), &unsigned),
        Ok(CallbackOutcome::Unverified {
            why: "no responsesitesecurity",
            ..
        })
    ));
}

#[test]
fn notifications_of_unknown_orders_or_other_sites_are_refused() {
    let bad_order = [("orderreference", "myorder12345"), ("errorcode", "0")];
    assert!(matches!(
        connector().parse_callback(&account(), &notification(&bad_order, PASSWORD)),
        Err(ConnectorError::BadCallback(_))
    ));
    let txn = OrderId::for_attempt(&TransactionId::generate(), 1);
    let other_site = [
        ("orderreference", txn.as_str()),
        ("sitereference", "test_other"),
    ];
    assert!(matches!(
        connector().parse_callback(&account(), &notification(&other_site, PASSWORD)),
        Err(ConnectorError::BadCallback(_))
    ));
    let not_a_form = CallbackRequest {
        method: "POST".into(),
        query: String::new(),
        headers: vec![],
        body: b"{\"json\":true}".to_vec(),
    };
    assert!(connector().parse_callback(&account(), &not_a_form).is_err());
}
