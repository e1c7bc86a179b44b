-- Seeds :n transactions for the back office's overview benchmark (psql, PostgreSQL): the
-- company :company and its PSP accounts (by :account of each), created over the last 30 days,
-- 60% pay-ins, most approved, some declined, failed, rejected or still open, in EUR, USD and
-- CAD; one webhook delivery per final state; then the hourly rollups, as migration 0009 builds
-- them from existing rows (what Overture itself writes with each final state).
\set ON_ERROR_STOP on
CREATE TEMP TABLE seed_accounts AS
  SELECT id, psp_type, row_number() OVER (ORDER BY id) - 1 AS k FROM psp_accounts WHERE company_id = :'company';
INSERT INTO transactions (id, company_id, txn_type, psp_type, psp_account_id, amount_minor, currency,
                          user_id, email, extras, state, created_at, updated_at, version)
SELECT 'txn_seed' || lpad(i::text, 10, '0'), :'company',
       CASE WHEN i % 5 < 3 THEN 'PAYIN' ELSE 'PAYOUT' END, a.psp_type, a.id,
       1000 + (i::bigint * 7919) % 500000,
       (ARRAY['EUR', 'EUR', 'USD', 'CAD'])[1 + i % 4],
       'seed-user-' || (i % 20000), 'u@example.com', '{}',
       CASE WHEN i % 100 < 78 THEN 'approved' WHEN i % 100 < 88 THEN 'declined'
            WHEN i % 100 < 93 THEN 'failed' WHEN i % 100 < 95 THEN 'rejected' ELSE 'pending' END,
       :now - (i::bigint * 2592000000 / :n),
       :now - (i::bigint * 2592000000 / :n) + 1000 + (i % 600) * 1000, 2
FROM generate_series(1, :n) AS i
JOIN seed_accounts a ON a.k = i % (SELECT count(*) FROM seed_accounts);
INSERT INTO webhook_deliveries (id, company_id, transaction_id, payload, state, attempts, next_attempt_at, created_at, delivered_at)
SELECT 'msg_' || substr(id, 5), company_id, id, '{}',
       CASE WHEN length(id) % 50 = 0 THEN 'dead' ELSE 'delivered' END,
       CASE WHEN right(id, 1) IN ('0', '5') THEN 2 ELSE 1 END, updated_at, updated_at, updated_at
FROM transactions WHERE company_id = :'company' AND id LIKE 'txn_seed%' AND state <> 'pending';
INSERT INTO txn_rollups (hour, company_id, psp_account_id, psp_type, txn_type, state, currency,
                         n, amount_minor, final_ms, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14)
SELECT created_at - (created_at % 3600000), company_id, psp_account_id, MIN(psp_type), txn_type, state, currency,
       COUNT(*), SUM(amount_minor), SUM(updated_at - created_at),
       SUM(CASE WHEN updated_at - created_at < 1000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 1000 AND updated_at - created_at < 2000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 2000 AND updated_at - created_at < 5000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 5000 AND updated_at - created_at < 10000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 10000 AND updated_at - created_at < 30000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 30000 AND updated_at - created_at < 60000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 60000 AND updated_at - created_at < 120000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 120000 AND updated_at - created_at < 300000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 300000 AND updated_at - created_at < 600000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 600000 AND updated_at - created_at < 1800000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 1800000 AND updated_at - created_at < 3600000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 3600000 AND updated_at - created_at < 7200000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 7200000 AND updated_at - created_at < 21600000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 21600000 AND updated_at - created_at < 86400000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN updated_at - created_at >= 86400000 THEN 1 ELSE 0 END)
FROM transactions WHERE company_id = :'company' AND id LIKE 'txn_seed%' AND state IN ('approved', 'declined', 'failed', 'rejected')
GROUP BY created_at - (created_at % 3600000), company_id, psp_account_id, txn_type, state, currency
ON CONFLICT (hour, company_id, psp_account_id, txn_type, state, currency) DO UPDATE SET
  n = txn_rollups.n + excluded.n, amount_minor = txn_rollups.amount_minor + excluded.amount_minor;
-- A table loaded in one statement is not what a running installation has: its pages carry no
-- visibility or hint bits yet, so the first scans would write them. VACUUM does what
-- autovacuum does in steady state, before anything is measured (psql runs each line on its
-- own, outside a transaction block, as VACUUM requires).
VACUUM (ANALYZE) transactions;
VACUUM (ANALYZE) txn_rollups;
VACUUM (ANALYZE) webhook_deliveries;
