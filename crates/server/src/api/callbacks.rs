//! PSP callbacks: `GET|POST /v1/api/psp-callbacks/{psp}/{accountId}`.
//!
//! A callback is a hint, never a decision (docs/ARCHITECTURE.md). The connector checks it;
//! a signed callback whose order id, amount or currency differ from the stored order is refused
//! (400) and triggers nothing; any other callback for an open transaction asks for a status
//! query ([`crate::service::confirm`]), coalesced per transaction, whose authenticated answer
//! is what gets applied. Callbacks naming no known order of this account answer 404 at once,
//! with no PSP traffic. The PSP gets 200, with the acknowledgement its protocol expects
//! ([`Connector::callback_ack`](overture_core::connector::Connector::callback_ack)), as soon
//! as the hint is taken.
//!
//! The one exception is a PSP that publishes no status query
//! ([`Capabilities::final_by_callback`](overture_core::connector::Capabilities)): there a
//! verified callback whose order id, amount and currency all match the stored order is the
//! PSP's authenticated word and is applied as it is.

use crate::api::openapi::schemas::ErrorEnvelope;
use crate::app::App;
use crate::service::attempts::Flow;
use crate::service::confirm::Hint;
use crate::service::exchange_log::ReceivedCallback;
use crate::service::progress;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use overture_core::connector::Connector;
use overture_core::connector::{
    AccountContext, CallbackAck, CallbackClaims, CallbackOutcome, CallbackRequest,
};
use overture_core::store::StoreError;
use overture_core::{
    Actor, Attempt, AttemptId, Currency, Money, OrderId, PspAccount, PspAccountId, Transaction,
    TransactionId,
};

/// Largest accepted callback body, in bytes.
const MAX_CALLBACK_BYTES: usize = 64 * 1024;

pub fn router() -> Router<App> {
    Router::new().route("/v1/api/psp-callbacks/{psp}/{account}", any(callback))
}

/// A PSP's notification for one of this account's orders: a hint, confirmed by an
/// authenticated status query before anything is applied. The answer is the acknowledgement
/// the PSP's protocol expects.
#[utoipa::path(method(get, post), path = "/v1/api/psp-callbacks/{psp}/{account}", tag = "PSP callbacks", operation_id = "pspCallback",
    params(
        ("psp" = String, Path, description = "The PSP type, e.g. `PAYMENTSOFT`"),
        ("account" = String, Path, description = "The PSP account id (`psp_…`)"),
    ),
    request_body(content = String, description = "The PSP's own format (form, JSON or XML)", content_type = "*/*"),
    responses(
        (status = 200, description = "Taken; the PSP's acknowledgement", content_type = "*/*", body = String, example = "OK"),
        (status = 400, description = "Unreadable, badly signed, or not matching the stored order", body = ErrorEnvelope),
        (status = 404, description = "No such PSP, account or order", body = ErrorEnvelope),
        (status = 413, description = "Larger than 64 KiB", body = ErrorEnvelope),
        (status = 503, description = "Retry later", body = ErrorEnvelope),
    ))]
pub(crate) async fn callback(
    State(app): State<App>,
    Path((psp, account)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let received = Received {
        method,
        path: uri.path().to_owned(),
        query,
        headers,
    };
    match handle(app, psp, account, received, body).await {
        Handled::Ack(ack) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, ack.content_type)],
            ack.body,
        )
            .into_response(),
        Handled::Refused(status, text) => (status, text).into_response(),
    }
}

/// What became of a callback: acknowledged as the PSP expects, or refused with a status.
enum Handled {
    Ack(CallbackAck),
    Refused(StatusCode, &'static str),
}

/// The parts of a callback request besides its body.
struct Received {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
}

async fn handle(app: App, psp: String, account: String, received: Received, body: Body) -> Handled {
    let Received {
        method,
        path: uri_path,
        query,
        headers,
    } = received;
    use Handled::Refused;
    let Some(account_id) = PspAccountId::parse(&account) else {
        return Refused(StatusCode::NOT_FOUND, "unknown account");
    };
    let account = match app.store.psp_account(&account_id).await {
        Ok(Some(a)) if a.psp_type.as_str().eq_ignore_ascii_case(&psp) => a,
        Ok(_) => return Refused(StatusCode::NOT_FOUND, "unknown account"),
        Err(e) => {
            tracing::error!(error = ?e, "callback: store error");
            return Refused(StatusCode::SERVICE_UNAVAILABLE, "retry later");
        }
    };
    let Some(connector) = app.registry.get(account.psp_type.as_str()).cloned() else {
        return Refused(StatusCode::NOT_FOUND, "unknown PSP");
    };
    let Ok(body) = axum::body::to_bytes(body, MAX_CALLBACK_BYTES).await else {
        return Refused(StatusCode::PAYLOAD_TOO_LARGE, "too large");
    };
    let request = CallbackRequest {
        method: method.to_string(),
        query: query.unwrap_or_default(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| {
                Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned()))
            })
            .collect(),
        body: body.to_vec(),
    };
    let mut note = Note::default();
    let handled = decide(&app, &account, connector.as_ref(), &request, &mut note).await;
    let path = match &request.query {
        q if q.is_empty() => uri_path.clone(),
        q => format!("{uri_path}?{q}"),
    };
    app.exchanges.callback(ReceivedCallback {
        account: &account.id,
        psp_type: account.psp_type.as_str(),
        transaction: note.transaction.as_ref(),
        attempt: note.attempt.as_ref(),
        method: &request.method,
        path: &path,
        body: &request.body,
        answered: match &handled {
            Handled::Ack(_) => 200,
            Handled::Refused(status, _) => status.as_u16(),
        },
        outcome: note.outcome,
    });
    handled
}

/// What the exchange log says of a callback: the transaction and attempt it named, and what
/// Overture did with it.
#[derive(Default)]
struct Note {
    transaction: Option<TransactionId>,
    attempt: Option<AttemptId>,
    outcome: String,
}

/// Decides what to do with a callback of `account` (see the module docs), noting it in `note`.
async fn decide(
    app: &App,
    account: &PspAccount,
    connector: &dyn Connector,
    request: &CallbackRequest,
    note: &mut Note,
) -> Handled {
    use Handled::Refused;
    let ctx = AccountContext::new(account, &app.public_url);
    let outcome = match connector.parse_callback(&ctx, request) {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(psp = %account.psp_type, error = %e, "callback refused");
            note.outcome = format!("refused: malformed ({e})");
            return Refused(StatusCode::BAD_REQUEST, "malformed callback");
        }
    };
    let (txn_id, verified, kind) = match outcome {
        CallbackOutcome::Verified {
            order_id,
            update,
            claims,
        } => {
            tracing::info!(%order_id, psp_status = %update.raw_status, "signed callback: asking the PSP to confirm");
            let kind = format!("verified (claims {})", update.raw_status);
            (order_id, Some((update, claims)), kind)
        }
        CallbackOutcome::Unverified { order_id, why } => {
            tracing::info!(%order_id, why, "unverified callback: asking the PSP instead");
            (order_id, None, format!("unverified ({why})"))
        }
    };
    let claims = verified.as_ref().map(|(_, c)| c);
    let (attempt, txn) = match order(app, &txn_id).await {
        Ok(Some((a, t))) if a.psp_account_id == account.id => (a, t),
        Ok(_) => {
            note.outcome = format!("{kind}; refused: no such order of this account");
            return Refused(StatusCode::NOT_FOUND, "unknown order");
        }
        Err(e) => {
            tracing::error!(error = ?e, "callback: store error");
            note.outcome = format!("{kind}; not handled: store error");
            return Refused(StatusCode::SERVICE_UNAVAILABLE, "retry later");
        }
    };
    note.transaction = Some(txn.id.clone());
    note.attempt = Some(attempt.id.clone());
    if txn.attempt_id.as_ref() != Some(&attempt.id) {
        // An earlier attempt, closed when the transaction failed over: nothing to confirm.
        tracing::info!(transaction_id = %txn.id, attempt = attempt.seq, "callback for a closed attempt; acknowledged, ignored");
        note.outcome = format!("{kind}; ignored: attempt {} is closed", attempt.seq);
        return Handled::Ack(connector.callback_ack(request));
    }
    if let Some(mismatch) = claims.and_then(|c| mismatch(&txn, c)) {
        tracing::warn!(transaction_id = %txn.id, mismatch, "signed callback does not match the order; ignored");
        note.outcome = format!("{kind}; refused: its {mismatch} does not match the order");
        return Refused(StatusCode::BAD_REQUEST, "callback does not match the order");
    }
    if txn.state.is_final() {
        note.outcome = format!(
            "{kind}; nothing to do: the transaction is {}",
            txn.state.as_str()
        );
        return Handled::Ack(connector.callback_ack(request));
    }
    if connector.capabilities().final_by_callback {
        // No status query exists: a verified callback that names the order's amount and
        // currency (all matched above) is the PSP's authenticated word.
        return match verified {
            Some((update, claims)) if claims.amount.is_some() && claims.currency.is_some() => {
                match progress::apply_update(app, txn, &update, Actor::Psp, Flow::Background).await
                {
                    Ok(t) => {
                        note.outcome = format!(
                            "{kind}; applied (this PSP has no status query): {}",
                            t.state.as_str()
                        );
                        Handled::Ack(connector.callback_ack(request))
                    }
                    Err(e) => {
                        tracing::error!(error = ?e, "callback: could not apply");
                        note.outcome = format!("{kind}; not applied: {e}");
                        Refused(StatusCode::SERVICE_UNAVAILABLE, "retry later")
                    }
                }
            }
            Some(_) => {
                note.outcome = format!("{kind}; refused: no amount or currency to match");
                Refused(StatusCode::BAD_REQUEST, "callback lacks amount or currency")
            }
            None => {
                note.outcome = format!("{kind}; refused: this PSP's callbacks must be verified");
                Refused(StatusCode::BAD_REQUEST, "callback not verified")
            }
        };
    }
    let hint = app
        .confirmations
        .request(app, txn.id.clone(), account.clone());
    tracing::debug!(transaction_id = %txn.id, ?hint, "status query requested");
    note.outcome = match hint {
        Hint::Queued => format!("{kind}; status query requested"),
        Hint::Coalesced => format!("{kind}; coalesced with a status query already due"),
    };
    Handled::Ack(connector.callback_ack(request))
}

/// The attempt that sent `order` to the PSP, and its transaction.
async fn order(app: &App, order: &OrderId) -> Result<Option<(Attempt, Transaction)>, StoreError> {
    let Some(attempt) = app.store.attempt_by_order(order).await? else {
        return Ok(None);
    };
    let txn = app.store.transaction(&attempt.transaction_id).await?;
    Ok(txn.map(|t| (attempt, t)))
}

/// The first field of a signed callback that contradicts the stored order: the PSP's order id
/// (once Overture knows it), the currency, or the amount (compared exactly, in minor units).
fn mismatch(txn: &Transaction, claims: &CallbackClaims) -> Option<&'static str> {
    if let (Some(stored), Some(claimed)) = (&txn.psp_transaction_id, &claims.psp_transaction_id) {
        if stored != claimed {
            return Some("PSP order id");
        }
    }
    let currency = txn.amount.currency();
    if let Some(code) = &claims.currency {
        if Currency::from_code(code.trim()) != Some(currency) {
            return Some("currency");
        }
    }
    if let Some(amount) = &claims.amount {
        if Money::parse_major(amount, currency).ok() != Some(txn.amount) {
            return Some("amount");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use overture_core::{CompanyId, PspType, SessionId, TransactionId, TxnState, TxnType};

    fn txn(psp_id: Option<&str>) -> Transaction {
        let eur = Currency::from_code("EUR").unwrap();
        Transaction {
            id: TransactionId::generate(),
            company_id: CompanyId::generate(),
            brand_id: None,
            txn_type: TxnType::Payout,
            psp_type: PspType("PAYMENTSOFT".into()),
            psp_account_id: PspAccountId::generate(),
            attempt_id: None,
            attempt_seq: 0,
            order_id: None,
            routing: None,
            metadata: Default::default(),
            amount: Money::parse_major("10.50", eur).unwrap(),
            user_id: "u".into(),
            email: "a@b.co".into(),
            country: None,
            extras: Default::default(),
            state: TxnState::Pending,
            psp_status: None,
            psp_transaction_id: psp_id.map(str::to_owned),
            psp_stage: None,
            message: None,
            session_id: None::<SessionId>,
            redirect_url: None,
            return_url: None,
            merchant_reference: None,
            idempotency_key: None,
            created_at: 0,
            updated_at: 0,
            submitted_at: Some(0),
            version: 1,
            next_poll_at: None,
            poll_attempts: 0,
            trace_id: None,
        }
    }

    fn claims(id: Option<&str>, amount: Option<&str>, currency: Option<&str>) -> CallbackClaims {
        CallbackClaims {
            psp_transaction_id: id.map(str::to_owned),
            amount: amount.map(str::to_owned),
            currency: currency.map(str::to_owned),
        }
    }

    #[test]
    fn every_carried_field_must_match() {
        let t = txn(Some("1000001"));
        assert_eq!(
            mismatch(&t, &claims(Some("1000001"), Some("10.50"), Some("EUR"))),
            None
        );
        assert_eq!(
            mismatch(&t, &claims(None, Some("10.5"), None)),
            None,
            "same amount"
        );
        assert_eq!(mismatch(&t, &CallbackClaims::default()), None);
        assert_eq!(
            mismatch(&t, &claims(Some("1000002"), Some("10.50"), Some("EUR"))),
            Some("PSP order id")
        );
        assert_eq!(
            mismatch(&t, &claims(None, Some("10.51"), None)),
            Some("amount")
        );
        assert_eq!(
            mismatch(&t, &claims(None, Some("1050"), None)),
            Some("amount")
        );
        assert_eq!(
            mismatch(&t, &claims(None, Some("ten"), None)),
            Some("amount")
        );
        assert_eq!(
            mismatch(&t, &claims(None, None, Some("USD"))),
            Some("currency")
        );
        // Before the PSP's id is known, any id is accepted (the status query decides).
        assert_eq!(mismatch(&txn(None), &claims(Some("9"), None, None)), None);
    }
}
