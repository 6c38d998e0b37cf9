-- M-Pesa Ratiba: standing orders created on holders' M-Pesa profiles for their policies. Each
-- run reaches the paybill as the holder's own payment (allocated by the policy number); this
-- table keeps what was asked and what Safaricom answered.
CREATE TABLE standing_orders (
    id            INTEGER PRIMARY KEY,
    policy_id     INTEGER NOT NULL REFERENCES policies (id),
    -- StandingOrderName: unique per customer at Safaricom.
    name          TEXT NOT NULL,
    -- CustomStoId: ours, echoed back in the result as requestRefID.
    request_ref   TEXT NOT NULL UNIQUE,
    -- Daraja's responseRefID from the acknowledgement.
    response_ref  TEXT,
    phone         TEXT NOT NULL,
    amount_minor  INTEGER NOT NULL CHECK (amount_minor > 0),
    currency      TEXT NOT NULL,
    frequency     TEXT NOT NULL,
    start_date    TEXT NOT NULL,
    end_date      TEXT NOT NULL,
    -- `asking` until Daraja took the request; `awaiting_pin` until the result; then `active`,
    -- `failed` (not created) or `stopped` (the office stopped counting on it).
    status        TEXT NOT NULL
        CHECK (status IN ('asking', 'awaiting_pin', 'active', 'failed', 'stopped')),
    result_code   TEXT,
    result_desc   TEXT,
    -- Safaricom's reference for the order, from the result.
    order_ref     TEXT,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX standing_orders_policy ON standing_orders (policy_id, id);
CREATE INDEX standing_orders_response ON standing_orders (response_ref);
