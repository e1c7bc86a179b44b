//! Small lookups shared by the pages: company names, operator labels, the operator's reason.

use crate::app::App;
use crate::backoffice::error::PageError;
use crate::input::{forbidden_char_multiline, forbidden_message};
use overture_core::backoffice::CompanySummary;
use overture_core::*;
use std::collections::HashMap;

/// Longest reason accepted (the JSON API's limit).
pub const REASON_MAX: usize = 1000;

/// Every company by id.
pub async fn companies(app: &App) -> Result<HashMap<CompanyId, CompanySummary>, PageError> {
    Ok(app
        .store
        .company_summaries()
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect())
}

/// A company's name, or its id when unknown.
pub fn company_name(companies: &HashMap<CompanyId, CompanySummary>, id: &CompanyId) -> String {
    companies
        .get(id)
        .map(|c| c.name.clone())
        .unwrap_or_else(|| id.to_string())
}

/// Operator emails by id, for the ids given (each looked up once).
pub async fn operator_emails(
    app: &App,
    ids: impl IntoIterator<Item = OperatorId>,
) -> Result<HashMap<OperatorId, String>, PageError> {
    let mut out = HashMap::new();
    for id in ids {
        if out.contains_key(&id) {
            continue;
        }
        let email = app.store.operator(&id).await?.map(|o| o.email);
        out.insert(id.clone(), email.unwrap_or_else(|| id.to_string()));
    }
    Ok(out)
}

/// `operator a@b.c`, `psp`, `system`, `merchant`.
pub fn actor_label(actor: &Actor, emails: &HashMap<OperatorId, String>) -> String {
    match actor {
        Actor::Operator(id) => format!(
            "operator {}",
            emails.get(id).cloned().unwrap_or_else(|| id.to_string())
        ),
        other => other.to_db(),
    }
}

/// A form whose only field (besides the CSRF token) is the operator's reason.
#[derive(serde::Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    pub reason: String,
}

/// The operator's reason: required, trimmed, at most [`REASON_MAX`] characters.
pub fn required_reason(text: &str) -> Result<String, PageError> {
    let reason = text.trim();
    if reason.is_empty() {
        return Err(PageError::BadInput(
            "A reason is required. Nothing was changed.".into(),
        ));
    }
    if reason.chars().count() > REASON_MAX {
        return Err(PageError::BadInput(format!(
            "The reason must have at most {REASON_MAX} characters. Nothing was changed."
        )));
    }
    if let Some(c) = forbidden_char_multiline(reason) {
        return Err(PageError::BadInput(format!(
            "The reason {}. Nothing was changed.",
            forbidden_message(c)
        )));
    }
    Ok(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_required_and_bounded() {
        assert_eq!(required_reason("  KYC ok ").unwrap(), "KYC ok");
        assert!(required_reason("   ").is_err());
        assert!(required_reason(&"x".repeat(REASON_MAX + 1)).is_err());
        assert!(required_reason("KYC\nok").is_ok());
        assert!(required_reason("KYC\u{0}ok").is_err());
        assert!(required_reason("KYC \u{202e}ko").is_err());
    }

    #[test]
    fn actors_show_operator_emails() {
        let id = OperatorId::generate();
        let emails = HashMap::from([(id.clone(), "a@ops.example".to_owned())]);
        assert_eq!(
            actor_label(&Actor::Operator(id), &emails),
            "operator a@ops.example"
        );
        assert_eq!(actor_label(&Actor::Psp, &emails), "psp");
    }
}
