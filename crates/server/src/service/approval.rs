//! Operator decisions on held payouts (`awaiting_approval`). Approval moves the payout to
//! `submitting` (committed first) and sends it to the PSP; rejection ends it with the
//! `Rejected` webhook and nothing is sent to the PSP. Both record the operator and reason.

use crate::api::error::ApiError;
use crate::app::App;
use crate::service::progress;
use overture_core::connector::ConnectorError;
use overture_core::store::{StoreError, Transition};
use overture_core::*;

/// Why a decision could not be applied.
fn not_awaiting(txn: &Transaction) -> ApiError {
    ApiError::InvalidState(format!(
        "transaction {} is {}, not awaiting approval",
        txn.id,
        txn.state.as_str()
    ))
}

async fn load_held(app: &App, id: &TransactionId) -> Result<Transaction, ApiError> {
    let txn = app.store.transaction(id).await?.ok_or(ApiError::NotFound)?;
    if txn.state != TxnState::AwaitingApproval {
        return Err(not_awaiting(&txn));
    }
    Ok(txn)
}

fn conflict_as_state(txn: &Transaction, e: StoreError) -> ApiError {
    match e {
        // Another operator (or a double click) decided first.
        StoreError::Conflict(_) => not_awaiting(txn),
        other => other.into(),
    }
}

/// Approves a held payout and submits it. Returns the payout after the PSP's answer and the
/// PSP error, if any (the approval itself stands either way).
pub async fn approve(
    app: &App,
    operator: &Operator,
    id: &TransactionId,
    reason: Option<String>,
) -> Result<(Transaction, Option<ConnectorError>), ApiError> {
    let txn = load_held(app, id).await?;
    let now = app.now();
    let mut t = Transition::of(
        &txn,
        TxnState::Submitting,
        Actor::Operator(operator.id.clone()),
        now,
    );
    t.reason = reason;
    t.next_poll_at = Some(progress::safety_poll_at(app, now));
    let submitting = app
        .store
        .transition(&t)
        .await
        .map_err(|e| conflict_as_state(&txn, e))?;
    tracing::info!(transaction_id = %id, operator = %operator.id, "payout approved");
    progress::submit_payout(app, submitting)
        .await
        .map_err(ApiError::Internal)
}

/// Rejects a held payout: final `rejected`, webhook `Rejected`, nothing sent to the PSP.
pub async fn reject(
    app: &App,
    operator: &Operator,
    id: &TransactionId,
    reason: String,
) -> Result<Transaction, ApiError> {
    let txn = load_held(app, id).await?;
    let actor = Actor::Operator(operator.id.clone());
    let rejected = progress::finalize(app, &txn, TxnState::Rejected, actor, Some(reason), None)
        .await
        .map_err(|e| conflict_as_state(&txn, e))?;
    tracing::info!(transaction_id = %id, operator = %operator.id, "payout rejected");
    Ok(rejected)
}
