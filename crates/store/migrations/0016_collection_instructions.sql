-- How a policy's premiums are collected without anyone at the counter, with the holder's consent
-- on record: `card` (a saved Paystack card charged on the due day), `mpesa_prompt` (an M-Pesa
-- prompt sent on the due day), `ratiba` (an M-Pesa standing order) or `none` (reminders only).
-- One row per policy; every change is in the audit log.
CREATE TABLE collection_instructions (
    policy_id     INTEGER PRIMARY KEY REFERENCES policies (id),
    kind          TEXT NOT NULL CHECK (kind IN ('none', 'card', 'mpesa_prompt', 'ratiba')),
    -- The saved card (its e-mail and last four digits) or the phone prompted.
    card_email    TEXT,
    card_last4    TEXT,
    phone         TEXT,
    -- Who recorded the holder's consent, how (in_person, sms_link, mpesa_pin) and in what words.
    consent_by    TEXT,
    consent_how   TEXT CHECK (consent_how IS NULL OR consent_how IN ('in_person', 'sms_link', 'mpesa_pin')),
    consent_text  TEXT,
    consent_at    INTEGER,
    -- Why it stopped, when it was stopped by someone or by Malipo (a card Paystack says is gone).
    stopped_reason TEXT,
    updated_by    TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    CHECK (kind = 'none' OR (consent_by IS NOT NULL AND consent_at IS NOT NULL AND consent_how IS NOT NULL))
) STRICT;
