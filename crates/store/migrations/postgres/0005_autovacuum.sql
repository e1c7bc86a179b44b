-- The transactions table is written several times per payment (insert, state changes, and one
-- poll claim per status query) and a backlog of open orders keeps it churning. PostgreSQL's
-- default autovacuum thresholds (20 % of the table dead before a vacuum, 10 % changed before an
-- analyze) let dead rows pile up at the front of the poll index between vacuums; vacuum and
-- analyze this table after 2 % instead. (Autovacuum itself must be on, as it is by default.)
ALTER TABLE transactions SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05
);
ALTER TABLE webhook_deliveries SET (
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.05
);
