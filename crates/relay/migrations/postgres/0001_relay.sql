-- The relay's database on PostgreSQL, for several relay instances sharing it: the same tables
-- as the SQLite schema (migrations/sqlite/0001_relay.sql), in PostgreSQL's types. Instances
-- number a tenant's events by locking the tenant's row until commit, so the numbers stay
-- gapless and in commit order across instances.

CREATE TABLE tenants (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    -- SHA-256 of the secret path token in the Daraja callback URL; the token itself is shown once.
    daraja_token_hash TEXT NOT NULL UNIQUE,
    -- After a rotation the previous URL keeps working until this instant (ms).
    previous_daraja_token_hash TEXT UNIQUE,
    previous_valid_until       BIGINT,
    -- The Paystack secret key sealed with XChaCha20-Poly1305 under MALIPO_RELAY_SECRET_KEY.
    paystack_secret   BYTEA,
    last_seq          BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL
);

CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    -- SHA-256 of the 256-bit bearer token; the token itself is shown once.
    token_hash TEXT NOT NULL UNIQUE,
    revoked    BIGINT NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    acked_seq  BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE events (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    seq         BIGINT NOT NULL,
    provider    TEXT NOT NULL CHECK (provider IN ('daraja', 'paystack')),
    kind        TEXT NOT NULL,
    dedup_key   TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    source_addr TEXT,
    headers     TEXT NOT NULL,
    body        BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, seq),
    UNIQUE (tenant_id, dedup_key)
);

-- Payments as the offices' desktops upload them; a newer `updated_at` replaces an older one.
CREATE TABLE transactions (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    reference      TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    number         TEXT NOT NULL,
    office         TEXT NOT NULL,
    method         TEXT NOT NULL CHECK (method IN ('mpesa', 'card')),
    status         TEXT NOT NULL,
    amount_minor   BIGINT NOT NULL CHECK (amount_minor > 0),
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    currency       TEXT NOT NULL,
    provider_ref   TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, reference)
);
CREATE INDEX transactions_created ON transactions (tenant_id, created_at);
CREATE INDEX transactions_provider_ref ON transactions (tenant_id, provider_ref);
