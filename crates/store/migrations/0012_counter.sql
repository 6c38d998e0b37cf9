-- Every way a customer pays at the counter: cash now, cheques and bank slips next.

-- SQLite cannot widen a CHECK, so `transactions` is rebuilt as in 0007: methods 'cash', 'cheque'
-- and 'bank'; statuses 'awaiting_confirmation' (a bank slip not yet confirmed: not money) and
-- 'bounced' (a cheque the bank returned: money that never came); and the cash tendered. Ids
-- are kept, so refunds, messages and inbox rows name the same payments, and the deferred
-- foreign keys prove at commit that every reference still holds.
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
    method            TEXT NOT NULL
        CHECK (method IN ('mpesa', 'card', 'paybill', 'cash', 'cheque', 'bank')),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'awaiting_customer', 'succeeded',
                          'failed', 'cancelled', 'timed_out', 'needs_review', 'refunded',
                          'partially_refunded', 'awaiting_confirmation', 'bounced')),
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
    payer             TEXT,
    -- Cash: what the customer handed over (the change is this less the amount).
    tendered_minor    INTEGER CHECK (tendered_minor IS NULL OR tendered_minor >= amount_minor)
) STRICT;
INSERT INTO transactions (id, number, reference, policy_id, method, status, amount_minor,
    refunded_minor, currency, phone, email, provider_ref, provider_receipt, failure_code,
    failure_reason, receipt_number, clerk_id, created_at, updated_at, day, authorization_url,
    card_brand, card_last4, payer)
SELECT id, number, reference, policy_id, method, status, amount_minor, refunded_minor, currency,
    phone, email, provider_ref, provider_receipt, failure_code, failure_reason, receipt_number,
    clerk_id, created_at, updated_at, day, authorization_url, card_brand, card_last4, payer
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

-- A receipt is queued when a payment becomes paid (from 0008).
CREATE TRIGGER receipts_on_paid AFTER UPDATE OF status ON transactions
WHEN NEW.status = 'succeeded'
     AND OLD.status NOT IN ('succeeded', 'partially_refunded', 'refunded')
BEGIN
    INSERT OR IGNORE INTO messages (key, purpose, channel, policy_id, transaction_id, status,
                                    next_attempt_at, created_at, updated_at)
    SELECT 'receipt:sms:' || NEW.number, 'receipt', 'sms', p.id, NEW.id, 'queued',
           NEW.updated_at, NEW.updated_at, NEW.updated_at
    FROM policies p WHERE p.id = NEW.policy_id AND p.opted_out_at IS NULL;
    INSERT OR IGNORE INTO messages (key, purpose, channel, policy_id, transaction_id, status,
                                    next_attempt_at, created_at, updated_at)
    SELECT 'receipt:email:' || NEW.number, 'receipt', 'email', p.id, NEW.id, 'queued',
           NEW.updated_at, NEW.updated_at, NEW.updated_at
    FROM policies p
    WHERE p.id = NEW.policy_id AND p.opted_out_at IS NULL AND coalesce(p.email, '') <> '';
END;

-- The summary's refunded figure reads only payments money went back on (from 0011).
CREATE INDEX tx_refunded_day ON transactions (currency, day) WHERE refunded_minor > 0;

-- Each clerk's drawer, one a Nairobi day and currency: closed with the count at the end of the
-- day (what the payments say it should hold, what was counted, the difference), then signed off
-- by a manager. A closed drawer takes no more cash.
CREATE TABLE cash_ups (
    clerk_id        INTEGER NOT NULL REFERENCES users (id),
    day             INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    expected_minor  INTEGER NOT NULL,
    counted_minor   INTEGER NOT NULL CHECK (counted_minor >= 0),
    -- The count note by note (`1000x5,500x3`), when it was counted that way.
    denominations   TEXT,
    closed_at       INTEGER NOT NULL,
    closed_by       TEXT NOT NULL,
    signed_off_by   TEXT,
    signed_off_at   INTEGER,
    sign_off_note   TEXT,
    PRIMARY KEY (clerk_id, day, currency)
) STRICT, WITHOUT ROWID;
CREATE INDEX cash_ups_unsigned ON cash_ups (day) WHERE signed_off_at IS NULL;

-- Cash taken to the bank: the office's cash not yet deposited is what cash payments brought in,
-- less cash handed back as refunds, less these.
CREATE TABLE cash_deposits (
    id           INTEGER PRIMARY KEY,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency     TEXT NOT NULL,
    bank_ref     TEXT NOT NULL,
    made_by      TEXT NOT NULL,
    made_at      INTEGER NOT NULL,
    day          INTEGER NOT NULL,
    UNIQUE (currency, bank_ref)
) STRICT;
