-- The company's M-Pesa ledger as its statements say it: each statement imported from the M-Pesa
-- organisation portal (its header block and totals), and every row of its table with what the
-- import made of it. The same file (by its SHA-256) is imported once.
CREATE TABLE mpesa_statements (
    id            INTEGER PRIMARY KEY,
    digest        TEXT NOT NULL UNIQUE,
    shortcode     TEXT,
    holder        TEXT,
    period_text   TEXT,
    period_from   INTEGER,
    period_to     INTEGER,
    opening_minor INTEGER,
    closing_minor INTEGER,
    currency      TEXT NOT NULL,
    header        TEXT NOT NULL,
    rows          INTEGER NOT NULL,
    matched       INTEGER NOT NULL,
    recovered     INTEGER NOT NULL,
    not_premium   INTEGER NOT NULL,
    refused       INTEGER NOT NULL,
    imported_by   TEXT NOT NULL,
    imported_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE mpesa_statement_rows (
    statement_id    INTEGER NOT NULL REFERENCES mpesa_statements (id),
    line            INTEGER NOT NULL,
    receipt         TEXT NOT NULL,
    completed_at    INTEGER NOT NULL,
    paid_in_minor   INTEGER,
    withdrawn_minor INTEGER,
    status          TEXT NOT NULL,
    reason_type     TEXT NOT NULL,
    details         TEXT NOT NULL,
    other_party     TEXT NOT NULL,
    account         TEXT NOT NULL,
    -- matched, recovered, not_premium or refused
    outcome         TEXT NOT NULL,
    why             TEXT NOT NULL,
    PRIMARY KEY (statement_id, line)
) STRICT;
CREATE INDEX mpesa_statement_rows_receipt ON mpesa_statement_rows (receipt);
CREATE INDEX mpesa_statement_rows_completed ON mpesa_statement_rows (completed_at);

-- What Pull Transactions listed, and the windows pulled completely: the M-Pesa ledger for the
-- days a pull covers.
CREATE TABLE mpesa_pulled (
    receipt      TEXT PRIMARY KEY,
    at           INTEGER NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    account      TEXT NOT NULL,
    pulled_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX mpesa_pulled_at ON mpesa_pulled (at);

CREATE TABLE mpesa_pull_windows (
    from_ms INTEGER NOT NULL,
    to_ms   INTEGER NOT NULL,
    PRIMARY KEY (from_ms, to_ms)
) STRICT;
