//! Row decoding for the back-office tables.

use crate::rows;
use overture_core::backoffice::*;
use overture_core::store::StoreError;
use overture_core::*;
use rust_decimal::Decimal;
use sqlx::any::AnyRow;
use sqlx::Row;

fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col)
        .map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn decimal(row: &AnyRow, col: &str) -> Result<Option<Decimal>, StoreError> {
    get::<Option<String>>(row, col)?
        .map(|t| {
            t.parse()
                .map_err(|_| StoreError::Corrupt(format!("{col}: {t:?}")))
        })
        .transpose()
}

pub(crate) fn operator_login(row: &AnyRow) -> Result<OperatorLogin, StoreError> {
    Ok(OperatorLogin {
        operator: rows::operator(row)?,
        password_hash: get(row, "password_hash")?,
    })
}

pub(crate) fn throttle(row: &AnyRow) -> Result<LoginThrottle, StoreError> {
    let key: String = get(row, "throttle_key")?;
    Ok(LoginThrottle {
        key: ThrottleKey::parse(&key)
            .ok_or_else(|| StoreError::Corrupt(format!("throttle_key: {key:?}")))?,
        failures: get(row, "failures")?,
        last_failure_at: get(row, "last_failure_at")?,
        blocked_until: get(row, "blocked_until")?,
    })
}

pub(crate) fn session(row: &AnyRow) -> Result<OperatorSession, StoreError> {
    Ok(OperatorSession {
        id_sha256: get(row, "id_sha256")?,
        operator_id: OperatorId::from_trusted(get::<String>(row, "operator_id")?),
        csrf_token: get(row, "csrf_token")?,
        created_at: get(row, "created_at")?,
        last_seen_at: get(row, "last_seen_at")?,
        expires_at: get(row, "expires_at")?,
    })
}

pub(crate) fn audit(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let action: String = get(row, "action")?;
    Ok(AuditEntry {
        id: get(row, "id")?,
        at: get(row, "at")?,
        operator_id: get::<Option<String>>(row, "operator_id")?.map(OperatorId::from_trusted),
        operator_email: get(row, "operator_email")?,
        action: AuditAction::parse(&action)
            .ok_or_else(|| StoreError::Corrupt(format!("action: {action:?}")))?,
        target: get(row, "target")?,
        reason: get(row, "reason")?,
        detail: get(row, "detail")?,
    })
}

pub(crate) fn approval(row: &AnyRow) -> Result<PayoutApproval, StoreError> {
    Ok(PayoutApproval {
        transaction_id: TransactionId::from_trusted(get::<String>(row, "transaction_id")?),
        operator_id: OperatorId::from_trusted(get::<String>(row, "operator_id")?),
        reason: get(row, "reason")?,
        at: get(row, "at")?,
    })
}

pub(crate) fn company_summary(row: &AnyRow) -> Result<CompanySummary, StoreError> {
    Ok(CompanySummary {
        id: CompanyId::from_trusted(get::<String>(row, "id")?),
        name: get(row, "name")?,
        payout_approval_threshold: decimal(row, "payout_approval_threshold")?,
        four_eyes_threshold: decimal(row, "four_eyes_threshold")?,
    })
}

pub(crate) fn four_eyes(row: &AnyRow) -> Result<Option<Decimal>, StoreError> {
    decimal(row, "four_eyes_threshold")
}

pub(crate) fn stats(row: &AnyRow) -> Result<PspAccountStats, StoreError> {
    Ok(PspAccountStats {
        psp_account_id: PspAccountId::from_trusted(get::<String>(row, "psp_account_id")?),
        approved: get(row, "approved")?,
        unsuccessful: get(row, "unsuccessful")?,
    })
}
