//! One PSP account's limits, usage today against its caps, and health (this node's circuit
//! breaker), as the PSP accounts and routing pages show them.

use crate::app::App;
use crate::backoffice::error::PageError;
use crate::backoffice::views::HealthRow;
use crate::service::health::Circuit;
use crate::service::routing::eligibility::utc_day_start;
use crate::service::views::rfc3339;
use overture_core::money::format_minor;
use overture_core::routing::Usage;
use overture_core::{Currency, PspAccount};
use std::collections::BTreeMap;

/// `1000.00 EUR` for minor units of `code`.
pub fn money(code: &str, minor: i64) -> String {
    match Currency::from_code(code) {
        Some(c) => format!("{} {code}", format_minor(minor, c.exponent())),
        None => format!("{minor} {code}"),
    }
}

/// `min 10.00 EUR; max 5000.00 EUR; daily cap 500 payments`, or `none`.
pub fn limits_text(a: &PspAccount) -> String {
    let l = &a.limits;
    let mut parts = Vec::new();
    let each = |m: &BTreeMap<String, i64>| {
        m.iter()
            .map(|(c, v)| money(c, *v))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !l.min_amount.is_empty() {
        parts.push(format!("min {}", each(&l.min_amount)));
    }
    if !l.max_amount.is_empty() {
        parts.push(format!("max {}", each(&l.max_amount)));
    }
    if !l.daily_amount_cap.is_empty() {
        parts.push(format!("daily cap {}", each(&l.daily_amount_cap)));
    }
    if let Some(n) = l.daily_count_cap {
        parts.push(format!("daily cap {n} payments"));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}

/// `3 of 500 accepted; 150.00 EUR of 50000.00 EUR`: today's usage against the caps.
pub fn usage_text(a: &PspAccount, u: &Usage) -> String {
    let amounts: Vec<String> = u
        .amounts
        .iter()
        .map(|(c, v)| match a.limits.daily_amount_cap.get(c) {
            Some(cap) => format!("{} of {}", money(c, *v), money(c, *cap)),
            None => money(c, *v),
        })
        .collect();
    let count = match a.limits.daily_count_cap {
        Some(cap) => format!("{} of {cap} accepted", u.count),
        None => format!("{} accepted", u.count),
    };
    if amounts.is_empty() {
        count
    } else {
        format!("{count}; {}", amounts.join(", "))
    }
}

/// What the circuit's state means, in words (empty when closed with no failure).
fn circuit_detail(circuit: Circuit) -> String {
    match circuit {
        Circuit::Closed { failures: 0 } => String::new(),
        Circuit::Closed { failures } => format!("{failures} technical failure(s) in a row"),
        Circuit::Open { until } => format!("skipped until {}", rfc3339(until)),
        Circuit::HalfOpen { probing } if probing => "a probe is in flight".into(),
        Circuit::HalfOpen { .. } => "the next request probes it".into(),
    }
}

/// The account's row: health now, limits, and usage since the start of the UTC day.
pub async fn health_row(app: &App, a: &PspAccount) -> Result<HealthRow, PageError> {
    let now = app.now();
    let usage = app.store.account_usage(&a.id, utc_day_start(now)).await?;
    let circuit = app.health.circuit(&a.id, now);
    Ok(HealthRow {
        id: a.id.to_string(),
        psp: a.psp_type.to_string(),
        enabled: a.enabled,
        circuit: circuit.name(),
        circuit_detail: circuit_detail(circuit),
        limits: limits_text(a),
        usage: usage_text(a, &usage),
    })
}
