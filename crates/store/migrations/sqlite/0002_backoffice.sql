-- Back office (issue 5), SQLite: operator passwords and lockout, sessions, four-eyes
-- approvals, the append-only audit log, and search indexes. Additive only.

ALTER TABLE operators ADD COLUMN password_hash TEXT;
ALTER TABLE operators ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE operators ADD COLUMN locked_until BIGINT;
CREATE INDEX operators_email_lower ON operators (lower(email));

-- Held payouts at or above this (major units) need two different operators' approvals.
ALTER TABLE companies ADD COLUMN four_eyes_threshold TEXT;

-- Only the SHA-256 of the cookie value is stored.
CREATE TABLE operator_sessions (
    id_sha256     TEXT PRIMARY KEY,
    operator_id   TEXT NOT NULL REFERENCES operators (id),
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);

CREATE TABLE payout_approvals (
    transaction_id  TEXT NOT NULL REFERENCES transactions (id),
    operator_id     TEXT NOT NULL REFERENCES operators (id),
    reason          TEXT,
    at              BIGINT NOT NULL,
    PRIMARY KEY (transaction_id, operator_id)
);

CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              BIGINT NOT NULL,
    operator_id     TEXT,
    operator_email  TEXT NOT NULL,
    action          TEXT NOT NULL,
    target          TEXT,
    reason          TEXT,
    detail          TEXT
);
CREATE INDEX audit_log_operator ON audit_log (operator_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);

-- Append-only: the database itself refuses edits and deletions.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE INDEX transactions_created ON transactions (created_at);
CREATE INDEX transactions_psp_transaction_id ON transactions (psp_transaction_id);
CREATE INDEX transactions_user ON transactions (user_id, created_at);
CREATE INDEX transactions_merchant_reference ON transactions (merchant_reference);
CREATE INDEX webhook_deliveries_state ON webhook_deliveries (state, created_at);
