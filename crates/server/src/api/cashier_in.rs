//! The Cashier API request body (README), parsed strictly into a [`NewPayment`]. `baseamount` is
//! read from the raw JSON text so it never passes through a float; every problem is reported
//! with the field it concerns, all at once.

use crate::api::error::{ApiError, FieldProblem};
use crate::input::{forbidden_char, forbidden_message};
use crate::service::create::NewPayment;
use overture_core::{Currency, Money, MoneyError, TxnType};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// Cashier fields Overture reads itself; any other field is a PSP-specific extra.
const COMMON: &[&str] = &[
    "pspType",
    "type",
    "baseamount",
    "currency",
    "userId",
    "email",
    "country",
    "brandId",
    "merchantReference",
    "returnUrl",
    "isTestMode",
    "metadata",
];
/// `metadata`: at most this many entries, keys of at most 64 and values of at most 256 bytes.
const MAX_METADATA: usize = 20;
/// At most this many PSP-specific fields, each at most [`MAX_EXTRA_LEN`] bytes.
const MAX_EXTRAS: usize = 32;
const MAX_EXTRA_LEN: usize = 1024;

fn text(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get()).ok()
}

/// The body's fields as read by [`crate::api::strict_json`] (field name → raw JSON).
pub type Fields = BTreeMap<String, Box<RawValue>>;

/// Parses and validates a body already known to be a JSON object (field name → raw JSON).
/// `known_psp` says whether a `pspType` has a connector.
pub fn parse(fields: &Fields, known_psp: impl Fn(&str) -> bool) -> Result<NewPayment, ApiError> {
    let mut problems = Vec::new();
    let required = |name: &str, problems: &mut Vec<FieldProblem>| -> Option<&RawValue> {
        match fields.get(name).map(|v| &**v).filter(|v| v.get() != "null") {
            Some(v) => Some(v),
            None => {
                problems.push(FieldProblem::new(
                    name,
                    format!("Missing required field: {name}"),
                ));
                None
            }
        }
    };
    // Beyond Mozarto, a routing rule may choose the PSP: `pspType` is then optional (checked
    // by routing when no rule matches).
    let psp_raw = fields
        .get("pspType")
        .map(|v| &**v)
        .filter(|v| v.get() != "null");
    let type_raw = required("type", &mut problems);
    let amount_raw = required("baseamount", &mut problems);
    let currency_raw = required("currency", &mut problems);
    let user_raw = required("userId", &mut problems);
    let email_raw = required("email", &mut problems);

    let psp_type = psp_raw.and_then(|raw| match text(raw) {
        Some(p) if known_psp(&p) => Some(p),
        Some(p) => {
            problems.push(FieldProblem::new(
                "pspType",
                format!("unknown pspType {p:?}"),
            ));
            None
        }
        None => {
            problems.push(FieldProblem::new("pspType", "must be a string"));
            None
        }
    });
    let txn_type = type_raw.and_then(|raw| match text(raw).as_deref().and_then(TxnType::parse) {
        Some(t) => Some(t),
        None => {
            problems.push(FieldProblem::new("type", "must be \"PAYIN\" or \"PAYOUT\""));
            None
        }
    });
    let currency =
        currency_raw.and_then(
            |raw| match text(raw).as_deref().and_then(Currency::from_code) {
                Some(c) => Some(c),
                None => {
                    problems.push(FieldProblem::new(
                        "currency",
                        "unknown or unsupported ISO 4217 currency code",
                    ));
                    None
                }
            },
        );
    let amount = match (amount_raw, currency) {
        (Some(raw), Some(currency)) => match parse_amount(raw, currency) {
            Ok(m) => Some(m),
            Err(message) => {
                problems.push(FieldProblem::new("baseamount", message));
                None
            }
        },
        _ => None,
    };
    let user_id = user_raw.and_then(|raw| {
        let id = text(raw).or_else(|| {
            serde_json::from_str::<i64>(raw.get())
                .ok()
                .map(|n| n.to_string())
        });
        match id.filter(|s| !s.trim().is_empty() && s.len() <= 128) {
            Some(id) => plain("userId", &id, &mut problems).then_some(id),
            None => {
                problems.push(FieldProblem::new(
                    "userId",
                    "must be a non-empty string or integer (≤ 128 characters)",
                ));
                None
            }
        }
    });
    let email = email_raw.and_then(|raw| match text(raw) {
        Some(e) if !plain("email", &e, &mut problems) => None,
        Some(e) if valid_email(&e) => Some(e),
        _ => {
            problems.push(FieldProblem::new("email", "must be an email address"));
            None
        }
    });
    let country = optional_text(fields, "country", &mut problems, |c| {
        (c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
            .then_some(())
            .ok_or("must be an ISO 3166-1 alpha-2 code such as \"DE\"")
    });
    let brand_id = optional_text(fields, "brandId", &mut problems, |b| {
        (b.len() <= 128).then_some(()).ok_or("too long")
    });
    let merchant_reference = optional_text(fields, "merchantReference", &mut problems, |r| {
        (r.len() <= 256).then_some(()).ok_or("too long")
    });
    let return_url = optional_text(
        fields,
        "returnUrl",
        &mut problems,
        |u| match url::Url::parse(u) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
            _ => Err("must be an absolute http(s) URL"),
        },
    );
    let extras = extras(fields, &mut problems);
    let metadata = metadata(fields, &mut problems);
    refuse_card_data(fields, &mut problems);

    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    match (
        psp_raw.is_none() || psp_type.is_some(),
        txn_type,
        amount,
        user_id,
        email,
    ) {
        (true, Some(txn_type), Some(amount), Some(user_id), Some(email)) => Ok(NewPayment {
            psp_type,
            metadata,
            txn_type,
            amount,
            user_id,
            email,
            country,
            brand_id,
            merchant_reference,
            return_url,
            extras,
        }),
        // Every None above pushed a problem, so this arm is never reached with problems empty.
        _ => Err(ApiError::Validation(vec![FieldProblem::new(
            "body",
            "invalid request",
        )])),
    }
}

/// `metadata`: an object of string values (routing rules match on it), never sent to a PSP.
fn metadata(fields: &Fields, problems: &mut Vec<FieldProblem>) -> BTreeMap<String, String> {
    let Some(raw) = fields.get("metadata").filter(|v| v.get() != "null") else {
        return BTreeMap::new();
    };
    let Ok(map) = serde_json::from_str::<BTreeMap<String, String>>(raw.get()) else {
        problems.push(FieldProblem::new(
            "metadata",
            "must be an object of string values",
        ));
        return BTreeMap::new();
    };
    if map.len() > MAX_METADATA {
        problems.push(FieldProblem::new(
            "metadata",
            format!("at most {MAX_METADATA} entries"),
        ));
        return BTreeMap::new();
    }
    let mut ok = true;
    for (k, v) in &map {
        let field = format!("metadata.{k}");
        if k.is_empty() || k.len() > 64 || v.len() > 256 {
            problems.push(FieldProblem::new(
                &field,
                "keys are 1–64 bytes, values at most 256",
            ));
            ok = false;
        } else if !plain(&field, k, problems) || !plain(&field, v, problems) {
            ok = false;
        }
    }
    if ok {
        map
    } else {
        BTreeMap::new()
    }
}

/// Names of fields that carry card data; any such field is refused.
const CARD_FIELDS: &[&str] = &[
    "card",
    "cardnumber",
    "card_number",
    "pan",
    "cvv",
    "cvc",
    "cvv2",
    "securitycode",
    "expirydate",
    "expiry",
    "cardexpiry",
    "cardholdername",
];

/// Refuses card data: a field named like one anywhere in the body, or a PSP field or
/// `metadata` value that is a plausible card number ([`is_card_number`]). Card PSPs are reached
/// through their hosted pages only, so a card number never enters Overture: the body is
/// refused before anything is stored or logged, and the error names only the field.
fn refuse_card_data(fields: &Fields, problems: &mut Vec<FieldProblem>) {
    const MESSAGE: &str = "card data must never be sent to Overture: card payments go through the PSP's hosted payment page (data.url)";
    for (name, raw) in fields {
        let lower = name.to_ascii_lowercase();
        let value = serde_json::from_str::<serde_json::Value>(raw.get()).ok();
        let scanned = !COMMON.contains(&name.as_str()) || name == "metadata";
        let looks_like_card = scanned && value.as_ref().is_some_and(holds_card_number);
        if CARD_FIELDS.contains(&lower.as_str()) || looks_like_card {
            problems.push(FieldProblem::new(name, MESSAGE));
        }
    }
}

fn holds_card_number(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => is_card_number(s),
        serde_json::Value::Number(n) => is_card_number(&n.to_string()),
        serde_json::Value::Object(map) => map.values().any(holds_card_number),
        _ => false,
    }
}

/// A plausible payment card number: 13–19 digits (spaces or dashes between them allowed)
/// starting 2–6 (the card networks' ranges: Mastercard 2/5, Visa 4, Amex/JCB/Diners 3,
/// Discover/UnionPay/Maestro 6) with a valid Luhn check digit. Bank account numbers such as a
/// Mexican CLABE start with their bank code (0 or 1) and are not taken for cards.
pub fn is_card_number(text: &str) -> bool {
    let trimmed = text.trim();
    if !trimmed
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b' ' || b == b'-')
    {
        return false;
    }
    let digits: Vec<u32> = trimmed.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) || !(2..=6).contains(&digits[0]) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match i % 2 {
            1 if d * 2 > 9 => d * 2 - 9,
            1 => d * 2,
            _ => d,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `baseamount` must be a JSON number (not a string), positive, with no more decimals than
/// the currency's exponent.
fn parse_amount(raw: &RawValue, currency: Currency) -> Result<Money, String> {
    let literal = raw.get().trim();
    let is_number = literal.starts_with(|c: char| c.is_ascii_digit() || c == '-');
    if !is_number {
        return Err("must be a JSON number, e.g. 100.00".into());
    }
    Money::parse_major(literal, currency).map_err(|e| match e {
        MoneyError::NotANumber => "must be a JSON number, e.g. 100.00".to_owned(),
        other => other.to_string(),
    })
}

/// True when `value` holds no forbidden character; otherwise records the problem for `field`.
fn plain(field: &str, value: &str, problems: &mut Vec<FieldProblem>) -> bool {
    match forbidden_char(value) {
        None => true,
        Some(c) => {
            problems.push(FieldProblem::new(field, forbidden_message(c)));
            false
        }
    }
}

fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && e.len() <= 254
        && !e.contains(char::is_whitespace)
}

fn optional_text(
    fields: &Fields,
    name: &str,
    problems: &mut Vec<FieldProblem>,
    check: impl Fn(&str) -> Result<(), &'static str>,
) -> Option<String> {
    let raw = fields.get(name).filter(|v| v.get() != "null")?;
    match text(raw) {
        Some(v) if !plain(name, &v, problems) => None,
        Some(v) => match check(&v) {
            Ok(()) => Some(v),
            Err(message) => {
                problems.push(FieldProblem::new(name, message));
                None
            }
        },
        None => {
            problems.push(FieldProblem::new(name, "must be a string"));
            None
        }
    }
}

/// PSP-specific fields: strings (numbers and booleans are kept as their JSON text).
fn extras(fields: &Fields, problems: &mut Vec<FieldProblem>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, raw) in fields.iter().filter(|(n, _)| !COMMON.contains(&n.as_str())) {
        let value = match serde_json::from_str::<serde_json::Value>(raw.get()) {
            Ok(serde_json::Value::String(s)) => s,
            Ok(serde_json::Value::Number(n)) => n.to_string(),
            Ok(serde_json::Value::Bool(b)) => b.to_string(),
            Ok(serde_json::Value::Null) => continue,
            _ => {
                problems.push(FieldProblem::new(
                    name,
                    "PSP-specific fields must be strings, numbers or booleans",
                ));
                continue;
            }
        };
        if value.len() > MAX_EXTRA_LEN || name.len() > 64 {
            problems.push(FieldProblem::new(name, "too long"));
            continue;
        }
        if !plain(name, name, problems) || !plain(name, &value, problems) {
            continue;
        }
        out.insert(name.clone(), value);
    }
    if out.len() > MAX_EXTRAS {
        problems.push(FieldProblem::new(
            "body",
            format!("at most {MAX_EXTRAS} PSP-specific fields"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> Fields {
        serde_json::from_str(json).unwrap()
    }

    fn try_parse(json: &str) -> Result<NewPayment, Vec<FieldProblem>> {
        parse(&fields(json), |p| p == "PAYMENTSOFT").map_err(|e| match e {
            ApiError::Validation(p) => p,
            other => panic!("{other:?}"),
        })
    }

    const OK: &str = r#"{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":100.10,"currency":"EUR","userId":42,"email":"a@b.co","walletAddress":"bc1q"}"#;

    #[test]
    fn parses_a_valid_request_exactly() {
        let r = try_parse(OK).unwrap();
        assert_eq!(r.amount.minor(), 10010);
        assert_eq!(r.user_id, "42");
        assert_eq!(r.extras["walletAddress"], "bc1q");
    }

    #[test]
    fn reports_each_bad_field() {
        let bad = |patch: &str, field: &str| {
            let mut v: serde_json::Value = serde_json::from_str(OK).unwrap();
            let p: serde_json::Value = serde_json::from_str(patch).unwrap();
            for (k, val) in p.as_object().unwrap() {
                v[k] = val.clone();
            }
            let problems = try_parse(&v.to_string()).unwrap_err();
            assert!(
                problems.iter().any(|p| p.field == field),
                "{patch}: {problems:?}"
            );
        };
        bad(r#"{"baseamount":10.001}"#, "baseamount");
        bad(r#"{"baseamount":-5}"#, "baseamount");
        bad(r#"{"baseamount":"100.00"}"#, "baseamount");
        bad(r#"{"baseamount":0}"#, "baseamount");
        bad(r#"{"currency":"XYZ"}"#, "currency");
        bad(r#"{"pspType":"NOPE"}"#, "pspType");
        bad(r#"{"type":"REFUND"}"#, "type");
        bad(r#"{"email":"not-an-email"}"#, "email");
        bad(r#"{"country":"germany"}"#, "country");
        bad(r#"{"returnUrl":"javascript:alert(1)"}"#, "returnUrl");
        bad(r#"{"walletAddress":{"nested":true}}"#, "walletAddress");
        bad(r#"{"userId":"u\u0000"}"#, "userId");
        bad(r#"{"email":"a\u0007@b.co"}"#, "email");
        bad(r#"{"merchantReference":"r\u007f"}"#, "merchantReference");
        bad(r#"{"brandId":"b\u202e"}"#, "brandId");
        bad(r#"{"returnUrl":"https://x.example/\u2069"}"#, "returnUrl");
        bad(r#"{"walletAddress":"bc1q\u001b"}"#, "walletAddress");
        bad(r#"{"w\u0000":"x"}"#, "w\u{0}");
    }

    #[test]
    fn card_numbers_are_refused_wherever_they_hide() {
        assert!(is_card_number("4111 1111 1111 1111"));
        assert!(is_card_number("5555-5555-5555-4444"));
        assert!(!is_card_number("4111111111111112"), "Luhn");
        assert!(
            !is_card_number("002180700012345678"),
            "a CLABE starts with its bank code"
        );
        assert!(!is_card_number("41111111"));
        for patch in [
            r#"{"cardNumber":"x"}"#,
            r#"{"pan":"4111111111111111"}"#,
            r#"{"note":"4111111111111111"}"#,
            r#"{"note":4111111111111111}"#,
            r#"{"metadata":{"ref":"5555555555554444"}}"#,
            r#"{"card":{"number":"x"}}"#,
        ] {
            let mut v: serde_json::Value = serde_json::from_str(OK).unwrap();
            let p: serde_json::Value = serde_json::from_str(patch).unwrap();
            for (k, val) in p.as_object().unwrap() {
                v[k] = val.clone();
            }
            let problems = try_parse(&v.to_string()).unwrap_err();
            let field = p.as_object().unwrap().keys().next().unwrap().clone();
            assert!(
                problems
                    .iter()
                    .any(|x| x.field == field && x.message.contains("hosted payment page")),
                "{patch}: {problems:?}"
            );
            assert!(
                !format!("{problems:?}").contains("4111111111111111"),
                "never echoed"
            );
        }
    }

    #[test]
    fn metadata_is_an_object_of_strings() {
        let with = |m: &str| {
            OK.replace(
                r#""walletAddress""#,
                &format!(r#""metadata":{m},"walletAddress""#),
            )
        };
        let r = try_parse(&with(r#"{"vip":"yes"}"#)).unwrap();
        assert_eq!(r.metadata["vip"], "yes");
        assert!(!r.extras.contains_key("metadata"), "never a PSP field");
        assert!(try_parse(&with(r#"{"vip":1}"#)).is_err());
        assert!(try_parse(&with(r#"{"v":"a\u0000"}"#)).is_err());
        let no_psp = OK.replace(r#""pspType":"PAYMENTSOFT","#, "");
        assert_eq!(
            try_parse(&no_psp).unwrap().psp_type,
            None,
            "a rule may route it"
        );
    }

    #[test]
    fn missing_fields_are_named() {
        let problems = try_parse("{}").unwrap_err();
        let names: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            names,
            ["type", "baseamount", "currency", "userId", "email"],
            "pspType may be left to routing"
        );
        assert_eq!(problems[0].message, "Missing required field: type");
    }
}

/// Property tests over the whole body path (strict JSON reading, then field parsing): arbitrary
/// bytes, arbitrary JSON and arbitrary field values never panic and never give a 5xx.
#[cfg(test)]
mod properties {
    use super::*;
    use crate::api::strict_json;
    use proptest::prelude::*;

    /// Strict reading plus field parsing, as the Cashier handler does it; the HTTP status.
    fn status_of(bytes: &[u8]) -> u16 {
        let outcome = strict_json::parse_object(bytes)
            .map_err(ApiError::from)
            .and_then(|body| parse(&body.fields, |p| p == "PAYMENTSOFT" || p == "FORUMPAY"));
        match outcome {
            Ok(_) => 200,
            Err(e) => e.status_and_code().0.as_u16(),
        }
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| serde_json::json!(f)),
            any::<String>().prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A Cashier body whose known fields take arbitrary JSON values.
    fn cashier_body() -> impl Strategy<Value = String> {
        let mut known: Vec<&'static str> = COMMON.to_vec();
        known.extend(["walletAddress", "preferredCrypto"]);
        let names = prop::sample::select(known);
        prop::collection::vec((names, json_value()), 0..14).prop_map(|pairs| {
            let mut body = serde_json::json!({
                "pspType": "PAYMENTSOFT", "type": "PAYOUT", "baseamount": 10,
                "currency": "EUR", "userId": "u", "email": "a@b.co",
            });
            for (k, v) in pairs {
                body[k] = v;
            }
            body.to_string()
        })
    }

    /// Money literals as JSON numbers and near-numbers.
    fn amount_literal() -> impl Strategy<Value = String> {
        prop_oneof![
            "-?[0-9]{0,30}(\\.[0-9]{0,30})?([eE][+-]?[0-9]{0,5})?",
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_give_a_5xx(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            prop_assert!(status_of(&bytes) < 500);
        }

        #[test]
        fn arbitrary_json_never_gives_a_5xx(value in json_value()) {
            prop_assert!(status_of(value.to_string().as_bytes()) < 500);
        }

        #[test]
        fn arbitrary_field_values_never_give_a_5xx(body in cashier_body()) {
            let status = status_of(body.as_bytes());
            prop_assert!(status == 200 || (400..500).contains(&status), "{status}: {body}");
        }

        #[test]
        fn arbitrary_amount_literals_never_give_a_5xx(literal in amount_literal()) {
            let body = format!(
                r#"{{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":{literal},"currency":"EUR","userId":"u","email":"a@b.co"}}"#
            );
            let status = status_of(body.as_bytes());
            prop_assert!(status == 200 || status == 400, "{status}: {body}");
        }
    }
}
