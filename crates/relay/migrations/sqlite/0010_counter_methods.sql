-- The counter's other ways to pay: cash now, cheques and bank slips next. SQLite cannot widen a
-- CHECK, so the company's payments are rebuilt with the same columns, keys and indexes.
CREATE TABLE transactions_counter (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    reference      TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    number         TEXT NOT NULL,
    office         TEXT NOT NULL,
    method         TEXT NOT NULL
        CHECK (method IN ('mpesa', 'card', 'paybill', 'cash', 'cheque', 'bank')),
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
INSERT INTO transactions_counter (tenant_id, reference, device_id, number, office, method, status,
    amount_minor, refunded_minor, currency, provider_ref, created_at, updated_at, seq, counter,
    policy, clerk, receipt_number, provider_receipt)
SELECT tenant_id, reference, device_id, number, office, method, status, amount_minor,
    refunded_minor, currency, provider_ref, created_at, updated_at, seq, counter, policy, clerk,
    receipt_number, provider_receipt FROM transactions;
DROP TABLE transactions;
ALTER TABLE transactions_counter RENAME TO transactions;
CREATE INDEX transactions_created ON transactions (tenant_id, created_at);
CREATE INDEX transactions_provider_ref ON transactions (tenant_id, provider_ref);
CREATE INDEX transactions_seq ON transactions (tenant_id, seq);
CREATE INDEX transactions_receipt ON transactions (tenant_id, provider_receipt);
