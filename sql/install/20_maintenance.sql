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
-- be locked is reported and retried on the next pass.
--
-- Bounded work.  A function cannot commit, so unified.run_maintenance()
-- does one bounded pass (whole months, until about `batch_rows` rows were
-- moved or detached) and says "more": true when it stopped early; the
-- background worker and unified.run_maintenance_all() call it again in new
-- transactions until nothing is left.
--
-- Partitions are created by SECURITY DEFINER functions, so they belong to
-- the extension's owner whoever runs maintenance (the worker, a pg_cron job,
-- an admin), and carry no privileges for application roles: those reach
-- rows only through unified.chunks and its row-level security.  Each
-- partition also has row-level security enabled and forced with no policy,
-- so that a privilege granted on it by mistake still shows no rows.
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

    -- Serialize creators of the same month; then lock the parent before the
    -- default partition, the order in which inserts lock them.
    PERFORM pg_advisory_xact_lock('unified.chunks'::regclass::oid::bigint * 1000000
                                  + (extract(year FROM first_day) * 12
                                     + extract(month FROM first_day))::bigint);
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
CREATE FUNCTION unified.create_monthly_partition(month date DEFAULT CURRENT_DATE)
RETURNS text
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT (unified.ensure_monthly_partition(month)).partition;
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
-- ---------------------------------------------------------------------------

-- One maintenance pass; returns what it did as jsonb:
--   status      'done', or 'skipped' (with reason) when another pass runs
--               or the server is a standby
--   created     partitions created, oldest first
--   moved       {partition: rows} moved out of the default partition
--   detached / dropped   partitions removed by the retention
--   unpartitionable_rows rows in the default outside 1900-01 .. 9999-11
--   errors      months or partitions skipped (lock timeout, name taken)
--   more        true when it stopped at batch_rows; call it again
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
    created     jsonb := '[]';
    moved       jsonb := '{}';
    detached    jsonb := '[]';
    dropped     jsonb := '[]';
    errors      jsonb := '[]';
    budget      bigint := batch_rows;
    more        boolean := false;
    deflt       regclass;
    r           record;
    p           record;
    next_ts     timestamptz;
    scan_from   timestamptz := min_ts;
    n           bigint;
    newname     text;
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
    -- One pass at a time.  Keys are oid(unified.chunks) * 10^6 + n, which
    -- cannot overflow (oids are 32-bit): n = 0 here, year * 12 + month for
    -- the per-month locks of ensure_monthly_partition.
    IF NOT pg_try_advisory_xact_lock('unified.chunks'::regclass::oid::bigint * 1000000) THEN
        RETURN jsonb_build_object('status', 'skipped', 'reason', 'already running');
    END IF;
    -- Reverted when the function returns (it has its own SET clause).
    PERFORM set_config('lock_timeout',
                       (extract(epoch FROM lock_wait) * 1000)::bigint::text, true);

    -- 1. The current month and the next `premake` months.
    FOR m IN 0 .. premake LOOP
        BEGIN
            r := unified.ensure_monthly_partition((cur + make_interval(months => m))::date);
            IF r.created THEN
                created := created || to_jsonb(r.partition);
                IF r.moved > 0 THEN
                    moved := moved || jsonb_build_object(r.partition, r.moved);
                    budget := budget - r.moved;
                END IF;
            END IF;
        EXCEPTION WHEN lock_not_available OR duplicate_table THEN
            errors := errors || jsonb_build_object('month', to_char(cur + make_interval(months => m), 'YYYY-MM'),
                                                   'error', SQLERRM);
        END;
    END LOOP;

    -- 2. Rows stuck in the default partition, oldest month first, whole
    --    months until the budget is spent.  Each probe is one index lookup.
    SELECT NULLIF(pt.partdefid, 0)::regclass INTO deflt
      FROM pg_partitioned_table pt WHERE pt.partrelid = 'unified.chunks'::regclass;
    IF deflt IS NOT NULL THEN
        LOOP
            EXECUTE format('SELECT min(created_at) FROM ONLY %s WHERE created_at >= $1 AND created_at < $2', deflt)
               INTO next_ts USING scan_from, max_ts;
            EXIT WHEN next_ts IS NULL;
            IF budget <= 0 THEN
                more := true;
                EXIT;
            END IF;
            scan_from := (date_trunc('month', next_ts AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
            BEGIN
                r := unified.ensure_monthly_partition((next_ts AT TIME ZONE 'UTC')::date);
                IF r.created THEN
                    created := created || to_jsonb(r.partition);
                END IF;
                IF r.moved > 0 THEN
                    moved := moved || jsonb_build_object(r.partition, r.moved);
                    budget := budget - r.moved;
                END IF;
            EXCEPTION WHEN lock_not_available OR duplicate_table THEN
                errors := errors || jsonb_build_object('month', to_char(next_ts AT TIME ZONE 'UTC', 'YYYY-MM'),
                                                       'error', SQLERRM);
            END;
        END LOOP;
        EXECUTE format('SELECT count(*) FROM ONLY %s WHERE created_at < $1 OR created_at >= $2', deflt)
           INTO stuck USING min_ts, max_ts;
    END IF;

    -- 3. Retention: partitions wholly older than now() - retention, never
    --    the current month, a future one or the default.  Their rows leave
    --    unified.chunks, so their keys leave unified.chunk_keys.
    IF retention IS NOT NULL THEN
        FOR p IN SELECT format('unified.%I', c.relname) AS name, c.relname
                   FROM unified.partitions v JOIN pg_class c ON c.oid = v.partition
                  WHERE NOT v.is_default AND v.range_end IS NOT NULL
                    AND v.range_end <= now() - retention AND v.range_end <= cur_ts
                    AND c.relname ~ '^chunks_[0-9]{4}_[0-9]{2}$'
                  ORDER BY v.range_start LOOP
            IF budget <= 0 THEN
                more := true;
                EXIT;
            END IF;
            BEGIN
                EXECUTE format('ALTER TABLE unified.chunks DETACH PARTITION unified.%I', p.relname);
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
                    newname := p.relname || '_detached';
                    WHILE to_regclass(format('unified.%I', newname)) IS NOT NULL LOOP
                        newname := p.relname || '_detached_' || (coalesce(substring(newname FROM '_([0-9]+)$')::int, 1) + 1);
                    END LOOP;
                    EXECUTE format('ALTER TABLE unified.%I RENAME TO %I', p.relname, newname);
                    detached := detached || jsonb_build_object('partition', p.name,
                                                               'now', format('unified.%I', newname),
                                                               'rows', n);
                END IF;
            EXCEPTION WHEN lock_not_available THEN
                errors := errors || jsonb_build_object('partition', p.name, 'error', SQLERRM);
            END;
        END LOOP;
    END IF;

    RETURN jsonb_build_object('status', 'done', 'created', created, 'moved', moved,
                              'detached', detached, 'dropped', dropped,
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
-- keeps one job per name and user.  Runs with the caller's rights, so the
-- job belongs to, and runs as, the caller.
CREATE FUNCTION unified.schedule_maintenance(
    schedule text DEFAULT '0 0 * * *',
    premake integer DEFAULT 3,
    retention interval DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
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
                  HINT = 'Schedule maintenance as a role that can log in (RESET ROLE first).';
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
-- planned, with the caller's rights.
CREATE FUNCTION unified.explain_select(query text)
RETURNS json
AS 'MODULE_PATHNAME', 'upg_explain_select'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION unified.explain_select(text) IS
    'EXPLAIN (FORMAT JSON, VERBOSE) of exactly one SELECT, planned with the caller''s rights, never executed';

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

REVOKE ALL ON FUNCTION unified.cron_schedule_elsewhere(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unified.cron_schedule_elsewhere(text, text, text) TO unified_admin;
