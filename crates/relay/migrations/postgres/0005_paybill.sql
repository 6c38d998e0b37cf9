-- The same as migrations/sqlite/0005_paybill.sql, in PostgreSQL's types.
ALTER TABLE tenants ADD COLUMN c2b_token_hash TEXT;
ALTER TABLE tenants ADD COLUMN previous_c2b_token_hash TEXT;
ALTER TABLE tenants ADD COLUMN previous_c2b_valid_until BIGINT;
ALTER TABLE tenants ADD COLUMN c2b_min_minor BIGINT NOT NULL DEFAULT 100;
CREATE UNIQUE INDEX tenants_c2b_token ON tenants (c2b_token_hash);
CREATE UNIQUE INDEX tenants_previous_c2b_token ON tenants (previous_c2b_token_hash);

ALTER TABLE register ADD COLUMN account_key TEXT NOT NULL DEFAULT '';
UPDATE register SET account_key =
    upper(replace(replace(replace(replace(replace(number, ' ', ''), '-', ''), '/', ''), '.', ''), '_', ''));
CREATE INDEX register_account ON register (tenant_id, account_key);

ALTER TABLE register ADD COLUMN office TEXT;
ALTER TABLE events ADD COLUMN office TEXT;

CREATE TABLE claims (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    subject    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subject)
);

CREATE TABLE suspense (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    trans_id     TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    account      TEXT NOT NULL,
    payer        TEXT NOT NULL,
    msisdn       TEXT NOT NULL,
    paid_at      BIGINT NOT NULL,
    found_by     TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'allocated', 'refund')),
    policy       TEXT,
    note         TEXT,
    decided_by   TEXT,
    decided_at   BIGINT,
    PRIMARY KEY (tenant_id, trans_id)
);

ALTER TABLE transactions DROP CONSTRAINT transactions_method_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_method_check
    CHECK (method IN ('mpesa', 'card', 'paybill'));
ALTER TABLE transactions ADD COLUMN provider_receipt TEXT;
CREATE INDEX transactions_receipt ON transactions (tenant_id, provider_receipt);
