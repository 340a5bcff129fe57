-- Partition maintenance: create_monthly_partition, run_maintenance, the
-- unified.partitions view, retention, explain_pruning, schedule_maintenance.
-- Months are explicit (2019, 2040) so that nothing depends on today's date.
\set VERBOSITY terse
SET client_min_messages = warning;
SET TimeZone = 'UTC';

-- A clean slate: no rows, no past partitions left by other tests.
TRUNCATE unified.chunks;
SELECT (unified.run_maintenance(0, '1 day', drop_detached => true))->>'status' AS cleanup;
DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT c.relname FROM pg_class c
              WHERE c.relnamespace = 'unified'::regnamespace AND c.relname ~ '^chunks_(2019|2020|2018)_'
    LOOP
        EXECUTE format('DROP TABLE unified.%I', t);
    END LOOP;
END $$;

-- unified.chunk_keys holds exactly the keys of unified.chunks.
CREATE TEMP VIEW keys_consistent AS
SELECT NOT EXISTS (SELECT source, source_collection, source_id FROM unified.chunk_keys
                   EXCEPT ALL
                   SELECT source, source_collection, source_id FROM unified.chunks)
   AND NOT EXISTS (SELECT source, source_collection, source_id FROM unified.chunks
                   EXCEPT ALL
                   SELECT source, source_collection, source_id FROM unified.chunk_keys) AS keys_consistent;

-- create_monthly_partition: idempotent, UTC bounds, same indexes as the parent.
SELECT unified.create_monthly_partition('2040-02-17') AS created;
SELECT unified.create_monthly_partition('2040-02-01') AS again;
SELECT partition, range_start, range_end, rows, bytes > 0 AS has_storage, is_default
  FROM unified.partitions WHERE partition = 'unified.chunks_2040_02'::regclass;
SELECT (SELECT count(*) FROM pg_index WHERE indrelid = 'unified.chunks_2040_02'::regclass)
     = (SELECT count(*) FROM pg_index WHERE indrelid = 'unified.chunks'::regclass) AS same_indexes,
       (SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid
         WHERE x.indrelid = 'unified.chunks_2040_02'::regclass) AS indexes_attached_to_parent;
-- no leftover CHECK constraint for the bound
SELECT conname FROM pg_constraint WHERE conrelid = 'unified.chunks_2040_02'::regclass AND conname LIKE '%bound';

-- Owned by the extension's owner, whoever creates it; no privileges for anyone else.
SET ROLE unified_admin;
SELECT unified.create_monthly_partition('2040-03-01') AS created_by_admin;
RESET ROLE;
SELECT c.relname, c.relowner = e.extowner AS owned_by_extension_owner, c.relacl IS NULL AS no_grants,
       c.relrowsecurity AND c.relforcerowsecurity AS rls_forced
  FROM pg_class c, pg_extension e
 WHERE e.extname = 'unified_pg' AND c.relname IN ('chunks_2040_02', 'chunks_2040_03')
 ORDER BY 1;
SELECT r.rolname, bool_or(has_table_privilege(r.rolname, 'unified.chunks_2040_03', p)) AS any_privilege
  FROM pg_roles r, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p
 WHERE r.rolname IN ('claude_user', 'cognee_user', 'unified_admin')
 GROUP BY 1 ORDER BY 1;
-- a privilege granted on a partition by mistake still shows no rows; the
-- parent's policies are what apply to reads through unified.chunks
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
VALUES ('claude_context', 'rls_probe', 'p', 'x', '2040-03-05 00:00:00+00');
GRANT SELECT ON unified.chunks_2040_03 TO claude_user;
SET ROLE claude_user;
SELECT count(*) AS rows_seen_directly FROM unified.chunks_2040_03;
RESET ROLE;
REVOKE SELECT ON unified.chunks_2040_03 FROM claude_user;
DELETE FROM unified.chunks WHERE source_id = 'rls_probe';
-- application roles cannot run maintenance
SET ROLE claude_user;
SELECT unified.create_monthly_partition('2040-04-01');
SELECT unified.run_maintenance();
RESET ROLE;

-- Rows of months without a partition land in the default partition...
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
SELECT 'claude_context', 'm2019_03_' || g, 'p', 'march ' || g, '2019-03-01 00:00:00+00'::timestamptz + g * interval '1 day'
  FROM generate_series(0, 30) g;
INSERT INTO unified.chunks (source, source_id, cognee_dataset_id, content, created_at)
SELECT 'cognee', 'm2019_05_' || g, '11111111-1111-1111-1111-111111111111', 'may ' || g,
       '2019-05-31 23:59:59.999999+00'::timestamptz - g * interval '1 hour'
  FROM generate_series(0, 4) g;
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at) VALUES
    ('claude_context', 'far_future', 'p', 'after 9999-11', '9999-12-15 00:00:00+00'),
    ('claude_context', 'forever', 'p', 'infinity', 'infinity'),
    -- 23:00 in New York on 31 January is February in UTC
    ('claude_context', 'm2020_02_utc', 'p', 'february', '2020-01-31 23:00:00-05');
CREATE TEMP TABLE before_move AS
SELECT id, source_id, content_hash, created_at FROM unified.chunks;
SELECT tableoid::regclass AS partition, count(*) FROM unified.chunks GROUP BY 1 ORDER BY 1;

-- ...and a partition can still be created for such a month: its rows move.
SELECT unified.create_monthly_partition('2020-02-01') AS created;
SELECT tableoid::regclass AS partition, count(*) FROM unified.chunks
 WHERE source_id = 'm2020_02_utc' GROUP BY 1;

-- run_maintenance moves the rest in bounded passes, whole months at a time.
SELECT jsonb_pretty(unified.run_maintenance(premake => 0, batch_rows => 10));
SELECT jsonb_pretty(unified.run_maintenance(premake => 0, batch_rows => 10));
SELECT unified.run_maintenance(premake => 0) - 'unpartitionable_rows' AS nothing_left;
SELECT tableoid::regclass AS partition, count(*) FROM unified.chunks GROUP BY 1 ORDER BY 1;
-- nothing lost, nothing changed, keys consistent
SELECT (SELECT count(*) FROM before_move) AS rows_before,
       (SELECT count(*) FROM before_move b JOIN unified.chunks c USING (id, source_id, content_hash, created_at)) AS rows_same;
SELECT * FROM keys_consistent;
-- moved rows keep their identity: a duplicate is still refused
INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('claude_context', 'm2019_03_0', 'p', 'dup');
SELECT partition, range_start, range_end, is_default FROM unified.partitions
 WHERE partition::text ~ '_(2019|2020)_' OR is_default ORDER BY range_start NULLS FIRST;

-- Retention: partitions wholly older than the retention are detached (keys
-- removed, rows kept in the detached table); never current or future months.
SELECT jsonb_pretty(unified.run_maintenance(premake => 0, retention => '1 day'));
SELECT c.relname, c.relispartition, (SELECT count(*) FROM unified.chunks_2019_03_detached) AS rows_kept
  FROM pg_class c WHERE c.relname = 'chunks_2019_03_detached';
SELECT count(*) AS chunks_2019_rows FROM unified.chunks WHERE created_at < '2021-01-01';
SELECT * FROM keys_consistent;
SELECT count(*) FILTER (WHERE range_end > now()) >= 4 AS current_and_future_kept
  FROM unified.partitions WHERE NOT is_default;
-- the detached month's rows can be stored again, and its name is free
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
VALUES ('claude_context', 'm2019_03_0', 'p', 'again', '2019-03-02 00:00:00+00');
SELECT (unified.run_maintenance(premake => 0))->'created' AS recreated;
-- drop_detached drops instead, and the detached name gets a suffix when taken
SELECT jsonb_pretty(unified.run_maintenance(premake => 0, retention => '1 day', drop_detached => true));
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
VALUES ('claude_context', 'm2019_03_1', 'p', 'third time', '2019-03-03 00:00:00+00');
SELECT (unified.run_maintenance(premake => 0, retention => '1 day'))->'detached' AS detached;
SELECT * FROM keys_consistent;
DROP TABLE unified.chunks_2019_03_detached, unified.chunks_2019_03_detached_2,
           unified.chunks_2019_05_detached, unified.chunks_2020_02_detached;

-- A table in the way of a partition's name is reported, not fatal.
CREATE TABLE unified.chunks_2018_06 (x int);
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
VALUES ('claude_context', 'm2018_06', 'p', 'blocked', '2018-06-10 00:00:00+00');
SELECT (unified.run_maintenance(premake => 0))->'errors' AS errors;
DROP TABLE unified.chunks_2018_06;
SELECT (unified.run_maintenance(premake => 0))->'created' AS created;

-- Bad arguments: an error, and nothing changes.
CREATE TEMP TABLE parts_before AS SELECT partition FROM unified.partitions;
SELECT unified.create_monthly_partition(NULL);
SELECT unified.create_monthly_partition('0900-01-01');
SELECT unified.create_monthly_partition('infinity');
SELECT unified.run_maintenance(premake => -1);
SELECT unified.run_maintenance(premake => 121);
SELECT unified.run_maintenance(premake => NULL);
SELECT unified.run_maintenance(retention => '-1 day');
SELECT unified.run_maintenance(retention => '0');
SELECT unified.run_maintenance(retention => '1 month -31 days');
SELECT unified.run_maintenance(drop_detached => NULL);
SELECT unified.run_maintenance(batch_rows => 0);
SELECT unified.run_maintenance(lock_wait => '-1s');
SELECT unified.run_maintenance(lock_wait => '0');
SELECT count(*) AS partitions_changed FROM
  ((SELECT partition FROM unified.partitions EXCEPT SELECT partition FROM parts_before)
   UNION ALL
   (SELECT partition FROM parts_before EXCEPT SELECT partition FROM unified.partitions)) d;

-- premake creates months ahead of the current one.
SELECT (SELECT count(*) FROM unified.partitions
         WHERE range_start >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
           AND range_start < (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '7 months') AT TIME ZONE 'UTC')
       AS months_ahead_before;
SELECT jsonb_array_length(unified.run_maintenance(premake => 6)->'created') >= 3 AS created_ahead;
SELECT (SELECT count(*) FROM unified.partitions
         WHERE range_start >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
           AND range_start < (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '7 months') AT TIME ZONE 'UTC')
       AS months_ahead_after;
-- a second pass has nothing to do
SELECT unified.run_maintenance(premake => 6) - 'unpartitionable_rows' AS noop;

-- explain_pruning: caller's rights, one SELECT only, planned, never executed.
SELECT p.proname, p.prosecdef FROM pg_proc p
 WHERE p.pronamespace = 'unified'::regnamespace AND p.proname IN ('explain_pruning', 'explain_select')
 ORDER BY 1;
SELECT partitions_scanned, partitions_total = (SELECT count(*) FROM unified.partitions) AS total_ok,
       pruned_ratio > 0.7 AS pruned
  FROM unified.explain_pruning($$SELECT * FROM unified.chunks
                                 WHERE created_at >= '2040-02-01 00:00+00' AND created_at < '2040-03-01 00:00+00'$$);
-- only the default partition can hold rows before 1900
SELECT partitions_scanned, pruned_ratio = round(1 - 1.0 / partitions_total, 4) AS ratio_ok
  FROM unified.explain_pruning($$SELECT count(*) FROM unified.chunks WHERE created_at < '1800-01-01 00:00+00'$$);
SELECT partitions_scanned = partitions_total AS scans_all
  FROM unified.explain_pruning($$SELECT * FROM unified.chunks WHERE project_id = 'p' AND relative_path = 'a.py'$$);
-- pruned when the executor starts (now() is stable): not counted as scanned
SELECT partitions_scanned < partitions_total AS runtime_pruned
  FROM unified.explain_pruning($$SELECT * FROM unified.chunks WHERE created_at >= now() - interval '1 hour'$$);
SELECT partitions_scanned
  FROM unified.explain_pruning($$WITH a AS (SELECT id FROM unified.chunks WHERE created_at >= '2040-02-01 00:00+00' AND created_at < '2040-02-02 00:00+00')
                                 SELECT count(*) FROM a$$);
CREATE TEMP SEQUENCE side_effect;
SELECT partitions_scanned FROM unified.explain_pruning($$SELECT nextval('side_effect')$$);
SELECT nextval('side_effect') AS never_executed;
SELECT unified.explain_pruning('SELECT 1; SELECT 2');
SELECT unified.explain_pruning('');
SELECT unified.explain_pruning('DELETE FROM unified.chunks');
SELECT unified.explain_pruning('WITH d AS (DELETE FROM unified.chunks RETURNING *) SELECT * FROM d');
SELECT unified.explain_pruning('SELECT * FROM (WITH d AS (UPDATE unified.chunks SET content = 1 RETURNING 1) SELECT * FROM d) s');
SELECT unified.explain_pruning('SELECT * INTO pruning_victim FROM unified.chunks');
SELECT unified.explain_pruning('SELECT * FROM unified.chunks FOR UPDATE');
SELECT unified.explain_pruning('EXPLAIN ANALYZE SELECT 1');
SELECT unified.explain_pruning('SELECT 1) ; DROP TABLE unified.chunks; --');
SELECT unified.explain_pruning('CREATE TABLE pruning_victim ()');
SELECT unified.explain_pruning('SELEC 1');
SELECT unified.explain_pruning(NULL);
SELECT to_regclass('pruning_victim') AS no_table_created;
-- with the caller's rights
CREATE ROLE upg_maint_nobody;
GRANT USAGE ON SCHEMA unified TO upg_maint_nobody;
SET ROLE upg_maint_nobody;
SELECT unified.explain_pruning('SELECT * FROM unified.chunks');
RESET ROLE;
DROP OWNED BY upg_maint_nobody;
DROP ROLE upg_maint_nobody;

-- schedule_maintenance: pg_cron is optional and looked up at call time.
SELECT unified.schedule_maintenance();
CREATE EXTENSION pg_cron;
SELECT unified.schedule_maintenance('every day');
SELECT unified.schedule_maintenance('0 0 * * *; DROP TABLE x');
SELECT unified.schedule_maintenance(NULL);
SELECT unified.schedule_maintenance('0 0 * * *', premake => 500);
SELECT unified.schedule_maintenance('17 3 * * *') = unified.schedule_maintenance('17 3 * * *') AS idempotent;
SELECT jobname, schedule, command, database = current_database() AS right_database, active
  FROM cron.job;
SELECT unified.schedule_maintenance('0 * * * *', premake => 6, retention => '2 years') > 0 AS rescheduled;
SELECT count(*) AS jobs, min(schedule) AS schedule, min(command) AS command FROM cron.job;
DROP EXTENSION pg_cron;

-- The built-in maintenance reports through maintenance_status().
SELECT interval_s, runs >= 0 AS has_runs FROM unified.maintenance_status();

TRUNCATE unified.chunks;
SELECT * FROM keys_consistent;
RESET client_min_messages;
RESET TimeZone;
