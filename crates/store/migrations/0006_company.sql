-- One company across branches and counters.

-- The company register: a policy's status, and whether a change made here has yet to reach
-- the register (policies held before the register are sent at the next sync).
ALTER TABLE policies ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'lapsed', 'cancelled'));
ALTER TABLE policies ADD COLUMN register_pending INTEGER NOT NULL DEFAULT 1
    CHECK (register_pending IN (0, 1));

-- Every counter's payments, as the relay orders them: other counters' payments count towards
-- a policy's instalments here too. No customer data comes with them.
CREATE TABLE company_payments (
    reference      TEXT PRIMARY KEY,
    seq            INTEGER NOT NULL,
    number         TEXT NOT NULL,
    office         TEXT NOT NULL,
    counter        TEXT,
    policy_number  TEXT,
    method         TEXT NOT NULL,
    status         TEXT NOT NULL,
    amount_minor   INTEGER NOT NULL,
    refunded_minor INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    clerk          TEXT,
    receipt_number TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX company_payments_policy ON company_payments (policy_number);
CREATE INDEX company_payments_created ON company_payments (created_at);

-- A policy's payments from every counter: this office's own, and the others' it has learnt
-- of (its own payments come back in the company feed too; the office's record of them wins).
CREATE VIEW policy_payments AS
    SELECT p.number AS policy_number, t.reference, t.status, t.amount_minor, t.refunded_minor,
           t.currency
    FROM transactions t JOIN policies p ON p.id = t.policy_id
    UNION ALL
    SELECT c.policy_number, c.reference, c.status, c.amount_minor, c.refunded_minor, c.currency
    FROM company_payments c
    WHERE c.policy_number IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM transactions t WHERE t.reference = c.reference);
