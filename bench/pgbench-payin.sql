-- The PostgreSQL work of one Overture pay-in, as pgbench sees it: the two reads the request
-- path makes when its caches are cold (company, PSP accounts), then the two commits Overture
-- cannot avoid: (1) the transaction row in `submitting` with its two events, committed before
-- the PSP is called; (2) the move to `pending` with one event, after the PSP answered.
-- Variables: :company, :account (set with -D). Run with -M prepared (variables are parameters).
SELECT id, api_secret_enc FROM companies WHERE id = :company;
SELECT id, credentials_enc FROM psp_accounts WHERE company_id = :company ORDER BY priority DESC;
BEGIN;
INSERT INTO transactions (id, company_id, txn_type, psp_type, psp_account_id, amount_minor, currency,
    user_id, email, country, extras, state, session_id, created_at, updated_at, submitted_at,
    version, next_poll_at, poll_attempts)
VALUES ('pgb_' || gen_random_uuid()::text, :company, 'PAYIN', 'FORUMPAY', :account, 1000, 'EUR',
    'bench-user', 'bench@example.com', 'DE', '{}', 'submitting', 'pgs_' || gen_random_uuid()::text,
    0, 0, 0, 1, 60000, 0)
RETURNING id AS txn \gset
INSERT INTO transaction_events (transaction_id, from_state, to_state, actor, at) VALUES (:txn, NULL, 'created', 'merchant', 0);
INSERT INTO transaction_events (transaction_id, from_state, to_state, actor, at) VALUES (:txn, 'created', 'submitting', 'merchant', 0);
COMMIT;
BEGIN;
UPDATE transactions SET state = 'pending', version = version + 1, updated_at = 1, psp_status = 'Waiting',
    psp_transaction_id = 'x', redirect_url = 'http://x/pay', next_poll_at = 5000
    WHERE id = :txn AND version = 1 AND state = 'submitting';
INSERT INTO transaction_events (transaction_id, from_state, to_state, actor, psp_status, at) VALUES (:txn, 'submitting', 'pending', 'psp', 'Waiting', 1);
COMMIT;
