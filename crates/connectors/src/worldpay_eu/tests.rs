//! Unit tests of the WORLDPAY_EU flows that need no HTTP: notifications, redirects, the
//! acknowledgement, the order document and the page URL.

use super::*;
use crate::http::OutboundPolicy;
use overture_core::{Credentials, Currency, PspAccountId, TransactionId};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::time::Duration;

const MAC_SECRET: &str = "macsecret";

fn account() -> AccountContext {
    let creds = [
        ("merchant_code", "MYMERCHANT"),
        ("installation_id", "1234567"),
        ("xml_username", "MYMERCHANT"),
        ("xml_password", "pw"),
        ("mac_secret", MAC_SECRET),
    ];
    AccountContext {
        account_id: PspAccountId::generate(),
        base_url: "http://127.0.0.1:9".into(),
        credentials: Credentials(
            creds
                .into_iter()
                .map(|(k, v)| (k.to_owned(), SecretString::from(v)))
                .collect(),
        ),
        callback_url: "http://127.0.0.1:9/cb".into(),
    }
}

fn connector() -> WorldpayEu {
    WorldpayEu::new(PspHttp::new(
        Duration::from_secs(1),
        OutboundPolicy::default(),
    ))
}

fn post(body: &str, query: &str) -> CallbackRequest {
    CallbackRequest {
        method: "POST".into(),
        query: query.into(),
        headers: vec![("content-type".into(), "text/xml".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn order() -> OrderId {
    OrderId::for_attempt(&TransactionId::generate(), 1)
}

#[test]
fn notifications_are_unsigned_hints_answered_ok() {
    let id = order();
    let xml = wire::tests::REFUSED_SAMPLE
        .replace("MERCHANT_CODE", "MYMERCHANT")
        .replace("ORDER_CODE", id.as_str());
    let request = post(&xml, "");
    match connector().parse_callback(&account(), &request) {
        Ok(CallbackOutcome::Unverified { order_id, why }) => {
            assert_eq!(order_id, id);
            assert_eq!(why, "unsigned order notification");
        }
        other => panic!("{other:?}"),
    }
    let ack = connector().callback_ack(&request);
    assert_eq!(ack.body, "[OK]");
    let foreign = wire::tests::REFUSED_SAMPLE.replace("ORDER_CODE", id.as_str());
    for bad in [foreign.as_str(), "<nope/>", "<paymentService"] {
        assert!(matches!(
            connector().parse_callback(&account(), &post(bad, "")),
            Err(ConnectorError::BadCallback(_))
        ));
    }
}

fn redirect_query(id: &OrderId, status: &str, amount: &str, secret: &str) -> String {
    let key = format!("^MYMERCHANT^{id}");
    let mac = wire::redirect_mac(secret, &[&key, amount, "EUR", status]);
    format!(
        "orderKey={}&paymentStatus={status}&paymentAmount={amount}&paymentCurrency=EUR&mac2={mac}",
        urlencoding::encode(&key)
    )
}

#[test]
fn redirects_are_verified_by_their_mac() {
    let id = order();
    let get = |query: String| CallbackRequest {
        method: "GET".into(),
        query,
        headers: Vec::new(),
        body: Vec::new(),
    };
    let good = get(redirect_query(&id, "AUTHORISED", "2050", MAC_SECRET));
    match connector().parse_callback(&account(), &good) {
        Ok(CallbackOutcome::Verified {
            order_id,
            update,
            claims,
        }) => {
            assert_eq!(order_id, id);
            assert_eq!(update.outcome, PspOutcome::Approved);
            assert_eq!(claims.amount.as_deref(), Some("20.50"));
            assert_eq!(claims.currency.as_deref(), Some("EUR"));
        }
        other => panic!("{other:?}"),
    }
    let forged = get(redirect_query(&id, "AUTHORISED", "2050", "not-the-secret"));
    assert!(matches!(
        connector().parse_callback(&account(), &forged),
        Ok(CallbackOutcome::Unverified {
            why: "bad redirect MAC",
            ..
        })
    ));
    let unsigned = format!("orderKey=%5EMYMERCHANT%5E{id}&paymentStatus=AUTHORISED");
    assert!(matches!(
        connector().parse_callback(&account(), &get(unsigned)),
        Ok(CallbackOutcome::Unverified {
            why: "redirect without MAC",
            ..
        })
    ));
    assert!(matches!(
        connector().parse_callback(&account(), &get(String::new())),
        Err(ConnectorError::BadCallback(_))
    ));
}

#[test]
fn the_order_carries_no_card_data_and_the_page_gets_result_urls() {
    let request = PaymentRequest {
        order_id: order(),
        txn_type: TxnType::Payin,
        amount: Money::parse_major("20.00", Currency::from_code("EUR").unwrap()).unwrap(),
        user_id: "u1".into(),
        email: "player@example.com".into(),
        country: Some("DE".into()),
        return_url: Some("https://mp.example/back?x=1".into()),
        merchant_reference: None,
        extras: BTreeMap::new(),
    };
    let xml = hpp_order(&account(), &request).unwrap().to_xml().unwrap();
    assert!(
        xml.contains(r#"<amount value="2000" currencyCode="EUR" exponent="2"/>"#),
        "{xml}"
    );
    assert!(xml.contains(r#"installationId="1234567""#));
    for card_field in ["cardNumber", "cvc", "expiryDate", "CARD-SSL"] {
        assert!(!xml.contains(card_field), "{card_field} in {xml}");
    }
    let url = page_url(
        "https://hpp.example/p?OrderKey=M%5Eo&Ticket=1",
        request.return_url.as_deref(),
    );
    assert!(url.starts_with("https://hpp.example/p?OrderKey=M%5Eo&Ticket=1&successURL=https%3A%2F%2Fmp.example%2Fback%3Fx%3D1&failureURL="), "{url}");
    for name in ["pendingURL=", "errorURL=", "cancelURL="] {
        assert!(url.contains(name), "{url}");
    }
    assert_eq!(
        page_url("https://hpp.example/p", None),
        "https://hpp.example/p"
    );
}

#[test]
fn refused_creates_prove_nothing_was_created_except_internal_errors() {
    let refused = refused_create(&wire::ErrorElement::new("7", "Invalid payment details")).unwrap();
    assert_eq!(refused.redirect_url, None);
    assert_eq!(refused.update.outcome, PspOutcome::Declined);
    assert_eq!(refused.update.failure_class(), FailureClass::NotProcessed);
    for (code, text) in [("1", "Internal error"), ("5", "Duplicate Order")] {
        assert!(matches!(
            refused_create(&wire::ErrorElement::new(code, text)),
            Err(ConnectorError::Protocol(_))
        ));
    }
}

#[test]
fn credentials_need_every_name_and_a_numeric_installation() {
    let c = connector();
    let mut creds = account().credentials;
    assert_eq!(c.validate_credentials(&creds), Ok(()));
    creds
        .0
        .insert("installation_id".into(), SecretString::from("inst-1"));
    assert_eq!(
        c.validate_credentials(&creds).unwrap_err().field,
        "installation_id"
    );
    creds.0.remove("xml_password");
    assert_eq!(
        c.validate_credentials(&creds).unwrap_err().field,
        "xml_password"
    );
}
