-- Refunds: requested by a clerk, approved or rejected by a manager, then carried out by the
-- provider (a Paystack refund, or an M-Pesa reversal) and followed to their final state.
-- Requested, approved, processing and processed refunds hold their amount: together they can
-- never exceed what was paid (checked in the same write transaction as the request).
CREATE TABLE refunds (
    id             INTEGER PRIMARY KEY,
    transaction_id INTEGER NOT NULL REFERENCES transactions (id),
    amount_minor   INTEGER NOT NULL CHECK (amount_minor > 0),
    currency       TEXT NOT NULL,
    reason         TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN
                       ('requested', 'approved', 'rejected', 'processing', 'processed', 'failed')),
    requested_by   TEXT NOT NULL,
    decided_by     TEXT,
    -- The provider's id: the Paystack refund id, or the M-Pesa reversal's ConversationID.
    provider_ref   TEXT,
    failure_reason TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX refunds_transaction ON refunds (transaction_id);
CREATE INDEX refunds_status ON refunds (status, created_at);
CREATE INDEX refunds_provider_ref ON refunds (provider_ref) WHERE provider_ref IS NOT NULL;

CREATE TRIGGER refunds_never_deleted BEFORE DELETE ON refunds
BEGIN
    SELECT RAISE(ABORT, 'refunds are never deleted');
END;
