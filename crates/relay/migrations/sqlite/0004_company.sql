-- One company across branches and counters.

-- Each device is one counter, with a code unique in its company: numbers carry it, so no two
-- counters print the same one. Devices added before counters have none.
ALTER TABLE devices ADD COLUMN counter TEXT;
CREATE UNIQUE INDEX devices_counter ON devices (tenant_id, counter) WHERE counter IS NOT NULL;

-- The company's payments in one order (`seq`, per tenant, in commit order): counters pull
-- each other's to allocate every policy's instalments alike.
ALTER TABLE tenants ADD COLUMN payment_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transactions ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
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

-- The company's policy register, numbered per tenant in commit order. Holder, phone and
-- e-mail are customer data, sealed with XChaCha20-Poly1305 under MALIPO_RELAY_SECRET_KEY
-- (24-byte nonce then ciphertext).
ALTER TABLE tenants ADD COLUMN register_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE register (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    number        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    holder        BLOB NOT NULL,
    phone         BLOB NOT NULL,
    email         BLOB,
    premium_minor INTEGER NOT NULL CHECK (premium_minor > 0),
    currency      TEXT NOT NULL,
    frequency     TEXT NOT NULL,
    instalments   INTEGER NOT NULL,
    start_date    TEXT NOT NULL,
    status        TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, number)
) STRICT, WITHOUT ROWID;
CREATE INDEX register_seq ON register (tenant_id, seq);
