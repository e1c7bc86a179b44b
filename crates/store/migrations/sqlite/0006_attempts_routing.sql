-- Attempts and routing (issue 10). A transaction has one or more attempts, each one try at one
-- PSP account with its own PSP order id; the transaction row mirrors its live attempt
-- (psp_type, psp_account_id, psp_status, …) and names it (attempt_id, attempt_seq,
-- psp_order_id), so the payment paths keep reading one row. Migrations only add.

ALTER TABLE transactions ADD COLUMN attempt_id TEXT;
ALTER TABLE transactions ADD COLUMN attempt_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE transactions ADD COLUMN psp_order_id TEXT;
-- The routing plan (JSON): candidates in order, max attempts, cascade settings.
ALTER TABLE transactions ADD COLUMN routing TEXT;
-- The Cashier body's `metadata` (JSON object of strings): routing rules match on it.
ALTER TABLE transactions ADD COLUMN metadata TEXT;

-- Per-account amount limits and daily caps (JSON, minor units per currency).
ALTER TABLE psp_accounts ADD COLUMN limits TEXT;

CREATE TABLE attempts (
    id                  TEXT PRIMARY KEY,
    transaction_id      TEXT NOT NULL REFERENCES transactions (id),
    seq                 BIGINT NOT NULL,
    psp_account_id      TEXT NOT NULL REFERENCES psp_accounts (id),
    psp_type            TEXT NOT NULL,
    psp_order_id        TEXT NOT NULL UNIQUE,
    state               TEXT NOT NULL,
    psp_transaction_id  TEXT,
    psp_status          TEXT,
    error_class         TEXT,
    error_message       TEXT,
    -- The routing decision that chose this attempt's account (JSON).
    decision            TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    -- When the PSP accepted the order: daily caps count these.
    accepted_at         BIGINT,
    finished_at         BIGINT,
    UNIQUE (transaction_id, seq)
);
CREATE INDEX attempts_account_accepted ON attempts (psp_account_id, accepted_at)
    WHERE accepted_at IS NOT NULL;

-- Every transaction already sent to a PSP becomes one attempt whose PSP order id is the
-- transaction id, so orders in flight keep their ids (callbacks, status queries).
INSERT INTO attempts (id, transaction_id, seq, psp_account_id, psp_type, psp_order_id, state,
                      psp_transaction_id, psp_status, error_message, decision, amount_minor,
                      currency, created_at, updated_at, accepted_at, finished_at)
SELECT 'att_' || substr(id, 5), id, 1, psp_account_id, psp_type, id, state,
       psp_transaction_id, psp_status,
       CASE WHEN state IN ('declined', 'failed') THEN message END,
       '{"rule":null,"action":"route","holdForApproval":false,"candidates":[],"chosen":"'
           || psp_account_id || '"}',
       amount_minor, currency, COALESCE(submitted_at, created_at), updated_at,
       CASE WHEN state IN ('pending', 'approved') THEN COALESCE(submitted_at, created_at) END,
       CASE WHEN state IN ('approved', 'declined', 'failed') THEN updated_at END
FROM transactions
WHERE submitted_at IS NOT NULL
  AND state IN ('submitting', 'pending', 'approved', 'declined', 'failed');

UPDATE transactions SET attempt_id = 'att_' || substr(id, 5), attempt_seq = 1, psp_order_id = id
WHERE submitted_at IS NOT NULL
  AND state IN ('submitting', 'pending', 'approved', 'declined', 'failed');

-- Routing rules documents, one row per version; the highest version is the active one, so a
-- new version is stored and activated by one INSERT.
CREATE TABLE routing_rules (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    version     BIGINT NOT NULL,
    document    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (company_id, version)
);
