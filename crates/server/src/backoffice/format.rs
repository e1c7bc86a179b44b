//! Display helpers for the pages: times, ages, amounts, and parsing of the search form's
//! dates. Everything is UTC.

use crate::service::views::rfc3339;
use overture_core::Money;
use std::time::{Duration, UNIX_EPOCH};

/// `2026-11-21 13:41:37 UTC`.
pub fn when(ms: i64) -> String {
    let text = rfc3339(ms);
    let seconds = text.get(..19).unwrap_or(&text);
    format!("{} UTC", seconds.replace('T', " "))
}

/// Optional time, or a dash.
pub fn when_opt(ms: Option<i64>) -> String {
    ms.map(when).unwrap_or_else(|| "—".into())
}

/// A short age: `45s`, `12m`, `3h 05m`, `2d 04h`.
pub fn age(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3_599 => format!("{}m", s / 60),
        3_600..=86_399 => format!("{}h {:02}m", s / 3_600, (s % 3_600) / 60),
        _ => format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3_600),
    }
}

/// `1500.00 EUR`.
pub fn amount(m: &Money) -> String {
    format!("{} {}", m.to_major_string(), m.currency().code())
}

/// Optional text, or a dash.
pub fn or_dash(s: Option<&str>) -> String {
    match s {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => "—".into(),
    }
}

/// Start of a `YYYY-MM-DD` day in ms (UTC), or `None` when it is not such a date.
pub fn day_start(date: &str) -> Option<i64> {
    let date = date.trim();
    if date.len() != 10 {
        return None;
    }
    let t = humantime::parse_rfc3339(&format!("{date}T00:00:00Z")).ok()?;
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// Start of the day after `date`, so a "to" date includes the whole day.
pub fn day_after(date: &str) -> Option<i64> {
    day_start(date).map(|ms| ms + Duration::from_secs(86_400).as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use overture_core::Currency;

    #[test]
    fn formats() {
        assert_eq!(when(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
        assert_eq!(when_opt(None), "—");
        assert_eq!(age(45_000), "45s");
        assert_eq!(age(12 * 60_000 + 5), "12m");
        assert_eq!(age(3 * 3_600_000 + 5 * 60_000), "3h 05m");
        assert_eq!(age(2 * 86_400_000 + 4 * 3_600_000), "2d 04h");
        let eur = Currency::from_code("EUR").unwrap();
        assert_eq!(
            amount(&Money::from_minor(150_000, eur).unwrap()),
            "1500.00 EUR"
        );
        assert_eq!(or_dash(Some("")), "—");
    }

    #[test]
    fn dates_parse_as_utc_days() {
        assert_eq!(day_start("1970-01-02"), Some(86_400_000));
        assert_eq!(day_after("1970-01-01"), Some(86_400_000));
        assert_eq!(day_start("yesterday"), None);
        assert_eq!(day_start("2026-13-01"), None);
    }
}
