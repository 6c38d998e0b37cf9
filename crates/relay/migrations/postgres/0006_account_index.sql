-- Validation's lookup by account answered from the index alone, as on SQLite.
DROP INDEX register_account;
CREATE INDEX register_account ON register (tenant_id, account_key) INCLUDE (status, office);
