-- Migration of Claude-Context and Cognee tables into unified.chunks
-- (DESIGN section 7): the layouts the applications really use, rejects,
-- re-runs, verification, rollback, bad and hostile sources.
-- NOTICEs carry rates and times, so only warnings are shown; error
-- contexts name lines of PL/pgSQL, so they are not.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
CREATE ROLE regress_migr_admin LOGIN IN ROLE unified_admin;
CREATE ROLE regress_migr_app LOGIN IN ROLE claude_user;
CREATE SCHEMA migr_src;
GRANT USAGE ON SCHEMA migr_src TO regress_migr_admin, regress_migr_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA migr_src GRANT SELECT ON TABLES TO regress_migr_admin;

-- Claude-Context's PostgreSQL backend, a table per codebase (here with
-- real[] vectors): id 'chunk_' + 16 hex, metadata as JSON text.
CREATE TABLE migr_src.code_chunks_1a2b3c4d (
    id text PRIMARY KEY,
    vector real[],
    content text NOT NULL,
    relative_path text NOT NULL,
    start_line integer NOT NULL,
    end_line integer NOT NULL,
    file_extension text NOT NULL,
    metadata text DEFAULT '{}'::text,
    created_at timestamptz DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO migr_src.code_chunks_1a2b3c4d
SELECT 'chunk_' || lpad(to_hex(i), 16, '0'), ARRAY[i, 0.5, -1, 2]::real[],
       'function f' || i || '() { return ' || i || '; }', 'src/mod' || (i % 5) || '.ts', i, i + 3, '.ts',
       json_build_object('codebasePath', '/home/dev/shop', 'language', 'typescript', 'chunkIndex', i % 10)::text,
       -- three months of 2024, whose partitions do not exist yet
       timestamptz '2024-01-10 12:00:00+00' + (i % 3) * interval '1 month'
  FROM generate_series(1, 250) AS i;
-- bad rows: each goes to migration_rejects with its reason
UPDATE migr_src.code_chunks_1a2b3c4d SET content = '' WHERE id = 'chunk_0000000000000005';
UPDATE migr_src.code_chunks_1a2b3c4d SET metadata = '{"codebasePath": ' WHERE id = 'chunk_0000000000000007';
UPDATE migr_src.code_chunks_1a2b3c4d SET vector = '{1,2,3}' WHERE id = 'chunk_0000000000000009';
UPDATE migr_src.code_chunks_1a2b3c4d SET vector = '{1,NaN,2,3}' WHERE id = 'chunk_000000000000000a';
UPDATE migr_src.code_chunks_1a2b3c4d SET vector = '{1,Infinity,2,3}' WHERE id = 'chunk_000000000000000b';
UPDATE migr_src.code_chunks_1a2b3c4d SET start_line = 9, end_line = 2 WHERE id = 'chunk_000000000000000c';
UPDATE migr_src.code_chunks_1a2b3c4d SET metadata = '[1, 2]' WHERE id = 'chunk_000000000000000d';
-- JSON nested deeper than the parser's stack: the check itself fails, so
-- the batch is done key by key and only this row is rejected
UPDATE migr_src.code_chunks_1a2b3c4d SET metadata = repeat('[', 100000) WHERE id = 'chunk_000000000000000e';
-- this row is in unified.chunks already (the application wrote it): skipped
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content)
VALUES ('claude_context', 'code_chunks_1a2b3c4d', 'chunk_0000000000000003', '/home/dev/shop', 'stored before');

SELECT count(*) AS partitions_2024 FROM unified.partitions WHERE range_start >= '2024-01-01 00:00+00' AND range_start < '2025-01-01 00:00+00';

SET ROLE regress_migr_admin;
CALL unified.migrate_claude_chunks('migr_src.code_chunks_1a2b3c4d', batch_size => 100);
RESET ROLE;
SELECT max(id) AS run1 FROM unified.migrations \gset

-- Counters, checkpoint and state of the run.
SELECT kind, source, source_collection, state, total, migrated, skipped, rejected, batches, last_key, resumes
  FROM unified.migrations WHERE id = :run1;
SELECT state, done, total, percent, eta FROM unified.migration_progress WHERE migration_id = :run1;
-- Each rejected row, with its reason and the raw row.
SELECT source_key, reason, raw ->> 'relative_path' AS raw_path
  FROM unified.migration_rejects WHERE migration_id = :run1 ORDER BY source_key;
-- The mapping: project from metadata.codebasePath, chunk index, vector.
SELECT source, source_collection, source_id, project_id, content, relative_path, start_line, end_line,
       file_extension, chunk_index, embedding, metadata, created_at, updated_at = created_at AS same_times,
       migration_id = :run1 AS this_run
  FROM unified.chunks WHERE source_id = 'chunk_0000000000000004';
-- The keys are in unified.chunk_keys, each once.
SELECT count(*) AS keys FROM unified.chunk_keys WHERE source_collection = 'code_chunks_1a2b3c4d';
-- The months got partitions before their rows arrived: nothing in the default.
SELECT count(*) AS partitions_2024 FROM unified.partitions WHERE range_start >= '2024-01-01 00:00+00' AND range_start < '2025-01-01 00:00+00';
SELECT count(*) AS in_default FROM ONLY unified.chunks_default;

-- Verification: source = migrated + skipped + rejected, checksums equal.
SELECT source_rows, migrated, skipped, rejected, counts_ok, checksum_ok, ok,
       source_checksum = target_checksum AS same_checksum
  FROM unified.verify_migration(:run1);

-- A second run adds nothing: every row is skipped or rejected again.
SET ROLE regress_migr_admin;
CALL unified.migrate_claude_chunks('migr_src.code_chunks_1a2b3c4d');
RESET ROLE;
SELECT max(id) AS run2 FROM unified.migrations \gset
SELECT state, migrated, skipped, rejected FROM unified.migrations WHERE id = :run2;
SELECT count(*) AS chunks FROM unified.chunks WHERE source_collection = 'code_chunks_1a2b3c4d';
SELECT ok FROM unified.verify_migration(:run2);

-- A changed chunk no longer matches its source.
UPDATE unified.chunks SET content = 'edited' WHERE source_id = 'chunk_0000000000000004';
SELECT counts_ok, checksum_ok, ok FROM unified.verify_migration(:run1);
UPDATE unified.chunks SET content = 'function f4() { return 4; }' WHERE source_id = 'chunk_0000000000000004';
SELECT ok FROM unified.verify_migration(:run1);

-- Rollback removes exactly the first run's rows and keys, in batches;
-- the row the application had stored stays.
SET ROLE regress_migr_admin;
CALL unified.rollback_migration(:run1, batch_size => 100);
CALL unified.rollback_migration(:run1);
RESET ROLE;
SELECT state, removed FROM unified.migrations WHERE id = :run1;
SELECT source_id, content FROM unified.chunks WHERE source_collection = 'code_chunks_1a2b3c4d';
SELECT source_id FROM unified.chunk_keys WHERE source_collection = 'code_chunks_1a2b3c4d';
-- A rolled back run cannot be verified.
SELECT * FROM unified.verify_migration(:run1);

-- The hybrid layout: text vectors in pgvector's form, a project_id column,
-- jsonb metadata, timestamp without time zone, no index on id, one id
-- that occurs twice and one that is NULL.
CREATE TABLE migr_src.hybrid_code_chunks_0badf00d (
    id varchar(64),
    vector text,
    content text,
    relative_path text,
    start_line smallint,
    end_line bigint,
    file_extension text,
    metadata jsonb,
    created_at timestamp,
    content_tsvector tsvector,
    project_id text
);
INSERT INTO migr_src.hybrid_code_chunks_0badf00d
SELECT 'chunk_' || lpad(to_hex(i), 16, 'a'), '[' || i || ', 0.25,-1e-2 ]', 'def g' || i || '(): pass',
       'app/g.py', 1, 2, '.py', jsonb_build_object('language', 'python', 'chunkIndex', i),
       timestamp '2024-05-02 00:00:00', to_tsvector('simple', 'def g'), CASE WHEN i % 2 = 0 THEN 'proj-col' END
  FROM generate_series(1, 30) AS i;
UPDATE migr_src.hybrid_code_chunks_0badf00d SET vector = '[1,2' WHERE id LIKE '%1';
UPDATE migr_src.hybrid_code_chunks_0badf00d SET vector = NULL WHERE id LIKE '%2';
INSERT INTO migr_src.hybrid_code_chunks_0badf00d (id, vector, content, relative_path, start_line, end_line, file_extension, metadata)
VALUES ('chunk_aaaaaaaaaaaaaaa3', '[9,9,9]', 'a twin', 'app/g.py', 1, 2, '.py', '{}'),
       (NULL, '[1,1,1]', 'no id', 'app/g.py', 1, 2, '.py', '{}');
SET ROLE regress_migr_admin;
CALL unified.migrate_claude_chunks('migr_src.hybrid_code_chunks_0badf00d', batch_size => 7);
RESET ROLE;
SELECT max(id) AS run3 FROM unified.migrations \gset
SELECT state, total, migrated, skipped, rejected FROM unified.migrations WHERE id = :run3;
SELECT source_key, reason FROM unified.migration_rejects WHERE migration_id = :run3 ORDER BY source_key, reason;
SELECT project_id, count(*) FROM unified.chunks WHERE source_collection = 'hybrid_code_chunks_0badf00d'
 GROUP BY 1 ORDER BY 1;
SELECT source_id, embedding, created_at, chunk_index FROM unified.chunks
 WHERE source_collection = 'hybrid_code_chunks_0badf00d' AND source_id IN ('chunk_aaaaaaaaaaaaaaa4', 'chunk_aaaaaaaaaaaaaaa2')
 ORDER BY source_id;
SELECT counts_ok, checksum_ok, ok FROM unified.verify_migration(:run3);
-- The project id given to the call wins over the column and the metadata.
SET ROLE regress_migr_admin;
CALL unified.rollback_migration(:run3);
CALL unified.migrate_claude_chunks('migr_src.hybrid_code_chunks_0badf00d', 'given-project');
RESET ROLE;
SELECT DISTINCT project_id FROM unified.chunks WHERE source_collection = 'hybrid_code_chunks_0badf00d';

-- Cognee: a collection table in a schema per dataset (ds_<32 hex>),
-- payload json with text and times in ms since the epoch.
CREATE SCHEMA ds_5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b;
GRANT USAGE ON SCHEMA ds_5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b TO regress_migr_admin;
CREATE TABLE ds_5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b."DocumentChunk_text" (
    id uuid PRIMARY KEY,
    payload json,
    vector real[]
);
GRANT SELECT ON ds_5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b."DocumentChunk_text" TO regress_migr_admin;
INSERT INTO ds_5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b."DocumentChunk_text"
SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
       json_build_object('id', ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0')),
                         'text', 'Memory chunk number ' || i, 'chunk_index', i,
                         'document_id', '11111111-2222-4333-8444-555555555555',
                         'belongs_to_set', json_build_array('notes'),
                         'created_at', 1717200000000 + i * 1000, 'updated_at', 1717286400000,
                         'type', 'IndexSchema', 'version', 1,
                         'metadata', json_build_object('index_fields', json_build_array('text'))),
       ARRAY[i, 1, 0]::real[]
  FROM generate_series(1, 40) AS i;
UPDATE ds_5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b."DocumentChunk_text" SET payload = '{"chunk_index": 3}'
 WHERE id = '00000000-0000-4000-8000-000000000003';
UPDATE ds_5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b."DocumentChunk_text" SET payload = '{"text": "bad time", "created_at": "yesterday"}'
 WHERE id = '00000000-0000-4000-8000-000000000004';
UPDATE ds_5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b."DocumentChunk_text" SET payload = '{"text": "nul \u0000 inside"}'
 WHERE id = '00000000-0000-4000-8000-000000000005';
UPDATE ds_5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b."DocumentChunk_text" SET payload = '"just a string"'
 WHERE id = '00000000-0000-4000-8000-000000000006';
SET ROLE regress_migr_admin;
CALL unified.migrate_cognee_data('ds_5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b."DocumentChunk_text"', batch_size => 16);
RESET ROLE;
SELECT max(id) AS run4 FROM unified.migrations \gset
SELECT kind, source_collection, dataset_id, dataset_from, state, migrated, skipped, rejected
  FROM unified.migrations WHERE id = :run4;
SELECT source_key, reason, jsonb_typeof(raw) AS raw_type FROM unified.migration_rejects WHERE migration_id = :run4 ORDER BY source_key;
SELECT source, source_collection, source_id, project_id, cognee_dataset_id, content, chunk_index,
       embedding, metadata, created_at, updated_at
  FROM unified.chunks WHERE source_id = '00000000-0000-4000-8000-000000000010';
SELECT counts_ok, checksum_ok, ok FROM unified.verify_migration(:run4);

-- Cognee's dataset from the payload when neither the argument nor a name
-- gives one; a row without it is rejected.
CREATE TABLE migr_src."Entity_name" (id uuid PRIMARY KEY, payload jsonb, vector double precision[]);
INSERT INTO migr_src."Entity_name" VALUES
    ('00000000-0000-4000-8000-0000000000e1', '{"text": "Alice", "dataset_id": "22222222-3333-4444-8555-666666666666"}', '{1,2}'),
    ('00000000-0000-4000-8000-0000000000e2', '{"text": "Bob"}', '{3,4}');
SET ROLE regress_migr_admin;
CALL unified.migrate_cognee_data('migr_src."Entity_name"');
RESET ROLE;
SELECT max(id) AS run5 FROM unified.migrations \gset
SELECT dataset_id, dataset_from, migrated, rejected FROM unified.migrations WHERE id = :run5;
SELECT source_id, cognee_dataset_id, embedding FROM unified.chunks WHERE source_collection = 'Entity_name';
SELECT reason FROM unified.migration_rejects WHERE migration_id = :run5;
-- ... and the argument wins over everything.
SET ROLE regress_migr_admin;
CALL unified.rollback_migration(:run5);
CALL unified.migrate_cognee_data('migr_src."Entity_name"', '77777777-8888-4999-8aaa-bbbbbbbbbbbb');
RESET ROLE;
SELECT source_id, cognee_dataset_id FROM unified.chunks WHERE source_collection = 'Entity_name' ORDER BY 1;

-- migrate_to_unified: every registered source, each verified; a source
-- that cannot be migrated is reported and skipped.
SET ROLE regress_migr_admin;
SELECT max(id) AS run6 FROM unified.migrations \gset
CALL unified.rollback_migration(:run6);
RESET ROLE;
CREATE TABLE migr_src.code_chunks_deadbeef (id text PRIMARY KEY, content text);
SET ROLE regress_migr_admin;
INSERT INTO unified.migration_sources (kind, source, batch_size) VALUES
    ('cognee', 'migr_src."Entity_name"', 1),
    ('claude_context', 'migr_src.code_chunks_deadbeef', 10),
    ('cognee', 'ds_5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b."DocumentChunk_text"', 1000);
CALL unified.migrate_to_unified();
RESET ROLE;
SELECT kind, source, last_status FROM unified.migration_sources ORDER BY id;

-- A run that fails verification is rolled back by migrate_to_unified:
-- here a trigger changes the content of every row the run stores.
CREATE TABLE migr_src.code_chunks_0bad0001 (LIKE migr_src.code_chunks_1a2b3c4d INCLUDING ALL);
INSERT INTO migr_src.code_chunks_0bad0001 SELECT * FROM migr_src.code_chunks_1a2b3c4d WHERE start_line < 4;
CREATE FUNCTION migr_src.tamper() RETURNS trigger LANGUAGE plpgsql
    AS $$BEGIN NEW.content := NEW.content || ' (changed)'; RETURN NEW; END$$;
CREATE TRIGGER tamper BEFORE INSERT ON unified.chunks FOR EACH ROW
    WHEN (NEW.source_collection = 'code_chunks_0bad0001') EXECUTE FUNCTION migr_src.tamper();
SET ROLE regress_migr_admin;
UPDATE unified.migration_sources SET enabled = false;
INSERT INTO unified.migration_sources (kind, source, project_id) VALUES ('claude_context', 'migr_src.code_chunks_0bad0001', 'p-bad');
CALL unified.migrate_to_unified();
RESET ROLE;
DROP TRIGGER tamper ON unified.chunks;
SELECT last_status FROM unified.migration_sources WHERE enabled;
SELECT state, migrated, removed FROM unified.migrations WHERE source = 'migr_src.code_chunks_0bad0001';
SELECT count(*) AS left_behind FROM unified.chunks WHERE source_collection = 'code_chunks_0bad0001';

-- Bad sources fail at once, say what is wrong, and write nothing.
SELECT count(*) AS runs_before FROM unified.migrations \gset
CREATE TABLE migr_src.code_chunks_00000000 (id text PRIMARY KEY, content text, metadata text);
SET ROLE regress_migr_admin;
\set VERBOSITY default
CALL unified.migrate_claude_chunks('migr_src.no_such_table');
CALL unified.migrate_claude_chunks('migr_src.code_chunks_00000000');
CALL unified.migrate_cognee_data('migr_src.code_chunks_00000000');
CALL unified.migrate_claude_chunks('migr_src.code_chunks_1a2b3c4d', batch_size => 0);
CALL unified.migrate_claude_chunks('migr_src.code_chunks_1a2b3c4d', repeat('p', 300));
CALL unified.migrate_claude_chunks(NULL);
RESET ROLE;
-- not readable by the admin
CREATE TABLE migr_src.secret_chunks (id uuid PRIMARY KEY, payload json, vector real[]);
REVOKE SELECT ON migr_src.secret_chunks FROM regress_migr_admin;
SET ROLE regress_migr_admin;
CALL unified.migrate_cognee_data('migr_src.secret_chunks');
RESET ROLE;
-- an application role may not migrate at all
SET ROLE regress_migr_app;
CALL unified.migrate_claude_chunks('migr_src.code_chunks_1a2b3c4d');
SELECT count(*) FROM unified.migration_progress;
RESET ROLE;
\set VERBOSITY terse
SELECT count(*) - :runs_before AS runs_added FROM unified.migrations;

-- Hostile sources: a role owns source tables that would run its code as
-- whoever reads them.  Each is refused before it is read, and not one of
-- the planted functions runs.
CREATE ROLE regress_migr_evil LOGIN;
CREATE SCHEMA migr_evil AUTHORIZATION regress_migr_evil;
GRANT USAGE ON SCHEMA migr_evil TO PUBLIC;
SET ROLE regress_migr_evil;
CREATE TABLE migr_evil.hits (who name, what text);
GRANT INSERT, SELECT ON migr_evil.hits TO PUBLIC;
CREATE FUNCTION migr_evil.hit(w text) RETURNS boolean LANGUAGE sql VOLATILE
    AS $$INSERT INTO migr_evil.hits VALUES (current_user, w) RETURNING true$$;
-- 1. a view whose definition calls the planted function
CREATE TABLE migr_evil.base (id text, vector real[], content text, relative_path text, start_line int,
                             end_line int, file_extension text, metadata text);
INSERT INTO migr_evil.base VALUES ('chunk_e1', '{1}', 'x', 'a', 1, 1, '.c', '{}');
CREATE VIEW migr_evil.code_chunks_view AS SELECT * FROM migr_evil.base WHERE migr_evil.hit('view');
-- 2. row-level security with a policy that calls it
CREATE TABLE migr_evil.code_chunks_rls (LIKE migr_evil.base);
INSERT INTO migr_evil.code_chunks_rls SELECT * FROM migr_evil.base;
ALTER TABLE migr_evil.code_chunks_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON migr_evil.code_chunks_rls USING (migr_evil.hit('policy'));
-- 3. a domain over text whose check calls it, and a type with a cast to
--    json that calls it (to_jsonb of a rejected row would use the cast)
CREATE DOMAIN migr_evil.sly AS text CHECK (migr_evil.hit('domain'));
CREATE TABLE migr_evil.code_chunks_domain (LIKE migr_evil.base);
ALTER TABLE migr_evil.code_chunks_domain ALTER COLUMN content TYPE migr_evil.sly;
CREATE TYPE migr_evil.mood AS ENUM ('happy');
CREATE FUNCTION migr_evil.mood_json(migr_evil.mood) RETURNS json LANGUAGE sql
    AS $$SELECT CASE WHEN migr_evil.hit('cast') THEN '"x"'::json END$$;
CREATE CAST (migr_evil.mood AS json) WITH FUNCTION migr_evil.mood_json(migr_evil.mood);
CREATE TABLE migr_evil.code_chunks_cast (LIKE migr_evil.base);
ALTER TABLE migr_evil.code_chunks_cast ADD COLUMN mood migr_evil.mood DEFAULT 'happy';
INSERT INTO migr_evil.code_chunks_cast SELECT *, 'happy' FROM migr_evil.base;
UPDATE migr_evil.code_chunks_cast SET content = '';
-- 4. a plain table with triggers: reading fires none, so it migrates
CREATE TABLE migr_evil.code_chunks_trig (LIKE migr_evil.base);
INSERT INTO migr_evil.code_chunks_trig SELECT * FROM migr_evil.base;
CREATE FUNCTION migr_evil.trig() RETURNS trigger LANGUAGE plpgsql
    AS $$BEGIN PERFORM migr_evil.hit('trigger'); RETURN NULL; END$$;
CREATE TRIGGER t AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON migr_evil.code_chunks_trig
    FOR EACH STATEMENT EXECUTE FUNCTION migr_evil.trig();
GRANT SELECT ON ALL TABLES IN SCHEMA migr_evil TO PUBLIC;
RESET ROLE;
\set VERBOSITY default
SET ROLE regress_migr_admin;
CALL unified.migrate_claude_chunks('migr_evil.code_chunks_view');
CALL unified.migrate_claude_chunks('migr_evil.code_chunks_rls');
CALL unified.migrate_claude_chunks('migr_evil.code_chunks_domain');
CALL unified.migrate_claude_chunks('migr_evil.code_chunks_cast');
CALL unified.migrate_claude_chunks('migr_evil.code_chunks_trig');
RESET ROLE;
-- the same as a superuser
CALL unified.migrate_claude_chunks('migr_evil.code_chunks_view');
CALL unified.migrate_claude_chunks('migr_evil.code_chunks_cast');
\set VERBOSITY terse
SELECT count(*) AS planted_calls FROM migr_evil.hits;
SELECT source_id, project_id FROM unified.chunks WHERE source_collection = 'code_chunks_trig';

-- Clean up.
SET client_min_messages = warning;
TRUNCATE unified.chunks;
DELETE FROM unified.migration_sources;
DELETE FROM unified.migration_rejects;
DELETE FROM unified.migrations;
DROP SCHEMA migr_evil CASCADE;
DROP SCHEMA migr_src CASCADE;
DROP SCHEMA ds_5e6f7a8b9c0d4e1f8a2b3c4d5e6f7a8b CASCADE;
DROP OWNED BY regress_migr_admin, regress_migr_app, regress_migr_evil;
DROP ROLE regress_migr_admin, regress_migr_app, regress_migr_evil;
RESET client_min_messages;
