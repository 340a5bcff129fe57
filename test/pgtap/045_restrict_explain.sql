-- Side channels through EXPLAIN.
--
-- 1. EXPLAIN ANALYZE counts the rows a filter removed, and under row-level
--    security those include the hidden rows.  A leakproof condition of the
--    caller's own (uuid >=) becomes an index condition that runs before the
--    policy's filter, so "Rows Removed by Filter" says how many hidden rows
--    satisfy it: bisecting digit by digit extracts the other application's
--    dataset ids.  With unified_pg.restrict_explain (default on) the
--    extraction fails with 42501, by every route to the table.
-- 2. explain_pruning / explain_select only plan, but planning evaluates
--    immutable functions: they run read-only, so nothing they call writes.
BEGIN;
SELECT plan(34);

CREATE ROLE tap_e_claude LOGIN IN ROLE claude_user;
CREATE ROLE tap_e_admin LOGIN IN ROLE unified_admin;
CREATE ROLE tap_e_nobody LOGIN;
CREATE ROLE tap_e_bypass LOGIN BYPASSRLS IN ROLE claude_user;
CREATE ROLE tap_e_scoped LOGIN IN ROLE claude_user;
SELECT unified.grant_project('tap_e_scoped', 'proj-e') AS setup;

INSERT INTO unified.chunks (source, source_id, project_id, cognee_dataset_id, content)
SELECT 'claude_context', 'tap-e-' || g, 'proj-e', NULL, 'visible' FROM generate_series(1, 50) g;
INSERT INTO unified.chunks (source, source_id, project_id, cognee_dataset_id, content)
VALUES ('cognee', 'tap-e-secret', NULL, 'a3f17c20-5b6e-4d1a-9c2f-0123456789ab', 'hidden from claude');
ANALYZE unified.chunks;

-- The attacker's tools: the rows a query's filters removed, and the
-- bisection that turns that count into the first hex digits of a hidden
-- dataset id.
CREATE FUNCTION pg_temp.removed(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    p   jsonb;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || q INTO p;
    RETURN (SELECT coalesce(sum(v::text::bigint), 0)
              FROM jsonb_path_query(p, 'strict $.**."Rows Removed by Filter"') AS v);
END $$;
CREATE FUNCTION pg_temp.extract_dataset(digits int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    known   text := '';
    best    text;
    c       text;
BEGIN
    FOR i IN 1 .. digits LOOP
        best := NULL;
        FOREACH c IN ARRAY string_to_array('0123456789abcdef', NULL) LOOP
            IF pg_temp.removed(format(
                   'SELECT id FROM unified.chunks WHERE cognee_dataset_id >= %L',
                   rpad(known || c, 32, '0')::uuid)) > 0 THEN
                best := c;
            END IF;
        END LOOP;
        known := known || best;
    END LOOP;
    RETURN known;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.removed(text), pg_temp.extract_dataset(int) TO PUBLIC;
SET LOCAL enable_seqscan = off;

-- Hidden rows an index condition matches, as heap pages read (a count that
-- row-level security does not change): the buffer counts of EXPLAIN show it.
CREATE FUNCTION pg_temp.hidden_probe(lo uuid) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM unified.chunks WHERE cognee_dataset_id >= lo);
END $$;
CREATE FUNCTION pg_temp.hidden_probe_folded(lo uuid) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM unified.chunks WHERE cognee_dataset_id >= lo);
END $$;
CREATE FUNCTION pg_temp.definer_probe(lo uuid) RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT count(*) FROM unified.chunks WHERE cognee_dataset_id >= lo);
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.hidden_probe(uuid), pg_temp.hidden_probe_folded(uuid),
    pg_temp.definer_probe(uuid) TO PUBLIC;

-- The attack is real: with the protection off (a superuser's choice), a
-- Claude-Context role reads the Cognee dataset id it cannot SELECT.
SET LOCAL unified_pg.restrict_explain = off;
SET LOCAL ROLE tap_e_claude;
SELECT is((SELECT count(*)::int FROM unified.chunks WHERE source_id = 'tap-e-secret'), 0,
    'the Cognee row is hidden from the Claude-Context role');
SELECT is(pg_temp.extract_dataset(8), 'a3f17c20',
    'without restrict_explain, EXPLAIN ANALYZE extracts a hidden dataset id digit by digit');
RESET ROLE;
RESET unified_pg.restrict_explain;

SELECT is(current_setting('unified_pg.restrict_explain'), 'on', 'restrict_explain is on by default');
SET LOCAL ROLE tap_e_claude;
SELECT throws_ok($$SELECT pg_temp.extract_dataset(8)$$, '42501', NULL,
    'with restrict_explain, the extraction fails with 42501');
SELECT throws_ok($$EXPLAIN ANALYZE SELECT * FROM unified.chunks WHERE cognee_dataset_id >= 'a0000000-0000-0000-0000-000000000000'$$,
    '42501', 'EXPLAIN ANALYZE of queries on unified.chunks is not allowed for role "tap_e_claude"',
    'EXPLAIN ANALYZE is refused with a clear message');
SELECT throws_ok($$EXPLAIN (ANALYZE true, TIMING false, FORMAT YAML) DELETE FROM unified.chunks WHERE cognee_dataset_id >= 'a0000000-0000-0000-0000-000000000000'$$,
    '42501', NULL, 'whatever the options and the statement (DELETE)');
SELECT throws_ok($$EXPLAIN ANALYZE WITH x AS MATERIALIZED (SELECT * FROM unified.chunks) SELECT count(*) FROM x$$,
    '42501', NULL, 'a CTE does not hide the table');
CREATE FUNCTION pg_temp.inlined() RETURNS SETOF unified.chunks LANGUAGE sql STABLE
    AS 'SELECT * FROM unified.chunks';
SELECT throws_ok($$EXPLAIN ANALYZE SELECT * FROM pg_temp.inlined() WHERE cognee_dataset_id >= 'a0000000-0000-0000-0000-000000000000'$$,
    '42501', NULL, 'an inlined SQL function does not hide the table');
CREATE TEMP VIEW over_chunks AS SELECT * FROM unified.chunks;
SELECT throws_ok($$EXPLAIN ANALYZE SELECT * FROM over_chunks WHERE cognee_dataset_id >= 'a0000000-0000-0000-0000-000000000000'$$,
    '42501', NULL, 'a view does not hide the table');
PREPARE probe(uuid) AS SELECT id FROM unified.chunks WHERE cognee_dataset_id >= $1;
SELECT throws_ok($$EXPLAIN ANALYZE EXECUTE probe('a0000000-0000-0000-0000-000000000000')$$,
    '42501', NULL, 'EXPLAIN ANALYZE EXECUTE of a prepared statement is refused');
DEALLOCATE probe;
SELECT throws_ok($$EXPLAIN ANALYZE CREATE TEMP TABLE copied AS SELECT * FROM unified.chunks$$,
    '42501', NULL, 'EXPLAIN ANALYZE CREATE TABLE AS is refused');
-- ExplainQuery takes the last ANALYZE option: the guard must read it the same way.
SELECT throws_ok($$EXPLAIN (ANALYZE false, ANALYZE true) SELECT * FROM unified.chunks WHERE cognee_dataset_id >= 'a0000000-0000-0000-0000-000000000000'$$,
    '42501', NULL, 'a repeated ANALYZE option does not hide that the statement is EXPLAIN ANALYZE');
SELECT throws_ok($$EXPLAIN (ANALYZE on, ANALYZE off, ANALYZE) SELECT * FROM unified.chunks$$,
    '42501', NULL, 'the last ANALYZE option counts, as for PostgreSQL');
-- The buffer counts of a node include the pages read by the queries of the
-- functions it calls: they count hidden rows' heap pages, so a query on
-- unified.chunks inside a function is refused under EXPLAIN ANALYZE too,
-- and under EXPLAIN (BUFFERS), whose planning buffers include what constant
-- folding of an immutable function read.
SELECT throws_ok($$EXPLAIN (ANALYZE, BUFFERS) SELECT pg_temp.hidden_probe('a3000000-0000-0000-0000-000000000000')$$,
    '42501', NULL, 'EXPLAIN (ANALYZE, BUFFERS) of a function that reads unified.chunks is refused');
SELECT throws_ok($$EXPLAIN (BUFFERS) SELECT pg_temp.hidden_probe_folded('a3000000-0000-0000-0000-000000000000')$$,
    '42501', NULL, 'EXPLAIN (BUFFERS) of a query whose planning reads unified.chunks is refused');
SELECT throws_ok($$EXPLAIN (ANALYZE, BUFFERS) SELECT pg_temp.definer_probe('a3000000-0000-0000-0000-000000000000')$$,
    '42501', NULL, 'so is a SECURITY DEFINER function of a superuser: whose EXPLAIN it is decides');
SELECT lives_ok($$EXPLAIN SELECT pg_temp.hidden_probe_folded('a3000000-0000-0000-0000-000000000000')$$,
    'plain EXPLAIN of the same query still works (it shows no counts)');
SELECT lives_ok($$EXPLAIN (BUFFERS) SELECT count(*) FROM generate_series(1, 10)$$,
    'EXPLAIN (BUFFERS) of queries that do not read unified.chunks still works');
SELECT throws_ok($$SET unified_pg.restrict_explain = off$$, '42501', NULL,
    'an application role cannot turn the protection off');
SELECT lives_ok($$EXPLAIN SELECT * FROM unified.chunks WHERE cognee_dataset_id >= 'a0000000-0000-0000-0000-000000000000'$$,
    'plain EXPLAIN still works');
SELECT lives_ok($$EXPLAIN ANALYZE SELECT count(*) FROM generate_series(1, 10)$$,
    'EXPLAIN ANALYZE of queries that do not read unified.chunks still works');
SELECT ok((SELECT partitions_total > 0 FROM unified.explain_pruning('SELECT * FROM unified.chunks')),
    'explain_pruning still works');
RESET ROLE;

SET LOCAL ROLE tap_e_admin;
SELECT lives_ok($$EXPLAIN ANALYZE SELECT * FROM unified.chunks WHERE cognee_dataset_id >= 'a0000000-0000-0000-0000-000000000000'$$,
    'unified_admin, who sees every row, may EXPLAIN ANALYZE');
RESET ROLE;

SET LOCAL ROLE tap_e_bypass;
SELECT lives_ok($$EXPLAIN ANALYZE SELECT * FROM unified.chunks WHERE cognee_dataset_id >= 'a0000000-0000-0000-0000-000000000000'$$,
    'a BYPASSRLS role, which reads every row anyway, may EXPLAIN ANALYZE');
RESET ROLE;

SET LOCAL ROLE tap_e_scoped;
SELECT throws_ok($$EXPLAIN ANALYZE SELECT * FROM unified.chunks WHERE project_id >= 'a'$$, '42501', NULL,
    'a tenant-scoped login cannot count the other tenants'' rows either');
RESET ROLE;

SET LOCAL ROLE tap_e_nobody;
SELECT throws_ok($$EXPLAIN ANALYZE SELECT * FROM unified.chunks$$, '42501', NULL,
    'a role in no group is refused too');
RESET ROLE;

-- The statistics counters count hidden rows too: the same bisection works
-- through pg_stat_xact_user_tables, which restrict_explain cannot see.
-- SECURITY.md's mitigation (revoke the counters from PUBLIC) closes it.
CREATE FUNCTION pg_temp.fetched(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    before  bigint;
    after   bigint;
BEGIN
    SELECT coalesce(sum(idx_tup_fetch), 0) INTO before FROM pg_stat_xact_user_tables WHERE schemaname = 'unified';
    EXECUTE q;
    SELECT coalesce(sum(idx_tup_fetch), 0) INTO after FROM pg_stat_xact_user_tables WHERE schemaname = 'unified';
    RETURN after - before;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.fetched(text) TO PUBLIC;
SET LOCAL ROLE tap_e_claude;
SELECT ok(pg_temp.fetched($$SELECT id FROM unified.chunks WHERE cognee_dataset_id >= 'a3000000-0000-0000-0000-000000000000'$$)
          > pg_temp.fetched($$SELECT id FROM unified.chunks WHERE cognee_dataset_id >= 'a4000000-0000-0000-0000-000000000000'$$),
    'known limit: pg_stat_xact_user_tables counts the hidden rows an index condition matched');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_tuples_returned(oid), pg_catalog.pg_stat_get_tuples_fetched(oid),
    pg_catalog.pg_stat_get_xact_tuples_returned(oid), pg_catalog.pg_stat_get_xact_tuples_fetched(oid),
    pg_catalog.pg_stat_get_blocks_fetched(oid), pg_catalog.pg_stat_get_blocks_hit(oid),
    pg_catalog.pg_stat_get_xact_blocks_fetched(oid), pg_catalog.pg_stat_get_xact_blocks_hit(oid),
    pg_catalog.pg_stat_get_numscans(oid), pg_catalog.pg_stat_get_xact_numscans(oid) FROM PUBLIC;
SET LOCAL ROLE tap_e_claude;
SELECT throws_ok($$SELECT pg_temp.fetched('SELECT 1')$$, '42501', NULL,
    'with the counters revoked from PUBLIC, an application role cannot read them');
RESET ROLE;

-- What PostgreSQL still shows (SECURITY.md names each with its mitigation):
-- pg_stats hides the statistics of a table under row-level security, but
-- the planner's estimates use them, and pg_class is readable by everyone.
INSERT INTO unified.chunks (source, source_id, cognee_dataset_id, content)
SELECT 'cognee', 'tap-e-many-' || g, 'b1b2b3b4-0000-0000-0000-000000000001', 'many' FROM generate_series(1, 500) g;
ANALYZE unified.chunks;
CREATE FUNCTION pg_temp.estimate(q text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    p   json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO p;
    RETURN (p->0->'Plan'->>'Plan Rows')::numeric;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.estimate(text) TO PUBLIC;
SET LOCAL ROLE tap_e_claude;
SELECT is((SELECT count(*)::int FROM pg_stats WHERE schemaname = 'unified' AND tablename = 'chunks'), 0,
    'pg_stats shows an application role no statistics of unified.chunks');
SELECT ok(pg_temp.estimate($$SELECT * FROM unified.chunks WHERE cognee_dataset_id = 'b1b2b3b4-0000-0000-0000-000000000001'$$)
          > 2 * pg_temp.estimate($$SELECT * FROM unified.chunks WHERE cognee_dataset_id = 'c0000000-0000-0000-0000-000000000009'$$),
    'known limit: plain EXPLAIN estimates tell a large hidden dataset from an absent one');
SELECT ok((SELECT sum(reltuples) FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
            WHERE i.inhparent = 'unified.chunks'::regclass) > 500,
    'known limit: pg_class.reltuples shows every role the volume of each partition');
RESET ROLE;

-- explain_pruning plans read-only: an immutable function that calls a
-- writing one, folded at plan time, writes nothing.
CREATE FUNCTION pg_temp.write_row() RETURNS timestamptz LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO unified.chunks (source, source_id, project_id, content)
    VALUES ('claude_context', 'tap-e-planted', 'proj-e', 'written at plan time');
    RETURN now();
END $$;
CREATE FUNCTION pg_temp.folded() RETURNS timestamptz LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN pg_temp.write_row();
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.write_row(), pg_temp.folded() TO PUBLIC;
SET LOCAL ROLE tap_e_claude;
SELECT throws_ok($$SELECT * FROM unified.explain_pruning('SELECT * FROM unified.chunks WHERE created_at < pg_temp.folded()')$$,
    '25006', NULL, 'a write by a function folded at plan time fails: explain_pruning plans read-only');
SELECT throws_ok($$SELECT unified.explain_select('SELECT * FROM unified.chunks WHERE created_at < pg_temp.folded()')$$,
    '25006', NULL, 'and so does explain_select');
SELECT is((SELECT count(*)::int FROM unified.chunks WHERE source_id = 'tap-e-planted'), 0, 'nothing was written');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
