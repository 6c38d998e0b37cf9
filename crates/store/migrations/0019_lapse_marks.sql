-- A policy's lapse as this counter marked it in the company register (status `lapsed`), or
-- found another counter had (`elsewhere`): once for each missed instalment, so a policy a manager
-- reinstated is not marked lapsed again by a counter that has not yet heard of its payment.
CREATE TABLE lapse_marks (
    policy_id  INTEGER NOT NULL REFERENCES policies (id),
    -- The missed instalment's due date.
    due_date   TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('marked', 'elsewhere')),
    at         INTEGER NOT NULL,
    PRIMARY KEY (policy_id, due_date)
) STRICT;
