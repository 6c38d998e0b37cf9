-- Customer messages: SMS and e-mail receipts and instalment reminders.

-- Each policy's language for messages (English or Kiswahili), and whether its holder asked to
-- receive none (when).
ALTER TABLE policies ADD COLUMN language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'sw'));
ALTER TABLE policies ADD COLUMN opted_out_at INTEGER;

-- One row per message and purpose, queued in the same transaction as what causes it. `key` names
-- the purpose and its subject (`receipt:sms:NBI-000042`, `reminder:sms:POL-1:3:-7`): a second
-- queueing of the same one finds the first. The recipient and text are set when it is sent (so an
-- address or template corrected in the meantime is used). `sending` marks a message handed to the
-- provider whose answer is not yet recorded: after a crash it is never sent again on its own (at
-- most once); a manager may resend it.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    purpose         TEXT NOT NULL CHECK (purpose IN ('receipt', 'reminder')),
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
    resent_from     INTEGER REFERENCES messages (id),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    delivered_at    INTEGER
) STRICT;
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX messages_policy ON messages (policy_id, created_at);
CREATE INDEX messages_created ON messages (created_at, id);
CREATE UNIQUE INDEX messages_provider_id ON messages (provider_id) WHERE provider_id IS NOT NULL;

-- A payment that becomes paid queues its receipts (an SMS, and an e-mail when the policy has an
-- address) in the same transaction, unless the holder opted out. A payment paid twice over (a
-- review resolved after a refund, …) finds its receipts queued already.
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
