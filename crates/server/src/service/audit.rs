//! The operator audit trail: every operator action (login, logout, approve, reject, redeliver,
//! enable/disable account) is appended with who, what, when and why. Writing happens after
//! the action succeeded; a failed audit write is logged loudly but does not undo the action,
//! which has already happened.

use crate::app::App;
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

/// Appends `entry`; a storage failure is logged, never returned (see the module docs).
pub async fn record(app: &App, entry: AuditEntry) {
    if let Err(e) = app.store.append_audit(&entry).await {
        tracing::error!(error = ?e, action = entry.action.as_str(), target = ?entry.target, "audit write failed");
    }
}

/// Appends an action by `operator` through `channel`, with extra `detail` when given.
pub async fn operator_action(
    app: &App,
    operator: &Operator,
    channel: Channel,
    action: AuditAction,
    target: Option<String>,
    reason: Option<String>,
    detail: Option<&str>,
) {
    let detail = match detail {
        Some(d) => format!("{}; {d}", channel.as_str()),
        None => channel.as_str().to_owned(),
    };
    let e = entry(operator, action, target, reason, detail, app.now());
    record(app, e).await;
}
