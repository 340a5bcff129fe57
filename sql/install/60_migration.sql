-- ---------------------------------------------------------------------------
-- Migration of existing Claude-Context and Cognee tables (DESIGN section 7).
--
-- Sources.  Claude-Context's PostgreSQL backend keeps one table per
-- codebase (code_chunks_<8 hex>, hybrid_code_chunks_<8 hex>: id text,
-- vector, content, relative_path, start_line, end_line, file_extension,
-- metadata text holding JSON, created_at).  Cognee keeps one table per
-- collection ("DocumentChunk_text", ...: id uuid, payload json, vector) in
-- a schema per dataset (ds_<32 hex>) or a database per dataset named by
-- its uuid; a table of another database is read through a postgres_fdw
-- foreign table.  `vector` may be real[], double precision[], pgvector's
-- vector or halfvec, or text in pgvector's form '[1,2,3]'.
--
-- How a run goes.  CALL unified.migrate_claude_chunks(...) (or
-- migrate_cognee_data) registers a run in unified.migrations, or finds the
-- unfinished run of the same source and resumes it, then loops:
--
--   1. the months of the next batch that have no partition get one
--      (unified.create_monthly_partition, with a lock timeout), committed
--      on their own, so the ACCESS EXCLUSIVE lock that takes is held for
--      the creation alone;
--   2. one batch: the next batch_size source rows by key (WHERE id > last
--      key ORDER BY id LIMIT n, never OFFSET), converted and checked in one
--      INSERT ... SELECT into unified.chunks; rows that cannot be stored go
--      to unified.migration_rejects with the reason and the raw row; rows
--      whose key unified.chunk_keys already holds are skipped and counted;
--      the checkpoint (last key, counters) is updated in the same
--      transaction, which then commits.
--
-- Crash reasoning.  A batch, its rejects and its checkpoint commit
-- together or not at all, so after a crash, a cancel or
-- pg_terminate_backend the run's row says exactly which keys are done, and
-- calling the procedure again resumes after the last committed key.  A
-- source row is stored at most once whatever happens: unified.chunk_keys
-- has a primary key on (source, source_collection, source_id), and the
-- batch's insert waits for a concurrent writer of the same key and fails
-- if it committed; the batch then runs again key by key and counts the key
-- as skipped.
--
-- Every batch but the last commits with synchronous_commit = off: it does
-- not wait for its WAL to reach disk.  A crash can then lose the last
-- batches before they are flushed, but never a batch without its
-- checkpoint or the other way round (both are in the one commit record,
-- and WAL is replayed in order), so the re-run does them again.  The last
-- batch, which marks the run completed, commits as the session says
-- (durably by default): when CALL returns, the whole run is on disk.
--
-- Bad data never stops a run.  The checks (empty content, JSON that jsonb
-- refuses, text that is not a vector, wrong vector length, NaN, a payload
-- without text, ...) are made in the batch's SELECT without raising (C
-- helpers in src/migrate.c).  What can still fail (an integer out of
-- range, JSON nested too deep for the stack, a CHECK constraint) makes the
-- batch's statement fail; the batch is then done again one key at a time,
-- each in a subtransaction, and the keys that still fail are rejected
-- with the error.  Only errors of the row's data (SQLSTATE classes 22, 23
-- and 54) reject rows; any other error (privileges, locks, shutdown)
-- stops the run, to be resumed.
--
-- Locking.  A batch holds ROW EXCLUSIVE on unified.chunks, like any
-- application insert, and ACCESS SHARE on the source: applications keep
-- reading and writing both.  A month's partition is created in a short
-- transaction of its own; create_monthly_partition waits for its lock at
-- most 200 ms at a time (so applications never queue behind it longer)
-- and gives up after about 10 s; then
-- the rows of that month go to the default partition (maintenance moves
-- them later) and the run goes on.
--
-- Who may migrate, and hostile sources.  unified_admin (and superusers).
-- The source is read with the caller's own rights: nothing that reads it
-- is SECURITY DEFINER, because a source owned by a hostile role could
-- otherwise run its owner's code with the extension owner's rights.  And
-- no code of the source's owner runs at all, whoever migrates:
--
--   - a view is refused (reading it would call its functions); tables,
--     partitioned tables, materialized views and foreign tables are read;
--   - a source whose row-level security policies would apply to the caller
--     is refused (its policy expressions would run as the caller);
--   - each column must have one of the built-in types listed above, or
--     pgvector's own vector/halfvec (a type that belongs to the extension
--     "vector"), so no cast, operator or I/O function of the owner's runs;
--   - reading does not fire triggers or rules;
--   - the source is locked ACCESS SHARE before its definition is checked,
--     in every batch: changing the definition (column types, row-level
--     security, policies) needs ACCESS EXCLUSIVE, so it waits for the batch;
--   - every function pins search_path; the procedures, which cannot (a
--     procedure with a SET clause cannot COMMIT), qualify every name.
--
-- Three small SECURITY DEFINER functions read only the extension's own
-- state: migration_stored_keys reads unified.chunk_keys (which no role but
-- the owner may read) for the keys of a batch; migration_backend_start and
-- migration_backend_busy read pg_stat_activity, which hides other roles'
-- sessions, to tell a running migration from an interrupted one.
--
-- Who runs a run.  A run's row names its session (pid, backend_start).
-- Calling the migration again takes the run over when that session is
-- gone or idle (a cancelled CALL leaves it idle); a session in the middle
-- of a batch holds the row's lock, and a second caller is refused at once
-- (SQLSTATE 55006) rather than queued behind it.
-- ---------------------------------------------------------------------------

-- Sources that unified.migrate_to_unified() migrates, in id order.
CREATE TABLE unified.migration_sources (
    id                  integer GENERATED BY DEFAULT AS IDENTITY,
    kind                text NOT NULL,
    source              regclass NOT NULL,
    project_id          text,
    dataset_id          uuid,
    batch_size          integer NOT NULL DEFAULT 1000,
    enabled             boolean NOT NULL DEFAULT true,
    added_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    added_by            name NOT NULL DEFAULT CURRENT_USER,
    last_migration_id   bigint,
    last_status         text,
    CONSTRAINT migration_sources_pkey PRIMARY KEY (id),
    CONSTRAINT migration_sources_source_key UNIQUE (source),
    CONSTRAINT migration_sources_kind_check CHECK (kind IN ('claude_context', 'cognee')),
    CONSTRAINT migration_sources_ids_check
        CHECK ((kind = 'claude_context' AND dataset_id IS NULL)
            OR (kind = 'cognee' AND project_id IS NULL)),
    CONSTRAINT migration_sources_project_id_check
        CHECK (pg_catalog.length(project_id) BETWEEN 1 AND 256),
    CONSTRAINT migration_sources_batch_size_check CHECK (batch_size BETWEEN 1 AND 100000)
);

COMMENT ON TABLE unified.migration_sources IS
    'Sources for unified.migrate_to_unified(): kind (claude_context or cognee), table, optional ids';

-- One row per run.  state: running (an interrupted run is still
-- "running" until resumed; unified.migration_progress tells them apart),
-- completed, rolling_back, rolled_back.
CREATE TABLE unified.migrations (
    id                  bigint GENERATED BY DEFAULT AS IDENTITY,
    kind                text NOT NULL,
    source              text NOT NULL,
    source_oid          oid NOT NULL,
    source_collection   text NOT NULL,
    project_id          text,
    dataset_arg         uuid,
    dataset_id          uuid,
    dataset_from        text,
    batch_size          integer NOT NULL,
    dimension           integer,
    state               text NOT NULL DEFAULT 'running',
    total               bigint,
    migrated            bigint NOT NULL DEFAULT 0,
    skipped             bigint NOT NULL DEFAULT 0,
    rejected            bigint NOT NULL DEFAULT 0,
    removed             bigint NOT NULL DEFAULT 0,
    batches             bigint NOT NULL DEFAULT 0,
    last_key            text,
    resumes             integer NOT NULL DEFAULT 0,
    started_by          name NOT NULL DEFAULT CURRENT_USER,
    started_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    resumed_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    done_at_resume      bigint NOT NULL DEFAULT 0,
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    finished_at         timestamptz,
    pid                 integer,
    backend_start       timestamptz,
    CONSTRAINT migrations_pkey PRIMARY KEY (id),
    CONSTRAINT migrations_kind_check CHECK (kind IN ('claude_context', 'cognee')),
    CONSTRAINT migrations_state_check
        CHECK (state IN ('running', 'completed', 'rolling_back', 'rolled_back')),
    CONSTRAINT migrations_batch_size_check CHECK (batch_size BETWEEN 1 AND 100000)
);

CREATE INDEX migrations_source_idx ON unified.migrations (source_oid, kind, id);

COMMENT ON TABLE unified.migrations IS
    'Migration runs: source, checkpoint (last_key), counters, state; one row per run';

-- Rows that could not be migrated, with the reason and the row as read.
CREATE TABLE unified.migration_rejects (
    id                  bigint GENERATED BY DEFAULT AS IDENTITY,
    migration_id        bigint NOT NULL,
    source_key          text,
    reason              text NOT NULL,
    raw                 jsonb NOT NULL,
    rejected_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT migration_rejects_pkey PRIMARY KEY (id),
    CONSTRAINT migration_rejects_migration_fkey FOREIGN KEY (migration_id)
        REFERENCES unified.migrations (id)
);

CREATE INDEX migration_rejects_migration_idx ON unified.migration_rejects (migration_id, source_key);

COMMENT ON TABLE unified.migration_rejects IS
    'Source rows a migration could not store: key, reason, the raw row as JSON';

SELECT pg_catalog.pg_extension_config_dump('unified.migration_sources', '');

-- Who registered a source (or changed what it names): migrate_to_unified,
-- which a superuser may run, reads a source only if that role may, so
-- that registering a table by OID cannot read one its registrar cannot.
CREATE FUNCTION unified.migration_sources_author()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
BEGIN
    NEW.added_by := current_user;
    RETURN NEW;
END
$fn$;

CREATE TRIGGER migration_sources_author
    BEFORE INSERT OR UPDATE OF kind, source, project_id, dataset_id ON unified.migration_sources
    FOR EACH ROW EXECUTE FUNCTION unified.migration_sources_author();
SELECT pg_catalog.pg_extension_config_dump('unified.migrations', '');
SELECT pg_catalog.pg_extension_config_dump('unified.migration_rejects', '');

-- What one batch reports to its procedure.
CREATE TYPE unified.migration_step AS (done boolean, message text);

-- Why a vector cannot be stored, or NULL when it can (C, src/migrate.c:
-- one pass over the floats).
CREATE FUNCTION unified.migration_vector_problem(vector real[], dimensions integer)
RETURNS text
AS 'MODULE_PATHNAME', 'upg_migration_vector_problem'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- pgvector's text form '[1,2,3]' as real[]; NULL when the text is not a
-- vector (C, src/migrate.c: never raises).
CREATE FUNCTION unified.migration_text_vector(vector text)
RETURNS real[]
AS 'MODULE_PATHNAME', 'upg_migration_text_vector'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Can this text be cast to jsonb?  (C, src/migrate.c: never raises.)
CREATE FUNCTION unified.migration_json_valid(json text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'upg_migration_json_valid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The array itself, fetched from TOAST once (C, src/migrate.c): the
-- checks and the insert then read it in memory.
CREATE FUNCTION unified.migration_detoast(vector real[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'upg_migration_detoast'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The source and every relation below it (children, partitions), locked
-- by OID against DDL until the transaction ends (C, src/migrate.c).
CREATE FUNCTION unified.migration_lock_relations(source regclass)
RETURNS regclass[]
AS 'MODULE_PATHNAME', 'upg_migration_lock_relations'
LANGUAGE C VOLATILE STRICT;

-- A 64-bit hash of a chunk's key and content hash; summed, it is an
-- order-independent checksum of a set of chunks.
CREATE FUNCTION unified.migration_row_hash(source_id text, content_hash bytea)
RETURNS bigint
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT ('x' || encode(substring(sha256(convert_to(source_id, 'UTF8') || '\x00'::bytea || content_hash)
                                    FROM 1 FOR 8), 'hex'))::bit(64)::bigint;
$fn$;

-- The dataset id a name stands for: a uuid, or ds_<32 hex digits>.
CREATE FUNCTION unified.migration_dataset_from_name(name text)
RETURNS uuid
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT CASE
        WHEN name ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN name::uuid
        WHEN name ~* '^ds_[0-9a-f]{32}$' THEN substring(name FROM 4)::uuid
    END;
$fn$;

-- Is the backend that ran a migration still busy (alive, the same
-- process, and not idle)?  SECURITY DEFINER: other roles' sessions show
-- their state only to privileged roles.
CREATE FUNCTION unified.migration_backend_busy(pid integer, backend_start timestamptz)
RETURNS boolean
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT EXISTS (SELECT FROM pg_stat_activity a
                    WHERE a.pid = migration_backend_busy.pid
                      AND a.backend_start = migration_backend_busy.backend_start
                      AND a.state IS DISTINCT FROM 'idle');
$fn$;

-- When this backend started: with the pid, it names this session in
-- unified.migrations.  SECURITY DEFINER: pg_stat_activity hides it from a
-- role that is not the session's login role (after SET ROLE).
CREATE FUNCTION unified.migration_backend_start()
RETURNS timestamptz
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid();
$fn$;

-- Which of the ids are stored in unified.chunks under (source,
-- collection)?  SECURITY DEFINER: reads unified.chunk_keys, one index
-- probe per id, instead of probing every partition of unified.chunks.
-- While a migration fills an empty unified.chunks, the statistics say
-- chunk_keys is empty, and the planner would read all of a collection's
-- keys for every batch (quadratic in the run's size): one probe of the
-- primary key per id is the only sane plan here.  The LATERAL subquery
-- with LIMIT 1 makes the ids the outer side of a nested loop, and with
-- sequential scans off each probe is an index lookup of the whole key.
CREATE FUNCTION unified.migration_stored_keys(source text, source_collection text, ids text[])
RETURNS text[]
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $fn$
    SELECT coalesce(array_agg(i.id), '{}')
      FROM unnest(migration_stored_keys.ids) AS i(id)
     CROSS JOIN LATERAL (SELECT FROM unified.chunk_keys k
                          WHERE k.source = migration_stored_keys.source
                            AND k.source_collection = migration_stored_keys.source_collection
                            AND k.source_id = i.id
                          LIMIT 1) AS found;
$fn$;

-- The columns a source of this kind needs, and the types accepted for
-- each column it may have, by name as format_type() spells them
-- (pgvector's by type name).
CREATE FUNCTION unified.migration_source_layout(kind text, OUT required text[], OUT accepted jsonb)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT CASE kind
               WHEN 'claude_context' THEN ARRAY['id', 'content', 'relative_path', 'start_line', 'end_line',
                                                'file_extension', 'metadata', 'vector']
               ELSE ARRAY['id', 'payload', 'vector'] END,
           CASE kind
               WHEN 'claude_context' THEN jsonb_build_object(
                   'id', '["text", "character varying"]'::jsonb,
                   'content', '["text", "character varying"]'::jsonb,
                   'relative_path', '["text", "character varying"]'::jsonb,
                   'start_line', '["smallint", "integer", "bigint"]'::jsonb,
                   'end_line', '["smallint", "integer", "bigint"]'::jsonb,
                   'file_extension', '["text", "character varying"]'::jsonb,
                   'metadata', '["text", "character varying", "json", "jsonb"]'::jsonb,
                   'vector', '["real[]", "double precision[]", "text", "character varying", "vector", "halfvec"]'::jsonb,
                   'created_at', '["timestamp with time zone", "timestamp without time zone"]'::jsonb,
                   'project_id', '["text", "character varying"]'::jsonb)
               ELSE jsonb_build_object(
                   'id', '["uuid", "text", "character varying"]'::jsonb,
                   'payload', '["json", "jsonb"]'::jsonb,
                   'vector', '["real[]", "double precision[]", "text", "character varying", "vector", "halfvec"]'::jsonb)
           END;
$fn$;

-- The source's columns as {name: {type, typmod}}.  Type names only for
-- types known to be harmless: built-in ones (OID below
-- FirstNormalObjectId) and pgvector's own; any other is "untrusted ...".
CREATE FUNCTION unified.migration_source_columns(source regclass)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT coalesce(jsonb_object_agg(a.attname, jsonb_build_object(
               'type', CASE WHEN t.oid < 16384 THEN format_type(a.atttypid, NULL)
                            WHEN t.typname IN ('vector', 'halfvec') AND EXISTS (
                                 SELECT FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                                  WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                                    AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                                    AND e.extname = 'vector') THEN t.typname::text
                            ELSE 'untrusted ' || format_type(a.atttypid, a.atttypmod) END,
               'typmod', a.atttypmod)), '{}')
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = source::oid AND a.attnum > 0 AND NOT a.attisdropped;
$fn$;

-- Raise unless the source's columns (cols, as migration_source_columns
-- gives them) fit the kind: 42703 columns missing, 42804 columns of types
-- that are not accepted.
CREATE FUNCTION unified.migration_check_columns(kind text, source regclass, cols jsonb)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    v_layout    record;
    v_missing   text[];
    v_wrong     text[];
    v_col       text;
BEGIN
    SELECT * INTO v_layout FROM unified.migration_source_layout(kind);
    SELECT array_agg(r ORDER BY o) INTO v_missing
      FROM unnest(v_layout.required) WITH ORDINALITY AS x(r, o) WHERE NOT cols ? r;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'source % lacks required columns: %', source, array_to_string(v_missing, ', ')
            USING ERRCODE = 'undefined_column',
                  DETAIL = format('A %s source needs the columns %s.',
                                  CASE kind WHEN 'claude_context' THEN 'Claude-Context' ELSE 'Cognee' END,
                                  array_to_string(v_layout.required, ', ')),
                  HINT = 'Nothing was migrated.';
    END IF;
    FOR v_col IN SELECT k FROM jsonb_object_keys(v_layout.accepted) AS k ORDER BY k LOOP
        IF cols ? v_col AND NOT (v_layout.accepted -> v_col) ? (cols -> v_col ->> 'type') THEN
            v_wrong := v_wrong || format('%s is %s, not one of %s', v_col,
                                         regexp_replace(cols -> v_col ->> 'type', '^untrusted ', ''),
                                         (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text(v_layout.accepted -> v_col) AS x));
        END IF;
    END LOOP;
    -- Any other column of an untrusted type would be read too (the raw
    -- row of a reject is to_jsonb of the whole row, which calls a cast to
    -- json when the type's owner made one).
    SELECT v_wrong || array_agg(format('%s is %s', k, substring(v ->> 'type' FROM 11)) ORDER BY k) INTO v_wrong
      FROM jsonb_each(cols) AS c(k, v)
     WHERE NOT v_layout.accepted ? k AND v ->> 'type' LIKE 'untrusted %';
    IF v_wrong IS NOT NULL THEN
        RAISE EXCEPTION 'source % has columns of types that cannot be migrated: %', source, array_to_string(v_wrong, '; ')
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Domains and types other than the built-in ones and pgvector''s are not read, so that no code of the source''s owner runs.';
    END IF;
END
$fn$;

-- Raise unless the caller may read every row of the source with no code
-- of its owner running: 42501 a foreign table (the source or below it)
-- that the caller does not own, 55000 row-level security that would apply
-- to the caller.  rels: the source and the relations below it.
CREATE FUNCTION unified.migration_check_access(source regclass, rels regclass[])
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    v_foreign   record;
BEGIN
    -- A foreign table reads its server's table (or view) under the
    -- caller's user mapping: its owner chooses what runs there, and as whom.
    SELECT c.oid::regclass AS rel, pg_get_userbyid(c.relowner) AS owner INTO v_foreign
      FROM pg_class c
     WHERE c.oid = ANY (rels) AND c.relkind = 'f' AND c.relowner <> (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'source % reads foreign table % of %', source, v_foreign.rel, v_foreign.owner
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A foreign table runs what its owner points it at on the remote server, under your user mapping.',
                  HINT = 'Create the foreign table yourself (IMPORT FOREIGN SCHEMA) and migrate that one.';
    END IF;
    IF EXISTS (SELECT FROM pg_class c
                WHERE c.oid = source::oid AND c.relrowsecurity
                  AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE')))
       AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = current_user AND (r.rolsuper OR r.rolbypassrls)) THEN
        RAISE EXCEPTION 'source % has row-level security that would apply to %', source, current_user
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Its policies would hide rows and run their expressions with your rights.',
                  HINT = 'Disable row-level security on the source, or migrate as a role that bypasses it.';
    END IF;
END
$fn$;

-- Raise (55000) when reading the source could run code that its owner (or
-- anyone but a superuser) wrote: the planner evaluates index expressions
-- and predicates, CHECK constraints, partition keys and the expressions of
-- extended statistics of the source and of the relations below it, and the
-- executor calls their operator classes.  Built-in objects and those owned by a superuser (an
-- extension's: pgvector's operator classes for an HNSW index) are fine.
CREATE FUNCTION unified.migration_check_code(source regclass, rels regclass[])
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    v_found text[];
BEGIN
    WITH objs AS (
        SELECT 'pg_class'::regclass AS classid, r AS objid FROM unnest(rels) AS r
        UNION ALL
        SELECT 'pg_class'::regclass, x.indexrelid FROM pg_index x WHERE x.indrelid = ANY (rels)
        UNION ALL
        SELECT 'pg_constraint'::regclass, c.oid FROM pg_constraint c WHERE c.conrelid = ANY (rels)
        UNION ALL
        SELECT 'pg_statistic_ext'::regclass, x.oid FROM pg_statistic_ext x WHERE x.stxrelid = ANY (rels)
    ), uses AS (
        SELECT DISTINCT d.classid, d.objid, d.refclassid, d.refobjid
          FROM pg_depend d JOIN objs o ON o.classid = d.classid AND o.objid = d.objid
         WHERE d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass,
                                'pg_opclass'::regclass, 'pg_opfamily'::regclass)
           AND d.refobjid >= 16384
    )
    SELECT array_agg(format('%s uses %s', pg_describe_object(u.classid, u.objid, 0),
                            pg_describe_object(u.refclassid, u.refobjid, 0)) ORDER BY u.objid, u.refobjid)
      INTO v_found
      FROM uses u
     WHERE NOT EXISTS (
               SELECT FROM pg_roles r
                WHERE r.rolsuper
                  AND r.oid = CASE u.refclassid
                                  WHEN 'pg_proc'::regclass THEN (SELECT p.proowner FROM pg_proc p WHERE p.oid = u.refobjid)
                                  WHEN 'pg_operator'::regclass THEN (SELECT o.oprowner FROM pg_operator o WHERE o.oid = u.refobjid)
                                  WHEN 'pg_opclass'::regclass THEN (SELECT c.opcowner FROM pg_opclass c WHERE c.oid = u.refobjid)
                                  ELSE (SELECT f.opfowner FROM pg_opfamily f WHERE f.oid = u.refobjid) END);
    IF v_found IS NOT NULL THEN
        RAISE EXCEPTION 'source % has indexes or constraints that would run code of its owner: %',
                        source, array_to_string(v_found[1:5], '; ')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Reading a table plans with its index expressions and predicates, CHECK constraints and '
                           'partition keys, and scans with their operator classes, with your rights.',
                  HINT = 'Drop those indexes or constraints, or let the source''s owner copy it into a plain table to migrate.';
    END IF;
END
$fn$;

-- A view in this session's temporary schema over the source, by OID: the
-- batches read the source through it, so that a schema renamed (which
-- takes no lock on the tables in it) cannot make the source's name lead to
-- another relation between the checks and the reads.  Returns its name;
-- unified.migration_unpin_sources() drops it before the transaction ends
-- (it would keep the source's owner from dropping the source).
CREATE FUNCTION unified.migration_pin_source(source regclass)
RETURNS text
LANGUAGE plpgsql
STRICT
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    v_view  text := 'upg_migration_source_' || source::oid;
    v_name  text;
BEGIN
    SELECT format('%I.%I', n.nspname, c.relname) INTO v_name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source::oid;
    IF to_regclass('pg_temp.' || v_view) IS NOT NULL THEN
        EXECUTE format('DROP VIEW pg_temp.%I', v_view);
    END IF;
    EXECUTE format('CREATE TEMPORARY VIEW %I AS SELECT * FROM %s', v_view, v_name);
    -- the name was looked up again: it must still be the source
    IF EXISTS (SELECT FROM pg_rewrite w JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                WHERE w.ev_class = ('pg_temp.' || v_view)::regclass
                  AND d.refclassid = 'pg_class'::regclass
                  AND d.refobjid NOT IN (source::oid, ('pg_temp.' || v_view)::regclass::oid)) THEN
        RAISE EXCEPTION 'source % was replaced while it was being checked', source
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Its schema was renamed and another relation took its name; nothing was read.';
    END IF;
    RETURN 'pg_temp.' || quote_ident(v_view);
END
$fn$;

-- Drop this session's views over migration sources.
CREATE FUNCTION unified.migration_unpin_sources()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    v   text;
BEGIN
    FOR v IN SELECT c.relname FROM pg_class c
              WHERE c.relnamespace = pg_my_temp_schema() AND c.relkind = 'v'
                AND c.relname LIKE 'upg\_migration\_source\_%' LOOP
        EXECUTE format('DROP VIEW pg_temp.%I', v);
    END LOOP;
END
$fn$;

-- Check that "source" can be migrated as "kind" by the caller; return
-- what the migration needs to know of it, "name" being the pinned view to
-- read it through (migration_pin_source).  Locks the source and the
-- relations below it first (migration_lock_relations), so that nothing
-- checked here changes before the transaction ends; reads only the
-- catalogs.  Errors: 22004 NULL, 22023 a kind that is not one, 42P01 gone,
-- 42809 not a table, 42501 no SELECT privilege, and those of
-- migration_check_columns, migration_check_access and migration_check_code.
CREATE FUNCTION unified.migration_source_info(kind text, source regclass)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    v_rel       record;
    v_rels      regclass[];
    v_cols      jsonb;
    v_dbname    text;
BEGIN
    IF source IS NULL THEN
        RAISE EXCEPTION 'source must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF kind IS NULL OR kind NOT IN ('claude_context', 'cognee') THEN
        RAISE EXCEPTION 'kind must be claude_context or cognee, not %', coalesce(quote_literal(kind), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.oid, c.relname, n.nspname, c.relkind
      INTO v_rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = source::oid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source relation with OID % does not exist', source::oid
            USING ERRCODE = 'undefined_table';
    END IF;
    IF v_rel.relkind NOT IN ('r', 'p', 'm', 'f') THEN
        RAISE EXCEPTION 'source % is not a table', source
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = CASE v_rel.relkind WHEN 'v' THEN 'It is a view: reading it would run the functions of its definition.'
                                              ELSE format('Its relkind is %s.', v_rel.relkind) END,
                  HINT = 'Migrate from a table, partitioned table, materialized view or foreign table.';
    END IF;

    v_cols := unified.migration_source_columns(source);
    PERFORM unified.migration_check_columns(kind, source, v_cols);
    IF NOT has_table_privilege(source, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied to read source %', source
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('Grant SELECT on it (and USAGE on its schema) to %s.', quote_ident(current_user));
    END IF;
    -- locked, the source cannot change any more: check its columns again
    v_rels := unified.migration_lock_relations(source);
    v_cols := unified.migration_source_columns(source);
    PERFORM unified.migration_check_columns(kind, source, v_cols);
    PERFORM unified.migration_check_access(source, v_rels);
    PERFORM unified.migration_check_code(source, v_rels);

    IF v_rel.relkind = 'f' THEN
        SELECT substring(o FROM 8) INTO v_dbname
          FROM pg_foreign_table ft JOIN pg_foreign_server fs ON fs.oid = ft.ftserver,
               unnest(fs.srvoptions) AS o
         WHERE ft.ftrelid = source::oid AND o LIKE 'dbname=%';
    END IF;

    RETURN jsonb_build_object(
        'kind', kind,
        'name', unified.migration_pin_source(source),
        'source', source::text,
        'relname', v_rel.relname,
        'schema', v_rel.nspname,
        'relkind', v_rel.relkind,
        'dbname', CASE WHEN v_rel.relkind = 'f' THEN v_dbname ELSE current_database() END,
        'columns', v_cols,
        'id_type', v_cols -> 'id' ->> 'type',
        'vector_type', v_cols -> 'vector' ->> 'type',
        -- pgvector's typmod is the number of dimensions
        'vector_dims', CASE WHEN v_cols -> 'vector' ->> 'type' IN ('vector', 'halfvec')
                             AND (v_cols -> 'vector' ->> 'typmod')::int > 0
                            THEN (v_cols -> 'vector' ->> 'typmod')::int END,
        'indexed_id', v_rel.relkind = 'f' OR EXISTS (
                              SELECT FROM pg_index i
                               WHERE i.indrelid = source::oid
                                 AND i.indkey[0] = (SELECT a.attnum FROM pg_attribute a
                                                     WHERE a.attrelid = source::oid AND a.attname = 'id')));
END
$fn$;

-- The SQL expressions that read one source row (alias upg_src) of a run.
-- None of them raises for bad data: text that is not JSON or not a
-- vector reads as NULL, and the batch rejects the row with the reason.
CREATE FUNCTION unified.migration_exprs(info jsonb)
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    v_cols      jsonb := info -> 'columns';
    v_json      text := CASE info ->> 'kind' WHEN 'claude_context' THEN 'metadata' ELSE 'payload' END;
BEGIN
    RETURN jsonb_build_object(
        'vector', CASE info ->> 'vector_type'
            WHEN 'real[]' THEN 'unified.migration_detoast(upg_src.vector)'
            WHEN 'text' THEN 'unified.migration_text_vector(upg_src.vector)'
            WHEN 'character varying' THEN 'unified.migration_text_vector(upg_src.vector::pg_catalog.text)'
            ELSE 'upg_src.vector::pg_catalog.float4[]' END,
        -- the JSON column (metadata or payload): as jsonb when it is
        -- jsonb, else as text (json_text) to be checked and cast
        'json_jsonb', CASE v_cols -> v_json ->> 'type' WHEN 'jsonb' THEN format('upg_src.%I', v_json)
                          ELSE 'NULL::pg_catalog.jsonb' END,
        'json_text', CASE v_cols -> v_json ->> 'type' WHEN 'jsonb' THEN 'NULL::pg_catalog.text'
                         ELSE format('upg_src.%I::pg_catalog.text', v_json) END,
        'content', CASE info ->> 'kind'
            WHEN 'claude_context' THEN 'upg_src.content::pg_catalog.text'
            ELSE '(upg_src.payload OPERATOR(pg_catalog.->>) ''text'')' END,
        'created', CASE WHEN info ->> 'kind' = 'cognee'
                            -- milliseconds since the epoch, as Cognee writes them
                            THEN 'unified.migration_ms_timestamp(upg_src.payload OPERATOR(pg_catalog.->>) ''created_at'')'
                        WHEN v_cols -> 'created_at' ->> 'type' = 'timestamp with time zone' THEN 'upg_src.created_at'
                        WHEN v_cols -> 'created_at' ->> 'type' = 'timestamp without time zone'
                            THEN '(upg_src.created_at AT TIME ZONE ''UTC'')'
                        ELSE 'NULL::pg_catalog.timestamptz' END,
        'project', CASE WHEN v_cols ? 'project_id' THEN 'upg_src.project_id::pg_catalog.text'
                        ELSE 'NULL::pg_catalog.text' END);
END
$fn$;

-- Cognee's milliseconds since the epoch as a timestamp; NULL when the
-- text is not such a number (or when it is NULL).
CREATE FUNCTION unified.migration_ms_timestamp(ms text)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT CASE WHEN ms ~ '^-?[0-9]{1,15}(\.[0-9]{1,6})?$'
                THEN to_timestamp(ms::double precision / 1000) END;
$fn$;

-- The innermost level of a batch's row query: the source columns as read
-- (alias upg_src) for the rows matching "range", and the JSON column
-- parsed once.
CREATE FUNCTION unified.migration_base_sql(info jsonb, range text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    e       jsonb := unified.migration_exprs(info);
BEGIN
    RETURN format($q$
      SELECT b.*, CASE WHEN b.json_jsonb IS NOT NULL THEN b.json_jsonb
                       WHEN b.json_ok THEN b.json_text::jsonb END AS j,
             (b.json_text IS NOT NULL AND NOT b.json_ok) AS json_bad
        FROM (SELECT upg_src.id::text AS sid, %s AS emb, upg_src.vector IS NULL AS vec_null,
                     %s AS json_jsonb, %s AS json_text,
                     unified.migration_json_valid(%3$s) AS json_ok, %s
                FROM %s upg_src WHERE %s OFFSET 0) b OFFSET 0$q$,
        e ->> 'vector', e ->> 'json_jsonb', e ->> 'json_text',
        CASE info ->> 'kind'
            WHEN 'claude_context' THEN format(
                '%s AS content, %s AS project_col, upg_src.relative_path::text AS relative_path,'
                ' upg_src.start_line::int4 AS start_line, upg_src.end_line::int4 AS end_line,'
                ' upg_src.file_extension::text AS file_extension, coalesce(%s, now()) AS created_at',
                e ->> 'content', e ->> 'project', e ->> 'created')
            ELSE 'NULL::text AS cognee' END,
        info ->> 'name', range);
END
$fn$;

-- A Claude-Context batch's rows over "base" (migration_base_sql), as
-- unified.chunks columns, each with the reason it is rejected or NULL.
CREATE FUNCTION unified.migration_claude_rows_sql(base text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT format($q$
  SELECT y.*,
         coalesce(CASE WHEN y.content IS NULL OR y.content = '' THEN 'content is NULL or empty'
                       WHEN y.json_bad THEN 'metadata is not valid JSON'
                       WHEN jsonb_typeof(y.meta) <> 'object' THEN 'metadata is not a JSON object'
                       WHEN length(y.sid) > 1024 THEN 'id is longer than 1024 characters'
                       WHEN y.sid = '' THEN 'id is empty'
                       WHEN y.emb IS NULL AND NOT y.vec_null THEN 'vector is not a valid vector' END,
                  unified.migration_vector_problem(y.emb, $7),
                  CASE WHEN y.project_id = '' THEN 'project id is empty'
                       WHEN length(y.project_id) > 256 THEN 'project id is longer than 256 characters'
                       WHEN y.start_line < 0 OR y.end_line < y.start_line
                            THEN format('lines %%s to %%s are not a valid range', y.start_line, y.end_line)
                       WHEN NOT (y.created_at >= '1900-01-01 00:00:00+00' AND y.created_at < '9999-12-01 00:00:00+00')
                            THEN 'created_at is out of range' END) AS reason
    FROM (SELECT x.sid, x.content, coalesce($4, x.project_col, x.meta ->> 'codebasePath', $8) AS project_id,
                 NULL::uuid AS dataset_id, x.relative_path, x.start_line, x.end_line, x.file_extension,
                 CASE WHEN jsonb_typeof(x.meta) = 'object' AND x.meta ->> 'chunkIndex' ~ '^[0-9]{1,9}$'
                      THEN (x.meta ->> 'chunkIndex')::int4 END AS chunk_index,
                 x.emb, x.vec_null, x.meta, x.json_bad, x.created_at, x.created_at AS updated_at
            FROM (SELECT p.*, CASE WHEN p.json_bad THEN NULL ELSE coalesce(p.j, '{}'::jsonb) END AS meta
                    FROM (%s) p) x OFFSET 0) y$q$,
            base);
$fn$;

-- A Cognee batch's rows over "base" (migration_base_sql), as
-- unified.chunks columns, each with the reason it is rejected or NULL.
CREATE FUNCTION unified.migration_cognee_rows_sql(base text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT format($q$
  SELECT y.*,
         coalesce(CASE WHEN y.json_bad THEN 'payload is not valid JSON'
                       WHEN y.pl IS NULL THEN 'payload is NULL'
                       WHEN jsonb_typeof(y.pl) <> 'object' THEN 'payload is not a JSON object'
                       WHEN y.content IS NULL OR y.content = '' THEN 'payload has no text'
                       WHEN y.dataset_id IS NULL
                            THEN 'no dataset id: none was given, the schema and database names are not dataset ids, and the payload has no dataset_id'
                       WHEN length(y.sid) > 1024 THEN 'id is longer than 1024 characters'
                       WHEN y.sid = '' THEN 'id is empty'
                       WHEN y.created_at IS NULL THEN 'payload created_at is not milliseconds since the epoch'
                       WHEN y.updated_at IS NULL THEN 'payload updated_at is not milliseconds since the epoch'
                       WHEN NOT (y.created_at >= '1900-01-01 00:00:00+00' AND y.created_at < '9999-12-01 00:00:00+00')
                            THEN 'created_at is out of range'
                       WHEN y.emb IS NULL AND NOT y.vec_null THEN 'vector is not a valid vector' END,
                  unified.migration_vector_problem(y.emb, $7)) AS reason
    FROM (SELECT x.sid, x.pl ->> 'text' AS content, NULL::text AS project_id,
                 coalesce($6, CASE WHEN x.pl ->> 'dataset_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                   THEN (x.pl ->> 'dataset_id')::uuid END) AS dataset_id,
                 NULL::text AS relative_path, NULL::int4 AS start_line, NULL::int4 AS end_line,
                 NULL::text AS file_extension,
                 CASE WHEN x.pl ->> 'chunk_index' ~ '^[0-9]{1,9}$' THEN (x.pl ->> 'chunk_index')::int4 END AS chunk_index,
                 x.emb, x.vec_null,
                 CASE WHEN jsonb_typeof(x.pl) = 'object' THEN x.pl - 'text' END AS meta,
                 CASE WHEN x.pl ->> 'created_at' IS NULL THEN now()
                      ELSE unified.migration_ms_timestamp(x.pl ->> 'created_at') END AS created_at,
                 CASE WHEN x.pl ->> 'updated_at' IS NULL
                      THEN coalesce(unified.migration_ms_timestamp(x.pl ->> 'created_at'), now())
                      ELSE unified.migration_ms_timestamp(x.pl ->> 'updated_at') END AS updated_at,
                 x.pl, x.json_bad
            FROM (SELECT p.*, p.j AS pl FROM (%s) p) x OFFSET 0) y$q$,
            base);
$fn$;

-- The statement that migrates the source rows matching "range" (a
-- condition on upg_src.id using $1, $2).  Parameters: $1, $2 keys, $3 run
-- id, $4 the run's project id, $5 source_collection, $6 the run's dataset
-- id, $7 dimensions, $8 the table's name (the last project id fallback).
-- It returns (migrated, skipped, rejects as [[key, reason], ...]).
--
-- Each level of the row query ends in OFFSET 0 so that the planner keeps
-- it as a level of its own: an expression (a JSON parse, a vector parse)
-- is then computed once per row, however often the next level uses it.
CREATE FUNCTION unified.migration_batch_sql(info jsonb, range text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    v_base  text := unified.migration_base_sql(info, range);
    v_rows  text := CASE info ->> 'kind'
                        WHEN 'claude_context' THEN unified.migration_claude_rows_sql(v_base)
                        ELSE unified.migration_cognee_rows_sql(v_base) END;
BEGIN
    RETURN format($q$
WITH chk AS MATERIALIZED (%s
), stored AS MATERIALIZED (
  SELECT k FROM unnest(unified.migration_stored_keys(%L, $5,
                  ARRAY(SELECT c.sid FROM chk c WHERE c.reason IS NULL))) AS k
), ins AS (
  INSERT INTO unified.chunks (source, source_collection, source_id, project_id, cognee_dataset_id,
                              content, relative_path, start_line, end_line, file_extension,
                              chunk_index, embedding, metadata, migration_id, created_at, updated_at)
  SELECT %L, $5, c.sid, c.project_id, c.dataset_id, c.content, c.relative_path, c.start_line,
         c.end_line, c.file_extension, c.chunk_index, c.emb, c.meta, $3, c.created_at, c.updated_at
    FROM chk c
   WHERE c.reason IS NULL AND NOT EXISTS (SELECT FROM stored s WHERE s.k = c.sid)
  RETURNING 1
)
SELECT (SELECT count(*) FROM ins),
       (SELECT count(*) FROM chk c WHERE c.reason IS NULL AND EXISTS (SELECT FROM stored s WHERE s.k = c.sid)),
       coalesce((SELECT jsonb_agg(jsonb_build_array(c.sid, c.reason)) FROM chk c WHERE c.reason IS NOT NULL), '[]')$q$,
        v_rows, info ->> 'kind', info ->> 'kind');
END
$fn$;

-- Check the source of a run again, locked (migration_source_info locks it
-- by OID), so that its definition cannot change while the batch reads it.
CREATE FUNCTION unified.migration_lock_source(m unified.migrations)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    v_kind  "char";
BEGIN
    SELECT c.relkind INTO v_kind FROM pg_class c WHERE c.oid = m.source_oid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source % of migration % no longer exists', m.source, m.id
            USING ERRCODE = 'undefined_table',
                  HINT = format('Roll the migration back with CALL unified.rollback_migration(%s).', m.id);
    END IF;
    RETURN unified.migration_source_info(m.kind, m.source_oid::regclass);
END
$fn$;

-- Find the unfinished run of this source and take it over, or register a
-- new one; count the source's rows.  Returns the run's id.
CREATE FUNCTION unified.migration_begin(kind text, source regclass, project_id text,
                                        dataset_id uuid, batch_size integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    v_info      jsonb;
    v_run       unified.migrations;
    v_dataset   uuid;
    v_from      text;
    v_total     bigint;
    v_resume    boolean;
BEGIN
    IF batch_size IS NULL OR batch_size < 1 OR batch_size > 100000 THEN
        RAISE EXCEPTION 'batch_size must be between 1 and 100000, not %', coalesce(batch_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF project_id IS NOT NULL AND length(project_id) NOT BETWEEN 1 AND 256 THEN
        RAISE EXCEPTION 'project_id must be 1 to 256 characters long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given is %s characters long.', length(project_id));
    END IF;
    -- A run whose row is locked is in the middle of a batch.
    SELECT * INTO v_run FROM unified.migrations m
     WHERE m.source_oid = source::oid AND m.kind = kind AND m.state IN ('running', 'rolling_back')
     ORDER BY m.id DESC LIMIT 1;
    v_resume := FOUND;
    IF v_resume THEN
        BEGIN
            PERFORM FROM unified.migrations m WHERE m.id = v_run.id FOR UPDATE NOWAIT;
        EXCEPTION WHEN lock_not_available THEN
            RAISE EXCEPTION 'migration % of % is running in process %', v_run.id, source, v_run.pid
                USING ERRCODE = 'object_in_use',
                      HINT = 'Wait for it, or stop that process; calling the migration again then resumes it.';
        END;
        SELECT * INTO v_run FROM unified.migrations m WHERE m.id = v_run.id;
        IF v_run.state = 'rolling_back' THEN
            RAISE EXCEPTION 'migration % of % is being rolled back', v_run.id, source
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = format('Finish it with CALL unified.rollback_migration(%s), then migrate again.', v_run.id);
        END IF;
        IF v_run.pid <> pg_backend_pid() AND unified.migration_backend_busy(v_run.pid, v_run.backend_start) THEN
            RAISE EXCEPTION 'migration % of % is running in process %', v_run.id, source, v_run.pid
                USING ERRCODE = 'object_in_use',
                      HINT = 'Wait for it, or stop that process; calling the migration again then resumes it.';
        END IF;
        IF v_run.project_id IS DISTINCT FROM project_id OR v_run.dataset_arg IS DISTINCT FROM dataset_id THEN
            RAISE EXCEPTION 'migration % of % is unfinished and was started with other ids', v_run.id, source
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('It was started with project_id %s and dataset_id %s.',
                                      coalesce(quote_literal(v_run.project_id), 'NULL'),
                                      coalesce(quote_literal(v_run.dataset_arg::text), 'NULL')),
                      HINT = format('Resume it with the same arguments, or roll it back with CALL unified.rollback_migration(%s).', v_run.id);
        END IF;
    END IF;

    -- checked (and the source locked) only once no other session runs it
    v_info := unified.migration_source_info(kind, source);
    IF NOT (v_info ->> 'indexed_id')::boolean THEN
        RAISE WARNING 'source % has no index on id: every batch will scan it', source
            USING HINT = 'CREATE INDEX ON the source (id) makes each batch an index range scan.';
    END IF;

    -- Cognee's dataset: the argument, else the schema's or the database's
    -- name (a foreign table's: its server's dbname), else each payload's.
    IF kind = 'cognee' THEN
        v_dataset := dataset_id;
        v_from := 'argument';
        IF v_dataset IS NULL THEN
            v_dataset := unified.migration_dataset_from_name(v_info ->> 'schema');
            v_from := 'schema name';
        END IF;
        IF v_dataset IS NULL THEN
            v_dataset := unified.migration_dataset_from_name(v_info ->> 'dbname');
            v_from := CASE WHEN v_info ->> 'relkind' = 'f' THEN 'server dbname' ELSE 'database name' END;
        END IF;
        IF v_dataset IS NULL THEN
            v_from := 'payload';
        END IF;
    END IF;

    IF v_resume THEN
        UPDATE unified.migrations m
           SET pid = pg_backend_pid(),
               backend_start = unified.migration_backend_start(),
               resumes = m.resumes + 1, resumed_at = clock_timestamp(), updated_at = clock_timestamp(),
               done_at_resume = m.migrated + m.skipped + m.rejected, batch_size = batch_size
         WHERE m.id = v_run.id;
        RAISE NOTICE 'resuming migration % of % after key %', v_run.id, source, coalesce(quote_literal(v_run.last_key), '(none)');
    ELSE
        INSERT INTO unified.migrations AS m (kind, source, source_oid, source_collection, project_id,
                                             dataset_arg, dataset_id, dataset_from, batch_size, dimension,
                                             pid, backend_start)
        VALUES (kind, source::text, source::oid, v_info ->> 'relname', project_id, dataset_id,
                v_dataset, v_from, batch_size, (v_info ->> 'vector_dims')::int, pg_backend_pid(),
                unified.migration_backend_start())
        RETURNING * INTO v_run;
    END IF;

    EXECUTE format('SELECT count(*) FROM %s', v_info ->> 'name') INTO v_total;
    UPDATE unified.migrations m SET total = v_total WHERE m.id = v_run.id;
    RETURN v_run.id;
END
$fn$;

-- The run, locked, if this backend runs it; else an error.
CREATE FUNCTION unified.migration_mine(run bigint)
RETURNS unified.migrations
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    m   unified.migrations;
BEGIN
    SELECT * INTO m FROM unified.migrations r WHERE r.id = run FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'migration % does not exist', coalesce(run::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF m.pid IS DISTINCT FROM pg_backend_pid() THEN
        RAISE EXCEPTION 'migration % is not run by this session', run
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call unified.migrate_claude_chunks or unified.migrate_cognee_data to run it.';
    END IF;
    RETURN m;
END
$fn$;

-- The key range of the next batch: (after, upto], or upto NULL when no
-- row is left.
CREATE FUNCTION unified.migration_next_range(m unified.migrations, info jsonb,
                                             OUT after text, OUT upto text)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
BEGIN
    after := m.last_key;
    EXECUTE format('SELECT b.k::text FROM (SELECT upg_src.id AS k FROM %s upg_src WHERE %s ORDER BY upg_src.id LIMIT %s) b'
                   ' ORDER BY b.k DESC LIMIT 1',
                   info ->> 'name',
                   CASE WHEN m.last_key IS NULL THEN 'upg_src.id IS NOT NULL'
                        ELSE format('upg_src.id > $1::%s', info ->> 'id_type') END,
                   m.batch_size)
       INTO upto USING m.last_key;
END
$fn$;

-- The condition that selects the keys (after, upto].
CREATE FUNCTION unified.migration_range_sql(info jsonb, after text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT CASE WHEN after IS NULL THEN format('upg_src.id <= $2::%s', info ->> 'id_type')
                ELSE format('upg_src.id > $1::%1$s AND upg_src.id <= $2::%1$s', info ->> 'id_type') END;
$fn$;

-- Months of the next batch's rows that have no partition yet.
CREATE FUNCTION unified.migration_next_months(run bigint)
RETURNS date[]
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    m       unified.migrations := unified.migration_mine(run);
    v_info  jsonb := unified.migration_lock_source(m);
    r       record := unified.migration_next_range(m, v_info);
    v_months date[];
BEGIN
    IF r.upto IS NULL THEN
        RETURN NULL;
    END IF;
    BEGIN
        EXECUTE format('SELECT array_agg(DISTINCT date_trunc(''month'', c AT TIME ZONE ''UTC'')::date)'
                       ' FROM (SELECT %s AS c FROM %s upg_src WHERE %s) x'
                       ' WHERE c >= ''1900-01-01 00:00:00+00'' AND c < ''9999-12-01 00:00:00+00''',
                       unified.migration_exprs(v_info) ->> 'created', v_info ->> 'name',
                       unified.migration_range_sql(v_info, r.after))
           INTO v_months USING r.after, r.upto;
    EXCEPTION WHEN data_exception OR program_limit_exceeded THEN
        -- such rows are rejected by the batch
        RETURN NULL;
    END;
    SELECT array_agg(mo ORDER BY mo) INTO v_months
      FROM unnest(v_months) AS mo
     WHERE NOT EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                        WHERE i.inhparent = 'unified.chunks'::regclass
                          AND c.relnamespace = 'unified'::regnamespace
                          AND c.relname = 'chunks_' || to_char(mo, 'YYYY_MM'));
    RETURN v_months;
END
$fn$;

-- Create the partitions of these months; a month whose partition cannot
-- be created now (create_monthly_partition waits for its lock 200 ms at a
-- time, about 10 s in all, then gives up) is reported, and its rows go to
-- the default partition.  So that a source cannot make unified.chunks a
-- table of thousands of partitions (rows dated over centuries), no month
-- gets one once unified.chunks has unified_pg.max_partitions monthly
-- partitions, as in maintenance: those months' rows go to the default
-- partition too, with one WARNING per batch naming them.  Returns how
-- many were created.
CREATE FUNCTION unified.migration_create_partitions(months date[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    mo          date;
    n           integer := 0;
    max_parts   integer := coalesce(nullif(current_setting('unified_pg.max_partitions', true), '')::integer, 240);
    nparts      integer;
    capped      text[];
BEGIN
    FOREACH mo IN ARRAY coalesce(months, '{}') LOOP
        -- counted again for each month: once this transaction has created
        -- one it holds unified.chunks, so concurrent runs count in turn
        SELECT count(*) INTO nparts
          FROM pg_inherits i JOIN pg_partitioned_table pt ON pt.partrelid = i.inhparent
         WHERE i.inhparent = 'unified.chunks'::regclass AND i.inhrelid <> pt.partdefid;
        IF nparts >= max_parts THEN
            capped := capped || to_char(mo, 'YYYY-MM');
            CONTINUE;
        END IF;
        BEGIN
            PERFORM unified.create_monthly_partition(mo);
            n := n + 1;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'could not create the partition for %: %', to_char(mo, 'YYYY-MM'), SQLERRM
                USING HINT = 'Its rows go to the default partition; maintenance moves them later.';
        END;
    END LOOP;
    IF capped IS NOT NULL THEN
        RAISE WARNING '% months get no partition: unified.chunks has unified_pg.max_partitions (%) monthly partitions',
                      cardinality(capped), max_parts
            USING DETAIL = format('Months: %s%s.', array_to_string(capped[1:12], ', '),
                                  CASE WHEN cardinality(capped) > 12
                                       THEN format(' and %s more', cardinality(capped) - 12) ELSE '' END),
                  HINT = 'Their rows go to the default partition. To give them partitions, raise '
                         'unified_pg.max_partitions and let maintenance move them, or drop old months.';
    END IF;
    RETURN n;
END
$fn$;

-- The source rows with this id (key NULL: with a NULL id) as JSON, for
-- migration_rejects.  A row that jsonb cannot hold (a json column with
-- \u0000) is kept as the text of its JSON, in a JSON string.
CREATE FUNCTION unified.migration_raw(info jsonb, key text)
RETURNS jsonb[]
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    v_where text := CASE WHEN key IS NULL THEN 'upg_src.id IS NULL'
                         ELSE format('upg_src.id = $1::%s', info ->> 'id_type') END;
    v_rows  jsonb[];
BEGIN
    BEGIN
        EXECUTE format('SELECT array_agg(to_jsonb(upg_src.*)) FROM %s upg_src WHERE %s', info ->> 'name', v_where)
           INTO v_rows USING key;
    EXCEPTION WHEN data_exception OR program_limit_exceeded THEN
        EXECUTE format('SELECT array_agg(to_jsonb(row_to_json(upg_src.*)::text)) FROM %s upg_src WHERE %s',
                       info ->> 'name', v_where)
           INTO v_rows USING key;
    END;
    RETURN coalesce(v_rows, '{}');
END
$fn$;

-- Store rejected rows ([[key, reason], ...]): one row of migration_rejects
-- each, with the source row (the first one when the id is not unique).
CREATE FUNCTION unified.migration_reject(m unified.migrations, info jsonb, rejects jsonb)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    r       jsonb;
    n       bigint := 0;
BEGIN
    FOR r IN SELECT x FROM jsonb_array_elements(rejects) AS x LOOP
        -- a row gone from the source since keeps its reason
        INSERT INTO unified.migration_rejects (migration_id, source_key, reason, raw)
        VALUES (m.id, r ->> 0, r ->> 1, coalesce((unified.migration_raw(info, r ->> 0))[1], 'null'));
        n := n + 1;
    END LOOP;
    RETURN n;
END
$fn$;

-- Migrate one key of the batch on its own (after the batch's statement
-- failed); returns (migrated, skipped, rejected).
CREATE FUNCTION unified.migration_one_key(m unified.migrations, info jsonb, key text,
                                          OUT migrated bigint, OUT skipped bigint, OUT rejected bigint)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    v_sql       text := unified.migration_batch_sql(info, format('upg_src.id = $1::%s', info ->> 'id_type'));
    v_rejects   jsonb;
    v_reason    text;
    v_state     text;
    v_rows      bigint;
    e           jsonb := unified.migration_exprs(info);
    v_probe     text;
    v_raw       jsonb;
BEGIN
    migrated := 0; skipped := 0; rejected := 0;
    FOR attempt IN 1 .. 2 LOOP
        BEGIN
            EXECUTE v_sql INTO migrated, skipped, v_rejects
              USING key, NULL::text, m.id, m.project_id, m.source_collection, m.dataset_id,
                    m.dimension, info ->> 'relname';
            rejected := unified.migration_reject(m, info, v_rejects);
            RETURN;
        EXCEPTION WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded THEN
            GET STACKED DIAGNOSTICS v_reason = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE;
        END;
        -- A concurrent writer stored the key: the second try skips it.
        EXIT WHEN v_state <> '23505';
    END LOOP;

    -- Name the problem as precisely as a probe of each conversion can.
    FOREACH v_probe IN ARRAY ARRAY['json_text', 'vector'] LOOP
        CONTINUE WHEN NOT e ? v_probe;
        BEGIN
            EXECUTE format('SELECT (%s) IS NULL FROM %s upg_src WHERE upg_src.id = $1::%s',
                           e ->> v_probe, info ->> 'name', info ->> 'id_type') USING key;
        EXCEPTION WHEN data_exception THEN
            v_reason := format('%s cannot be read: %s',
                               CASE v_probe WHEN 'vector' THEN 'vector'
                                    WHEN 'json_text' THEN CASE info ->> 'kind' WHEN 'cognee' THEN 'payload' ELSE 'metadata' END END,
                               SQLERRM);
            EXIT;
        END;
    END LOOP;
    EXECUTE format('SELECT count(*) FROM %s upg_src WHERE upg_src.id = $1::%s', info ->> 'name', info ->> 'id_type')
       INTO v_rows USING key;
    IF v_state = '23505' AND v_rows > 1 THEN
        v_reason := format('id occurs %s times in the source', v_rows);
    ELSIF v_reason NOT LIKE '% cannot be read: %' THEN
        v_reason := 'cannot be stored: ' || v_reason;
    END IF;
    FOREACH v_raw IN ARRAY unified.migration_raw(info, key) LOOP
        INSERT INTO unified.migration_rejects (migration_id, source_key, reason, raw)
        VALUES (m.id, key, v_reason, v_raw);
        rejected := rejected + 1;
    END LOOP;
END
$fn$;

-- The run's vector length, when the source does not declare it: the most
-- common one among the first rows.
CREATE FUNCTION unified.migration_dimension(info jsonb)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    d   integer;
BEGIN
    EXECUTE format('SELECT mode() WITHIN GROUP (ORDER BY cardinality(v)) FROM'
                   ' (SELECT %s AS v FROM %s upg_src WHERE upg_src.vector IS NOT NULL ORDER BY upg_src.id LIMIT 100) x',
                   unified.migration_exprs(info) ->> 'vector', info ->> 'name')
       INTO d;
    RETURN d;
EXCEPTION WHEN data_exception THEN
    RETURN NULL;
END
$fn$;

-- Progress of a run as one line.
CREATE FUNCTION unified.migration_message(m unified.migrations)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT format('migration %s of %s: %s/%s rows (%s%%), %s rows/s, eta %s; migrated %s, skipped %s, rejected %s',
                  m.id, m.source, d, coalesce(m.total::text, '?'),
                  coalesce(round(100.0 * d / nullif(greatest(m.total, d), 0), 1)::text, '100.0'),
                  coalesce(round(r)::text, '?'),
                  CASE WHEN r > 0 THEN justify_interval(make_interval(secs => round(greatest(m.total - d, 0) / r)))::text
                       ELSE '?' END,
                  m.migrated, m.skipped, m.rejected)
      FROM (SELECT m.migrated + m.skipped + m.rejected AS d) AS x,
           LATERAL (SELECT (x.d - m.done_at_resume)
                           / nullif(extract(epoch FROM clock_timestamp() - m.resumed_at), 0) AS r) AS y;
$fn$;

-- Rows with a NULL id cannot be walked by key: reject them at the end.
CREATE FUNCTION unified.migration_finish(m unified.migrations, info jsonb)
RETURNS unified.migrations
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    n   bigint;
BEGIN
    INSERT INTO unified.migration_rejects (migration_id, source_key, reason, raw)
    SELECT m.id, NULL, 'id is NULL', x FROM unnest(unified.migration_raw(info, NULL)) AS x;
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE unified.migrations r
       SET rejected = r.rejected + n, state = 'completed', finished_at = clock_timestamp(),
           updated_at = clock_timestamp(), total = r.migrated + r.skipped + r.rejected + n
     WHERE r.id = m.id
    RETURNING * INTO m;
    RETURN m;
END
$fn$;

-- One batch of a run: migrate the next keys and save the checkpoint, in
-- the caller's transaction (the procedure commits it).
CREATE FUNCTION unified.migration_batch(run bigint)
RETURNS unified.migration_step
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
-- the batch's rows are held in memory once (a 768-dimension vector is 3 kB)
SET work_mem = '64MB'
AS $fn$
DECLARE
    m           unified.migrations := unified.migration_mine(run);
    v_info      jsonb := unified.migration_lock_source(m);
    r           record;
    v_migrated  bigint := 0;
    v_skipped   bigint := 0;
    v_rejected  bigint := 0;
    v_rejects   jsonb;
    k           record;
    v_key       text;
BEGIN
    IF m.state <> 'running' THEN
        RETURN ROW(true, format('migration %s is %s', m.id, m.state))::unified.migration_step;
    END IF;
    r := unified.migration_next_range(m, v_info);
    IF r.upto IS NULL THEN
        m := unified.migration_finish(m, v_info);
        RETURN ROW(true, format('migration %s of %s completed: migrated %s, skipped %s, rejected %s in %s',
                                m.id, m.source, m.migrated, m.skipped, m.rejected,
                                justify_interval(date_trunc('second', m.finished_at - m.started_at))))::unified.migration_step;
    END IF;
    IF m.dimension IS NULL THEN
        m.dimension := unified.migration_dimension(v_info);
    END IF;

    BEGIN
        EXECUTE unified.migration_batch_sql(v_info, unified.migration_range_sql(v_info, r.after))
           INTO v_migrated, v_skipped, v_rejects
          USING r.after, r.upto, m.id, m.project_id, m.source_collection, m.dataset_id,
                m.dimension, v_info ->> 'relname';
        v_rejected := unified.migration_reject(m, v_info, v_rejects);
    EXCEPTION WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded THEN
        -- One key at a time, each in a subtransaction of its own.
        v_migrated := 0; v_skipped := 0; v_rejected := 0;
        FOR v_key IN EXECUTE format('SELECT DISTINCT upg_src.id::text FROM %s upg_src WHERE %s',
                                    v_info ->> 'name', unified.migration_range_sql(v_info, r.after))
                     USING r.after, r.upto LOOP
            k := unified.migration_one_key(m, v_info, v_key);
            v_migrated := v_migrated + k.migrated;
            v_skipped := v_skipped + k.skipped;
            v_rejected := v_rejected + k.rejected;
        END LOOP;
    END;

    UPDATE unified.migrations u
       SET last_key = r.upto, migrated = u.migrated + v_migrated, skipped = u.skipped + v_skipped,
           rejected = u.rejected + v_rejected, batches = u.batches + 1, dimension = m.dimension,
           updated_at = clock_timestamp()
     WHERE u.id = m.id
    RETURNING * INTO m;
    RETURN ROW(false, unified.migration_message(m))::unified.migration_step;
END
$fn$;

-- Run a migration of "kind" to its end: partitions, then batches, each
-- committed.  A procedure that commits cannot pin its search_path, so
-- every name here is qualified and no operator is used.
CREATE PROCEDURE unified.migration_run(kind text, source regclass, project_id text,
                                       dataset_id uuid, batch_size integer)
LANGUAGE plpgsql
AS $fn$
DECLARE
    run     pg_catalog.int8;
    months  pg_catalog.date[];
    step    unified.migration_step;
BEGIN
    -- every transaction ends without the views that pinned the source
    -- (unified.migration_pin_source)
    run := unified.migration_begin(kind, source, project_id, dataset_id, batch_size);
    PERFORM unified.migration_unpin_sources();
    COMMIT;
    LOOP
        months := unified.migration_next_months(run);
        IF months IS NOT NULL THEN
            PERFORM unified.migration_create_partitions(months);
            PERFORM unified.migration_unpin_sources();
            COMMIT;
        END IF;
        step := unified.migration_batch(run);
        PERFORM unified.migration_unpin_sources();
        IF NOT step.done THEN
            -- not the last batch: see "synchronous_commit" above (and a
            -- SET LOCAL inside a function with SET clauses would end
            -- with the function)
            PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
        END IF;
        COMMIT;
        RAISE NOTICE '%', step.message;
        EXIT WHEN step.done;
    END LOOP;
END
$fn$;

-- Migrate a Claude-Context table (code_chunks_<hex>) into unified.chunks.
CREATE PROCEDURE unified.migrate_claude_chunks(source regclass, project_id text DEFAULT NULL,
                                               batch_size integer DEFAULT 1000)
LANGUAGE plpgsql
AS $fn$
BEGIN
    CALL unified.migration_run('claude_context', source, project_id, NULL, batch_size);
END
$fn$;

-- Migrate a Cognee collection ("DocumentChunk_text", ...) into unified.chunks.
CREATE PROCEDURE unified.migrate_cognee_data(source regclass, dataset_id uuid DEFAULT NULL,
                                             batch_size integer DEFAULT 1000)
LANGUAGE plpgsql
AS $fn$
BEGIN
    CALL unified.migration_run('cognee', source, NULL, dataset_id, batch_size);
END
$fn$;

COMMENT ON PROCEDURE unified.migrate_claude_chunks(regclass, text, integer) IS
    'Migrate a Claude-Context table into unified.chunks in committed keyset batches; resumable';
COMMENT ON PROCEDURE unified.migrate_cognee_data(regclass, uuid, integer) IS
    'Migrate a Cognee collection table into unified.chunks in committed keyset batches; resumable';

-- ---------------------------------------------------------------------------
-- Verification and rollback.
-- ---------------------------------------------------------------------------

-- Compare a completed run with its source: every source row must be
-- migrated, skipped or rejected (counts), and the rows the run stored must
-- be the source's rows that were neither skipped nor rejected, ids and
-- content (an order-independent checksum of both sides).
CREATE FUNCTION unified.verify_migration(migration_id bigint,
    OUT source_rows bigint, OUT migrated bigint, OUT skipped bigint, OUT rejected bigint,
    OUT counts_ok boolean, OUT source_checksum numeric, OUT target_checksum numeric,
    OUT checksum_ok boolean, OUT ok boolean)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    m       unified.migrations;
    v_info  jsonb;
    v_n     bigint;
BEGIN
    SELECT * INTO m FROM unified.migrations r WHERE r.id = verify_migration.migration_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'migration % does not exist', coalesce(verify_migration.migration_id::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF m.state <> 'completed' THEN
        RAISE EXCEPTION 'migration % is %, not completed', m.id, m.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = m.source_oid) THEN
        RAISE EXCEPTION 'source % of migration % no longer exists', m.source, m.id
            USING ERRCODE = 'undefined_table';
    END IF;
    v_info := unified.migration_source_info(m.kind, m.source_oid::regclass);

    EXECUTE format('SELECT count(*) FROM %s', v_info ->> 'name') INTO source_rows;
    SELECT count(*), coalesce(sum(unified.migration_row_hash(c.source_id, c.content_hash)), 0)
      INTO migrated, target_checksum
      FROM unified.chunks c WHERE c.migration_id = m.id;
    SELECT count(*) INTO rejected FROM unified.migration_rejects j WHERE j.migration_id = m.id;
    skipped := m.skipped;
    counts_ok := source_rows = migrated + skipped + rejected AND migrated = m.migrated AND rejected = m.rejected;

    -- The source's rows that this run neither rejected nor found stored.
    EXECUTE format($q$
        SELECT count(*), coalesce(sum(unified.migration_row_hash(upg_src.id::text, unified.content_hash(%s))), 0)
          FROM %s upg_src
         WHERE upg_src.id IS NOT NULL
           AND NOT EXISTS (SELECT FROM unified.migration_rejects j
                            WHERE j.migration_id = $1 AND j.source_key = upg_src.id::text)
           AND NOT EXISTS (SELECT FROM unified.chunks c
                            WHERE c.source = $2 AND c.source_collection = $3
                              AND c.source_id = upg_src.id::text AND c.migration_id IS DISTINCT FROM $1)$q$,
        unified.migration_exprs(v_info) ->> 'content', v_info ->> 'name')
       INTO v_n, source_checksum USING m.id, m.kind, m.source_collection;
    checksum_ok := source_checksum = target_checksum AND v_n = migrated;
    ok := counts_ok AND checksum_ok;
    PERFORM unified.migration_unpin_sources();
END
$fn$;

COMMENT ON FUNCTION unified.verify_migration(bigint) IS
    'Counts (source = migrated + skipped + rejected) and an order-independent checksum of ids and content';

-- Start (or take over) the rollback of a run.  Returns false when there
-- is nothing to do.
CREATE FUNCTION unified.migration_rollback_begin(migration_id bigint, batch_size integer)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    m   unified.migrations;
BEGIN
    IF batch_size IS NULL OR batch_size < 1 OR batch_size > 100000 THEN
        RAISE EXCEPTION 'batch_size must be between 1 and 100000, not %', coalesce(batch_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO m FROM unified.migrations r WHERE r.id = migration_rollback_begin.migration_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'migration % does not exist', coalesce(migration_rollback_begin.migration_id::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A run whose row is locked is in the middle of a batch.
    BEGIN
        PERFORM FROM unified.migrations r WHERE r.id = m.id FOR UPDATE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        RAISE EXCEPTION 'migration % is % in process %', m.id, m.state, m.pid
            USING ERRCODE = 'object_in_use',
                  HINT = 'Wait for it or stop that process, then roll back.';
    END;
    SELECT * INTO m FROM unified.migrations r WHERE r.id = m.id;
    IF m.state = 'rolled_back' THEN
        RAISE NOTICE 'migration % is already rolled back', m.id;
        RETURN false;
    END IF;
    IF m.state IN ('running', 'rolling_back') AND m.pid <> pg_backend_pid()
       AND unified.migration_backend_busy(m.pid, m.backend_start) THEN
        RAISE EXCEPTION 'migration % is % in process %', m.id, m.state, m.pid
            USING ERRCODE = 'object_in_use',
                  HINT = 'Wait for it or stop that process, then roll back.';
    END IF;
    UPDATE unified.migrations r
       SET state = 'rolling_back', pid = pg_backend_pid(),
           backend_start = unified.migration_backend_start(),
           updated_at = clock_timestamp()
     WHERE r.id = m.id;
    RETURN true;
END
$fn$;

-- Delete up to batch_size chunks of the run (their keys go with them, by
-- the key trigger); mark the run rolled back when none is left.  Each
-- batch finds its rows through the migration_id index (statistics taken
-- before the run would make the planner scan every partition per batch).
CREATE FUNCTION unified.migration_rollback_batch(migration_id bigint, batch_size integer)
RETURNS unified.migration_step
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
SET enable_seqscan = off
AS $fn$
#variable_conflict use_column
DECLARE
    m   unified.migrations := unified.migration_mine(migration_rollback_batch.migration_id);
    n   bigint;
BEGIN
    IF m.state <> 'rolling_back' THEN
        RETURN ROW(true, format('migration %s is %s', m.id, m.state))::unified.migration_step;
    END IF;
    DELETE FROM unified.chunks c
     USING (SELECT d.id, d.created_at FROM unified.chunks d
             WHERE d.migration_id = m.id LIMIT migration_rollback_batch.batch_size) d
     WHERE c.id = d.id AND c.created_at = d.created_at AND c.migration_id = m.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE unified.migrations r
       SET removed = r.removed + n, updated_at = clock_timestamp(),
           state = CASE WHEN n < migration_rollback_batch.batch_size THEN 'rolled_back' ELSE r.state END,
           finished_at = CASE WHEN n < migration_rollback_batch.batch_size THEN clock_timestamp() ELSE r.finished_at END
     WHERE r.id = m.id
    RETURNING * INTO m;
    RETURN ROW(m.state = 'rolled_back',
               format('rollback of migration %s: %s rows removed%s', m.id, m.removed,
                      CASE WHEN m.state = 'rolled_back' THEN ', done' ELSE '' END))::unified.migration_step;
END
$fn$;

-- Remove exactly the rows one run stored, in committed batches.  Rows the
-- run skipped (stored before it) and every other chunk stay.
CREATE PROCEDURE unified.rollback_migration(migration_id bigint, batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $fn$
DECLARE
    step    unified.migration_step;
BEGIN
    IF NOT unified.migration_rollback_begin(migration_id, batch_size) THEN
        RETURN;
    END IF;
    COMMIT;
    LOOP
        step := unified.migration_rollback_batch(migration_id, batch_size);
        IF NOT step.done THEN
            PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
        END IF;
        COMMIT;
        RAISE NOTICE '%', step.message;
        EXIT WHEN step.done;
    END LOOP;
END
$fn$;

COMMENT ON PROCEDURE unified.rollback_migration(bigint, integer) IS
    'Remove the chunks one migration run stored (keys included), in committed batches';

-- ---------------------------------------------------------------------------
-- Every registered source: unified.migrate_to_unified().
-- ---------------------------------------------------------------------------

-- Why the role that registered a source may not have it read, or NULL:
-- it must be able to read the source itself (USAGE on its schema, SELECT).
CREATE FUNCTION unified.migration_author_problem(author name, source regclass)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT CASE
        WHEN NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = author)
            THEN format('registered by role %s, which no longer exists', author)
        WHEN NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = source::oid)
            THEN NULL
        WHEN NOT has_schema_privilege(author, (SELECT c.relnamespace FROM pg_class c WHERE c.oid = source::oid), 'USAGE')
             OR NOT has_table_privilege(author, source, 'SELECT')
            THEN format('registered by %s, who may not read %s', author, source)
    END;
$fn$;

-- Why a registered source cannot be migrated now, or NULL.
CREATE FUNCTION unified.migration_source_problem(kind text, source regclass)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
BEGIN
    PERFORM unified.migration_source_info(kind, source);
    PERFORM unified.migration_unpin_sources();
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLERRM;
END
$fn$;

-- The run of a registered source that this session last ran.
CREATE FUNCTION unified.migration_last_run(source regclass)
RETURNS bigint
LANGUAGE sql
STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT max(m.id) FROM unified.migrations m
     WHERE m.source_oid = migration_last_run.source::oid AND m.pid = pg_backend_pid();
$fn$;

-- Verify a registered source's run, record the result; true when it passed.
CREATE FUNCTION unified.migration_source_verified(source_id integer, run bigint)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    v   record;
BEGIN
    v := unified.verify_migration(run);
    UPDATE unified.migration_sources s
       SET last_migration_id = run,
           last_status = CASE WHEN v.ok THEN format('verified: migrated %s, skipped %s, rejected %s',
                                                    v.migrated, v.skipped, v.rejected)
                              ELSE format('rolled back: verification failed (source %s rows, migrated %s, skipped %s, rejected %s, checksums %s)',
                                          v.source_rows, v.migrated, v.skipped, v.rejected,
                                          CASE WHEN v.checksum_ok THEN 'equal' ELSE 'differ' END) END
     WHERE s.id = source_id;
    IF NOT v.ok THEN
        RAISE WARNING 'migration % of % failed verification and is rolled back', run, (SELECT m.source FROM unified.migrations m WHERE m.id = run);
    END IF;
    RETURN v.ok;
END
$fn$;

-- Record that a registered source could not be migrated.
CREATE FUNCTION unified.migration_source_failed(source_id integer, problem text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
BEGIN
    UPDATE unified.migration_sources s SET last_status = 'failed: ' || problem WHERE s.id = source_id;
    RAISE WARNING 'migration source % skipped: %', source_id, problem;
END
$fn$;

-- Migrate every enabled source of unified.migration_sources, verify each
-- run, and roll back the runs that fail verification.
CREATE PROCEDURE unified.migrate_to_unified()
LANGUAGE plpgsql
AS $fn$
DECLARE
    src     record;
    problem pg_catalog.text;
    run     pg_catalog.int8;
BEGIN
    FOR src IN SELECT s.id, s.kind, s.source, s.project_id, s.dataset_id, s.batch_size, s.added_by
                 FROM unified.migration_sources s WHERE s.enabled ORDER BY s.id LOOP
        problem := unified.migration_author_problem(src.added_by, src.source);
        IF problem IS NULL THEN
            problem := unified.migration_source_problem(src.kind, src.source);
        END IF;
        IF problem IS NOT NULL THEN
            PERFORM unified.migration_source_failed(src.id, problem);
            COMMIT;
            CONTINUE;
        END IF;
        CALL unified.migration_run(src.kind, src.source, src.project_id, src.dataset_id, src.batch_size);
        run := unified.migration_last_run(src.source);
        IF NOT unified.migration_source_verified(src.id, run) THEN
            COMMIT;
            CALL unified.rollback_migration(run);
        END IF;
        COMMIT;
    END LOOP;
END
$fn$;

COMMENT ON PROCEDURE unified.migrate_to_unified() IS
    'Migrate, verify and (when verification fails) roll back every source of unified.migration_sources';

-- ---------------------------------------------------------------------------
-- Progress, readable from any session of unified_admin while a run goes.
-- ---------------------------------------------------------------------------
CREATE VIEW unified.migration_progress AS
SELECT m.id AS migration_id,
       m.kind,
       m.source,
       CASE WHEN m.state IN ('running', 'rolling_back')
                 AND NOT unified.migration_backend_busy(m.pid, m.backend_start)
            THEN 'interrupted' ELSE m.state END AS state,
       d.done,
       m.total,
       round(100.0 * d.done / nullif(greatest(m.total, d.done), 0), 1) AS percent,
       round(r.rate)::bigint AS rows_per_s,
       CASE WHEN m.state = 'running' AND r.rate > 0
            THEN justify_interval(make_interval(secs => round(greatest(m.total - d.done, 0) / r.rate))) END AS eta,
       m.migrated,
       m.skipped,
       m.rejected,
       m.removed,
       m.batches,
       m.last_key,
       m.resumes,
       m.started_at,
       m.updated_at,
       m.finished_at,
       m.pid
  FROM unified.migrations m,
       LATERAL (SELECT m.migrated + m.skipped + m.rejected AS done) AS d,
       LATERAL (SELECT (d.done - m.done_at_resume)
                       / nullif(extract(epoch FROM m.updated_at - m.resumed_at), 0) AS rate) AS r;

COMMENT ON VIEW unified.migration_progress IS
    'Migration runs: done/total, percent, rows/s, eta; state interrupted when its session is gone';

-- ---------------------------------------------------------------------------
-- Privileges: unified_admin runs migrations.  Its members read sources
-- with their own rights and write unified.chunks under the admin policy;
-- they keep the bookkeeping tables directly (history, not secrets: the
-- rejects hold source rows, which they can read anyway).
-- ---------------------------------------------------------------------------
REVOKE ALL ON TABLE unified.migration_sources, unified.migrations, unified.migration_rejects,
    unified.migration_progress FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE unified.migration_sources TO unified_admin;
GRANT SELECT, INSERT, UPDATE ON TABLE unified.migrations TO unified_admin;
GRANT SELECT, INSERT ON TABLE unified.migration_rejects TO unified_admin;
GRANT SELECT ON TABLE unified.migration_progress TO unified_admin;

-- Every migration routine is for unified_admin alone: one list, revoked
-- from PUBLIC and granted to unified_admin.
DO $grants$
DECLARE
    r   record;
BEGIN
    FOR r IN SELECT kind, name FROM (VALUES
        ('FUNCTION', 'unified.migration_vector_problem(real[], integer)'),
        ('FUNCTION', 'unified.migration_text_vector(text)'),
        ('FUNCTION', 'unified.migration_json_valid(text)'),
        ('FUNCTION', 'unified.migration_detoast(real[])'),
        ('FUNCTION', 'unified.migration_row_hash(text, bytea)'),
        ('FUNCTION', 'unified.migration_dataset_from_name(text)'),
        ('FUNCTION', 'unified.migration_backend_busy(integer, timestamptz)'),
        ('FUNCTION', 'unified.migration_backend_start()'),
        ('FUNCTION', 'unified.migration_stored_keys(text, text, text[])'),
        ('FUNCTION', 'unified.migration_source_layout(text)'),
        ('FUNCTION', 'unified.migration_source_columns(regclass)'),
        ('FUNCTION', 'unified.migration_check_columns(text, regclass, jsonb)'),
        ('FUNCTION', 'unified.migration_check_access(regclass, regclass[])'),
        ('FUNCTION', 'unified.migration_check_code(regclass, regclass[])'),
        ('FUNCTION', 'unified.migration_lock_relations(regclass)'),
        ('FUNCTION', 'unified.migration_pin_source(regclass)'),
        ('FUNCTION', 'unified.migration_unpin_sources()'),
        ('FUNCTION', 'unified.migration_source_info(text, regclass)'),
        ('FUNCTION', 'unified.migration_exprs(jsonb)'),
        ('FUNCTION', 'unified.migration_ms_timestamp(text)'),
        ('FUNCTION', 'unified.migration_base_sql(jsonb, text)'),
        ('FUNCTION', 'unified.migration_claude_rows_sql(text)'),
        ('FUNCTION', 'unified.migration_cognee_rows_sql(text)'),
        ('FUNCTION', 'unified.migration_batch_sql(jsonb, text)'),
        ('FUNCTION', 'unified.migration_lock_source(unified.migrations)'),
        ('FUNCTION', 'unified.migration_begin(text, regclass, text, uuid, integer)'),
        ('FUNCTION', 'unified.migration_mine(bigint)'),
        ('FUNCTION', 'unified.migration_next_range(unified.migrations, jsonb)'),
        ('FUNCTION', 'unified.migration_range_sql(jsonb, text)'),
        ('FUNCTION', 'unified.migration_next_months(bigint)'),
        ('FUNCTION', 'unified.migration_create_partitions(date[])'),
        ('FUNCTION', 'unified.migration_raw(jsonb, text)'),
        ('FUNCTION', 'unified.migration_reject(unified.migrations, jsonb, jsonb)'),
        ('FUNCTION', 'unified.migration_one_key(unified.migrations, jsonb, text)'),
        ('FUNCTION', 'unified.migration_dimension(jsonb)'),
        ('FUNCTION', 'unified.migration_message(unified.migrations)'),
        ('FUNCTION', 'unified.migration_finish(unified.migrations, jsonb)'),
        ('FUNCTION', 'unified.migration_batch(bigint)'),
        ('FUNCTION', 'unified.verify_migration(bigint)'),
        ('FUNCTION', 'unified.migration_rollback_begin(bigint, integer)'),
        ('FUNCTION', 'unified.migration_rollback_batch(bigint, integer)'),
        ('FUNCTION', 'unified.migration_source_problem(text, regclass)'),
        ('FUNCTION', 'unified.migration_author_problem(name, regclass)'),
        ('FUNCTION', 'unified.migration_sources_author()'),
        ('FUNCTION', 'unified.migration_last_run(regclass)'),
        ('FUNCTION', 'unified.migration_source_verified(integer, bigint)'),
        ('FUNCTION', 'unified.migration_source_failed(integer, text)'),
        ('PROCEDURE', 'unified.migration_run(text, regclass, text, uuid, integer)'),
        ('PROCEDURE', 'unified.migrate_claude_chunks(regclass, text, integer)'),
        ('PROCEDURE', 'unified.migrate_cognee_data(regclass, uuid, integer)'),
        ('PROCEDURE', 'unified.rollback_migration(bigint, integer)'),
        ('PROCEDURE', 'unified.migrate_to_unified()')
    ) AS routines(kind, name) LOOP
        EXECUTE format('REVOKE ALL ON %s %s FROM PUBLIC', r.kind, r.name);
        EXECUTE format('GRANT EXECUTE ON %s %s TO unified_admin', r.kind, r.name);
    END LOOP;
END
$grants$;
