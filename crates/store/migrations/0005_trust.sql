-- What the office trusts and what it keeps for a person to look at.

-- Provider events may now be *held* (a claim waiting for the provider's confirmation; looked at
-- again each round, never holding back the events after it) or *suspect* (a claim the provider
-- did not confirm, kept for a manager). SQLite cannot widen a CHECK, so the table is rebuilt.
CREATE TABLE inbox_new (
    seq            INTEGER PRIMARY KEY,
    provider       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    dedup_key      TEXT NOT NULL,
    received_at    INTEGER NOT NULL,
    body           TEXT NOT NULL,
    outcome        TEXT NOT NULL
        CHECK (outcome IN ('applied', 'unchanged', 'other_office', 'orphan', 'ignored', 'held',
                           'suspect')),
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

-- When a refund was handed to the provider: set (only once, in the write that decides who
-- sends it) before the request goes out, so an approval whose answer was lost is looked up at
-- the provider instead of being sent again.
ALTER TABLE refunds ADD COLUMN sent_at INTEGER;

-- Failed sign-ins, by a hash of the name typed (never the name itself: people type passwords
-- there), so sign-in slows down per user and per machine.
CREATE TABLE sign_in_failures (
    id  INTEGER PRIMARY KEY,
    who TEXT NOT NULL,
    at  INTEGER NOT NULL
) STRICT;
CREATE INDEX sign_in_failures_who ON sign_in_failures (who, at);
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);

-- The STK callback URL carries the relay's secret token: it is a secret now (keyring or
-- MALIPO_MPESA_CALLBACK_URL), no longer a setting. Its value leaves the settings and the audit log.
DELETE FROM settings WHERE key = 'mpesa.callback_url';
DROP TRIGGER audit_log_is_append_only_update;
UPDATE audit_log SET
    before = CASE WHEN before IS NULL THEN NULL ELSE '"<redacted>"' END,
    after = CASE WHEN after IS NULL THEN NULL ELSE '"<redacted>"' END
WHERE entity = 'setting' AND entity_id = 'mpesa.callback_url';
CREATE TRIGGER audit_log_is_append_only_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
