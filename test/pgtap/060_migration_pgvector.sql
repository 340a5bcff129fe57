-- Sources whose vectors are pgvector's vector and halfvec (as Claude-
-- Context's PostgreSQL backend and Cognee's pgvector adapter create them).
-- pgvector is optional: without it installed these tests are skipped.
-- The procedures commit per batch, so inside this test's transaction the
-- run is driven through the functions they call, batch by batch.
BEGIN;
SET LOCAL client_min_messages = warning;

-- psql decides which half runs: the regclass literals below would fail to
-- plan on a server without the pgvector tables.
SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'vector') AS have_vector \gset
\if :have_vector
SELECT plan(9);
\else
SELECT plan(1);
SELECT skip('pgvector is not installed on this server (scripts/deps.sh builds it where it can)', 1);
\endif

CREATE FUNCTION pg_temp.have_vector() RETURNS boolean LANGUAGE sql
    AS $$SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'vector')$$;

-- Run a migration to its end in this transaction; return its id.
CREATE FUNCTION pg_temp.migrate(kind text, src regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    run bigint := unified.migration_begin(kind, src, NULL, NULL, 7);
    step unified.migration_step;
BEGIN
    LOOP
        PERFORM unified.migration_create_partitions(unified.migration_next_months(run));
        step := unified.migration_batch(run);
        EXIT WHEN step.done;
    END LOOP;
    RETURN run;
END $$;

\if :have_vector
DO $$
BEGIN
    IF NOT pg_temp.have_vector() THEN
        RETURN;
    END IF;
    CREATE EXTENSION IF NOT EXISTS vector;
    -- Claude-Context's layout with vector(3)
    CREATE TABLE public.code_chunks_7e57ec70 (
        id text PRIMARY KEY, vector vector(3), content text NOT NULL, relative_path text NOT NULL,
        start_line integer NOT NULL, end_line integer NOT NULL, file_extension text NOT NULL,
        metadata text DEFAULT '{}'::text, created_at timestamptz DEFAULT now());
    INSERT INTO public.code_chunks_7e57ec70
    SELECT 'chunk_' || lpad(to_hex(i), 16, '0'), ('[' || i || ',0.5,-2]')::vector, 'c' || i, 'a.go', 1, 2, '.go',
           '{"codebasePath": "/src/go", "chunkIndex": 1}', now()
      FROM generate_series(1, 20) AS i;
    -- Cognee's layout with halfvec(2), in a dataset schema
    CREATE SCHEMA ds_00112233445566778899aabbccddeeff;
    CREATE TABLE ds_00112233445566778899aabbccddeeff."Entity_name" (id uuid PRIMARY KEY, payload json, vector halfvec(2));
    INSERT INTO ds_00112233445566778899aabbccddeeff."Entity_name"
    SELECT md5(i::text)::uuid, json_build_object('text', 'entity ' || i), ('[' || i || ',0.25]')::halfvec
      FROM generate_series(1, 9) AS i;
    -- a type named "vector" that is not pgvector's
    CREATE SCHEMA fake;
    CREATE DOMAIN fake.vector AS real[];
    CREATE TABLE public.code_chunks_fa4e0000 (
        id text PRIMARY KEY, vector fake.vector, content text, relative_path text, start_line int,
        end_line int, file_extension text, metadata text);
END $$;

CREATE TEMP TABLE runs AS
SELECT pg_temp.migrate('claude_context', 'public.code_chunks_7e57ec70') AS claude,
       pg_temp.migrate('cognee', 'ds_00112233445566778899aabbccddeeff."Entity_name"') AS cognee
 WHERE pg_temp.have_vector();

SELECT is((SELECT migrated FROM unified.migrations WHERE id = (SELECT claude FROM runs)), 20::bigint,
          'vector(3): every row migrated') WHERE pg_temp.have_vector();
SELECT is((SELECT dimension FROM unified.migrations WHERE id = (SELECT claude FROM runs)), 3,
          'vector(3): the dimensions come from the column''s type') WHERE pg_temp.have_vector();
SELECT is((SELECT embedding FROM unified.chunks WHERE source_id = 'chunk_0000000000000005'), '{5,0.5,-2}'::real[],
          'vector(3): stored as real[]') WHERE pg_temp.have_vector();
SELECT is((SELECT project_id FROM unified.chunks WHERE source_id = 'chunk_0000000000000005'), '/src/go',
          'vector(3): project from metadata.codebasePath') WHERE pg_temp.have_vector();
SELECT is((SELECT migrated FROM unified.migrations WHERE id = (SELECT cognee FROM runs)), 9::bigint,
          'halfvec(2): every row migrated') WHERE pg_temp.have_vector();
SELECT is((SELECT embedding FROM unified.chunks WHERE source_id = md5('4')::uuid::text), '{4,0.25}'::real[],
          'halfvec(2): stored as real[]') WHERE pg_temp.have_vector();
SELECT is((SELECT cognee_dataset_id FROM unified.chunks WHERE source_id = md5('4')::uuid::text),
          '00112233-4455-6677-8899-aabbccddeeff'::uuid, 'halfvec(2): dataset from the schema name')
 WHERE pg_temp.have_vector();
SELECT ok((SELECT ok FROM unified.verify_migration((SELECT claude FROM runs)))
          AND (SELECT ok FROM unified.verify_migration((SELECT cognee FROM runs))), 'both runs verify')
 WHERE pg_temp.have_vector();
SELECT throws_ok($$SELECT unified.migration_source_info('claude_context', 'public.code_chunks_fa4e0000')$$, '42804',
                 NULL, 'a type named vector that is not pgvector''s is refused')
 WHERE pg_temp.have_vector();
\endif

SELECT * FROM finish();
ROLLBACK;
