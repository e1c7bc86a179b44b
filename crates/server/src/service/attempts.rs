//! Attempts (docs/ARCHITECTURE.md): making the live attempt's create call, and failing
//! over to the next account only when the last attempt is proven not to have moved money.
//!
//! | the last attempt | pay-in | payout |
//! |---|---|---|
//! | never reached the PSP (no connection, DNS/TLS, outbound policy, or the PSP later says it has no such order) | next account at once | next account at once |
//! | refused before accepting (credentials, 429, a refusal at create) | next account in the same request | next account by the worker, only with `cascadePayouts` |
//! | declined or failed later, classified *not processed* | — (the customer has the page: never) | next account by the worker, only with `cascadePayouts` |
//! | timeout or 5xx after sending | next account in the same request while the customer has no page yet (the order cannot be paid without it) | never: the poller resolves the attempt first |
//! | hard decline | never | never |
//!
//! Every cascade closes the attempt (declined or failed, with its class) and moves the
//! transaction to `retrying` in one DB transaction; the next attempt starts with a second
//! commit (`retrying` → `submitting`, the attempt inserted) before its PSP call, so a
//! transaction never has two live attempts and a `kill -9` at any step leaves a state the
//! worker resumes: `retrying` is polled at once (payouts) and `submitting` is resolved by a
//! status query as always. At most `maxAttempts` attempts, each at an account not tried yet.

use crate::app::App;
use crate::service::progress::{self, Secrets};
use crate::service::routing;
use overture_connectors::http::in_context;
use overture_core::connector::{ConnectorError, FailureClass, PspUpdate};
use overture_core::routing::Decision;
use overture_core::store::{StoreError, Transition};
use overture_core::{
    Actor, Attempt, AttemptState, AttemptWrite, PspAccount, PspAccountId, Transaction, TxnState,
    TxnType,
};

/// Who drives the transaction when an attempt fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// The request that created it (or the operator approving it) is still waiting.
    Create,
    /// The poller, a callback's confirmation: nobody waits.
    Background,
}

/// What a failed attempt proves.
#[derive(Clone, Debug)]
pub struct Failure {
    pub class: FailureClass,
    /// The request never reached the PSP (or the PSP has no such order).
    pub never_reached: bool,
    pub message: String,
}

/// Whether `txn`, whose live attempt just failed with `f`, may go on to another account (see
/// the module table): its plan allows another attempt and has an untried candidate, and the
/// failure proves nothing moved for this kind of payment.
pub fn may_cascade(txn: &Transaction, f: &Failure, flow: Flow) -> bool {
    let Some(plan) = &txn.routing else {
        return false;
    };
    let untried = plan.candidates.len() > txn.attempt_seq as usize;
    if txn.attempt_seq >= plan.max_attempts || !untried || f.class == FailureClass::HardDecline {
        return false;
    }
    match txn.txn_type {
        TxnType::Payin => flow == Flow::Create && txn.redirect_url.is_none(),
        TxnType::Payout => {
            f.never_reached || (plan.cascade_payouts && f.class == FailureClass::NotProcessed)
        }
    }
}

/// Whether the request itself starts the next attempt (else the worker does).
fn request_continues(txn_type: TxnType, f: &Failure, flow: Flow) -> bool {
    flow == Flow::Create && (txn_type == TxnType::Payin || f.never_reached)
}

/// Closes the live attempt as `attempt_outcome` (declined or failed) with `f`'s class and moves
/// `txn` to `retrying`, in one transition. The worker looks at it at once when the request
/// does not go on itself, else only as a backstop after the in-flight deadline.
pub async fn retry(
    app: &App,
    txn: &Transaction,
    attempt_outcome: TxnState,
    actor: Actor,
    update: Option<&PspUpdate>,
    f: &Failure,
    flow: Flow,
) -> Result<Transaction, StoreError> {
    let now = app.now();
    let mut t = Transition::of(txn, TxnState::Retrying, actor, now);
    if let Some(u) = update {
        t.record_psp(u);
    }
    t.message = Some(f.message.clone());
    t.reason = Some(format!(
        "attempt {} {} ({}): {}; trying the next account",
        txn.attempt_seq,
        attempt_outcome.as_str(),
        f.class.as_str(),
        f.message
    ));
    t.attempt = AttemptWrite::Update {
        state: match attempt_outcome {
            TxnState::Declined => AttemptState::Declined,
            _ => AttemptState::Failed,
        },
        class: Some(f.class),
        error: Some(f.message.clone()),
    };
    t.next_poll_at = Some(if request_continues(txn.txn_type, f, flow) {
        progress::safety_poll_at(app, now)
    } else {
        now
    });
    let updated = app.store.transition(&t).await?;
    tracing::info!(transaction_id = %txn.id, attempt = txn.attempt_seq, class = f.class.as_str(), "attempt closed; failing over");
    app.poll_wakeup.notify_one();
    Ok(updated)
}

/// The transition that starts attempt `txn.attempt_seq + 1` at `account` (from `retrying`,
/// or from `awaiting_approval` for a held payout's first attempt), committed before its call.
pub fn start_transition(
    app: &App,
    txn: &Transaction,
    account: &PspAccount,
    decision: Decision,
    actor: Actor,
) -> Transition {
    let now = app.now();
    let seq = txn.attempt_seq + 1;
    let attempt = Attempt::start(
        &txn.id,
        seq,
        (&account.id, &account.psp_type),
        txn.amount,
        decision,
        now,
    );
    let mut t = Transition::of(txn, TxnState::Submitting, actor, now);
    t.reason = Some(format!(
        "attempt {seq} at {} ({})",
        account.id, account.psp_type
    ));
    t.attempt = AttemptWrite::Start(Box::new(attempt));
    // Safety net: if this process dies during the PSP call, the poller asks the PSP.
    t.next_poll_at = Some(progress::safety_poll_at(app, now));
    t
}

/// What [`advance`] did.
// Returned once per failover step and matched at once: boxing the larger variant would only
// add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Next {
    /// The next attempt is committed in `submitting`; make its call at `account`.
    Started {
        txn: Transaction,
        account: PspAccount,
    },
    /// No candidate was left (or the transaction moved on): `txn` as it now stands.
    Closed(Transaction),
}

/// Starts the next attempt of a `retrying` transaction, or closes it `failed` when no
/// candidate it has not tried can take it.
pub async fn advance(app: &App, txn: Transaction) -> anyhow::Result<Next> {
    let request = progress::payment_request(&txn);
    let (decision, chosen) = routing::route_next(app, &txn, &request).await?;
    let Some(account) = chosen else {
        let reasons: Vec<String> = decision
            .candidates
            .iter()
            .filter_map(|c| c.reason.as_ref().map(|r| format!("{}: {r}", c.account)))
            .collect();
        let reason = format!(
            "no PSP account left to try after {} attempt(s): {}",
            txn.attempt_seq,
            txn.message.clone().unwrap_or_default()
        );
        tracing::info!(transaction_id = %txn.id, candidates = ?reasons, "failover ends");
        let closed = progress::finalize(
            app,
            &txn,
            TxnState::Failed,
            Actor::System,
            Some(reason),
            None,
        )
        .await?;
        return Ok(Next::Closed(closed));
    };
    let t = start_transition(app, &txn, &account, decision, Actor::System);
    match app.store.transition(&t).await {
        Ok(txn) => Ok(Next::Started { txn, account }),
        // Another worker (or the request) started it first.
        Err(StoreError::Conflict(_)) => {
            let current = app.store.transaction(&txn.id).await?;
            Ok(Next::Closed(current.unwrap_or(txn)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Feeds one PSP call's outcome to the account's circuit breaker.
pub fn record_health(app: &App, account: &PspAccountId, error: Option<&ConnectorError>) {
    let technical = error.is_some_and(ConnectorError::is_technical);
    app.health.record(account, technical, app.now());
}

/// The live attempt's create call (its `submitting` is committed) and what follows from its
/// answer (see the module table). Returns the row and the connector error, if any.
pub async fn call(
    app: &App,
    txn: Transaction,
    account: &PspAccount,
    secrets: &Secrets,
    flow: Flow,
) -> anyhow::Result<(Transaction, Option<ConnectorError>)> {
    let (connector, ctx) = progress::resolve(app, &txn, Some(account)).await?;
    let request = progress::create_request(&txn, secrets);
    let call = async {
        match txn.txn_type {
            TxnType::Payout => connector.submit_payout(&ctx, &request).await,
            TxnType::Payin => connector.start_payin(&ctx, &request).await.map(|started| {
                let mut update = started.update;
                if started.redirect_url.is_some() {
                    update.redirect_url = started.redirect_url;
                }
                update
            }),
        }
    };
    let result = in_context(progress::call_context(&txn, "create"), call).await;
    record_health(app, &account.id, result.as_ref().err());
    let e = match result {
        Ok(update) => {
            let txn = progress::apply_update(app, txn, &update, Actor::Psp, flow).await?;
            return Ok((txn, None));
        }
        Err(e) => e,
    };
    let message = format!("{}: {e}", e.error_code());
    if e.certainly_not_processed() {
        let f = Failure {
            class: FailureClass::NotProcessed,
            never_reached: e.never_reached(),
            message,
        };
        let txn = if may_cascade(&txn, &f, flow) {
            retry(app, &txn, TxnState::Failed, Actor::System, None, &f, flow).await?
        } else {
            let class = Some(FailureClass::NotProcessed);
            let mut t = progress::final_transition(
                app,
                &txn,
                TxnState::Failed,
                Actor::System,
                Some(f.message),
                None,
            );
            t.attempt =
                progress::close_live_attempt(&txn, TxnState::Failed, class, t.message.clone());
            progress::commit_final(app, &t).await?
        };
        return Ok((txn, Some(e)));
    }
    // The PSP may have acted. A pay-in's customer has no page yet, so nothing can be paid on
    // this order: another account may be tried. Anything else waits for a status query.
    let f = Failure {
        class: FailureClass::Technical,
        never_reached: false,
        message: format!("{message} (the customer never got the payment page)"),
    };
    if txn.txn_type == TxnType::Payin
        && connector.payin_needs_customer()
        && may_cascade(&txn, &f, flow)
    {
        let txn = retry(app, &txn, TxnState::Failed, Actor::System, None, &f, flow).await?;
        return Ok((txn, Some(e)));
    }
    tracing::warn!(transaction_id = %txn.id, error = %e, "outcome unknown; the poller will ask the PSP");
    Ok((txn, Some(e)))
}

/// The attempts of a request: the first call and, while the request itself goes on (see
/// the module table), the next ones. The error is the last attempt's, if it failed.
pub async fn drive(
    app: &App,
    txn: Transaction,
    account: &PspAccount,
    secrets: &Secrets,
) -> anyhow::Result<(Transaction, Option<ConnectorError>)> {
    let (mut txn, mut error) = call(app, txn, account, secrets, Flow::Create).await?;
    loop {
        let continues = match txn.txn_type {
            TxnType::Payin => true,
            TxnType::Payout => error.as_ref().is_some_and(ConnectorError::never_reached),
        };
        if txn.state == TxnState::Retrying && !continues {
            // The worker starts the next attempt: the request's answer is the pending payout.
            return Ok((txn, None));
        }
        if txn.state != TxnState::Retrying {
            return Ok((txn, error));
        }
        match advance(app, txn).await? {
            Next::Started { txn: next, account } => {
                (txn, error) = call(app, next, &account, secrets, Flow::Create).await?;
            }
            Next::Closed(closed) => return Ok((closed, error)),
        }
    }
}
