-- Retention: provider bodies older than MALIPO_RELAY_RETENTION_DAYS that every active device of
-- the tenant has read are deleted in small batches; what was deleted is still counted here, per
-- Nairobi day, provider and kind.
CREATE TABLE event_days (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    day       TEXT NOT NULL,
    provider  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    events    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, day, provider, kind)
) STRICT, WITHOUT ROWID;
