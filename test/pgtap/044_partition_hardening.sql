-- Partition maintenance against hostile rows and mistaken grants, as the
-- roles that would do it: an application login writes rows dated in many
-- months and far in the future; an operator grants a partition by mistake;
-- unified_admin schedules maintenance without rights on pg_cron's schema.
-- (The limits' settings are SIGHUP: the defaults apply here, 12 new months
-- per pass and 240 partitions; test/t/022_maintenance_hostile.pl changes
-- them, and covers locks held by other sessions and prepared transactions.)
BEGIN;
SELECT plan(27);

CREATE ROLE tap_m_claude LOGIN IN ROLE claude_user;
CREATE ROLE tap_m_admin LOGIN IN ROLE unified_admin;

-- ----------------------------------------------- row-level security everywhere
SELECT is((SELECT count(*)::int FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'unified.chunks'::regclass
              AND NOT (c.relrowsecurity AND c.relforcerowsecurity)), 0,
    'every partition, the default one included, has row-level security enabled and forced');
SELECT ok((SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'unified.chunks_default'::regclass),
    'the default partition has row-level security enabled and forced');

-- A Cognee row in the default partition and a mistaken GRANT on it.
INSERT INTO unified.chunks (source, source_id, cognee_dataset_id, content, created_at)
VALUES ('cognee', 'tap-m-cognee', '00000000-0000-0000-0000-0000000000d1', 'cognee only', '1950-06-15');
GRANT SELECT ON unified.chunks_default TO claude_user;
SET LOCAL ROLE tap_m_claude;
SELECT is((SELECT count(*)::int FROM unified.chunks_default), 0,
    'after a mistaken GRANT on the default partition, a Claude-Context role still reads no row of it');
RESET ROLE;
REVOKE SELECT ON unified.chunks_default FROM claude_user;

-- A detached month keeps row-level security forced.
SELECT unified.create_monthly_partition('2018-04-01') AS setup;
INSERT INTO unified.chunks (source, source_id, cognee_dataset_id, content, created_at)
VALUES ('cognee', 'tap-m-old', '00000000-0000-0000-0000-0000000000d1', 'old', '2018-04-02');
SET LOCAL ROLE tap_m_admin;
SELECT ok((SELECT r->'detached' @> '[{"partition": "unified.chunks_2018_04"}]' FROM unified.run_maintenance(premake => 0, retention => '5 years') AS r),
    'retention detaches the old month');
RESET ROLE;
SELECT ok((SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'unified.chunks_2018_04_detached'::regclass),
    'the detached month has row-level security enabled and forced');
GRANT SELECT ON unified.chunks_2018_04_detached TO claude_user;
SET LOCAL ROLE tap_m_claude;
SELECT is((SELECT count(*)::int FROM unified.chunks_2018_04_detached), 0,
    'after a mistaken GRANT on a detached month, a Claude-Context role still reads no row of it');
RESET ROLE;
REVOKE SELECT ON unified.chunks_2018_04_detached FROM claude_user;

-- Maintenance repairs a partition that lost it (made by an older version).
ALTER TABLE unified.chunks_default NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
SET LOCAL ROLE tap_m_admin;
SELECT is((unified.run_maintenance(premake => 0))->'secured', '["unified.chunks_default"]'::jsonb,
    'a pass enables row-level security again where it is missing, and says so');
RESET ROLE;
SELECT ok((SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'unified.chunks_default'::regclass),
    'the default partition is protected again');

-- --------------------------------------------- hostile created_at values
DELETE FROM unified.chunks WHERE source_id = 'tap-m-cognee';
-- The application writes one row in each of 30 months of 1960-1962 and
-- one in each of 40 months far in the future.
SET LOCAL ROLE tap_m_claude;
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
SELECT 'claude_context', 'tap-m-past-' || m, 'proj-m', 'past', '1960-01-15'::date + make_interval(months => m)
  FROM generate_series(0, 29) m;
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
SELECT 'claude_context', 'tap-m-future-' || m, 'proj-m', 'future', '2090-01-15'::date + make_interval(months => m)
  FROM generate_series(0, 39) m;
RESET ROLE;
SET LOCAL ROLE tap_m_admin;
CREATE TEMP TABLE pass1 AS SELECT unified.run_maintenance() AS r;
RESET ROLE;
SELECT is((SELECT array_agg(p ORDER BY p) FROM pass1, jsonb_array_elements_text(pass1.r->'created') p),
          (SELECT array_agg(format('unified.chunks_1960_%s', lpad(m::text, 2, '0')) ORDER BY m) FROM generate_series(1, 12) m),
    'one pass makes at most max_new_partitions (12) months for rows in the default partition, oldest first');
SELECT is((SELECT r->'deferred_months' FROM pass1),
          (SELECT jsonb_agg(to_char(d, 'YYYY-MM') ORDER BY d)
             FROM (SELECT '1961-01-01'::date + make_interval(months => m) AS d FROM generate_series(0, 17) m
                   UNION ALL
                   SELECT '2090-01-01'::date + make_interval(months => m) FROM generate_series(0, 5) m) s),
    'the months left in the default partition are listed: past ones beyond the limit, then future ones (the first 24)');
SELECT is((SELECT (r->>'deferred_more')::boolean FROM pass1), true, 'and deferred_more says there are others');
SELECT is((SELECT r->>'status' FROM pass1), 'done', 'deferring by the limits is not an error');
SELECT is((SELECT count(*)::int FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'unified.chunks'::regclass AND c.relname LIKE 'chunks_209%'), 0,
    'no partition is made for rows dated past the premade horizon');
SELECT is((SELECT count(*)::int FROM ONLY unified.chunks_default WHERE created_at >= '2090-01-01'), 40,
    'those rows stay in the default partition');
SELECT is((SELECT count(*)::int FROM unified.chunks WHERE source_id LIKE 'tap-m-%'), 70, 'no row was lost');
SELECT is((SELECT count(*) FROM unified.chunk_keys), (SELECT count(*) FROM unified.chunks), 'chunk_keys still matches chunks');
SET LOCAL ROLE tap_m_admin;
SELECT is((SELECT jsonb_array_length(r->'created') FROM unified.run_maintenance() AS r), 12,
    'the next pass makes the next 12 months');
-- An administrator's explicit create_monthly_partition is not limited.
SELECT is((SELECT count(DISTINCT unified.create_monthly_partition(('1970-01-01'::date + make_interval(months => m))::date))::int
             FROM generate_series(0, 14) m), 15,
    'unified_admin creates 15 months at once with create_monthly_partition');
SELECT is(unified.create_monthly_partition('2090-03-01'), 'unified.chunks_2090_03',
    'and may create a month beyond the horizon');
RESET ROLE;
SELECT is((SELECT tableoid::regclass::text FROM unified.chunks WHERE source_id = 'tap-m-future-2'), 'unified.chunks_2090_03',
    'which takes its rows out of the default partition');

-- An error makes the pass partial: a table named like the next month.
CREATE TABLE unified.chunks_1962_02 (x int);
SET LOCAL ROLE tap_m_admin;
CREATE TEMP TABLE pass3 AS SELECT unified.run_maintenance() AS r;
RESET ROLE;
SELECT is((SELECT r->>'status' FROM pass3), 'partial', 'a pass with errors says "partial", not "done"');
SELECT is((SELECT r->'errors'->0->>'month' FROM pass3), '1962-02', 'and lists the month it could not make');
DROP TABLE unified.chunks_1962_02;

-- A pass lets go of the table after holding it for half of lock_wait: with
-- lock_wait => 1ms, each pass makes one month and says "more".
SET LOCAL ROLE tap_m_claude;
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
VALUES ('claude_context', 'tap-m-hold-1', 'proj-m', 'x', '1930-01-05'),
       ('claude_context', 'tap-m-hold-2', 'proj-m', 'x', '1930-02-05');
RESET ROLE;
SET LOCAL ROLE tap_m_admin;
CREATE TEMP TABLE pass5 AS SELECT unified.run_maintenance(lock_wait => '1ms') AS r;
RESET ROLE;
SELECT is((SELECT r->'created' FROM pass5), '["unified.chunks_1930_01"]'::jsonb,
    'after holding unified.chunks for half of lock_wait a pass makes no further month');
SELECT is((SELECT r->>'more' FROM pass5), 'true', 'and says "more", so the next pass goes on after the lock was released');

-- ------------------------------------- scheduling by unified_admin with pg_cron
CREATE EXTENSION IF NOT EXISTS pg_cron;
SET LOCAL ROLE tap_m_admin;
SELECT ok(NOT has_schema_privilege('cron', 'USAGE'), 'unified_admin has no privilege on pg_cron''s schema');
SELECT lives_ok($$SELECT unified.schedule_maintenance('0 3 * * *')$$, 'unified_admin schedules maintenance with pg_cron');
RESET ROLE;
SELECT is((SELECT username || '|' || database || '|' || command FROM cron.job WHERE jobname = 'unified_pg_maintenance'),
          (SELECT r.rolname || '|' || current_database() || '|CALL unified.run_maintenance_all(3, NULL)'
             FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner WHERE e.extname = 'unified_pg'),
    'the job runs maintenance in this database as the extension''s owner');

SELECT * FROM finish();
ROLLBACK;
