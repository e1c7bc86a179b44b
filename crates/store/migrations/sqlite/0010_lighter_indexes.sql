-- Every index on `transactions` is written by each pay-in twice (creation, then the move to
-- `pending`), so the table keeps only the indexes a query needs:
-- (company_id, created_at, id), added for the merchant API's cursor pages, serves everything
-- (company_id, created_at) did; and the per-user history with a company reads
-- (user_id, created_at), a user's rows being few.
DROP INDEX transactions_company_created;
DROP INDEX transactions_company_user;
