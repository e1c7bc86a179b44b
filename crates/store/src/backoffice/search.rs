//! The back office's paged lists: transaction search, the audit log, problem deliveries.

use super::decode;
use super::filter::{int, page_limit, split_page, text, Filter};
use crate::rows::{self, DELIVERY_COLUMNS, TXN_COLUMNS};
use crate::{db_err, decode_all, SqlStore};
use overture_core::backoffice::*;
use overture_core::store::StoreError;
use overture_core::*;

/// The conditions of a transaction search (shared by the search, its count and the export).
fn txn_filter(q: &TxnSearch) -> Filter {
    let mut f = Filter::default();
    f.eq("id", text(q.transaction_id.as_ref().map(|i| i.as_str())));
    f.eq(
        "session_id",
        text(q.session_id.as_ref().map(|i| i.as_str())),
    );
    f.eq("psp_transaction_id", text(q.psp_transaction_id.as_deref()));
    f.eq("user_id", text(q.user_id.as_deref()));
    f.eq("merchant_reference", text(q.merchant_reference.as_deref()));
    f.eq("state", text(q.state.map(|s| s.as_str())));
    f.eq("txn_type", text(q.txn_type.map(|t| t.as_str())));
    f.eq("psp_type", text(q.psp_type.as_ref().map(|p| p.as_str())));
    f.eq(
        "company_id",
        text(q.company_id.as_ref().map(|c| c.as_str())),
    );
    f.cmp("created_at", ">=", int(q.created_from));
    f.cmp("created_at", "<", int(q.created_before));
    f.eq("currency", text(q.currency.map(|c| c.code())));
    f.cmp("amount_minor", ">=", int(q.amount_min));
    f.cmp("amount_minor", "<=", int(q.amount_max));
    if let Some((at, id)) = &q.after {
        let op = match q.order {
            SearchOrder::NewestFirst => "<",
            SearchOrder::OldestFirst => ">",
        };
        f.keyset("created_at", "id", op, *at, id.as_str());
    }
    f
}

impl SqlStore {
    /// How many transactions a search matches (its paging ignored).
    pub(crate) async fn count_txns(&self, q: &TxnSearch) -> Result<i64, StoreError> {
        let f = txn_filter(q);
        let sql = format!("SELECT COUNT(*) FROM transactions{}", f.where_sql());
        f.bind(sqlx::query(&sql))
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
            .and_then(|row| {
                sqlx::Row::try_get::<i64, _>(&row, 0)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            })
    }

    pub(crate) async fn search_txns(&self, q: &TxnSearch) -> Result<Page<Transaction>, StoreError> {
        let mut f = txn_filter(q);
        let order = match q.order {
            SearchOrder::NewestFirst => "created_at DESC, id DESC",
            SearchOrder::OldestFirst => "created_at, id",
        };
        let limit = page_limit(q.limit);
        let where_sql = f.where_sql();
        let page_sql = f.page_sql(limit, q.offset);
        let sql =
            format!("SELECT {TXN_COLUMNS} FROM transactions{where_sql} ORDER BY {order}{page_sql}");
        let rows = f
            .bind(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let (items, has_more) = split_page(decode_all(rows, rows::transaction)?, limit);
        Ok(Page { items, has_more })
    }

    pub(crate) async fn audit_page(&self, q: &AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        let mut f = Filter::default();
        f.eq(
            "operator_id",
            text(q.operator_id.as_ref().map(|o| o.as_str())),
        );
        f.eq("action", text(q.action.map(AuditAction::as_str)));
        let limit = page_limit(q.limit);
        let where_sql = f.where_sql();
        let page_sql = f.page_sql(limit, q.offset);
        let sql = format!("SELECT * FROM audit_log{where_sql} ORDER BY id DESC{page_sql}");
        let rows = f
            .bind(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let (items, has_more) = split_page(decode_all(rows, decode::audit)?, limit);
        Ok(Page { items, has_more })
    }

    pub(crate) async fn problem_page(
        &self,
        q: &DeliveryQuery,
    ) -> Result<Page<WebhookDelivery>, StoreError> {
        let mut f = Filter::default();
        match q.problem {
            DeliveryProblem::Dead => f.raw("state = 'dead'"),
            DeliveryProblem::Failing => f.raw("state = 'pending' AND attempts > 0"),
            DeliveryProblem::Any => {
                f.raw("(state = 'dead' OR (state = 'pending' AND attempts > 0))")
            }
        }
        f.eq(
            "company_id",
            text(q.company_id.as_ref().map(|c| c.as_str())),
        );
        let limit = page_limit(q.limit);
        let where_sql = f.where_sql();
        let page_sql = f.page_sql(limit, q.offset);
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries{where_sql} ORDER BY created_at, id{page_sql}"
        );
        let rows = f
            .bind(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let (items, has_more) = split_page(decode_all(rows, rows::delivery)?, limit);
        Ok(Page { items, has_more })
    }
}
