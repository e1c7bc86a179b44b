//! What an approver sees of a user beside a held payout: their pay-ins and payouts with this
//! company (counts and totals by outcome, net deposits, earlier rejections, the last five
//! transactions) and what the merchant platform said when the payout was requested.

use crate::app::App;
use crate::backoffice::error::PageError;
use crate::backoffice::format;
use crate::backoffice::views::{RecentRow, UserContext};
use crate::service::create::VERIFIED_AT_CREATION;
use overture_core::insight::UserTotal;
use overture_core::money::format_minor;
use overture_core::{Currency, Transaction, TxnState, TxnType};
use std::collections::BTreeMap;

/// How many recent transactions are shown.
const RECENT: usize = 5;

fn money(code: &str, minor: i64) -> String {
    match Currency::from_code(code) {
        Some(c) => format!("{} {code}", format_minor(minor, c.exponent())),
        None => format!("{minor} {code}"),
    }
}

/// `3 approved: 150.00 EUR · 1 declined` for one type.
fn summary(totals: &[UserTotal], kind: TxnType) -> String {
    let mut parts = Vec::new();
    for state in [
        TxnState::Approved,
        TxnState::Declined,
        TxnState::Failed,
        TxnState::Rejected,
    ] {
        let rows: Vec<&UserTotal> = totals
            .iter()
            .filter(|t| t.txn_type == kind && t.state == state)
            .collect();
        let n: i64 = rows.iter().map(|t| t.count).sum();
        if n == 0 {
            continue;
        }
        if state == TxnState::Approved {
            let sums: Vec<String> = rows
                .iter()
                .map(|t| money(&t.currency, t.sum_minor))
                .collect();
            parts.push(format!("{n} approved: {}", sums.join(", ")));
        } else {
            parts.push(format!("{n} {}", state.as_str()));
        }
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(" · ")
    }
}

/// Approved pay-ins minus approved payouts, per currency.
fn net(totals: &[UserTotal]) -> String {
    let mut by: BTreeMap<&str, i64> = BTreeMap::new();
    for t in totals.iter().filter(|t| t.state == TxnState::Approved) {
        let sign = match t.txn_type {
            TxnType::Payin => 1,
            TxnType::Payout => -1,
        };
        *by.entry(t.currency.as_str()).or_default() += sign * t.sum_minor;
    }
    if by.is_empty() {
        return "none".into();
    }
    by.iter()
        .map(|(c, v)| {
            let text = money(c, v.abs());
            if *v >= 0 {
                format!("+{text}")
            } else {
                format!("−{text}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The user's history with `txn`'s company, `txn` itself left out.
pub async fn of(app: &App, txn: &Transaction) -> Result<UserContext, PageError> {
    let history = app
        .store
        .user_history(&txn.company_id, &txn.user_id, RECENT as i64 + 1)
        .await?;
    let rejections: i64 = history
        .totals
        .iter()
        .filter(|t| t.state == TxnState::Rejected)
        .map(|t| t.count)
        .sum();
    Ok(UserContext {
        payins: summary(&history.totals, TxnType::Payin),
        payouts: summary(&history.totals, TxnType::Payout),
        net: net(&history.totals),
        rejections: match rejections {
            0 => "none".into(),
            1 => "1 earlier payout rejected".into(),
            n => format!("{n} earlier payouts rejected"),
        },
        recent: history
            .recent
            .iter()
            .filter(|t| t.id != txn.id)
            .take(RECENT)
            .map(|t| RecentRow {
                id: t.id.to_string(),
                when: format::when(t.created_at),
                kind: t.txn_type.as_str(),
                amount: format::amount(&t.amount),
                state: t.state.as_str(),
            })
            .collect(),
    })
}

/// What the MP said when the payout was requested (from its first history event).
pub async fn verification(app: &App, txn: &Transaction) -> Result<String, PageError> {
    let events = app.store.events(&txn.id).await?;
    let verified = events.first().and_then(|e| e.reason.as_deref()) == Some(VERIFIED_AT_CREATION);
    Ok(if verified {
        format!(
            "allowed when requested ({}); asked again at the deciding approval",
            format::when(txn.created_at)
        )
    } else {
        "not recorded (created before verification answers were kept); asked at the deciding approval".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(kind: TxnType, state: TxnState, count: i64, sum: i64) -> UserTotal {
        UserTotal {
            txn_type: kind,
            state,
            currency: "EUR".into(),
            count,
            sum_minor: sum,
        }
    }

    #[test]
    fn totals_read_as_an_approver_needs_them() {
        let totals = vec![
            t(TxnType::Payin, TxnState::Approved, 3, 15_000),
            t(TxnType::Payin, TxnState::Declined, 1, 500),
            t(TxnType::Payout, TxnState::Approved, 1, 8_000),
            t(TxnType::Payout, TxnState::Rejected, 2, 100_000),
        ];
        assert_eq!(
            summary(&totals, TxnType::Payin),
            "3 approved: 150.00 EUR · 1 declined"
        );
        assert_eq!(
            summary(&totals, TxnType::Payout),
            "1 approved: 80.00 EUR · 2 rejected"
        );
        assert_eq!(net(&totals), "+70.00 EUR");
        assert_eq!(
            net(&[t(TxnType::Payout, TxnState::Approved, 1, 100)]),
            "−1.00 EUR"
        );
        assert_eq!(summary(&[], TxnType::Payin), "none");
    }
}
