-- Overture initial schema (SQLite). Money is stored as BIGINT minor units with its
-- currency; times are BIGINT milliseconds since the Unix epoch; secrets are AES-256-GCM
-- ciphertexts (columns ending in _enc).

CREATE TABLE companies (
    id                         TEXT PRIMARY KEY,
    name                       TEXT NOT NULL,
    api_secret_enc             TEXT NOT NULL,
    webhook_url                TEXT NOT NULL,
    webhook_secret_enc         TEXT NOT NULL,
    webhook_authorization_enc  TEXT,
    verify_user_url            TEXT NOT NULL,
    payout_approval_threshold  TEXT,
    verify_payins              BIGINT NOT NULL DEFAULT 0,
    created_at                 BIGINT NOT NULL
);

CREATE TABLE psp_accounts (
    id               TEXT PRIMARY KEY,
    company_id       TEXT NOT NULL REFERENCES companies (id),
    psp_type         TEXT NOT NULL,
    base_url         TEXT NOT NULL,
    credentials_enc  TEXT NOT NULL,
    enabled          BIGINT NOT NULL,
    priority         BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX psp_accounts_company ON psp_accounts (company_id);

CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    token_sha256  TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL
);

CREATE TABLE transactions (
    id                  TEXT PRIMARY KEY,
    company_id          TEXT NOT NULL REFERENCES companies (id),
    brand_id            TEXT,
    txn_type            TEXT NOT NULL,
    psp_type            TEXT NOT NULL,
    psp_account_id      TEXT NOT NULL REFERENCES psp_accounts (id),
    amount_minor        BIGINT NOT NULL CHECK (amount_minor > 0),
    currency            TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    email               TEXT NOT NULL,
    country             TEXT,
    extras              TEXT NOT NULL,
    state               TEXT NOT NULL,
    psp_status          TEXT,
    psp_transaction_id  TEXT,
    psp_stage           TEXT,
    message             TEXT,
    session_id          TEXT UNIQUE,
    redirect_url        TEXT,
    return_url          TEXT,
    merchant_reference  TEXT,
    idempotency_key     TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    submitted_at        BIGINT,
    version             BIGINT NOT NULL,
    next_poll_at        BIGINT,
    poll_attempts       BIGINT NOT NULL DEFAULT 0,
    poll_lease_until    BIGINT
);
CREATE INDEX transactions_due_poll ON transactions (next_poll_at) WHERE next_poll_at IS NOT NULL;
CREATE INDEX transactions_company_created ON transactions (company_id, created_at);
CREATE INDEX transactions_state ON transactions (state, created_at);

CREATE TABLE transaction_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id  TEXT NOT NULL REFERENCES transactions (id),
    from_state      TEXT,
    to_state        TEXT NOT NULL,
    actor           TEXT NOT NULL,
    reason          TEXT,
    psp_status      TEXT,
    at              BIGINT NOT NULL
);
CREATE INDEX transaction_events_txn ON transaction_events (transaction_id, id);

CREATE TABLE idempotency_keys (
    company_id       TEXT NOT NULL,
    key              TEXT NOT NULL,
    request_sha256   TEXT NOT NULL,
    transaction_id   TEXT NOT NULL,
    response_status  BIGINT,
    response_body    TEXT,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (company_id, key)
);

-- One row per final state: the UNIQUE transaction_id is invariant 2's "exactly one event".
CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY,
    company_id        TEXT NOT NULL REFERENCES companies (id),
    transaction_id    TEXT NOT NULL UNIQUE REFERENCES transactions (id),
    payload           TEXT NOT NULL,
    state             TEXT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    lease_until       BIGINT,
    last_http_status  BIGINT,
    last_error        TEXT,
    created_at        BIGINT NOT NULL,
    delivered_at      BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    webhook_id        TEXT NOT NULL REFERENCES webhook_deliveries (id),
    attempt           BIGINT NOT NULL,
    at                BIGINT NOT NULL,
    http_status       BIGINT,
    latency_ms        BIGINT NOT NULL,
    response_excerpt  TEXT NOT NULL,
    PRIMARY KEY (webhook_id, attempt)
);
