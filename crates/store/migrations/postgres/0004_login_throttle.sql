-- Login throttle (issue 9), PostgreSQL: failed-login counters per client address and per
-- account, shared by every node. They replace the per-account lockout: operators.failed_logins
-- and operators.locked_until are no longer read or written (migrations only add).

CREATE TABLE login_throttle (
    -- `address:<ip or IPv6 /64>` or `account:<operator id>` / `account:email-sha256:<hex>`.
    throttle_key     TEXT PRIMARY KEY,
    -- Failures in a row; starts again at 1 after a quiet period.
    failures         BIGINT NOT NULL,
    last_failure_at  BIGINT NOT NULL,
    -- No attempt under this key has its password checked before this time.
    blocked_until    BIGINT NOT NULL
);
-- Housekeeping deletes counters by age.
CREATE INDEX login_throttle_last_failure ON login_throttle (last_failure_at);
