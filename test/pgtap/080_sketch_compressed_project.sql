-- unified.search_chunks_sketch decides whether chunks_project_sketch_idx can
-- hold the project's chunks (its predicate: octet_length(project_id) plus
-- the dimensions at most 2,600) from the project argument's size as it
-- arrives, VARSIZE_ANY_EXHDR of a datum it does not detoast.  A project_id
-- read from a table where it is stored compressed inline (a 256-character
-- name of 3-byte characters, 768 bytes, compresses to a few bytes) passes
-- that check although the project's 1,900-dimension chunks are not in the
-- index (768 + 1,900 > 2,600); the index then has no entry of the project,
-- and the search proves an empty answer.  The function is granted to the
-- applications' roles and called as search_chunks' inner step; called
-- directly with a column as its argument it returns nothing instead of the
-- project's nearest chunks.
BEGIN;
SELECT plan(3);

INSERT INTO unified.chunks (source, source_id, project_id, content, embedding)
SELECT 'claude_context', 'sk80-' || i, repeat('€', 256), 'c' || i,
       array_fill(i::real, ARRAY[1900])
  FROM generate_series(1, 5) i;

-- a table that stores the project name compressed inline (MAIN, in a row over 2 kB)
CREATE TEMP TABLE projs (p text, pad text);
ALTER TABLE projs ALTER p SET STORAGE MAIN, ALTER pad SET STORAGE PLAIN;
INSERT INTO projs SELECT repeat('€', 256), (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 60) g);

SELECT ok((SELECT pg_column_size(p) < octet_length(p) FROM projs),
          'the project name is stored compressed in the caller''s table');
SELECT is((SELECT count(*)::integer FROM unified.search_chunks_sketch(array_fill(1::real, ARRAY[1900]), 3,
                                                                     repeat('€', 256), NULL, NULL, NULL)),
          3, 'a literal project name: the project''s three nearest chunks');
SELECT is((SELECT count(*)::integer FROM projs, unified.search_chunks_sketch(array_fill(1::real, ARRAY[1900]), 3,
                                                                            projs.p, NULL, NULL, NULL)),
          3, 'the same name read from a table where it is compressed: the same three chunks');

SELECT * FROM finish();
ROLLBACK;
