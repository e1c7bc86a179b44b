//! CARDZO wire format: Cardzo is a PaynetEasy white label, so everything Cardzo shares with
//! Payment Soft (OAuth 1.0a RSA-SHA256 signing, the `control` checksums, the `name=value` answer
//! layout, the payout fields, the status words and their mapping) is imported from
//! [`crate::paymentsoft::wire`] and [`crate::paymentsoft::oauth`], never copied. This module
//! holds only what the "payout with bank confirmation" flow adds.
//!
//! Sources (doc.payneteasy.com and Cardzo's copy of it, seed 004 "1.9. Payout with bank
//! confirmation"): "/api/v4/payout-check" (same fields as "/api/v4/payout"),
//! "/api/v4/payout-pay" (`client_orderid`, `orderid`, `login`; OAuth RSA-SHA256),
//! "/api/v2/status" (`order-stage`: `payout_check_validating` = the bank has not confirmed yet,
//! keep polling; `payout_check_validated` = confirmed, send payout-pay).
//!
//! Amounts on the wire are major-unit decimal strings (`"10.50"` EUR). Where the public docs are
//! silent this module says "inferred" and names the choice; the sandbox speaks the same choices.

use overture_core::connector::{
    AccountContext, ConnectorError, FailureClass, OrderRef, PaymentRequest, PspOutcome, PspUpdate,
};

pub use crate::paymentsoft::wire::{
    callback_control, constant_time_eq, encode_response, failure_class, map_status, status,
    status_control, CallbackParams, PayoutRequest, StatusRequest, WireResponse, CODE_BAD_CONTROL,
    CODE_DUPLICATE_ORDER, CODE_INVALID_FIELD, CODE_ORDER_NOT_FOUND, RECEIVER_EXTRAS, STATUS_PATH,
    TYPE_ASYNC_RESPONSE, TYPE_ERROR, TYPE_STATUS_RESPONSE, TYPE_VALIDATION_ERROR,
};

/// Payout-check path below the base URL, `{endpoint_id}` appended ("/api/v4/payout-check").
pub const PAYOUT_CHECK_PATH: &str = "/paynet/api/v4/payout-check";
/// Payout-pay path below the base URL, `{endpoint_id}` appended ("/api/v4/payout-pay").
pub const PAYOUT_PAY_PATH: &str = "/paynet/api/v4/payout-pay";

/// `error-code` of a payout-pay the PSP already received for this order (inferred, like the
/// other codes of [`crate::paymentsoft::wire`]: the docs publish no code table). Nothing is
/// executed again.
pub const CODE_PAY_ALREADY_RECEIVED: &str = "409";
/// `error-code` of a payout-pay sent before the bank validated the order, or after the bank
/// refused it (inferred, as above).
pub const CODE_NOT_VALIDATED: &str = "422";

/// `order-stage` values of the status answer ("/api/v2/status").
pub mod stage {
    /// Documented: the bank has not confirmed the payout-check yet; keep polling.
    pub const CHECK_VALIDATING: &str = "payout_check_validating";
    /// Documented: the bank confirmed; the connecting party sends payout-pay next.
    pub const CHECK_VALIDATED: &str = "payout_check_validated";
    /// Inferred: the bank did not confirm within the PSP's window (or refused); final, with
    /// status `error` or `declined`.
    pub const CHECK_FAILED: &str = "payout_check_failed";
    /// Inferred (sandbox-chosen): payout-pay received, the payout is being processed.
    pub const PROCESSING: &str = "payout_processing";
    /// Inferred (sandbox-chosen, as PAYMENTSOFT): payout-pay received, the receiver must fill
    /// the form behind `redirect-to` first.
    pub const RECEIVER_FORM: &str = "payout_receiver_form";
    /// Inferred (sandbox-chosen, as PAYMENTSOFT): the status is final.
    pub const FINISHED: &str = "payout_finished";
}

/// Overture's own progress markers, stored as [`overture_core::connector::PspUpdate::stage`]
/// (never sent to the PSP). They only record what this connector did; the PSP's `order-stage`
/// decides what happens next.
pub mod marker {
    /// payout-check was accepted; the order waits for the bank.
    pub const CHECK_SENT: &str = "check_sent";
    /// payout-pay was accepted (or the PSP's `order-stage` shows it received one).
    pub const PAY_SENT: &str = "pay_sent";
}

/// The `/api/v4/payout-pay` request body (form-urlencoded, OAuth signed; all three fields
/// required). Source: "/api/v4/payout-pay".
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PayoutPayRequest {
    /// Overture's transaction id, as sent in the payout-check.
    pub client_orderid: String,
    /// The `paynet-order-id` the payout-check answer (or the status answer) gave.
    pub orderid: String,
    /// The merchant's `login` (also the OAuth consumer key).
    pub login: String,
}

impl PayoutPayRequest {
    /// The body as ordered name/value pairs, fed both to the form body and to the OAuth base
    /// string so the two always agree.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        vec![
            ("client_orderid".to_owned(), self.client_orderid.clone()),
            ("orderid".to_owned(), self.orderid.clone()),
            ("login".to_owned(), self.login.clone()),
        ]
    }
}

/// What [`next_step`] tells `sync` to do with one status answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The status is final: report it.
    Final,
    /// `payout_check_validating`: the bank has not confirmed; report pending, poll again.
    AwaitBank,
    /// `payout_check_validated` and Overture has no record of an accepted payout-pay: send it.
    SendPay,
    /// `payout_check_validated`, but Overture recorded an accepted payout-pay the PSP does not
    /// show yet: never send a second one; report pending and let the PSP catch up.
    PayNotYetVisible,
    /// The bank did not validate: the payout fails (status not final yet by itself).
    CheckFailed,
    /// The PSP shows payout-pay received (any later stage): report the status as PAYMENTSOFT
    /// does, `redirect-to` included.
    AfterPay,
    /// No or an unknown `order-stage` with a non-final status: report pending, never act.
    /// Sending payout-pay on a guess could pay twice; waiting at worst times the payout out.
    Unknown,
}

/// Decides the next step from the PSP's recorded `order-stage` (authoritative) and Overture's
/// own `marker` (only used to refuse a second payout-pay). `outcome` is [`map_status`] of the
/// answer's `status`.
pub fn next_step(outcome: PspOutcome, order_stage: Option<&str>, marker: Option<&str>) -> Step {
    if matches!(
        outcome,
        PspOutcome::Approved | PspOutcome::Declined | PspOutcome::Failed
    ) {
        return Step::Final;
    }
    match order_stage {
        Some(stage::CHECK_VALIDATING) => Step::AwaitBank,
        Some(stage::CHECK_VALIDATED) if marker == Some(marker::PAY_SENT) => Step::PayNotYetVisible,
        Some(stage::CHECK_VALIDATED) => Step::SendPay,
        Some(stage::CHECK_FAILED) => Step::CheckFailed,
        Some(stage::PROCESSING | stage::RECEIVER_FORM | stage::FINISHED) => Step::AfterPay,
        Some(_) | None => Step::Unknown,
    }
}

/// True when an `order-stage` shows the PSP received payout-pay (so the marker becomes
/// [`marker::PAY_SENT`] whatever Overture stored before a crash).
pub fn pay_recorded(order_stage: Option<&str>) -> bool {
    matches!(
        order_stage,
        Some(stage::PROCESSING | stage::RECEIVER_FORM | stage::FINISHED)
    )
}

// ---- Mapping between Overture's values and the wire (shared by the connector's flows) ----

/// Reason reported when the bank did not validate and the PSP gave none.
pub const BANK_NOT_VALIDATED: &str = "the bank did not confirm the payout (payout_check_failed)";

/// The `/api/v4/payout-check` body: the same fields as PAYMENTSOFT's `/api/v4/payout`
/// (amount in major units; receiver extras copied when present).
pub fn payout_check_request(account: &AccountContext, request: &PaymentRequest) -> PayoutRequest {
    crate::paymentsoft::payout_request(account, request)
}

/// The status answer as an update, without acting on it: status mapped as PAYMENTSOFT,
/// `redirect-to` passed on, marker set to `pay_sent` once the PSP shows payout-pay received.
pub fn report(answer: &WireResponse, order: &OrderRef) -> Result<PspUpdate, ConnectorError> {
    let raw = answer
        .get("status")
        .ok_or_else(|| ConnectorError::Protocol("status-response without status".into()))?;
    let order_stage = answer.get("order-stage");
    let mut update = PspUpdate {
        outcome: map_status(raw),
        class: failure_class(raw),
        raw_status: raw.to_owned(),
        psp_transaction_id: answer
            .get("paynet-order-id")
            .map(str::to_owned)
            .or_else(|| order.psp_transaction_id.clone()),
        stage: pay_recorded(order_stage).then(|| marker::PAY_SENT.to_owned()),
        message: answer.get("error-message").map(str::to_owned),
        redirect_url: answer.get("redirect-to").map(str::to_owned),
    };
    if order_stage == Some(stage::CHECK_FAILED) {
        // The bank never validated: final even if the status word lags behind.
        if update.outcome == PspOutcome::Pending {
            update.outcome = PspOutcome::Failed;
        }
        // payout-pay was never sent (the PSP records it as a later stage): nothing was paid.
        update.class = Some(FailureClass::NotProcessed);
        update
            .message
            .get_or_insert_with(|| BANK_NOT_VALIDATED.to_owned());
    }
    Ok(update)
}

#[cfg(test)]
mod tests {
    use super::*;
    use overture_core::connector::{OrderRef, PspOutcome};
    use overture_core::{Currency, Money, OrderId, TxnType};
    use std::collections::BTreeMap;

    const TXN: &str = "txn_0190f0e0a1b2c3d4e5f60718293a4b5c";

    fn order(stage: Option<&str>) -> OrderRef {
        OrderRef {
            order_id: OrderId::parse(TXN).unwrap(),
            txn_type: TxnType::Payout,
            amount: Money::parse_major("10.00", Currency::from_code("EUR").unwrap()).unwrap(),
            psp_transaction_id: None,
            stage: stage.map(str::to_owned),
            extras: BTreeMap::new(),
        }
    }

    #[test]
    fn report_marks_recorded_pay_and_failed_checks() {
        let answer = |body: &str| WireResponse::parse(body).unwrap();
        let after_pay = report(
            &answer("type=status-response&status=processing&paynet-order-id=7&order-stage=payout_processing"),
            &order(Some(marker::CHECK_SENT)),
        )
        .unwrap();
        assert_eq!(after_pay.stage.as_deref(), Some(marker::PAY_SENT));
        assert_eq!(after_pay.psp_transaction_id.as_deref(), Some("7"));
        let failed = report(
            &answer("type=status-response&status=processing&order-stage=payout_check_failed"),
            &order(None),
        )
        .unwrap();
        assert_eq!(failed.outcome, PspOutcome::Failed);
        assert_eq!(failed.message.as_deref(), Some(BANK_NOT_VALIDATED));
        let validating = report(
            &answer("type=status-response&status=processing&order-stage=payout_check_validating"),
            &order(None),
        )
        .unwrap();
        assert_eq!(
            (validating.outcome, validating.stage),
            (PspOutcome::Pending, None)
        );
    }

    #[test]
    fn final_status_wins_over_any_stage() {
        for s in [None, Some(stage::CHECK_VALIDATED), Some(stage::PROCESSING)] {
            assert_eq!(next_step(PspOutcome::Approved, s, None), Step::Final);
            assert_eq!(next_step(PspOutcome::Failed, s, None), Step::Final);
        }
    }

    #[test]
    fn pay_is_sent_only_once_validated_and_never_after_a_recorded_pay() {
        let p = PspOutcome::Pending;
        assert_eq!(
            next_step(p, Some(stage::CHECK_VALIDATING), None),
            Step::AwaitBank
        );
        assert_eq!(
            next_step(p, Some(stage::CHECK_VALIDATED), None),
            Step::SendPay
        );
        assert_eq!(
            next_step(p, Some(stage::CHECK_VALIDATED), Some(marker::CHECK_SENT)),
            Step::SendPay
        );
        assert_eq!(
            next_step(p, Some(stage::CHECK_VALIDATED), Some(marker::PAY_SENT)),
            Step::PayNotYetVisible
        );
        // A stale marker (crash before "pay_sent" was stored) changes nothing: the PSP's
        // stage says the pay was received.
        assert_eq!(
            next_step(p, Some(stage::PROCESSING), Some(marker::CHECK_SENT)),
            Step::AfterPay
        );
        assert_eq!(
            next_step(p, Some(stage::CHECK_FAILED), None),
            Step::CheckFailed
        );
        assert_eq!(next_step(p, Some("something_new"), None), Step::Unknown);
        assert_eq!(next_step(p, None, None), Step::Unknown);
    }

    #[test]
    fn pay_pairs_are_in_documented_order() {
        let pairs = PayoutPayRequest {
            client_orderid: "txn_1".into(),
            orderid: "1000001".into(),
            login: "merchant".into(),
        }
        .to_pairs();
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["client_orderid", "orderid", "login"]);
        assert!(pay_recorded(Some(stage::RECEIVER_FORM)));
        assert!(!pay_recorded(Some(stage::CHECK_VALIDATED)));
    }
}
