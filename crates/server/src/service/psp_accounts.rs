//! A company's PSP accounts as the merchant API and the CLI manage them: creation and changes
//! checked whole before anything is stored (PSP type, base URL through the outbound policy,
//! credentials through the connector's [`Connector::validate_credentials`], routing limits),
//! deletion (disabled and hidden, kept for history), and the credentials test
//! ([`Connector::test_credentials`], in a `credentials-test` call context). Credentials are
//! write-only: views list their names, never their values.

use crate::app::App;
use crate::service::error::ServiceError;
use overture_connectors::http::{in_context, CallContext};
use overture_core::connector::{AccountContext, Connector, ConnectorError};
use overture_core::routing::AccountLimits;
use overture_core::store::StoreError;
use overture_core::*;
use overture_outbound::{OutboundPolicy, SavedUrl};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// One routing limit of one currency: a value in minor units, or `None` to clear it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    pub currency: Currency,
    /// Minor units; `None` clears the limit.
    pub minor: Option<i64>,
}

/// Parses `10EUR`, `50000.00 EUR` or `noneEUR` (exact, in the currency's minor units), the
/// CLI's spelling of one limit.
pub fn parse_limit(text: &str) -> Result<Limit, String> {
    let t = text.trim();
    let split = t.len().saturating_sub(3);
    if split == 0 || !t.is_char_boundary(split) {
        return Err(format!(
            "{text:?}: expected an amount and a currency, e.g. 10EUR"
        ));
    }
    let (amount, code) = t.split_at(split);
    let currency = Currency::from_code(code.trim())
        .ok_or_else(|| format!("{text:?}: unknown currency {:?}", code.trim()))?;
    limit_of(currency, amount).map_err(|e| format!("{text:?}: {e}"))
}

/// One limit from its currency and the amount text in major units (`none` clears it).
pub fn limit_of(currency: Currency, amount: &str) -> Result<Limit, String> {
    let amount = amount.trim();
    if amount.eq_ignore_ascii_case("none") {
        return Ok(Limit {
            currency,
            minor: None,
        });
    }
    let money = Money::parse_major(amount, currency).map_err(|e| e.to_string())?;
    Ok(Limit {
        currency,
        minor: Some(money.minor()),
    })
}

/// Sets or clears each limit in `map` (currency code → minor units).
pub fn apply_limits(map: &mut BTreeMap<String, i64>, limits: Vec<Limit>) {
    for l in limits {
        match l.minor {
            Some(m) => map.insert(l.currency.code().to_owned(), m),
            None => map.remove(l.currency.code()),
        };
    }
}

/// Parses a daily count cap: a count, or `none` to clear it.
pub fn parse_count_cap(text: &str) -> Result<Option<u64>, String> {
    match text.trim() {
        "none" => Ok(None),
        n => n
            .parse()
            .map(Some)
            .map_err(|_| format!("{text:?}: a count or none")),
    }
}

/// Changes to an account; `None` leaves a setting as it is.
#[derive(Clone, Debug, Default)]
pub struct AccountPatch {
    pub base_url: Option<String>,
    /// Credentials by name: a value replaces that credential, `None` removes it; names not
    /// given stay as they are.
    pub credentials: BTreeMap<String, Option<SecretString>>,
    pub enabled: Option<bool>,
    pub priority: Option<i32>,
    pub min_amount: Vec<Limit>,
    pub max_amount: Vec<Limit>,
    pub daily_amount_cap: Vec<Limit>,
    /// `Some(None)` clears the cap.
    pub daily_count_cap: Option<Option<u64>>,
}

/// The account as the API and the CLI show it: settings, limits in major units, and the
/// names of its credentials (never their values).
pub fn account_view(a: &PspAccount) -> Value {
    let show = |m: &BTreeMap<String, i64>| -> Value {
        m.iter()
            .filter_map(|(c, v)| {
                let cur = Currency::from_code(c)?;
                Some((
                    c.clone(),
                    json!(Money::from_minor(*v, cur).ok()?.to_major_string()),
                ))
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    json!({
        "accountId": a.id, "pspType": a.psp_type, "baseUrl": a.base_url,
        "enabled": a.enabled, "priority": a.priority,
        "minAmount": show(&a.limits.min_amount), "maxAmount": show(&a.limits.max_amount),
        "dailyAmountCap": show(&a.limits.daily_amount_cap), "dailyCountCap": a.limits.daily_count_cap,
        "credentialNames": a.credentials.0.keys().collect::<Vec<_>>(),
        "createdAt": crate::service::views::rfc3339(a.created_at),
    })
}

/// The connector of `psp`, or a field error on `field`.
pub fn connector<'a>(
    registry: &'a overture_connectors::Registry,
    psp: &str,
) -> Result<&'a std::sync::Arc<dyn Connector>, ServiceError> {
    registry.get(psp).ok_or_else(|| ServiceError::InvalidField {
        field: "pspType".into(),
        message: format!("unknown PSP {psp:?} (see GET /v1/api/psps)"),
    })
}

/// The outbound policy's verdict on a base URL being saved (a name that does not resolve from
/// here is accepted: it is checked at every connection).
pub async fn check_base_url(policy: &OutboundPolicy, url: &str) -> Result<(), String> {
    match policy.check_saved_url(url).await {
        Ok(SavedUrl::Accepted | SavedUrl::Unresolved { .. }) => Ok(()),
        Err(refused) => Err(format!("refused ({}): {refused}", refused.code())),
    }
}

/// Checks `credentials` with the connector (names present, formats known); the problem is
/// named `credentials.<name>`.
fn check_credentials(
    connector: &dyn Connector,
    credentials: &Credentials,
) -> Result<(), (String, String)> {
    connector
        .validate_credentials(credentials)
        .map_err(|e| (format!("credentials.{}", e.field), e.message))
}

/// A new account of `company`, checked whole before it is stored; returns it.
pub async fn create(
    app: &App,
    company: &CompanyId,
    psp: &str,
    base_url: String,
    credentials: Credentials,
    patch: AccountPatch,
) -> Result<PspAccount, ServiceError> {
    let connector = connector(&app.registry, psp)?;
    let mut account = PspAccount {
        id: PspAccountId::generate(),
        company_id: company.clone(),
        psp_type: PspType(connector.capabilities().psp_type.to_owned()),
        base_url,
        credentials,
        enabled: true,
        priority: 0,
        limits: AccountLimits::default(),
        created_at: app.now(),
        deleted_at: None,
    };
    let mut problems = Vec::new();
    if let Err(m) = check_base_url(app.http.policy(), &account.base_url).await {
        problems.push(("baseUrl".to_owned(), m));
    }
    apply_patch(&mut account, patch, connector.as_ref(), &mut problems);
    if let Err(p) = check_credentials(connector.as_ref(), &account.credentials) {
        problems.push(p);
    }
    if !problems.is_empty() {
        return Err(ServiceError::InvalidDocument(problems));
    }
    app.store.insert_psp_account(&account).await?;
    app.psp_accounts.invalidate(&account.company_id);
    Ok(account)
}

/// The company's live account `id`; another company's, a deleted or an unknown one is
/// `NotFound`.
pub async fn own_account(
    app: &App,
    company: &CompanyId,
    id: &str,
) -> Result<PspAccount, ServiceError> {
    let id = PspAccountId::parse(id).ok_or(ServiceError::NotFound)?;
    app.store
        .psp_account(&id)
        .await?
        .filter(|a| &a.company_id == company && a.deleted_at.is_none())
        .ok_or(ServiceError::NotFound)
}

/// Applies `patch` to the company's account `id`, checked whole first; returns it as stored.
pub async fn update(
    app: &App,
    company: &CompanyId,
    id: &str,
    mut patch: AccountPatch,
) -> Result<PspAccount, ServiceError> {
    let mut account = own_account(app, company, id).await?;
    let connector = connector(&app.registry, account.psp_type.as_str())?;
    let mut problems = Vec::new();
    if let Some(url) = patch.base_url.take() {
        match check_base_url(app.http.policy(), &url).await {
            Ok(()) => account.base_url = url,
            Err(m) => problems.push(("baseUrl".to_owned(), m)),
        }
    }
    let credentials_changed = !patch.credentials.is_empty();
    apply_patch(&mut account, patch, connector.as_ref(), &mut problems);
    if credentials_changed {
        if let Err(p) = check_credentials(connector.as_ref(), &account.credentials) {
            problems.push(p);
        }
    }
    if !problems.is_empty() {
        return Err(ServiceError::InvalidDocument(problems));
    }
    app.store
        .update_psp_account(&account)
        .await
        .map_err(not_found)?;
    app.psp_accounts.invalidate(company);
    Ok(account)
}

/// Settings, credentials (per name) and limits of `patch` onto `account`; problems are pushed.
fn apply_patch(
    account: &mut PspAccount,
    patch: AccountPatch,
    connector: &dyn Connector,
    problems: &mut Vec<(String, String)>,
) {
    let known = connector.capabilities().credential_fields;
    for (name, value) in patch.credentials {
        match value {
            Some(v) => {
                account.credentials.0.insert(name, v);
            }
            None if known.contains(&name.as_str()) => problems.push((
                format!("credentials.{name}"),
                format!("{} needs it: give a new value instead", account.psp_type),
            )),
            None => {
                account.credentials.0.remove(&name);
            }
        }
    }
    account.enabled = patch.enabled.unwrap_or(account.enabled);
    account.priority = patch.priority.unwrap_or(account.priority);
    apply_limits(&mut account.limits.min_amount, patch.min_amount);
    apply_limits(&mut account.limits.max_amount, patch.max_amount);
    apply_limits(&mut account.limits.daily_amount_cap, patch.daily_amount_cap);
    if let Some(cap) = patch.daily_count_cap {
        account.limits.daily_count_cap = cap;
    }
    for (currency, min) in &account.limits.min_amount {
        if account
            .limits
            .max_amount
            .get(currency)
            .is_some_and(|max| max < min)
        {
            problems.push((
                format!("maxAmount.{currency}"),
                "must be at least minAmount of the same currency".into(),
            ));
        }
    }
}

fn not_found(e: StoreError) -> ServiceError {
    match e {
        StoreError::NotFound(_) => ServiceError::NotFound,
        other => other.into(),
    }
}

/// Deletes the company's account `id`: disabled, out of routing and lists at once, history
/// kept.
pub async fn delete(app: &App, company: &CompanyId, id: &str) -> Result<(), ServiceError> {
    let account = own_account(app, company, id).await?;
    app.store
        .delete_psp_account(company, &account.id, app.now())
        .await
        .map_err(not_found)?;
    app.psp_accounts.invalidate(company);
    Ok(())
}

/// Enables or disables account `id` with the operator's `audit` record (written in the same
/// DB transaction). `StoreError::NotFound` for an unknown or deleted account.
pub async fn set_enabled(
    app: &App,
    id: &PspAccountId,
    enabled: bool,
    audit: &overture_core::backoffice::AuditEntry,
) -> Result<(), StoreError> {
    app.store
        .set_psp_account_enabled(id, enabled, audit)
        .await?;
    // Routing on this node sees the switch at once (other nodes within the cache's TTL).
    if let Some(account) = app.store.psp_account(id).await? {
        app.psp_accounts.invalidate(&account.company_id);
    }
    Ok(())
}

/// The outcome of a credentials test.
#[derive(Clone, Debug)]
pub struct TestOutcome {
    pub ok: bool,
    /// The classified failure's stable code (`INVALID_PSP_CREDENTIALS`, `PSP_UNAVAILABLE`, …).
    pub error_code: Option<&'static str>,
    pub message: Option<String>,
    pub latency_ms: i64,
}

/// Proves the account's credentials with the PSP's cheapest authenticated call.
pub async fn test(app: &App, company: &CompanyId, id: &str) -> Result<TestOutcome, ServiceError> {
    let account = own_account(app, company, id).await?;
    let connector = connector(&app.registry, account.psp_type.as_str())?;
    let ctx = AccountContext::new(&account, &app.public_url);
    let call = CallContext {
        psp: account.psp_type.to_string(),
        account: account.id.clone(),
        transaction: None,
        attempt: None,
        operation: "credentials-test",
        traceparent: crate::trace::current(),
    };
    let started = Instant::now();
    let result = in_context(call, connector.test_credentials(&ctx)).await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    tracing::info!(account = %account.id, psp = %account.psp_type, ok = result.is_ok(), latency_ms, "credentials test");
    Ok(match result {
        Ok(()) => TestOutcome {
            ok: true,
            error_code: None,
            message: None,
            latency_ms,
        },
        Err(e) => TestOutcome {
            ok: false,
            error_code: Some(match &e {
                ConnectorError::Unsupported(_) => "CREDENTIALS_TEST_UNSUPPORTED",
                other => other.error_code(),
            }),
            message: Some(e.to_string()),
            latency_ms,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_an_exact_amount_and_a_currency() {
        let eur = Currency::from_code("EUR").unwrap();
        assert_eq!(
            parse_limit("10EUR").unwrap(),
            Limit {
                currency: eur,
                minor: Some(1_000)
            }
        );
        assert_eq!(parse_limit("50000.00 EUR").unwrap().minor, Some(5_000_000));
        assert_eq!(parse_limit("500JPY").unwrap().minor, Some(500));
        assert_eq!(
            parse_limit("noneEUR").unwrap(),
            Limit {
                currency: eur,
                minor: None
            }
        );
        assert!(parse_limit("10.001EUR").is_err(), "too precise");
        assert!(parse_limit("10XXX").is_err());
        assert!(parse_limit("EUR").is_err());
        assert_eq!(parse_count_cap("none"), Ok(None));
        assert_eq!(parse_count_cap("500"), Ok(Some(500)));
        assert!(parse_count_cap("-1").is_err());
    }
}
