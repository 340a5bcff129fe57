-- Structure of the shared storage: columns, constraints, partitions, roles.
BEGIN;
SELECT plan(24);

SELECT has_schema('unified');
SELECT has_table('unified', 'chunks', 'unified.chunks exists');
SELECT is(
    (SELECT relkind::text FROM pg_class WHERE oid = 'unified.chunks'::regclass), 'p',
    'unified.chunks is partitioned');
SELECT columns_are('unified', 'chunks', ARRAY[
    'id', 'source', 'source_collection', 'source_id', 'project_id', 'cognee_dataset_id',
    'content', 'content_hash', 'relative_path', 'start_line', 'end_line', 'file_extension',
    'chunk_index', 'embedding', 'embedding_model', 'metadata', 'migration_id',
    'created_at', 'updated_at', 'content_tsv']);
SELECT col_type_is('unified', 'chunks', 'project_id', 'text', 'project_id is text');
SELECT col_type_is('unified', 'chunks', 'cognee_dataset_id', 'uuid', 'cognee_dataset_id is uuid');
SELECT col_type_is('unified', 'chunks', 'embedding', 'real[]', 'embedding is real[]');
SELECT col_type_is('unified', 'chunks', 'metadata', 'jsonb', 'metadata is jsonb');
SELECT col_not_null('unified', 'chunks', 'content', 'content is NOT NULL');
SELECT col_not_null('unified', 'chunks', 'created_at', 'created_at is NOT NULL');
SELECT has_pk('unified', 'chunks', 'unified.chunks has a primary key');
SELECT has_check('unified', 'chunks', 'unified.chunks has check constraints');
SELECT has_table('unified', 'chunks_default', 'default partition exists');
SELECT is(
    (SELECT count(*)::int FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'unified.chunks'::regclass
        AND c.relname = 'chunks_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')),
    1, 'the current month has a partition');
SELECT has_table('unified', 'transaction_log', 'transaction log exists');
SELECT has_pk('unified', 'transaction_log', 'transaction log has a primary key');

-- Roles.
SELECT has_role('claude_user');
SELECT has_role('cognee_user');
SELECT has_role('unified_admin');
SELECT is(
    (SELECT count(*)::int FROM pg_roles
      WHERE rolname IN ('claude_user', 'cognee_user', 'unified_admin') AND NOT rolcanlogin),
    3, 'group roles cannot log in');

-- Behaviour: a chunk with neither owner is refused with 23514, and nothing changes.
SELECT throws_ok(
    $$INSERT INTO unified.chunks (source, source_id, content) VALUES ('cognee', 'no-owner', 'x')$$,
    '23514', NULL, 'a chunk with neither project_id nor cognee_dataset_id is refused');
SELECT lives_ok(
    $$INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('claude_context', 'tap-1', 'p', 'x')$$,
    'a Claude-Context chunk is stored');
SELECT throws_ok(
    $$INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('claude_context', 'tap-1', 'p', 'y')$$,
    '23505', NULL, 'a duplicate source row is refused');
SELECT is(
    (SELECT count(*)::int FROM unified.chunks WHERE source_id = 'tap-1'), 1,
    'exactly one copy of the source row is stored');

SELECT * FROM finish();
ROLLBACK;
