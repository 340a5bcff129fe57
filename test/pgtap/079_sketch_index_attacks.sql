-- The sketch search (src/sketch.c) against what an operator or a legal
-- chunk can do to chunks_project_sketch_idx:
--  * a chunk the table's constraints accept (project_id of 256 characters,
--    2,000 dimensions) must still be storable: the index entry, project_id
--    included, has to fit a btree page's third, and a 256-character
--    project_id is up to 1,024 bytes (random CJK text does not compress);
--  * an index of that name whose definition differs (here: a narrower
--    partial predicate, as an operator recreating the index to save space
--    might write) must not be read as if it held every chunk of the
--    project: the search would prove an empty or partial answer.
BEGIN;
SELECT plan(3);

SELECT setseed(0.1) AS setup;
SELECT lives_ok($$
    INSERT INTO unified.chunks (source, source_id, project_id, content, embedding)
    VALUES ('claude_context', 'sk79-long',
            (SELECT string_agg(chr(19968 + (random() * 20000)::int), '') FROM generate_series(1, 256)),
            'long project id', array(SELECT random()::real FROM generate_series(1, 2000)))
$$, 'a chunk with a 256-character project_id and 2,000 dimensions can be stored');

INSERT INTO unified.chunks (source, source_id, project_id, content, embedding)
SELECT 'claude_context', 'sk79-' || i, 'sk79', 'c' || i,
       array(SELECT (random() - 0.5)::real FROM generate_series(1, 16) WHERE i > 0)
  FROM generate_series(1, 200) i;

CREATE FUNCTION pg_temp.plain(q real[], k integer, p text)
RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(t.id || ':' || (1 - t.d)::text, ',' ORDER BY t.d, t.id), '')
      FROM (SELECT c.id, unified.cosine_distance(c.embedding, q) AS d FROM unified.chunks c
             WHERE cardinality(c.embedding) = cardinality(q) AND c.project_id = p
             ORDER BY d, c.id LIMIT k) t
     WHERE t.d <> 'NaN'
$$;
CREATE FUNCTION pg_temp.fast(q real[], k integer, p text)
RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(s.id || ':' || s.score::text, ',' ORDER BY s.n), '')
      FROM unified.search_chunks(q, k, p) WITH ORDINALITY
           AS s(id, source, source_collection, source_id, project_id, cognee_dataset_id, content,
                relative_path, start_line, end_line, file_extension, metadata, score, n)
$$;

SELECT is(pg_temp.fast(array_fill(0.1::real, ARRAY[16]), 5, 'sk79'),
          pg_temp.plain(array_fill(0.1::real, ARRAY[16]), 5, 'sk79'), 'the index as installed: the plain path''s answer');

-- The same name, the same columns and types, a narrower predicate.
DROP INDEX unified.chunks_project_sketch_idx;
CREATE INDEX chunks_project_sketch_idx ON unified.chunks
    (project_id, id, unified.embedding_sketch(embedding)) INCLUDE (created_at)
    WHERE project_id IS NOT NULL AND pg_catalog.cardinality(embedding) <= 8;
SELECT is(pg_temp.fast(array_fill(0.1::real, ARRAY[16]), 5, 'sk79'),
          pg_temp.plain(array_fill(0.1::real, ARRAY[16]), 5, 'sk79'),
          'an index of that name without the 16-dimension chunks: still the plain path''s answer');

SELECT * FROM finish();
ROLLBACK;
