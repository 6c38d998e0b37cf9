-- Syncing with the company's relay.

-- Every provider event pulled from the relay, recorded once with what it did here. Recording
-- an event and the change it causes share one write transaction, and `seq` is the relay's
-- gapless per-company number, so an event is applied exactly once even across crashes; the
-- device's cursor is the highest `seq` recorded.
CREATE TABLE inbox (
    seq            INTEGER PRIMARY KEY,
    provider       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    dedup_key      TEXT NOT NULL,
    received_at    INTEGER NOT NULL,
    body           TEXT NOT NULL,
    -- applied: changed a payment here; unchanged: about a payment here, nothing new;
    -- other_office: about another office's payment (feeds the company view only);
    -- orphan: matches no payment anywhere, for a manager to resolve; ignored: nothing to act on.
    outcome        TEXT NOT NULL
        CHECK (outcome IN ('applied', 'unchanged', 'other_office', 'orphan', 'ignored')),
    transaction_id INTEGER REFERENCES transactions (id),
    note           TEXT NOT NULL DEFAULT '',
    recorded_at    INTEGER NOT NULL,
    resolved_by    TEXT,
    resolved_at    INTEGER,
    resolution     TEXT
) STRICT;
CREATE INDEX inbox_open_orphans ON inbox (seq) WHERE outcome = 'orphan' AND resolved_at IS NULL;

-- The outbox walks payments in the order they changed.
CREATE INDEX tx_updated ON transactions (updated_at, id);
