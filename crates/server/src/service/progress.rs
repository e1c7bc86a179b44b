//! Moving a transaction forward: submitting to the PSP, applying what the PSP says (response,
//! callback or status query), and closing it. Every final state is written with its one
//! webhook event in the same DB transaction (docs/ARCHITECTURE.md).

use crate::app::App;
use crate::service::attempts::{self, Failure, Flow};
use crate::service::views;
use anyhow::Context;
use overture_connectors::http::{in_context, CallContext};
use overture_core::connector::*;
use overture_core::store::{NewWebhook, ProgressUpdate, StoreError, Transition};
use overture_core::*;
use rand::Rng;
use std::sync::Arc;

/// The connector and account context a transaction was routed to. `routed` is the account
/// when the caller just routed to it (saves a read and a decrypt); otherwise it is loaded.
pub async fn resolve(
    app: &App,
    txn: &Transaction,
    routed: Option<&PspAccount>,
) -> anyhow::Result<(Arc<dyn Connector>, AccountContext)> {
    let connector = app
        .registry
        .get(txn.psp_type.as_str())
        .with_context(|| format!("no connector for {}", txn.psp_type))?
        .clone();
    let ctx = match routed.filter(|a| a.id == txn.psp_account_id) {
        Some(account) => AccountContext::new(account, &app.public_url),
        None => {
            let account = app
                .store
                .psp_account(&txn.psp_account_id)
                .await?
                .with_context(|| format!("PSP account {} is gone", txn.psp_account_id))?;
            AccountContext::new(&account, &app.public_url)
        }
    };
    Ok((connector, ctx))
}

/// The payer's secrets of one request (a voucher PIN), by Cashier field name: never stored
/// (the transaction keeps their masked form), handed to the connector's create call only.
pub type Secrets = std::collections::BTreeMap<String, String>;

/// What the connector needs to create the order: the stored transaction, with `secrets`
/// restored over their masked forms.
pub fn create_request(txn: &Transaction, secrets: &Secrets) -> PaymentRequest {
    let mut request = payment_request(txn);
    for (field, value) in secrets {
        request.extras.insert(field.clone(), value.clone());
    }
    request
}

/// What the connector needs to create the order.
pub fn payment_request(txn: &Transaction) -> PaymentRequest {
    PaymentRequest {
        order_id: txn.psp_order_id(),
        txn_type: txn.txn_type,
        amount: txn.amount,
        user_id: txn.user_id.clone(),
        email: txn.email.clone(),
        country: txn.country.clone(),
        return_url: txn.return_url.clone(),
        merchant_reference: txn.merchant_reference.clone(),
        extras: txn.extras.clone(),
    }
}

/// What a PSP call for `txn`'s live attempt belongs to (for the exchange observers).
pub fn call_context(txn: &Transaction, operation: &'static str) -> CallContext {
    CallContext {
        psp: txn.psp_type.to_string(),
        account: txn.psp_account_id.clone(),
        transaction: Some(txn.id.clone()),
        attempt: txn.attempt_id.clone(),
        operation,
        traceparent: crate::trace::for_transaction(txn),
    }
}

/// What the connector needs to query and continue the order.
pub fn order_ref(txn: &Transaction) -> OrderRef {
    OrderRef {
        order_id: txn.psp_order_id(),
        txn_type: txn.txn_type,
        amount: txn.amount,
        psp_transaction_id: txn.psp_transaction_id.clone(),
        stage: txn.psp_stage.clone(),
        extras: txn.extras.clone(),
    }
}

/// The PSP's poll schedule with the `OVERTURE_POLL_*` overrides applied.
pub fn poll_schedule(app: &App, connector: &dyn Connector) -> PollSchedule {
    let mut s = connector.capabilities().poll_schedule;
    if let Some(every) = app.tuning.poll_interval {
        let ms = every.as_millis() as u64;
        s.fast = (ms, ms);
        s.slow = (ms, ms);
    }
    if let Some(limit) = app.tuning.poll_timeout {
        s.give_up_after = limit.as_millis() as u64;
    }
    s
}

/// How an open order is polled: on the PSP's published schedule, or backing off
/// exponentially when the PSP's webhook is the expected signal and polling only its backstop
/// (a pay-in waiting for its customer: most are never paid, and polling thousands of abandoned
/// pay-ins on a fixed schedule was most of the server's work under a backlog).
pub fn backs_off(txn_type: TxnType, state: TxnState) -> bool {
    txn_type == TxnType::Payin && state == TxnState::Pending
}

/// When to poll an order of `txn_type` in `state` next, `elapsed_ms` after submission; `None`
/// once the give-up time has passed.
pub fn next_poll_at(
    app: &App,
    connector: &dyn Connector,
    (txn_type, state): (TxnType, TxnState),
    now: i64,
    elapsed_ms: i64,
) -> Option<i64> {
    let random = rand::thread_rng().gen::<u64>();
    let schedule = poll_schedule(app, connector);
    let elapsed = elapsed_ms.max(0) as u64;
    let delay = if backs_off(txn_type, state) {
        schedule.next_delay_backoff(elapsed, random)
    } else {
        schedule.next_delay(elapsed, random)
    };
    delay.map(|d| now + d as i64)
}

/// When a PSP call started at `started` (ms) can no longer be in flight: twice the PSP timeout
/// later (a connector may make more than one call). Until then an order the PSP does not know
/// may simply not have arrived yet.
pub fn in_flight_deadline(app: &App, started: i64) -> i64 {
    started + 2 * i64::try_from(app.tuning.psp_timeout.as_millis()).unwrap_or(i64::MAX / 4)
}

/// The first status query of an order whose create call is (or was) in flight: at
/// [`in_flight_deadline`], so a slow create is never mistaken for a lost one.
pub fn safety_poll_at(app: &App, now: i64) -> i64 {
    in_flight_deadline(app, now)
}

/// Moves `txn` to the final state `to`, with its webhook event, in one DB transaction.
pub async fn finalize(
    app: &App,
    txn: &Transaction,
    to: TxnState,
    actor: Actor,
    reason: Option<String>,
    psp: Option<&PspUpdate>,
) -> Result<Transaction, StoreError> {
    let t = final_transition(app, txn, to, actor, reason, psp);
    commit_final(app, &t).await
}

/// The transition of `txn` to the final state `to` with its webhook event, not yet written;
/// the caller may add to it (an operator's audit record) and write it with [`commit_final`].
/// A live attempt ends with the transaction, with what the PSP said about it.
pub fn final_transition(
    app: &App,
    txn: &Transaction,
    to: TxnState,
    actor: Actor,
    reason: Option<String>,
    psp: Option<&PspUpdate>,
) -> Transition {
    let mut t = Transition::of(txn, to, actor, app.now());
    if let Some(u) = psp {
        t.record_psp(u);
    }
    if t.message.is_none() {
        t.message = reason.clone();
    }
    t.attempt = close_live_attempt(
        txn,
        to,
        psp.map(PspUpdate::failure_class),
        t.message.clone(),
    );
    t.reason = reason;
    let payload = views::webhook_payload(txn, to, &t);
    t.webhook = Some(NewWebhook {
        id: WebhookId::generate(),
        payload,
    });
    t
}

/// What a transaction leaving `txn.state` for `to` does to its live attempt: the attempt
/// takes `to`'s attempt state when the transaction has one live (`submitting`, `pending`);
/// a failure keeps its class and message.
pub fn close_live_attempt(
    txn: &Transaction,
    to: TxnState,
    class: Option<FailureClass>,
    message: Option<String>,
) -> AttemptWrite {
    let live =
        matches!(txn.state, TxnState::Submitting | TxnState::Pending) && txn.attempt_id.is_some();
    match AttemptState::for_transaction(to) {
        Some(state) if live => {
            let failed = matches!(state, AttemptState::Declined | AttemptState::Failed);
            AttemptWrite::Update {
                state,
                class: if failed {
                    class.or(Some(FailureClass::Unknown))
                } else {
                    None
                },
                error: if failed { message } else { None },
            }
        }
        _ => AttemptWrite::None,
    }
}

/// Writes a transition built by [`final_transition`] and wakes the webhook dispatcher.
pub async fn commit_final(app: &App, t: &Transition) -> Result<Transaction, StoreError> {
    let updated = app.store.transition(t).await?;
    app.webhook_wakeup.notify_one();
    tracing::info!(transaction_id = %t.transaction_id, from = t.from.as_str(), to = t.to.as_str(), "final state");
    Ok(updated)
}

/// Applies one PSP observation. Final states are never changed; a concurrent writer (callback
/// and poll at once) is handled by re-reading and re-applying. A decline or failure that
/// proves nothing moved may send the transaction to `retrying` instead of closing it, as its
/// routing plan and `flow` allow ([`attempts::may_cascade`]). Returns the current row.
pub async fn apply_update(
    app: &App,
    mut txn: Transaction,
    update: &PspUpdate,
    actor: Actor,
    flow: Flow,
) -> anyhow::Result<Transaction> {
    for _ in 0..5 {
        let failure = |never_reached| Failure {
            class: update.failure_class(),
            never_reached,
            message: update
                .message
                .clone()
                .unwrap_or_else(|| update.raw_status.clone()),
        };
        let result = match update.outcome {
            PspOutcome::Pending => record_pending(app, &txn, update).await,
            PspOutcome::Approved => {
                settle(app, &txn, TxnState::Approved, &actor, None, update, None).await
            }
            PspOutcome::Declined => {
                let f = failure(false);
                settle(
                    app,
                    &txn,
                    TxnState::Declined,
                    &actor,
                    None,
                    update,
                    Some((&f, flow)),
                )
                .await
            }
            PspOutcome::Failed => {
                let f = failure(false);
                settle(
                    app,
                    &txn,
                    TxnState::Failed,
                    &actor,
                    None,
                    update,
                    Some((&f, flow)),
                )
                .await
            }
            // While the create call can still be in flight, "no such order" may only mean
            // "not arrived yet": closing it then could fail a payout the PSP goes on to pay.
            PspOutcome::NotFound if create_may_be_in_flight(app, &txn) => Ok(txn.clone()),
            PspOutcome::NotFound => {
                let reason = "order not found at the PSP: it never received it".to_owned();
                let f = Failure {
                    class: FailureClass::NotProcessed,
                    never_reached: true,
                    message: reason.clone(),
                };
                let mut u = update.clone();
                u.class = Some(FailureClass::NotProcessed);
                settle(
                    app,
                    &txn,
                    TxnState::Failed,
                    &actor,
                    Some(reason),
                    &u,
                    Some((&f, flow)),
                )
                .await
            }
        };
        match result {
            Ok(updated) => return Ok(updated),
            Err(StoreError::Conflict(_)) => {
                txn = app
                    .store
                    .transaction(&txn.id)
                    .await?
                    .context("transaction vanished")?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("transaction {} kept changing under us", txn.id)
}

/// True while `txn` is `submitting` and its create call may not have reached the PSP yet.
fn create_may_be_in_flight(app: &App, txn: &Transaction) -> bool {
    let since = txn.submitted_at.unwrap_or(txn.created_at);
    txn.state == TxnState::Submitting && app.now() < in_flight_deadline(app, since)
}

/// Closes `txn` in `to`, or, for a failure routing may cascade, closes only its attempt and
/// moves it to `retrying`.
async fn settle(
    app: &App,
    txn: &Transaction,
    to: TxnState,
    actor: &Actor,
    reason: Option<String>,
    update: &PspUpdate,
    failure: Option<(&Failure, Flow)>,
) -> Result<Transaction, StoreError> {
    // Only an order that was sent can be finalised by the PSP; a held payout stays held.
    match txn.state {
        TxnState::Submitting | TxnState::Pending => match failure {
            Some((f, flow)) if attempts::may_cascade(txn, f, flow) => {
                attempts::retry(app, txn, to, actor.clone(), Some(update), f, flow).await
            }
            _ => finalize(app, txn, to, actor.clone(), reason, Some(update)).await,
        },
        TxnState::Created
        | TxnState::AwaitingApproval
        | TxnState::Retrying
        | TxnState::Approved
        | TxnState::Declined
        | TxnState::Failed
        | TxnState::Rejected => Ok(txn.clone()),
    }
}

async fn record_pending(
    app: &App,
    txn: &Transaction,
    u: &PspUpdate,
) -> Result<Transaction, StoreError> {
    let now = app.now();
    match txn.state {
        TxnState::Submitting => {
            let connector = app.registry.get(txn.psp_type.as_str());
            let mut t = Transition::of(txn, TxnState::Pending, Actor::Psp, now);
            // After a crash the poller's status query redoes it: no disk flush needed.
            t.recoverable = true;
            t.record_psp(u);
            t.redirect_url = u.redirect_url.clone();
            t.attempt = close_live_attempt(txn, TxnState::Pending, None, None);
            t.next_poll_at = connector.and_then(|c| {
                let kind = (txn.txn_type, TxnState::Pending);
                next_poll_at(app, c.as_ref(), kind, now, 0)
            });
            let due = t.next_poll_at;
            let updated = app.store.transition(&t).await?;
            // The poller sleeps at most a worker tick between rounds: it needs waking only for
            // a poll due sooner (a pending pay-in's first one is many seconds ahead, and a
            // claim per pay-in would be a wasted query each).
            if due.is_some_and(|at| at - now < crate::workers::ms(app.tuning.worker_tick)) {
                app.poll_wakeup.notify_one();
            }
            Ok(updated)
        }
        TxnState::Pending => {
            let changed = Some(&u.raw_status) != txn.psp_status.as_ref()
                || (u.stage.is_some() && u.stage != txn.psp_stage)
                || (u.redirect_url.is_some() && u.redirect_url != txn.redirect_url)
                || (u.psp_transaction_id.is_some()
                    && u.psp_transaction_id != txn.psp_transaction_id);
            if !changed {
                return Ok(txn.clone());
            }
            let progress = ProgressUpdate {
                psp_status: Some(u.raw_status.clone()),
                psp_transaction_id: u.psp_transaction_id.clone(),
                psp_stage: u.stage.clone(),
                redirect_url: u.redirect_url.clone(),
            };
            app.store
                .record_progress(&txn.id, txn.version, &progress, now)
                .await
        }
        TxnState::Created
        | TxnState::AwaitingApproval
        | TxnState::Retrying
        | TxnState::Approved
        | TxnState::Declined
        | TxnState::Failed
        | TxnState::Rejected => Ok(txn.clone()),
    }
}

/// Asks the PSP now (poller, unverified callback) and applies the answer; `routed` as in
/// [`resolve`].
pub async fn sync_now(
    app: &App,
    txn: Transaction,
    routed: Option<&PspAccount>,
) -> anyhow::Result<Transaction> {
    let (connector, ctx) = resolve(app, &txn, routed).await?;
    let order = order_ref(&txn);
    let result = in_context(call_context(&txn, "status"), connector.sync(&ctx, &order)).await;
    attempts::record_health(app, &txn.psp_account_id, result.as_ref().err());
    apply_update(app, txn, &result?, Actor::Psp, Flow::Background).await
}
