-- Malipo's office database. Money is INTEGER minor units with a currency column beside it;
-- instants are INTEGER milliseconds since the epoch (UTC); `day` is the Nairobi calendar day
-- as days since 1970-01-01, so summaries group without date arithmetic.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('clerk', 'manager', 'admin')),
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE policies (
    id            INTEGER PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,
    holder        TEXT NOT NULL,
    phone         TEXT NOT NULL,
    email         TEXT,
    premium_minor INTEGER NOT NULL CHECK (premium_minor > 0),
    currency      TEXT NOT NULL,
    frequency     TEXT NOT NULL CHECK (frequency IN ('monthly', 'quarterly', 'annually')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX policies_holder ON policies (holder COLLATE NOCASE);
CREATE INDEX policies_phone ON policies (phone);

CREATE TABLE instalments (
    policy_id    INTEGER NOT NULL REFERENCES policies (id),
    seq          INTEGER NOT NULL CHECK (seq > 0),
    due_date     TEXT NOT NULL, -- YYYY-MM-DD, Nairobi
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency     TEXT NOT NULL,
    PRIMARY KEY (policy_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX instalments_due ON instalments (due_date);

-- Sequences handed out inside the transaction that uses them, so they never skip or repeat.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

CREATE TABLE transactions (
    id               INTEGER PRIMARY KEY,
    number           TEXT NOT NULL UNIQUE,
    reference        TEXT NOT NULL UNIQUE,
    policy_id        INTEGER NOT NULL REFERENCES policies (id),
    method           TEXT NOT NULL CHECK (method IN ('mpesa', 'card')),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'awaiting_customer', 'succeeded',
                         'failed', 'cancelled', 'timed_out', 'needs_review', 'refunded',
                         'partially_refunded')),
    amount_minor     INTEGER NOT NULL CHECK (amount_minor > 0),
    refunded_minor   INTEGER NOT NULL DEFAULT 0 CHECK (refunded_minor BETWEEN 0 AND amount_minor),
    currency         TEXT NOT NULL,
    phone            TEXT,
    email            TEXT,
    provider_ref     TEXT,
    provider_receipt TEXT,
    failure_code     TEXT,
    failure_reason   TEXT,
    receipt_number   TEXT UNIQUE,
    clerk_id         INTEGER REFERENCES users (id),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    day              INTEGER NOT NULL
) STRICT;
-- History pages are newest first, optionally narrowed by status, method, policy or date.
CREATE INDEX tx_created ON transactions (created_at, id);
CREATE INDEX tx_status_created ON transactions (status, created_at, id);
CREATE INDEX tx_method_created ON transactions (method, created_at, id);
CREATE INDEX tx_policy_created ON transactions (policy_id, created_at, id);
CREATE INDEX tx_provider_ref ON transactions (provider_ref) WHERE provider_ref IS NOT NULL;

CREATE TRIGGER transactions_are_never_deleted BEFORE DELETE ON transactions
BEGIN
    SELECT RAISE(ABORT, 'transactions are never deleted');
END;

-- Per-day totals kept by triggers in the same database transaction as the change, so the
-- summary reads a few rows per day instead of every payment ever taken: one table by method
-- and status, one by clerk (with whether the money was received).
CREATE TABLE daily_totals (
    day          INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    method       TEXT NOT NULL,
    status       TEXT NOT NULL,
    count        INTEGER NOT NULL,
    amount_minor INTEGER NOT NULL,
    PRIMARY KEY (day, currency, method, status)
) STRICT, WITHOUT ROWID;

CREATE TABLE clerk_totals (
    day          INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    clerk_id     INTEGER NOT NULL,
    received     INTEGER NOT NULL CHECK (received IN (0, 1)),
    count        INTEGER NOT NULL,
    amount_minor INTEGER NOT NULL,
    PRIMARY KEY (day, currency, clerk_id, received)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER totals_on_insert AFTER INSERT ON transactions
BEGIN
    INSERT INTO daily_totals (day, currency, method, status, count, amount_minor)
    VALUES (NEW.day, NEW.currency, NEW.method, NEW.status, 1, NEW.amount_minor)
    ON CONFLICT DO UPDATE SET count = count + 1, amount_minor = amount_minor + excluded.amount_minor;
    INSERT INTO clerk_totals (day, currency, clerk_id, received, count, amount_minor)
    VALUES (NEW.day, NEW.currency, coalesce(NEW.clerk_id, 0),
            NEW.status IN ('succeeded', 'partially_refunded', 'refunded'), 1, NEW.amount_minor)
    ON CONFLICT DO UPDATE SET count = count + 1, amount_minor = amount_minor + excluded.amount_minor;
END;

CREATE TRIGGER totals_on_update
AFTER UPDATE OF status, amount_minor, currency, method, day, clerk_id ON transactions
BEGIN
    UPDATE daily_totals SET count = count - 1, amount_minor = amount_minor - OLD.amount_minor
    WHERE day = OLD.day AND currency = OLD.currency AND method = OLD.method AND status = OLD.status;
    INSERT INTO daily_totals (day, currency, method, status, count, amount_minor)
    VALUES (NEW.day, NEW.currency, NEW.method, NEW.status, 1, NEW.amount_minor)
    ON CONFLICT DO UPDATE SET count = count + 1, amount_minor = amount_minor + excluded.amount_minor;
    UPDATE clerk_totals SET count = count - 1, amount_minor = amount_minor - OLD.amount_minor
    WHERE day = OLD.day AND currency = OLD.currency AND clerk_id = coalesce(OLD.clerk_id, 0)
      AND received = (OLD.status IN ('succeeded', 'partially_refunded', 'refunded'));
    INSERT INTO clerk_totals (day, currency, clerk_id, received, count, amount_minor)
    VALUES (NEW.day, NEW.currency, coalesce(NEW.clerk_id, 0),
            NEW.status IN ('succeeded', 'partially_refunded', 'refunded'), 1, NEW.amount_minor)
    ON CONFLICT DO UPDATE SET count = count + 1, amount_minor = amount_minor + excluded.amount_minor;
END;

-- Full-text index over what a clerk searches by: transaction number, reference, policy
-- number, holder, phone and the provider's receipt. Contentless: the text lives in the tables.
CREATE VIRTUAL TABLE tx_search USING fts5 (
    terms,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3 4'
);

CREATE TRIGGER tx_search_on_insert AFTER INSERT ON transactions
BEGIN
    INSERT INTO tx_search (rowid, terms)
    SELECT NEW.id, concat_ws(' ', NEW.number, NEW.reference, p.number, p.holder, p.phone, NEW.phone,
                             NEW.email, NEW.provider_ref, NEW.provider_receipt, NEW.receipt_number)
    FROM policies p WHERE p.id = NEW.policy_id;
END;

CREATE TRIGGER tx_search_on_update
AFTER UPDATE OF provider_ref, provider_receipt, receipt_number, phone, email ON transactions
BEGIN
    DELETE FROM tx_search WHERE rowid = OLD.id;
    INSERT INTO tx_search (rowid, terms)
    SELECT NEW.id, concat_ws(' ', NEW.number, NEW.reference, p.number, p.holder, p.phone, NEW.phone,
                             NEW.email, NEW.provider_ref, NEW.provider_receipt, NEW.receipt_number)
    FROM policies p WHERE p.id = NEW.policy_id;
END;

CREATE TRIGGER tx_search_on_policy_update AFTER UPDATE OF number, holder, phone ON policies
BEGIN
    DELETE FROM tx_search WHERE rowid IN (SELECT id FROM transactions WHERE policy_id = NEW.id);
    INSERT INTO tx_search (rowid, terms)
    SELECT t.id, concat_ws(' ', t.number, t.reference, NEW.number, NEW.holder, NEW.phone, t.phone, t.email,
                           t.provider_ref, t.provider_receipt, t.receipt_number)
    FROM transactions t WHERE t.policy_id = NEW.id;
END;

-- Who changed what, when, from what to what. Append-only: the database refuses edits.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before    TEXT,
    after     TEXT
) STRICT;
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);

CREATE TRIGGER audit_log_is_append_only_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_is_append_only_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
