-- pgvector, global layout: enable_vector_index(d, layout => 'global') keeps
-- the embeddings of d dimensions in unified.chunk_vectors_<d> with one HNSW
-- index.  Tested here: what it creates; recall@10 against exact search;
-- k results for a 1 % tenant and a 1 % filter (iterative scans); that no
-- role sees through the side table (or the search) what it cannot see in
-- unified.chunks, and that nobody writes the side table directly; that it
-- follows inserts, upserts, updates, deletes, a month's move out of the
-- default partition, its detach by maintenance, TRUNCATE; disabling.
-- Skipped, with the reason, when pgvector is not installed.
BEGIN;
SELECT plan(61);

SELECT EXISTS (SELECT FROM pg_available_extension_versions
                WHERE name = 'vector'
                  AND string_to_array(split_part(version, '-', 1), '.')::int[] >= '{0,8}') AS have_pgvector \gset
\if :have_pgvector
SET LOCAL client_min_messages = warning;
CREATE ROLE tap_g_admin LOGIN IN ROLE unified_admin;
CREATE ROLE tap_g_claude LOGIN IN ROLE claude_user;
CREATE ROLE tap_g_small LOGIN IN ROLE claude_user;
CREATE ROLE tap_g_cognee LOGIN IN ROLE cognee_user;
SELECT unified.grant_project('tap_g_small', 'proj-g-small') AS setup;
CREATE EXTENSION IF NOT EXISTS vector;

-- 4,000 Claude-Context chunks of 16 dimensions in 40 clusters, 1 % of them
-- in a small project and tagged, over this month, the default partition
-- (rows of 2001) and 2002-02; 200 Cognee chunks; rows of other lengths.
SELECT setseed(0.24);
SELECT unified.create_monthly_partition('2002-02-01') AS setup;
CREATE TEMP TABLE centers AS
SELECT c, ARRAY(SELECT (random() - 0.5)::real FROM generate_series(1, 16) WHERE c > 0) AS v
  FROM generate_series(1, 40) c;
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, relative_path,
                            embedding, metadata, created_at)
SELECT 'claude_context', 'cc_g', 'g' || i, CASE WHEN i % 100 = 0 THEN 'proj-g-small' ELSE 'proj-g-big' END,
       'chunk ' || i, 'f' || (i % 50) || '.py',
       ARRAY(SELECT (x + (random() - 0.5) * 0.2)::real FROM unnest(ct.v) x),
       CASE WHEN i % 100 = 0 THEN '{"rare": true}'::jsonb ELSE '{}'::jsonb END,
       CASE WHEN i % 4 = 0 THEN '2001-01-01 00:00:00+00'::timestamptz
            WHEN i % 4 = 1 THEN '2002-02-02 00:00:00+00'::timestamptz ELSE now() END
  FROM generate_series(1, 4000) i JOIN centers ct ON ct.c = 1 + i % 40;
INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id, content, embedding)
SELECT 'cognee', 'DocumentChunk_text', 'd' || i, '00000000-0000-0000-0000-0000000000c1', 'data ' || i,
       ARRAY(SELECT (x + (random() - 0.5) * 0.2)::real FROM unnest(ct.v) x)
  FROM generate_series(1, 200) i JOIN centers ct ON ct.c = 1 + i % 40;
INSERT INTO unified.chunks (source, source_id, project_id, content, embedding)
VALUES ('claude_context', 'g-short', 'proj-g-big', 'short', '{1,2,3}'),
       ('claude_context', 'g-none', 'proj-g-big', 'none', NULL);
ANALYZE unified.chunks;

-- ------------------------------------------------------------ enabling
SET ROLE tap_g_admin;
SELECT throws_ok($$SELECT unified.enable_vector_index(16, layout => 'flat')$$, '22023',
    'layout must be partitioned or global', 'an unknown layout is refused');
SELECT is(unified.enable_vector_index(16, layout => 'global'), 'unified.chunk_vectors_16_embedding_idx',
          'enable_vector_index(16, layout => global) names its index');
SELECT is(unified.enable_vector_index(16, 'cosine', 'global'), 'unified.chunk_vectors_16_embedding_idx', 'and is idempotent');
SELECT throws_ok('SELECT unified.enable_vector_index(16)', '55000',
    'embeddings of 16 dimensions already have a vector index with layout global',
    'the partitioned layout is refused while the global one serves these dimensions');
SELECT is((SELECT layout FROM unified.vector_index_config WHERE dimensions = 16), 'global',
          'vector_index_config records the layout');
SELECT is((SELECT format('%s %s %s %s', type, index, partitions IS NULL, layout) FROM unified.vector_indexes WHERE dimensions = 16),
          'vector unified.chunk_vectors_16_embedding_idx t global', 'unified.vector_indexes lists it');
RESET ROLE;
SELECT ok((SELECT pg_get_indexdef(c.oid) ~ 'USING hnsw \(embedding vector_cosine_ops\)'
             FROM pg_class c WHERE c.oid = 'unified.chunk_vectors_16_embedding_idx'::regclass),
          'one HNSW index over vector(16) with cosine distance');
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16), 4200::bigint,
          'the side table holds every embedding of 16 dimensions, of every partition');
SELECT ok(EXISTS (SELECT FROM pg_depend d WHERE d.objid = 'unified.chunk_vectors_16'::regclass
                     AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'),
          'the side table is a member of the extension (derived data: not dumped, dropped with it)');
SELECT is((SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'unified.chunk_vectors_16'::regclass),
          true, 'row-level security is enabled and forced on the side table');
SELECT set_eq($$SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies
                 WHERE schemaname = 'unified' AND tablename = 'chunk_vectors_16'$$,
              $$SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies
                 WHERE schemaname = 'unified' AND tablename = 'chunks'$$,
              'the side table has exactly the policies of unified.chunks');

-- ------------------------------------------------------------ search
CREATE TEMP TABLE queries AS
SELECT q, ARRAY(SELECT (x + (random() - 0.5) * 0.3)::real FROM unnest(ct.v) x) AS v
  FROM generate_series(1, 20) q JOIN centers ct ON ct.c = 1 + (q * 7) % 40;
GRANT SELECT ON queries TO PUBLIC;
SELECT v AS q1 FROM queries WHERE q = 1 \gset
SELECT ok(unified.explain_select(format(
        'SELECT v.id FROM unified.chunk_vectors_16 v ORDER BY v.embedding OPERATOR(public.<=>) (%L::real[])::public.vector(16) LIMIT 10',
        :'q1'))::text ~ '"Index Name": "chunk_vectors_16_embedding_idx"', 'the nearest-neighbour query is served by the one HNSW index');
SELECT cmp_ok((SELECT avg((SELECT count(*) FROM unified.search_chunks(qs.v, 10) h
                            WHERE h.id IN (SELECT e.id FROM unified.search_chunks_exact(qs.v, 10, NULL, NULL, NULL, NULL, NULL) e)) / 10.0)
                 FROM queries qs), '>=', 0.95, 'recall@10 of the global layout against exact search is at least 0.95');
SELECT is((SELECT array_agg(source_id ORDER BY score DESC, id) FROM unified.search_chunks(:'q1', 10)),
          (SELECT array_agg(source_id ORDER BY score DESC, id) FROM unified.search_chunks_global(:'q1', 10, NULL, NULL, NULL, NULL, NULL, 'public')),
          'search_chunks takes the global path');
SET hnsw.ef_search = 50;
SELECT is((SELECT count(*) || ' ' || current_setting('hnsw.ef_search') FROM unified.search_chunks(:'q1', 10)), '10 50',
          'the search leaves the caller''s hnsw.ef_search as it was');
RESET hnsw.ef_search;
SELECT is((SELECT count(*) FROM unified.search_chunks(:'q1', 10, filter => '{"rare": true}')), 10::bigint,
          'a metadata filter keeping 1 % of the rows still gets k = 10 results (iterative scan)');
SELECT is((SELECT count(*) FROM unified.search_chunks(:'q1', 10, project_id => 'proj-g-small')), 10::bigint,
          'a project filter keeping 1 % of the rows gets k = 10 results');
SET ROLE tap_g_small;
SELECT is((SELECT count(*) FROM unified.search_chunks(:'q1', 10)), 10::bigint,
          'a tenant that owns 1 % of the rows gets k = 10 results');
SELECT is((SELECT array_agg(DISTINCT project_id) FROM unified.search_chunks(:'q1', 10)), ARRAY['proj-g-small'],
          'and only its own');
SELECT is((SELECT array_agg(DISTINCT coalesce(project_id, 'none')) FROM unified.chunk_vectors_16), ARRAY['proj-g-small'],
          'a tenant-scoped role sees only its tenant''s rows in the side table');
RESET ROLE;

-- ------------------------------------------------------------ row-level security and writes
SET ROLE tap_g_claude;
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16 WHERE project_id IS NULL), 0::bigint,
          'a Claude-Context role sees no Cognee vector in the side table');
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16), (SELECT count(*) FROM unified.chunks WHERE cardinality(embedding) = 16),
          'it sees in the side table exactly the rows it sees in unified.chunks');
SELECT is((SELECT count(*) FROM unified.search_chunks(:'q1', 10, cognee_dataset_id => '00000000-0000-0000-0000-0000000000c1')),
          0::bigint, 'nor finds them through search_chunks');
SELECT throws_ok($$INSERT INTO unified.chunk_vectors_16 (id, created_at, source, source_collection, project_id, metadata, embedding) VALUES (1, now(), 'claude_context', '', 'proj-g-big', '{}', (ARRAY(SELECT 0.5::real FROM generate_series(1, 16)))::public.vector)$$,
    '42501', NULL, 'an application role cannot insert into the side table');
SELECT throws_ok($$UPDATE unified.chunk_vectors_16 SET project_id = 'proj-g-small'$$, '42501', NULL,
    'nor update it');
SELECT throws_ok('DELETE FROM unified.chunk_vectors_16', '42501', NULL, 'nor delete from it');
RESET ROLE;
SET ROLE tap_g_cognee;
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16), 200::bigint, 'a Cognee role sees its 200 vectors only');
SELECT is((SELECT count(*) FROM unified.search_chunks(:'q1', 10)), 10::bigint, 'and searches them');
RESET ROLE;
SET ROLE tap_g_admin;
SELECT throws_ok('DELETE FROM unified.chunk_vectors_16', '42501', NULL, 'unified_admin cannot write the side table either');
RESET ROLE;

-- ------------------------------------------------------------ sync
SET ROLE tap_g_claude;
SELECT is((SELECT format('%s/%s', inserted, updated) FROM unified.upsert_chunks(jsonb_build_array(
            jsonb_build_object('source', 'claude_context', 'source_collection', 'cc_g', 'source_id', 'g-new',
                               'project_id', 'proj-g-big', 'content', 'new', 'embedding', to_jsonb(:'q1'::real[])),
            jsonb_build_object('source', 'claude_context', 'source_collection', 'cc_g', 'source_id', 'g5',
                               'project_id', 'proj-g-big', 'content', 'moved', 'embedding', to_jsonb(:'q1'::real[]))))),
          '1/1', 'upsert: one chunk inserted, one updated');
SELECT is((SELECT array_agg(c.source_id ORDER BY c.source_id) FROM unified.chunks c
             JOIN unified.chunk_vectors_16 v ON v.id = c.id AND v.created_at = c.created_at
            WHERE v.embedding = (:'q1'::real[])::public.vector), ARRAY['g-new', 'g5'],
          'the side table follows: the new chunk and the updated embedding');
SELECT is((SELECT array_agg(source_id ORDER BY source_id) FROM unified.search_chunks(:'q1', 2)), ARRAY['g-new', 'g5'],
          'and search_chunks finds both through the index at once');
RESET ROLE;
CREATE TEMP TABLE before_meta AS
SELECT v.id, v.xmin::text AS x FROM unified.chunk_vectors_16 v JOIN unified.chunks c USING (id, created_at)
 WHERE c.source_id IN ('g6', 'g7');
SET ROLE tap_g_claude;
UPDATE unified.chunks SET content = 'touched', relative_path = 'touched.py' WHERE source_id IN ('g6', 'g7');
RESET ROLE;
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16 v JOIN before_meta b ON b.id = v.id AND b.x = v.xmin::text),
          2::bigint, 'an update that changes neither the embedding, the owner nor metadata does not rewrite the side rows');
SET ROLE tap_g_claude;
UPDATE unified.chunks SET metadata = '{"touched": true}' WHERE source_id IN ('g6', 'g7');
SELECT is((SELECT count(*) FROM unified.search_chunks(:'q1', 10, filter => '{"touched": true}')), 2::bigint,
          'a metadata update follows: the metadata filter finds the rows');
RESET ROLE;
SET ROLE tap_g_claude;
UPDATE unified.chunks SET embedding = '{1,2,3,4,5,6,7,8}' WHERE source_id = 'g6';
UPDATE unified.chunks SET embedding = NULL WHERE source_id = 'g7';
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16 v JOIN unified.chunks c USING (id, created_at)
            WHERE c.source_id IN ('g6', 'g7')), 0::bigint,
          'an embedding changed to another length or to NULL leaves the side table');
UPDATE unified.chunks SET embedding = :'q1'::real[] WHERE source_id = 'g6';
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16 v JOIN unified.chunks c USING (id, created_at)
            WHERE c.source_id = 'g6'), 1::bigint, 'and comes back with 16 dimensions');
SELECT is(unified.delete_chunks('claude_context', 'cc_g', ARRAY['g-new', 'g6']), 2::bigint, 'delete_chunks');
SELECT is(unified.delete_file_chunks('proj-g-big', 'f7.py'), 79::bigint, 'delete_file_chunks (g7 moved to touched.py)');
RESET ROLE;
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16 v
            WHERE NOT EXISTS (SELECT FROM unified.chunks c WHERE c.id = v.id AND c.created_at = v.created_at)),
          0::bigint, 'deleted chunks leave no side rows behind');
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16), (SELECT count(*) FROM unified.chunks WHERE cardinality(embedding) = 16),
          'the side table and unified.chunks agree after every kind of write');
-- The foreign key is checked at commit, which this test never reaches:
-- SET CONSTRAINTS ... IMMEDIATE checks it now.
SELECT lives_ok('SET CONSTRAINTS ALL IMMEDIATE', 'the foreign key holds after those writes');
SET CONSTRAINTS ALL DEFERRED;

-- ------------------------------------------------------------ hostile search_path
-- The sync trigger is SECURITY DEFINER: an application role that plants
-- operators and functions named like the ones it uses, first on its
-- search_path, must not have them run by it (each raises if called).
CREATE SCHEMA evil_g AUTHORIZATION tap_g_claude;
SET ROLE tap_g_claude;
CREATE FUNCTION evil_g.planted(w text) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN RAISE EXCEPTION 'planted % was called', w; END$$;
CREATE FUNCTION evil_g.cardinality(anyarray) RETURNS integer LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil_g.planted('cardinality'); RETURN 16; END$$;
CREATE FUNCTION evil_g.int8_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil_g.planted('bigint ='); RETURN true; END$$;
CREATE FUNCTION evil_g.ts_eq(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil_g.planted('timestamptz ='); RETURN true; END$$;
CREATE FUNCTION evil_g.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil_g.planted('text ='); RETURN true; END$$;
CREATE OPERATOR evil_g.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil_g.int8_eq);
CREATE OPERATOR evil_g.= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil_g.ts_eq);
CREATE OPERATOR evil_g.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil_g.text_eq);
SET search_path = pg_temp, evil_g, pg_catalog, public;
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, embedding)
SELECT 'claude_context', 'cc_g', 'g-evil', 'proj-g-big', 'evil', v FROM queries WHERE q OPERATOR(pg_catalog.=) 2;
UPDATE unified.chunks SET embedding = (SELECT v FROM queries WHERE q OPERATOR(pg_catalog.=) 3)
 WHERE source_id OPERATOR(pg_catalog.=) 'g-evil';
DELETE FROM unified.chunks WHERE source_id OPERATOR(pg_catalog.=) 'g8';
RESET search_path;
RESET ROLE;
SELECT is((SELECT v.embedding = (q.v)::public.vector FROM unified.chunk_vectors_16 v JOIN unified.chunks c USING (id, created_at), queries q
            WHERE c.source_id = 'g-evil' AND q.q = 3), true,
          'with a hostile search_path the sync trigger still copies inserts and updates, with the real operators');
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16), (SELECT count(*) FROM unified.chunks WHERE cardinality(embedding) = 16),
          'and deletes');

-- ------------------------------------------------------------ partitions
SELECT is(unified.create_monthly_partition('2001-01-01'), 'unified.chunks_2001_01',
          'a month made for rows of the default partition');
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16 v JOIN unified.chunks_2001_01 c USING (id, created_at)),
          (SELECT count(*) FROM unified.chunks_2001_01 WHERE cardinality(embedding) = 16),
          'rows moved out of the default partition keep their side rows');
SELECT lives_ok('SET CONSTRAINTS ALL IMMEDIATE', 'and the foreign key holds after the move');
SET CONSTRAINTS ALL DEFERRED;
SELECT throws_ok('ALTER TABLE unified.chunks DETACH PARTITION unified.chunks_2002_02', '23503', NULL,
    'PostgreSQL refuses to detach a month whose rows still have side rows');
SELECT throws_ok('DROP TABLE unified.chunks_2002_02', '2BP01', NULL,
    'or to drop it');
CREATE TEMP TABLE feb AS SELECT id, created_at FROM unified.chunks_2002_02;
SELECT ok(unified.run_maintenance(premake => 0, retention => '20 years') -> 'detached' @> '[{"partition": "unified.chunks_2001_01"}]',
          'maintenance detaches the old months (retention)');
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16 v JOIN feb USING (id, created_at)), 0::bigint,
          'their side rows went in the same transaction');
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16), (SELECT count(*) FROM unified.chunks WHERE cardinality(embedding) = 16),
          'and the side table matches unified.chunks again');
SELECT lives_ok('SET CONSTRAINTS ALL IMMEDIATE', 'the foreign key holds after the detach');
SET CONSTRAINTS ALL DEFERRED;
SELECT throws_ok('TRUNCATE unified.chunks', '0A000', NULL, 'TRUNCATE of unified.chunks alone is refused (the foreign key)');
SAVEPOINT t;
TRUNCATE unified.chunks, unified.chunk_vectors_16;
SELECT is((SELECT count(*) FROM unified.chunk_vectors_16), 0::bigint, 'TRUNCATE naming both empties both');
ROLLBACK TO SAVEPOINT t;
SELECT throws_ok('TRUNCATE unified.chunk_vectors_16', '0A000', 'cannot truncate unified.chunk_vectors_16 alone',
                 'TRUNCATE of the side table alone is refused: searches would silently miss the chunks');
SELECT ok((SELECT count(*) FROM unified.chunk_vectors_16) > 0, 'and the side table keeps its rows');

-- ------------------------------------------------------------ halfvec, disabling
SET ROLE tap_g_admin;
SELECT unified.enable_vector_index(3072, layout => 'global') AS halfvec_index \gset
SELECT is((SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
            WHERE a.attrelid = 'unified.chunk_vectors_3072'::regclass AND a.attname = 'embedding'),
          'halfvec(3072)', 'above 2,000 dimensions the side table holds halfvec');
SELECT is(unified.disable_vector_index(16), true, 'disable_vector_index drops the global layout');
RESET ROLE;
SELECT ok(to_regclass('unified.chunk_vectors_16') IS NULL
          AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'unified.chunks'::regclass AND tgname ~ '^chunk_vectors_16_'),
          'its side table and triggers are gone');
SELECT is((SELECT array_agg(dimensions || ':' || layout) FROM unified.vector_index_config), ARRAY['3072:global'],
          'and its configuration row');
SELECT is((SELECT array_agg(source_id ORDER BY score DESC, id) FROM unified.search_chunks(:'q1', 10)),
          (SELECT array_agg(source_id ORDER BY score DESC, id) FROM unified.search_chunks_exact(:'q1', 10, NULL, NULL, NULL, NULL, NULL)),
          'searches of 16 dimensions are exact again');
\else
SELECT skip('pgvector 0.8 or later is not installed on this server (scripts/deps.sh installs it from the postgresql-15-pgvector package or ../shared/deps/pgvector-0.8.6.tar.gz; it found neither)', 59);
\endif

SELECT * FROM finish();
ROLLBACK;
