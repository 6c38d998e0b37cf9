-- Events in an ordinary (rowid) table. As a WITHOUT ROWID table a row may keep only about 1,000
-- bytes on its page, so nearly every provider body (Safaricom's STK callback is ~900 bytes with
-- its headers beside it) spilled onto an overflow page of its own: 4.8 KB an event on disk where
-- 1.5 KB suffices. The same columns and the same two unique keys; every event keeps its number.
CREATE TABLE events_rowid (
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
    UNIQUE (tenant_id, seq),
    UNIQUE (tenant_id, dedup_key)
) STRICT;
INSERT INTO events_rowid (tenant_id, seq, provider, kind, dedup_key, received_at, source_addr,
                          headers, body, subject, office)
    SELECT tenant_id, seq, provider, kind, dedup_key, received_at, source_addr, headers, body,
           subject, office
    FROM events ORDER BY tenant_id, seq;
DROP TABLE events;
ALTER TABLE events_rowid RENAME TO events;
