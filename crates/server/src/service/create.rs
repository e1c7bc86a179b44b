//! Creating a pay-in or payout from a Cashier API request: idempotency, validation, routing,
//! MP user verification, the insert, and the first PSP call.

use crate::api::auth::{user_auth, UserAuth};
use crate::api::cashier_in::{self, CashierIn};
use crate::api::error::{success, ApiError};
use crate::app::App;
use crate::service::{progress, verify};
use axum::http::{HeaderMap, StatusCode};
use overture_core::connector::Connector;
use overture_core::store::StoreError;
use overture_core::*;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The HTTP status and JSON body of a Cashier API answer.
pub type Reply = (StatusCode, Value);

/// Handles one `POST /v1/api/mozarto/cashier` body (already size- and type-checked).
pub async fn create(
    app: &App,
    company: &Company,
    headers: &HeaderMap,
    body: &[u8],
    idempotency_key: Option<String>,
) -> Result<Reply, ApiError> {
    let fields: HashMap<String, Box<RawValue>> = serde_json::from_slice(body).map_err(|e| {
        let what = if e.is_data() {
            "the body must be a JSON object".to_owned()
        } else {
            e.to_string()
        };
        ApiError::MalformedJson(what)
    })?;
    let user = user_auth(headers, company)?;
    let request_hash = idempotency_key
        .as_ref()
        .map(|_| canonical_hash(body))
        .unwrap_or_default();
    if let Some(key) = &idempotency_key {
        if let Some(reply) = replay(app, company, key, &request_hash).await? {
            return Ok(reply);
        }
    }
    let input = cashier_in::parse(&fields, |p| app.registry.get(p).is_some())?;
    if let UserAuth::Token { claims, .. } = &user {
        if claims.user_id.as_string() != input.user_id {
            return Err(ApiError::Forbidden(
                "x-user-token userId does not match the body's userId".into(),
            ));
        }
    }
    let connector = app
        .registry
        .get(&input.psp_type)
        .cloned()
        .ok_or_else(|| ApiError::field("pspType", "unknown pspType"))?;
    let request = check_capabilities(connector.as_ref(), &input, &user)?;
    let account = route(app, company, &input).await?;
    let must_verify = match input.txn_type {
        TxnType::Payout => true,
        TxnType::Payin => company.verify_payins,
    };
    if must_verify {
        verify::verify_user(
            app,
            company,
            &user,
            &input.user_id,
            input.txn_type,
            &input.amount,
        )
        .await?;
    }
    let held = input.txn_type == TxnType::Payout
        && company
            .payout_approval_threshold
            .is_some_and(|t| input.amount.to_decimal() >= t);
    let txn = new_transaction(
        app,
        company,
        &account,
        &input,
        request,
        idempotency_key.clone(),
        held,
    );
    let events = [
        event(&txn, None, TxnState::Created, txn.created_at),
        event(&txn, Some(TxnState::Created), txn.state, txn.created_at),
    ];
    let record = idempotency_key.as_ref().map(|key| IdempotencyRecord {
        company_id: company.id.clone(),
        key: key.clone(),
        request_sha256: request_hash.clone(),
        transaction_id: txn.id.clone(),
        response: None,
        created_at: txn.created_at,
    });
    match app
        .store
        .create_transaction(&txn, &events, record.as_ref())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Duplicate(_)) if idempotency_key.is_some() => {
            // Lost a race with the same key: answer as the winner did.
            let key = idempotency_key.as_deref().unwrap_or_default();
            return replay(app, company, key, &request_hash)
                .await?
                .ok_or(ApiError::IdempotencyInProgress);
        }
        Err(e) => return Err(e.into()),
    }
    app.metrics
        .transactions_created
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(transaction_id = %txn.id, company = %company.id, kind = txn.txn_type.as_str(), psp = %txn.psp_type, state = txn.state.as_str(), "transaction created");
    let reply = run_first_step(app, txn, &account).await;
    if let Some(key) = &idempotency_key {
        let (status, body) = match &reply {
            Ok((status, body)) => (*status, body.clone()),
            Err(e) => (e.status_and_code().0, e.envelope()),
        };
        app.store
            .save_idempotent_response(&company.id, key, status.as_u16(), &body.to_string())
            .await?;
    }
    reply
}

/// SHA-256 of the body re-serialised with sorted keys, so whitespace and key order do not
/// make "the same body" different.
fn canonical_hash(body: &[u8]) -> String {
    let canonical = serde_json::from_slice::<Value>(body)
        .map(|v| v.to_string())
        .unwrap_or_default();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// The stored answer for a reused key: same body ⇒ the original response; other body ⇒ 409.
async fn replay(
    app: &App,
    company: &Company,
    key: &str,
    hash: &str,
) -> Result<Option<Reply>, ApiError> {
    let Some(record) = app.store.idempotency(&company.id, key).await? else {
        return Ok(None);
    };
    if record.request_sha256 != hash {
        return Err(ApiError::IdempotencyConflict);
    }
    let (status, body) = record.response.ok_or(ApiError::IdempotencyInProgress)?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let body = serde_json::from_str(&body).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Some((status, body)))
}

/// Refuses, before any PSP call, what the PSP cannot do (422) or lacks (400 naming the field).
fn check_capabilities(
    connector: &dyn Connector,
    input: &CashierIn,
    user: &UserAuth,
) -> Result<connector::PaymentRequest, ApiError> {
    let caps = connector.capabilities();
    let supported = match input.txn_type {
        TxnType::Payin => caps.payin,
        TxnType::Payout => caps.payout,
    };
    if !supported {
        return Err(ApiError::PspNotSupported(format!(
            "{} does not support {}",
            caps.psp_type,
            input.txn_type.as_str()
        )));
    }
    let currency = input.amount.currency().code();
    if !caps.currencies.contains(&currency) {
        return Err(ApiError::PspNotSupported(format!(
            "{} does not take {currency}",
            caps.psp_type
        )));
    }
    if let Some(country) = &input.country {
        if !caps.countries.is_empty() && !caps.countries.contains(&country.as_str()) {
            return Err(ApiError::PspNotSupported(format!(
                "{} does not serve {country}",
                caps.psp_type
            )));
        }
    }
    let request = connector::PaymentRequest {
        transaction_id: TransactionId::generate(),
        txn_type: input.txn_type,
        amount: input.amount,
        user_id: input.user_id.clone(),
        email: input.email.clone(),
        country: input.country.clone(),
        return_url: input.return_url.clone(),
        merchant_reference: input.merchant_reference.clone(),
        extras: with_profile(input, user),
    };
    connector
        .validate(&request)
        .map_err(|e| ApiError::field(&e.field, e.message))?;
    Ok(request)
}

/// The company's enabled account for the PSP, highest priority first.
async fn route(app: &App, company: &Company, input: &CashierIn) -> Result<PspAccount, ApiError> {
    app.store
        .psp_accounts(&company.id)
        .await?
        .into_iter()
        .find(|a| a.enabled && a.psp_type.as_str() == input.psp_type)
        .ok_or_else(|| {
            ApiError::PspNotConfigured(format!(
                "no enabled {} account for this company",
                input.psp_type
            ))
        })
}

/// The body's PSP fields plus the profile fields PSPs may need from a verified user token
/// (Gigadat name/phone, Brite country); the body's own values win. Done before `validate`, so a
/// field the token carries is not reported missing.
fn with_profile(input: &CashierIn, user: &UserAuth) -> std::collections::BTreeMap<String, String> {
    let mut extras = input.extras.clone();
    if let UserAuth::Token { claims, .. } = user {
        for (k, v) in [
            ("firstName", &claims.first_name),
            ("lastName", &claims.last_name),
            ("phone", &claims.phone),
        ] {
            extras.entry(k.to_owned()).or_insert_with(|| v.clone());
        }
        if input.country.is_none() {
            extras
                .entry("countryCode".to_owned())
                .or_insert_with(|| claims.country_code.clone());
        }
    }
    extras
}

fn new_transaction(
    app: &App,
    company: &Company,
    account: &PspAccount,
    input: &CashierIn,
    request: connector::PaymentRequest,
    idempotency_key: Option<String>,
    held: bool,
) -> Transaction {
    let now = app.now();
    let extras = request.extras;
    let state = if held {
        TxnState::AwaitingApproval
    } else {
        TxnState::Submitting
    };
    Transaction {
        id: request.transaction_id,
        company_id: company.id.clone(),
        brand_id: input.brand_id.clone(),
        txn_type: input.txn_type,
        psp_type: account.psp_type.clone(),
        psp_account_id: account.id.clone(),
        amount: input.amount,
        user_id: input.user_id.clone(),
        email: input.email.clone(),
        country: input.country.clone(),
        extras,
        state,
        psp_status: None,
        psp_transaction_id: None,
        psp_stage: None,
        message: None,
        session_id: (input.txn_type == TxnType::Payin).then(SessionId::generate),
        redirect_url: None,
        return_url: input.return_url.clone(),
        merchant_reference: input.merchant_reference.clone(),
        idempotency_key,
        created_at: now,
        updated_at: now,
        submitted_at: (!held).then_some(now),
        version: 1,
        // Safety net: if this process dies during the PSP call, the poller asks the PSP.
        next_poll_at: (!held).then(|| progress::safety_poll_at(app, now)),
        poll_attempts: 0,
    }
}

fn event(txn: &Transaction, from: Option<TxnState>, to: TxnState, at: i64) -> TransactionEvent {
    TransactionEvent {
        transaction_id: txn.id.clone(),
        from_state: from,
        to_state: to,
        actor: Actor::Merchant,
        reason: None,
        psp_status: None,
        at,
    }
}

/// Holds the payout for approval, or calls the PSP, and shapes the answer.
async fn run_first_step(
    app: &App,
    txn: Transaction,
    account: &PspAccount,
) -> Result<Reply, ApiError> {
    let kind = txn.txn_type;
    let (txn, error) = match (txn.state, kind) {
        (TxnState::AwaitingApproval, _) => (txn, None),
        (_, TxnType::Payout) => progress::submit_payout(app, txn, Some(account))
            .await
            .map_err(ApiError::Internal)?,
        (_, TxnType::Payin) => progress::start_payin(app, txn, Some(account))
            .await
            .map_err(ApiError::Internal)?,
    };
    if let Some(error) = error {
        return Err(ApiError::Psp {
            error,
            transaction_id: Some(txn.id),
        });
    }
    let status = txn.state.transaction_status().as_upper();
    let data = match kind {
        TxnType::Payin => json!({
            "status": status,
            "url": txn.redirect_url.clone().unwrap_or_default(),
            "sessionId": txn.session_id,
            "transactionId": txn.id,
        }),
        TxnType::Payout => json!({ "status": status, "transactionId": txn.id }),
    };
    Ok((StatusCode::OK, success(data)))
}
