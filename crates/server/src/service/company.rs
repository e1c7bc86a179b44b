//! A company's own settings, changed by the merchant (`PATCH /v1/api/company`) or by the box's
//! administrator (`overture companies update`): one [`CompanyPatch`] checked whole before
//! anything is stored, and secret rotations with a grace period. Both callers share this code;
//! the HTTP layer also drops the company from this node's cache.

use crate::service::error::ServiceError;
use crate::workers::signing;
use overture_core::backoffice::AuditEntry;
use overture_core::store::{Store, StoreError};
use overture_core::*;
use overture_outbound::{OutboundPolicy, SavedUrl};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Longest company name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Changes to a company's settings; `None` leaves a setting as it is. Threshold maps change
/// only the currencies they name (`None` for a currency removes its own threshold).
#[derive(Clone, Debug, Default)]
pub struct CompanyPatch {
    pub name: Option<String>,
    pub webhook_url: Option<String>,
    pub verify_user_url: Option<String>,
    /// `Some(None)` clears the webhook `Authorization` value.
    pub webhook_authorization: Option<Option<SecretString>>,
    pub verify_payins: Option<bool>,
    /// Keyed by ISO 4217 code (checked by the caller's parser).
    pub payout_approval_thresholds: BTreeMap<String, Option<Decimal>>,
    /// The fallback for currencies without their own (`Some(None)` clears it).
    pub default_payout_approval_threshold: Option<Option<Decimal>>,
    pub four_eyes_thresholds: BTreeMap<String, Option<Decimal>>,
    pub default_four_eyes_threshold: Option<Option<Decimal>>,
}

impl CompanyPatch {
    /// The API names of the settings this patch changes (for the audit record: names only, a
    /// value may be a secret).
    pub fn changed(&self) -> Vec<&'static str> {
        [
            ("name", self.name.is_some()),
            ("webhookUrl", self.webhook_url.is_some()),
            ("verifyUserUrl", self.verify_user_url.is_some()),
            ("webhookAuthorization", self.webhook_authorization.is_some()),
            ("verifyPayins", self.verify_payins.is_some()),
            (
                "payoutApprovalThresholds",
                !self.payout_approval_thresholds.is_empty(),
            ),
            (
                "defaultPayoutApprovalThreshold",
                self.default_payout_approval_threshold.is_some(),
            ),
            ("fourEyesThresholds", !self.four_eyes_thresholds.is_empty()),
            (
                "defaultFourEyesThreshold",
                self.default_four_eyes_threshold.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect()
    }

    /// `"changed: name, webhookUrl"` for the audit record.
    pub fn audit_detail(&self) -> String {
        format!("changed: {}", self.changed().join(", "))
    }
}

/// A field problem as the API names it (`(field, message)`).
pub type Problem = (String, String);

/// Parses a threshold: a JSON string of major units, exact for the currency and positive
/// (`"1000.00"` EUR, `"900000"` CLP).
pub fn parse_threshold(text: &str, currency: Currency) -> Result<Decimal, String> {
    Money::parse_major(text.trim(), currency)
        .map(|m| m.to_decimal())
        .map_err(|e| format!("{text:?}: {e}"))
}

/// The threshold's display form in its currency (`"1000.00"`).
fn major(code: &str, value: &Decimal) -> String {
    Currency::from_code(code)
        .and_then(|c| Money::parse_major(&value.to_string(), c).ok())
        .map(|m| m.to_major_string())
        .unwrap_or_else(|| value.to_string())
}

fn threshold_map(map: &BTreeMap<String, Decimal>) -> Value {
    map.iter()
        .map(|(c, v)| (c.clone(), json!(major(c, v))))
        .collect::<Map<_, _>>()
        .into()
}

/// The settings as `GET /v1/api/company` shows them (no secret: only whether the webhook
/// `Authorization` is set, and until when a rotated-out secret still works).
pub async fn view(store: &dyn Store, company: &Company, now: i64) -> Result<Value, ServiceError> {
    let four_eyes = store.four_eyes_threshold(&company.id).await?;
    let until = |r: &Option<RetiredSecret>| {
        r.as_ref()
            .filter(|r| r.live_at(now).is_some())
            .map(|r| crate::service::views::rfc3339(r.until))
    };
    Ok(json!({
        "companyId": company.id,
        "name": company.name,
        "webhookUrl": company.webhook_url,
        "verifyUserUrl": company.verify_user_url,
        "webhookAuthorizationSet": company.webhook_authorization.is_some(),
        "verifyPayins": company.verify_payins,
        "payoutApprovalThresholds": threshold_map(&company.thresholds.payout_approval),
        "defaultPayoutApprovalThreshold": company.payout_approval_threshold.map(|t| t.normalize().to_string()),
        "fourEyesThresholds": threshold_map(&company.thresholds.four_eyes),
        "defaultFourEyesThreshold": four_eyes.map(|t| t.normalize().to_string()),
        "previousApiSecretValidUntil": until(&company.retired.api),
        "previousWebhookSecretSignsUntil": until(&company.retired.webhook),
        "createdAt": crate::service::views::rfc3339(company.created_at),
    }))
}

/// Applies `patch` to the stored company `id` after checking it whole (text, URLs through the
/// outbound policy, thresholds per currency: four-eyes needs a hold threshold at or below it);
/// nothing is stored when any check fails (`InvalidDocument` naming every field). Returns the
/// company as stored. `audit`: an operator's record, written with the change.
pub async fn update(
    store: &dyn Store,
    policy: &OutboundPolicy,
    id: &CompanyId,
    patch: CompanyPatch,
    audit: Option<&AuditEntry>,
) -> Result<Company, ServiceError> {
    let mut company = store.company(id).await?.ok_or(ServiceError::NotFound)?;
    let mut four_eyes = store.four_eyes_threshold(id).await?;
    let mut problems = Vec::new();
    if let Some(name) = patch.name {
        match check_name(&name) {
            Ok(()) => company.name = name,
            Err(m) => problems.push(("name".into(), m)),
        }
    }
    for (field, url, slot) in [
        ("webhookUrl", patch.webhook_url, &mut company.webhook_url),
        (
            "verifyUserUrl",
            patch.verify_user_url,
            &mut company.verify_user_url,
        ),
    ] {
        if let Some(url) = url {
            match check_url(policy, &url).await {
                Ok(()) => *slot = url,
                Err(m) => problems.push((field.into(), m)),
            }
        }
    }
    if let Some(auth) = patch.webhook_authorization {
        company.webhook_authorization = auth;
    }
    if let Some(v) = patch.verify_payins {
        company.verify_payins = v;
    }
    apply_map(
        &mut company.thresholds.payout_approval,
        patch.payout_approval_thresholds,
    );
    apply_map(
        &mut company.thresholds.four_eyes,
        patch.four_eyes_thresholds,
    );
    if let Some(t) = patch.default_payout_approval_threshold {
        company.payout_approval_threshold = t;
    }
    if let Some(t) = patch.default_four_eyes_threshold {
        four_eyes = t;
    }
    problems.extend(threshold_problems(&company, four_eyes));
    if !problems.is_empty() {
        return Err(ServiceError::InvalidDocument(problems));
    }
    store
        .update_company(&company, four_eyes, audit)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ServiceError::NotFound,
            other => other.into(),
        })?;
    Ok(company)
}

fn apply_map(map: &mut BTreeMap<String, Decimal>, changes: BTreeMap<String, Option<Decimal>>) {
    for (code, value) in changes {
        match value {
            Some(v) => map.insert(code, v),
            None => map.remove(&code),
        };
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("at most {MAX_NAME_CHARS} characters"));
    }
    match crate::input::forbidden_char(name) {
        Some(c) => Err(crate::input::forbidden_message(c)),
        None => Ok(()),
    }
}

/// The outbound policy's verdict on a URL being saved; a host that does not resolve from here
/// is accepted (it is checked again at every connection).
async fn check_url(policy: &OutboundPolicy, url: &str) -> Result<(), String> {
    match policy.check_saved_url(url).await {
        Ok(SavedUrl::Accepted | SavedUrl::Unresolved { .. }) => Ok(()),
        Err(refused) => Err(format!("refused ({}): {refused}", refused.code())),
    }
}

/// Four-eyes applies to held payouts: in every currency where a four-eyes threshold applies,
/// a hold threshold must apply too, at or below it.
fn threshold_problems(company: &Company, four_eyes_default: Option<Decimal>) -> Vec<Problem> {
    let mut codes: Vec<Option<&String>> = company
        .thresholds
        .payout_approval
        .keys()
        .chain(company.thresholds.four_eyes.keys())
        .map(Some)
        .collect();
    codes.push(None);
    codes.dedup();
    let mut problems = Vec::new();
    for code in codes {
        let (held, four, field) = match code {
            Some(c) => (
                company.payout_threshold(c),
                company
                    .thresholds
                    .four_eyes
                    .get(c)
                    .copied()
                    .or(four_eyes_default),
                format!("fourEyesThresholds.{c}"),
            ),
            None => (
                company.payout_approval_threshold,
                four_eyes_default,
                "defaultFourEyesThreshold".to_owned(),
            ),
        };
        let message = match (held, four) {
            (None, Some(_)) => "needs a payout approval threshold for the same currency (only held payouts are approved)",
            (Some(h), Some(f)) if f < h => "must be at least the payout approval threshold of the same currency",
            _ => continue,
        };
        if !problems.iter().any(|(f, _): &Problem| f == &field) {
            problems.push((field, message.to_owned()));
        }
    }
    problems
}

/// A rotation's result: the new secret (shown once) and until when the old one still works.
pub struct Rotated {
    pub secret: SecretString,
    pub previous_valid_until: i64,
}

/// Replaces the company's `which` secret with a fresh one; the old one keeps working (API:
/// verifies tokens; webhook: signs beside the new one) for `grace` from `now`.
pub async fn rotate(
    store: &dyn Store,
    id: &CompanyId,
    which: SecretKind,
    now: i64,
    grace: Duration,
) -> Result<Rotated, ServiceError> {
    let secret = SecretString::from(match which {
        SecretKind::Api => crate::demo::generate_api_secret(),
        SecretKind::Webhook => signing::generate_secret(),
    });
    let until = now.saturating_add(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
    store
        .rotate_company_secret(id, which, &secret, until)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ServiceError::NotFound,
            other => other.into(),
        })?;
    Ok(Rotated {
        secret,
        previous_valid_until: until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn thresholds_are_exact_in_their_currency() {
        assert_eq!(
            parse_threshold("1000.00", eur()).unwrap(),
            Decimal::from(1000)
        );
        assert!(parse_threshold("10.001", eur()).is_err());
        assert!(parse_threshold("0", eur()).is_err());
        let clp = Currency::from_code("CLP").unwrap();
        assert_eq!(
            parse_threshold("900000", clp).unwrap(),
            Decimal::from(900_000)
        );
        assert!(parse_threshold("900000.5", clp).is_err());
        assert_eq!(major("EUR", &Decimal::from(1000)), "1000.00");
    }
}
