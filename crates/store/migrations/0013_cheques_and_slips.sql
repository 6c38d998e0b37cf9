-- Cheques and bank slips.

-- A cheque received at the counter: it pays the policy provisionally (its payment is
-- `succeeded`, its receipt says "subject to clearance") until the bank clears it or returns it.
-- One cheque of one bank is recorded once.
CREATE TABLE cheques (
    transaction_id INTEGER PRIMARY KEY REFERENCES transactions (id),
    number         TEXT NOT NULL,
    bank           TEXT NOT NULL,
    drawer         TEXT NOT NULL,
    -- The day written on it (a post-dated cheque cannot be banked before), Nairobi day number.
    dated          INTEGER NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('received', 'banked', 'cleared', 'bounced')),
    banked_at      INTEGER,
    banked_by      TEXT,
    settled_at     INTEGER,
    settled_by     TEXT,
    bounce_reason  TEXT,
    UNIQUE (bank, number)
) STRICT;
CREATE INDEX cheques_state ON cheques (state, dated);

-- A reversing entry: money recorded as received that never came (a bounced cheque). The payment
-- keeps its number and receipt; this says when, why, by whom, and any fee the office charges.
CREATE TABLE reversals (
    id             INTEGER PRIMARY KEY,
    transaction_id INTEGER NOT NULL UNIQUE REFERENCES transactions (id),
    amount_minor   INTEGER NOT NULL CHECK (amount_minor > 0),
    currency       TEXT NOT NULL,
    fee_minor      INTEGER NOT NULL DEFAULT 0 CHECK (fee_minor >= 0),
    reason         TEXT NOT NULL,
    made_by        TEXT NOT NULL,
    made_at        INTEGER NOT NULL
) STRICT;
CREATE TRIGGER reversals_never_deleted BEFORE DELETE ON reversals
BEGIN
    SELECT RAISE(ABORT, 'reversals are never deleted');
END;

-- A customer's deposit into the company's bank account, brought as a slip: `awaiting_confirmation`
-- until a manager finds it in the bank (one by one, or from the bank's statement). One bank
-- reference is one slip.
CREATE TABLE bank_slips (
    transaction_id INTEGER PRIMARY KEY REFERENCES transactions (id),
    bank_ref       TEXT NOT NULL UNIQUE,
    decided_by     TEXT,
    decided_at     INTEGER,
    -- How it was decided: `manual`, or the statement file it was found in.
    decided_how    TEXT
) STRICT;

-- Messages gain a purpose: notices (a bounced cheque). SQLite cannot widen a CHECK, so the table
-- is rebuilt with the same rows and ids (the trigger that queues receipts is set aside meanwhile).
DROP TRIGGER receipts_on_paid;
CREATE TABLE messages_new (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    purpose         TEXT NOT NULL CHECK (purpose IN ('receipt', 'reminder', 'notice')),
    channel         TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    policy_id       INTEGER NOT NULL REFERENCES policies (id),
    transaction_id  INTEGER REFERENCES transactions (id),
    instalment_seq  INTEGER,
    status          TEXT NOT NULL CHECK (status IN
                        ('queued', 'sending', 'sent', 'delivered', 'failed', 'skipped')),
    recipient       TEXT,
    body            TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    provider_id     TEXT,
    problem         TEXT,
    resent_from     INTEGER REFERENCES messages_new (id),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    delivered_at    INTEGER
) STRICT;
INSERT INTO messages_new SELECT id, key, purpose, channel, policy_id, transaction_id,
    instalment_seq, status, recipient, body, attempts, next_attempt_at, provider_id, problem,
    resent_from, created_at, updated_at, sent_at, delivered_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX messages_policy ON messages (policy_id, created_at);
CREATE INDEX messages_created ON messages (created_at, id);
CREATE UNIQUE INDEX messages_provider_id ON messages (provider_id) WHERE provider_id IS NOT NULL;

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
