-- The PSP exchange log (issue 13): every HTTP exchange with a PSP and every callback a PSP
-- sent, masked before it is stored (credentials, signatures, personal data), kept for
-- OVERTURE_EXCHANGE_RETENTION days.

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
