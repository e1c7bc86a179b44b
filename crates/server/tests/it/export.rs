//! Back-office search filters (type, currency, amount range), the result count, and the CSV
//! export of a search: streamed, the same filters, 100,000 rows.

use crate::backoffice_support::{operator_with_password, Browser};
use crate::harness::*;
use sqlx::{Connection, Executor};

/// Inserts `n` payouts of the test company directly (the export reads what is stored): EUR
/// 10.00 to 19.99 by row number, every third one in CAD.
async fn bulk(app: &TestApp, n: u32) {
    let account = app
        .running
        .app
        .store
        .psp_accounts(&app.company.id)
        .await
        .unwrap()[0]
        .id
        .clone();
    let url = format!("sqlite://{}", app.dir.join("overture.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
         INSERT INTO transactions (id, company_id, txn_type, psp_type, psp_account_id, amount_minor, currency, \
           user_id, email, extras, state, created_at, updated_at, version) \
         SELECT printf('txn_bulk%08d', i), '{company}', 'PAYOUT', 'PAYMENTSOFT', '{account}', 1000 + (i % 1000), \
           CASE WHEN i % 3 = 0 THEN 'CAD' ELSE 'EUR' END, 'bulk-user', 'u@example.com', '{{}}', 'approved', \
           1700000000000 + i, 1700000000000 + i, 1 FROM n",
        company = app.company.id
    );
    conn.execute(sql.as_str()).await.unwrap();
}

#[tokio::test]
async fn a_search_is_counted_filtered_and_exported_as_csv() {
    let app = TestApp::start().await;
    bulk(&app, 150_000).await;
    let op = operator_with_password(&app, overture_core::Role::Viewer).await;
    let mut b = Browser::new(&app);
    b.login_as(&op).await;

    let page = b
        .get("/backoffice/transactions?kind=PAYOUT&currency=EUR&min=10.00&max=10.49")
        .await;
    assert_eq!(page.status, 200);
    // Rows 1..=150000 with i % 1000 < 50 and i % 3 != 0.
    let expected = (1..=150_000u32)
        .filter(|i| i % 1000 < 50 && i % 3 != 0)
        .count();
    assert!(
        page.body
            .contains(&format!("{expected} matching transactions")),
        "count missing"
    );
    let bad = b.get("/backoffice/transactions?min=10").await;
    assert!(
        bad.body.contains("Minimum amount needs a currency."),
        "an amount without currency is refused"
    );

    let started = std::time::Instant::now();
    let csv = b
        .get("/backoffice/transactions.csv?kind=PAYOUT&currency=EUR")
        .await;
    assert_eq!(csv.status, 200);
    let lines: Vec<&str> = csv.body.lines().collect();
    let eur = (1..=150_000u32).filter(|i| i % 3 != 0).count();
    assert!(eur >= 100_000);
    assert_eq!(
        lines.len(),
        eur + 1,
        "every matching row once, plus the header"
    );
    assert!(lines[0].starts_with("created_at,transaction_id,company_id,type,state"));
    assert!(
        lines[1].contains("txn_bulk00150000") || lines[1].contains("txn_bulk00149999"),
        "newest first: {}",
        lines[1]
    );
    let ids: std::collections::BTreeSet<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(ids.len(), eur, "no row twice");
    assert!(
        lines[1..].iter().all(|l| l.contains(",EUR,")),
        "the same filters"
    );
    assert!(
        !csv.body.contains("u@example.com"),
        "no email in the export"
    );
    eprintln!("exported {eur} rows in {:?}", started.elapsed());
}
