-- Why a manager decided a refund as they did: a rejection's reason, or the note that the person
-- who asked for it approved it themselves (a one-person office).
ALTER TABLE refunds ADD COLUMN decision_note TEXT;
