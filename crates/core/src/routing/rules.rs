//! A company's routing rules, compiled: matching a request against them (top-down, the first
//! match wins; AND between the keys of `when`, any-of inside a list) and ordering a route's
//! accounts.

use crate::domain::TxnType;
use crate::ids::PspAccountId;
use crate::money::{Currency, Money};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// What a rule's `when` is matched against: one Cashier request.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    pub txn_type: TxnType,
    /// The requested `pspType`, when the body names one.
    pub psp_type: Option<&'a str>,
    pub amount: Money,
    /// ISO 3166-1 alpha-2, as given in the body.
    pub country: Option<&'a str>,
    pub brand_id: Option<&'a str>,
    /// The body's `metadata` object (string values).
    pub metadata: &'a BTreeMap<String, String>,
}

/// A rule's `when`. Empty lists and `None` match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Condition {
    pub txn_type: Option<TxnType>,
    pub psp_types: Vec<String>,
    pub currencies: Vec<Currency>,
    pub countries: Vec<String>,
    pub brand_ids: Vec<String>,
    /// Inclusive lower bound, in major units of the request's currency.
    pub amount_min: Option<Decimal>,
    /// Exclusive upper bound, in major units of the request's currency.
    pub amount_max: Option<Decimal>,
    /// Exact matches on the request's `metadata`.
    pub metadata: Vec<(String, String)>,
}

impl Condition {
    /// True when every key of the condition holds for `facts`.
    pub fn matches(&self, facts: &Facts<'_>) -> bool {
        let amount = facts.amount.to_decimal();
        self.txn_type.is_none_or(|t| t == facts.txn_type)
            && any_of(&self.psp_types, facts.psp_type)
            && (self.currencies.is_empty() || self.currencies.contains(&facts.amount.currency()))
            && any_of(&self.countries, facts.country)
            && any_of(&self.brand_ids, facts.brand_id)
            && self.amount_min.is_none_or(|min| amount >= min)
            && self.amount_max.is_none_or(|max| amount < max)
            && self
                .metadata
                .iter()
                .all(|(k, v)| facts.metadata.get(k) == Some(v))
    }
}

/// An empty list matches anything; otherwise the value must be present and listed.
fn any_of(list: &[String], value: Option<&str>) -> bool {
    list.is_empty() || value.is_some_and(|v| list.iter().any(|l| l == v))
}

/// One account of a route, with its share when the route is a volume split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    pub account: PspAccountId,
    pub weight: Option<u32>,
}

/// A rule's `then.route…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteAction {
    pub route: Vec<RouteEntry>,
    pub fallback: Vec<PspAccountId>,
    pub hold_for_approval: bool,
    pub max_attempts: u32,
    pub cascade_payouts: bool,
}

impl RouteAction {
    /// True when the route is a volume split (its entries carry weights).
    pub fn weighted(&self) -> bool {
        self.route.iter().any(|e| e.weight.is_some())
    }

    /// The accounts in the order they are tried. For a volume split, the first is drawn by
    /// weight among the route's accounts `eligible` accepts (`random` uniform over `u64`),
    /// and the other route accounts follow in listed order; otherwise the route is a priority
    /// list. The fallback accounts come last, in order.
    pub fn order(
        &self,
        eligible: impl Fn(&PspAccountId) -> bool,
        random: u64,
    ) -> Vec<PspAccountId> {
        let mut order: Vec<PspAccountId> =
            Vec::with_capacity(self.route.len() + self.fallback.len());
        if self.weighted() {
            let pool: Vec<&RouteEntry> =
                self.route.iter().filter(|e| eligible(&e.account)).collect();
            let total: u64 = pool.iter().map(|e| u64::from(e.weight.unwrap_or(0))).sum();
            if total > 0 {
                let mut ticket = random % total;
                for entry in pool {
                    let w = u64::from(entry.weight.unwrap_or(0));
                    if ticket < w {
                        order.push(entry.account.clone());
                        break;
                    }
                    ticket -= w;
                }
            }
        }
        for entry in &self.route {
            if !order.contains(&entry.account) {
                order.push(entry.account.clone());
            }
        }
        for account in &self.fallback {
            if !order.contains(account) {
                order.push(account.clone());
            }
        }
        order
    }
}

/// A rule's `then`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Refuse the request (422 `ROUTING_BLOCKED`) with this reason.
    Block(String),
    Route(RouteAction),
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub when: Condition,
    pub then: Action,
}

/// A company's active rules, in evaluation order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSet {
    /// The document version these rules came from (0: none stored).
    pub version: i64,
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// The first rule whose `when` matches, if any.
    pub fn evaluate(&self, facts: &Facts<'_>) -> Option<&Rule> {
        self.rules.iter().find(|r| r.when.matches(facts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(major: &str) -> Money {
        Money::parse_major(major, Currency::from_code("EUR").unwrap()).unwrap()
    }

    fn facts<'a>(amount: Money, meta: &'a BTreeMap<String, String>) -> Facts<'a> {
        Facts {
            txn_type: TxnType::Payout,
            psp_type: Some("PAYMENTSOFT"),
            amount,
            country: Some("DE"),
            brand_id: None,
            metadata: meta,
        }
    }

    #[test]
    fn conditions_are_and_between_keys_and_any_of_inside_lists() {
        let meta = BTreeMap::from([("vip".to_owned(), "yes".to_owned())]);
        let c = Condition {
            txn_type: Some(TxnType::Payout),
            countries: vec!["DE".into(), "AT".into()],
            amount_min: Some(Decimal::from(100)),
            amount_max: Some(Decimal::from(500)),
            metadata: vec![("vip".into(), "yes".into())],
            ..Condition::default()
        };
        assert!(c.matches(&facts(eur("100.00"), &meta)), "min is inclusive");
        assert!(c.matches(&facts(eur("499.99"), &meta)));
        assert!(!c.matches(&facts(eur("500.00"), &meta)), "max is exclusive");
        assert!(!c.matches(&facts(eur("99.99"), &meta)));
        let none = BTreeMap::new();
        assert!(!c.matches(&facts(eur("200"), &none)), "metadata must match");
        let brand = Condition {
            brand_ids: vec!["b1".into()],
            ..Condition::default()
        };
        assert!(
            !brand.matches(&facts(eur("1"), &none)),
            "absent value, listed key"
        );
        assert!(Condition::default().matches(&facts(eur("1"), &none)));
    }

    fn acct(n: u8) -> PspAccountId {
        PspAccountId::from_trusted(format!("psp_{n}"))
    }

    #[test]
    fn priority_routes_keep_their_order_and_fallbacks_follow() {
        let r = RouteAction {
            route: vec![
                RouteEntry {
                    account: acct(1),
                    weight: None,
                },
                RouteEntry {
                    account: acct(2),
                    weight: None,
                },
            ],
            fallback: vec![acct(3), acct(1)],
            hold_for_approval: false,
            max_attempts: 3,
            cascade_payouts: false,
        };
        assert_eq!(r.order(|_| true, 7), vec![acct(1), acct(2), acct(3)]);
    }

    #[test]
    fn a_volume_split_draws_the_first_account_by_weight_among_eligible_ones() {
        let r = RouteAction {
            route: vec![
                RouteEntry {
                    account: acct(1),
                    weight: Some(70),
                },
                RouteEntry {
                    account: acct(2),
                    weight: Some(30),
                },
            ],
            fallback: vec![acct(3)],
            hold_for_approval: false,
            max_attempts: 3,
            cascade_payouts: false,
        };
        assert_eq!(r.order(|_| true, 0)[0], acct(1));
        assert_eq!(r.order(|_| true, 69)[0], acct(1));
        assert_eq!(r.order(|_| true, 70), vec![acct(2), acct(1), acct(3)]);
        assert_eq!(
            r.order(|a| *a != acct(1), 5)[0],
            acct(2),
            "ineligible never drawn"
        );
        let firsts = (0..1000u64)
            .filter(|i| r.order(|_| true, i.wrapping_mul(0x9E37_79B9_7F4A_7C15))[0] == acct(1))
            .count();
        assert!((650..=750).contains(&firsts), "{firsts} of 1000");
    }
}
