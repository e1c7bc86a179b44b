//! `GET /backoffice/overview` (the back office's home; every role): for the last 24 h, 7 d or
//! 30 d and one company or all — counts and volumes of final states per type and currency,
//! acceptance rate and median time to a final status per PSP account, the approval queue, webhook
//! health, and SVG charts of volume and acceptance over time. Final states come from the hourly
//! rollups written with each final state, so the page costs a few small queries whatever the
//! number of transactions.

use crate::backoffice::charts::{self, Bar};
use crate::backoffice::error::PageError;
use crate::backoffice::format;
use crate::backoffice::lookup;
use crate::backoffice::session::Signed;
use crate::backoffice::views::{render, Layout, Opt, OverviewAccount, OverviewPage, OverviewTotal};
use crate::backoffice::Backoffice;
use axum::extract::{Query, State};
use axum::response::Html;
use overture_core::insight::{AccountOverview, OverviewQuery, FINAL_BUCKETS};
use overture_core::money::format_minor;
use overture_core::{CompanyId, Currency, TxnState, TxnType};
use serde::Deserialize;

const HOUR: i64 = 3_600_000;

/// The periods offered: (value, label, length, chart bucket).
const PERIODS: [(&str, &str, i64, i64); 3] = [
    ("24h", "last 24 hours", 24 * HOUR, HOUR),
    ("7d", "last 7 days", 7 * 24 * HOUR, 6 * HOUR),
    ("30d", "last 30 days", 30 * 24 * HOUR, 24 * HOUR),
];

/// What each time-to-final bucket reads as.
const BUCKET_LABELS: [&str; FINAL_BUCKETS] = [
    "under 1 s",
    "1–2 s",
    "2–5 s",
    "5–10 s",
    "10–30 s",
    "30 s–1 min",
    "1–2 min",
    "2–5 min",
    "5–10 min",
    "10–30 min",
    "30 min–1 h",
    "1–2 h",
    "2–6 h",
    "6 h–1 d",
    "over 1 d",
];

#[derive(Deserialize, Default)]
pub struct OverviewQueryForm {
    #[serde(default)]
    period: String,
    #[serde(default)]
    company: String,
}

/// The bucket holding the median of a histogram, read as a range; `—` when empty.
pub fn median(buckets: &[i64; FINAL_BUCKETS]) -> String {
    let total: i64 = buckets.iter().sum();
    if total == 0 {
        return "—".into();
    }
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen * 2 >= total {
            return BUCKET_LABELS[i].to_owned();
        }
    }
    BUCKET_LABELS[FINAL_BUCKETS - 1].to_owned()
}

/// Approved ÷ (approved + declined + failed), as text; rejections are an operator's decision.
fn acceptance(approved: i64, unsuccessful: i64) -> Option<f64> {
    let n = approved + unsuccessful;
    (n > 0).then(|| approved as f64 * 100.0 / n as f64)
}

fn account_row(a: &AccountOverview) -> OverviewAccount {
    OverviewAccount {
        account: a.psp_account_id.clone(),
        psp: a.psp_type.clone(),
        finals: format!(
            "{} approved · {} declined · {} failed{}",
            a.approved,
            a.declined,
            a.failed,
            if a.rejected > 0 {
                format!(" · {} rejected", a.rejected)
            } else {
                String::new()
            }
        ),
        acceptance: acceptance(a.approved, a.declined + a.failed)
            .map(|p| format!("{p:.1}%"))
            .unwrap_or_else(|| "—".into()),
        median: median(&a.buckets),
    }
}

fn amount(code: &str, minor: i64) -> String {
    match Currency::from_code(code) {
        Some(c) => format!("{} {code}", format_minor(minor, c.exponent())),
        None => format!("{minor} {code}"),
    }
}

/// A bucket's label on the x axis: the hour for hourly buckets, else the date (and hour).
fn tick(start: i64, bucket: i64) -> String {
    let text = format::when(start);
    match bucket {
        b if b <= HOUR => text.get(11..16).unwrap_or(&text).to_owned(),
        b if b < 24 * HOUR => format!("{}h", text.get(5..13).unwrap_or(&text)),
        _ => text.get(5..10).unwrap_or(&text).to_owned(),
    }
}

/// `GET /backoffice/overview`.
pub async fn page(
    State(bo): State<Backoffice>,
    signed: Signed,
    Query(q): Query<OverviewQueryForm>,
) -> Result<Html<String>, PageError> {
    let app = &bo.app;
    let (value, label, length, bucket) = PERIODS
        .iter()
        .copied()
        .find(|p| p.0 == q.period)
        .unwrap_or(PERIODS[0]);
    let company = match q.company.trim() {
        "" => None,
        c => Some(
            CompanyId::parse(c).ok_or_else(|| PageError::BadInput("Unknown company.".into()))?,
        ),
    };
    let now = app.now();
    // The series covers whole buckets: from the start of the bucket `length` ago.
    let from = now - length;
    let query = OverviewQuery {
        from: from - from.rem_euclid(bucket),
        to: now + 1,
        company: company.clone(),
        bucket_ms: bucket,
    };
    let v = app.store.overview(&query).await?;
    let mut totals: Vec<OverviewTotal> = v
        .totals
        .iter()
        .map(|t| OverviewTotal {
            kind: t.txn_type.as_str(),
            state: t.state.as_str(),
            count: t.count,
            volume: amount(&t.currency, t.sum_minor),
        })
        .collect();
    totals.sort_by(|a, b| (a.kind, a.state).cmp(&(b.kind, b.state)));
    let approved = |kind: TxnType| {
        v.totals
            .iter()
            .filter(|t| t.txn_type == kind && t.state == TxnState::Approved)
            .map(|t| t.count)
            .sum::<i64>()
    };
    let mut starts: Vec<i64> = Vec::new();
    let mut s = query.from;
    while s <= now {
        starts.push(s);
        s += bucket;
    }
    let point = |start: i64| v.series.iter().find(|p| p.start == start);
    let bars: Vec<Bar> = starts
        .iter()
        .map(|&start| {
            let p = point(start);
            Bar {
                label: tick(start, bucket),
                parts: vec![
                    ("approved", p.map_or(0, |p| p.approved)),
                    ("unsuccessful", p.map_or(0, |p| p.unsuccessful)),
                    ("rejected", p.map_or(0, |p| p.rejected)),
                ],
            }
        })
        .collect();
    let line: Vec<(String, Option<f64>)> = starts
        .iter()
        .map(|&start| {
            let p = point(start);
            (
                tick(start, bucket),
                p.and_then(|p| acceptance(p.approved, p.unsuccessful)),
            )
        })
        .collect();
    let all_unsuccessful: i64 = v.series.iter().map(|p| p.unsuccessful).sum();
    let all_approved: i64 = v.series.iter().map(|p| p.approved).sum();
    let hooks = &v.webhooks;
    let share = |n: i64| {
        if hooks.total == 0 {
            "—".to_owned()
        } else {
            format!("{:.1}%", n as f64 * 100.0 / hooks.total as f64)
        }
    };
    let mut companies: Vec<_> = lookup::companies(app).await?.into_values().collect();
    companies.sort_by(|a, b| a.name.cmp(&b.name));
    let current = company.map(|c| c.to_string()).unwrap_or_default();
    let company_opts = std::iter::once(Opt::new("", "all companies", &current))
        .chain(
            companies
                .iter()
                .map(|c| Opt::new(c.id.to_string(), c.name.clone(), &current)),
        )
        .collect();
    render(&OverviewPage {
        layout: Layout::new(&signed, "overview", "Overview"),
        periods: PERIODS.iter().map(|p| Opt::new(p.0, p.1, value)).collect(),
        companies: company_opts,
        period: label.to_owned(),
        totals,
        payins_approved: approved(TxnType::Payin),
        payouts_approved: approved(TxnType::Payout),
        acceptance: acceptance(all_approved, all_unsuccessful)
            .map(|p| format!("{p:.1}%"))
            .unwrap_or_else(|| "—".into()),
        open: v.open,
        queue: match v.queue_oldest {
            Some(oldest) => format!(
                "{} waiting, oldest {}",
                v.queue_size,
                format::age(now - oldest)
            ),
            None => "nothing waiting".into(),
        },
        webhooks_first: share(hooks.delivered_first_attempt),
        webhooks_failing: hooks.failing,
        webhooks_dead: hooks.dead,
        webhooks_total: hooks.total,
        accounts: v.accounts.iter().map(account_row).collect(),
        volume_chart: charts::stacked_bars("Final states over time (count)", &bars),
        acceptance_chart: charts::percent_line("Acceptance over time", &line),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_bucket_where_half_is_reached() {
        let mut b = [0i64; FINAL_BUCKETS];
        assert_eq!(median(&b), "—");
        b[1] = 1;
        b[4] = 1;
        b[12] = 1;
        assert_eq!(median(&b), "10–30 s");
        b[0] = 10;
        assert_eq!(median(&b), "under 1 s");
        assert_eq!(acceptance(1, 3), Some(25.0));
        assert_eq!(acceptance(0, 0), None);
    }
}
