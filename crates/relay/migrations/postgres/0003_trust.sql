-- The same as migrations/sqlite/0003_trust.sql, in PostgreSQL's types.
ALTER TABLE tenants ADD COLUMN daraja_allow TEXT;
ALTER TABLE devices ADD COLUMN receipt_key BYTEA;
ALTER TABLE devices ADD COLUMN receipt_key_id TEXT;
CREATE INDEX devices_receipt_key_id ON devices (receipt_key_id);
ALTER TABLE devices ADD COLUMN revoked_at BIGINT;
ALTER TABLE devices ADD COLUMN legacy_receipts_until BIGINT;
UPDATE devices SET legacy_receipts_until = (extract(epoch FROM now()) * 1000)::BIGINT;
