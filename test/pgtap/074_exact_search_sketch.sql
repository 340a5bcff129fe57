-- The exact search inside a project through chunks_project_sketch_idx (an
-- 8-bit copy of every embedding, src/sketch.c) returns exactly what the
-- plain exact scan returns: the same rows, the same scores, the same order,
-- under every filter, with ties, near ties, embeddings of other lengths,
-- norm zero or extreme magnitudes, after updates and deletes, and under
-- row-level security.  pg_temp.plain is the plain path's query.
BEGIN;
SELECT plan(30);

CREATE ROLE tap_s_claude LOGIN IN ROLE claude_user;
CREATE ROLE tap_s_scoped LOGIN IN ROLE claude_user;
CREATE ROLE tap_s_cognee LOGIN IN ROLE cognee_user;
CREATE ROLE tap_s_nobody LOGIN;
SELECT unified.grant_project('tap_s_scoped', 'sk-b') AS setup;

SELECT setseed(0.25) AS setup;
CREATE TEMP TABLE centres AS
SELECT c, array(SELECT (random() - 0.5)::real FROM generate_series(1, 64) WHERE c > 0) AS v
  FROM generate_series(1, 20) c;
-- Two projects, their chunks interleaved on the pages.
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, embedding, metadata)
SELECT 'claude_context', 'c' || (i % 2), 'sk-' || p || '-' || i, 'sk-' || p, p || i,
       (SELECT array_agg((x + (random() - 0.5) * 0.5)::real) FROM unnest((SELECT v FROM centres WHERE c = 1 + i % 20)) x),
       jsonb_build_object('bucket', i % 7)
  FROM generate_series(1, 3000) i, (VALUES ('a'), ('b')) AS t(p)
 WHERE p = 'a' OR i <= 1000;
-- The odd ones in project sk-a.
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, embedding, metadata)
VALUES ('claude_context', 'c0', 'sk-a-zero', 'sk-a', 'zero', array_fill(0::real, ARRAY[64]), '{}'),
       ('claude_context', 'c0', 'sk-a-tiny', 'sk-a', 'tiny',
        (SELECT array_agg((x * 1e-20)::real) FROM unnest((SELECT v FROM centres WHERE c = 3)) x), '{}'),
       ('claude_context', 'c0', 'sk-a-huge', 'sk-a', 'huge',
        (SELECT array_agg((x * 1e18)::real) FROM unnest((SELECT v FROM centres WHERE c = 4)) x), '{}'),
       ('claude_context', 'c0', 'sk-a-short', 'sk-a', 'short', array_fill(0.5::real, ARRAY[32]), '{}'),
       ('claude_context', 'c0', 'sk-a-none', 'sk-a', 'none', NULL, '{}'),
       ('claude_context', 'c0', 'sk-a-dup1', 'sk-a', 'dup', (SELECT v FROM centres WHERE c = 5), '{}'),
       ('claude_context', 'c0', 'sk-a-dup2', 'sk-a', 'dup', (SELECT v FROM centres WHERE c = 5), '{}');
-- Near ties: 400 embeddings within 1e-6 of each other.
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, embedding)
SELECT 'claude_context', 'c0', 'sk-tie-' || i, 'sk-tie', 'tie' || i,
       (SELECT array_agg((x + (random() - 0.5) * 1e-6)::real) FROM unnest((SELECT v FROM centres WHERE c = 6)) x)
  FROM generate_series(1, 400) i;
-- The worst case of the bound: embeddings whose quantization residual
-- points along the query.  (127, m1 + 0.49, ..., m63 + 0.49) quantizes to
-- the codes (127, m1, ..., m63) exactly, every residual +0.49 of a step:
-- for a query of positive components the copy underestimates the
-- similarity by almost the whole bound, so that rows of integer
-- components (copied without error) rank above them in the copy and
-- below them in truth.  A bound short of Cauchy-Schwarz loses them.
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, embedding)
SELECT 'claude_context', 'c0', 'sk-adv-' || i, 'sk-adv', 'adv',
       ARRAY[127::real] || array(SELECT (floor(random() * 101) - 50 + CASE WHEN i % 2 = 0 THEN 0.49 ELSE 0 END)::real
                                   FROM generate_series(1, 63) WHERE i > 0)
  FROM generate_series(1, 2000) i;
CREATE TEMP TABLE adv_qs AS
SELECT i, array(SELECT (1 + random() * 0.1)::real FROM generate_series(1, 64) WHERE i > 0) AS q
  FROM generate_series(1, 10) i;
GRANT SELECT ON adv_qs TO PUBLIC;
-- Queries: near the centres, one equal to the duplicated embedding.
CREATE TEMP TABLE qs AS
SELECT i, CASE WHEN i = 1 THEN (SELECT v FROM centres WHERE c = 5)
               ELSE (SELECT array_agg((x + (random() - 0.5) * 0.8)::real) FROM unnest((SELECT v FROM centres WHERE c = 1 + i % 20)) x)
          END AS q
  FROM generate_series(1, 40) i;
GRANT SELECT ON qs, centres TO PUBLIC;

-- The plain exact path (search_chunks_exact's query) and search_chunks, as text.
CREATE FUNCTION pg_temp.plain(q real[], k integer, p text, coll text DEFAULT NULL, f jsonb DEFAULT NULL,
                              ms real DEFAULT NULL)
RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(t.id || ':' || (1 - t.d)::text, ',' ORDER BY t.d, t.id), '')
      FROM (SELECT c.id, unified.cosine_distance(c.embedding, q) AS d FROM unified.chunks c
             WHERE cardinality(c.embedding) = cardinality(q) AND c.project_id = p
               AND (coll IS NULL OR c.source_collection = coll) AND (f IS NULL OR c.metadata @> f)
             ORDER BY d, c.id LIMIT k) t
     WHERE t.d <> 'NaN' AND (ms IS NULL OR 1 - t.d >= ms)
$$;
CREATE FUNCTION pg_temp.fast(q real[], k integer, p text, coll text DEFAULT NULL, f jsonb DEFAULT NULL,
                             ms real DEFAULT NULL)
RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(s.id || ':' || s.score::text, ',' ORDER BY s.n), '')
      FROM unified.search_chunks(q, k, p, NULL, coll, f, ms) WITH ORDINALITY
           AS s(id, source, source_collection, source_id, project_id, cognee_dataset_id, content,
                relative_path, start_line, end_line, file_extension, metadata, score, n)
$$;
-- The queries whose answers differ.
CREATE FUNCTION pg_temp.differ(k integer, p text, coll text DEFAULT NULL, f jsonb DEFAULT NULL, ms real DEFAULT NULL,
                               queries integer DEFAULT 40)
RETURNS SETOF integer LANGUAGE sql AS $$
    SELECT i FROM qs WHERE i <= queries
       AND pg_temp.fast(q, k, p, coll, f, ms) IS DISTINCT FROM pg_temp.plain(q, k, p, coll, f, ms)
$$;
CREATE FUNCTION pg_temp.sketch_scans()
RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(sum(pg_stat_get_xact_numscans(i.inhrelid)), 0)::bigint FROM pg_inherits i
     WHERE i.inhparent = 'unified.chunks_project_sketch_idx'::regclass
$$;

SELECT is((SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE c.relkind = 'r' AND c.relnamespace = 'unified'::regnamespace
              AND i.inhparent = 'unified.chunks'::regclass
              AND NOT EXISTS (SELECT FROM pg_index x JOIN pg_inherits xi ON xi.inhrelid = x.indexrelid
                               WHERE x.indrelid = c.oid
                                 AND xi.inhparent = 'unified.chunks_project_sketch_idx'::regclass)),
          0::bigint, 'every partition has its part of chunks_project_sketch_idx');

SET ROLE tap_s_claude;
CREATE TEMP TABLE scans_before AS SELECT pg_temp.sketch_scans() AS n;
SELECT is_empty($$SELECT pg_temp.differ(10, 'sk-a')$$, '40 queries, k = 10: the plain path''s rows, scores and order');
SELECT ok(pg_temp.sketch_scans() > (SELECT n FROM scans_before), 'they were answered through the sketch index');
SELECT is_empty($$SELECT pg_temp.differ(1, 'sk-a')$$, 'k = 1');
SELECT is_empty($$SELECT pg_temp.differ(100, 'sk-a')$$, 'k = 100');
SELECT is_empty($$SELECT pg_temp.differ(5000, 'sk-a', queries => 3)$$, 'k larger than the project: every row, the odd ones included');
SELECT is((SELECT count(*) FROM unified.search_chunks((SELECT q FROM qs WHERE i = 2), 5000, 'sk-a')),
          (SELECT count(*) FROM unified.chunks c, qs WHERE qs.i = 2 AND c.project_id = 'sk-a'
              AND cardinality(c.embedding) = 64 AND unified.cosine_distance(c.embedding, qs.q) <> 'NaN'),
          'k larger than the project: all its rankable rows (not norm zero, not 32 or no dimensions)');
SELECT is_empty($$SELECT pg_temp.differ(10, 'sk-a', 'c1')$$, 'filter on source_collection');
SELECT is_empty($$SELECT pg_temp.differ(10, 'sk-a', NULL, '{"bucket": 3}')$$, 'filter on metadata (one row in seven)');
SELECT is_empty($$SELECT pg_temp.differ(10, 'sk-a', NULL, '{"bucket": 99}')$$, 'a filter nothing passes');
SELECT is_empty($$SELECT pg_temp.differ(20, 'sk-a', NULL, NULL, 0.6)$$, 'min_score');
SELECT is((SELECT array_agg(source_id ORDER BY n) FROM unified.search_chunks((SELECT q FROM qs WHERE i = 1), 2, 'sk-a')
              WITH ORDINALITY AS s(id, source, source_collection, source_id, project_id, cognee_dataset_id, content,
                                   relative_path, start_line, end_line, file_extension, metadata, score, n)),
          ARRAY['sk-a-dup1', 'sk-a-dup2'], 'a tie is broken by id, as in the plain path');
SELECT is_empty($$SELECT pg_temp.differ(10, 'sk-tie')$$, '400 near ties (within 1e-6): still exact');
SELECT is_empty($$SELECT i FROM adv_qs WHERE pg_temp.fast(q, 10, 'sk-adv') IS DISTINCT FROM pg_temp.plain(q, 10, 'sk-adv')$$,
                'residuals along the query (the worst case of the bound): still exact');
SELECT ok((SELECT count(*) FROM adv_qs, unified.search_chunks(adv_qs.q, 10, 'sk-adv') s WHERE s.source_id ~ '[02468]$') > 0,
          'and the rows the copy underestimates are among the answers');
SELECT is_empty($$SELECT pg_temp.differ(10, 'sk-none')$$, 'a project without chunks: nothing');
CREATE TEMP TABLE scans_on AS SELECT pg_temp.sketch_scans() AS n;
SET unified_pg.sketch_search = off;
SELECT is_empty($$SELECT pg_temp.differ(10, 'sk-a', queries => 5)$$, 'unified_pg.sketch_search = off: the same answers');
SELECT is(pg_temp.sketch_scans(), (SELECT n FROM scans_on), 'without reading the sketch index');
RESET unified_pg.sketch_search;
RESET ROLE;

-- Updates (new index entries beside the old ones until VACUUM) and deletes.
UPDATE unified.chunks c SET embedding = (SELECT array_agg(x * -1) FROM unnest(c.embedding) x)
 WHERE c.project_id = 'sk-a' AND c.source_id LIKE 'sk-a-1%';
DELETE FROM unified.chunks c WHERE c.project_id = 'sk-a' AND c.source_id LIKE 'sk-a-2%';
SET ROLE tap_s_claude;
SELECT is_empty($$SELECT pg_temp.differ(10, 'sk-a')$$, 'after updates and deletes');
SELECT is((SELECT count(*) - count(DISTINCT id) FROM unified.search_chunks((SELECT q FROM qs WHERE i = 3), 5000, 'sk-a')),
          0::bigint, 'a row reached through an old and a new index entry is returned once');
RESET ROLE;

-- Row-level security: nothing of another tenant's project, through any path.
SET ROLE tap_s_scoped;
SELECT is((SELECT count(*) FROM unified.search_chunks((SELECT q FROM qs WHERE i = 2), 10, 'sk-a')), 0::bigint,
          'a role scoped to sk-b finds nothing in sk-a');
SELECT is_empty($$SELECT pg_temp.differ(10, 'sk-b')$$, 'and exactly the plain path''s rows in its own project');
RESET ROLE;
SET ROLE tap_s_cognee;
SELECT is((SELECT count(*) FROM unified.search_chunks((SELECT q FROM qs WHERE i = 2), 10, 'sk-a')), 0::bigint,
          'Cognee finds nothing in a Claude-Context project');
RESET ROLE;
SET ROLE tap_s_nobody;
SELECT throws_ok($$SELECT * FROM unified.search_chunks_sketch('{1,0}', 10, 'sk-a', NULL, NULL, NULL)$$, '42501', NULL,
                 'a role in no group cannot call the sketch search');
RESET ROLE;

-- Embeddings of more than 2,000 dimensions are not in the index; the plain path answers.
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, embedding)
SELECT 'claude_context', 'c0', 'sk-big-' || i, 'sk-big', 'big',
       array(SELECT (random() - 0.5)::real FROM generate_series(1, 2001) WHERE i > 0)
  FROM generate_series(1, 30) i;
SELECT is(pg_temp.fast(array_fill(0.1::real, ARRAY[2001]), 5, 'sk-big'),
          pg_temp.plain(array_fill(0.1::real, ARRAY[2001]), 5, 'sk-big'), '2,001 dimensions: the plain path');

-- unified.embedding_sketch itself.
SELECT is(length(unified.embedding_sketch((SELECT v FROM centres WHERE c = 1))), 12 + 64,
          'a sketch is 12 bytes and one byte per dimension');
SELECT is(ARRAY[get_byte(unified.embedding_sketch(array_fill(0::real, ARRAY[8])), 1),
                get_byte(unified.embedding_sketch(array_fill(1e18::real, ARRAY[8])), 1),
                get_byte(unified.embedding_sketch(array_fill(1::real, ARRAY[8])), 1)],
          ARRAY[1, 1, 0], 'norm zero and magnitudes a float''s square cannot hold have no bound (always candidates)');
SELECT throws_ok($$SELECT unified.embedding_sketch(array_fill(1::real, ARRAY[2001]))$$, '54000', NULL,
                 'more than 2,000 dimensions: refused');
SELECT throws_ok($$SELECT unified.embedding_sketch('{{1,2},{3,4}}')$$, '2202E', NULL, 'a matrix: refused');
SELECT throws_ok($$SELECT unified.embedding_sketch('{1,NULL}')$$, '22004', NULL, 'a NULL element: refused');

SELECT * FROM finish();
ROLLBACK;
