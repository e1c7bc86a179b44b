//! Per-account limits checked by routing: the smallest and largest amount an account takes per
//! currency, and its daily caps (count, and amount per currency) over the UTC day, counting the
//! attempts the PSP accepted. Amounts are integer minor units keyed by ISO 4217 code.

use crate::money::{format_minor, Currency, Money};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An account's limits, stored as JSON with the account. Empty maps and `None` mean no limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccountLimits {
    /// Smallest amount taken, per currency (minor units, inclusive).
    pub min_amount: BTreeMap<String, i64>,
    /// Largest amount taken, per currency (minor units, inclusive).
    pub max_amount: BTreeMap<String, i64>,
    /// Most accepted in one UTC day, per currency (minor units).
    pub daily_amount_cap: BTreeMap<String, i64>,
    /// Most accepted attempts in one UTC day, all currencies together.
    pub daily_count_cap: Option<u64>,
}

/// What an account accepted so far today (UTC): attempts the PSP accepted, and their amounts
/// per currency (minor units).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub count: u64,
    pub amounts: BTreeMap<String, i64>,
}

impl Usage {
    /// Today's accepted amount in `currency`, minor units.
    pub fn amount(&self, currency: Currency) -> i64 {
        self.amounts.get(currency.code()).copied().unwrap_or(0)
    }
}

fn show(minor: i64, currency: Currency) -> String {
    format!(
        "{} {}",
        format_minor(minor, currency.exponent()),
        currency.code()
    )
}

impl AccountLimits {
    /// True when nothing is limited.
    pub fn is_empty(&self) -> bool {
        self.min_amount.is_empty() && self.max_amount.is_empty() && !self.has_caps()
    }

    /// True when a daily cap is set (so routing must read the account's usage).
    pub fn has_caps(&self) -> bool {
        !self.daily_amount_cap.is_empty() || self.daily_count_cap.is_some()
    }

    /// Refuses an amount outside this account's range for its currency, with the reason.
    pub fn check_amount(&self, amount: Money) -> Result<(), String> {
        let c = amount.currency();
        if let Some(&min) = self.min_amount.get(c.code()) {
            if amount.minor() < min {
                return Err(format!("below the account's minimum of {}", show(min, c)));
            }
        }
        if let Some(&max) = self.max_amount.get(c.code()) {
            if amount.minor() > max {
                return Err(format!("above the account's maximum of {}", show(max, c)));
            }
        }
        Ok(())
    }

    /// Refuses `amount` when accepting it would pass a daily cap, given today's `usage`.
    pub fn check_caps(&self, amount: Money, usage: &Usage) -> Result<(), String> {
        if let Some(cap) = self.daily_count_cap {
            if usage.count >= cap {
                return Err(format!(
                    "daily count cap reached ({} of {cap} today)",
                    usage.count
                ));
            }
        }
        let c = amount.currency();
        if let Some(&cap) = self.daily_amount_cap.get(c.code()) {
            let used = usage.amount(c);
            if used.saturating_add(amount.minor()) > cap {
                return Err(format!(
                    "daily amount cap of {} would be passed ({} accepted today)",
                    show(cap, c),
                    show(used, c)
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(major: &str) -> Money {
        Money::parse_major(major, Currency::from_code("EUR").unwrap()).unwrap()
    }

    #[test]
    fn amounts_outside_the_range_of_their_currency_are_refused() {
        let l = AccountLimits {
            min_amount: [("EUR".to_owned(), 1_000)].into(),
            max_amount: [("EUR".to_owned(), 500_000)].into(),
            ..AccountLimits::default()
        };
        assert!(l.check_amount(eur("10.00")).is_ok());
        assert!(l.check_amount(eur("5000.00")).is_ok());
        assert_eq!(
            l.check_amount(eur("9.99")).unwrap_err(),
            "below the account's minimum of 10.00 EUR"
        );
        assert!(l.check_amount(eur("5000.01")).is_err());
        let usd = Money::parse_major("1", Currency::from_code("USD").unwrap()).unwrap();
        assert!(
            l.check_amount(usd).is_ok(),
            "another currency is not limited"
        );
    }

    #[test]
    fn caps_count_what_was_accepted_today() {
        let l = AccountLimits {
            daily_amount_cap: [("EUR".to_owned(), 10_000)].into(),
            daily_count_cap: Some(2),
            ..AccountLimits::default()
        };
        let mut u = Usage::default();
        assert!(l.check_caps(eur("100.00"), &u).is_ok());
        assert!(l.check_caps(eur("100.01"), &u).is_err());
        u.count = 2;
        assert_eq!(
            l.check_caps(eur("1"), &u).unwrap_err(),
            "daily count cap reached (2 of 2 today)"
        );
        u.count = 1;
        u.amounts.insert("EUR".into(), 9_000);
        assert!(l.check_caps(eur("10.00"), &u).is_ok());
        assert!(l.check_caps(eur("10.01"), &u).is_err());
        assert!(l.has_caps() && !l.is_empty());
        assert!(AccountLimits::default().is_empty());
    }
}
