-- Card payments: the checkout link (shown as a link or a QR code) and the card that paid
-- (brand and last four digits, printed on receipts). Never card numbers.
ALTER TABLE transactions ADD COLUMN authorization_url TEXT;
ALTER TABLE transactions ADD COLUMN card_brand TEXT;
ALTER TABLE transactions ADD COLUMN card_last4 TEXT;

-- Cards Paystack lets us charge again, per customer e-mail. The authorization code can charge
-- the card, so it never leaves this database in any output.
CREATE TABLE saved_cards (
    id                 INTEGER PRIMARY KEY,
    email              TEXT NOT NULL,
    authorization_code TEXT NOT NULL UNIQUE,
    signature          TEXT,
    brand              TEXT NOT NULL,
    last4              TEXT NOT NULL,
    exp_month          TEXT NOT NULL,
    exp_year           TEXT NOT NULL,
    bank               TEXT,
    reusable           INTEGER NOT NULL CHECK (reusable IN (0, 1)),
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX saved_cards_email ON saved_cards (email, last_used_at);

-- The duplicate-push guard and the per-clerk rate limit look at recent payments.
CREATE INDEX tx_clerk_created ON transactions (clerk_id, created_at);
