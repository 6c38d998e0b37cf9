-- SMS delivery reports (Africa's Talking) are events too. SQLite cannot widen a CHECK, so the
-- events table is rebuilt with the same rows, numbers and columns.
CREATE TABLE events_new (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    seq         INTEGER NOT NULL,
    provider    TEXT NOT NULL CHECK (provider IN ('daraja', 'paystack', 'africastalking')),
    kind        TEXT NOT NULL,
    dedup_key   TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    source_addr TEXT,
    headers     TEXT NOT NULL,
    body        BLOB NOT NULL,
    subject     TEXT,
    office      TEXT,
    PRIMARY KEY (tenant_id, seq),
    UNIQUE (tenant_id, dedup_key)
) STRICT, WITHOUT ROWID;
INSERT INTO events_new (tenant_id, seq, provider, kind, dedup_key, received_at, source_addr,
    headers, body, subject, office)
SELECT tenant_id, seq, provider, kind, dedup_key, received_at, source_addr, headers, body,
    subject, office FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
