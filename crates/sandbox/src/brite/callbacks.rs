//! State progression after the client, and Brite's callbacks: unsigned JSON POSTs
//! `{merchant_id, session_id, session_state}` / `{merchant_id, transaction_id,
//! transaction_state}` to each URL subscribed for that state, one after the other, each retried
//! with `SimConfig::callback_retries` while not answered 2xx.

use super::{brite_id, session, transaction, Order, Shared, Subject};
use crate::notify::until_accepted;
use crate::Scenario;
use serde_json::{json, Value};
use std::sync::Arc;

/// One state change worth a callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub subject: Subject,
    pub state: i64,
}

const fn ev(subject: Subject, state: i64) -> Event {
    Event { subject, state }
}

/// The events when the payer authenticates: session AUTHENTICATION_COMPLETED, transaction
/// PENDING.
const AUTHENTICATED: [Event; 2] = [
    ev(Subject::Session, session::AUTHENTICATION_COMPLETED),
    ev(Subject::Transaction, transaction::PENDING),
];

/// The payer approved in the client: session 2, a transaction in PENDING, then the final
/// states after `processing_delay`. Returns the order as changed, `None` if it was not
/// waiting for the payer (a repeat changes nothing).
pub(crate) fn authenticate(shared: &Arc<Shared>, session_id: &str) -> Option<Order> {
    let changed = shared.update(session_id, |o| {
        if o.session_state != session::CREATED {
            return None;
        }
        o.session_state = session::AUTHENTICATION_COMPLETED;
        o.transaction = Some((brite_id(), transaction::PENDING));
        o.executions += 1;
        Some(o.clone())
    })??;
    // Out-of-order sessions hold every callback until the end (then send them reversed).
    if !changed.out_of_order {
        deliver(shared, &changed, AUTHENTICATED.to_vec());
    }
    settle_later(shared, &changed);
    Some(changed)
}

/// The payer cancelled in the client: session ABORTED, no transaction.
pub(crate) fn abort(shared: &Arc<Shared>, session_id: &str) -> Option<Order> {
    let changed = shared.update(session_id, |o| {
        if o.session_state != session::CREATED {
            return None;
        }
        o.session_state = session::ABORTED;
        Some(o.clone())
    })??;
    deliver(
        shared,
        &changed,
        vec![ev(Subject::Session, session::ABORTED)],
    );
    Some(changed)
}

/// The final (session, transaction) states of a scenario and their events in natural order;
/// `None` for `.53` (stays PENDING).
fn final_states(scenario: Scenario) -> Option<(i64, i64, Vec<Event>)> {
    match scenario {
        Scenario::Decline => Some((
            session::ABORTED,
            transaction::ABORTED,
            vec![
                ev(Subject::Transaction, transaction::ABORTED),
                ev(Subject::Session, session::ABORTED),
            ],
        )),
        Scenario::Error => Some((
            session::FAILED,
            transaction::FAILED,
            vec![
                ev(Subject::Transaction, transaction::FAILED),
                ev(Subject::Session, session::FAILED),
            ],
        )),
        Scenario::StaysProcessing => None,
        Scenario::Approve
        | Scenario::Http500OnCreate
        | Scenario::NoCallback
        | Scenario::DuplicateCallback
        | Scenario::ForgedCallback => Some((
            session::COMPLETED,
            transaction::CREDIT,
            vec![
                ev(Subject::Transaction, transaction::COMPLETED),
                ev(Subject::Session, session::COMPLETED),
                ev(Subject::Transaction, transaction::CREDIT),
            ],
        )),
    }
}

fn settle_later(shared: &Arc<Shared>, order: &Order) {
    let Some((session_state, transaction_state, events)) = final_states(order.scenario) else {
        return;
    };
    let shared = Arc::clone(shared);
    let session_id = order.session_id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.processing_delay).await;
        let settled = shared.update(&session_id, |o| {
            o.session_state = session_state;
            if let Some((_, state)) = o.transaction.as_mut() {
                *state = transaction_state;
            }
            o.clone()
        });
        let Some(order) = settled else { return };
        let events = if order.out_of_order {
            // Everything since authentication, newest first: CREDIT before COMPLETED, and a
            // late PENDING / AUTHENTICATION_COMPLETED after the deposit is final.
            let mut all = AUTHENTICATED.to_vec();
            all.extend(events);
            all.reverse();
            all
        } else if order.scenario == Scenario::ForgedCallback {
            // The lie: the opposite of the real final transaction state.
            let lie = if transaction_state == transaction::CREDIT {
                transaction::ABORTED
            } else {
                transaction::CREDIT
            };
            vec![ev(Subject::Transaction, lie)]
        } else {
            events
        };
        deliver(&shared, &order, events);
    });
}

/// The callback body for `event` of `order`.
fn body(order: &Order, event: Event) -> Value {
    match event.subject {
        Subject::Session => json!({
            "merchant_id": order.merchant_id,
            "session_id": order.session_id,
            "session_state": event.state,
        }),
        Subject::Transaction => json!({
            "merchant_id": order.merchant_id,
            "transaction_id": order.transaction.as_ref().map(|(id, _)| id.clone()),
            "transaction_state": event.state,
        }),
    }
}

/// Sends `events` in order, each to the URLs subscribed for it (twice for `.56`, never for
/// `.55`), in one background task so that their order is kept.
fn deliver(shared: &Arc<Shared>, order: &Order, events: Vec<Event>) {
    let copies = match order.scenario {
        Scenario::NoCallback => 0,
        Scenario::DuplicateCallback => 2,
        _ => 1,
    };
    let mut posts = Vec::new();
    for event in events {
        let payload = body(order, event);
        for sub in &order.subscriptions {
            if sub.subject == event.subject && sub.state == event.state {
                for _ in 0..copies {
                    posts.push((sub.url.clone(), payload.clone()));
                }
            }
        }
    }
    if posts.is_empty() {
        return;
    }
    let shared = Arc::clone(shared);
    let session_id = order.session_id.clone();
    tokio::spawn(async move {
        for (url, payload) in posts {
            post_with_retries(&shared, &session_id, &url, &payload).await;
        }
    });
}

async fn post_with_retries(shared: &Arc<Shared>, session_id: &str, url: &str, payload: &Value) {
    let accepted = until_accepted(&shared.config.callback_retries, || async move {
        shared.update(session_id, |o| o.callback_attempts += 1);
        shared
            .client
            .post(url)
            .json(payload)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    if accepted {
        shared.update(session_id, |o| o.callbacks_sent += 1);
    } else {
        tracing::warn!(session_id, "Brite sandbox callback not accepted; giving up");
    }
}
