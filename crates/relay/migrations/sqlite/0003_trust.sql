-- Per tenant, the addresses Daraja callbacks are accepted from (`safaricom` for Safaricom's
-- published addresses, or addresses and blocks separated by commas); NULL accepts any.
ALTER TABLE tenants ADD COLUMN daraja_allow TEXT;

-- Each device signs its receipts' verification links with a key made for that purpose, sealed
-- with MALIPO_RELAY_SECRET_KEY (24-byte nonce then ciphertext), not with its token's hash.
ALTER TABLE devices ADD COLUMN receipt_key BLOB;
-- The first 16 hex digits of the key's SHA-256: named in every link, to find the key.
ALTER TABLE devices ADD COLUMN receipt_key_id TEXT;
CREATE INDEX devices_receipt_key_id ON devices (receipt_key_id);
-- When the device was revoked (ms): its receipts verify only if dated before.
ALTER TABLE devices ADD COLUMN revoked_at INTEGER;
-- Receipts printed before this instant (ms) were signed with the token's hash and still verify
-- that way; none after it.
ALTER TABLE devices ADD COLUMN legacy_receipts_until INTEGER;
UPDATE devices SET legacy_receipts_until = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
