//! The operator audit trail: every operator action (login, logout, approve, reject, redeliver,
//! enable/disable account, set password, settings and routing changes, credentials tests) is
//! recorded with who, what, when and why; company settings changed through the merchant API or
//! the command line are recorded too, with that channel as the actor. This
//! module only builds the records: each one is handed to the store operation that carries
//! out the action (`Transition::audit`, `record_approval`, `redeliver_webhook`, …) and
//! written in that action's DB transaction, so an action never exists without its record
//! (and a record that cannot be written undoes the action).

use overture_core::backoffice::{AuditAction, AuditEntry};
use overture_core::Operator;

/// Where an operator acted from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// The back-office web pages (session cookie).
    Web,
    /// The JSON API (operator bearer token).
    Api,
    /// The `overture` command line.
    Cli,
}

impl Channel {
    /// `"web"`, `"api"` or `"cli"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Api => "api",
            Self::Cli => "cli",
        }
    }
}

/// An action by a known operator.
pub fn entry(
    operator: &Operator,
    action: AuditAction,
    target: Option<String>,
    reason: Option<String>,
    detail: String,
    at: i64,
) -> AuditEntry {
    AuditEntry {
        id: 0,
        at,
        operator_id: Some(operator.id.clone()),
        operator_email: operator.email.clone(),
        action,
        target,
        reason,
        detail: Some(detail),
    }
}

/// The record of an action by `operator` through `channel` at `at` (ms): detail
/// `"<channel>"`, or `"<channel>; <detail>"` when `detail` is given.
pub fn operator_action(
    operator: &Operator,
    channel: Channel,
    action: AuditAction,
    target: Option<String>,
    reason: Option<String>,
    detail: Option<&str>,
    at: i64,
) -> AuditEntry {
    let detail = match detail {
        Some(d) => format!("{}; {d}", channel.as_str()),
        None => channel.as_str().to_owned(),
    };
    entry(operator, action, target, reason, detail, at)
}

/// The record of a change made without an operator: by the merchant through its API, or by the
/// box's administrator on the command line. `who` is what the audit log shows as the actor
/// (`"merchant API"`, `"command line"`).
pub fn actor_action(
    who: &str,
    channel: Channel,
    action: AuditAction,
    target: Option<String>,
    detail: Option<&str>,
    at: i64,
) -> AuditEntry {
    let detail = match detail {
        Some(d) => format!("{}; {d}", channel.as_str()),
        None => channel.as_str().to_owned(),
    };
    AuditEntry {
        id: 0,
        at,
        operator_id: None,
        operator_email: who.to_owned(),
        action,
        target,
        reason: None,
        detail: Some(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overture_core::{OperatorId, Role};

    #[test]
    fn records_name_the_operator_and_channel() {
        let op = Operator {
            id: OperatorId::generate(),
            email: "ann@ops.example".into(),
            role: Role::Approver,
            token_sha256: String::new(),
            created_at: 1,
            disabled_at: None,
        };
        let e = operator_action(
            &op,
            Channel::Api,
            AuditAction::Approve,
            Some("txn_1".into()),
            Some("KYC ok".into()),
            Some("submitted to the PSP"),
            42,
        );
        assert_eq!(e.operator_id, Some(op.id.clone()));
        assert_eq!(e.operator_email, "ann@ops.example");
        assert_eq!(e.detail.as_deref(), Some("api; submitted to the PSP"));
        assert_eq!((e.at, e.reason.as_deref()), (42, Some("KYC ok")));
        let plain = operator_action(&op, Channel::Web, AuditAction::Reject, None, None, None, 1);
        assert_eq!(plain.detail.as_deref(), Some("web"));
    }
}
