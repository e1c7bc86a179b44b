//! [`CompanyStore`] on SQL: companies, PSP accounts, operators. Secrets are sealed here.

use crate::{db_err, decode_all, rows, SqlStore};
use async_trait::async_trait;
use overture_core::store::{CompanyStore, StoreError};
use overture_core::*;
use secrecy::ExposeSecret;
use std::collections::BTreeMap;

#[async_trait]
impl CompanyStore for SqlStore {
    async fn insert_company(&self, c: &Company) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO companies (id, name, api_secret_enc, webhook_url, webhook_secret_enc, \
             webhook_authorization_enc, verify_user_url, payout_approval_threshold, verify_payins, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
        let creds: BTreeMap<&str, &str> = a
            .credentials
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose_secret()))
            .collect();
        let json = serde_json::to_string(&creds).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO psp_accounts (id, company_id, psp_type, base_url, credentials_enc, enabled, priority, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(a.id.as_str())
        .bind(a.company_id.as_str())
        .bind(a.psp_type.as_str())
        .bind(&a.base_url)
        .bind(self.cipher.seal(&json))
        .bind(i64::from(a.enabled))
        .bind(i64::from(a.priority))
        .bind(a.created_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
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
            "SELECT * FROM psp_accounts WHERE company_id = $1 ORDER BY priority DESC, created_at",
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
        let row = sqlx::query("SELECT * FROM operators WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| rows::operator(&r)).transpose()
    }
}
