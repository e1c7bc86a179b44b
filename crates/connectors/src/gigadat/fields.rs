//! The Cashier fields Gigadat needs, checked before any PSP call (each failure names the
//! field, and becomes HTTP 400): `name` (or `firstName` + `lastName`), `phone` (10–11 digits),
//! `userIp` (an IP address), `payoutType` (`ETO` | `ACH`). Mozarto's Gigadat page lists the
//! same requirements; the phone rule is Gigadat's `mobile` (a North American number, with or
//! without the leading country code 1).

use super::wire::TxnKind;
use overture_core::connector::{FieldError, PaymentRequest};
use std::net::IpAddr;

/// Longest name accepted (assumed; Gigadat documents no limit, 100 covers real names).
pub const MAX_NAME_LEN: usize = 100;

fn field_error(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: format!("{field} {message}"),
    }
}

fn extra<'a>(request: &'a PaymentRequest, name: &str) -> Option<&'a str> {
    request
        .extras
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// The payer's full name: `name`, else `firstName lastName` (both needed).
pub fn name(request: &PaymentRequest) -> Result<String, FieldError> {
    let full = match extra(request, "name") {
        Some(name) => name.to_owned(),
        None => match (extra(request, "firstName"), extra(request, "lastName")) {
            (Some(first), Some(last)) => format!("{first} {last}"),
            _ => {
                return Err(field_error(
                    "name",
                    "is required by GIGADAT (or firstName and lastName)",
                ))
            }
        },
    };
    if full.chars().count() > MAX_NAME_LEN || full.chars().any(char::is_control) {
        return Err(field_error(
            "name",
            "must be at most 100 characters without control characters",
        ));
    }
    Ok(full)
}

/// `phone` as Gigadat's `mobile`: digits only once spaces, dashes, dots, parentheses and a
/// leading `+` are removed, 10 or 11 of them.
pub fn phone(request: &PaymentRequest) -> Result<String, FieldError> {
    let raw = extra(request, "phone")
        .ok_or_else(|| field_error("phone", "is required by GIGADAT (10-11 digits)"))?;
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '+' | '(' | ')' | '.'))
        .collect();
    if !(10..=11).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field_error("phone", "must have 10-11 digits"));
    }
    Ok(digits)
}

/// `userIp`: required, an IPv4 or IPv6 address.
pub fn user_ip(request: &PaymentRequest) -> Result<String, FieldError> {
    let raw =
        extra(request, "userIp").ok_or_else(|| field_error("userIp", "is required by GIGADAT"))?;
    optional_user_ip(Some(raw)).map(|ip| ip.unwrap_or_default())
}

/// `userIp` when given (payouts): an IP address; `None` when absent.
pub fn optional_user_ip(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse::<IpAddr>()
            .map(|ip| Some(ip.to_string()))
            .map_err(|_| field_error("userIp", "must be an IPv4 or IPv6 address")),
    }
}

/// `payoutType`: `ETO` (Interac e-Transfer, the default) or `ACH`.
pub fn payout_type(request: &PaymentRequest) -> Result<TxnKind, FieldError> {
    match extra(request, "payoutType") {
        None => Ok(TxnKind::Eto),
        Some(word) => {
            TxnKind::payout(word).ok_or_else(|| field_error("payoutType", "must be ETO or ACH"))
        }
    }
}

/// `currency`: Gigadat moves Canadian dollars only.
pub fn currency(request: &PaymentRequest) -> Result<(), FieldError> {
    match request.amount.currency().code() {
        "CAD" => Ok(()),
        other => Err(field_error(
            "currency",
            &format!("must be CAD for GIGADAT (got {other})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overture_core::ids::OrderId;
    use overture_core::money::{Currency, Money};
    use overture_core::TxnType;

    fn request(extras: &[(&str, &str)]) -> PaymentRequest {
        PaymentRequest {
            order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
            txn_type: TxnType::Payin,
            amount: Money::parse_major("10.00", Currency::from_code("CAD").unwrap()).unwrap(),
            user_id: "1".into(),
            email: "a@example.com".into(),
            country: Some("CA".into()),
            return_url: None,
            merchant_reference: None,
            extras: extras
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn name_comes_from_name_or_first_and_last() {
        assert_eq!(
            name(&request(&[("name", " Jane Doe ")])).unwrap(),
            "Jane Doe"
        );
        let split = request(&[("firstName", "Jane"), ("lastName", "Doe")]);
        assert_eq!(name(&split).unwrap(), "Jane Doe");
        let half = request(&[("firstName", "Jane")]);
        assert_eq!(name(&half).unwrap_err().field, "name");
        let long = "x".repeat(101);
        assert!(name(&request(&[("name", &long)])).is_err());
    }

    #[test]
    fn phone_is_normalised_to_10_or_11_digits() {
        for (raw, digits) in [
            ("403-123-4567", "4031234567"),
            ("+1 (403) 123 4567", "14031234567"),
            ("403.123.4567", "4031234567"),
        ] {
            assert_eq!(phone(&request(&[("phone", raw)])).unwrap(), digits);
        }
        for bad in ["123456789", "123456789012", "40312345ab", ""] {
            assert_eq!(
                phone(&request(&[("phone", bad)])).unwrap_err().field,
                "phone",
                "{bad}"
            );
        }
    }

    #[test]
    fn user_ip_must_be_an_address() {
        assert_eq!(
            user_ip(&request(&[("userIp", "70.67.168.5")])).unwrap(),
            "70.67.168.5"
        );
        assert_eq!(user_ip(&request(&[("userIp", "::1")])).unwrap(), "::1");
        assert_eq!(
            user_ip(&request(&[("userIp", "999.1.1.1")]))
                .unwrap_err()
                .field,
            "userIp"
        );
        assert_eq!(user_ip(&request(&[])).unwrap_err().field, "userIp");
        assert_eq!(optional_user_ip(None).unwrap(), None);
    }

    #[test]
    fn payout_type_defaults_to_eto() {
        assert_eq!(payout_type(&request(&[])).unwrap(), TxnKind::Eto);
        assert_eq!(
            payout_type(&request(&[("payoutType", "ach")])).unwrap(),
            TxnKind::Ach
        );
        assert_eq!(
            payout_type(&request(&[("payoutType", "CPI")]))
                .unwrap_err()
                .field,
            "payoutType"
        );
    }
}
