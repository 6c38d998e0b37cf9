-- A batch of callbacks stored in one round trip: the writer calls this function as one
-- statement, which is its own transaction, so a group commit costs one exchange with the
-- server however many callbacks it carries.
--
-- It holds the batch's tenants' rows until commit (in id order, so two instances' batches never
-- deadlock), then, as a second statement with a fresh snapshot (READ COMMITTED, a VOLATILE
-- function), stores each event whose (tenant, dedup_key) is neither stored nor earlier in the
-- batch under its tenant's next number. Because the rows were held first, the duplicate check
-- sees every event any instance committed before, and numbers stay gapless in commit order.
-- Returns (position in the arrays from 1, number) for each event stored; the others are
-- duplicates. Each tenant's newest number is announced on `p_channel` (delivered at commit).
CREATE FUNCTION relay_store_batch(
    p_tenant   TEXT[],
    p_dedup    TEXT[],
    p_provider TEXT[],
    p_kind     TEXT[],
    p_source   TEXT[],
    p_headers  TEXT[],
    p_body     BYTEA[],
    p_subject  TEXT[],
    p_office   TEXT[],
    p_received BIGINT,
    p_channel  TEXT
) RETURNS TABLE (ord BIGINT, seq BIGINT)
LANGUAGE plpgsql VOLATILE
-- Planned for each batch, with the batch's own arrays and the tables' statistics as they are
-- then. PL/pgSQL otherwise settles on one generic plan after five calls and keeps it; on a new
-- database, one made before the events table had statistics read every stored event for each
-- batch (a hash anti-join, or the primary key's index with only its tenant prefix), measured to
-- slow a relay to 320-560 callbacks a second.
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
    missing TEXT;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'relay_store_batch needs READ COMMITTED, not %',
            current_setting('transaction_isolation');
    END IF;
    PERFORM 1 FROM tenants WHERE id = ANY (p_tenant) ORDER BY id FOR UPDATE;
    SELECT w.id INTO missing FROM unnest(p_tenant) AS w (id)
    WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = w.id) LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'tenant %', missing USING ERRCODE = 'no_data_found';
    END IF;
    RETURN QUERY
    WITH input AS (
        SELECT * FROM unnest(p_tenant, p_dedup, p_provider, p_kind, p_source, p_headers, p_body,
                             p_subject, p_office)
            WITH ORDINALITY AS i (tenant_id, dedup_key, provider, kind, source_addr, headers,
                                  body, subject, office, ord)
    ),
    fresh AS (
        SELECT DISTINCT ON (i.tenant_id, i.dedup_key) i.*
        FROM input i
        WHERE NOT EXISTS (SELECT 1 FROM events e
                          WHERE e.tenant_id = i.tenant_id AND e.dedup_key = i.dedup_key)
        ORDER BY i.tenant_id, i.dedup_key, i.ord
    ),
    numbered AS (
        SELECT f.*, t.last_seq + row_number() OVER (PARTITION BY f.tenant_id ORDER BY f.ord)
                   AS seq
        FROM fresh f JOIN tenants t ON t.id = f.tenant_id
    ),
    bumped AS (
        UPDATE tenants t SET last_seq = n.newest
        FROM (SELECT tenant_id, max(seq) AS newest FROM numbered GROUP BY tenant_id) n
        WHERE t.id = n.tenant_id
        RETURNING t.id, t.last_seq
    ),
    inserted AS (
        INSERT INTO events (tenant_id, seq, provider, kind, dedup_key, received_at, source_addr,
                            headers, body, subject, office)
        SELECT tenant_id, seq, provider, kind, dedup_key, p_received, source_addr, headers, body,
               subject, office
        FROM numbered
        RETURNING 1
    ),
    woken AS (
        SELECT count(pg_notify(p_channel, b.id || ' ' || b.last_seq)) AS n FROM bumped b
    )
    SELECT n.ord, n.seq FROM numbered n CROSS JOIN woken;
END
$$;
