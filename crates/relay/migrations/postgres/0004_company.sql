-- The same as migrations/sqlite/0004_company.sql, in PostgreSQL's types.
ALTER TABLE devices ADD COLUMN counter TEXT;
CREATE UNIQUE INDEX devices_counter ON devices (tenant_id, counter) WHERE counter IS NOT NULL;

ALTER TABLE tenants ADD COLUMN payment_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE transactions ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE transactions ADD COLUMN counter TEXT;
ALTER TABLE transactions ADD COLUMN policy TEXT;
ALTER TABLE transactions ADD COLUMN clerk TEXT;
ALTER TABLE transactions ADD COLUMN receipt_number TEXT;
UPDATE transactions SET seq = ordered.n
FROM (SELECT tenant_id, reference,
             row_number() OVER (PARTITION BY tenant_id ORDER BY updated_at, reference) AS n
      FROM transactions) AS ordered
WHERE ordered.tenant_id = transactions.tenant_id AND ordered.reference = transactions.reference;
UPDATE tenants SET payment_seq =
    (SELECT coalesce(max(seq), 0) FROM transactions WHERE tenant_id = tenants.id);
CREATE INDEX transactions_seq ON transactions (tenant_id, seq);

ALTER TABLE tenants ADD COLUMN register_seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE register (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    number        TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    holder        BYTEA NOT NULL,
    phone         BYTEA NOT NULL,
    email         BYTEA,
    premium_minor BIGINT NOT NULL CHECK (premium_minor > 0),
    currency      TEXT NOT NULL,
    frequency     TEXT NOT NULL,
    instalments   INTEGER NOT NULL,
    start_date    TEXT NOT NULL,
    status        TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, number)
);
CREATE INDEX register_seq ON register (tenant_id, seq);
