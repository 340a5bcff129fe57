-- Partition maintenance: functions, privileges and bad arguments.
BEGIN;
SELECT plan(24);

SELECT has_function('unified', 'create_monthly_partition', ARRAY['date']);
SELECT has_function('unified', 'run_maintenance', ARRAY['integer', 'interval', 'boolean', 'bigint', 'interval']);
SELECT has_function('unified', 'schedule_maintenance', ARRAY['text', 'integer', 'interval']);
SELECT has_function('unified', 'explain_pruning', ARRAY['text']);
SELECT has_view('unified', 'partitions', 'unified.partitions exists');
SELECT columns_are('unified', 'partitions',
    ARRAY['partition', 'range_start', 'range_end', 'rows', 'bytes', 'is_default']);
SELECT is_definer('unified', 'run_maintenance', ARRAY['integer', 'interval', 'boolean', 'bigint', 'interval'],
    'run_maintenance is SECURITY DEFINER (partitions belong to the extension owner)');
SELECT isnt_definer('unified', 'explain_pruning', ARRAY['text'], 'explain_pruning runs with the caller''s rights');
SELECT isnt_definer('unified', 'explain_select', ARRAY['text'], 'explain_select runs with the caller''s rights');

-- Privileges: administrators only.
SELECT ok(NOT has_function_privilege('public', 'unified.run_maintenance(integer, interval, boolean, bigint, interval)', 'EXECUTE'),
    'PUBLIC cannot run maintenance');
SELECT ok(has_function_privilege('unified_admin', 'unified.run_maintenance(integer, interval, boolean, bigint, interval)', 'EXECUTE'),
    'unified_admin can run maintenance');
SELECT ok(NOT has_function_privilege('cognee_user', 'unified.create_monthly_partition(date)', 'EXECUTE'),
    'cognee_user cannot create partitions');

-- Bad arguments.
SELECT throws_ok($$SELECT unified.create_monthly_partition(NULL)$$, '22004', NULL, 'NULL month is refused');
SELECT throws_ok($$SELECT unified.run_maintenance(premake => -1)$$, '22023', NULL, 'premake < 0 is refused');
SELECT throws_ok($$SELECT unified.run_maintenance(premake => 121)$$, '22023', NULL, 'premake > 120 is refused');
SELECT throws_ok($$SELECT unified.run_maintenance(retention => '-1 month')$$, '22023', NULL, 'negative retention is refused');
SELECT throws_ok($$SELECT unified.schedule_maintenance('61 * * *')$$, '22023', NULL, 'a malformed schedule is refused');
SELECT throws_ok($$SELECT unified.explain_pruning('DELETE FROM unified.chunks')$$, '22023', NULL, 'explain_pruning refuses DML');

-- Behaviour, under SET ROLE unified_admin.
SET LOCAL ROLE unified_admin;
SELECT is(unified.create_monthly_partition('2041-05-09'), 'unified.chunks_2041_05', 'an admin creates a month');
SELECT is(unified.create_monthly_partition('2041-05-30'), 'unified.chunks_2041_05', 'again: idempotent');
SELECT is((unified.run_maintenance(premake => 0))->>'status', 'done', 'a maintenance pass runs');
RESET ROLE;
SELECT is((SELECT relowner FROM pg_class WHERE oid = 'unified.chunks_2041_05'::regclass),
          (SELECT extowner FROM pg_extension WHERE extname = 'unified_pg'),
          'the month belongs to the extension owner, not the admin who made it');
SELECT is((SELECT partitions_scanned FROM unified.explain_pruning(
              $$SELECT * FROM unified.chunks WHERE created_at >= '2041-05-01 00:00+00' AND created_at < '2041-06-01 00:00+00'$$)),
          1, 'a one-month query scans one partition');
SELECT ok((SELECT bool_and(NOT has_table_privilege(r, 'unified.chunks_2041_05', 'SELECT,INSERT,UPDATE,DELETE'))
             FROM unnest(ARRAY['claude_user', 'cognee_user', 'unified_admin']) AS r),
          'application roles have no privileges on a partition');

SELECT * FROM finish();
ROLLBACK;
