//! The Cashier fields a CLEO payout needs per country, and their published formats (the
//! formats are the banking systems' own, not Cleo's):
//!
//! - Mexico: `bankAccount` = the 18-digit CLABE, whose last digit checks the first 17 with
//!   weights 3, 7, 1 (Banxico's CLABE standard) — [`clabe_ok`];
//! - Peru: `bankAccount` = the 20-digit CCI (código de cuenta interbancario) — [`cci_ok`];
//! - Chile: `bankAccount` = the account number (4–20 digits), `bankCode` = the bank's 3-digit
//!   code (CMF), `documentId` = the holder's RUT, its verifier checked with the modulo 11
//!   rule (digit or `K`) — [`rut_ok`].
//!
//! Every payout also needs the holder's name (`firstName` and `lastName`, from the body or the
//! verified user token).

use overture_core::connector::FieldError;
use std::collections::BTreeMap;

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// True for an 18-digit CLABE with a correct check digit.
pub fn clabe_ok(clabe: &str) -> bool {
    if clabe.len() != 18 || !digits(clabe) {
        return false;
    }
    let d: Vec<u32> = clabe.bytes().map(|b| u32::from(b - b'0')).collect();
    let sum: u32 = d[..17]
        .iter()
        .zip([3, 7, 1].iter().cycle())
        .map(|(x, w)| (x * w) % 10)
        .sum();
    (10 - sum % 10) % 10 == d[17]
}

/// True for a 20-digit CCI.
pub fn cci_ok(cci: &str) -> bool {
    cci.len() == 20 && digits(cci)
}

/// The RUT without dots and dash, upper case (`12.345.678-5` ⇒ `123456785`).
pub fn normalize_rut(rut: &str) -> String {
    rut.chars()
        .filter(|c| !matches!(c, '.' | '-' | ' '))
        .collect::<String>()
        .to_ascii_uppercase()
}

/// True for a RUT whose verifier (last character) matches the modulo 11 rule.
pub fn rut_ok(rut: &str) -> bool {
    let rut = normalize_rut(rut);
    if rut.len() < 2 {
        return false;
    }
    let (body, verifier) = rut.split_at(rut.len() - 1);
    if !digits(body) || body.len() > 9 {
        return false;
    }
    let mut sum = 0u32;
    for (i, b) in body.bytes().rev().enumerate() {
        sum += u32::from(b - b'0') * (2 + (i as u32 % 6));
    }
    let expected = match 11 - sum % 11 {
        11 => "0".to_owned(),
        10 => "K".to_owned(),
        n => n.to_string(),
    };
    verifier == expected
}

fn missing(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// Checks the payout fields of `country` in `extras` (module docs).
pub fn check_payout(country: &str, extras: &BTreeMap<String, String>) -> Result<(), FieldError> {
    let get = |name: &str| extras.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    for name in ["firstName", "lastName"] {
        if get(name).is_none() {
            return Err(missing(
                name,
                "the account holder's name is required by CLEO payouts",
            ));
        }
    }
    let account = get("bankAccount")
        .ok_or_else(|| missing("bankAccount", "bankAccount is required by CLEO payouts"))?;
    match country {
        "MX" if !clabe_ok(account) => Err(missing(
            "bankAccount",
            "bankAccount must be an 18-digit CLABE with a valid check digit (Mexico)",
        )),
        "PE" if !cci_ok(account) => Err(missing(
            "bankAccount",
            "bankAccount must be the 20-digit CCI (Peru)",
        )),
        "CL" => {
            if !(4..=20).contains(&account.len()) || !digits(account) {
                return Err(missing(
                    "bankAccount",
                    "bankAccount must be 4–20 digits (Chile)",
                ));
            }
            let code = get("bankCode").unwrap_or("");
            if code.len() != 3 || !digits(code) {
                return Err(missing(
                    "bankCode",
                    "bankCode must be the bank's 3-digit code (Chile)",
                ));
            }
            if !get("documentId").is_some_and(rut_ok) {
                return Err(missing(
                    "documentId",
                    "documentId must be the holder's RUT with a valid verifier (Chile)",
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `002010077777777771` is Banxico's own CLABE example; the other is a second valid one
    /// (check digits computed outside Rust with the published weights).
    #[test]
    fn clabe_check_digits() {
        assert!(clabe_ok("002010077777777771"));
        assert!(clabe_ok("032180000118359719"));
        assert!(!clabe_ok("002010077777777772"));
        assert!(!clabe_ok("00201007777777777"));
        assert!(!clabe_ok("00201007777777777a"));
    }

    #[test]
    fn rut_verifiers() {
        assert!(rut_ok("12.345.678-5"));
        assert!(rut_ok("11111111-1"));
        assert!(rut_ok("760864285"));
        assert!(!rut_ok("12.345.678-6"));
        assert!(!rut_ok("K"));
    }

    #[test]
    fn payout_fields_per_country() {
        let mut extras: BTreeMap<String, String> = [
            ("firstName", "Ana"),
            ("lastName", "Pérez"),
            ("bankAccount", "002010077777777771"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert!(check_payout("MX", &extras).is_ok());
        assert_eq!(
            check_payout("PE", &extras).unwrap_err().field,
            "bankAccount"
        );
        extras.insert("bankAccount".into(), "00219300123456789012".into());
        assert!(check_payout("PE", &extras).is_ok());
        extras.insert("bankAccount".into(), "12345678".into());
        assert_eq!(check_payout("CL", &extras).unwrap_err().field, "bankCode");
        extras.insert("bankCode".into(), "012".into());
        assert_eq!(check_payout("CL", &extras).unwrap_err().field, "documentId");
        extras.insert("documentId".into(), "12.345.678-5".into());
        assert!(check_payout("CL", &extras).is_ok());
        extras.remove("lastName");
        assert_eq!(check_payout("CL", &extras).unwrap_err().field, "lastName");
    }
}
