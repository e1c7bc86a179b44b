//! The transaction state machine (docs/ARCHITECTURE.md). Final states never change; every allowed
//! edge is listed in [`TxnState::can_transition_to`], matched exhaustively.

use serde::{Deserialize, Serialize};

/// Internal transaction state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnState {
    /// Stored, nothing sent anywhere yet.
    Created,
    /// Payout held for an operator's decision.
    AwaitingApproval,
    /// About to call, or calling, the PSP. After a crash the PSP is asked before any resend.
    Submitting,
    /// The PSP accepted; waiting for the customer (pay-in) or for processing (payout).
    Pending,
    /// The last attempt ended proven not to have moved money and routing allows another: the
    /// next attempt waits to be started (by the request, or by the worker for payouts).
    Retrying,
    /// Final success.
    Approved,
    /// Final: the PSP declined.
    Declined,
    /// Final: technical failure or expiry.
    Failed,
    /// Final: an operator rejected the payout.
    Rejected,
}

/// The normalised status the merchant sees (`transaction_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionStatus {
    Pending,
    Approved,
    Declined,
    Failed,
    Rejected,
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transition {from:?} -> {to:?} is not allowed")]
pub struct TransitionError {
    pub from: TxnState,
    pub to: TxnState,
}

impl TxnState {
    /// All states, in lifecycle order.
    pub const ALL: [TxnState; 9] = [
        Self::Created,
        Self::AwaitingApproval,
        Self::Submitting,
        Self::Pending,
        Self::Retrying,
        Self::Approved,
        Self::Declined,
        Self::Failed,
        Self::Rejected,
    ];

    /// True for states that never change again.
    pub fn is_final(self) -> bool {
        match self {
            Self::Created
            | Self::AwaitingApproval
            | Self::Submitting
            | Self::Pending
            | Self::Retrying => false,
            Self::Approved | Self::Declined | Self::Failed | Self::Rejected => true,
        }
    }

    /// The status shown to the merchant.
    pub fn transaction_status(self) -> TransactionStatus {
        match self {
            Self::Created
            | Self::AwaitingApproval
            | Self::Submitting
            | Self::Pending
            | Self::Retrying => TransactionStatus::Pending,
            Self::Approved => TransactionStatus::Approved,
            Self::Declined => TransactionStatus::Declined,
            Self::Failed => TransactionStatus::Failed,
            Self::Rejected => TransactionStatus::Rejected,
        }
    }

    /// Whether `self -> to` is an edge of the state machine.
    pub fn can_transition_to(self, to: TxnState) -> bool {
        use TxnState::*;
        match self {
            Created => matches!(to, AwaitingApproval | Submitting | Failed),
            AwaitingApproval => matches!(to, Submitting | Rejected),
            Submitting => matches!(to, Pending | Retrying | Approved | Declined | Failed),
            Pending => matches!(to, Retrying | Approved | Declined | Failed),
            Retrying => matches!(to, Submitting | Failed),
            Approved | Declined | Failed | Rejected => false,
        }
    }

    /// Checks the edge `self -> to`.
    pub fn transition(self, to: TxnState) -> Result<TxnState, TransitionError> {
        if self.can_transition_to(to) {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }

    /// The stored name (`"awaiting_approval"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Submitting => "submitting",
            Self::Pending => "pending",
            Self::Retrying => "retrying",
            Self::Approved => "approved",
            Self::Declined => "declined",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl TransactionStatus {
    /// The merchant-facing name (`"Approved"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Approved => "Approved",
            Self::Declined => "Declined",
            Self::Failed => "Failed",
            Self::Rejected => "Rejected",
        }
    }

    /// The Cashier API's `data.status` spelling (`"PENDING"`, `"APPROVED"`, …).
    pub fn as_upper(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Approved => "APPROVED",
            Self::Declined => "DECLINED",
            Self::Failed => "FAILED",
            Self::Rejected => "REJECTED",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TxnState::*;
    use super::*;

    #[test]
    fn final_states_never_change() {
        for from in TxnState::ALL.into_iter().filter(|s| s.is_final()) {
            for to in TxnState::ALL {
                assert!(from.transition(to).is_err(), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn payout_paths_are_allowed() {
        assert!(Created.can_transition_to(AwaitingApproval));
        assert!(AwaitingApproval.can_transition_to(Submitting));
        assert!(AwaitingApproval.can_transition_to(Rejected));
        assert!(Submitting.can_transition_to(Pending));
        assert!(Pending.can_transition_to(Approved));
        assert!(!Pending.can_transition_to(Submitting));
        assert!(!AwaitingApproval.can_transition_to(Approved));
        assert!(!Submitting.can_transition_to(Rejected));
    }

    #[test]
    fn a_retry_starts_a_new_submission_or_ends_failed() {
        assert!(Pending.can_transition_to(Retrying));
        assert!(Submitting.can_transition_to(Retrying));
        assert!(Retrying.can_transition_to(Submitting));
        assert!(Retrying.can_transition_to(Failed));
        assert!(!Retrying.can_transition_to(Approved));
        assert!(!Retrying.can_transition_to(Pending));
        assert_eq!(Retrying.transaction_status(), TransactionStatus::Pending);
    }

    #[test]
    fn names_round_trip_and_map_to_merchant_status() {
        for s in TxnState::ALL {
            assert_eq!(TxnState::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            AwaitingApproval.transaction_status(),
            TransactionStatus::Pending
        );
        assert_eq!(Rejected.transaction_status().as_str(), "Rejected");
        assert_eq!(AwaitingApproval.transaction_status().as_upper(), "PENDING");
    }
}
