//! [`CompanyStore`] on SQL: companies, PSP accounts, operators. Secrets are sealed here.

use crate::{db_err, decode_all, rows, SqlStore};
use async_trait::async_trait;
use overture_core::backoffice::AuditEntry;
use overture_core::store::{CompanyStore, StoreError, StoredRules};
use overture_core::*;
use secrecy::ExposeSecret;
use std::collections::BTreeMap;

#[async_trait]
impl CompanyStore for SqlStore {
    async fn insert_company(&self, c: &Company) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO companies (id, name, api_secret_enc, webhook_url, webhook_secret_enc, \
             webhook_authorization_enc, verify_user_url, payout_approval_threshold, verify_payins, created_at, \
             currency_thresholds) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(c.id.as_str())
        .bind(&c.name)
        .bind(self.cipher.seal(c.api_secret.expose_secret()))
        .bind(&c.webhook_url)
        .bind(self.cipher.seal(c.webhook_secret.expose_secret()))
        .bind(c.webhook_authorization.as_ref().map(|a| self.cipher.seal(a.expose_secret())))
        .bind(&c.verify_user_url)
        .bind(c.payout_approval_threshold.map(|t| t.to_string()))
        .bind(i64::from(c.verify_payins))
        .bind(c.created_at)
        .bind(thresholds_json(c)?)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn company(&self, id: &CompanyId) -> Result<Option<Company>, StoreError> {
        let row = sqlx::query("SELECT * FROM companies WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| rows::company(&r, &self.cipher)).transpose()
    }

    async fn count_companies(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM companies")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn insert_psp_account(&self, a: &PspAccount) -> Result<(), StoreError> {
        let json = credentials_json(a)?;
        sqlx::query(
            "INSERT INTO psp_accounts (id, company_id, psp_type, base_url, credentials_enc, enabled, priority, created_at, limits, deleted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(a.id.as_str())
        .bind(a.company_id.as_str())
        .bind(a.psp_type.as_str())
        .bind(&a.base_url)
        .bind(self.cipher.seal(&json))
        .bind(i64::from(a.enabled))
        .bind(i64::from(a.priority))
        .bind(a.created_at)
        .bind(limits_json(a)?)
        .bind(a.deleted_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn update_psp_account(&self, a: &PspAccount) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE psp_accounts SET base_url = $1, credentials_enc = $2, enabled = $3, \
             priority = $4, limits = $5 WHERE id = $6 AND company_id = $7 AND deleted_at IS NULL",
        )
        .bind(&a.base_url)
        .bind(self.cipher.seal(&credentials_json(a)?))
        .bind(i64::from(a.enabled))
        .bind(i64::from(a.priority))
        .bind(limits_json(a)?)
        .bind(a.id.as_str())
        .bind(a.company_id.as_str())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(a.id.to_string()));
        }
        Ok(())
    }

    async fn put_routing_rules(
        &self,
        company: &CompanyId,
        document: &str,
        at: i64,
        created_by: &str,
        audit: Option<&AuditEntry>,
    ) -> Result<i64, StoreError> {
        // The next version in the same statement as the insert: one commit stores and
        // activates it. Two writers at once compute the same number; the loser retries.
        const INSERT: &str =
            "INSERT INTO routing_rules (company_id, version, document, created_at, created_by) \
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4 FROM routing_rules \
             WHERE company_id = $1 RETURNING version";
        for _ in 0..5 {
            let query = sqlx::query_scalar::<_, i64>(INSERT)
                .bind(company.as_str())
                .bind(document)
                .bind(at)
                .bind(created_by);
            let inserted = match audit {
                None => query.fetch_one(&self.pool).await.map_err(db_err),
                Some(audit) => {
                    let mut db = self.pool.begin().await.map_err(db_err)?;
                    match query.fetch_one(&mut *db).await.map_err(db_err) {
                        Ok(version) => {
                            crate::backoffice::audited::insert_audit(audit)
                                .execute(&mut *db)
                                .await
                                .map_err(db_err)?;
                            db.commit().await.map_err(db_err).map(|()| version)
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            match inserted {
                Err(StoreError::Duplicate(_)) => continue,
                other => return other,
            }
        }
        Err(StoreError::Conflict(format!("routing rules of {company}")))
    }

    async fn routing_rules(&self, company: &CompanyId) -> Result<Option<StoredRules>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM routing_rules WHERE company_id = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(company.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| rows::stored_rules(&r)).transpose()
    }

    async fn routing_rule_versions(
        &self,
        company: &CompanyId,
    ) -> Result<Vec<StoredRules>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM routing_rules WHERE company_id = $1 ORDER BY version DESC")
                .bind(company.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        decode_all(rows, rows::stored_rules)
    }

    async fn psp_account(&self, id: &PspAccountId) -> Result<Option<PspAccount>, StoreError> {
        let row = sqlx::query("SELECT * FROM psp_accounts WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| rows::psp_account(&r, &self.cipher)).transpose()
    }

    async fn psp_accounts(&self, company: &CompanyId) -> Result<Vec<PspAccount>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM psp_accounts WHERE company_id = $1 AND deleted_at IS NULL \
             ORDER BY priority DESC, created_at",
        )
        .bind(company.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        decode_all(rows, |r| rows::psp_account(r, &self.cipher))
    }

    async fn insert_operator(&self, o: &Operator) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO operators (id, email, role, token_sha256, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(o.id.as_str())
            .bind(&o.email)
            .bind(o.role.as_str())
            .bind(&o.token_sha256)
            .bind(o.created_at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn operator_by_token(&self, token_sha256: &str) -> Result<Option<Operator>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM operators WHERE token_sha256 = $1 AND disabled_at IS NULL")
                .bind(token_sha256)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        row.map(|r| rows::operator(&r)).transpose()
    }
}

/// An account's credentials as the JSON object that is sealed into `credentials_enc`.
fn credentials_json(a: &PspAccount) -> Result<String, StoreError> {
    let creds: BTreeMap<&str, &str> = a
        .credentials
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), v.expose_secret()))
        .collect();
    serde_json::to_string(&creds).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A company's per-currency thresholds as stored (`NULL` when it has none).
pub(crate) fn thresholds_json(c: &Company) -> Result<Option<String>, StoreError> {
    if c.thresholds.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(&c.thresholds)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// An account's limits as stored (`NULL` when it has none).
fn limits_json(a: &PspAccount) -> Result<Option<String>, StoreError> {
    if a.limits.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(&a.limits)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}
