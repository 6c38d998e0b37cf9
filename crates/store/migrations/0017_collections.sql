-- The collector: each instalment it tried to collect, once per day at most, and what came of
-- it; the currency each saved card is charged in; and, on a payment, how it was collected.

-- A card is charged in the currency it was saved in: read from the payment that saved it.
ALTER TABLE saved_cards ADD COLUMN currency TEXT;
UPDATE saved_cards SET currency = x.currency
FROM (SELECT email, card_last4, currency, max(id) FROM transactions
      WHERE card_last4 IS NOT NULL AND email IS NOT NULL
      GROUP BY email, card_last4) AS x
WHERE x.email = saved_cards.email AND x.card_last4 = saved_cards.last4;

-- `card` or `mpesa_prompt` on a payment the collector started (NULL: a person took it).
ALTER TABLE transactions ADD COLUMN collected_by TEXT
    CHECK (collected_by IS NULL OR collected_by IN ('card', 'mpesa_prompt'));

CREATE TABLE collection_attempts (
    id             INTEGER PRIMARY KEY,
    policy_id      INTEGER NOT NULL REFERENCES policies (id),
    -- The instalment (its place in the schedule and due date) and the office day of the try.
    seq            INTEGER NOT NULL,
    due_date       TEXT NOT NULL,
    day            TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('card', 'mpesa_prompt')),
    -- `trying` while the charge or prompt is on its way; then `charged`, `prompted`, `failed`,
    -- `pending` (no clear answer: the payment is asked about like any other) or `elsewhere`
    -- (another counter of the company holds this instalment's try today).
    outcome        TEXT NOT NULL CHECK (outcome IN ('trying', 'charged', 'prompted', 'failed', 'pending', 'elsewhere')),
    transaction_id INTEGER REFERENCES transactions (id),
    detail         TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (policy_id, seq, day)
) STRICT;
