//! Logins on SQL: failed-login counters (the login throttle), and the writes of a login,
//! a failed login and a logout, each in one DB transaction with its audit record.

use super::audited::insert_audit;
use super::decode;
use crate::{db_err, decode_all, SqlStore};
use overture_core::backoffice::{
    AuditEntry, FailedLogin, LoginThrottle, OperatorSession, SuccessfulLogin, ThrottleKey,
};
use overture_core::store::StoreError;
use sqlx::{Any, Row, Transaction as DbTxn};

/// `$1, $2, …, $n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Counts one failure against `key` inside `db` and sets its wait; returns the new counter.
async fn count_failure(
    db: &mut DbTxn<'_, Any>,
    key: &ThrottleKey,
    failed: &FailedLogin,
) -> Result<LoginThrottle, StoreError> {
    let at = failed.at;
    let quiet_since = at - failed.policy.reset_after_ms;
    // One statement, so concurrent failures are all counted (PostgreSQL locks the row until
    // commit; SQLite has one writer). SET expressions read the old row. The last failure time
    // never moves backwards when nodes' clocks differ slightly.
    let row = sqlx::query(
        "INSERT INTO login_throttle (throttle_key, failures, last_failure_at, blocked_until) \
         VALUES ($1, 1, $2, $2) \
         ON CONFLICT (throttle_key) DO UPDATE SET \
           failures = CASE WHEN login_throttle.last_failure_at < $3 THEN 1 \
                           ELSE login_throttle.failures + 1 END, \
           last_failure_at = CASE WHEN login_throttle.last_failure_at > $2 \
                                  THEN login_throttle.last_failure_at ELSE $2 END \
         RETURNING failures, last_failure_at, blocked_until",
    )
    .bind(key.as_str())
    .bind(at)
    .bind(quiet_since)
    .fetch_one(&mut **db)
    .await
    .map_err(db_err)?;
    let failures: i64 = row.try_get("failures").map_err(db_err)?;
    let last_failure_at: i64 = row.try_get("last_failure_at").map_err(db_err)?;
    let previous: i64 = row.try_get("blocked_until").map_err(db_err)?;
    // The wait follows the policy in Rust (doubling is awkward in portable SQL); the row stays
    // locked between the two statements.
    let wait = failed.policy.backoff(key.scope()).wait_ms(failures);
    let blocked_until = previous.max(at.saturating_add(wait));
    sqlx::query("UPDATE login_throttle SET blocked_until = $1 WHERE throttle_key = $2")
        .bind(blocked_until)
        .bind(key.as_str())
        .execute(&mut **db)
        .await
        .map_err(db_err)?;
    Ok(LoginThrottle {
        key: key.clone(),
        failures,
        last_failure_at,
        blocked_until,
    })
}

impl SqlStore {
    pub(crate) async fn throttles(
        &self,
        keys: &[ThrottleKey],
    ) -> Result<Vec<LoginThrottle>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM login_throttle WHERE throttle_key IN ({})",
            placeholders(keys.len())
        );
        let mut query = sqlx::query(&sql);
        for k in keys {
            query = query.bind(k.as_str());
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db_err)?;
        let mut found = decode_all(rows, decode::throttle)?;
        // In the order asked for.
        found.sort_by_key(|t| keys.iter().position(|k| *k == t.key));
        Ok(found)
    }

    pub(crate) async fn failed_login(
        &self,
        failed: &FailedLogin,
    ) -> Result<Vec<LoginThrottle>, StoreError> {
        let mut db = self.pool.begin().await.map_err(db_err)?;
        let mut counters = Vec::with_capacity(failed.keys.len());
        for key in &failed.keys {
            counters.push(count_failure(&mut db, key, failed).await?);
        }
        insert_audit(&failed.audit)
            .execute(&mut *db)
            .await
            .map_err(db_err)?;
        db.commit().await.map_err(db_err)?;
        Ok(counters)
    }

    pub(crate) async fn login(&self, login: &SuccessfulLogin) -> Result<(), StoreError> {
        let s: &OperatorSession = &login.session;
        let mut db = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO operator_sessions (id_sha256, operator_id, csrf_token, created_at, \
             last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id_sha256)
        .bind(s.operator_id.as_str())
        .bind(&s.csrf_token)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        if !login.clear.is_empty() {
            let sql = format!(
                "DELETE FROM login_throttle WHERE throttle_key IN ({})",
                placeholders(login.clear.len())
            );
            let mut query = sqlx::query(&sql);
            for k in &login.clear {
                query = query.bind(k.as_str());
            }
            query.execute(&mut *db).await.map_err(db_err)?;
        }
        insert_audit(&login.audit)
            .execute(&mut *db)
            .await
            .map_err(db_err)?;
        db.commit().await.map_err(db_err)
    }

    pub(crate) async fn logout(
        &self,
        id_sha256: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut db = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query("DELETE FROM operator_sessions WHERE id_sha256 = $1")
            .bind(id_sha256)
            .execute(&mut *db)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            // Dropping the transaction rolls it back; there is nothing to audit.
            return Ok(false);
        }
        insert_audit(audit)
            .execute(&mut *db)
            .await
            .map_err(db_err)?;
        db.commit().await.map_err(db_err)?;
        Ok(true)
    }

    pub(crate) async fn delete_stale_throttles(
        &self,
        last_failure_before: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM login_throttle WHERE last_failure_at < $1 AND blocked_until <= $2",
        )
        .bind(last_failure_before)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_from_one() {
        assert_eq!(placeholders(1), "$1");
        assert_eq!(placeholders(3), "$1, $2, $3");
    }
}
