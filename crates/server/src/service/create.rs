//! Creating a pay-in or payout from a validated Cashier API request: routing (rules,
//! eligibility, the chosen account), MP user verification, the insert (with its first attempt
//! and its idempotency record), and the attempts of the request itself
//! ([`attempts::drive`]).

use crate::app::App;
use crate::service::attempts;
use crate::service::error::ServiceError;
use crate::service::routing::{self, Routed};
use crate::service::user::UserAuth;
use crate::service::{progress, verify};
use overture_core::connector::{self, Connector, ConnectorError};
use overture_core::store::StoreError;
use overture_core::{
    Actor, Attempt, Company, IdempotencyRecord, Money, OrderId, SessionId, Transaction,
    TransactionEvent, TransactionId, TxnState, TxnType,
};
use std::collections::BTreeMap;

/// The first event's reason when the MP verified the user before the transaction was stored.
pub const VERIFIED_AT_CREATION: &str = "the merchant platform allowed the user (verify-user)";

/// A validated Cashier API request (the API layer parses and checks the body into this).
#[derive(Debug, Clone)]
pub struct NewPayment {
    /// The requested `pspType`; `None` when the body leaves it to a routing rule.
    pub psp_type: Option<String>,
    pub txn_type: TxnType,
    pub amount: Money,
    pub user_id: String,
    pub email: String,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub brand_id: Option<String>,
    pub merchant_reference: Option<String>,
    pub return_url: Option<String>,
    /// PSP-specific string fields (`walletAddress`, `preferredCrypto`, `phone`, …).
    pub extras: BTreeMap<String, String>,
    /// The body's `metadata` (string values routing rules match on; never sent to a PSP).
    pub metadata: BTreeMap<String, String>,
}

/// An `Idempotency-Key` and the hash of the body it was sent with, stored with the transaction.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    pub key: String,
    /// SHA-256 (hex) of the canonical request body.
    pub request_sha256: String,
}

/// A stored transaction after its first step: held for approval, or sent to the PSP.
#[derive(Debug)]
pub struct Created {
    pub txn: Transaction,
    /// The first PSP call failed; the transaction is stored (closed `failed` when the PSP
    /// certainly did not act, else left for the poller) and its final status goes by webhook.
    pub psp_error: Option<ConnectorError>,
}

/// Creates the transaction. Refusals before the insert store nothing; once stored, the outcome
/// is [`Created`] (PSP errors included). `ServiceError::IdempotencyKeyTaken` when another
/// request stored a transaction under the same key first.
pub async fn create(
    app: &App,
    company: &Company,
    user: &UserAuth,
    input: NewPayment,
    idempotency: Option<IdempotencyClaim>,
) -> Result<Created, ServiceError> {
    if let Some(profile) = user.profile() {
        if profile.user_id != input.user_id {
            return Err(ServiceError::Forbidden(
                "x-user-token userId does not match the body's userId".into(),
            ));
        }
    }
    let id = TransactionId::generate();
    let request = payment_request(&input, Some(user), &id);
    let routed = routing::route_new(app, company, &input, &request).await?;
    let must_verify = match input.txn_type {
        TxnType::Payout => true,
        TxnType::Payin => company.verify_payins,
    };
    if must_verify {
        verify::verify_user(
            app,
            company,
            user,
            &input.user_id,
            input.txn_type,
            &input.amount,
        )
        .await?;
    }
    let held = input.txn_type == TxnType::Payout
        && (routed.plan.hold_for_approval
            || company
                .payout_threshold(input.amount.currency().code())
                .is_some_and(|t| input.amount.to_decimal() >= t));
    let key = idempotency.as_ref().map(|c| c.key.clone());
    let connector = app
        .registry
        .get(routed.account.psp_type.as_str())
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no connector for {}", routed.account.psp_type))?;
    let (request, secrets) = split_secrets(connector.as_ref(), request);
    let (txn, attempt) = new_transaction(app, company, &routed, &input, request, key, held, id);
    let mut created = event(&txn, None, TxnState::Created, txn.created_at);
    if must_verify {
        // What the approver sees beside a held payout, and the history shows.
        created.reason = Some(VERIFIED_AT_CREATION.to_owned());
    }
    let events = [
        created,
        event(&txn, Some(TxnState::Created), txn.state, txn.created_at),
    ];
    let record = idempotency.map(|claim| IdempotencyRecord {
        company_id: company.id.clone(),
        key: claim.key,
        request_sha256: claim.request_sha256,
        transaction_id: txn.id.clone(),
        response: None,
        created_at: txn.created_at,
    });
    match app
        .store
        .create_transaction(&txn, &events, attempt.as_ref(), record.as_ref())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Duplicate(_)) if record.is_some() => {
            return Err(ServiceError::IdempotencyKeyTaken)
        }
        Err(e) => return Err(e.into()),
    }
    app.metrics.transactions_created.inc();
    tracing::info!(transaction_id = %txn.id, company = %company.id, kind = txn.txn_type.as_str(), psp = %txn.psp_type, account = %txn.psp_account_id, rule = routed.plan.rule.as_deref().unwrap_or("-"), state = txn.state.as_str(), "transaction created");
    if held {
        return Ok(Created {
            txn,
            psp_error: None,
        });
    }
    let (txn, psp_error) = attempts::drive(app, txn, &routed.account, &secrets).await?;
    Ok(Created { txn, psp_error })
}

/// What the connector is sent for `input`: the body plus the user token's profile fields
/// (when there is a user), under the first attempt's order id (the transaction id).
pub fn payment_request(
    input: &NewPayment,
    user: Option<&UserAuth>,
    id: &TransactionId,
) -> connector::PaymentRequest {
    connector::PaymentRequest {
        order_id: OrderId::for_attempt(id, 1),
        txn_type: input.txn_type,
        amount: input.amount,
        user_id: input.user_id.clone(),
        email: input.email.clone(),
        country: input.country.clone(),
        return_url: input.return_url.clone(),
        merchant_reference: input.merchant_reference.clone(),
        extras: with_profile(input, user),
    }
}

/// Takes the payer's secrets ([`Capabilities::secret_fields`], e.g. a voucher PIN) out of the
/// request: the transaction stores only their masked form, the first PSP call gets the values.
fn split_secrets(
    connector: &dyn Connector,
    mut request: connector::PaymentRequest,
) -> (connector::PaymentRequest, progress::Secrets) {
    let mut secrets = progress::Secrets::new();
    for field in connector.capabilities().secret_fields {
        if let Some(value) = request.extras.get_mut(*field) {
            let masked = connector::mask_secret(value);
            secrets.insert((*field).to_owned(), std::mem::replace(value, masked));
        }
    }
    (request, secrets)
}

/// The body's PSP fields plus the profile fields PSPs may need from a verified user token
/// (Gigadat name/phone, Brite country); the body's own values win. Done before `validate`, so a
/// field the token carries is not reported missing.
fn with_profile(input: &NewPayment, user: Option<&UserAuth>) -> BTreeMap<String, String> {
    let mut extras = input.extras.clone();
    if let Some(profile) = user.and_then(UserAuth::profile) {
        for (k, v) in [
            ("firstName", &profile.first_name),
            ("lastName", &profile.last_name),
            ("phone", &profile.phone),
        ] {
            extras.entry(k.to_owned()).or_insert_with(|| v.clone());
        }
        if input.country.is_none() {
            extras
                .entry("countryCode".to_owned())
                .or_insert_with(|| profile.country_code.clone());
        }
    }
    extras
}

/// The transaction as first stored, and its first attempt unless the payout is held.
#[allow(clippy::too_many_arguments)]
fn new_transaction(
    app: &App,
    company: &Company,
    routed: &Routed,
    input: &NewPayment,
    request: connector::PaymentRequest,
    idempotency_key: Option<String>,
    held: bool,
    id: TransactionId,
) -> (Transaction, Option<Attempt>) {
    let now = app.now();
    let account = &routed.account;
    let attempt = (!held).then(|| {
        Attempt::start(
            &id,
            1,
            (&account.id, &account.psp_type),
            input.amount,
            routed.decision.clone(),
            now,
        )
    });
    let state = if held {
        TxnState::AwaitingApproval
    } else {
        TxnState::Submitting
    };
    let txn = Transaction {
        id,
        company_id: company.id.clone(),
        brand_id: input.brand_id.clone(),
        txn_type: input.txn_type,
        psp_type: account.psp_type.clone(),
        psp_account_id: account.id.clone(),
        attempt_id: attempt.as_ref().map(|a| a.id.clone()),
        attempt_seq: u32::from(attempt.is_some()),
        order_id: attempt.as_ref().map(|a| a.order_id.clone()),
        routing: Some(routed.plan.clone()),
        metadata: input.metadata.clone(),
        amount: input.amount,
        user_id: input.user_id.clone(),
        email: input.email.clone(),
        country: input.country.clone(),
        extras: request.extras,
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
        trace_id: crate::trace::current_trace_id(),
    };
    (txn, attempt)
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
