//! Routing a payment to a PSP account (the rules themselves are `overture_core::routing`):
//! - [`route_new`]: a new Cashier request — match the company's rules (cached per company, a
//!   change reaches every node within [`RULES_TTL`]), check every candidate's eligibility, order
//!   them (weighted draw, priority, fallback) and choose the first eligible one;
//! - [`route_next`]: the next attempt of a stored transaction, from its stored plan, skipping
//!   accounts it already tried;
//! - [`evaluate`]: the same decision for the dry-run endpoint, storing and calling nothing.
//!
//! No rule matches ⇒ the company's enabled accounts of the requested `pspType`, highest
//! priority first, with [`DEFAULT_MAX_ATTEMPTS`] and no payout cascade.

pub mod eligibility;

use crate::app::App;
use crate::cache::PerCompany;
use crate::service::create::NewPayment;
use crate::service::error::ServiceError;
use eligibility::Refusal;
use overture_core::connector::PaymentRequest;
use overture_core::routing::{
    parse_rules, Action, CandidateOutcome, Decision, DecisionAction, Facts, RoutingPlan, RuleSet,
    RulesContext, DEFAULT_MAX_ATTEMPTS,
};
use overture_core::store::StoreError;
use overture_core::{Company, CompanyId, PspAccount, PspAccountId, Transaction};
use rand::Rng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a node trusts its cached copy of a company's rules.
pub const RULES_TTL: Duration = Duration::from_secs(2);

/// Parsed rules per company, refreshed after [`RULES_TTL`] and at once on this node when
/// they are stored here.
pub struct RulesCache(PerCompany<Arc<RuleSet>>);

impl Default for RulesCache {
    fn default() -> Self {
        Self(PerCompany::new(RULES_TTL))
    }
}

/// Stored documents were checked when stored; accounts that are gone since are refused per
/// candidate at routing time.
struct Stored;

impl RulesContext for Stored {
    fn psp_known(&self, _: &str) -> bool {
        true
    }
    fn account_known(&self, _: &PspAccountId) -> bool {
        true
    }
}

impl RulesCache {
    /// The company's active rules (empty when none are stored).
    pub async fn get(&self, app: &App, company: &CompanyId) -> Result<Arc<RuleSet>, StoreError> {
        if let Some(rules) = self.0.fresh(company) {
            return Ok(rules);
        }
        let rules = match app.store.routing_rules(company).await? {
            None => RuleSet::default(),
            Some(stored) => {
                parse_rules(&stored.document, stored.version, &Stored).unwrap_or_else(|p| {
                    tracing::error!(company = %company, version = stored.version, problems = ?p,
                    "stored routing rules no longer parse; routing by default");
                    RuleSet::default()
                })
            }
        };
        let rules = Arc::new(rules);
        self.0.put(company, rules.clone());
        Ok(rules)
    }

    /// Forgets the company's cached rules (they were just stored through this node).
    pub fn invalidate(&self, company: &CompanyId) {
        self.0.invalidate(company);
    }
}

/// Checks a rules document against the registry's PSP types and the company's `accounts`.
pub fn validate_document(
    registry: &overture_connectors::Registry,
    accounts: &[PspAccount],
    json: &str,
) -> Result<RuleSet, ServiceError> {
    struct Ctx<'a> {
        registry: &'a overture_connectors::Registry,
        accounts: &'a [PspAccount],
    }
    impl RulesContext for Ctx<'_> {
        fn psp_known(&self, psp_type: &str) -> bool {
            self.registry.get(psp_type).is_some()
        }
        fn account_known(&self, id: &PspAccountId) -> bool {
            self.accounts.iter().any(|a| &a.id == id)
        }
    }
    parse_rules(json, 0, &Ctx { registry, accounts }).map_err(|problems| {
        ServiceError::InvalidDocument(problems.into_iter().map(|p| (p.path, p.message)).collect())
    })
}

/// Validates and stores a rules document as the company's next version, active at once (on
/// this node now, on the others within [`RULES_TTL`]). Returns the version. A refused document
/// changes nothing: the previous version stays active. An operator's change carries its
/// `audit` record, written in the same DB transaction.
pub async fn store_rules(
    app: &App,
    company: &CompanyId,
    json: &str,
    created_by: &str,
    audit: Option<&overture_core::backoffice::AuditEntry>,
) -> Result<i64, ServiceError> {
    let accounts = app.store.psp_accounts(company).await?;
    validate_document(&app.registry, &accounts, json)?;
    let version = app
        .store
        .put_routing_rules(company, json, app.now(), created_by, audit)
        .await?;
    app.routing_rules.invalidate(company);
    tracing::info!(company = %company, version, created_by, "routing rules stored and active");
    Ok(version)
}

/// A new request's routing: the plan stored with the transaction, the decision stored with its
/// first attempt, and the chosen account.
#[derive(Debug)]
pub struct Routed {
    pub plan: RoutingPlan,
    pub decision: Decision,
    pub account: PspAccount,
}

/// What [`decide`] found.
struct Found {
    plan: RoutingPlan,
    decision: Decision,
    account: Option<PspAccount>,
    refusals: Vec<(PspAccountId, Refusal)>,
}

/// Routes a new request (see the module docs). Errors: `RoutingBlocked` for a block rule,
/// the field or capability errors of the requested PSP when no rule matched, `NoEligibleAccount`
/// when no candidate can take it.
pub async fn route_new(
    app: &App,
    company: &Company,
    input: &NewPayment,
    request: &PaymentRequest,
) -> Result<Routed, ServiceError> {
    let found = decide(app, company, input, request, true).await?;
    match found.account {
        Some(account) => Ok(Routed {
            plan: found.plan,
            decision: found.decision,
            account,
        }),
        None => Err(no_account(found.refusals)),
    }
}

/// The evaluate answer for a request: storing nothing, calling nothing, taking no probe slot.
pub async fn evaluate(
    app: &App,
    company: &Company,
    input: &NewPayment,
    request: &PaymentRequest,
) -> Result<Decision, ServiceError> {
    match decide(app, company, input, request, false).await {
        Ok(found) => Ok(found.decision),
        Err(ServiceError::RoutingBlocked {
            rule,
            version,
            reason,
        }) => Ok(Decision::blocked(&rule, Some(version), &reason)),
        Err(e) => Err(e),
    }
}

/// The next attempt of `txn` from its stored plan: the decision and the chosen account, if any
/// candidate it has not tried can take it now. `request` is what the connector would be sent.
pub async fn route_next(
    app: &App,
    txn: &Transaction,
    request: &PaymentRequest,
) -> Result<(Decision, Option<PspAccount>), ServiceError> {
    let Some(plan) = txn.routing.clone() else {
        return Ok((empty_decision(None, None, false), None));
    };
    let tried: Vec<PspAccountId> = app
        .store
        .attempts(&txn.id)
        .await?
        .into_iter()
        .map(|a| a.psp_account_id)
        .collect();
    let accounts = app
        .psp_accounts
        .get(app.store.as_ref(), &txn.company_id)
        .await?;
    let mut decision = empty_decision(plan.rule.clone(), plan.version, plan.hold_for_approval);
    let mut chosen = None;
    for id in &plan.candidates {
        let account = accounts.iter().find(|a| &a.id == id);
        let verdict = eligibility::check(app, account, request, &tried).await?;
        let outcome = outcome_of(id, account, &verdict);
        if let (Ok(()), None, Some(a)) = (&verdict, &chosen, account) {
            if app.health.admit(&a.id, app.now()) {
                decision.chosen = Some(a.id.clone());
                chosen = Some(a.clone());
            }
        }
        decision.candidates.push(outcome);
    }
    Ok((decision, chosen))
}

fn empty_decision(rule: Option<String>, version: Option<i64>, hold: bool) -> Decision {
    Decision {
        rule,
        version,
        action: DecisionAction::Route,
        block_reason: None,
        hold_for_approval: hold,
        candidates: Vec::new(),
        chosen: None,
    }
}

fn outcome_of(
    id: &PspAccountId,
    account: Option<&PspAccount>,
    verdict: &Result<(), Refusal>,
) -> CandidateOutcome {
    CandidateOutcome {
        account: id.clone(),
        psp_type: account.map(|a| a.psp_type.to_string()).unwrap_or_default(),
        eligible: verdict.is_ok(),
        reason: verdict.as_ref().err().map(ToString::to_string),
    }
}

/// Matches the rules, checks every candidate and chooses; `admit` takes the chosen account's
/// probe slot when its circuit is half open (not for a dry run).
async fn decide(
    app: &App,
    company: &Company,
    input: &NewPayment,
    request: &PaymentRequest,
    admit: bool,
) -> Result<Found, ServiceError> {
    let rules = app.routing_rules.get(app, &company.id).await?;
    let accounts = app
        .psp_accounts
        .get(app.store.as_ref(), &company.id)
        .await?;
    let facts = Facts {
        txn_type: input.txn_type,
        psp_type: input.psp_type.as_deref(),
        amount: input.amount,
        country: input.country.as_deref(),
        brand_id: input.brand_id.as_deref(),
        metadata: &input.metadata,
    };
    let (mut plan, listed) = match rules.evaluate(&facts).map(|r| (&r.name, &r.then)) {
        Some((name, Action::Block(reason))) => {
            return Err(ServiceError::RoutingBlocked {
                rule: name.clone(),
                version: rules.version,
                reason: reason.clone(),
            })
        }
        Some((name, Action::Route(route))) => {
            let mut listed: Vec<PspAccountId> =
                route.route.iter().map(|e| e.account.clone()).collect();
            listed.extend(route.fallback.iter().cloned());
            let plan = RoutingPlan {
                rule: Some(name.clone()),
                version: Some(rules.version),
                candidates: Vec::new(),
                max_attempts: route.max_attempts,
                cascade_payouts: route.cascade_payouts,
                hold_for_approval: route.hold_for_approval,
            };
            (plan, Some((listed, route.clone())))
        }
        None => {
            let plan = default_plan(app, company, input, request, &accounts)?;
            (plan, None)
        }
    };
    let candidates: Vec<PspAccountId> = match &listed {
        Some((ids, _)) => ids.clone(),
        None => plan.candidates.clone(),
    };
    let mut verdicts = HashMap::new();
    for id in &candidates {
        let account = accounts.iter().find(|a| &a.id == id);
        verdicts.insert(
            id.clone(),
            (
                account,
                eligibility::check(app, account, request, &[]).await?,
            ),
        );
    }
    if let Some((_, route)) = &listed {
        let random = rand::thread_rng().gen::<u64>();
        plan.candidates = route.order(|id| verdicts.get(id).is_some_and(|v| v.1.is_ok()), random);
    }
    let mut decision = empty_decision(plan.rule.clone(), plan.version, plan.hold_for_approval);
    let (mut chosen, mut refusals) = (None, Vec::new());
    for id in &plan.candidates {
        let Some((account, verdict)) = verdicts.get(id) else {
            continue;
        };
        decision.candidates.push(outcome_of(id, *account, verdict));
        match (verdict, &chosen, account) {
            (Ok(()), None, Some(a)) if !admit || app.health.admit(&a.id, app.now()) => {
                decision.chosen = Some(a.id.clone());
                chosen = Some((*a).clone());
            }
            (Ok(()), _, _) => {}
            (Err(r), _, _) => refusals.push((id.clone(), r.clone())),
        }
    }
    Ok(Found {
        plan,
        decision,
        account: chosen,
        refusals,
    })
}

/// No rule matched: the requested PSP's enabled accounts by priority. The request must name a
/// `pspType` the PSP can serve, with the fields it needs (checked first, as Mozarto does).
fn default_plan(
    app: &App,
    company: &Company,
    input: &NewPayment,
    request: &PaymentRequest,
    accounts: &[PspAccount],
) -> Result<RoutingPlan, ServiceError> {
    let Some(psp_type) = input.psp_type.as_deref() else {
        return Err(ServiceError::InvalidField {
            field: "pspType".into(),
            message: "Missing required field: pspType (no routing rule matched this request)"
                .into(),
        });
    };
    let connector = app
        .registry
        .get(psp_type)
        .ok_or_else(|| ServiceError::InvalidField {
            field: "pspType".into(),
            message: format!("unknown pspType {psp_type:?}"),
        })?;
    if let Some(why) = eligibility::capability_refusal(connector.as_ref(), request) {
        return Err(ServiceError::PspNotSupported(why));
    }
    connector
        .validate(request)
        .map_err(|e| ServiceError::InvalidField {
            field: e.field,
            message: e.message,
        })?;
    let candidates: Vec<PspAccountId> = accounts
        .iter()
        .filter(|a| a.enabled && a.psp_type.as_str() == psp_type)
        .map(|a| a.id.clone())
        .collect();
    if candidates.is_empty() {
        return Err(ServiceError::PspNotConfigured(format!(
            "no enabled {psp_type} account for company {}",
            company.id
        )));
    }
    Ok(RoutingPlan {
        rule: None,
        version: None,
        candidates,
        max_attempts: DEFAULT_MAX_ATTEMPTS,
        cascade_payouts: false,
        hold_for_approval: false,
    })
}

/// The error when no candidate can take the request: a field the PSPs need (400) when that is
/// every candidate's problem, the PSPs' capability (422 `PSP_NOT_SUPPORTED`) likewise, else 422
/// `NO_ELIGIBLE_ACCOUNT` with every candidate's reason.
fn no_account(refusals: Vec<(PspAccountId, Refusal)>) -> ServiceError {
    let all = |f: fn(&Refusal) -> bool| !refusals.is_empty() && refusals.iter().all(|(_, r)| f(r));
    if all(|r| matches!(r, Refusal::Field(_))) {
        if let Some((_, Refusal::Field(e))) = refusals.first() {
            return ServiceError::InvalidField {
                field: e.field.clone(),
                message: e.message.clone(),
            };
        }
    }
    if all(|r| matches!(r, Refusal::Unsupported(_))) {
        let why: Vec<String> = refusals.iter().map(|(_, r)| r.to_string()).collect();
        return ServiceError::PspNotSupported(why.join("; "));
    }
    ServiceError::NoEligibleAccount(
        refusals
            .into_iter()
            .map(|(id, r)| (id.to_string(), r.to_string()))
            .collect(),
    )
}
