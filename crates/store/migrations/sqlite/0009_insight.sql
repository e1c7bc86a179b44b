-- The back office's insight tables (issue 13). First the PSP exchange log: every HTTP exchange
-- with a PSP and every callback a PSP sent, masked before it is stored (credentials,
-- signatures, personal data), kept for OVERTURE_EXCHANGE_RETENTION_DAYS days.

CREATE TABLE psp_exchanges (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id     TEXT,
    attempt_id         TEXT,
    psp_account_id     TEXT NOT NULL,
    psp_type           TEXT NOT NULL,
    -- outbound (Overture called the PSP) or callback (the PSP called Overture).
    direction          TEXT NOT NULL,
    operation          TEXT NOT NULL,
    method             TEXT NOT NULL,
    path               TEXT NOT NULL,
    http_status        BIGINT,
    latency_ms         BIGINT,
    request_excerpt    TEXT NOT NULL,
    response_excerpt   TEXT NOT NULL,
    outcome            TEXT,
    at                 BIGINT NOT NULL
);
CREATE INDEX psp_exchanges_txn ON psp_exchanges (transaction_id, id);
CREATE INDEX psp_exchanges_at ON psp_exchanges (at);

-- A user's history with a company, beside each held payout in the approval queue.
CREATE INDEX transactions_company_user ON transactions (company_id, user_id, created_at);

-- Hourly rollups of final states for the back office's overview (issue 13): per hour of
-- creation, company, PSP account, type, final state and currency, the count, the amount (minor
-- units), the total time to the final state (ms) and a histogram of it (b0 < 1 s, b1 < 2 s,
-- b2 < 5 s, b3 < 10 s, b4 < 30 s, b5 < 1 min, b6 < 2 min, b7 < 5 min, b8 < 10 min, b9 < 30 min,
-- b10 < 1 h, b11 < 2 h, b12 < 6 h, b13 < 1 d, b14 ≥ 1 d). Written in the same DB transaction as
-- each final state, so the overview reads a few thousand rows, not millions.
CREATE TABLE txn_rollups (
    hour               BIGINT NOT NULL,
    company_id         TEXT NOT NULL,
    psp_account_id     TEXT NOT NULL,
    psp_type           TEXT NOT NULL,
    txn_type           TEXT NOT NULL,
    state              TEXT NOT NULL,
    currency           TEXT NOT NULL,
    n                  BIGINT NOT NULL,
    amount_minor       BIGINT NOT NULL,
    final_ms           BIGINT NOT NULL,
    b0                BIGINT NOT NULL DEFAULT 0,
    b1                BIGINT NOT NULL DEFAULT 0,
    b2                BIGINT NOT NULL DEFAULT 0,
    b3                BIGINT NOT NULL DEFAULT 0,
    b4                BIGINT NOT NULL DEFAULT 0,
    b5                BIGINT NOT NULL DEFAULT 0,
    b6                BIGINT NOT NULL DEFAULT 0,
    b7                BIGINT NOT NULL DEFAULT 0,
    b8                BIGINT NOT NULL DEFAULT 0,
    b9                BIGINT NOT NULL DEFAULT 0,
    b10               BIGINT NOT NULL DEFAULT 0,
    b11               BIGINT NOT NULL DEFAULT 0,
    b12               BIGINT NOT NULL DEFAULT 0,
    b13               BIGINT NOT NULL DEFAULT 0,
    b14               BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, company_id, psp_account_id, txn_type, state, currency)
);
CREATE INDEX txn_rollups_company ON txn_rollups (company_id, hour);

-- Existing final transactions, with their last update as the time of the final state.
INSERT INTO txn_rollups (hour, company_id, psp_account_id, psp_type, txn_type, state, currency,
                         n, amount_minor, final_ms, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14)
SELECT created_at - (created_at % 3600000), company_id, psp_account_id, MIN(psp_type), txn_type,
       state, currency, COUNT(*), SUM(amount_minor), SUM(updated_at - created_at),
       SUM(CASE WHEN (updated_at - created_at) < 1000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 1000 AND (updated_at - created_at) < 2000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 2000 AND (updated_at - created_at) < 5000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 5000 AND (updated_at - created_at) < 10000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 10000 AND (updated_at - created_at) < 30000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 30000 AND (updated_at - created_at) < 60000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 60000 AND (updated_at - created_at) < 120000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 120000 AND (updated_at - created_at) < 300000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 300000 AND (updated_at - created_at) < 600000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 600000 AND (updated_at - created_at) < 1800000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 1800000 AND (updated_at - created_at) < 3600000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 3600000 AND (updated_at - created_at) < 7200000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 7200000 AND (updated_at - created_at) < 21600000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 21600000 AND (updated_at - created_at) < 86400000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN (updated_at - created_at) >= 86400000 THEN 1 ELSE 0 END)
FROM transactions
WHERE state IN ('approved', 'declined', 'failed', 'rejected')
GROUP BY created_at - (created_at % 3600000), company_id, psp_account_id, txn_type, state, currency;

-- The overview's webhook health reads deliveries by creation time.
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at, company_id, state, attempts);
