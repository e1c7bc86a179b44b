//! The page models: one askama template struct per page (templates in `templates/`, compiled
//! into the binary and HTML-escaped by default), plus the shared layout and table rows. Every
//! value is pre-formatted text, so templates hold no logic beyond loops and conditions.

use crate::backoffice::error::PageError;
use crate::backoffice::session::Signed;
use askama::Template;
use axum::response::Html;

/// Renders a page, mapping a template failure to an internal error.
pub fn render(page: &impl Template) -> Result<Html<String>, PageError> {
    page.render()
        .map(Html)
        .map_err(|e| PageError::Internal(e.into()))
}

/// The frame around every signed-in page: title, navigation, operator, logout, notice.
pub struct Layout {
    pub title: String,
    /// Which navigation entry is current (`queue`, `transactions`, …).
    pub active: &'static str,
    pub email: String,
    pub role: &'static str,
    pub csrf: String,
    pub is_admin: bool,
    /// A one-line confirmation of the last action.
    pub notice: Option<String>,
}

impl Layout {
    pub fn new(signed: &Signed, active: &'static str, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            active,
            email: signed.operator.email.clone(),
            role: signed.operator.role.as_str(),
            csrf: signed.session.csrf_token.clone(),
            is_admin: signed.is_admin(),
            notice: None,
        }
    }
}

/// Previous/next links of a paged list.
pub struct Pager {
    pub page: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// One `<option>`.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Opt {
    pub fn new(value: impl Into<String>, label: impl Into<String>, current: &str) -> Self {
        let value = value.into();
        Self {
            selected: value == current,
            label: label.into(),
            value,
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub csrf: String,
    pub email: String,
    pub next: String,
    /// Why the login failed (wrong password, locked, …).
    pub error: Option<String>,
    /// Neutral information (session expired, logged out).
    pub info: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub code: &'static str,
    pub status: u16,
    pub message: String,
    pub login_link: bool,
}

/// A held payout in the queue.
pub struct QueueRow {
    pub id: String,
    pub company: String,
    pub amount: String,
    pub user_id: String,
    pub psp: String,
    pub age: String,
    pub created: String,
    pub reference: String,
    /// `1 of 2 approvals` under four-eyes.
    pub four_eyes: Option<String>,
    /// The approval needs a confirmation: the amount is at or above the four-eyes threshold.
    pub confirm: bool,
    /// What the MP said of the user when the payout was requested.
    pub verification: String,
    pub history: UserContext,
}

/// A user's history with the company, beside a held payout.
pub struct UserContext {
    /// `3 approved: 150.00 EUR · 1 declined`.
    pub payins: String,
    pub payouts: String,
    /// Approved pay-ins minus approved payouts, per currency (`+70.00 EUR`).
    pub net: String,
    /// Earlier payouts rejected by an operator or the system.
    pub rejections: String,
    pub recent: Vec<RecentRow>,
}

/// One of a user's recent transactions.
pub struct RecentRow {
    pub id: String,
    pub when: String,
    pub kind: &'static str,
    pub amount: String,
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "queue.html")]
pub struct QueuePage {
    pub layout: Layout,
    pub rows: Vec<QueueRow>,
    pub can_decide: bool,
    pub pager: Pager,
}

/// A transaction in search results.
pub struct TxnRow {
    pub id: String,
    pub created: String,
    pub company: String,
    pub kind: &'static str,
    pub psp: String,
    pub amount: String,
    pub state: &'static str,
    pub user_id: String,
    pub reference: String,
    pub psp_transaction_id: String,
}

/// The search form's values, echoed back.
#[derive(Default)]
pub struct SearchEcho {
    pub id: String,
    pub session: String,
    pub psp_txn: String,
    pub user: String,
    pub reference: String,
    pub from: String,
    pub to: String,
    pub currency: String,
    pub min: String,
    pub max: String,
}

#[derive(Template)]
#[template(path = "transactions.html")]
pub struct SearchPage {
    pub layout: Layout,
    pub echo: SearchEcho,
    pub states: Vec<Opt>,
    pub psps: Vec<Opt>,
    pub companies: Vec<Opt>,
    pub rows: Vec<TxnRow>,
    pub pager: Pager,
    /// A problem with the filters (nothing was searched).
    pub error: Option<String>,
    pub kinds: Vec<Opt>,
    /// `1234 matching transactions`.
    pub count: Option<String>,
    /// The CSV export of this search.
    pub export: String,
}

/// One history entry.
pub struct HistoryRow {
    pub at: String,
    pub from: String,
    pub to: &'static str,
    pub actor: String,
    pub reason: String,
    pub psp_status: String,
}

/// One HTTP attempt of a webhook.
pub struct AttemptRow {
    pub n: i32,
    pub at: String,
    pub status: String,
    pub latency: String,
    pub excerpt: String,
}

/// A webhook delivery with its attempts.
pub struct DeliveryBlock {
    pub id: String,
    pub state: &'static str,
    pub next_attempt: String,
    pub redeliverable: bool,
    pub attempts: Vec<AttemptRow>,
}

#[derive(Template)]
#[template(path = "transaction.html")]
pub struct DetailPage {
    pub layout: Layout,
    pub id: String,
    pub state: &'static str,
    pub fields: Vec<(&'static str, String)>,
    pub history: Vec<HistoryRow>,
    /// Four-eyes approvals so far (`who, when, reason`).
    pub approvals: Vec<String>,
    pub webhooks: Vec<DeliveryBlock>,
    pub attempts: Vec<AttemptBlock>,
    pub exchanges: Vec<ExchangeRow>,
    /// Show the approve/reject form.
    pub decide: bool,
    pub can_redeliver: bool,
}

/// One attempt of a transaction with the routing decision that chose its account.
pub struct AttemptBlock {
    pub seq: u32,
    pub account: String,
    pub psp: String,
    pub order_id: String,
    pub state: &'static str,
    pub psp_transaction_id: String,
    pub error: String,
    pub started: String,
    pub finished: String,
    /// `rule "name" (version N)` or `default routing`.
    pub rule: String,
    pub candidates: Vec<CandidateRow>,
}

/// One entry of the PSP exchange log (already masked).
pub struct ExchangeRow {
    pub at: String,
    /// `Overture → PSP` or `PSP → Overture`.
    pub direction: &'static str,
    pub operation: String,
    pub request: String,
    pub status: String,
    pub latency: String,
    pub outcome: String,
    pub request_excerpt: String,
    pub response_excerpt: String,
}

/// One candidate of a routing decision.
pub struct CandidateRow {
    pub account: String,
    pub psp: String,
    pub eligible: bool,
    pub chosen: bool,
    pub reason: String,
}

/// `/backoffice/overview`, the home page.
#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub layout: Layout,
    pub periods: Vec<Opt>,
    pub companies: Vec<Opt>,
    /// `last 24 hours`.
    pub period: String,
    pub totals: Vec<OverviewTotal>,
    pub payins_approved: i64,
    pub payouts_approved: i64,
    pub acceptance: String,
    pub open: i64,
    pub queue: String,
    pub webhooks_first: String,
    pub webhooks_failing: i64,
    pub webhooks_dead: i64,
    pub webhooks_total: i64,
    pub accounts: Vec<OverviewAccount>,
    /// Server-rendered SVG (numbers and escaped labels only).
    pub volume_chart: String,
    pub acceptance_chart: String,
}

/// Final states of one type in one state and currency.
pub struct OverviewTotal {
    pub kind: &'static str,
    pub state: &'static str,
    pub count: i64,
    pub volume: String,
}

/// One PSP account on the overview.
pub struct OverviewAccount {
    pub account: String,
    pub psp: String,
    pub finals: String,
    pub acceptance: String,
    pub median: String,
}

/// `/backoffice/routing`: each company's active rules, their versions, and its accounts'
/// health and usage today.
#[derive(Template)]
#[template(path = "routing.html")]
pub struct RoutingPage {
    pub layout: Layout,
    pub companies: Vec<RoutingBlock>,
}

/// One company on the routing page.
pub struct RoutingBlock {
    pub id: String,
    pub name: String,
    /// `version 3, stored 2026-12-03 10:00 by merchant`, or `no rules: default routing`.
    pub active: String,
    pub rules: Vec<RuleRow>,
    /// The active document, pretty-printed.
    pub document: String,
    /// What the editor shows: the document just refused, else the active one.
    pub draft: String,
    /// Why the last submitted document was refused, each with its path.
    pub errors: Vec<String>,
    /// The dry-run body shown, and the decision it got.
    pub dry_run_body: String,
    pub decision: Option<DecisionView>,
    pub versions: Vec<VersionRow>,
    pub accounts: Vec<HealthRow>,
}

/// A stored version of a company's rules.
pub struct VersionRow {
    pub version: i64,
    pub stored: String,
    pub by: String,
}

/// A routing decision as the dry-run form shows it.
pub struct DecisionView {
    /// `rule "x" (version 3)`, `default routing`, or `blocked by rule "x": reason`.
    pub summary: String,
    pub hold: bool,
    pub chosen: String,
    pub candidates: Vec<CandidateRow>,
}

/// One version of a company's rules with its changes since the one before.
#[derive(Template)]
#[template(path = "routing_version.html")]
pub struct RoutingVersionPage {
    pub layout: Layout,
    pub company_id: String,
    pub company: String,
    pub version: i64,
    pub stored: String,
    pub active: bool,
    /// The diff against the version before (`+`, `-` or ` ` then the line).
    pub diff: Vec<DiffLine>,
    pub previous: Option<i64>,
}

/// One line of a diff.
pub struct DiffLine {
    /// `add`, `del` or `same`.
    pub class: &'static str,
    pub text: String,
}

/// One rule, summarised.
pub struct RuleRow {
    pub n: usize,
    pub name: String,
    pub when: String,
    pub then: String,
}

/// One account's health and today's usage.
pub struct HealthRow {
    pub id: String,
    pub psp: String,
    pub enabled: bool,
    pub circuit: &'static str,
    pub circuit_detail: String,
    pub limits: String,
    pub usage: String,
}

/// A problem delivery.
pub struct DeliveryRow {
    pub id: String,
    pub transaction_id: String,
    pub company: String,
    pub state: &'static str,
    pub attempts: i32,
    pub last_status: String,
    pub last_error: String,
    pub next_attempt: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
pub struct WebhooksPage {
    pub layout: Layout,
    pub filters: Vec<Opt>,
    pub rows: Vec<DeliveryRow>,
    pub can_redeliver: bool,
    pub pager: Pager,
}

/// A PSP account with its capabilities and recent success rate.
pub struct AccountRow {
    pub id: String,
    pub psp: String,
    pub name: String,
    pub enabled: bool,
    pub priority: i32,
    pub base_url: String,
    pub directions: String,
    pub currencies: String,
    pub countries: String,
    pub async_model: String,
    pub success: String,
    /// Limits, caps, usage today and circuit state.
    pub health: HealthRow,
}

/// A company's accounts.
pub struct CompanyBlock {
    pub id: String,
    pub name: String,
    pub thresholds: String,
    pub accounts: Vec<AccountRow>,
}

#[derive(Template)]
#[template(path = "accounts.html")]
pub struct AccountsPage {
    pub layout: Layout,
    pub companies: Vec<CompanyBlock>,
    pub window: String,
}

/// One audit record.
pub struct AuditRow {
    pub at: String,
    pub who: String,
    pub action: &'static str,
    pub target: String,
    /// Link to the target's page, when it has one.
    pub href: Option<String>,
    pub reason: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub actions: Vec<Opt>,
    pub rows: Vec<AuditRow>,
    pub pager: Pager,
}

impl Pager {
    /// Links to the neighbouring pages of `path`, keeping the non-empty `params`.
    pub fn new(path: &str, params: &[(&str, String)], page: i64, has_more: bool) -> Self {
        let link = |p: i64| {
            let mut q: Vec<(&str, String)> = params
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .cloned()
                .collect();
            q.push(("page", p.to_string()));
            format!(
                "{path}?{}",
                serde_urlencoded::to_string(q).unwrap_or_default()
            )
        };
        Self {
            page,
            prev: (page > 1).then(|| link(page - 1)),
            next: has_more.then(|| link(page + 1)),
        }
    }
}

/// The confirmation shown after an action (`?done=approved&id=txn_…`). Only known codes and
/// id-shaped values are shown, so a crafted link cannot put arbitrary text on the page.
pub fn notice(done: Option<&str>, id: Option<&str>) -> Option<String> {
    let id = id
        .filter(|i| i.len() <= 80 && i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or("");
    let text = match done? {
        "approved" => format!("Payout {id} approved and sent to the PSP."),
        "approved_psp_error" => format!(
            "Payout {id} approved; the PSP call failed, so the payout stays pending until a status check resolves it."
        ),
        "approved_psp_failed" => format!(
            "Payout {id} approved, but the PSP refused it: it is now failed and the merchant is notified."
        ),
        "first_approval" => format!(
            "Your approval of {id} is recorded. Four-eyes rule: a different operator must approve it too."
        ),
        "rejected" => format!("Payout {id} rejected; the merchant is notified."),
        "redelivered" => format!("Webhook {id} queued for redelivery with the same webhook-id."),
        "enabled" => format!("PSP account {id} enabled: back in routing."),
        "disabled" => format!("PSP account {id} disabled: out of routing."),
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pager_links_keep_filters() {
        let p = Pager::new(
            "/backoffice/transactions",
            &[("user", "u 1".into()), ("state", String::new())],
            2,
            true,
        );
        assert_eq!(
            p.prev.as_deref(),
            Some("/backoffice/transactions?user=u+1&page=1")
        );
        assert_eq!(
            p.next.as_deref(),
            Some("/backoffice/transactions?user=u+1&page=3")
        );
        assert!(Pager::new("/x", &[], 1, false).prev.is_none());
    }

    #[test]
    fn notices_only_for_known_codes_and_ids() {
        assert!(notice(Some("approved"), Some("txn_1"))
            .unwrap()
            .contains("txn_1"));
        assert_eq!(notice(Some("hacked"), Some("txn_1")), None);
        let n = notice(Some("rejected"), Some("<script>")).unwrap();
        assert!(!n.contains("script"));
    }
}
