-- unified.chunks: what it accepts and what it refuses.  Every refused
-- statement leaves the table as it was.
\set VERBOSITY terse
\set SHOW_CONTEXT never
CREATE TEMP TABLE before_counts AS
SELECT (SELECT count(*) FROM unified.chunks) AS chunks,
       (SELECT count(*) FROM unified.chunk_keys) AS keys;

-- A Claude-Context chunk, a Cognee chunk and a shared one.
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content,
                            relative_path, start_line, end_line, file_extension, embedding)
VALUES ('claude_context', 'code_chunks', 'chunk_0123456789abcdef', 'proj-a', 'def f(): pass',
        'src/a.py', 1, 3, '.py', '{0.1,0.2,0.3}');
INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id, content, metadata)
VALUES ('cognee', 'DocumentChunk_text', '5f0c7c52-7d5e-4a3e-9d3a-000000000001',
        '11111111-1111-1111-1111-111111111111', 'a memory', '{"type": "DocumentChunk"}');
INSERT INTO unified.chunks (source, source_id, project_id, cognee_dataset_id, content)
VALUES ('claude_context', 'chunk_shared', 'proj-a', '11111111-1111-1111-1111-111111111111', 'both');

SELECT source, source_id, project_id IS NOT NULL AS claude, cognee_dataset_id IS NOT NULL AS cognee,
       encode(content_hash, 'hex') = encode(sha256(convert_to(content, 'UTF8')), 'hex') AS hash_ok
  FROM unified.chunks ORDER BY source, source_id;

-- Rows land in the partition of their UTC month; unknown months in the default.
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
VALUES ('claude_context', 'chunk_old', 'proj-a', 'old', '2019-03-04 05:06:07+00');
SELECT tableoid::regclass AS partition FROM unified.chunks WHERE source_id = 'chunk_old';

-- (created_at routes refused rows to the default partition, so the
-- messages name a fixed relation.)
-- Refused: neither project_id nor cognee_dataset_id.
INSERT INTO unified.chunks (source, source_id, content, created_at) VALUES ('claude_context', 'x1', 'c', '2019-01-01 00:00:00+00');
-- Refused: unknown source, and a source without its application's id.
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at) VALUES ('evil', 'x2', 'p', 'c', '2019-01-01 00:00:00+00');
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at) VALUES ('cognee', 'x3', 'p', 'c', '2019-01-01 00:00:00+00');
-- Refused: NULL content, empty project, empty source_id, absurd source_id.
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at) VALUES ('claude_context', 'x4', 'p', NULL, '2019-01-01 00:00:00+00');
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at) VALUES ('claude_context', 'x5', '', 'c', '2019-01-01 00:00:00+00');
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at) VALUES ('claude_context', '', 'p', 'c', '2019-01-01 00:00:00+00');
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at) VALUES ('claude_context', repeat('x', 2000), 'p', 'c', '2019-01-01 00:00:00+00');
-- Refused: bad lines, embeddings and metadata.
INSERT INTO unified.chunks (source, source_id, project_id, content, start_line, end_line, created_at) VALUES ('claude_context', 'x6', 'p', 'c', 10, 2, '2019-01-01 00:00:00+00');
INSERT INTO unified.chunks (source, source_id, project_id, content, embedding, created_at) VALUES ('claude_context', 'x7', 'p', 'c', '{{1,2},{3,4}}', '2019-01-01 00:00:00+00');
INSERT INTO unified.chunks (source, source_id, project_id, content, embedding, created_at) VALUES ('claude_context', 'x8', 'p', 'c', '{1,NULL}', '2019-01-01 00:00:00+00');
INSERT INTO unified.chunks (source, source_id, project_id, content, embedding, created_at) VALUES ('claude_context', 'x8n', 'p', 'c', '{1,NaN}', '2019-01-01 00:00:00+00');
INSERT INTO unified.chunks (source, source_id, project_id, content, embedding, created_at) VALUES ('claude_context', 'x8i', 'p', 'c', '{-Infinity,1}', '2019-01-01 00:00:00+00');
INSERT INTO unified.chunks (source, source_id, project_id, content, metadata, created_at) VALUES ('claude_context', 'x9', 'p', 'c', '[1,2]', '2019-01-01 00:00:00+00');
-- Refused: wrong types.
INSERT INTO unified.chunks (source, source_id, cognee_dataset_id, content, created_at) VALUES ('cognee', 'x10', 'not-a-uuid', 'c', '2019-01-01 00:00:00+00');
INSERT INTO unified.chunks (source, source_id, project_id, content, start_line, created_at) VALUES ('claude_context', 'x11', 'p', 'c', 'one', '2019-01-01 00:00:00+00');

\set VERBOSITY default
-- Refused: a duplicate source row, against a stored row ...
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content)
VALUES ('claude_context', 'code_chunks', 'chunk_0123456789abcdef', 'proj-b', 'again');
-- ... within one statement, even when the first copy is new ...
INSERT INTO unified.chunks (source, source_id, project_id, content)
VALUES ('claude_context', 'chunk_new', 'p', 'one'), ('claude_context', 'chunk_new', 'p', 'two');
-- ... and in another month's partition.
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, created_at)
VALUES ('claude_context', 'code_chunks', 'chunk_0123456789abcdef', 'proj-a', 'again', now() + interval '1 month');
-- ... and against a row stored earlier in the same transaction, inside a
-- savepoint: the key named is the stored one.
BEGIN;
INSERT INTO unified.chunks (source, source_id, project_id, content)
VALUES ('claude_context', 'chunk_same_tx', 'p', 'first');
SAVEPOINT s;
INSERT INTO unified.chunks (source, source_id, project_id, content)
VALUES ('claude_context', 'chunk_fresh', 'p', 'new'), ('claude_context', 'chunk_same_tx', 'p', 'second');
ROLLBACK TO SAVEPOINT s;
SELECT source_id FROM unified.chunks WHERE source_id IN ('chunk_same_tx', 'chunk_fresh');
ROLLBACK;
\set VERBOSITY terse
-- The same source_id in another collection or application is a different row.
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content)
VALUES ('claude_context', 'other_collection', 'chunk_0123456789abcdef', 'proj-a', 'fine');

-- Refused: changing a row's identity.  Other updates, including moving a
-- row to another month, are fine.
UPDATE unified.chunks SET source_id = 'renamed' WHERE source_id = 'chunk_old';
UPDATE unified.chunks SET created_at = now(), content = 'moved' WHERE source_id = 'chunk_old';
SELECT tableoid::regclass = format('unified.chunks_%s', to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM'))::regclass AS moved_to_current
  FROM unified.chunks WHERE source_id = 'chunk_old';

-- Deleting a file's chunks frees their keys; they can be inserted again.
DELETE FROM unified.chunks WHERE project_id = 'proj-a' AND relative_path = 'src/a.py';
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, relative_path)
VALUES ('claude_context', 'code_chunks', 'chunk_0123456789abcdef', 'proj-a', 'def f(): return 1', 'src/a.py');

-- The key table always matches the chunks.
SELECT (SELECT count(*) FROM unified.chunks) AS chunks, (SELECT count(*) FROM unified.chunk_keys) AS keys,
       NOT EXISTS (SELECT source, source_collection, source_id FROM unified.chunks
                   EXCEPT SELECT source, source_collection, source_id FROM unified.chunk_keys) AS no_missing_key,
       NOT EXISTS (SELECT source, source_collection, source_id FROM unified.chunk_keys
                   EXCEPT SELECT source, source_collection, source_id FROM unified.chunks) AS no_orphan_key;

-- An application role, with rights on unified.chunks alone, keeps the keys
-- in step: the key triggers work as the table's owner.  An operator
-- planted earlier on the caller's search_path is not picked up by them.
CREATE ROLE regress_chunk_writer IN ROLE claude_user;
CREATE SCHEMA regress_evil AUTHORIZATION regress_chunk_writer;
SET ROLE regress_chunk_writer;
CREATE FUNCTION regress_evil.always_equal(text, text) RETURNS boolean
    LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR regress_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_evil.always_equal);
SET search_path = regress_evil, pg_catalog, public;
INSERT INTO unified.chunks (source, source_id, project_id, content)
VALUES ('claude_context', 'w1', 'p', 'x'), ('claude_context', 'w2', 'p', 'y');
INSERT INTO unified.chunks (source, source_id, project_id, content)
VALUES ('claude_context', 'w1', 'p', 'again');
DELETE FROM unified.chunks WHERE source_id OPERATOR(pg_catalog.=) 'w1';
SELECT * FROM unified.chunk_keys;
RESET search_path;
RESET ROLE;
SELECT source_id FROM unified.chunk_keys WHERE source_id IN ('w1', 'w2') ORDER BY 1;
DELETE FROM unified.chunks WHERE source_id = 'w2';
DROP SCHEMA regress_evil CASCADE;
DROP ROLE regress_chunk_writer;

-- TRUNCATE clears both; the state is as before the test.
TRUNCATE unified.chunks;
SELECT (SELECT count(*) FROM unified.chunks) = chunks AND (SELECT count(*) FROM unified.chunk_keys) = keys AS restored
  FROM before_counts;
