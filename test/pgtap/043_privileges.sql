-- Privilege hygiene of the whole extension, discovered from the catalog so
-- that objects added later are held to the same rules: pinned search_path,
-- nothing executable by PUBLIC but what must be, no application access to
-- anything but unified.chunks, no grants on partitions.
BEGIN;
SELECT plan(19);

CREATE TEMP VIEW ext_functions AS
SELECT p.oid, p.oid::regprocedure::text AS signature, p.prosecdef, p.proconfig, l.lanname
  FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'unified_pg';

SELECT is_empty($$
    SELECT signature FROM ext_functions
     WHERE prosecdef
       AND NOT coalesce('search_path=pg_catalog, unified, pg_temp' = ANY (proconfig), false)$$,
    'every SECURITY DEFINER function pins search_path = pg_catalog, unified, pg_temp');
SELECT is_empty($$
    SELECT signature FROM ext_functions
     WHERE lanname IN ('sql', 'plpgsql')
       AND NOT coalesce('search_path=pg_catalog, unified, pg_temp' = ANY (proconfig), false)
       AND signature NOT IN (
           -- A procedure with a SET clause cannot COMMIT; explain_pruning
           -- must plan the caller's query with the caller's search_path.
           -- Both bodies qualify every type, function and operator instead
           -- (042_search_path calls them with planted objects).
           'unified.run_maintenance_all(integer,interval,boolean)',
           'unified.explain_pruning(text)',
           -- the migration's procedures commit per batch
           'unified.migration_run(text,regclass,text,uuid,integer)',
           'unified.migrate_claude_chunks(regclass,text,integer)',
           'unified.migrate_cognee_data(regclass,uuid,integer)',
           'unified.rollback_migration(bigint,integer)',
           'unified.migrate_to_unified()')$$,
    'every SQL and PL/pgSQL function pins search_path = pg_catalog, unified, pg_temp, or is qualified throughout');
SELECT is_empty($$
    SELECT signature FROM ext_functions
     WHERE has_function_privilege('public', oid, 'EXECUTE')
       AND signature NOT IN ('unified.content_hash(text)',
                             -- the sketch index's expression, evaluated as
                             -- the role that writes a chunk; pure arithmetic
                             'unified.embedding_sketch(real[])',
                             -- SECURITY INVOKER, and they only plan one plain
                             -- SELECT (EXPLAIN without ANALYZE, checked by the
                             -- parser) with the caller's own rights: nothing a
                             -- caller could not do with EXPLAIN itself.
                             'unified.explain_select(text)',
                             'unified.explain_pruning(text)')$$,
    'nothing but content_hash and embedding_sketch is executable by PUBLIC');
SELECT is_empty($$
    SELECT signature FROM ext_functions
     WHERE prosecdef AND (has_function_privilege('claude_user', oid, 'EXECUTE')
                          OR has_function_privilege('cognee_user', oid, 'EXECUTE'))
       $$,
    'the applications execute no SECURITY DEFINER function');
SELECT is_empty($$
    SELECT signature FROM ext_functions
     WHERE (has_function_privilege('claude_user', oid, 'EXECUTE')
            OR has_function_privilege('cognee_user', oid, 'EXECUTE'))
       AND (signature ~ '^unified\.(grant|revoke)_'
            OR signature ~ 'create_monthly_partition|worker_status|tenant_|reset_stats|health_|stats_overall')$$,
    'the applications execute no administrative function');

-- Relations.
SELECT is_empty($$
    SELECT c.oid::regclass::text || ' ' || r.rolname || ' ' || p.privilege
      FROM pg_class c
     CROSS JOIN (VALUES ('claude_user'), ('cognee_user'), ('public')) AS r(rolname)
     CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) AS p(privilege)
     WHERE c.relnamespace = 'unified'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND c.oid <> 'unified.chunks'::regclass
       AND NOT (c.oid IN ('unified.pool_stats'::regclass, 'unified.pool_latency_histogram'::regclass)
                AND r.rolname <> 'public' AND p.privilege = 'SELECT')
       AND has_table_privilege(r.rolname, c.oid, p.privilege)$$,
    'the applications and PUBLIC have no privilege on any relation but unified.chunks (and reading the pool statistics)');
SELECT ok(has_table_privilege('claude_user', 'unified.pool_stats', 'SELECT')
          AND has_table_privilege('cognee_user', 'unified.pool_stats', 'SELECT')
          AND has_table_privilege('pg_monitor', 'unified.pool_stats', 'SELECT')
          AND has_table_privilege('cognee_user', 'unified.pool_latency_histogram', 'SELECT')
          AND NOT has_table_privilege('public', 'unified.pool_stats', 'SELECT'),
    'the applications and pg_monitor read pool_stats and the histogram; PUBLIC does not');
SELECT ok(NOT has_table_privilege('claude_user', 'unified.slo', 'SELECT')
          AND has_table_privilege('unified_admin', 'unified.slo', 'SELECT')
          AND has_table_privilege('pg_monitor', 'unified.slo', 'SELECT'),
    'the SLOs are for unified_admin and pg_monitor');
SELECT ok(has_function_privilege('unified_admin', 'unified.reset_stats()', 'EXECUTE')
          AND NOT has_function_privilege('claude_user', 'unified.reset_stats()', 'EXECUTE')
          AND NOT has_function_privilege('cognee_user', 'unified.reset_stats()', 'EXECUTE')
          AND NOT has_function_privilege('pg_monitor', 'unified.reset_stats()', 'EXECUTE'),
    'only unified_admin resets the statistics');
SELECT ok(has_function_privilege('unified_admin', 'unified.health_check()', 'EXECUTE')
          AND NOT has_function_privilege('claude_user', 'unified.health_check()', 'EXECUTE')
          AND NOT has_function_privilege('pg_monitor', 'unified.health_check()', 'EXECUTE'),
    'only unified_admin runs the health check');
SELECT is((SELECT string_agg(oid::regprocedure::text, ',') FROM pg_proc
            WHERE pronamespace = 'unified'::regnamespace AND proname ~ '^health_' AND prosecdef),
    'unified.health_default_partition()', 'of its checks, only the one that counts the default partition is SECURITY DEFINER');
SELECT is_empty($$
    SELECT c.oid::regclass::text || ' ' || r.rolname
      FROM pg_class c
     CROSS JOIN (VALUES ('claude_user'), ('cognee_user'), ('public')) AS r(rolname)
     WHERE c.relnamespace = 'unified'::regnamespace AND c.relkind = 'S'
       AND (has_sequence_privilege(r.rolname, c.oid, 'USAGE') OR has_sequence_privilege(r.rolname, c.oid, 'SELECT')
            OR has_sequence_privilege(r.rolname, c.oid, 'UPDATE'))$$,
    'the applications and PUBLIC have no privilege on any sequence');
SELECT is_empty($$
    SELECT c.oid::regclass::text
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'unified.chunks'::regclass
       AND EXISTS (SELECT FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner)$$,
    'no partition grants anything to anyone but its owner');
SELECT is_empty($$
    SELECT c.oid::regclass::text
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'unified.chunks'::regclass
       AND (has_table_privilege('unified_admin', c.oid, 'SELECT') OR has_table_privilege('unified_admin', c.oid, 'INSERT'))$$,
    'unified_admin, too, reaches rows only through unified.chunks');
SELECT unified.create_monthly_partition('2043-05-01') AS setup;
SELECT ok((SELECT relacl IS NULL FROM pg_class WHERE oid = to_regclass('unified.chunks_2043_05')),
    'a partition created later has no grants');
SELECT is_empty($$
    SELECT defaclrole::regrole::text FROM pg_default_acl WHERE defaclnamespace IN (0, 'unified'::regnamespace)$$,
    'no default privileges would grant future objects to anyone');
SELECT is_empty($$
    SELECT r.rolname FROM (VALUES ('claude_user'), ('cognee_user'), ('unified_admin'), ('public')) AS r(rolname)
     WHERE has_schema_privilege(r.rolname, 'unified', 'CREATE')$$,
    'nobody but the owner may create objects in schema unified');

-- Row-level security.
SELECT ok((SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'unified.chunks'::regclass),
    'RLS is enabled and forced on unified.chunks');
SELECT set_eq($$SELECT DISTINCT unnest(roles)::text FROM pg_policies WHERE schemaname = 'unified' AND tablename = 'chunks'$$,
    ARRAY['claude_user', 'cognee_user', 'unified_admin'],
    'policies exist for exactly the three groups (none for PUBLIC)');

SELECT * FROM finish();
ROLLBACK;
