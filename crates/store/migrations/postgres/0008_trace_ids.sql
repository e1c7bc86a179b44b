-- Observability (issue 12): the W3C trace id (32 hex digits) of the request that created a
-- transaction, so the calls made for it later (PSP status polls, its webhook) carry the same
-- trace in their `traceparent`. The outbox row copies it when written. Migrations only add.

ALTER TABLE transactions ADD COLUMN trace_id TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN trace_id TEXT;
