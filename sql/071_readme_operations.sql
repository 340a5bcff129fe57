-- The SQL examples of README.md's section "The applications' operations",
-- verbatim (pgvector's are in test/pgtap/071_pgvector.sql).
\set VERBOSITY terse
-- Claude-Context: re-index a file, then search a project
SELECT unified.delete_file_chunks('my-project', 'src/app.py');
SELECT * FROM unified.upsert_chunks('[
  {"source": "claude_context", "source_collection": "code_chunks_3f2a9c1b", "source_id": "chunk_9b1f",
   "project_id": "my-project", "content": "def load(path): ...", "relative_path": "src/app.py",
   "start_line": 10, "end_line": 24, "file_extension": ".py", "embedding": "[0.12, -0.03, 0.88]"}]');
SELECT source_id, relative_path, score
  FROM unified.search_chunks('{0.1, 0, 0.9}', k => 10, project_id => 'my-project');
SELECT source_id, score FROM unified.hybrid_search('{0.1, 0, 0.9}', 'load path', 10, 'my-project');

-- Cognee: belongs_to_set is united with the stored sets, not replaced
SELECT * FROM unified.upsert_chunks('[
  {"source": "cognee", "source_collection": "DocumentChunk_text",
   "source_id": "5f0c7c52-7d5e-4a3e-9d3a-000000000001",
   "cognee_dataset_id": "6f1c2d3e-0000-4000-8000-000000000001", "content": "Alice met Bob",
   "embedding": [0.5, 0.5, 0.1], "metadata": {"type": "DocumentChunk", "belongs_to_set": ["people"]}}]',
  metadata_union => ARRAY['belongs_to_set']);
SELECT source_id, score FROM unified.search_chunks('{0.5, 0.4, 0.1}', 15,
    cognee_dataset_id => '6f1c2d3e-0000-4000-8000-000000000001',
    filter => '{"belongs_to_set": ["people"]}');
SELECT unified.delete_chunks('cognee', 'DocumentChunk_text', ARRAY['5f0c7c52-7d5e-4a3e-9d3a-000000000001']);
SELECT count(*) AS left_over FROM unified.chunks WHERE project_id = 'my-project' OR cognee_dataset_id = '6f1c2d3e-0000-4000-8000-000000000001';
DELETE FROM unified.chunks WHERE project_id = 'my-project';
