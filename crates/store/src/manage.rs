//! [`ManageStore`] on SQL: company settings and secret rotations, PSP account deletion, the
//! merchant's delivery list and operator administration.

use crate::backoffice::audited::{commit_audited, found};
use crate::backoffice::filter::{page_limit, split_page, text, Filter};
use crate::companies::thresholds_json;
use crate::rows::{self, DELIVERY_COLUMNS};
use crate::{db_err, decode_all, SqlStore};
use async_trait::async_trait;
use overture_core::backoffice::{AuditEntry, Page};
use overture_core::manage::{DeliveryList, ManageStore};
use overture_core::store::StoreError;
use overture_core::*;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};

#[async_trait]
impl ManageStore for SqlStore {
    async fn update_company(
        &self,
        c: &Company,
        four_eyes_threshold: Option<Decimal>,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        let mut db = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query(
            "UPDATE companies SET name = $1, webhook_url = $2, verify_user_url = $3, \
             webhook_authorization_enc = $4, payout_approval_threshold = $5, verify_payins = $6, \
             currency_thresholds = $7, four_eyes_threshold = $8 WHERE id = $9",
        )
        .bind(&c.name)
        .bind(&c.webhook_url)
        .bind(&c.verify_user_url)
        .bind(
            c.webhook_authorization
                .as_ref()
                .map(|a| self.cipher.seal(a.expose_secret())),
        )
        .bind(c.payout_approval_threshold.map(|t| t.to_string()))
        .bind(i64::from(c.verify_payins))
        .bind(thresholds_json(c)?)
        .bind(four_eyes_threshold.map(|t| t.to_string()))
        .bind(c.id.as_str())
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        // Dropping `db` on an error rolls it back.
        found(done.rows_affected(), c.id.as_str())?;
        match audit {
            Some(audit) => commit_audited(db, audit).await,
            None => db.commit().await.map_err(db_err),
        }
    }

    async fn rotate_company_secret(
        &self,
        company: &CompanyId,
        which: SecretKind,
        secret: &SecretString,
        retire_until: i64,
    ) -> Result<(), StoreError> {
        // The retired value is copied from the row itself in the same statement, so two
        // rotations at once each retire what they replaced.
        let sql = match which {
            SecretKind::Api => {
                "UPDATE companies SET previous_api_secret_enc = api_secret_enc, \
                 previous_api_secret_until = $1, api_secret_enc = $2 WHERE id = $3"
            }
            SecretKind::Webhook => {
                "UPDATE companies SET previous_webhook_secret_enc = webhook_secret_enc, \
                 previous_webhook_secret_until = $1, webhook_secret_enc = $2 WHERE id = $3"
            }
        };
        let done = sqlx::query(sql)
            .bind(retire_until)
            .bind(self.cipher.seal(secret.expose_secret()))
            .bind(company.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        found(done.rows_affected(), company.as_str())
    }

    async fn delete_psp_account(
        &self,
        company: &CompanyId,
        id: &PspAccountId,
        at: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE psp_accounts SET deleted_at = $1, enabled = 0 \
             WHERE id = $2 AND company_id = $3 AND deleted_at IS NULL",
        )
        .bind(at)
        .bind(id.as_str())
        .bind(company.as_str())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        found(done.rows_affected(), id.as_str())
    }

    async fn list_deliveries(&self, q: &DeliveryList) -> Result<Page<WebhookDelivery>, StoreError> {
        let mut f = Filter::default();
        f.eq(
            "company_id",
            text(q.company_id.as_ref().map(|c| c.as_str())),
        );
        f.eq("state", text(q.state.map(DeliveryState::as_str)));
        if let Some((at, id)) = &q.after {
            f.keyset("created_at", "id", "<", *at, id);
        }
        let limit = page_limit(q.limit);
        let where_sql = f.where_sql();
        let page_sql = f.page_sql(limit, 0);
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries{where_sql} \
             ORDER BY created_at DESC, id DESC{page_sql}"
        );
        let rows = f
            .bind(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let (items, has_more) = split_page(decode_all(rows, rows::delivery)?, limit);
        Ok(Page { items, has_more })
    }

    async fn operators(&self) -> Result<Vec<Operator>, StoreError> {
        let rows = sqlx::query("SELECT * FROM operators ORDER BY lower(email), email, id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        decode_all(rows, rows::operator)
    }

    async fn disable_operator(
        &self,
        id: &OperatorId,
        at: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut db = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query(
            "UPDATE operators SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL",
        )
        .bind(at)
        .bind(id.as_str())
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        found(done.rows_affected(), id.as_str())?;
        sqlx::query("DELETE FROM operator_sessions WHERE operator_id = $1")
            .bind(id.as_str())
            .execute(&mut *db)
            .await
            .map_err(db_err)?;
        commit_audited(db, audit).await
    }

    async fn delete_operator_sessions(&self, id: &OperatorId) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM operator_sessions WHERE operator_id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}
