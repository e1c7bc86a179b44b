//! Operator decisions on held payouts (`awaiting_approval`), shared by the JSON API and the
//! back-office pages. Approval moves the payout to `submitting` (committed first) and sends it
//! to the PSP; rejection ends it with the `Rejected` webhook and nothing is sent to the PSP.
//! Both record the operator and reason in the history, and each writes its audit record in
//! the same DB transaction as its state change.
//!
//! The deciding approval (the one that would submit the payout) first asks the MP again
//! whether the user may be paid (`verify::verify_at_approval`): the user may have been
//! blocked since the payout was requested. Denied ⇒ the payout ends `rejected` by the system
//! with the MP's reason (its webhook and the operator's audit record in that same
//! transition) and the operator gets `UserDeniedAtApproval`; the MP cannot be asked ⇒
//! `VerificationUnavailable` and nothing changes, so the operator can simply try again.
//!
//! Four-eyes: when the company has a four-eyes threshold and the payout is at or above it, the
//! first approval is only recorded (the payout keeps waiting, the MP is not asked) and a
//! different operator's approval decides it. One rejection is enough to end it.

use crate::app::App;
use crate::service::audit::{self, Channel};
use crate::service::error::ServiceError;
use crate::service::{attempts, progress, routing, verify};
use overture_core::backoffice::{AuditAction, AuditEntry, NewApproval, PayoutApproval};
use overture_core::connector::ConnectorError;
use overture_core::store::StoreError;
use overture_core::*;

/// Distinct operators whose approvals a four-eyes payout needs.
pub const FOUR_EYES_APPROVALS: usize = 2;

/// Reads and writes of one four-eyes approval when other operators keep approving in
/// between (each retry means another approval was recorded, so a few suffice).
const APPROVAL_ATTEMPTS: usize = 3;

/// Longest MP reason kept in the rejection (characters); the MP's text is not ours to trust.
const MP_REASON_CHARS: usize = 300;

/// What an approval did.
#[derive(Debug)]
pub enum Approved {
    /// The payout went to the PSP; `psp_error` when the PSP call failed (the approval stands,
    /// the poller resolves it).
    Submitted {
        txn: Transaction,
        psp_error: Option<ConnectorError>,
    },
    /// Four-eyes: this approval is recorded; a different operator must approve too.
    NeedsSecond {
        txn: Transaction,
        given: usize,
        required: usize,
    },
}

/// Why a decision could not be applied.
fn not_awaiting(txn: &Transaction) -> ServiceError {
    ServiceError::InvalidState(format!(
        "transaction {} is {}, not awaiting approval",
        txn.id,
        txn.state.as_str()
    ))
}

async fn load_held(app: &App, id: &TransactionId) -> Result<Transaction, ServiceError> {
    let txn = app
        .store
        .transaction(id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    if txn.state != TxnState::AwaitingApproval {
        return Err(not_awaiting(&txn));
    }
    Ok(txn)
}

fn conflict_as_state(txn: &Transaction, e: StoreError) -> ServiceError {
    match e {
        // Another operator (or a double click) decided first.
        StoreError::Conflict(_) => not_awaiting(txn),
        other => other.into(),
    }
}

/// Whether this payout needs two different approvers: at or above the company's four-eyes
/// threshold of its currency, else its fallback four-eyes threshold.
pub async fn needs_four_eyes(app: &App, txn: &Transaction) -> Result<bool, ServiceError> {
    if txn.txn_type != TxnType::Payout {
        return Ok(false);
    }
    let own = app.company(&txn.company_id).await?.and_then(|c| {
        c.thresholds
            .four_eyes
            .get(txn.amount.currency().code())
            .copied()
    });
    let threshold = match own {
        Some(t) => Some(t),
        None => app.store.four_eyes_threshold(&txn.company_id).await?,
    };
    Ok(threshold.is_some_and(|t| txn.amount.to_decimal() >= t))
}

/// The audit record of `operator`'s `action` on `txn`.
fn audit_entry(
    app: &App,
    operator: &Operator,
    channel: Channel,
    action: AuditAction,
    txn: &Transaction,
    reason: &Option<String>,
    detail: Option<&str>,
) -> AuditEntry {
    audit::operator_action(
        operator,
        channel,
        action,
        Some(txn.id.to_string()),
        reason.clone(),
        detail,
        app.now(),
    )
}

fn already_approved(txn: &Transaction) -> ServiceError {
    ServiceError::InvalidState(format!(
        "you already approved {}; the four-eyes rule needs a different operator's approval",
        txn.id
    ))
}

/// Records this operator's four-eyes approval with its audit record ("approval k of 2");
/// returns how many distinct operators approved so far. An operator who already approved
/// counts again only when the payout has all its approvals: their decision was interrupted
/// (the MP could not be asked, or a crash) and this retry may complete it.
async fn count_approval(
    app: &App,
    operator: &Operator,
    txn: &Transaction,
    reason: &Option<String>,
    channel: Channel,
) -> Result<usize, ServiceError> {
    for _ in 0..APPROVAL_ATTEMPTS {
        let prior = app.store.approvals(&txn.id).await?;
        if prior.iter().any(|a| a.operator_id == operator.id) {
            return if prior.len() >= FOUR_EYES_APPROVALS {
                Ok(prior.len())
            } else {
                Err(already_approved(txn))
            };
        }
        let detail = format!(
            "four-eyes: approval {} of {FOUR_EYES_APPROVALS}",
            prior.len() + 1
        );
        let new = NewApproval {
            approval: PayoutApproval {
                transaction_id: txn.id.clone(),
                operator_id: operator.id.clone(),
                reason: reason.clone(),
                at: app.now(),
            },
            prior: prior.len(),
            audit: audit_entry(
                app,
                operator,
                channel,
                AuditAction::Approve,
                txn,
                reason,
                Some(&detail),
            ),
        };
        match app.store.record_approval(&new).await {
            Ok(all) => return Ok(all.len()),
            // Decided meanwhile (then this answers 409), or another approval arrived between
            // the read and the write: read again.
            Err(StoreError::Conflict(_) | StoreError::Duplicate(_)) => {
                load_held(app, &txn.id).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ServiceError::InvalidState(format!(
        "approvals of {} kept changing; try again",
        txn.id
    )))
}

/// Approves a held payout: asks the MP again, then submits it to the PSP; or, under
/// four-eyes, records the first approval and keeps it waiting.
pub async fn approve(
    app: &App,
    operator: &Operator,
    id: &TransactionId,
    reason: Option<String>,
    channel: Channel,
) -> Result<Approved, ServiceError> {
    let txn = load_held(app, id).await?;
    let four_eyes = needs_four_eyes(app, &txn).await?;
    if four_eyes {
        let given = count_approval(app, operator, &txn, &reason, channel).await?;
        if given < FOUR_EYES_APPROVALS {
            tracing::info!(transaction_id = %id, operator = %operator.id, "first of two approvals");
            return Ok(Approved::NeedsSecond {
                txn,
                given,
                required: FOUR_EYES_APPROVALS,
            });
        }
    }
    let prefix = if four_eyes {
        "four-eyes: deciding approval; "
    } else {
        ""
    };
    let company = app
        .company(&txn.company_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("company {} is gone", txn.company_id))?;
    match verify::verify_at_approval(app, &company, &txn).await {
        Ok(()) => {}
        Err(ServiceError::UserNotVerified(mp_reason)) => {
            let decision = Decision {
                app,
                operator,
                channel,
                reason,
            };
            return Err(decision.reject_denied(&txn, prefix, mp_reason).await);
        }
        Err(e) => {
            tracing::warn!(transaction_id = %id, operator = %operator.id, error = %e, "approval stopped: the merchant platform could not be asked");
            return Err(e);
        }
    }
    // Routed again now: the account chosen at creation may be disabled, capped or down.
    let request = progress::payment_request(&txn);
    let (decision, chosen) = routing::route_next(app, &txn, &request).await?;
    let Some(account) = chosen else {
        let reasons = decision
            .candidates
            .iter()
            .map(|c| (c.account.to_string(), c.reason.clone().unwrap_or_default()))
            .collect();
        tracing::warn!(transaction_id = %id, operator = %operator.id, "approval stopped: no PSP account can take the payout");
        return Err(ServiceError::NoEligibleAccount(reasons));
    };
    let actor = Actor::Operator(operator.id.clone());
    let mut t = attempts::start_transition(app, &txn, &account, decision, actor);
    t.reason = reason.clone();
    let detail = format!("{prefix}submitted to the PSP");
    t.audit = Some(audit_entry(
        app,
        operator,
        channel,
        AuditAction::Approve,
        &txn,
        &reason,
        Some(&detail),
    ));
    let submitting = app
        .store
        .transition(&t)
        .await
        .map_err(|e| conflict_as_state(&txn, e))?;
    tracing::info!(transaction_id = %id, operator = %operator.id, "payout approved");
    let (txn, psp_error) =
        attempts::drive(app, submitting, &account, &progress::Secrets::new()).await?;
    Ok(Approved::Submitted { txn, psp_error })
}

/// An operator's approval that the MP turned down.
struct Decision<'a> {
    app: &'a App,
    operator: &'a Operator,
    channel: Channel,
    reason: Option<String>,
}

impl Decision<'_> {
    /// Ends `txn` `rejected` by the system with the MP's reason, writing the operator's
    /// approval attempt to the audit log in the same transition; returns the error the
    /// operator sees (`UserDeniedAtApproval`, or `InvalidState` when someone decided first).
    async fn reject_denied(
        self,
        txn: &Transaction,
        prefix: &str,
        mp_reason: Option<String>,
    ) -> ServiceError {
        let why = match mp_reason {
            Some(r) => format!(
                "merchant platform denied the user at approval: {}",
                r.chars()
                    .filter(|c| !c.is_control())
                    .take(MP_REASON_CHARS)
                    .collect::<String>()
            ),
            None => "merchant platform denied the user at approval".to_owned(),
        };
        let app = self.app;
        let mut t = progress::final_transition(
            app,
            txn,
            TxnState::Rejected,
            Actor::System,
            Some(why.clone()),
            None,
        );
        let detail = format!("{prefix}{why}; rejected by the system");
        t.audit = Some(audit_entry(
            app,
            self.operator,
            self.channel,
            AuditAction::Approve,
            txn,
            &self.reason,
            Some(&detail),
        ));
        match progress::commit_final(app, &t).await {
            Ok(_) => {
                tracing::info!(transaction_id = %txn.id, operator = %self.operator.id, "payout rejected: the merchant platform denied the user at approval");
                ServiceError::UserDeniedAtApproval(why)
            }
            Err(e) => conflict_as_state(txn, e),
        }
    }
}

/// Rejects a held payout: final `rejected`, webhook `Rejected`, nothing sent to the PSP.
pub async fn reject(
    app: &App,
    operator: &Operator,
    id: &TransactionId,
    reason: String,
    channel: Channel,
) -> Result<Transaction, ServiceError> {
    let txn = load_held(app, id).await?;
    let actor = Actor::Operator(operator.id.clone());
    let mut t = progress::final_transition(
        app,
        &txn,
        TxnState::Rejected,
        actor,
        Some(reason.clone()),
        None,
    );
    t.audit = Some(audit_entry(
        app,
        operator,
        channel,
        AuditAction::Reject,
        &txn,
        &Some(reason),
        None,
    ));
    let rejected = progress::commit_final(app, &t)
        .await
        .map_err(|e| conflict_as_state(&txn, e))?;
    tracing::info!(transaction_id = %id, operator = %operator.id, "payout rejected");
    Ok(rejected)
}
