//! Row ⇄ domain decoding, one function per record, with the column lists they expect.

use crate::{Cipher, StoreError};
use overture_core::connector::FailureClass;
use overture_core::store::StoredRules;
use overture_core::*;
use secrecy::SecretString;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;

pub(crate) const TXN_COLUMNS: &str = "id, company_id, brand_id, txn_type, psp_type, psp_account_id, \
    amount_minor, currency, user_id, email, country, extras, state, psp_status, psp_transaction_id, \
    psp_stage, message, session_id, redirect_url, return_url, merchant_reference, idempotency_key, \
    created_at, updated_at, submitted_at, version, next_poll_at, poll_attempts, \
    attempt_id, attempt_seq, psp_order_id, routing, metadata, trace_id";

/// How many columns [`TXN_COLUMNS`] lists (the insert binds `$1..$TXN_PARAMS`).
pub(crate) const TXN_PARAMS: usize = 34;

pub(crate) const ATTEMPT_COLUMNS: &str = "id, transaction_id, seq, psp_account_id, psp_type, \
    psp_order_id, state, psp_transaction_id, psp_status, error_class, error_message, decision, \
    amount_minor, currency, created_at, updated_at, accepted_at, finished_at";

pub(crate) const DELIVERY_COLUMNS: &str =
    "id, company_id, transaction_id, payload, state, attempts, \
    next_attempt_at, last_http_status, last_error, created_at, delivered_at, trace_id";

fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col)
        .map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}

fn open(cipher: &Cipher, sealed: &str) -> Result<SecretString, StoreError> {
    cipher
        .open(sealed)
        .map(SecretString::from)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The `trace_id` column (32 hex digits, or NULL).
fn trace_id(row: &AnyRow) -> Result<Option<TraceId>, StoreError> {
    get::<Option<String>>(row, "trace_id")?
        .map(|t| TraceId::parse(&t).ok_or_else(|| corrupt("trace_id", &t)))
        .transpose()
}

pub(crate) fn transaction(row: &AnyRow) -> Result<Transaction, StoreError> {
    let currency_code: String = get(row, "currency")?;
    let currency =
        Currency::from_code(&currency_code).ok_or_else(|| corrupt("currency", &currency_code))?;
    let minor: i64 = get(row, "amount_minor")?;
    let amount =
        Money::from_minor(minor, currency).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let txn_type: String = get(row, "txn_type")?;
    let state: String = get(row, "state")?;
    let extras: String = get(row, "extras")?;
    let routing: Option<String> = get(row, "routing")?;
    let routing = routing
        .map(|r| serde_json::from_str(&r).map_err(|_| corrupt("routing", &r)))
        .transpose()?;
    Ok(Transaction {
        id: TransactionId::from_trusted(get::<String>(row, "id")?),
        company_id: CompanyId::from_trusted(get::<String>(row, "company_id")?),
        brand_id: get(row, "brand_id")?,
        txn_type: TxnType::parse(&txn_type).ok_or_else(|| corrupt("txn_type", &txn_type))?,
        psp_type: PspType(get(row, "psp_type")?),
        psp_account_id: PspAccountId::from_trusted(get::<String>(row, "psp_account_id")?),
        attempt_id: get::<Option<String>>(row, "attempt_id")?.map(AttemptId::from_trusted),
        attempt_seq: get::<i64>(row, "attempt_seq")?.clamp(0, i64::from(u32::MAX)) as u32,
        order_id: get::<Option<String>>(row, "psp_order_id")?.map(OrderId::from_trusted),
        routing,
        metadata: match get::<Option<String>>(row, "metadata")? {
            Some(m) => serde_json::from_str(&m).map_err(|_| corrupt("metadata", &m))?,
            None => BTreeMap::new(),
        },
        amount,
        user_id: get(row, "user_id")?,
        email: get(row, "email")?,
        country: get(row, "country")?,
        extras: serde_json::from_str::<BTreeMap<String, String>>(&extras)
            .map_err(|_| corrupt("extras", &extras))?,
        state: TxnState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        psp_status: get(row, "psp_status")?,
        psp_transaction_id: get(row, "psp_transaction_id")?,
        psp_stage: get(row, "psp_stage")?,
        message: get(row, "message")?,
        session_id: get::<Option<String>>(row, "session_id")?.map(SessionId::from_trusted),
        redirect_url: get(row, "redirect_url")?,
        return_url: get(row, "return_url")?,
        merchant_reference: get(row, "merchant_reference")?,
        idempotency_key: get(row, "idempotency_key")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        submitted_at: get(row, "submitted_at")?,
        version: get(row, "version")?,
        next_poll_at: get(row, "next_poll_at")?,
        poll_attempts: get::<i64>(row, "poll_attempts")? as i32,
        trace_id: trace_id(row)?,
    })
}

pub(crate) fn company(row: &AnyRow, cipher: &Cipher) -> Result<Company, StoreError> {
    let threshold: Option<String> = get(row, "payout_approval_threshold")?;
    let threshold = threshold
        .map(|t| {
            t.parse()
                .map_err(|_| corrupt("payout_approval_threshold", &t))
        })
        .transpose()?;
    let authorization: Option<String> = get(row, "webhook_authorization_enc")?;
    Ok(Company {
        id: CompanyId::from_trusted(get::<String>(row, "id")?),
        name: get(row, "name")?,
        api_secret: open(cipher, &get::<String>(row, "api_secret_enc")?)?,
        webhook_url: get(row, "webhook_url")?,
        webhook_secret: open(cipher, &get::<String>(row, "webhook_secret_enc")?)?,
        webhook_authorization: authorization.map(|a| open(cipher, &a)).transpose()?,
        verify_user_url: get(row, "verify_user_url")?,
        payout_approval_threshold: threshold,
        verify_payins: get::<i64>(row, "verify_payins")? != 0,
        created_at: get(row, "created_at")?,
        thresholds: match get::<Option<String>>(row, "currency_thresholds")? {
            Some(t) => serde_json::from_str(&t).map_err(|_| corrupt("currency_thresholds", &t))?,
            None => Default::default(),
        },
        retired: RetiredSecrets {
            api: retired(row, cipher, "previous_api_secret")?,
            webhook: retired(row, cipher, "previous_webhook_secret")?,
        },
    })
}

/// A retired secret from `<prefix>_enc` and `<prefix>_until`, when both are set.
fn retired(
    row: &AnyRow,
    cipher: &Cipher,
    prefix: &str,
) -> Result<Option<RetiredSecret>, StoreError> {
    let sealed: Option<String> = get(row, &format!("{prefix}_enc"))?;
    let until: Option<i64> = get(row, &format!("{prefix}_until"))?;
    match (sealed, until) {
        (Some(sealed), Some(until)) => Ok(Some(RetiredSecret {
            secret: open(cipher, &sealed)?,
            until,
        })),
        _ => Ok(None),
    }
}

pub(crate) fn psp_account(row: &AnyRow, cipher: &Cipher) -> Result<PspAccount, StoreError> {
    let sealed: String = get(row, "credentials_enc")?;
    let json = cipher
        .open(&sealed)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let map: BTreeMap<String, String> =
        serde_json::from_str(&json).map_err(|_| StoreError::Corrupt("credentials".into()))?;
    Ok(PspAccount {
        id: PspAccountId::from_trusted(get::<String>(row, "id")?),
        company_id: CompanyId::from_trusted(get::<String>(row, "company_id")?),
        psp_type: PspType(get(row, "psp_type")?),
        base_url: get(row, "base_url")?,
        credentials: Credentials(
            map.into_iter()
                .map(|(k, v)| (k, SecretString::from(v)))
                .collect(),
        ),
        enabled: get::<i64>(row, "enabled")? != 0,
        priority: get::<i64>(row, "priority")? as i32,
        limits: match get::<Option<String>>(row, "limits")? {
            Some(l) => serde_json::from_str(&l).map_err(|_| corrupt("limits", &l))?,
            None => Default::default(),
        },
        created_at: get(row, "created_at")?,
        deleted_at: get(row, "deleted_at")?,
    })
}

/// One row of `attempts` ([`ATTEMPT_COLUMNS`]).
pub(crate) fn txn_attempt(row: &AnyRow) -> Result<Attempt, StoreError> {
    let currency_code: String = get(row, "currency")?;
    let currency =
        Currency::from_code(&currency_code).ok_or_else(|| corrupt("currency", &currency_code))?;
    let amount = Money::from_minor(get(row, "amount_minor")?, currency)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let state: String = get(row, "state")?;
    let class: Option<String> = get(row, "error_class")?;
    let decision: String = get(row, "decision")?;
    Ok(Attempt {
        id: AttemptId::from_trusted(get::<String>(row, "id")?),
        transaction_id: TransactionId::from_trusted(get::<String>(row, "transaction_id")?),
        seq: get::<i64>(row, "seq")?.clamp(0, i64::from(u32::MAX)) as u32,
        psp_account_id: PspAccountId::from_trusted(get::<String>(row, "psp_account_id")?),
        psp_type: PspType(get(row, "psp_type")?),
        order_id: OrderId::from_trusted(get::<String>(row, "psp_order_id")?),
        state: AttemptState::parse(&state).ok_or_else(|| corrupt("attempt state", &state))?,
        psp_transaction_id: get(row, "psp_transaction_id")?,
        psp_status: get(row, "psp_status")?,
        error_class: class
            .map(|c| FailureClass::parse(&c).ok_or_else(|| corrupt("error_class", &c)))
            .transpose()?,
        error_message: get(row, "error_message")?,
        decision: serde_json::from_str(&decision).map_err(|_| corrupt("decision", &decision))?,
        amount,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        accepted_at: get(row, "accepted_at")?,
        finished_at: get(row, "finished_at")?,
    })
}

pub(crate) fn operator(row: &AnyRow) -> Result<Operator, StoreError> {
    let role: String = get(row, "role")?;
    Ok(Operator {
        id: OperatorId::from_trusted(get::<String>(row, "id")?),
        email: get(row, "email")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        token_sha256: get(row, "token_sha256")?,
        created_at: get(row, "created_at")?,
        disabled_at: get(row, "disabled_at")?,
    })
}

pub(crate) fn event(row: &AnyRow) -> Result<TransactionEvent, StoreError> {
    let from: Option<String> = get(row, "from_state")?;
    let to: String = get(row, "to_state")?;
    Ok(TransactionEvent {
        transaction_id: TransactionId::from_trusted(get::<String>(row, "transaction_id")?),
        from_state: from
            .map(|f| TxnState::parse(&f).ok_or_else(|| corrupt("from_state", &f)))
            .transpose()?,
        to_state: TxnState::parse(&to).ok_or_else(|| corrupt("to_state", &to))?,
        actor: Actor::from_db(&get::<String>(row, "actor")?),
        reason: get(row, "reason")?,
        psp_status: get(row, "psp_status")?,
        at: get(row, "at")?,
    })
}

pub(crate) fn delivery(row: &AnyRow) -> Result<WebhookDelivery, StoreError> {
    let state: String = get(row, "state")?;
    Ok(WebhookDelivery {
        id: WebhookId::from_trusted(get::<String>(row, "id")?),
        company_id: CompanyId::from_trusted(get::<String>(row, "company_id")?),
        transaction_id: TransactionId::from_trusted(get::<String>(row, "transaction_id")?),
        payload: get(row, "payload")?,
        state: DeliveryState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        attempts: get::<i64>(row, "attempts")? as i32,
        next_attempt_at: get(row, "next_attempt_at")?,
        last_http_status: get::<Option<i64>>(row, "last_http_status")?.map(|s| s as i32),
        last_error: get(row, "last_error")?,
        created_at: get(row, "created_at")?,
        delivered_at: get(row, "delivered_at")?,
        trace_id: trace_id(row)?,
    })
}

pub(crate) fn attempt(row: &AnyRow) -> Result<WebhookAttempt, StoreError> {
    Ok(WebhookAttempt {
        webhook_id: WebhookId::from_trusted(get::<String>(row, "webhook_id")?),
        attempt: get::<i64>(row, "attempt")? as i32,
        at: get(row, "at")?,
        http_status: get::<Option<i64>>(row, "http_status")?.map(|s| s as i32),
        latency_ms: get(row, "latency_ms")?,
        response_excerpt: get(row, "response_excerpt")?,
    })
}

pub(crate) fn idempotency(row: &AnyRow) -> Result<IdempotencyRecord, StoreError> {
    let status: Option<i64> = get(row, "response_status")?;
    let body: Option<String> = get(row, "response_body")?;
    Ok(IdempotencyRecord {
        company_id: CompanyId::from_trusted(get::<String>(row, "company_id")?),
        key: get(row, "key")?,
        request_sha256: get(row, "request_sha256")?,
        transaction_id: TransactionId::from_trusted(get::<String>(row, "transaction_id")?),
        response: status.zip(body).map(|(s, b)| (s as u16, b)),
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn stored_rules(row: &AnyRow) -> Result<StoredRules, StoreError> {
    Ok(StoredRules {
        company_id: CompanyId::from_trusted(get::<String>(row, "company_id")?),
        version: get(row, "version")?,
        document: get(row, "document")?,
        created_at: get(row, "created_at")?,
        created_by: get(row, "created_by")?,
    })
}
