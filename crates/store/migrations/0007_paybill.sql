-- Paybill (M-Pesa C2B) payments customers make from their own phones.

-- SQLite cannot widen a CHECK, so `transactions` is rebuilt to take method 'paybill' and the
-- payer's name as Safaricom gives it; `inbox` is rebuilt to take outcome 'suspense'. Ids are
-- kept, so refunds and inbox rows still name the same payments. The rows are set aside, the
-- table dropped and made again under its own name, then the rows put back: dropping counts the
-- rows that name a payment as deferred violations and putting each payment back clears them,
-- so the commit proves every reference still holds.
PRAGMA defer_foreign_keys = ON;
DROP VIEW policy_payments;
DROP TRIGGER tx_search_on_policy_update;

CREATE TEMP TABLE transactions_kept AS SELECT * FROM transactions;
DROP TABLE transactions;

CREATE TABLE transactions (
    id                INTEGER PRIMARY KEY,
    number            TEXT NOT NULL UNIQUE,
    reference         TEXT NOT NULL UNIQUE,
    policy_id         INTEGER NOT NULL REFERENCES policies (id),
    method            TEXT NOT NULL CHECK (method IN ('mpesa', 'card', 'paybill')),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'awaiting_customer', 'succeeded',
                          'failed', 'cancelled', 'timed_out', 'needs_review', 'refunded',
                          'partially_refunded')),
    amount_minor      INTEGER NOT NULL CHECK (amount_minor > 0),
    refunded_minor    INTEGER NOT NULL DEFAULT 0 CHECK (refunded_minor BETWEEN 0 AND amount_minor),
    currency          TEXT NOT NULL,
    phone             TEXT,
    email             TEXT,
    provider_ref      TEXT,
    provider_receipt  TEXT,
    failure_code      TEXT,
    failure_reason    TEXT,
    receipt_number    TEXT UNIQUE,
    clerk_id          INTEGER REFERENCES users (id),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    day               INTEGER NOT NULL,
    authorization_url TEXT,
    card_brand        TEXT,
    card_last4        TEXT,
    -- Who paid a paybill payment, as Safaricom names them (the phone is masked by Safaricom).
    payer             TEXT
) STRICT;
INSERT INTO transactions (id, number, reference, policy_id, method, status, amount_minor,
    refunded_minor, currency, phone, email, provider_ref, provider_receipt, failure_code,
    failure_reason, receipt_number, clerk_id, created_at, updated_at, day, authorization_url,
    card_brand, card_last4)
SELECT id, number, reference, policy_id, method, status, amount_minor, refunded_minor, currency,
    phone, email, provider_ref, provider_receipt, failure_code, failure_reason, receipt_number,
    clerk_id, created_at, updated_at, day, authorization_url, card_brand, card_last4
FROM temp.transactions_kept;
DROP TABLE temp.transactions_kept;

CREATE INDEX tx_created ON transactions (created_at, id);
CREATE INDEX tx_status_created ON transactions (status, created_at, id);
CREATE INDEX tx_method_created ON transactions (method, created_at, id);
CREATE INDEX tx_policy_created ON transactions (policy_id, created_at, id);
CREATE INDEX tx_provider_ref ON transactions (provider_ref) WHERE provider_ref IS NOT NULL;
CREATE INDEX tx_clerk_created ON transactions (clerk_id, created_at);
CREATE INDEX tx_updated ON transactions (updated_at, id);
-- One M-Pesa code is one paybill payment, however it reached the office (Safaricom's
-- confirmation, a code typed at the counter, a suspense allocation).
CREATE UNIQUE INDEX tx_paybill_receipt ON transactions (provider_receipt) WHERE method = 'paybill';
CREATE INDEX tx_provider_receipt ON transactions (provider_receipt)
    WHERE provider_receipt IS NOT NULL;

CREATE TRIGGER transactions_are_never_deleted BEFORE DELETE ON transactions
BEGIN
    SELECT RAISE(ABORT, 'transactions are never deleted');
END;
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
-- The payer's name is searchable too: a clerk looks a paybill payment up by who sent it.
CREATE TRIGGER tx_search_on_insert AFTER INSERT ON transactions
BEGIN
    INSERT INTO tx_search (rowid, terms)
    SELECT NEW.id, concat_ws(' ', NEW.number, NEW.reference, p.number, p.holder, p.phone, NEW.phone,
                             NEW.email, NEW.provider_ref, NEW.provider_receipt, NEW.receipt_number,
                             NEW.payer)
    FROM policies p WHERE p.id = NEW.policy_id;
END;
CREATE TRIGGER tx_search_on_update
AFTER UPDATE OF provider_ref, provider_receipt, receipt_number, phone, email, payer ON transactions
BEGIN
    DELETE FROM tx_search WHERE rowid = OLD.id;
    INSERT INTO tx_search (rowid, terms)
    SELECT NEW.id, concat_ws(' ', NEW.number, NEW.reference, p.number, p.holder, p.phone, NEW.phone,
                             NEW.email, NEW.provider_ref, NEW.provider_receipt, NEW.receipt_number,
                             NEW.payer)
    FROM policies p WHERE p.id = NEW.policy_id;
END;
CREATE TRIGGER tx_search_on_policy_update AFTER UPDATE OF number, holder, phone ON policies
BEGIN
    DELETE FROM tx_search WHERE rowid IN (SELECT id FROM transactions WHERE policy_id = NEW.id);
    INSERT INTO tx_search (rowid, terms)
    SELECT t.id, concat_ws(' ', t.number, t.reference, NEW.number, NEW.holder, NEW.phone, t.phone, t.email,
                           t.provider_ref, t.provider_receipt, t.receipt_number, t.payer)
    FROM transactions t WHERE t.policy_id = NEW.id;
END;

CREATE VIEW policy_payments AS
    SELECT p.number AS policy_number, t.reference, t.status, t.amount_minor, t.refunded_minor,
           t.currency
    FROM transactions t JOIN policies p ON p.id = t.policy_id
    UNION ALL
    SELECT c.policy_number, c.reference, c.status, c.amount_minor, c.refunded_minor, c.currency
    FROM company_payments c
    WHERE c.policy_number IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM transactions t WHERE t.reference = c.reference);

-- suspense: a paybill payment Safaricom confirmed whose account matches no policy, put on the
-- company's suspense list for a manager to allocate.
CREATE TABLE inbox_new (
    seq            INTEGER PRIMARY KEY,
    provider       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    dedup_key      TEXT NOT NULL,
    received_at    INTEGER NOT NULL,
    body           TEXT NOT NULL,
    outcome        TEXT NOT NULL
        CHECK (outcome IN ('applied', 'unchanged', 'other_office', 'orphan', 'ignored', 'held',
                           'suspect', 'suspense')),
    transaction_id INTEGER REFERENCES transactions (id),
    note           TEXT NOT NULL DEFAULT '',
    recorded_at    INTEGER NOT NULL,
    resolved_by    TEXT,
    resolved_at    INTEGER,
    resolution     TEXT
) STRICT;
INSERT INTO inbox_new SELECT seq, provider, kind, dedup_key, received_at, body, outcome,
    transaction_id, note, recorded_at, resolved_by, resolved_at, resolution FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_new RENAME TO inbox;
CREATE INDEX inbox_open_orphans ON inbox (seq) WHERE outcome = 'orphan' AND resolved_at IS NULL;
CREATE INDEX inbox_for_review ON inbox (seq)
    WHERE outcome IN ('orphan', 'suspect') AND resolved_at IS NULL;
CREATE INDEX inbox_held ON inbox (seq) WHERE outcome = 'held';
CREATE INDEX inbox_transaction ON inbox (transaction_id) WHERE transaction_id IS NOT NULL;

-- Other counters' payments carry their M-Pesa code, so a code typed here that another
-- counter recorded is known.
ALTER TABLE company_payments ADD COLUMN provider_receipt TEXT;
CREATE INDEX company_payments_receipt ON company_payments (provider_receipt)
    WHERE provider_receipt IS NOT NULL;

-- What Safaricom's Transaction Status said about an M-Pesa code, asked before a paybill
-- payment is recorded. One row per code. `answered_at` is set by the first answer that finds
-- the code or says it does not exist (`found`, and the answer's body as Safaricom sent it);
-- an answer that only says Safaricom could not look is noted in `last_problem`, and the code is
-- asked again from `next_ask_at`.
CREATE TABLE paybill_checks (
    trans_id      TEXT PRIMARY KEY,
    -- The policy a clerk named when the code was typed at the counter, and the clerk.
    policy_number TEXT,
    clerk_id      INTEGER REFERENCES users (id),
    asked_at      INTEGER NOT NULL,
    next_ask_at   INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 1,
    last_problem  TEXT,
    answered_at   INTEGER,
    found         INTEGER CHECK (found IN (0, 1)),
    answer        TEXT
) STRICT;

-- Each Transaction Status request's ids, so its answer (which names the code only when the
-- code was found) finds the code it was about.
CREATE TABLE paybill_asks (
    conversation_id            TEXT PRIMARY KEY,
    originator_conversation_id TEXT NOT NULL,
    trans_id                   TEXT NOT NULL REFERENCES paybill_checks (trans_id),
    asked_at                   INTEGER NOT NULL
) STRICT;
CREATE INDEX paybill_asks_originator ON paybill_asks (originator_conversation_id);

-- Paybill account numbers as customers type them are matched without case, spaces, hyphens,
-- slashes, dots, underscores or backslashes (`mtr 2291` is `MTR-2291`).
CREATE INDEX policies_account ON policies (upper(replace(replace(replace(replace(replace(replace(
    number, ' ', ''), '-', ''), '/', ''), '.', ''), '_', ''), '\', '')));
