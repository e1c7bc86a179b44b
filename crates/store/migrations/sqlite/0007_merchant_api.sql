-- Merchant self-service API (issue 12): per-currency thresholds, secret rotation with a grace
-- period, deleted PSP accounts, disabled operators. Migrations only add.

-- Per-currency thresholds (JSON {"payoutApproval":{"EUR":"1000.00"},"fourEyes":{…}}, major
-- units as exact decimal strings). payout_approval_threshold and four_eyes_threshold stay the
-- fallbacks for currencies without their own.
ALTER TABLE companies ADD COLUMN currency_thresholds TEXT;
-- The secrets a rotation replaced, still accepted (API) or still signing (webhook) until the
-- deadline (ms since the epoch).
ALTER TABLE companies ADD COLUMN previous_api_secret_enc TEXT;
ALTER TABLE companies ADD COLUMN previous_api_secret_until BIGINT;
ALTER TABLE companies ADD COLUMN previous_webhook_secret_enc TEXT;
ALTER TABLE companies ADD COLUMN previous_webhook_secret_until BIGINT;

-- A deleted account is disabled and hidden; its row stays for the transactions that reference it.
ALTER TABLE psp_accounts ADD COLUMN deleted_at BIGINT;

-- A disabled operator can neither log in nor use its token.
ALTER TABLE operators ADD COLUMN disabled_at BIGINT;

-- The merchant's delivery list, newest first.
CREATE INDEX webhook_deliveries_company_created ON webhook_deliveries (company_id, created_at, id);
-- The merchant's transaction list pages by (created_at, id) within the company.
CREATE INDEX transactions_company_created_id ON transactions (company_id, created_at, id);
