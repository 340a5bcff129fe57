-- The operations under row-level security and tenant grants: an
-- application cannot upsert into the other's space, a tenant-scoped role
-- cannot update (or learn the content of) another tenant's row by its key,
-- and searches and deletes see only what the caller may see.
BEGIN;
SELECT plan(12);

CREATE ROLE tap_o_claude LOGIN IN ROLE claude_user;
CREATE ROLE tap_o_scoped LOGIN IN ROLE claude_user;
CREATE ROLE tap_o_cognee LOGIN IN ROLE cognee_user;
SELECT unified.grant_project('tap_o_scoped', 'proj-o-mine') AS setup;

INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, relative_path, embedding)
VALUES ('claude_context', 'cc', 'o-mine', 'proj-o-mine', 'mine', 'm.py', '{1,0}'),
       ('claude_context', 'cc', 'o-theirs', 'proj-o-theirs', 'theirs', 't.py', '{1,0.1}');
INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id, content, embedding)
VALUES ('cognee', 'DocumentChunk_text', 'o-mem', '00000000-0000-0000-0000-0000000000c1', 'memory', '{1,0.05}');
CREATE TEMP TABLE before AS
SELECT string_agg(source_id || '=' || content || '@' || coalesce(project_id, cognee_dataset_id::text), ',' ORDER BY source_id) AS s
  FROM unified.chunks WHERE source_id LIKE 'o-%';
GRANT SELECT ON before TO PUBLIC;

SET ROLE tap_o_claude;
SELECT throws_ok($$SELECT * FROM unified.upsert_chunks('[{"source": "cognee", "source_collection": "DocumentChunk_text", "source_id": "o-mem", "cognee_dataset_id": "00000000-0000-0000-0000-0000000000c1", "content": "overwritten"}]')$$,
    '42501', NULL, 'a Claude-Context role cannot upsert into Cognee''s space (existing key)');
SELECT throws_ok($$SELECT * FROM unified.upsert_chunks('[{"source": "cognee", "source_id": "o-new", "cognee_dataset_id": "00000000-0000-0000-0000-0000000000c1", "content": "planted"}]')$$,
    '42501', NULL, 'nor with a new key');
SELECT throws_ok($$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "o-shared", "project_id": "proj-o-mine", "cognee_dataset_id": "00000000-0000-0000-0000-0000000000c1", "content": "shared"}]')$$,
    '42501', NULL, 'nor create a shared row');
RESET ROLE;

SET ROLE tap_o_scoped;
SELECT throws_ok($$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_collection": "cc", "source_id": "o-theirs", "project_id": "proj-o-mine", "content": "stolen"}]')$$,
    '23505', NULL, 'a scoped role cannot update another tenant''s row by its key, even moving it into its own project');
SELECT throws_ok($$SELECT * FROM unified.upsert_chunks('[{"source": "claude_context", "source_collection": "cc", "source_id": "o-theirs", "project_id": "proj-o-theirs", "content": "stolen"}]')$$,
    '42501', NULL, 'nor write into the other project');
SELECT is((SELECT u.updated FROM unified.upsert_chunks('[{"source": "claude_context", "source_collection": "cc", "source_id": "o-mine", "project_id": "proj-o-mine", "content": "mine v2", "relative_path": "m.py"}]') u),
    1::bigint, 'its own row is updated in place');
SELECT is((SELECT array_agg(source_id ORDER BY score DESC) FROM unified.search_chunks('{1,0}', 10)),
    ARRAY['o-mine'], 'search_chunks returns only the rows of its project');
SELECT is((SELECT array_agg(source_id) FROM unified.hybrid_search('{1,0}', 'theirs memory mine', 10)),
    ARRAY['o-mine'], 'hybrid_search too');
SELECT is(unified.delete_file_chunks('proj-o-theirs', 't.py'), 0::bigint, 'delete_file_chunks cannot delete another tenant''s file');
SELECT is(unified.delete_chunks('claude_context', 'cc', ARRAY['o-theirs']), 0::bigint, 'delete_chunks cannot delete another tenant''s chunk');
RESET ROLE;

SET ROLE tap_o_cognee;
SELECT is((SELECT array_agg(source_id) FROM unified.search_chunks('{1,0}', 10)), ARRAY['o-mem'],
    'Cognee searches only its own rows');
RESET ROLE;

SELECT is((SELECT string_agg(source_id || '=' || content || '@' || coalesce(project_id, cognee_dataset_id::text), ',' ORDER BY source_id)
             FROM unified.chunks WHERE source_id LIKE 'o-%'),
          replace((SELECT s FROM before), 'o-mine=mine@', 'o-mine=mine v2@'),
          'nothing else was written');

SELECT * FROM finish();
ROLLBACK;
