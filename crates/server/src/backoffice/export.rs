//! `GET /backoffice/transactions.csv?<the search's filters>`: every transaction a search
//! matches, newest first, as CSV, streamed page by page (keyset paging on `(created_at, id)`,
//! so a 100,000-row export holds one page in memory and never re-reads rows). Personal data
//! stays out: no email, no PSP-specific fields.

use crate::backoffice::error::PageError;
use crate::backoffice::session::Signed;
use crate::backoffice::transactions::SearchQuery;
use crate::backoffice::Backoffice;
use crate::service::views::rfc3339;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use overture_core::backoffice::{SearchOrder, TxnSearch};
use overture_core::store::Store;
use overture_core::Transaction;
use std::sync::Arc;

/// Rows per page read from the store.
const PAGE: i64 = 500;

const HEADER: [&str; 14] = [
    "created_at",
    "transaction_id",
    "company_id",
    "type",
    "state",
    "transaction_status",
    "amount",
    "currency",
    "user_id",
    "merchant_reference",
    "psp_type",
    "psp_account_id",
    "psp_transaction_id",
    "attempts",
];

fn record(t: &Transaction) -> [String; 14] {
    [
        rfc3339(t.created_at),
        t.id.to_string(),
        t.company_id.to_string(),
        t.txn_type.as_str().to_owned(),
        t.state.as_str().to_owned(),
        t.state.transaction_status().as_str().to_owned(),
        t.amount.to_major_string(),
        t.amount.currency().code().to_owned(),
        t.user_id.clone(),
        t.merchant_reference.clone().unwrap_or_default(),
        t.psp_type.to_string(),
        t.psp_account_id.to_string(),
        t.psp_transaction_id.clone().unwrap_or_default(),
        t.attempt_seq.to_string(),
    ]
}

/// CSV text of `rows` (with the header first when `header`).
fn chunk(rows: &[Transaction], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 200 + 256));
    if header {
        w.write_record(HEADER)?;
    }
    for t in rows {
        w.write_record(record(t))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// Where the export stands between two pages.
struct Cursor {
    store: Arc<dyn Store>,
    search: TxnSearch,
    first: bool,
    done: bool,
}

async fn next_page(mut c: Cursor) -> Option<(Result<Vec<u8>, std::io::Error>, Cursor)> {
    if c.done {
        return None;
    }
    let page = match c.store.search_transactions(&c.search).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "CSV export stopped");
            c.done = true;
            return Some((Err(std::io::Error::other("export stopped")), c));
        }
    };
    let bytes = chunk(&page.items, c.first).map_err(std::io::Error::other);
    c.first = false;
    c.done = !page.has_more;
    if let Some(last) = page.items.last() {
        c.search.after = Some((last.created_at, last.id.clone()));
    }
    Some((bytes, c))
}

/// `GET /backoffice/transactions.csv`.
pub async fn csv(
    State(bo): State<Backoffice>,
    _signed: Signed,
    Query(q): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let mut search = q.to_search(1).map_err(PageError::BadInput)?;
    search.order = SearchOrder::NewestFirst;
    search.limit = PAGE;
    search.offset = 0;
    let cursor = Cursor {
        store: bo.app.store.clone(),
        search,
        first: true,
        done: false,
    };
    let body = Body::from_stream(stream::unfold(cursor, next_page));
    let name = format!(
        "transactions-{}.csv",
        rfc3339(bo.app.now()).replace(':', "")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}
