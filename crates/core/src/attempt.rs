//! Attempts: one try of a transaction at one PSP account (docs/ARCHITECTURE.md). A transaction has
//! one or more attempts and never two live at once; every PSP call belongs to the live one. The
//! transaction row mirrors its live attempt (PSP type, account, order id, PSP status), so the
//! payment paths read one row; the attempts table keeps every attempt's own record.

use crate::connector::FailureClass;
use crate::ids::{AttemptId, OrderId, PspAccountId, TransactionId};
use crate::money::Money;
use crate::routing::Decision;
use crate::state::TxnState;
use crate::PspType;

/// Where an attempt stands. `Submitting` and `Pending` are live; the others are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// About to call, or calling, the PSP (committed before the call).
    Submitting,
    /// The PSP accepted the order and has not finished it.
    Pending,
    Approved,
    Declined,
    Failed,
}

impl AttemptState {
    /// The stored and API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitting => "submitting",
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Declined => "declined",
            Self::Failed => "failed",
        }
    }

    /// Parses [`AttemptState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Submitting,
            Self::Pending,
            Self::Approved,
            Self::Declined,
            Self::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// True for the states that never change again.
    pub fn is_final(self) -> bool {
        match self {
            Self::Submitting | Self::Pending => false,
            Self::Approved | Self::Declined | Self::Failed => true,
        }
    }

    /// The attempt state that goes with a transaction entering `state` while this attempt is
    /// live; `None` for transaction states no attempt has (held, rejected, retrying: the
    /// attempt that led there was closed by the transition itself).
    pub fn for_transaction(state: TxnState) -> Option<Self> {
        match state {
            TxnState::Submitting => Some(Self::Submitting),
            TxnState::Pending => Some(Self::Pending),
            TxnState::Approved => Some(Self::Approved),
            TxnState::Declined => Some(Self::Declined),
            TxnState::Failed => Some(Self::Failed),
            TxnState::Created
            | TxnState::AwaitingApproval
            | TxnState::Retrying
            | TxnState::Rejected => None,
        }
    }
}

/// One attempt of a transaction at one PSP account. Times are milliseconds since the epoch.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub id: AttemptId,
    pub transaction_id: TransactionId,
    /// 1 for the first attempt, then 2, 3, …
    pub seq: u32,
    pub psp_account_id: PspAccountId,
    pub psp_type: PspType,
    /// The order id sent to the PSP ([`OrderId::for_attempt`]).
    pub order_id: OrderId,
    pub state: AttemptState,
    pub psp_transaction_id: Option<String>,
    /// The PSP's own last status word.
    pub psp_status: Option<String>,
    /// For a declined or failed attempt: what its failure proves.
    pub error_class: Option<FailureClass>,
    pub error_message: Option<String>,
    /// The routing decision that chose this attempt's account.
    pub decision: Decision,
    /// The transaction's amount (daily caps count it).
    pub amount: Money,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the PSP accepted the order (pending or approved); `None` if it never did.
    pub accepted_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl Attempt {
    /// Attempt `seq` of `transaction_id` at `account`, in `submitting`, chosen by `decision`.
    pub fn start(
        transaction_id: &TransactionId,
        seq: u32,
        account: (&PspAccountId, &PspType),
        amount: Money,
        decision: Decision,
        at: i64,
    ) -> Self {
        Self {
            id: AttemptId::generate(),
            transaction_id: transaction_id.clone(),
            seq,
            psp_account_id: account.0.clone(),
            psp_type: account.1.clone(),
            order_id: OrderId::for_attempt(transaction_id, seq),
            state: AttemptState::Submitting,
            psp_transaction_id: None,
            psp_status: None,
            error_class: None,
            error_message: None,
            decision,
            amount,
            created_at: at,
            updated_at: at,
            accepted_at: None,
            finished_at: None,
        }
    }
}

/// What a transition does to the attempts (see [`crate::store::Transition::attempt`]).
#[derive(Clone, Debug, Default)]
pub enum AttemptWrite {
    /// No attempt changes (held, rejected, a transaction closed with no live attempt).
    #[default]
    None,
    /// The live attempt takes `state`, with the transition's PSP fields and, when it failed,
    /// what the failure proves.
    Update {
        state: AttemptState,
        class: Option<FailureClass>,
        error: Option<String>,
    },
    /// A new attempt starts and becomes the live one: the transaction takes its account, PSP
    /// type and order id, and forgets the previous attempt's PSP status, id, stage and page.
    Start(Box<Attempt>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_states_round_trip_and_follow_the_transaction() {
        for s in [
            AttemptState::Submitting,
            AttemptState::Pending,
            AttemptState::Approved,
            AttemptState::Declined,
            AttemptState::Failed,
        ] {
            assert_eq!(AttemptState::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            AttemptState::for_transaction(TxnState::Pending),
            Some(AttemptState::Pending)
        );
        assert_eq!(AttemptState::for_transaction(TxnState::Retrying), None);
        assert!(AttemptState::Declined.is_final());
        assert!(!AttemptState::Submitting.is_final());
    }
}
