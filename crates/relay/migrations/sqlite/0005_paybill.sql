-- Paybill (C2B) payments customers start from their own phones.

-- The tenant's C2B validation and confirmation URLs carry one secret path token (stored as its
-- SHA-256), rotated like the Daraja callback URL's; and the smallest payment validation takes.
ALTER TABLE tenants ADD COLUMN c2b_token_hash TEXT;
ALTER TABLE tenants ADD COLUMN previous_c2b_token_hash TEXT;
ALTER TABLE tenants ADD COLUMN previous_c2b_valid_until INTEGER;
ALTER TABLE tenants ADD COLUMN c2b_min_minor INTEGER NOT NULL DEFAULT 100;
CREATE UNIQUE INDEX tenants_c2b_token ON tenants (c2b_token_hash);
CREATE UNIQUE INDEX tenants_previous_c2b_token ON tenants (previous_c2b_token_hash);

-- Validation looks accounts up as customers type them: upper case, without spaces, hyphens,
-- slashes, dots or underscores.
ALTER TABLE register ADD COLUMN account_key TEXT NOT NULL DEFAULT '';
UPDATE register SET account_key =
    upper(replace(replace(replace(replace(replace(number, ' ', ''), '-', ''), '/', ''), '.', ''), '_', ''));
CREATE INDEX register_account ON register (tenant_id, account_key);

-- The branch whose counter first registered a policy: a paybill confirmation for its account
-- is tagged with that branch, whose counters record it.
ALTER TABLE register ADD COLUMN office TEXT;
ALTER TABLE events ADD COLUMN office TEXT;

-- One counter does a thing for the whole company: records a paybill payment, allocates one
-- from suspense. The first to claim it holds it.
CREATE TABLE claims (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    subject    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, subject)
) STRICT, WITHOUT ROWID;

-- Paybill payments Safaricom confirmed whose account matched no policy: a manager allocates
-- each to a policy, or marks it for refund, once for the whole company.
CREATE TABLE suspense (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    trans_id     TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    account      TEXT NOT NULL,
    payer        TEXT NOT NULL,
    msisdn       TEXT NOT NULL,
    paid_at      INTEGER NOT NULL,
    found_by     TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'allocated', 'refund')),
    policy       TEXT,
    note         TEXT,
    decided_by   TEXT,
    decided_at   INTEGER,
    PRIMARY KEY (tenant_id, trans_id)
) STRICT, WITHOUT ROWID;

-- Paybill payments are payments of the company too.
CREATE TABLE transactions_paybill (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    reference      TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    number         TEXT NOT NULL,
    office         TEXT NOT NULL,
    method         TEXT NOT NULL CHECK (method IN ('mpesa', 'card', 'paybill')),
    status         TEXT NOT NULL,
    amount_minor   INTEGER NOT NULL CHECK (amount_minor > 0),
    refunded_minor INTEGER NOT NULL DEFAULT 0,
    currency       TEXT NOT NULL,
    provider_ref   TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    seq            INTEGER NOT NULL DEFAULT 0,
    counter        TEXT,
    policy         TEXT,
    clerk          TEXT,
    receipt_number TEXT,
    -- The M-Pesa receipt number, so a code typed at one counter is known to be another's.
    provider_receipt TEXT,
    PRIMARY KEY (tenant_id, reference)
) STRICT, WITHOUT ROWID;
INSERT INTO transactions_paybill SELECT tenant_id, reference, device_id, number, office, method,
    status, amount_minor, refunded_minor, currency, provider_ref, created_at, updated_at, seq,
    counter, policy, clerk, receipt_number, NULL FROM transactions;
DROP TABLE transactions;
ALTER TABLE transactions_paybill RENAME TO transactions;
CREATE INDEX transactions_created ON transactions (tenant_id, created_at);
CREATE INDEX transactions_provider_ref ON transactions (tenant_id, provider_ref);
CREATE INDEX transactions_seq ON transactions (tenant_id, seq);
CREATE INDEX transactions_receipt ON transactions (tenant_id, provider_receipt);
