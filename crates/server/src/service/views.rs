//! JSON shapes: the merchant webhook payload (README) and the transaction view returned
//! by the status endpoint. Times are RFC 3339 UTC with milliseconds.

use overture_core::store::Transition;
use overture_core::*;
use serde_json::{json, Value};
use std::time::{Duration, UNIX_EPOCH};

/// RFC 3339 UTC (`2026-11-21T13:41:37.123Z`) for milliseconds since the epoch.
pub fn rfc3339(ms: i64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
        .to_string()
}

/// The webhook body for `txn` reaching the final state `to` through transition `t`:
/// `{transaction_id, psp_transaction_id, user_id, status, transaction_status, message, amount
/// ("100.00", major units), currency, merchantReference, type, pspType}`. `transaction_status`
/// is the normalised outcome (`Approved`, `Declined`, `Failed`, `Rejected`); `status` is the
/// PSP's own raw word when it gave one, else the internal state name. Absent values
/// (`psp_transaction_id`, `message`, `merchantReference`) are `null`, as in the status API.
pub fn webhook_payload(txn: &Transaction, to: TxnState, t: &Transition) -> String {
    let psp_transaction_id = t
        .psp_transaction_id
        .as_ref()
        .or(txn.psp_transaction_id.as_ref());
    let status = match to {
        TxnState::Rejected => to.as_str().to_owned(),
        _ => t
            .psp_status
            .clone()
            .unwrap_or_else(|| to.as_str().to_owned()),
    };
    json!({
        "transaction_id": txn.id,
        "psp_transaction_id": psp_transaction_id,
        "user_id": txn.user_id,
        "status": status,
        "transaction_status": to.transaction_status().as_str(),
        "message": t.message.clone().or_else(|| t.reason.clone()),
        "amount": txn.amount.to_major_string(),
        "currency": txn.amount.currency().code(),
        "merchantReference": txn.merchant_reference,
        "type": txn.txn_type.as_str(),
        "pspType": txn.psp_type,
    })
    .to_string()
}

/// One attempt as the status API shows it; the live attempt's PSP status and id are the
/// transaction's (progress the PSP reported since its last state change).
pub fn attempt_view(txn: &Transaction, a: &Attempt) -> Value {
    let live = txn.attempt_id.as_ref() == Some(&a.id);
    let (psp_status, psp_transaction_id) = if live {
        (txn.psp_status.as_ref(), txn.psp_transaction_id.as_ref())
    } else {
        (a.psp_status.as_ref(), a.psp_transaction_id.as_ref())
    };
    json!({
        "attemptId": a.id,
        "seq": a.seq,
        "pspType": a.psp_type,
        "pspAccountId": a.psp_account_id,
        "orderId": a.order_id,
        "state": a.state.as_str(),
        "live": live && !a.state.is_final(),
        "pspStatus": psp_status,
        "pspTransactionId": psp_transaction_id,
        "errorClass": a.error_class.map(|c| c.as_str()),
        "errorMessage": a.error_message,
        "decision": a.decision,
        "createdAt": rfc3339(a.created_at),
        "acceptedAt": a.accepted_at.map(rfc3339),
        "finishedAt": a.finished_at.map(rfc3339),
    })
}

/// The transaction with its history, attempts and webhook deliveries (status endpoint).
pub fn transaction_view(
    txn: &Transaction,
    events: &[TransactionEvent],
    attempts: &[Attempt],
    webhooks: &[WebhookDelivery],
) -> Value {
    json!({
        "transactionId": txn.id,
        "sessionId": txn.session_id,
        "type": txn.txn_type.as_str(),
        "pspType": txn.psp_type,
        "status": txn.state.transaction_status().as_upper(),
        "transactionStatus": txn.state.transaction_status().as_str(),
        "state": txn.state.as_str(),
        "amount": txn.amount.to_major_string(),
        "currency": txn.amount.currency().code(),
        "userId": txn.user_id,
        "brandId": txn.brand_id,
        "merchantReference": txn.merchant_reference,
        "pspTransactionId": txn.psp_transaction_id,
        "pspStatus": txn.psp_status,
        "message": txn.message,
        "url": txn.redirect_url,
        "createdAt": rfc3339(txn.created_at),
        "updatedAt": rfc3339(txn.updated_at),
        "history": events.iter().map(|e| json!({
            "from": e.from_state.map(TxnState::as_str),
            "to": e.to_state.as_str(),
            "actor": e.actor.to_db(),
            "reason": e.reason,
            "pspStatus": e.psp_status,
            "at": rfc3339(e.at),
        })).collect::<Vec<_>>(),
        "routing": txn.routing.as_ref().map(|p| json!({
            "rule": p.rule,
            "version": p.version,
            "candidates": p.candidates,
            "maxAttempts": p.max_attempts,
            "cascadePayouts": p.cascade_payouts,
            "holdForApproval": p.hold_for_approval,
        })),
        "metadata": txn.metadata,
        "attempts": attempts.iter().map(|a| attempt_view(txn, a)).collect::<Vec<_>>(),
        "webhooks": webhooks.iter().map(|w| json!({
            "webhookId": w.id,
            "state": w.state.as_str(),
            "attempts": w.attempts,
            "lastHttpStatus": w.last_http_status,
            "deliveredAt": w.delivered_at.map(rfc3339),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
