//! Routing: which PSP account serves a pay-in or payout, and in which order the others are
//! tried (docs/ARCHITECTURE.md). Pure logic, no IO:
//! - [`document`] reads a company's rules document (`{"rules":[{"name","when","then"}]}`) into a
//!   [`RuleSet`], naming the path of every problem (`rules[1].then.route[0].account`);
//! - [`rules`] matches a request's [`Facts`] against the rules top-down (first match wins) and
//!   orders a route's accounts (a weighted draw for a volume split, else priority order, then
//!   the fallback list);
//! - [`limits`] holds an account's amount limits and daily caps and checks them;
//! - this module holds what a routing decision records: the [`RoutingPlan`] stored with a
//!   transaction and the [`Decision`] stored with each attempt and answered by the evaluate call.

pub mod document;
pub mod limits;
pub mod rules;

pub use document::{parse_rules, RuleProblem, RulesContext};
pub use limits::{AccountLimits, Usage};
pub use rules::{Action, Condition, Facts, RouteAction, RouteEntry, Rule, RuleSet};

use crate::ids::PspAccountId;
use serde::{Deserialize, Serialize};

/// Attempts a transaction may have when its rule does not say (`maxAttempts`).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// The most attempts a rule may allow.
pub const MAX_ATTEMPTS_LIMIT: u32 = 10;

/// What routing decided for a transaction, stored with it (JSON) so that every later attempt
/// (a cascade started by the worker, the attempt at approval time) follows the same plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingPlan {
    /// The matched rule's name; `None` for the default (the requested PSP's accounts).
    pub rule: Option<String>,
    /// The rules document version the rule came from.
    pub version: Option<i64>,
    /// Candidate accounts in the order they are tried.
    pub candidates: Vec<PspAccountId>,
    /// At most this many attempts in all.
    pub max_attempts: u32,
    /// A payout may go to the next account after the PSP proved nothing was paid.
    pub cascade_payouts: bool,
    /// The rule sends payouts to the approval queue whatever their amount.
    pub hold_for_approval: bool,
}

/// One candidate account as a decision saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateOutcome {
    pub account: PspAccountId,
    pub psp_type: String,
    pub eligible: bool,
    /// Why it is not eligible (or was not taken).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

/// `"route"` or `"block"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionAction {
    Route,
    Block,
}

/// A routing decision, explained: the matched rule, every candidate with its eligibility and
/// the reason of each refusal, and the chosen account. Stored with each attempt (JSON) and
/// answered by `POST /v1/api/routing/evaluate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<i64>,
    pub action: DecisionAction,
    /// The block rule's reason.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub block_reason: Option<String>,
    pub hold_for_approval: bool,
    pub candidates: Vec<CandidateOutcome>,
    pub chosen: Option<PspAccountId>,
}

impl Decision {
    /// The decision of a block rule.
    pub fn blocked(rule: &str, version: Option<i64>, reason: &str) -> Self {
        Self {
            rule: Some(rule.to_owned()),
            version,
            action: DecisionAction::Block,
            block_reason: Some(reason.to_owned()),
            hold_for_approval: false,
            candidates: Vec::new(),
            chosen: None,
        }
    }
}
