//! Exact money. An amount is held as an integer count of the currency's minor units
//! (cents for EUR, whole yen for JPY, fils for KWD); decimals are parsed from text and never
//! pass through a float.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use std::str::FromStr;

/// The largest accepted amount in minor units (10^15, i.e. 10 trillion EUR): far above any
/// real payment, far below `i64::MAX`, so sums of a few amounts cannot overflow.
pub const MAX_MINOR_UNITS: i64 = 1_000_000_000_000_000;

/// An ISO 4217 currency Overture accepts, with its minor-unit exponent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u32,
}

/// ISO 4217 codes and exponents (number of minor-unit digits) Overture accepts.
/// Source: ISO 4217 list one, as published by SIX.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("GHS", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KZT", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PEN", 2),
    ("PHP", 2),
    ("PLN", 2),
    ("RON", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("UAH", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

impl Currency {
    /// Looks up an upper-case ISO 4217 code; `None` for codes Overture does not accept.
    pub fn from_code(code: &str) -> Option<Self> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, exponent)| Self { code, exponent })
    }

    /// The ISO 4217 code, e.g. `"EUR"`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Number of minor-unit digits (2 for EUR, 0 for JPY, 3 for KWD).
    pub fn exponent(&self) -> u32 {
        self.exponent
    }
}

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount is not a decimal number")]
    NotANumber,
    #[error("amount must be greater than zero")]
    NotPositive,
    #[error("amount has more decimal places than {currency} allows ({exponent})")]
    TooPrecise {
        currency: &'static str,
        exponent: u32,
    },
    #[error("amount is too large")]
    TooLarge,
}

/// An exact amount: minor units of one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Builds from minor units (e.g. `1050` EUR cents = 10.50 EUR). Fails on zero, negatives
    /// and amounts above [`MAX_MINOR_UNITS`].
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor <= 0 {
            return Err(MoneyError::NotPositive);
        }
        if minor > MAX_MINOR_UNITS {
            return Err(MoneyError::TooLarge);
        }
        Ok(Self { minor, currency })
    }

    /// Parses a major-unit decimal as written in JSON (`"10.5"`, `"10.50"`, `"1e2"`).
    /// Trailing zeros beyond the exponent are accepted (`10.500` EUR is 10.50); a non-zero
    /// digit beyond it is [`MoneyError::TooPrecise`].
    pub fn parse_major(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let text = text.trim();
        let valid_chars = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
        if !valid_chars {
            return Err(MoneyError::NotANumber);
        }
        let value = if text.contains(['e', 'E']) {
            Decimal::from_scientific(text)
        } else {
            Decimal::from_str_exact(text)
        }
        .map_err(|_| unrepresentable(text, currency))?
        .normalize();
        if value.is_sign_negative() || value.is_zero() {
            return Err(MoneyError::NotPositive);
        }
        if value.scale() > currency.exponent {
            return Err(MoneyError::TooPrecise {
                currency: currency.code,
                exponent: currency.exponent,
            });
        }
        let minor = value
            .checked_mul(Decimal::from(10_i64.pow(currency.exponent)))
            .and_then(|m| m.to_i64())
            .ok_or(MoneyError::TooLarge)?;
        Self::from_minor(minor, currency)
    }

    /// Minor units (cents for EUR).
    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The cents digits of the amount (`minor % 100`), which sandboxes use to choose an outcome.
    pub fn cents(&self) -> i64 {
        self.minor % 100
    }

    /// Major units with exactly the currency's exponent, e.g. `"100.00"`, `"5"` (JPY), `"1.250"` (KWD).
    pub fn to_major_string(&self) -> String {
        format_minor(self.minor, self.currency.exponent)
    }

    /// The amount as an exact decimal in major units.
    pub fn to_decimal(&self) -> Decimal {
        Decimal::new(self.minor, self.currency.exponent)
    }
}

/// Why a numeric-looking literal did not fit a decimal: a huge magnitude is `TooLarge`, a tiny
/// one or one with too many decimals `TooPrecise`; anything else is not a number.
fn unrepresentable(text: &str, currency: Currency) -> MoneyError {
    let lower = text.to_ascii_lowercase();
    let (mantissa, exponent) = match lower.split_once('e') {
        Some((m, e)) => match e.parse::<i64>() {
            Ok(e) => (m, e),
            Err(_) => return MoneyError::NotANumber,
        },
        None => (lower.as_str(), 0),
    };
    let mantissa = mantissa.trim_start_matches(['-', '+']);
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int_part) || !(frac_part.is_empty() || digits(frac_part)) {
        return MoneyError::NotANumber;
    }
    let magnitude = int_part.trim_start_matches('0').len() as i64 + exponent;
    if magnitude > 0 && (exponent > 0 || frac_part.is_empty()) {
        MoneyError::TooLarge
    } else {
        MoneyError::TooPrecise {
            currency: currency.code,
            exponent: currency.exponent,
        }
    }
}

/// Formats minor units as a major-unit string with `exponent` decimals.
pub fn format_minor(minor: i64, exponent: u32) -> String {
    let mut d = Decimal::new(minor, exponent);
    d.rescale(exponent);
    d.to_string()
}

impl FromStr for Currency {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::from_code(s).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn parses_major_units_exactly() {
        assert_eq!(Money::parse_major("100.10", eur()).unwrap().minor(), 10010);
        assert_eq!(Money::parse_major("0.01", eur()).unwrap().minor(), 1);
        assert_eq!(Money::parse_major("10.500", eur()).unwrap().minor(), 1050);
        assert_eq!(Money::parse_major("1e2", eur()).unwrap().minor(), 10000);
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(
            Money::parse_major("500", jpy).unwrap().to_major_string(),
            "500"
        );
        let kwd = Currency::from_code("KWD").unwrap();
        assert_eq!(
            Money::parse_major("1.25", kwd).unwrap().to_major_string(),
            "1.250"
        );
    }

    #[test]
    fn refuses_bad_amounts() {
        assert_eq!(
            Money::parse_major("10.001", eur()).unwrap_err(),
            MoneyError::TooPrecise {
                currency: "EUR",
                exponent: 2
            }
        );
        assert_eq!(
            Money::parse_major("-5", eur()).unwrap_err(),
            MoneyError::NotPositive
        );
        assert_eq!(
            Money::parse_major("0.00", eur()).unwrap_err(),
            MoneyError::NotPositive
        );
        assert_eq!(
            Money::parse_major("abc", eur()).unwrap_err(),
            MoneyError::NotANumber
        );
        assert_eq!(
            Money::parse_major("1e30", eur()).unwrap_err(),
            MoneyError::TooLarge
        );
        assert_eq!(
            Money::parse_major("123456789012345678901234567890123", eur()).unwrap_err(),
            MoneyError::TooLarge
        );
        assert!(matches!(
            Money::parse_major("1e-40", eur()),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            Money::parse_major("0.0000000000000000000000000000001", eur()),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert_eq!(
            Money::parse_major("1.2.3", eur()).unwrap_err(),
            MoneyError::NotANumber
        );
        assert_eq!(
            Money::parse_major("", eur()).unwrap_err(),
            MoneyError::NotANumber
        );
        let jpy = Currency::from_code("JPY").unwrap();
        assert!(matches!(
            Money::parse_major("1.5", jpy),
            Err(MoneyError::TooPrecise { .. })
        ));
    }

    #[test]
    fn formats_with_the_currency_exponent() {
        assert_eq!(
            Money::from_minor(10000, eur()).unwrap().to_major_string(),
            "100.00"
        );
        assert_eq!(
            Money::from_minor(5, eur()).unwrap().to_major_string(),
            "0.05"
        );
        assert_eq!(Money::from_minor(1053, eur()).unwrap().cents(), 53);
    }

    #[test]
    fn unknown_currency_is_none() {
        assert!(Currency::from_code("XXX").is_none());
        assert!(Currency::from_code("eur").is_none());
    }
}

/// Property tests of the money parser: arbitrary text never panics, and whatever parses is
/// exact (its major-unit string parses back to the same minor units).
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn literal() -> impl Strategy<Value = String> {
        prop_oneof![
            "[+-]?[0-9]{0,40}(\\.[0-9]{0,40})?([eE][+-]?[0-9]{0,6})?",
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn parse_major_never_panics_and_round_trips(
            text in literal(),
            code in prop::sample::select(vec!["EUR", "JPY", "BHD", "USD", "BTC"]),
        ) {
            let Some(currency) = Currency::from_code(code) else { return Ok(()); };
            if let Ok(money) = Money::parse_major(&text, currency) {
                prop_assert!(money.minor() > 0);
                let again = Money::parse_major(&money.to_major_string(), currency);
                prop_assert_eq!(again, Ok(money));
            }
        }
    }
}
