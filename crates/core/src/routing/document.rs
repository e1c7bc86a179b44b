//! Reading a rules document (`PUT /v1/api/routing/rules`, `overture routing set`) into a
//! [`RuleSet`]. The whole document is checked and every problem is reported with its path
//! (`rules[1].then.route[0].account`), so a document is either valid as a whole or refused as
//! a whole. Amounts are read from the JSON text itself, exactly (never through a float).
//!
//! Shape:
//! ```json
//! {"rules": [{"name": "…",
//!   "when": {"type": "PAYIN|PAYOUT", "pspType": […], "currency": […], "country": […],
//!            "brandId": […], "amount": {"min": 10, "max": 500}, "metadata": {"k": "v"}},
//!   "then": {"block": "reason"}
//!        | {"route": [{"account": "psp_…", "weight": 70}, …], "fallback": ["psp_…"],
//!           "holdForApproval": false, "maxAttempts": 3, "cascadePayouts": false}}]}
//! ```
//! Lists also accept a single string. Duplicate keys and depth are refused before this is
//! called (the API's strict JSON reader).

use super::rules::{Action, Condition, RouteAction, RouteEntry, Rule, RuleSet};
use super::{DEFAULT_MAX_ATTEMPTS, MAX_ATTEMPTS_LIMIT};
use crate::domain::TxnType;
use crate::ids::PspAccountId;
use crate::money::Currency;
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

/// The most rules a document may hold.
pub const MAX_RULES: usize = 500;
/// The most accounts a route (with its fallback) may list.
pub const MAX_ROUTE_ACCOUNTS: usize = 20;

/// One problem of a document: where, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleProblem {
    /// JSON path, e.g. `rules[1].then.route[0].account`.
    pub path: String,
    pub message: String,
}

/// What a document is checked against.
pub trait RulesContext {
    /// True when Overture has a connector for `psp_type`.
    fn psp_known(&self, psp_type: &str) -> bool;
    /// True when `id` is one of the company's PSP accounts.
    fn account_known(&self, id: &PspAccountId) -> bool;
}

/// Reads and checks a rules document; `version` is stamped on the result.
pub fn parse_rules(
    json: &str,
    version: i64,
    ctx: &dyn RulesContext,
) -> Result<RuleSet, Vec<RuleProblem>> {
    let mut w = Walk::default();
    let rules = match serde_json::from_str::<&RawValue>(json) {
        Ok(raw) => w.document(raw, ctx),
        Err(e) => {
            w.problem("", format!("not JSON: {e}"));
            None
        }
    };
    match rules {
        Some(rules) if w.problems.is_empty() => Ok(RuleSet { version, rules }),
        _ => Err(w.problems),
    }
}

type Object<'a> = BTreeMap<String, &'a RawValue>;

#[derive(Default)]
struct Walk {
    problems: Vec<RuleProblem>,
}

impl Walk {
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        let path = if path.is_empty() { "body" } else { path };
        self.problems.push(RuleProblem {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// An object with only `allowed` keys (others are reported).
    fn object<'a>(
        &mut self,
        raw: &'a RawValue,
        path: &str,
        allowed: &[&str],
    ) -> Option<Object<'a>> {
        let Ok(obj) = serde_json::from_str::<Object<'a>>(raw.get()) else {
            self.problem(path, "must be an object");
            return None;
        };
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                let at = join(path, key);
                self.problem(
                    &at,
                    format!("unknown key; expected one of {}", allowed.join(", ")),
                );
            }
        }
        Some(obj)
    }

    fn string(&mut self, raw: &RawValue, path: &str) -> Option<String> {
        match serde_json::from_str::<String>(raw.get()) {
            Ok(s) if !s.trim().is_empty() && s.len() <= 200 => Some(s),
            Ok(_) => {
                self.problem(path, "must be a non-empty string of at most 200 characters");
                None
            }
            Err(_) => {
                self.problem(path, "must be a string");
                None
            }
        }
    }

    /// A list of strings (or one string), each checked by `check`.
    fn strings(
        &mut self,
        raw: &RawValue,
        path: &str,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Option<Vec<String>> {
        let list = serde_json::from_str::<Vec<String>>(raw.get())
            .or_else(|_| serde_json::from_str::<String>(raw.get()).map(|s| vec![s]));
        let Ok(list) = list else {
            self.problem(path, "must be a string or a list of strings");
            return None;
        };
        if list.is_empty() {
            self.problem(
                path,
                "must not be empty (leave the key out to match anything)",
            );
            return None;
        }
        let mut ok = true;
        for (i, item) in list.iter().enumerate() {
            if let Err(m) = check(item) {
                self.problem(&format!("{path}[{i}]"), m);
                ok = false;
            }
        }
        ok.then_some(list)
    }

    fn boolean(&mut self, raw: &RawValue, path: &str) -> Option<bool> {
        let b = serde_json::from_str::<bool>(raw.get()).ok();
        if b.is_none() {
            self.problem(path, "must be true or false");
        }
        b
    }

    fn integer(&mut self, raw: &RawValue, path: &str, range: (u64, u64)) -> Option<u64> {
        match serde_json::from_str::<u64>(raw.get()) {
            Ok(n) if (range.0..=range.1).contains(&n) => Some(n),
            _ => {
                self.problem(
                    path,
                    format!("must be an integer from {} to {}", range.0, range.1),
                );
                None
            }
        }
    }

    /// A non-negative decimal from a JSON number or string, read exactly.
    fn decimal(&mut self, raw: &RawValue, path: &str) -> Option<Decimal> {
        let text =
            serde_json::from_str::<String>(raw.get()).unwrap_or_else(|_| raw.get().to_owned());
        let parsed = if text.contains(['e', 'E']) {
            Decimal::from_scientific(&text)
        } else {
            Decimal::from_str(&text)
        };
        match parsed {
            Ok(d) if !d.is_sign_negative() => Some(d),
            _ => {
                self.problem(path, "must be a non-negative amount in major units");
                None
            }
        }
    }

    fn document(&mut self, raw: &RawValue, ctx: &dyn RulesContext) -> Option<Vec<Rule>> {
        let obj = self.object(raw, "", &["rules"])?;
        let Some(list) = obj.get("rules") else {
            self.problem("rules", "is required");
            return None;
        };
        let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(list.get()) else {
            self.problem("rules", "must be a list");
            return None;
        };
        if items.len() > MAX_RULES {
            self.problem("rules", format!("at most {MAX_RULES} rules"));
        }
        let mut names = BTreeSet::new();
        let mut rules = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("rules[{i}]");
            if let Some(rule) = self.rule(item, &path, ctx) {
                if !names.insert(rule.name.clone()) {
                    self.problem(&format!("{path}.name"), "another rule has this name");
                }
                rules.push(rule);
            }
        }
        Some(rules)
    }

    fn rule(&mut self, raw: &RawValue, path: &str, ctx: &dyn RulesContext) -> Option<Rule> {
        let obj = self.object(raw, path, &["name", "when", "then"])?;
        let name = match obj.get("name") {
            Some(n) => self.string(n, &join(path, "name")),
            None => {
                self.problem(&join(path, "name"), "is required");
                None
            }
        };
        let when = match obj.get("when") {
            Some(w) => self.when(w, &join(path, "when"), ctx),
            None => Some(Condition::default()),
        };
        let then = match obj.get("then") {
            Some(t) => self.then(t, &join(path, "then"), ctx),
            None => {
                self.problem(&join(path, "then"), "is required");
                None
            }
        };
        Some(Rule {
            name: name?,
            when: when?,
            then: then?,
        })
    }

    fn when(&mut self, raw: &RawValue, path: &str, ctx: &dyn RulesContext) -> Option<Condition> {
        const KEYS: &[&str] = &[
            "type", "pspType", "currency", "country", "brandId", "amount", "metadata",
        ];
        let obj = self.object(raw, path, KEYS)?;
        let mut c = Condition::default();
        let before = self.problems.len();
        if let Some(t) = obj.get("type") {
            let at = join(path, "type");
            match self.string(t, &at).map(|s| TxnType::parse(&s)) {
                Some(Some(t)) => c.txn_type = Some(t),
                Some(None) => self.problem(&at, "must be \"PAYIN\" or \"PAYOUT\""),
                None => {}
            }
        }
        if let Some(v) = obj.get("pspType") {
            let known = |p: &str| match ctx.psp_known(p) {
                true => Ok(()),
                false => Err(format!("unknown pspType {p:?}")),
            };
            c.psp_types = self
                .strings(v, &join(path, "pspType"), known)
                .unwrap_or_default();
        }
        if let Some(v) = obj.get("currency") {
            let at = join(path, "currency");
            let check = |s: &str| match Currency::from_code(s) {
                Some(_) => Ok(()),
                None => Err("unknown ISO 4217 currency code".to_owned()),
            };
            let list = self.strings(v, &at, check).unwrap_or_default();
            c.currencies = list.iter().filter_map(|s| Currency::from_code(s)).collect();
        }
        if let Some(v) = obj.get("country") {
            let check = |s: &str| match s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) {
                true => Ok(()),
                false => Err("must be an ISO 3166-1 alpha-2 code (\"DE\")".to_owned()),
            };
            c.countries = self
                .strings(v, &join(path, "country"), check)
                .unwrap_or_default();
        }
        if let Some(v) = obj.get("brandId") {
            c.brand_ids = self
                .strings(v, &join(path, "brandId"), |_| Ok(()))
                .unwrap_or_default();
        }
        if let Some(v) = obj.get("amount") {
            let at = join(path, "amount");
            if let Some(range) = self.object(v, &at, &["min", "max"]) {
                c.amount_min = range
                    .get("min")
                    .and_then(|m| self.decimal(m, &join(&at, "min")));
                c.amount_max = range
                    .get("max")
                    .and_then(|m| self.decimal(m, &join(&at, "max")));
                if let (Some(min), Some(max)) = (c.amount_min, c.amount_max) {
                    if min >= max {
                        self.problem(
                            &join(&at, "max"),
                            "must be greater than min (max is exclusive)",
                        );
                    }
                }
            }
        }
        if let Some(v) = obj.get("metadata") {
            let at = join(path, "metadata");
            match serde_json::from_str::<BTreeMap<String, String>>(v.get()) {
                Ok(m) => c.metadata = m.into_iter().collect(),
                Err(_) => self.problem(&at, "must be an object of string values"),
            }
        }
        (self.problems.len() == before).then_some(c)
    }

    fn then(&mut self, raw: &RawValue, path: &str, ctx: &dyn RulesContext) -> Option<Action> {
        const KEYS: &[&str] = &[
            "block",
            "route",
            "fallback",
            "holdForApproval",
            "maxAttempts",
            "cascadePayouts",
        ];
        let obj = self.object(raw, path, KEYS)?;
        match (obj.get("block"), obj.get("route")) {
            (Some(_), Some(_)) => {
                self.problem(path, "has both block and route; a rule does one");
                None
            }
            (Some(reason), None) => {
                for key in obj.keys().filter(|k| k.as_str() != "block") {
                    self.problem(&join(path, key), "only route rules take this key");
                }
                Some(Action::Block(self.string(reason, &join(path, "block"))?))
            }
            (None, Some(route)) => self.route(&obj, route, path, ctx).map(Action::Route),
            (None, None) => {
                self.problem(path, "needs block or route");
                None
            }
        }
    }

    fn route(
        &mut self,
        obj: &Object<'_>,
        route: &RawValue,
        path: &str,
        ctx: &dyn RulesContext,
    ) -> Option<RouteAction> {
        let before = self.problems.len();
        let at = join(path, "route");
        let entries = serde_json::from_str::<Vec<&RawValue>>(route.get()).unwrap_or_default();
        if entries.is_empty() {
            self.problem(
                &at,
                "must be a non-empty list of {\"account\", \"weight\"?}",
            );
        }
        let mut seen = BTreeSet::new();
        let mut route_entries = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let p = format!("{at}[{i}]");
            let Some(e) = self.object(entry, &p, &["account", "weight"]) else {
                continue;
            };
            let account = match e.get("account") {
                Some(a) => self.account(a, &join(&p, "account"), ctx, &mut seen),
                None => {
                    self.problem(&join(&p, "account"), "is required");
                    None
                }
            };
            let weight = e
                .get("weight")
                .and_then(|w| self.integer(w, &join(&p, "weight"), (1, 1_000_000)))
                .map(|w| w as u32);
            if let Some(account) = account {
                route_entries.push(RouteEntry { account, weight });
            }
        }
        let weighted = route_entries.iter().filter(|e| e.weight.is_some()).count();
        if weighted != 0 && weighted != route_entries.len() {
            self.problem(
                &at,
                "give every account a weight (a volume split) or none (a priority list)",
            );
        }
        let mut fallback = Vec::new();
        if let Some(list) = obj.get("fallback") {
            let fp = join(path, "fallback");
            match serde_json::from_str::<Vec<&RawValue>>(list.get()) {
                Ok(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(a) = self.account(item, &format!("{fp}[{i}]"), ctx, &mut seen) {
                            fallback.push(a);
                        }
                    }
                }
                Err(_) => self.problem(&fp, "must be a list of account ids"),
            }
        }
        if route_entries.len() + fallback.len() > MAX_ROUTE_ACCOUNTS {
            self.problem(
                &at,
                format!("at most {MAX_ROUTE_ACCOUNTS} accounts with the fallback"),
            );
        }
        let flag = |w: &mut Self, key: &str| {
            obj.get(key)
                .and_then(|v| w.boolean(v, &join(path, key)))
                .unwrap_or(false)
        };
        let hold_for_approval = flag(self, "holdForApproval");
        let cascade_payouts = flag(self, "cascadePayouts");
        let max_attempts = obj
            .get("maxAttempts")
            .and_then(|v| {
                self.integer(
                    v,
                    &join(path, "maxAttempts"),
                    (1, u64::from(MAX_ATTEMPTS_LIMIT)),
                )
            })
            .map_or(DEFAULT_MAX_ATTEMPTS, |n| n as u32);
        (self.problems.len() == before).then_some(RouteAction {
            route: route_entries,
            fallback,
            hold_for_approval,
            max_attempts,
            cascade_payouts,
        })
    }

    fn account(
        &mut self,
        raw: &RawValue,
        path: &str,
        ctx: &dyn RulesContext,
        seen: &mut BTreeSet<PspAccountId>,
    ) -> Option<PspAccountId> {
        let text = self.string(raw, path)?;
        let Some(id) = PspAccountId::parse(&text) else {
            self.problem(path, "must be a PSP account id (psp_…)");
            return None;
        };
        if !ctx.account_known(&id) {
            self.problem(path, "no such PSP account for this company");
            return None;
        }
        if !seen.insert(id.clone()) {
            self.problem(path, "listed twice in this rule");
            return None;
        }
        Some(id)
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ctx;
    impl RulesContext for Ctx {
        fn psp_known(&self, p: &str) -> bool {
            matches!(p, "PAYMENTSOFT" | "CARDZO")
        }
        fn account_known(&self, id: &PspAccountId) -> bool {
            id.as_str() != "psp_gone"
        }
    }

    fn problems(json: &str) -> Vec<String> {
        match parse_rules(json, 1, &Ctx) {
            Ok(_) => Vec::new(),
            Err(p) => p
                .into_iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect(),
        }
    }

    #[test]
    fn a_complete_document_compiles() {
        let doc = r#"{"rules":[
          {"name":"block TRY","when":{"currency":"TRY"},"then":{"block":"not served"}},
          {"name":"split","when":{"type":"PAYOUT","pspType":["PAYMENTSOFT"],"country":["DE","AT"],
             "brandId":"b1","amount":{"min":10,"max":"5000.50"},"metadata":{"vip":"yes"}},
           "then":{"route":[{"account":"psp_a","weight":70},{"account":"psp_b","weight":30}],
             "fallback":["psp_c"],"holdForApproval":true,"maxAttempts":2,"cascadePayouts":true}}]}"#;
        let set = parse_rules(doc, 7, &Ctx).unwrap();
        assert_eq!(set.version, 7);
        assert_eq!(set.rules.len(), 2);
        assert_eq!(set.rules[0].then, Action::Block("not served".into()));
        let Action::Route(r) = &set.rules[1].then else {
            panic!()
        };
        assert!(r.weighted() && r.hold_for_approval && r.cascade_payouts);
        assert_eq!(r.max_attempts, 2);
        assert_eq!(
            set.rules[1].when.amount_max,
            Some(Decimal::from_str("5000.50").unwrap())
        );
        assert_eq!(set.rules[1].when.brand_ids, vec!["b1".to_owned()]);
    }

    #[test]
    fn every_problem_is_named_by_its_path() {
        let doc = r#"{"rules":[
          {"name":"ok","then":{"route":[{"account":"psp_a"}]}},
          {"name":"bad","when":{"type":"REFUND","currency":["EUR","XXQ"],"amount":{"min":5,"max":5}},
           "then":{"route":[{"account":"psp_gone"},{"account":"nope"},{"account":"psp_a","weight":0}],
             "maxAttempts":0,"extra":1}},
          {"name":"ok","then":{"block":"x","fallback":[]}}]}"#;
        let p = problems(doc);
        for expected in [
            "rules[1].when.type: must be \"PAYIN\" or \"PAYOUT\"",
            "rules[1].when.currency[1]: unknown ISO 4217 currency code",
            "rules[1].when.amount.max: must be greater than min (max is exclusive)",
            "rules[1].then.route[0].account: no such PSP account for this company",
            "rules[1].then.route[1].account: must be a PSP account id (psp_…)",
            "rules[1].then.route[2].weight: must be an integer from 1 to 1000000",
            "rules[1].then.maxAttempts: must be an integer from 1 to 10",
            "rules[2].then.fallback: only route rules take this key",
            "rules[2].name: another rule has this name",
        ] {
            assert!(
                p.iter().any(|x| x == expected),
                "missing {expected:?} in {p:#?}"
            );
        }
        assert!(
            p.iter()
                .any(|x| x.starts_with("rules[1].then.extra: unknown key")),
            "{p:#?}"
        );
    }

    #[test]
    fn shapes_are_checked() {
        assert_eq!(problems("[]"), vec!["body: must be an object"]);
        assert_eq!(problems("{}"), vec!["rules: is required"]);
        assert!(
            problems(r#"{"rules":[{"name":"a","then":{}}]}"#)[0].contains("needs block or route")
        );
        assert!(problems(r#"{"rules":[{"name":"a","then":{"route":[{"account":"psp_a","weight":1},{"account":"psp_b"}]}}]}"#)[0]
            .contains("give every account a weight"));
        assert!(problems(r#"{"rules":[{"name":"a","then":{"route":[{"account":"psp_a"}],"fallback":["psp_a"]}}]}"#)[0]
            .contains("listed twice"));
        assert!(problems(
            r#"{"rules":[{"name":"a","when":{"pspType":"NOPE"},"then":{"block":"b"}}]}"#
        )[0]
        .contains("unknown pspType"));
        assert!(
            problems(r#"{"rules":[]}"#).is_empty(),
            "an empty document clears the rules"
        );
    }
}
