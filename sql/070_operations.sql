-- The applications' operations: upsert_chunks, deletes, updated_at,
-- cosine_distance, search_chunks (exact), hybrid_search.
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE ROLE reg_ops_claude IN ROLE claude_user;
CREATE ROLE reg_ops_cognee IN ROLE cognee_user;

-- cosine_distance: values, NaN for a zero vector, refusals
SELECT round(unified.cosine_distance('{1,0}', '{0,1}')::numeric, 6) AS orthogonal,
       round(unified.cosine_distance('{1,2,3}', '{2,4,6}')::numeric, 6) AS parallel,
       round(unified.cosine_distance('{1,0}', '{-1,0}')::numeric, 6) AS opposite,
       unified.cosine_distance('{0,0}', '{1,0}') AS zero;
SELECT unified.cosine_distance('{1,0}', '{1,0,0}');
SELECT unified.cosine_distance('{1,NULL}', '{1,0}');
SELECT unified.cosine_distance('{{1,0},{0,1}}', '{1,0,0,1}');
-- the C kernel agrees with the textbook formula on 768 dimensions
SELECT abs(unified.cosine_distance(a, b)
           - (1 - (SELECT sum(x * y) FROM unnest(a, b) AS t(x, y))
                  / sqrt((SELECT sum(x * x) FROM unnest(a) x) * (SELECT sum(y * y) FROM unnest(b) y)))) < 1e-5 AS kernel_ok
  FROM (SELECT ARRAY(SELECT sin(i)::real FROM generate_series(1, 768) i) AS a,
               ARRAY(SELECT cos(i * 0.7)::real FROM generate_series(1, 768) i) AS b) v;

-- upsert_chunks as Claude-Context: inserted, then updated, idempotent
SET ROLE reg_ops_claude;
SELECT * FROM unified.upsert_chunks($$[
  {"source": "claude_context", "source_collection": "code_chunks_1", "source_id": "chunk_a", "project_id": "proj-ops",
   "content": "def parse_config(path): return load(path)", "relative_path": "src/config.py",
   "start_line": 1, "end_line": 2, "file_extension": ".py", "embedding": [1, 0, 0], "metadata": {"lang": "py"}},
  {"source": "claude_context", "source_collection": "code_chunks_1", "source_id": "chunk_b", "project_id": "proj-ops",
   "content": "def save_config(path, cfg): dump(cfg, path)", "relative_path": "src/config.py",
   "start_line": 4, "end_line": 5, "file_extension": ".py", "embedding": [0.9, 0.1, 0], "metadata": {"lang": "py"}},
  {"source": "claude_context", "source_collection": "code_chunks_1", "source_id": "chunk_c", "project_id": "proj-ops",
   "content": "function renderPage() { return html; }", "relative_path": "web/page.ts",
   "start_line": 1, "end_line": 1, "file_extension": ".ts", "embedding": [0, 1, 0], "metadata": {"lang": "ts"}}
]$$);
SELECT * FROM unified.upsert_chunks($$[
  {"source": "claude_context", "source_collection": "code_chunks_1", "source_id": "chunk_a", "project_id": "proj-ops",
   "content": "def parse_config(path): return load(path)", "relative_path": "src/config.py",
   "start_line": 1, "end_line": 2, "file_extension": ".py", "embedding": [1, 0, 0], "metadata": {"lang": "py"}},
  {"source": "claude_context", "source_collection": "code_chunks_1", "source_id": "chunk_d", "project_id": "proj-ops",
   "content": "SELECT * FROM users WHERE id = $1", "relative_path": "db/users.sql",
   "start_line": 1, "end_line": 1, "file_extension": ".sql", "embedding": [0, 0, 1]}
]$$);
-- a key left out keeps its stored value; updated_at moves only on update
SELECT * FROM unified.upsert_chunks($$[
  {"source": "claude_context", "source_collection": "code_chunks_1", "source_id": "chunk_b", "project_id": "proj-ops",
   "content": "def save_config(path, cfg): dump(cfg, path)  # v2"}]$$);
RESET ROLE;
SELECT source_id, content, relative_path, start_line, embedding, metadata
  FROM unified.chunks WHERE project_id = 'proj-ops' ORDER BY source_id;
SELECT count(*) AS keys FROM unified.chunk_keys WHERE source_collection = 'code_chunks_1';

-- the embedding may also be a JSON string in pgvector's text form, which is
-- much cheaper to parse than a JSON array of numbers
SET ROLE reg_ops_claude;
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_collection": "code_chunks_1", "source_id": "chunk_e", "project_id": "proj-ops", "content": "e", "embedding": "[0.5, -0.25,1e-3]"}]');
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_collection": "code_chunks_1", "source_id": "chunk_e", "project_id": "proj-ops", "content": "e", "embedding": "[0.5, x]"}]');
RESET ROLE;
SELECT embedding FROM unified.chunks WHERE source_id = 'chunk_e';

-- updated_at: maintained by plain UPDATE too (the transaction's time), kept
-- when the UPDATE sets it itself
UPDATE unified.chunks SET updated_at = '2001-01-01 00:00:00+00' WHERE project_id = 'proj-ops';
CREATE TEMP TABLE mark AS SELECT clock_timestamp() AS t;
UPDATE unified.chunks SET content = content || ' ' WHERE source_id = 'chunk_c';
SELECT source_id, updated_at > (SELECT t FROM mark) AS touched, updated_at = '2001-01-01 00:00:00+00' AS kept
  FROM unified.chunks WHERE project_id = 'proj-ops' ORDER BY source_id;
SET ROLE reg_ops_claude;
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_collection": "code_chunks_1", "source_id": "chunk_d", "project_id": "proj-ops", "content": "SELECT * FROM users WHERE id = $1"}]');
RESET ROLE;
SELECT source_id, updated_at > (SELECT t FROM mark) AS touched FROM unified.chunks WHERE source_id IN ('chunk_a', 'chunk_d') ORDER BY 1;

-- Cognee's belongs_to_set union (metadata_union), and plain replacement
SET ROLE reg_ops_cognee;
SELECT * FROM unified.upsert_chunks($$[
  {"source": "cognee", "source_collection": "DocumentChunk_text", "source_id": "7d3a0000-0000-0000-0000-000000000001",
   "cognee_dataset_id": "aaaaaaaa-0000-0000-0000-000000000001", "content": "Alice met Bob in Paris",
   "embedding": [0.5, 0.5, 0], "metadata": {"type": "DocumentChunk", "belongs_to_set": ["travel"]}}]$$);
SELECT * FROM unified.upsert_chunks($$[
  {"source": "cognee", "source_collection": "DocumentChunk_text", "source_id": "7d3a0000-0000-0000-0000-000000000001",
   "cognee_dataset_id": "aaaaaaaa-0000-0000-0000-000000000001", "content": "Alice met Bob in Paris",
   "embedding": [0.5, 0.5, 0], "metadata": {"type": "DocumentChunk", "belongs_to_set": ["people", "travel"]}}]$$,
  metadata_union => ARRAY['belongs_to_set']);
SELECT metadata FROM unified.chunks WHERE source = 'cognee' AND source_collection = 'DocumentChunk_text';
SELECT * FROM unified.upsert_chunks($$[
  {"source": "cognee", "source_collection": "DocumentChunk_text", "source_id": "7d3a0000-0000-0000-0000-000000000001",
   "cognee_dataset_id": "aaaaaaaa-0000-0000-0000-000000000001", "content": "Alice met Bob in Paris",
   "metadata": {"type": "DocumentChunk", "belongs_to_set": ["work"]}}]$$);
SELECT metadata FROM unified.chunks WHERE source = 'cognee' AND source_collection = 'DocumentChunk_text';
-- Cognee cannot write into Claude-Context's space
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "x", "project_id": "proj-ops", "content": "x"}]');
RESET ROLE;

-- hostile JSON: a clear error naming the chunk, nothing written
CREATE TEMP TABLE before AS SELECT count(*) AS n FROM unified.chunks;
SET ROLE reg_ops_claude;
SELECT * FROM unified.upsert_chunks('{"source": "claude_context"}');
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "ok1", "project_id": "proj-ops", "content": "fine"}, {"source": "claude_context", "source_id": "bad", "project_id": "proj-ops"}]');
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "bad", "project_id": "proj-ops", "content": "x", "start_line": "7"}]');
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "bad", "project_id": "proj-ops", "content": "x", "embedding": [1, [2, 3]]}]');
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "bad", "project_id": "proj-ops", "content": "x", "embedding": [1, "NaN"]}]');
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "bad", "project_id": "proj-ops", "content": "x", "embedding": [1, 1e40]}]');
SELECT * FROM unified.upsert_chunks((SELECT jsonb_build_array(jsonb_build_object('source', 'claude_context', 'source_id', 'bad',
    'project_id', 'proj-ops', 'content', 'x', 'embedding', (SELECT jsonb_agg(0.1) FROM generate_series(1, 16001))))));
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "dup", "project_id": "proj-ops", "content": "x"}, {"source": "claude_context", "source_id": "ok2", "project_id": "proj-ops", "content": "y"}, {"source": "claude_context", "source_id": "dup", "project_id": "proj-ops", "content": "z"}]');
SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "bad", "project_id": "proj-ops", "content": "x", "embeding": [1]}]');
RESET ROLE;
SELECT (SELECT count(*) FROM unified.chunks) - n AS written FROM before;

-- exact search: the k nearest, checked against brute force in SQL
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, relative_path, embedding, metadata)
SELECT 'claude_context', 'code_chunks_2', 'gen_' || i, CASE WHEN i % 2 = 0 THEN 'proj-even' ELSE 'proj-odd' END,
       'generated ' || i, 'gen/' || (i % 7) || '.py',
       ARRAY[sin(i)::real, cos(i * 1.3)::real, sin(i * 0.7)::real, cos(i * 0.2)::real],
       jsonb_build_object('bucket', i % 3)
  FROM generate_series(1, 300) i;
-- other dimensions (another model) are not candidates for a 4-dimension query
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, embedding)
VALUES ('claude_context', 'code_chunks_2', 'gen_3d', 'proj-even', 'three dims', '{1,1,1}');
SET ROLE reg_ops_claude;
CREATE TEMP TABLE got AS
SELECT row_number() OVER () AS r, id FROM unified.search_chunks('{0.3,-0.2,0.9,0.1}', 10, 'proj-even', filter => '{"bucket": 1}');
CREATE TEMP TABLE want AS
SELECT row_number() OVER (ORDER BY d, id) AS r, id FROM (
    SELECT id, 1 - (SELECT sum(x * y) FROM unnest(embedding, '{0.3,-0.2,0.9,0.1}'::real[]) t(x, y))
               / sqrt((SELECT sum(x * x) FROM unnest(embedding) x) * (0.09 + 0.04 + 0.81 + 0.01)) AS d
      FROM unified.chunks
     WHERE project_id = 'proj-even' AND metadata @> '{"bucket": 1}' AND cardinality(embedding) = 4
     ORDER BY d, id LIMIT 10) b;
SELECT (SELECT count(*) FROM got) AS k,
       (SELECT count(*) FROM got JOIN want USING (r, id)) AS same_rank_same_row;
SELECT count(*) AS scored_right FROM unified.search_chunks('{0.3,-0.2,0.9,0.1}', 300, 'proj-even') s
  JOIN unified.chunks c USING (id)
 WHERE abs(s.score - (1 - unified.cosine_distance(c.embedding, '{0.3,-0.2,0.9,0.1}'))) < 1e-12
   AND c.project_id = 'proj-even';
SELECT count(*) FROM unified.search_chunks('{1,1,1}', 5);
SELECT count(*) FROM unified.search_chunks('{1,0,0,0}', 5, min_score => 0.99);
SELECT source_id, round(score::numeric, 4) AS score FROM unified.search_chunks('{1,0,0}', 2, source_collection => 'code_chunks_1');
SELECT count(*) FROM unified.search_chunks('{0,0,0,0}');
SELECT count(*) FROM unified.search_chunks('{1,0}', 0);
RESET ROLE;
-- Cognee sees only its own rows
SET ROLE reg_ops_cognee;
SELECT source, round(score::numeric, 4) AS score FROM unified.search_chunks('{1,1,0}', 5);
RESET ROLE;

-- hybrid search: reciprocal-rank fusion of vector and full-text ranks
SET ROLE reg_ops_claude;
SELECT source_id, round(vector_score::numeric, 4) AS vector_score, text_score > 0 AS text_hit,
       round(score::numeric, 6) AS rrf
  FROM unified.hybrid_search('{0,0,1}', 'config path', 4, 'proj-ops');
RESET ROLE;

-- deletes: a file's chunks (re-index), then chunks by id
SET ROLE reg_ops_claude;
SELECT unified.delete_file_chunks('proj-ops', 'src/config.py') AS file_deleted;
SELECT unified.delete_chunks('claude_context', 'code_chunks_1', ARRAY['chunk_c', 'chunk_d', 'chunk_e', 'chunk_none']) AS deleted;
SELECT unified.delete_chunks('cognee', 'DocumentChunk_text', ARRAY['7d3a0000-0000-0000-0000-000000000001']) AS not_mine;
RESET ROLE;
SELECT count(*) AS left_in_project FROM unified.chunks WHERE project_id = 'proj-ops';
SELECT count(*) AS keys_left FROM unified.chunk_keys WHERE source_collection = 'code_chunks_1';

DELETE FROM unified.chunks WHERE source_collection IN ('code_chunks_2', 'DocumentChunk_text');
DROP TABLE got, want;
DROP ROLE reg_ops_claude;
DROP ROLE reg_ops_cognee;
