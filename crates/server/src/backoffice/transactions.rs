//! Transaction search (every filter of the issue, paged, newest first) and the detail page:
//! the fields, the full history with actor, reason and time, four-eyes approvals, and every
//! webhook attempt with time, HTTP status, latency and response excerpt.

use crate::app::App;
use crate::backoffice::error::PageError;
use crate::backoffice::format::{self, or_dash, when, when_opt};
use crate::backoffice::lookup::{self, actor_label, company_name};
use crate::backoffice::session::Signed;
use crate::backoffice::views::*;
use crate::backoffice::Backoffice;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use overture_core::backoffice::TxnSearch;
use overture_core::insight::{ExchangeDirection, PspExchange};
use overture_core::*;
use serde::Deserialize;

/// Rows per page.
const PAGE_SIZE: i64 = 50;

/// The search form (every field optional; empty means "any").
#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    id: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    psp_txn: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    psp: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// `PAYIN` or `PAYOUT`.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    currency: String,
    /// Amount range, major units of `currency` (inclusive).
    #[serde(default)]
    min: String,
    #[serde(default)]
    max: String,
    #[serde(default)]
    page: Option<i64>,
}

fn text(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Parses an optional typed field; `what` names it in the message.
fn typed<T>(s: &str, parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<Option<T>, String> {
    match text(s) {
        None => Ok(None),
        Some(v) => parse(&v)
            .map(Some)
            .ok_or_else(|| format!("{what} is not valid: {v:?}.")),
    }
}

impl SearchQuery {
    /// The store query, or what is wrong with the form.
    pub(crate) fn to_search(&self, page: i64) -> Result<TxnSearch, String> {
        let currency = typed(
            &self.currency,
            |c| Currency::from_code(&c.to_ascii_uppercase()),
            "Currency (ISO 4217)",
        )?;
        let bound = |text_value: &str, what: &str| -> Result<Option<i64>, String> {
            let Some(v) = text(text_value) else {
                return Ok(None);
            };
            let Some(c) = currency else {
                return Err(format!("{what} needs a currency."));
            };
            Money::parse_major(&v, c)
                .map(|m| Some(m.minor()))
                .map_err(|e| format!("{what} is not valid: {e}."))
        };
        Ok(TxnSearch {
            txn_type: typed(&self.kind, TxnType::parse, "Type")?,
            currency,
            amount_min: bound(&self.min, "Minimum amount")?,
            amount_max: bound(&self.max, "Maximum amount")?,
            transaction_id: typed(&self.id, TransactionId::parse, "Transaction id (txn_…)")?,
            session_id: typed(&self.session, SessionId::parse, "Session id (ses_…)")?,
            psp_transaction_id: text(&self.psp_txn),
            user_id: text(&self.user),
            merchant_reference: text(&self.reference),
            state: typed(&self.state, TxnState::parse, "State")?,
            psp_type: text(&self.psp).map(PspType),
            company_id: typed(&self.company, CompanyId::parse, "Company")?,
            created_from: typed(&self.from, format::day_start, "From date (YYYY-MM-DD)")?,
            created_before: typed(&self.to, format::day_after, "To date (YYYY-MM-DD)")?,
            limit: PAGE_SIZE,
            offset: (page - 1) * PAGE_SIZE,
            ..Default::default()
        })
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.clone()),
            ("session", self.session.clone()),
            ("psp_txn", self.psp_txn.clone()),
            ("user", self.user.clone()),
            ("reference", self.reference.clone()),
            ("state", self.state.clone()),
            ("psp", self.psp.clone()),
            ("company", self.company.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("kind", self.kind.clone()),
            ("currency", self.currency.clone()),
            ("min", self.min.clone()),
            ("max", self.max.clone()),
        ]
    }

    /// The query string of this search (for the export link).
    pub(crate) fn query_string(&self) -> String {
        let given: Vec<(&str, String)> = self
            .params()
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        serde_urlencoded::to_string(given).unwrap_or_default()
    }

    fn echo(&self) -> SearchEcho {
        SearchEcho {
            id: self.id.clone(),
            session: self.session.clone(),
            psp_txn: self.psp_txn.clone(),
            user: self.user.clone(),
            reference: self.reference.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            currency: self.currency.clone(),
            min: self.min.clone(),
            max: self.max.clone(),
        }
    }
}

fn with_any(current: &str, options: impl Iterator<Item = (String, String)>) -> Vec<Opt> {
    std::iter::once(Opt::new("", "any", current))
        .chain(options.map(|(v, l)| Opt::new(v, l, current)))
        .collect()
}

/// `GET /backoffice/transactions`.
pub async fn search(
    State(bo): State<Backoffice>,
    signed: Signed,
    Query(q): Query<SearchQuery>,
) -> Result<Html<String>, PageError> {
    let app = &bo.app;
    let page = q.page.unwrap_or(1).max(1);
    let companies = lookup::companies(app).await?;
    let (rows, has_more, count, error) = match q.to_search(page) {
        Ok(search) => {
            let found = app.store.search_transactions(&search).await?;
            let count = app.store.count_transactions(&search).await?;
            let rows = found
                .items
                .iter()
                .map(|t| TxnRow {
                    id: t.id.to_string(),
                    created: when(t.created_at),
                    company: company_name(&companies, &t.company_id),
                    kind: t.txn_type.as_str(),
                    psp: t.psp_type.to_string(),
                    amount: format::amount(&t.amount),
                    state: t.state.as_str(),
                    user_id: t.user_id.clone(),
                    reference: or_dash(t.merchant_reference.as_deref()),
                    psp_transaction_id: or_dash(t.psp_transaction_id.as_deref()),
                })
                .collect();
            (rows, found.has_more, Some(count), None)
        }
        Err(message) => (Vec::new(), false, None, Some(message)),
    };
    let kinds = with_any(
        &q.kind,
        [TxnType::Payin, TxnType::Payout]
            .into_iter()
            .map(|t| (t.as_str().to_owned(), t.as_str().to_owned())),
    );
    let states = with_any(
        &q.state,
        TxnState::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), s.as_str().to_owned())),
    );
    let psps = with_any(
        &q.psp,
        app.registry
            .capabilities()
            .into_iter()
            .map(|c| (c.psp_type.to_owned(), c.psp_type.to_owned())),
    );
    let mut company_opts: Vec<_> = companies.values().collect();
    company_opts.sort_by(|a, b| a.name.cmp(&b.name));
    let company_opts = with_any(
        &q.company,
        company_opts
            .into_iter()
            .map(|c| (c.id.to_string(), c.name.clone())),
    );
    render(&SearchPage {
        layout: Layout::new(&signed, "transactions", "Transactions"),
        echo: q.echo(),
        states,
        psps,
        companies: company_opts,
        rows,
        pager: Pager::new("/backoffice/transactions", &q.params(), page, has_more),
        error,
        kinds,
        count: count.map(|n| format!("{n} matching transaction{}", if n == 1 { "" } else { "s" })),
        export: format!("/backoffice/transactions.csv?{}", q.query_string()),
    })
}

/// `GET /backoffice/transactions/{id}`.
pub async fn detail(
    State(bo): State<Backoffice>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let app = &bo.app;
    let id = TransactionId::parse(&id).ok_or(PageError::NotFound)?;
    let txn = app
        .store
        .transaction(&id)
        .await?
        .ok_or(PageError::NotFound)?;
    let events = app.store.events(&id).await?;
    let approvals = app.store.approvals(&id).await?;
    let operator_ids = events
        .iter()
        .filter_map(|e| match &e.actor {
            Actor::Operator(o) => Some(o.clone()),
            _ => None,
        })
        .chain(approvals.iter().map(|a| a.operator_id.clone()));
    let emails = lookup::operator_emails(app, operator_ids.collect::<Vec<_>>()).await?;
    let history = events
        .iter()
        .map(|e| HistoryRow {
            at: when(e.at),
            from: e.from_state.map(|s| s.as_str()).unwrap_or("—").to_owned(),
            to: e.to_state.as_str(),
            actor: actor_label(&e.actor, &emails),
            reason: or_dash(e.reason.as_deref()),
            psp_status: or_dash(e.psp_status.as_deref()),
        })
        .collect();
    let approvals = approvals
        .iter()
        .map(|a| {
            let who = actor_label(&Actor::Operator(a.operator_id.clone()), &emails);
            format!("{who} at {}: {}", when(a.at), or_dash(a.reason.as_deref()))
        })
        .collect();
    let companies = lookup::companies(app).await?;
    render(&DetailPage {
        layout: Layout::new(&signed, "transactions", format!("Transaction {id}")),
        id: id.to_string(),
        state: txn.state.as_str(),
        fields: fields(&txn, &company_name(&companies, &txn.company_id)),
        history,
        approvals,
        webhooks: deliveries(app, &id).await?,
        attempts: app
            .store
            .attempts(&id)
            .await?
            .iter()
            .map(|a| attempt_block(&txn, a))
            .collect(),
        exchanges: app
            .store
            .exchanges(&id)
            .await?
            .iter()
            .map(exchange_row)
            .collect(),
        decide: txn.state == TxnState::AwaitingApproval && signed.can_decide(),
        can_redeliver: signed.can_decide(),
    })
}

fn exchange_row(e: &PspExchange) -> ExchangeRow {
    ExchangeRow {
        at: when(e.at),
        direction: match e.direction {
            ExchangeDirection::Outbound => "Overture → PSP",
            ExchangeDirection::Callback => "PSP → Overture",
        },
        operation: e.operation.clone(),
        request: format!("{} {}", e.method, e.path),
        status: e
            .http_status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "no answer".into()),
        latency: e
            .latency_ms
            .map(|l| format!("{l} ms"))
            .unwrap_or_else(|| "—".into()),
        outcome: or_dash(e.outcome.as_deref()),
        request_excerpt: e.request_excerpt.clone(),
        response_excerpt: e.response_excerpt.clone(),
    }
}

fn attempt_block(txn: &Transaction, a: &Attempt) -> AttemptBlock {
    let live = txn.attempt_id.as_ref() == Some(&a.id);
    let psp_id = if live {
        txn.psp_transaction_id.as_deref()
    } else {
        a.psp_transaction_id.as_deref()
    };
    let d = &a.decision;
    AttemptBlock {
        seq: a.seq,
        account: a.psp_account_id.to_string(),
        psp: a.psp_type.to_string(),
        order_id: a.order_id.to_string(),
        state: a.state.as_str(),
        psp_transaction_id: or_dash(psp_id),
        error: match (&a.error_class, &a.error_message) {
            (Some(c), m) => format!("{}: {}", c.as_str(), m.as_deref().unwrap_or("")),
            (None, _) => "—".into(),
        },
        started: when(a.created_at),
        finished: when_opt(a.finished_at),
        rule: match (&d.rule, d.version) {
            (Some(r), Some(v)) => format!("rule \"{r}\" (version {v})"),
            (Some(r), None) => format!("rule \"{r}\""),
            (None, _) => "default routing (the requested PSP's accounts by priority)".into(),
        },
        candidates: d
            .candidates
            .iter()
            .map(|c| CandidateRow {
                account: c.account.to_string(),
                psp: c.psp_type.clone(),
                eligible: c.eligible,
                chosen: d.chosen.as_ref() == Some(&c.account),
                reason: c.reason.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

fn fields(t: &Transaction, company: &str) -> Vec<(&'static str, String)> {
    let extras = t
        .extras
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        ("Type", t.txn_type.as_str().to_owned()),
        ("Amount", format::amount(&t.amount)),
        (
            "Merchant status",
            t.state.transaction_status().as_str().to_owned(),
        ),
        ("Company", company.to_owned()),
        ("Brand", or_dash(t.brand_id.as_deref())),
        ("User id", t.user_id.clone()),
        ("Country", or_dash(t.country.as_deref())),
        ("PSP", t.psp_type.to_string()),
        ("PSP account", t.psp_account_id.to_string()),
        (
            "PSP transaction id",
            or_dash(t.psp_transaction_id.as_deref()),
        ),
        ("PSP status", or_dash(t.psp_status.as_deref())),
        ("Message", or_dash(t.message.as_deref())),
        (
            "Session id",
            or_dash(t.session_id.as_ref().map(|s| s.as_str())),
        ),
        (
            "Merchant reference",
            or_dash(t.merchant_reference.as_deref()),
        ),
        ("Idempotency key", or_dash(t.idempotency_key.as_deref())),
        // Names only: the values are PII (wallets, phones).
        ("Extra fields", or_dash(Some(extras.as_str()))),
        ("Created", when(t.created_at)),
        ("Updated", when(t.updated_at)),
        ("Submitted", when_opt(t.submitted_at)),
        ("Next status check", when_opt(t.next_poll_at)),
        ("Version", t.version.to_string()),
    ]
}

async fn deliveries(app: &App, id: &TransactionId) -> Result<Vec<DeliveryBlock>, PageError> {
    let mut out = Vec::new();
    for d in app.store.webhooks_for_transaction(id).await? {
        let attempts = app
            .store
            .webhook_attempts(&d.id)
            .await?
            .into_iter()
            .map(|a| AttemptRow {
                n: a.attempt,
                at: when(a.at),
                status: a
                    .http_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no answer".into()),
                latency: format!("{} ms", a.latency_ms),
                excerpt: a.response_excerpt,
            })
            .collect();
        let pending = d.state == DeliveryState::Pending;
        out.push(DeliveryBlock {
            id: d.id.to_string(),
            state: d.state.as_str(),
            next_attempt: if pending {
                when(d.next_attempt_at)
            } else {
                "—".into()
            },
            redeliverable: d.state == DeliveryState::Dead || (pending && d.attempts > 0),
            attempts,
        });
    }
    Ok(out)
}
