//! Whether one candidate PSP account can take one request, and why not: enabled; its PSP can
//! do the type, currency and country and has its required fields; the account's amount
//! limits and daily caps (over the UTC day, counting attempts the PSP accepted); its health
//! (circuit breaker); not tried already by this transaction.

use crate::app::App;
use crate::service::health::Circuit;
use overture_core::connector::{Connector, FieldError, PaymentRequest};
use overture_core::store::StoreError;
use overture_core::{PspAccount, PspAccountId, TxnType};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Why a candidate cannot take the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The rule names an account the company no longer has.
    UnknownAccount,
    Disabled,
    /// Overture has no connector for the account's PSP type.
    NoConnector,
    /// The PSP cannot do this type, currency or country.
    Unsupported(String),
    /// The PSP needs a field the request lacks (or has in a bad form).
    Field(FieldError),
    /// Outside the account's amount limits.
    Limit(String),
    /// A daily cap would be passed.
    Cap(String),
    /// The circuit breaker skips the account.
    Health(String),
    /// This transaction already had an attempt there.
    Tried,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownAccount => f.write_str("no such PSP account"),
            Self::Disabled => f.write_str("disabled"),
            Self::NoConnector => f.write_str("no connector for this PSP type"),
            Self::Unsupported(m) | Self::Limit(m) | Self::Cap(m) | Self::Health(m) => {
                f.write_str(m)
            }
            Self::Field(e) => write!(f, "{}: {}", e.field, e.message),
            Self::Tried => f.write_str("already tried by this transaction"),
        }
    }
}

/// What the PSP behind `connector` cannot do for `request`: type, currency, country.
pub fn capability_refusal(connector: &dyn Connector, request: &PaymentRequest) -> Option<String> {
    let caps = connector.capabilities();
    let supported = match request.txn_type {
        TxnType::Payin => caps.payin,
        TxnType::Payout => caps.payout,
    };
    if !supported {
        return Some(format!(
            "{} does not support {}",
            caps.psp_type,
            request.txn_type.as_str()
        ));
    }
    let currency = request.amount.currency().code();
    if !caps.currencies.contains(&currency) {
        return Some(format!("{} does not take {currency}", caps.psp_type));
    }
    if let Some(country) = &request.country {
        if !caps.countries.is_empty() && !caps.countries.contains(&country.as_str()) {
            return Some(format!("{} does not serve {country}", caps.psp_type));
        }
    }
    None
}

/// The start of the UTC day containing `now` (ms).
pub fn utc_day_start(now: i64) -> i64 {
    now - now.rem_euclid(DAY_MS)
}

/// Checks one candidate: `Ok(())` when it can take `request` now. Reads the account's usage
/// only when it has a daily cap.
pub async fn check(
    app: &App,
    account: Option<&PspAccount>,
    request: &PaymentRequest,
    tried: &[PspAccountId],
) -> Result<Result<(), Refusal>, StoreError> {
    let Some(account) = account else {
        return Ok(Err(Refusal::UnknownAccount));
    };
    if tried.contains(&account.id) {
        return Ok(Err(Refusal::Tried));
    }
    if !account.enabled {
        return Ok(Err(Refusal::Disabled));
    }
    let Some(connector) = app.registry.get(account.psp_type.as_str()) else {
        return Ok(Err(Refusal::NoConnector));
    };
    if let Some(why) = capability_refusal(connector.as_ref(), request) {
        return Ok(Err(Refusal::Unsupported(why)));
    }
    if let Err(e) = connector.validate(request) {
        return Ok(Err(Refusal::Field(e)));
    }
    if let Err(why) = account.limits.check_amount(request.amount) {
        return Ok(Err(Refusal::Limit(why)));
    }
    let now = app.now();
    if account.limits.has_caps() {
        let usage = app
            .store
            .account_usage(&account.id, utc_day_start(now))
            .await?;
        if let Err(why) = account.limits.check_caps(request.amount, &usage) {
            return Ok(Err(Refusal::Cap(why)));
        }
    }
    let circuit: Circuit = app.health.circuit(&account.id, now);
    if let Some(why) = circuit.refusal() {
        return Ok(Err(Refusal::Health(why)));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_utc_midnight() {
        assert_eq!(utc_day_start(0), 0);
        assert_eq!(utc_day_start(DAY_MS + 5), DAY_MS);
        assert_eq!(
            utc_day_start(1_764_720_000_000 + 3_600_000),
            1_764_720_000_000
        );
    }

    #[test]
    fn refusals_read_as_reasons() {
        assert_eq!(Refusal::Disabled.to_string(), "disabled");
        let f = Refusal::Field(FieldError {
            field: "phone".into(),
            message: "phone is required by GIGADAT".into(),
        });
        assert_eq!(f.to_string(), "phone: phone is required by GIGADAT");
    }
}
