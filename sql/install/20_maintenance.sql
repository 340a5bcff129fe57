-- ---------------------------------------------------------------------------
-- Partition maintenance (DESIGN section 4).
--
-- unified.chunks has one partition per UTC calendar month
-- (unified.chunks_YYYY_MM) and a default partition that catches rows of
-- months without one.  Maintenance keeps the current month and the next
-- `premake` months present, moves rows out of the default partition into
-- their months' partitions, and detaches (or drops) partitions older than
-- a retention period.
--
-- How a month's partition is made.  PostgreSQL refuses to create a
-- partition while the default partition holds rows of its range, which is
-- what makes naive maintenance fail forever once a 2019 row or a
-- far-future timestamp lands in the default.  So, for one month and in one
-- transaction: lock the parent (then the default, the order inserts use),
-- create a standalone table shaped like unified.chunks with a CHECK
-- constraint for the month, move the default's rows of that month into it
-- with one DELETE ... RETURNING, attach it (the CHECK constraint spares
-- PostgreSQL a scan of the new table), and drop the CHECK again.  Rows keep
-- their identity and their unified.chunk_keys entry: statements on a
-- partition do not fire the parent's statement triggers, which is right,
-- because a moved row is still stored exactly once.
--
-- The parent is locked ACCESS EXCLUSIVE, as CREATE TABLE ... PARTITION OF
-- would: an insert that planned against the old partition set could
-- otherwise route a row of the new month to the default partition and fail.
-- Locks are waited for at most `lock_wait`, so maintenance never queues
-- behind a long query and stalls the applications; a month that could not
-- be locked is reported, the pass makes no further month, and the next
-- pass tries again.
--
-- Bounded work.  A function cannot commit, so unified.run_maintenance()
-- does one bounded pass (whole months, until about `batch_rows` rows were
-- moved or detached, or the table was held for half of `lock_wait`) and
-- says "more": true when it stopped early; the background worker and
-- unified.run_maintenance_all() call it again in new transactions until
-- nothing is left.  How many months a pass makes for rows it finds in the
-- default partition is bounded too, by settings no session can change;
-- see "unified.run_maintenance(): one bounded pass" below.
--
-- Partitions are created by SECURITY DEFINER functions, so they belong to
-- the extension's owner whoever runs maintenance (the worker, a pg_cron job,
-- an admin), and carry no privileges for application roles: those reach
-- rows only through unified.chunks and its row-level security.  Each
-- partition, the default one and detached months included, also has
-- row-level security enabled and forced with no policy, so that a
-- privilege granted on it by mistake still shows no rows.
-- ---------------------------------------------------------------------------

-- Make sure the partition of the UTC month containing "month" exists,
-- moving the default partition's rows of that month into it.  Returns the
-- partition's qualified name, whether it was created now, and how many rows
-- were moved.  Internal: callers go through create_monthly_partition() or
-- run_maintenance().
CREATE FUNCTION unified.ensure_monthly_partition(month date,
    OUT partition text, OUT created boolean, OUT moved bigint)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    first_day   date;
    part        text;
    lo          timestamptz;
    hi          timestamptz;
    lo_text     text;
    hi_text     text;
    deflt       regclass;
    cols        text;
BEGIN
    IF month IS NULL THEN
        RAISE EXCEPTION 'month must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT isfinite(month) OR month < DATE '1900-01-01' OR month >= DATE '9999-12-01' THEN
        RAISE EXCEPTION 'month % is out of range',
                        CASE WHEN isfinite(month) THEN to_char(month, 'YYYY-MM-DD') ELSE month::text END
            USING ERRCODE = 'datetime_field_overflow',
                  HINT = 'Partitions can be created for months from 1900-01 to 9999-11.';
    END IF;

    first_day := date_trunc('month', month)::date;
    part := 'chunks_' || to_char(first_day, 'YYYY_MM');
    partition := format('unified.%I', part);
    created := false;
    moved := 0;
    -- Bounds carry an explicit UTC offset: they never depend on TimeZone.
    lo_text := to_char(first_day, 'YYYY-MM-DD') || ' 00:00:00+00';
    hi_text := to_char(first_day + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00';
    lo := lo_text::timestamptz;
    hi := hi_text::timestamptz;

    -- Fast path, no locks: the partition is there.
    IF EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'unified.chunks'::regclass
                  AND c.relnamespace = 'unified'::regnamespace AND c.relname = part) THEN
        RETURN;
    END IF;

    -- Lock the parent before the default partition, the order in which
    -- inserts lock them.  The parent's ACCESS EXCLUSIVE lock also
    -- serializes creators of the same month (no advisory lock: any role
    -- could hold one with the same key).
    LOCK TABLE ONLY unified.chunks IN ACCESS EXCLUSIVE MODE;

    IF EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'unified.chunks'::regclass
                  AND c.relnamespace = 'unified'::regnamespace AND c.relname = part) THEN
        RETURN;
    END IF;
    IF to_regclass(partition) IS NOT NULL THEN
        RAISE EXCEPTION 'relation % already exists but is not a partition of unified.chunks', partition
            USING ERRCODE = 'duplicate_table',
                  HINT = 'Rename or drop it (a partition detached by hand keeps its name), then run maintenance again.';
    END IF;

    SELECT NULLIF(p.partdefid, 0)::regclass INTO deflt
      FROM pg_partitioned_table p WHERE p.partrelid = 'unified.chunks'::regclass;

    EXECUTE format('CREATE TABLE unified.%I (LIKE unified.chunks INCLUDING DEFAULTS INCLUDING GENERATED'
                   ' INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)', part);
    EXECUTE format('ALTER TABLE unified.%I ADD CONSTRAINT %I CHECK (created_at >= %L AND created_at < %L)',
                   part, part || '_bound', lo_text, hi_text);

    IF deflt IS NOT NULL THEN
        EXECUTE format('LOCK TABLE ONLY %s IN ACCESS EXCLUSIVE MODE', deflt);
        -- Generated columns are computed again from the same content.
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
          FROM pg_attribute a
         WHERE a.attrelid = 'unified.chunks'::regclass AND a.attnum > 0
           AND NOT a.attisdropped AND a.attgenerated = '';
        EXECUTE format('WITH m AS (DELETE FROM ONLY %s WHERE created_at >= $1 AND created_at < $2 RETURNING %s)'
                       ' INSERT INTO unified.%I (%s) SELECT * FROM m',
                       deflt, cols, part, cols)
            USING lo, hi;
        GET DIAGNOSTICS moved = ROW_COUNT;
        IF moved > 0 THEN
            -- the global vector layout's side rows follow (72_vector_global.sql)
            PERFORM unified.vector_global_move(format('unified.%I', part)::regclass);
        END IF;
    END IF;

    EXECUTE format('ALTER TABLE unified.chunks ATTACH PARTITION unified.%I FOR VALUES FROM (%L) TO (%L)',
                   part, lo_text, hi_text);
    EXECUTE format('ALTER TABLE unified.%I DROP CONSTRAINT %I', part, part || '_bound');
    -- Defence in depth: a partition read directly (never through the parent,
    -- whose policies are what apply there) shows nothing to anyone who is not
    -- its owner or a superuser, even if someone grants privileges on it.
    EXECUTE format('ALTER TABLE unified.%I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', part);
    created := true;
END
$fn$;

REVOKE ALL ON FUNCTION unified.ensure_monthly_partition(date) FROM PUBLIC;

-- Create the partition of the UTC month containing "month" if missing,
-- moving rows of that month out of the default partition; return its
-- qualified name.  Idempotent.
--
-- An administrative act (migration calls it for every month it needs), so
-- neither unified_pg.max_new_partitions nor unified_pg.max_partitions
-- limits it.  It never queues for long behind other sessions: each try
-- waits at most 200 ms for the ACCESS EXCLUSIVE lock on unified.chunks
-- (the applications queue behind a waiting request no longer than that),
-- and after 25 tries (about 10 s) it fails with SQLSTATE 55P03 naming the
-- prepared transactions and sessions that hold the table.  Call it outside
-- a transaction that has already written to unified.chunks: upgrading
-- that transaction's lock can deadlock with another session doing the same.
CREATE FUNCTION unified.create_monthly_partition(month date DEFAULT CURRENT_DATE)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
SET lock_timeout = '200ms'
AS $fn$
DECLARE
    tries   integer := 0;
    r       record;
    b       record;
BEGIN
    LOOP
        BEGIN
            r := unified.ensure_monthly_partition(month);
            RETURN r.partition;
        EXCEPTION WHEN lock_not_available THEN
            tries := tries + 1;
            IF tries >= 25 THEN
                b := unified.maintenance_blockers();
                RAISE EXCEPTION 'could not lock unified.chunks to create the partition of %', to_char(month, 'YYYY-MM')
                    USING ERRCODE = 'lock_not_available',
                          DETAIL = format('Prepared transactions holding it: %s. Sessions holding it: %s.',
                                          coalesce(nullif(array_to_string(b.gids, ', '), ''), 'none'),
                                          coalesce(nullif(array_to_string(b.pids, ', '), ''), 'none')),
                          HINT = 'Finish those prepared transactions (COMMIT PREPARED or ROLLBACK PREPARED) or sessions, then try again.';
            END IF;
        END;
        PERFORM pg_sleep(0.2);
    END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION unified.create_monthly_partition(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unified.create_monthly_partition(date) TO unified_admin;

-- The current month and the next three exist from the start.  Like every
-- later partition they are not members of the extension: retention must be
-- able to detach and drop them, and pg_dump must dump their rows.
DO $install$
DECLARE
    part text;
BEGIN
    -- Months are UTC months; near a month's boundary the session's date can
    -- be a month off, so both the session's and the UTC month count.
    FOR part IN
        SELECT DISTINCT unified.create_monthly_partition((d + pg_catalog.make_interval(months => m))::date)
          FROM (VALUES (CURRENT_DATE), ((pg_catalog.now() AT TIME ZONE 'UTC')::date)) AS today(d),
               pg_catalog.generate_series(0, 3) AS m
    LOOP
        EXECUTE pg_catalog.format('ALTER EXTENSION unified_pg DROP TABLE %s', part);
    END LOOP;
END
$install$;

-- The default partition is a partition like the others: row-level security
-- enabled and forced, no policy, so a privilege granted on it by mistake
-- shows no rows.  (Partitions made later get the same in
-- ensure_monthly_partition; maintenance repairs any that lack it.)
ALTER TABLE unified.chunks_default ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;

-- ---------------------------------------------------------------------------
-- What is there: unified.partitions.
-- ---------------------------------------------------------------------------
CREATE VIEW unified.partitions AS
SELECT c.oid::regclass AS partition,
       b.m[1]::timestamptz AS range_start,
       b.m[2]::timestamptz AS range_end,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint
            WHEN c.relpages = 0 THEN 0::bigint END AS rows,
       pg_catalog.pg_total_relation_size(c.oid) AS bytes,
       p.partdefid = c.oid AS is_default
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
  JOIN pg_catalog.pg_partitioned_table p ON p.partrelid = i.inhparent
  LEFT JOIN LATERAL (
        SELECT pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                                       '^FOR VALUES FROM \(''([^'']*)''\) TO \(''([^'']*)''\)$') AS m
       ) AS b ON true
 WHERE i.inhparent = 'unified.chunks'::regclass;

COMMENT ON VIEW unified.partitions IS
    'Partitions of unified.chunks: range (NULL for the default), estimated rows, bytes on disk';

REVOKE ALL ON unified.partitions FROM PUBLIC;
GRANT SELECT ON unified.partitions TO unified_admin;

-- ---------------------------------------------------------------------------
-- unified.run_maintenance(): one bounded pass.
--
-- What a hostile role cannot do to it (each is tested in
-- test/t/022_maintenance_hostile.pl and test/pgtap/044_partition_hardening.sql):
--
-- - Stop it.  One pass at a time is ensured by unified.maintenance_lock()
--   (src/maintenance_guard.c), a lock no SQL role can take, not by an
--   advisory lock key anyone could hold in a prepared transaction.
-- - Explode the partition count.  Rows dated after the premade horizon stay
--   in the default partition; for older rows found there a pass makes at
--   most unified_pg.max_new_partitions months, and none once
--   unified.chunks has unified_pg.max_partitions monthly partitions.  The
--   months left out are listed in "deferred_months" (the first 24, with
--   "deferred_more" when there are others) and tried again by later passes.
--   The current and premade months are always made: they are what inserts
--   need, and only time adds to them.
-- - Hold unified.chunks locked for long.  Every lock is waited for at most
--   lock_wait; once the pass has held ACCESS EXCLUSIVE on unified.chunks
--   for half of lock_wait it makes no further month and says "more": true,
--   so that its transaction ends and the applications get in between.
--   A lock that cannot be had stops the pass's DDL: the blocker is not
--   going to go away within this pass, and each further try would stall
--   the applications for another lock_wait.  A prepared transaction among
--   the blockers (no session will end it) is named in "blocked_by" and in
--   the server log, for an administrator to COMMIT or ROLLBACK PREPARED.
-- ---------------------------------------------------------------------------

-- Who holds a lock on unified.chunks or its default partition besides this
-- backend: the gids of prepared transactions and the pids of sessions.
-- Internal: maintenance reports them when it cannot lock.
CREATE FUNCTION unified.maintenance_blockers(OUT gids text[], OUT pids integer[])
RETURNS record
LANGUAGE sql
STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT coalesce(array_agg(DISTINCT p.gid ORDER BY p.gid) FILTER (WHERE p.gid IS NOT NULL), '{}'),
           coalesce(array_agg(DISTINCT l.pid ORDER BY l.pid) FILTER (WHERE l.pid IS NOT NULL), '{}')
      FROM pg_catalog.pg_locks l
      -- A prepared transaction's locks belong to no pid; its virtual
      -- transaction also holds the lock on its own xid, which names it.
      LEFT JOIN pg_catalog.pg_locks x
             ON l.pid IS NULL AND x.pid IS NULL AND x.locktype = 'transactionid'
            AND x.virtualtransaction = l.virtualtransaction
      LEFT JOIN pg_catalog.pg_prepared_xacts p ON p.transaction = x.transactionid
     WHERE l.locktype = 'relation' AND l.granted
       AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid()
       AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
       AND l.relation IN (SELECT 'unified.chunks'::regclass::oid
                          UNION ALL
                          SELECT pt.partdefid FROM pg_catalog.pg_partitioned_table pt
                           WHERE pt.partrelid = 'unified.chunks'::regclass);
$fn$;

REVOKE ALL ON FUNCTION unified.maintenance_blockers() FROM PUBLIC;

-- The maintenance lock of this database, for the rest of the transaction;
-- false when another pass holds it.  No SQL role can take it otherwise.
CREATE FUNCTION unified.maintenance_lock()
RETURNS boolean
AS 'MODULE_PATHNAME', 'upg_maintenance_lock'
LANGUAGE C STRICT VOLATILE;

REVOKE ALL ON FUNCTION unified.maintenance_lock() FROM PUBLIC;

-- Try to make one month for a maintenance pass.  Returns {"partition",
-- "created", "moved"}, or {"month", "error", "lock", "blocked_by", "pids"}
-- when the month could not be made now; logs every such failure.
CREATE FUNCTION unified.maintenance_try_month(month date)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    r   record;
    b   record;
    err jsonb;
BEGIN
    r := unified.ensure_monthly_partition(month);
    RETURN jsonb_build_object('partition', r.partition, 'created', r.created, 'moved', r.moved);
EXCEPTION
    WHEN lock_not_available OR duplicate_table THEN
        err := jsonb_build_object('month', to_char(month, 'YYYY-MM'), 'error', SQLERRM,
                                  'lock', SQLSTATE = '55P03');
        IF SQLSTATE = '55P03' THEN
            b := unified.maintenance_blockers();
            err := err || jsonb_build_object('blocked_by', to_jsonb(b.gids), 'pids', to_jsonb(b.pids));
            IF cardinality(b.gids) > 0 THEN
                RAISE LOG 'unified_pg maintenance: month % not made: %; blocked by prepared transaction(s) %',
                          err->>'month', SQLERRM, array_to_string(b.gids, ', ')
                    USING HINT = 'COMMIT PREPARED or ROLLBACK PREPARED them (see pg_prepared_xacts).';
                RETURN err;
            END IF;
        END IF;
        RAISE LOG 'unified_pg maintenance: month % not made: %', err->>'month', SQLERRM;
        RETURN err;
END
$fn$;

REVOKE ALL ON FUNCTION unified.maintenance_try_month(date) FROM PUBLIC;

-- Enable and force row-level security on every partition and detached
-- month that lacks it (made by an older version, or restored from an older
-- dump).  Returns {"secured": [names], "errors": [...]}.  Internal.
CREATE FUNCTION unified.maintenance_secure_partitions()
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    p       record;
    secured jsonb := '[]';
    errors  jsonb := '[]';
BEGIN
    FOR p IN SELECT format('unified.%I', c.relname) AS rel
               FROM pg_class c
              WHERE c.relnamespace = 'unified'::regnamespace AND c.relkind = 'r'
                AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
                AND (c.oid IN (SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = 'unified.chunks'::regclass)
                     OR c.relname ~ '^chunks_[0-9]{4}_[0-9]{2}_detached(_[0-9]+)?$') LOOP
        BEGIN
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', p.rel);
            secured := secured || to_jsonb(p.rel);
        EXCEPTION WHEN lock_not_available THEN
            errors := errors || jsonb_build_object('partition', p.rel, 'error', SQLERRM);
            RAISE LOG 'unified_pg maintenance: row-level security of % not enabled: %', p.rel, SQLERRM;
        END;
    END LOOP;
    RETURN jsonb_build_object('secured', secured, 'errors', errors);
END
$fn$;

REVOKE ALL ON FUNCTION unified.maintenance_secure_partitions() FROM PUBLIC;

-- Retention for a maintenance pass: detach (or drop) partitions wholly
-- older than now() - retention, never the current month, a future one or
-- the default, oldest first, while "budget" rows are left and the pass
-- (which first locked unified.chunks at locked_at, NULL if not yet) has
-- held the table for less than half of lock_wait.  Their rows leave
-- unified.chunks, so their keys leave unified.chunk_keys.  Returns
-- {"detached", "dropped", "errors", "more"}.  Internal.
CREATE FUNCTION unified.maintenance_retention(retention interval, drop_detached boolean,
    budget bigint, locked_at timestamptz, lock_wait interval)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    cur_ts      timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    p           record;
    t           timestamptz;
    n           bigint;
    newname     text;
    detached    jsonb := '[]';
    dropped     jsonb := '[]';
    errors      jsonb := '[]';
    more        boolean := false;
BEGIN
    IF retention IS NULL OR drop_detached IS NULL OR budget IS NULL OR lock_wait IS NULL THEN
        RAISE EXCEPTION 'retention, drop_detached, budget and lock_wait must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR p IN SELECT format('unified.%I', c.relname) AS name, c.relname
               FROM unified.partitions v JOIN pg_class c ON c.oid = v.partition
              WHERE NOT v.is_default AND v.range_end IS NOT NULL
                AND v.range_end <= now() - retention AND v.range_end <= cur_ts
                AND c.relname ~ '^chunks_[0-9]{4}_[0-9]{2}$'
              ORDER BY v.range_start LOOP
        IF budget <= 0 OR (locked_at IS NOT NULL AND clock_timestamp() - locked_at >= lock_wait / 2) THEN
            more := true;
            EXIT;
        END IF;
        t := clock_timestamp();
        BEGIN
            -- the global vector layout's side rows go first (72_vector_global.sql)
            PERFORM unified.vector_global_forget_partition(format('unified.%I', p.relname)::regclass);
            EXECUTE format('ALTER TABLE unified.chunks DETACH PARTITION unified.%I', p.relname);
            locked_at := coalesce(locked_at, t);
            EXECUTE format('DELETE FROM unified.chunk_keys k USING unified.%I d'
                           ' WHERE (k.source, k.source_collection, k.source_id)'
                           ' = (d.source, d.source_collection, d.source_id)', p.relname);
            GET DIAGNOSTICS n = ROW_COUNT;
            budget := budget - n;
            IF drop_detached THEN
                EXECUTE format('DROP TABLE unified.%I', p.relname);
                dropped := dropped || to_jsonb(p.name);
            ELSE
                -- Free the name: a row of that month may come back later.
                -- The detached table keeps no grants and row-level
                -- security forced, like every partition.
                newname := p.relname || '_detached';
                WHILE to_regclass(format('unified.%I', newname)) IS NOT NULL LOOP
                    newname := p.relname || '_detached_' || (coalesce(substring(newname FROM '_([0-9]+)$')::int, 1) + 1);
                END LOOP;
                EXECUTE format('ALTER TABLE unified.%I RENAME TO %I', p.relname, newname);
                EXECUTE format('ALTER TABLE unified.%I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', newname);
                detached := detached || jsonb_build_object('partition', p.name,
                                                           'now', format('unified.%I', newname),
                                                           'rows', n);
            END IF;
        EXCEPTION WHEN lock_not_available THEN
            errors := errors || jsonb_build_object('partition', p.name, 'error', SQLERRM);
            RAISE LOG 'unified_pg maintenance: partition % not detached: %', p.name, SQLERRM;
            EXIT;
        END;
    END LOOP;
    RETURN jsonb_build_object('detached', detached, 'dropped', dropped, 'errors', errors, 'more', more);
END
$fn$;

REVOKE ALL ON FUNCTION unified.maintenance_retention(interval, boolean, bigint, timestamptz, interval) FROM PUBLIC;

-- One maintenance pass; returns what it did as jsonb:
--   status      'done'; 'partial' when "errors" is not empty; 'skipped'
--               (with "reason") when another pass runs or on a standby
--   created     partitions created, oldest first
--   moved       {partition: rows} moved out of the default partition
--   detached / dropped   partitions removed by the retention
--   secured     partitions whose row-level security had to be enabled
--   deferred_months  months (YYYY-MM) whose rows stay in the default
--               partition because of the horizon or the limits (first 24;
--               deferred_more says there are others)
--   blocked_by  gids of prepared transactions that kept a lock from it
--   unpartitionable_rows rows in the default outside 1900-01 .. 9999-11
--   errors      months or partitions skipped (lock timeout, name taken)
--   more        true when it stopped at batch_rows or at the lock-hold
--               limit; call it again
CREATE FUNCTION unified.run_maintenance(
    premake integer DEFAULT 3,
    retention interval DEFAULT NULL,
    drop_detached boolean DEFAULT false,
    batch_rows bigint DEFAULT 100000,
    lock_wait interval DEFAULT '5s')
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
SET lock_timeout = '5s'
AS $fn$
DECLARE
    min_ts      CONSTANT timestamptz := '1900-01-01 00:00:00+00';
    max_ts      CONSTANT timestamptz := '9999-12-01 00:00:00+00';
    cur         date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    cur_ts      timestamptz;
    horizon_ts  timestamptz;
    max_new     integer;
    max_parts   integer;
    nparts      integer;
    made        integer := 0;
    created     jsonb := '[]';
    moved       jsonb := '{}';
    detached    jsonb := '[]';
    dropped     jsonb := '[]';
    secured     jsonb := '[]';
    errors      jsonb := '[]';
    deferred    jsonb := '[]';
    deferred_more boolean := false;
    blockers    jsonb := '[]';
    blocked     boolean := false;
    locked_at   timestamptz;
    t           timestamptz;
    o           jsonb;
    budget      bigint := batch_rows;
    more        boolean := false;
    deflt       regclass;
    month       date;
    next_ts     timestamptz;
    scan_from   timestamptz := min_ts;
    stuck       bigint := 0;
BEGIN
    IF premake IS NULL OR premake < 0 OR premake > 120 THEN
        RAISE EXCEPTION 'premake must be between 0 and 120, not %', coalesce(premake::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cur_ts := cur::timestamp AT TIME ZONE 'UTC';
    IF retention IS NOT NULL AND cur_ts - retention >= cur_ts THEN
        RAISE EXCEPTION 'retention must be a positive interval, not %', retention
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF drop_detached IS NULL THEN
        RAISE EXCEPTION 'drop_detached must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch_rows IS NULL OR batch_rows < 1 THEN
        RAISE EXCEPTION 'batch_rows must be at least 1, not %', coalesce(batch_rows::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- (lock_timeout = 0 would mean "wait forever", so 0 is not accepted)
    IF lock_wait IS NULL OR lock_wait < interval '1 millisecond' OR lock_wait > interval '1 hour' THEN
        RAISE EXCEPTION 'lock_wait must be between 1 millisecond and 1 hour, not %', coalesce(lock_wait::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF pg_is_in_recovery() THEN
        RETURN jsonb_build_object('status', 'skipped', 'reason', 'server is in recovery');
    END IF;
    -- One pass at a time, by a lock no SQL role can take (this also loads
    -- the library, so the limits below are its settings, not placeholders).
    IF NOT unified.maintenance_lock() THEN
        RETURN jsonb_build_object('status', 'skipped', 'reason', 'already running');
    END IF;
    max_new := current_setting('unified_pg.max_new_partitions')::integer;
    max_parts := current_setting('unified_pg.max_partitions')::integer;
    horizon_ts := (cur + make_interval(months => premake + 1))::timestamp AT TIME ZONE 'UTC';
    -- Reverted when the function returns (it has its own SET clause).
    PERFORM set_config('lock_timeout',
                       (extract(epoch FROM lock_wait) * 1000)::bigint::text, true);

    -- 1. The current month and the next `premake` months.
    FOR m IN 0 .. premake LOOP
        IF locked_at IS NOT NULL AND clock_timestamp() - locked_at >= lock_wait / 2 THEN
            more := true;
            EXIT;
        END IF;
        t := clock_timestamp();
        o := unified.maintenance_try_month((cur + make_interval(months => m))::date);
        IF o ? 'error' THEN
            errors := errors || (o - 'lock');
            blockers := blockers || coalesce(o->'blocked_by', '[]');
            blocked := (o->>'lock')::boolean;
            EXIT WHEN blocked;
        ELSIF (o->>'created')::boolean THEN
            locked_at := coalesce(locked_at, t);
            created := created || (o->'partition');
            IF (o->>'moved')::bigint > 0 THEN
                moved := moved || jsonb_build_object(o->>'partition', o->'moved');
                budget := budget - (o->>'moved')::bigint;
            END IF;
        END IF;
    END LOOP;

    -- 2. Rows stuck in the default partition, oldest month first, whole
    --    months until the budget, the limits or the lock-hold time is
    --    spent.  Each probe is one index lookup.
    SELECT NULLIF(pt.partdefid, 0)::regclass INTO deflt
      FROM pg_partitioned_table pt WHERE pt.partrelid = 'unified.chunks'::regclass;
    SELECT count(*) INTO nparts
      FROM pg_inherits i WHERE i.inhparent = 'unified.chunks'::regclass AND i.inhrelid IS DISTINCT FROM deflt::oid;
    IF deflt IS NOT NULL AND NOT blocked AND NOT more THEN
        LOOP
            EXECUTE format('SELECT min(created_at) FROM ONLY %s WHERE created_at >= $1 AND created_at < $2', deflt)
               INTO next_ts USING scan_from, max_ts;
            EXIT WHEN next_ts IS NULL;
            month := date_trunc('month', next_ts AT TIME ZONE 'UTC')::date;
            scan_from := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
            IF next_ts >= horizon_ts OR made >= max_new OR nparts >= max_parts THEN
                IF jsonb_array_length(deferred) >= 24 THEN
                    deferred_more := true;
                    EXIT;
                END IF;
                deferred := deferred || to_jsonb(to_char(month, 'YYYY-MM'));
                CONTINUE;
            END IF;
            IF budget <= 0 OR (locked_at IS NOT NULL AND clock_timestamp() - locked_at >= lock_wait / 2) THEN
                more := true;
                EXIT;
            END IF;
            t := clock_timestamp();
            o := unified.maintenance_try_month(month);
            IF o ? 'error' THEN
                errors := errors || (o - 'lock');
                blockers := blockers || coalesce(o->'blocked_by', '[]');
                blocked := (o->>'lock')::boolean;
                EXIT WHEN blocked;
            ELSIF (o->>'created')::boolean THEN
                locked_at := coalesce(locked_at, t);
                made := made + 1;
                nparts := nparts + 1;
                created := created || (o->'partition');
                IF (o->>'moved')::bigint > 0 THEN
                    moved := moved || jsonb_build_object(o->>'partition', o->'moved');
                    budget := budget - (o->>'moved')::bigint;
                END IF;
            END IF;
        END LOOP;
        EXECUTE format('SELECT count(*) FROM ONLY %s WHERE created_at < $1 OR created_at >= $2', deflt)
           INTO stuck USING min_ts, max_ts;
    END IF;

    -- 3. Row-level security on every partition and detached month.
    IF NOT blocked THEN
        o := unified.maintenance_secure_partitions();
        secured := o->'secured';
        errors := errors || (o->'errors');
    END IF;

    -- 4. Retention.
    IF retention IS NOT NULL AND NOT blocked THEN
        o := unified.maintenance_retention(retention, drop_detached, budget, locked_at, lock_wait);
        detached := o->'detached';
        dropped := o->'dropped';
        errors := errors || (o->'errors');
        more := more OR (o->>'more')::boolean;
    END IF;

    RETURN jsonb_build_object(
        'status', CASE WHEN errors = '[]' THEN 'done' ELSE 'partial' END,
        'created', created, 'moved', moved,
        'detached', detached, 'dropped', dropped, 'secured', secured,
        'deferred_months', deferred, 'deferred_more', deferred_more,
        'blocked_by', (SELECT coalesce(jsonb_agg(DISTINCT g), '[]') FROM jsonb_array_elements_text(blockers) AS g),
        'unpartitionable_rows', stuck, 'errors', errors, 'more', more);
END
$fn$;

REVOKE ALL ON FUNCTION unified.run_maintenance(integer, interval, boolean, bigint, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unified.run_maintenance(integer, interval, boolean, bigint, interval) TO unified_admin;

-- Call run_maintenance() until it has nothing left, committing after each
-- pass so that locks are held one pass at a time.  For schedulers (pg_cron
-- runs it with CALL).  A procedure that commits cannot be SECURITY DEFINER
-- or carry SET clauses, so everything here is schema-qualified.
CREATE PROCEDURE unified.run_maintenance_all(
    premake integer DEFAULT 3,
    retention interval DEFAULT NULL,
    drop_detached boolean DEFAULT false)
LANGUAGE plpgsql
AS $fn$
-- No SET search_path here: a procedure with a SET clause cannot COMMIT.
-- So every type, function and operator below is schema-qualified, and the
-- caller's search_path cannot substitute any of them.
DECLARE
    r       pg_catalog.jsonb;
    passes  pg_catalog.int4 := 0;
BEGIN
    LOOP
        r := unified.run_maintenance(premake, retention, drop_detached);
        passes := passes OPERATOR(pg_catalog.+) 1;
        COMMIT;
        EXIT WHEN NOT COALESCE((r OPERATOR(pg_catalog.->>) 'more') OPERATOR(pg_catalog.=) 'true', false)
               OR passes OPERATOR(pg_catalog.>=) 10000;
    END LOOP;
    RAISE NOTICE 'unified_pg maintenance: % pass(es), last: %', passes, r;
END
$fn$;

REVOKE ALL ON PROCEDURE unified.run_maintenance_all(integer, interval, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE unified.run_maintenance_all(integer, interval, boolean) TO unified_admin;

-- ---------------------------------------------------------------------------
-- Scheduling.  The background worker runs maintenance every
-- unified_pg.maintenance_interval (src/maintenance.c); with pg_cron an
-- operator can schedule it instead or as well.  pg_cron is optional: it is
-- looked up at call time and called through dynamic SQL.
-- ---------------------------------------------------------------------------

-- What the worker's built-in maintenance did last.
CREATE FUNCTION unified.maintenance_status(
    OUT interval_s integer,
    OUT last_attempt_at timestamptz,
    OUT last_finished_at timestamptz,
    OUT runs bigint,
    OUT passes bigint,
    OUT last_passes integer,
    OUT skipped_in_recovery bigint,
    OUT last_result text)
RETURNS record
AS 'MODULE_PATHNAME', 'upg_maintenance_status'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION unified.maintenance_status() IS
    'Last run of the built-in partition maintenance; needs shared_preload_libraries';

REVOKE ALL ON FUNCTION unified.maintenance_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unified.maintenance_status() TO unified_admin;

-- Register (or update) the pg_cron job 'unified_pg_maintenance' that runs
-- maintenance in this database; returns the job id.  Idempotent: pg_cron
-- keeps one job per name and user.  SECURITY DEFINER: pg_cron lets only
-- roles with USAGE on its schema schedule jobs, and unified_admin should
-- not need that.  So the job belongs to, and runs as, the extension's
-- owner, as every other maintenance does; the command is built here from
-- validated arguments, so the caller chooses only when it runs.
CREATE FUNCTION unified.schedule_maintenance(
    schedule text DEFAULT '0 0 * * *',
    premake integer DEFAULT 3,
    retention interval DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    cmd     text;
    crondb  text;
    jobid   bigint;
BEGIN
    BEGIN
        crondb := current_setting('cron.database_name', true);
    EXCEPTION WHEN insufficient_privilege THEN
        -- pg_cron is loaded; only superusers may read where it lives
        crondb := '';
    END;
    IF schedule IS NULL
       OR schedule !~ '^\s*[0-9A-Za-z*/,-]+(\s+[0-9A-Za-z*/,-]+){4}\s*$'
       OR length(schedule) > 100 THEN
        RAISE EXCEPTION 'invalid cron schedule: %', coalesce(quote_literal(schedule), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use five cron fields, for example ''0 0 * * *'' for every midnight (GMT).';
    END IF;
    IF premake IS NULL OR premake < 0 OR premake > 120 THEN
        RAISE EXCEPTION 'premake must be between 0 and 120, not %', coalesce(premake::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF retention IS NOT NULL AND now() - retention >= now() THEN
        RAISE EXCEPTION 'retention must be a positive interval, not %', retention
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    cmd := format('CALL unified.run_maintenance_all(%s, %L)', premake, retention);

    IF to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)') IS NOT NULL THEN
        EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)'
           INTO jobid USING 'unified_pg_maintenance', schedule, cmd, current_database();
        RETURN jobid;
    END IF;

    IF crondb IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not available'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Add pg_cron to shared_preload_libraries and CREATE EXTENSION pg_cron; '
                         'without it the unified_pg worker still runs maintenance every unified_pg.maintenance_interval.';
    END IF;
    IF crondb = current_database() THEN
        RAISE EXCEPTION 'pg_cron is loaded but its extension is not created in database "%"', crondb
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run CREATE EXTENSION pg_cron in this database.';
    END IF;
    -- pg_cron lives in another database: register the job from there, as
    -- the current role, which pg_cron will also run the job as.
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = current_user AND rolcanlogin) THEN
        RAISE EXCEPTION 'role "%" cannot log in, so pg_cron cannot run a job as it', current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The job runs as the owner of the extension unified_pg, which must be a role that can log in.';
    END IF;
    RETURN unified.cron_schedule_elsewhere('unified_pg_maintenance', schedule, cmd);
END
$fn$;

REVOKE ALL ON FUNCTION unified.schedule_maintenance(text, integer, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unified.schedule_maintenance(text, integer, interval) TO unified_admin;

-- ---------------------------------------------------------------------------
-- Partition pruning.
-- ---------------------------------------------------------------------------

-- The plan of one SELECT as EXPLAIN (FORMAT JSON, VERBOSE) shows it.  The
-- text is parsed and refused unless it is a single plain SELECT; it is only
-- planned, with the caller's rights.  Planning evaluates the immutable
-- functions of the query (constant folding), so it is planned in a
-- read-only state: nothing those functions call can write to a table.
CREATE FUNCTION unified.explain_select(query text)
RETURNS json
AS 'MODULE_PATHNAME', 'upg_explain_select'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION unified.explain_select(text) IS
    'EXPLAIN (FORMAT JSON, VERBOSE) of exactly one SELECT, planned read-only with the caller''s rights, not executed';

-- How many partitions of unified.chunks a SELECT would scan.  Partitions
-- pruned while planning and those pruned when the executor starts
-- ("Subplans Removed") are both absent from the plan.  SECURITY INVOKER
-- and no pinned search_path: the query must resolve names as the caller
-- would, so everything here is schema-qualified instead.
CREATE FUNCTION unified.explain_pruning(query text,
    OUT partitions_total integer,
    OUT partitions_scanned integer,
    OUT pruned_ratio numeric)
RETURNS record
LANGUAGE sql
VOLATILE STRICT
AS $fn$
    -- No SET search_path: the caller's query is planned with the caller's
    -- search_path and rights.  So every type, function and operator of this
    -- body is schema-qualified instead.
    WITH plan AS (
        SELECT unified.explain_select(query)::pg_catalog.jsonb AS p
    ), parts AS (
        SELECT c.relname::pg_catalog.text AS relname
          FROM pg_catalog.pg_inherits i
          JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid
         WHERE i.inhparent OPERATOR(pg_catalog.=) 'unified.chunks'::pg_catalog.regclass
    ), scanned AS (
        SELECT DISTINCT n OPERATOR(pg_catalog.->>) 'Relation Name' AS relname
          FROM plan, pg_catalog.jsonb_path_query(plan.p, 'strict $.**') AS n
         WHERE pg_catalog.jsonb_typeof(n) OPERATOR(pg_catalog.=) 'object'
           AND n OPERATOR(pg_catalog.->>) 'Schema' OPERATOR(pg_catalog.=) 'unified'
    )
    SELECT t.total::pg_catalog.int4, s.scanned::pg_catalog.int4,
           CASE WHEN t.total OPERATOR(pg_catalog.>) 0
                THEN pg_catalog.round(1 OPERATOR(pg_catalog.-)
                         (s.scanned::pg_catalog.numeric OPERATOR(pg_catalog./) t.total), 4) END
      FROM (SELECT pg_catalog.count(*) AS total FROM parts) AS t,
           (SELECT pg_catalog.count(*) AS scanned FROM scanned
             WHERE scanned.relname OPERATOR(pg_catalog.=) ANY (SELECT parts.relname FROM parts)) AS s;
$fn$;

COMMENT ON FUNCTION unified.explain_pruning(text) IS
    'Partitions of unified.chunks in total and in the plan of one SELECT (planned, not executed)';

-- Register a pg_cron job that runs "command" in this database when pg_cron
-- lives in another one (cron.database_name): a short-lived worker connects
-- there as the current role and calls cron.schedule_in_database().
CREATE FUNCTION unified.cron_schedule_elsewhere(job_name text, schedule text, command text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'upg_cron_schedule_elsewhere'
LANGUAGE C STRICT VOLATILE;

-- Internal: schedule_maintenance calls it as the extension's owner.
REVOKE ALL ON FUNCTION unified.cron_schedule_elsewhere(text, text, text) FROM PUBLIC;
