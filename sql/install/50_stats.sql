-- ---------------------------------------------------------------------------
-- Pool and transaction statistics (DESIGN section 6): unified.pool_stats,
-- unified.pool_latency_histogram, unified.slo, unified.reset_stats() and
-- unified.health_check().  The counters live in shared memory (src/pool_stats.c);
-- these are the SQL faces of the C functions that read them.
-- ---------------------------------------------------------------------------

CREATE FUNCTION unified.pool_stats_internal(
    OUT pool text,
    OUT max_connections integer,
    OUT connections bigint,
    OUT active bigint,
    OUT idle bigint,
    OUT idle_in_transaction bigint,
    OUT waiting bigint,
    OUT utilization double precision,
    OUT busy_ratio double precision,
    OUT xact_commit bigint,
    OUT xact_rollback bigint,
    OUT xact_failed bigint,
    OUT success_rate double precision,
    OUT deadlocks bigint,
    OUT latency_p50_ms double precision,
    OUT latency_p95_ms double precision,
    OUT latency_p99_ms double precision,
    OUT rejected_connections bigint,
    OUT stats_reset timestamptz,
    OUT xact_prepared bigint,
    OUT errors bigint,
    OUT statements bigint,
    OUT latency_avg_ms double precision,
    OUT budget_in_use bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'upg_pool_stats'
LANGUAGE C STRICT VOLATILE;

-- One row per pool of unified_pg.pools, then "other".
CREATE VIEW unified.pool_stats AS
SELECT * FROM unified.pool_stats_internal();

COMMENT ON VIEW unified.pool_stats IS
    'Per application pool: live connections by state, budget, transactions, deadlocks, latency percentiles over unified_pg.stats_window';

CREATE FUNCTION unified.pool_latency_histogram_internal(
    OUT pool text,
    OUT le_ms double precision,
    OUT count bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'upg_pool_latency_histogram'
LANGUAGE C STRICT VOLATILE;

-- Cumulative statement-latency histogram since the last reset, one row per
-- bucket bound (16 per power of two) plus Infinity, as Prometheus expects.
CREATE VIEW unified.pool_latency_histogram AS
SELECT * FROM unified.pool_latency_histogram_internal();

COMMENT ON VIEW unified.pool_latency_histogram IS
    'Per pool, statements with latency <= le_ms since the last reset (cumulative; le_ms = Infinity counts all)';

CREATE FUNCTION unified.stats_overall(
    OUT busy_ratio double precision,
    OUT success_rate double precision,
    OUT deadlock_rate double precision,
    OUT latency_p95_ms double precision,
    OUT pruning_queries bigint,
    OUT partitions_existing bigint,
    OUT partitions_skipped bigint,
    OUT unprunable_queries bigint,
    OUT stats_reset timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'upg_stats_overall'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION unified.stats_overall() IS
    'All pools together, and partition pruning of queries of unified.chunks; the source of unified.slo';

CREATE FUNCTION unified.reset_stats()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'upg_reset_stats'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION unified.reset_stats() IS
    'Zero the counters and histograms of unified.pool_stats and unified.slo; returns the new stats_reset';

-- The success metrics of the original design, each with its target.
CREATE VIEW unified.slo AS
SELECT m.metric, m.target, m.comparison, m.current,
       CASE WHEN m.current IS NULL THEN NULL
            WHEN m.comparison = '>' THEN m.current > m.target
            ELSE m.current < m.target END AS ok,
       m.detail
  FROM unified.stats_overall() o
 CROSS JOIN LATERAL (VALUES
    (1, 'pool_efficiency', 0.85::double precision, '>', o.busy_ratio,
     'time inside transactions / time connected, all pools, since the reset'),
    (2, 'tx_success_rate', 0.999, '>', o.success_rate,
     'commits / (commits + transactions aborted by an error); explicit rollbacks are neither'),
    (3, 'query_latency_p95_ms', 50, '<', o.latency_p95_ms,
     'p95 of statement latency over unified_pg.stats_window, all pools'),
    (4, 'deadlock_rate', 0.001, '<', o.deadlock_rate,
     'deadlocks / transactions'),
    (5, 'partition_pruning', 0.70, '>',
     CASE WHEN o.partitions_existing > 0 THEN o.partitions_skipped::double precision / o.partitions_existing END,
     pg_catalog.format('partitions skipped / partitions existing over %s queries of unified.chunks that filter on created_at; %s queries could not prune',
                       o.pruning_queries, o.unprunable_queries))
 ) AS m(ord, metric, target, comparison, current, detail)
 ORDER BY m.ord;

COMMENT ON VIEW unified.slo IS
    'Success metrics with target, current value and ok (NULL while there is no data)';

-- ---------------------------------------------------------------------------
-- unified.health_check(): one row per check, each from a function of its
-- own.  The areas other than the statistics (resolver, in-doubt
-- transactions, partitions, maintenance) are read through their SQL views
-- and functions at run time, as JSON where their columns may grow, so a
-- check that cannot read its source says so in its detail instead of
-- failing the whole call.  All run with the caller's rights (unified_admin)
-- but health_default_partition, SECURITY DEFINER because no role reads a
-- partition directly.
-- ---------------------------------------------------------------------------

-- preload: the library is in shared_preload_libraries
CREATE FUNCTION unified.health_preload(OUT "check" text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, unified, pg_temp
AS $$
BEGIN
    BEGIN
        PERFORM FROM unified.stats_overall();
        RETURN QUERY SELECT 'preload'::text, true, 'unified_pg is in shared_preload_libraries'::text;
    EXCEPTION WHEN OTHERS THEN
        RETURN QUERY SELECT 'preload'::text, false, SQLERRM;
    END;
END
$$;

-- the resolver alive and recent: its own view, else the worker's status
CREATE FUNCTION unified.health_resolver(OUT "check" text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, unified, pg_temp
AS $$
DECLARE
    j jsonb;
    t text;
    a interval;
BEGIN
    BEGIN
        BEGIN
            EXECUTE 'SELECT to_jsonb(r) FROM unified.resolver_status r LIMIT 1' INTO j;
        EXCEPTION WHEN undefined_table OR undefined_function OR insufficient_privilege THEN
            EXECUTE 'SELECT to_jsonb(w) FROM unified.worker_status() w WHERE w.worker = ''resolver''' INTO j;
        END;
        t := coalesce(j ->> 'last_pass_finished_at', j ->> 'last_loop_at');
        a := greatest(interval '1 minute',
                      10 * coalesce((j ->> 'naptime_ms')::bigint, 1000) * interval '1 millisecond');
        RETURN QUERY SELECT 'resolver'::text,
            coalesce((j ->> 'running')::boolean, j ->> 'pid' IS NOT NULL)
                AND t IS NOT NULL AND t::timestamptz > now() - a,
            CASE WHEN coalesce((j ->> 'running')::boolean, j ->> 'pid' IS NOT NULL) IS NOT TRUE
                     THEN 'the resolver is not running'
                 WHEN t IS NULL THEN 'the resolver has not finished a pass yet'
                 ELSE format('last pass finished %s ago (expected within %s)',
                             date_trunc('second', now() - t::timestamptz), a) END;
    EXCEPTION WHEN OTHERS THEN
        RETURN QUERY SELECT 'resolver'::text, false, 'cannot read the resolver status: ' || SQLERRM;
    END;
END
$$;

-- the in-doubt backlog and its age
CREATE FUNCTION unified.health_in_doubt(OUT "check" text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, unified, pg_temp
AS $$
DECLARE
    n bigint;
    a interval;
BEGIN
    BEGIN
        EXECUTE 'SELECT count(*), max(age) FROM unified.in_doubt' INTO n, a;
        RETURN QUERY SELECT 'in_doubt'::text,
            n = 0 OR a < coalesce(current_setting('unified_pg.in_doubt_timeout', true), '60s')::interval,
            CASE WHEN n = 0 THEN 'no prepared participant is in doubt'
                 ELSE format('%s prepared participants in doubt, the oldest for %s (unified_pg.in_doubt_timeout = %s)',
                             n, date_trunc('second', a),
                             coalesce(current_setting('unified_pg.in_doubt_timeout', true), '60s')) END;
    EXCEPTION WHEN OTHERS THEN
        RETURN QUERY SELECT 'in_doubt'::text, false, 'cannot read unified.in_doubt: ' || SQLERRM;
    END;
END
$$;

-- prepared transactions enabled
CREATE FUNCTION unified.health_prepared_transactions(OUT "check" text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, unified, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    n := current_setting('max_prepared_transactions')::bigint;
    RETURN QUERY SELECT 'prepared_transactions'::text, n > 0,
        CASE WHEN n > 0 THEN format('max_prepared_transactions = %s', n)
             ELSE 'max_prepared_transactions = 0: distributed transactions cannot prepare; set it and restart' END;
END
$$;

-- partitions premade: this month and the three after it
CREATE FUNCTION unified.health_partitions_premade(OUT "check" text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, unified, pg_temp
AS $$
DECLARE
    month timestamptz;
    missing text[] := '{}';
BEGIN
    BEGIN
        FOR i IN 0..3 LOOP
            month := (date_trunc('month', now() AT TIME ZONE 'UTC') + i * interval '1 month') AT TIME ZONE 'UTC';
            IF NOT EXISTS (SELECT FROM unified.partitions p
                            WHERE NOT p.is_default AND p.range_start <= month AND p.range_end > month) THEN
                missing := missing || to_char(month AT TIME ZONE 'UTC', 'YYYY-MM');
            END IF;
        END LOOP;
        RETURN QUERY SELECT 'partitions_premade'::text, cardinality(missing) = 0,
            CASE WHEN cardinality(missing) = 0 THEN 'this month and the next three have partitions'
                 ELSE 'no partition for ' || array_to_string(missing, ', ')
                      || '; run unified.run_maintenance() or check that maintenance is scheduled' END;
    EXCEPTION WHEN OTHERS THEN
        RETURN QUERY SELECT 'partitions_premade'::text, false, 'cannot read unified.partitions: ' || SQLERRM;
    END;
END
$$;

-- the last maintenance result (its fields may be absent)
CREATE FUNCTION unified.health_maintenance(OUT "check" text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, unified, pg_temp
AS $$
DECLARE
    t text;
    mres jsonb;
BEGIN
    BEGIN
        EXECUTE 'SELECT last_result FROM unified.maintenance_status()' INTO t;
        BEGIN
            mres := t::jsonb;
        EXCEPTION WHEN OTHERS THEN
            mres := NULL;
        END;
        RETURN QUERY SELECT 'maintenance'::text, coalesce(mres ->> 'status', '') <> 'partial',
            CASE WHEN t IS NULL THEN 'no built-in maintenance run recorded since the server started'
                 WHEN mres IS NULL THEN 'the last result cannot be read as JSON'
                 WHEN mres ->> 'status' = 'partial' THEN
                     concat_ws('; ', 'the last maintenance run was partial',
                               'errors: ' || (mres -> 'errors')::text,
                               'deferred months: ' || (mres -> 'deferred_months')::text,
                               'blocked by: ' || (mres -> 'blocked_by')::text)
                 ELSE 'last maintenance run: ' || coalesce(mres ->> 'status', 'done') END;
    EXCEPTION WHEN OTHERS THEN
        RETURN QUERY SELECT 'maintenance'::text, false, 'cannot read unified.maintenance_status(): ' || SQLERRM;
    END;
END
$$;

-- the default partition: empty, or holding only rows maintenance defers
CREATE FUNCTION unified.health_default_partition(OUT "check" text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $$
DECLARE
    n bigint;
    m bigint;
    t text;
    mres jsonb;
    horizon timestamptz;
BEGIN
    BEGIN
        EXECUTE 'SELECT last_result FROM unified.maintenance_status()' INTO t;
        mres := t::jsonb;
    EXCEPTION WHEN OTHERS THEN
        mres := NULL;
    END;
    BEGIN
        horizon := (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '4 months') AT TIME ZONE 'UTC';
        SELECT count(*), count(*) FILTER (WHERE d.created_at < horizon) INTO n, m
          FROM (SELECT created_at FROM unified.chunks_default LIMIT 100001) d;
        RETURN QUERY SELECT 'default_partition'::text,
            m = 0 OR coalesce(jsonb_typeof(mres -> 'deferred_months') = 'array'
                              AND jsonb_array_length(mres -> 'deferred_months') > 0, false),
            CASE WHEN n = 0 THEN 'the default partition is empty'
                 ELSE format('%s%s rows in the default partition, %s dated before %s. Maintenance moves rows into monthly '
                             'partitions in batches; it defers rows dated beyond the premade months and rows of months '
                             'it may not create (unified_pg.max_new_partitions, unified_pg.max_partitions)%s',
                             CASE WHEN n > 100000 THEN 'more than ' ELSE '' END, least(n, 100000), m,
                             to_char(horizon AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                             CASE WHEN mres -> 'deferred_months' IS NOT NULL
                                  THEN '; the last run deferred months ' || (mres -> 'deferred_months')::text
                                  ELSE '' END) END;
    EXCEPTION WHEN OTHERS THEN
        RETURN QUERY SELECT 'default_partition'::text, false, 'cannot count the default partition: ' || SQLERRM;
    END;
END
$$;

-- a prepared transaction holding a lock on unified.chunks blocks maintenance
CREATE FUNCTION unified.health_prepared_lock_on_chunks(OUT "check" text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, unified, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    BEGIN
        SELECT string_agg(DISTINCT format('%L (%s)', p.gid, l.mode), ', ') INTO t
          FROM pg_locks l
          JOIN pg_locks x ON x.virtualtransaction = l.virtualtransaction AND x.pid IS NULL
                         AND x.locktype = 'transactionid'
          JOIN pg_prepared_xacts p ON p.transaction = x.transactionid
         WHERE l.locktype = 'relation' AND l.pid IS NULL
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.relation IN (SELECT 'unified.chunks'::regclass
                              UNION ALL
                              SELECT inhrelid FROM pg_inherits WHERE inhparent = 'unified.chunks'::regclass);
        RETURN QUERY SELECT 'prepared_lock_on_chunks'::text, t IS NULL,
            CASE WHEN t IS NULL THEN 'no prepared transaction holds a lock on unified.chunks'
                 ELSE 'prepared transactions hold locks on unified.chunks and block partition maintenance: ' || t
                      || '; finish them with COMMIT PREPARED or ROLLBACK PREPARED' END;
    EXCEPTION WHEN OTHERS THEN
        RETURN QUERY SELECT 'prepared_lock_on_chunks'::text, false, 'cannot read pg_locks: ' || SQLERRM;
    END;
END
$$;

-- pool headroom, one row per pool
CREATE FUNCTION unified.health_pool_headroom(OUT "check" text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, unified, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    BEGIN
        FOR r IN SELECT * FROM unified.pool_stats LOOP
            RETURN QUERY SELECT 'pool_headroom:' || r.pool,
                r.max_connections IS NULL OR r.connections < r.max_connections,
                CASE WHEN r.max_connections IS NULL
                         THEN format('%s connections, no budget', r.connections)
                     ELSE format('%s of %s connections in use, %s refused since the reset%s',
                                 r.connections, r.max_connections, r.rejected_connections,
                                 CASE WHEN current_setting('unified_pg.enforce_pool_limits') = 'on' THEN ''
                                      ELSE ' (unified_pg.enforce_pool_limits is off)' END) END;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        RETURN QUERY SELECT 'pool_headroom'::text, false, 'cannot read unified.pool_stats: ' || SQLERRM;
    END;
END
$$;

-- each SLO, met or without data
CREATE FUNCTION unified.health_slo(OUT "check" text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, unified, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    BEGIN
        FOR r IN SELECT * FROM unified.slo LOOP
            RETURN QUERY SELECT 'slo:' || r.metric, coalesce(r.ok, true),
                CASE WHEN r.current IS NULL THEN 'no data since the reset'
                     ELSE format('%s (target %s %s)', round(r.current::numeric, 4), r.comparison, r.target) END;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        RETURN QUERY SELECT 'slo'::text, false, 'cannot read unified.slo: ' || SQLERRM;
    END;
END
$$;

-- Every check, in a fixed order.
CREATE FUNCTION unified.health_check(OUT "check" text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, unified, pg_temp
AS $$
SELECT * FROM unified.health_preload()
UNION ALL
SELECT * FROM unified.health_resolver()
UNION ALL
SELECT * FROM unified.health_in_doubt()
UNION ALL
SELECT * FROM unified.health_prepared_transactions()
UNION ALL
SELECT * FROM unified.health_partitions_premade()
UNION ALL
SELECT * FROM unified.health_maintenance()
UNION ALL
SELECT * FROM unified.health_default_partition()
UNION ALL
SELECT * FROM unified.health_prepared_lock_on_chunks()
UNION ALL
SELECT * FROM unified.health_pool_headroom()
UNION ALL
SELECT * FROM unified.health_slo()
$$;

COMMENT ON FUNCTION unified.health_check() IS
    'One row per check (preload, resolver, in-doubt backlog, prepared transactions, partitions, maintenance, pools, SLOs)';

-- Applications and monitoring roles read the pool statistics; only
-- unified_admin resets them or runs the health check.
REVOKE ALL ON FUNCTION unified.pool_stats_internal(), unified.pool_latency_histogram_internal(),
    unified.stats_overall(), unified.reset_stats(), unified.health_check() FROM PUBLIC;
REVOKE ALL ON FUNCTION unified.health_preload(), unified.health_resolver(), unified.health_in_doubt(), unified.health_prepared_transactions(), unified.health_partitions_premade(), unified.health_maintenance(), unified.health_default_partition(), unified.health_prepared_lock_on_chunks(), unified.health_pool_headroom(), unified.health_slo() FROM PUBLIC;
REVOKE ALL ON unified.pool_stats, unified.pool_latency_histogram, unified.slo FROM PUBLIC;
GRANT USAGE ON SCHEMA unified TO pg_monitor;
GRANT EXECUTE ON FUNCTION unified.pool_stats_internal(), unified.pool_latency_histogram_internal()
    TO claude_user, cognee_user, unified_admin, pg_monitor;
GRANT SELECT ON unified.pool_stats, unified.pool_latency_histogram
    TO claude_user, cognee_user, unified_admin, pg_monitor;
GRANT EXECUTE ON FUNCTION unified.stats_overall() TO unified_admin, pg_monitor;
GRANT SELECT ON unified.slo TO unified_admin, pg_monitor;
GRANT EXECUTE ON FUNCTION unified.reset_stats(), unified.health_check() TO unified_admin;
GRANT EXECUTE ON FUNCTION unified.health_preload(), unified.health_resolver(), unified.health_in_doubt(), unified.health_prepared_transactions(), unified.health_partitions_premade(), unified.health_maintenance(), unified.health_default_partition(), unified.health_prepared_lock_on_chunks(), unified.health_pool_headroom(), unified.health_slo() TO unified_admin;
