-- Pool statistics: the shape of unified.pool_stats, pool_latency_histogram
-- and slo, the rows they have, and the check names of health_check().
-- Values depend on what the server has done, so only their shape and the
-- deterministic parts are shown; the numbers are tested with real clients
-- in test/t/050_pool_stats.pl.
\set VERBOSITY terse

-- Columns and types, in order.
SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.oid IN ('unified.pool_stats'::regclass, 'unified.pool_latency_histogram'::regclass,
                 'unified.slo'::regclass)
   AND a.attnum > 0
 ORDER BY c.relname, a.attnum;

-- One row per configured pool, then other; budgets from unified_pg.pools.
SELECT pool, max_connections, utilization IS NOT NULL AS has_utilization
  FROM unified.pool_stats;

-- The histogram: every pool has the same bounds, increasing, ending at
-- Infinity; 16 per power of two.
SELECT pool, count(*) AS buckets, min(le_ms) AS first_le_ms, max(le_ms) AS last_le_ms
  FROM unified.pool_latency_histogram GROUP BY pool ORDER BY pool;
SELECT le_ms FROM unified.pool_latency_histogram WHERE pool = 'other' ORDER BY le_ms LIMIT 20;
SELECT le_ms FROM unified.pool_latency_histogram
 WHERE pool = 'other' AND le_ms BETWEEN 1 AND 2.1 ORDER BY le_ms;
SELECT bool_and(count >= prev) AS cumulative
  FROM (SELECT count, lag(count, 1, 0::bigint) OVER (PARTITION BY pool ORDER BY le_ms) AS prev
          FROM unified.pool_latency_histogram) h;

-- The success metrics and their targets.
SELECT metric, target, comparison FROM unified.slo;

-- Every check of health_check(), by name.
SELECT "check", ok IS NOT NULL AS decided, detail <> '' AS explained FROM unified.health_check();

-- reset_stats() starts the counters again now.
SELECT unified.reset_stats() AS reset_at, statement_timestamp() AS asked_at \gset
SELECT :'reset_at'::timestamptz >= :'asked_at'::timestamptz AS reset_now;
SELECT bool_and(stats_reset = :'reset_at') AS reset_seen,
       sum(xact_rollback + xact_failed + deadlocks + rejected_connections) AS counted,
       sum(xact_commit) <= 2 AS only_this_session
  FROM unified.pool_stats;

-- The window setting is a reload setting.
SET unified_pg.stats_window = '1min';
SHOW unified_pg.stats_window;
