-- The relay's database: tenants (one per company), their devices, and the provider events it
-- received, numbered per tenant without gaps in commit order.

CREATE TABLE tenants (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    -- SHA-256 of the secret path token in the Daraja callback URL; the token itself is shown once.
    daraja_token_hash TEXT NOT NULL UNIQUE,
    -- After a rotation the previous URL keeps working until this instant (ms), so callbacks
    -- for prompts sent just before still arrive.
    previous_daraja_token_hash TEXT UNIQUE,
    previous_valid_until       INTEGER,
    -- The Paystack secret key, sealed with XChaCha20-Poly1305 under MALIPO_RELAY_SECRET_KEY:
    -- 24-byte nonce followed by the ciphertext. NULL until set.
    paystack_secret   BLOB,
    last_seq          INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    -- SHA-256 of the 256-bit bearer token; the token itself is shown once.
    token_hash TEXT NOT NULL UNIQUE,
    revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    acked_seq  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE events (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    seq         INTEGER NOT NULL,
    provider    TEXT NOT NULL CHECK (provider IN ('daraja', 'paystack')),
    kind        TEXT NOT NULL,
    dedup_key   TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    source_addr TEXT,
    headers     TEXT NOT NULL,
    body        BLOB NOT NULL,
    PRIMARY KEY (tenant_id, seq),
    UNIQUE (tenant_id, dedup_key)
) STRICT, WITHOUT ROWID;

-- Payments as the offices' desktops upload them, for routing and the company-wide summary.
-- One row per payment reference; a newer `updated_at` replaces an older one.
CREATE TABLE transactions (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    reference      TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    number         TEXT NOT NULL,
    office         TEXT NOT NULL,
    method         TEXT NOT NULL CHECK (method IN ('mpesa', 'card')),
    status         TEXT NOT NULL,
    amount_minor   INTEGER NOT NULL CHECK (amount_minor > 0),
    refunded_minor INTEGER NOT NULL DEFAULT 0,
    currency       TEXT NOT NULL,
    provider_ref   TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, reference)
) STRICT, WITHOUT ROWID;
CREATE INDEX transactions_created ON transactions (tenant_id, created_at);
CREATE INDEX transactions_provider_ref ON transactions (tenant_id, provider_ref);
