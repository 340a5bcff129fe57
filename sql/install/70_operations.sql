-- ---------------------------------------------------------------------------
-- The applications' operations (DESIGN section 9).
--
-- Each application operation is one SQL call: upsert_chunks, delete_chunks,
-- delete_file_chunks, search_chunks, hybrid_search.  They run with the
-- caller's rights (SECURITY INVOKER), so row-level security, tenant grants
-- and column privileges apply exactly as to the caller's own SQL; they
-- schema-qualify every name and operator, so the caller's search_path
-- cannot redirect them.  Only enable_vector_index, which creates indexes on
-- a table the caller does not own, is SECURITY DEFINER (for unified_admin).
--
-- upsert_chunks: atomic and race-free without a unique index.  A source
-- row (source, source_collection, source_id) is unique through
-- unified.chunk_keys, kept by the C statement triggers of src/chunks.c,
-- because no unique index can span the monthly partitions; so INSERT ...
-- ON CONFLICT cannot be used.  One call does, for the whole batch:
--
--  1. validate the JSON (every problem is an error naming the chunk, before
--     anything is written) and parse it once into an array, sorted by key:
--     upsert_chunks_parse(jsonb) for a jsonb batch, upsert_chunks_parse(text)
--     for the batch's JSON text (no jsonb made; same rules and errors);
--  2. lock the stored rows of the batch's keys, SELECT ... ORDER BY key FOR
--     UPDATE: in key order, so that two upserts (and delete_chunks /
--     delete_file_chunks, which lock in the same order) never deadlock.  A
--     row deleted meanwhile is skipped (READ COMMITTED re-checks it);
--  3. update the locked rows, one statement per application;
--  4. insert the rest, in key order.  If another session inserted one of
--     these keys after step 2, the key trigger waits for it and, when it
--     committed, raises unique_violation: the batch then goes back to step 2
--     inside a subtransaction, where that row is now seen and updated.
--     Under REPEATABLE READ or SERIALIZABLE the snapshot cannot see it, and
--     PostgreSQL fails the insert with serialization_failure (40001), to be
--     retried as a whole.  A key that stays taken is another tenant's (or
--     application's) row the caller cannot see: the unique_violation is
--     raised.
--
-- Everything is one statement of the caller (a function call), so an error
-- anywhere leaves every table as it was.
-- ---------------------------------------------------------------------------

-- updated_at follows every UPDATE, by upsert_chunks or plain SQL, unless
-- the UPDATE sets it itself (src/operations.c).
CREATE FUNCTION unified.chunks_touch_updated_at()
RETURNS trigger
AS 'MODULE_PATHNAME', 'upg_chunks_touch_updated_at'
LANGUAGE C;

REVOKE ALL ON FUNCTION unified.chunks_touch_updated_at() FROM PUBLIC;

CREATE TRIGGER chunks_touch_updated_at BEFORE UPDATE ON unified.chunks
    FOR EACH ROW
    WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION unified.chunks_touch_updated_at();

-- ---------------------------------------------------------------------------
-- Vectors.
-- ---------------------------------------------------------------------------
CREATE FUNCTION unified.cosine_distance(real[], real[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'upg_cosine_distance'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION unified.cosine_distance(real[], real[]) IS
    'Cosine distance 1 - cos(a, b) of two embeddings of the same length; NaN if one has norm zero';

CREATE FUNCTION unified.embedding_from_jsonb(embedding jsonb, chunk_no integer)
RETURNS real[]
AS 'MODULE_PATHNAME', 'upg_embedding_from_jsonb'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION unified.embedding_from_jsonb(jsonb, integer) IS
    'A JSON array of finite numbers as real[]; chunk_no names the chunk in errors';

-- ---------------------------------------------------------------------------
-- upsert_chunks
-- ---------------------------------------------------------------------------

-- One element of an upsert_chunks batch, parsed.  "present" lists the keys
-- the element had: an update sets those columns and keeps the others.
CREATE TYPE unified.chunk_input AS (
    ord                 integer,
    present             text[],
    source              text,
    source_collection   text,
    source_id           text,
    project_id          text,
    cognee_dataset_id   uuid,
    content             text,
    relative_path       text,
    start_line          integer,
    end_line            integer,
    file_extension      text,
    chunk_index         integer,
    embedding           real[],
    embedding_model     text,
    metadata            jsonb,
    created_at          timestamptz,
    updated_at          timestamptz
);

-- Step 1: check and parse a batch in one pass, sorted by key; every
-- problem is an error naming the chunk; a key given twice is refused
-- (src/operations.c).
CREATE FUNCTION unified.upsert_chunks_parse(chunks jsonb)
RETURNS unified.chunk_input[]
AS 'MODULE_PATHNAME', 'upg_upsert_chunks_parse'
LANGUAGE C STABLE PARALLEL SAFE;

-- The same for the batch's JSON text, read once by PostgreSQL's JSON
-- parser without making a jsonb (nor a numeric of each embedding number):
-- the same rules and errors as the jsonb form (src/upsert_text.c).
CREATE FUNCTION unified.upsert_chunks_parse(chunks text)
RETURNS unified.chunk_input[]
AS 'MODULE_PATHNAME', 'upg_upsert_chunks_parse_text'
LANGUAGE C STABLE PARALLEL SAFE;

-- metadata after an upsert: "new" replaces "stored", except that for each
-- key of union_keys the result is the stored array followed by the new
-- values it does not contain (Cognee's belongs_to_set).  A key that is not
-- an array on both sides takes the new value if there is one.
CREATE FUNCTION unified.metadata_merge(stored jsonb, new jsonb, union_keys text[])
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT CASE
        WHEN union_keys IS NULL OR pg_catalog.cardinality(union_keys) OPERATOR(pg_catalog.=) 0
             OR stored IS NULL THEN new
        ELSE new OPERATOR(pg_catalog.||) coalesce((
            SELECT pg_catalog.jsonb_object_agg(u.k, CASE
                WHEN pg_catalog.jsonb_typeof(stored OPERATOR(pg_catalog.->) u.k) OPERATOR(pg_catalog.=) 'array'
                     AND pg_catalog.jsonb_typeof(new OPERATOR(pg_catalog.->) u.k) OPERATOR(pg_catalog.=) 'array'
                THEN (stored OPERATOR(pg_catalog.->) u.k) OPERATOR(pg_catalog.||) coalesce((
                        SELECT pg_catalog.jsonb_agg(x.e ORDER BY x.o)
                          FROM pg_catalog.jsonb_array_elements(new OPERATOR(pg_catalog.->) u.k)
                               WITH ORDINALITY AS x(e, o)
                         WHERE NOT (stored OPERATOR(pg_catalog.->) u.k)
                                   OPERATOR(pg_catalog.@>) pg_catalog.jsonb_build_array(x.e)), '[]'::jsonb)
                ELSE coalesce(new OPERATOR(pg_catalog.->) u.k, stored OPERATOR(pg_catalog.->) u.k)
                END)
              FROM (SELECT DISTINCT t.k FROM pg_catalog.unnest(union_keys) AS t(k)) u
             WHERE u.k IS NOT NULL
               AND (stored OPERATOR(pg_catalog.?) u.k OR new OPERATOR(pg_catalog.?) u.k)), '{}'::jsonb)
        END
$fn$;

COMMENT ON FUNCTION unified.metadata_merge(jsonb, jsonb, text[]) IS
    'metadata written by upsert_chunks: the new object, with the arrays under union_keys united with the stored ones';

-- Steps 2 to 4 of an upsert (see the banner) for a parsed batch.  When no
-- metadata key is united, an update takes the new metadata without a call
-- of metadata_merge per row (a SQL function with a SET clause, which the
-- planner cannot inline).  Bitmap scans are off inside: every statement
-- here reaches rows by key (the key index, the primary key), and with
-- statistics taken while a table was small the planner ANDs the primary
-- key with the row-level security qual "source = ..." through the key
-- index, reading the whole index for every row of the batch (seen in
-- bench/operations: re-index batches of 100 taking 0.9 s instead of 0.05).
CREATE FUNCTION unified.upsert_chunks_apply(parsed unified.chunk_input[], union_keys text[],
                                            OUT inserted bigint, OUT updated bigint)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
SET enable_bitmapscan = off
AS $fn$
DECLARE
    l_ord       integer[];
    l_id        bigint[];
    l_created   timestamptz[];
    n           bigint;
BEGIN
    inserted := 0;
    updated := 0;

    -- 2. lock the stored rows, in key order
    SELECT coalesce(array_agg(l.ord), '{}'), array_agg(l.id), array_agg(l.created_at)
      INTO l_ord, l_id, l_created
      FROM (SELECT i.ord, c.id, c.created_at
              FROM unnest(parsed) i
              JOIN unified.chunks c
                ON c.source OPERATOR(pg_catalog.=) i.source
               AND c.source_collection OPERATOR(pg_catalog.=) i.source_collection
               AND c.source_id OPERATOR(pg_catalog.=) i.source_id
             ORDER BY i.source, i.source_collection, i.source_id
               FOR UPDATE OF c) l;

    -- 3. update them: each application's rows set only its own id column.
    -- Each statement runs only when it has rows: a statement naming the
    -- other application's id column is refused to a role without the
    -- column privilege even when it would change nothing.
    IF EXISTS (SELECT FROM unnest(parsed) i WHERE i.ord = ANY (l_ord) AND i.source = 'claude_context') THEN
        UPDATE unified.chunks c SET
            project_id = i.project_id,
            content = i.content,
            relative_path = CASE WHEN 'relative_path' = ANY (i.present) THEN i.relative_path ELSE c.relative_path END,
            start_line = CASE WHEN 'start_line' = ANY (i.present) THEN i.start_line ELSE c.start_line END,
            end_line = CASE WHEN 'end_line' = ANY (i.present) THEN i.end_line ELSE c.end_line END,
            file_extension = CASE WHEN 'file_extension' = ANY (i.present) THEN i.file_extension ELSE c.file_extension END,
            chunk_index = CASE WHEN 'chunk_index' = ANY (i.present) THEN i.chunk_index ELSE c.chunk_index END,
            embedding = CASE WHEN 'embedding' = ANY (i.present) THEN i.embedding ELSE c.embedding END,
            embedding_model = CASE WHEN 'embedding_model' = ANY (i.present) THEN i.embedding_model ELSE c.embedding_model END,
            metadata = CASE WHEN NOT 'metadata' = ANY (i.present) THEN c.metadata
                            WHEN union_keys IS NULL THEN i.metadata
                            ELSE unified.metadata_merge(c.metadata, i.metadata, union_keys) END,
            updated_at = CASE WHEN 'updated_at' = ANY (i.present) THEN i.updated_at ELSE c.updated_at END
          FROM unnest(parsed) i, unnest(l_ord, l_id, l_created) AS l(ord, id, created_at)
         WHERE l.ord = i.ord AND i.source = 'claude_context'
           AND c.id = l.id AND c.created_at = l.created_at;
        GET DIAGNOSTICS n = ROW_COUNT;
        updated := updated + n;
    END IF;
    IF EXISTS (SELECT FROM unnest(parsed) i WHERE i.ord = ANY (l_ord) AND i.source = 'cognee') THEN
        UPDATE unified.chunks c SET
            cognee_dataset_id = i.cognee_dataset_id,
            content = i.content,
            relative_path = CASE WHEN 'relative_path' = ANY (i.present) THEN i.relative_path ELSE c.relative_path END,
            start_line = CASE WHEN 'start_line' = ANY (i.present) THEN i.start_line ELSE c.start_line END,
            end_line = CASE WHEN 'end_line' = ANY (i.present) THEN i.end_line ELSE c.end_line END,
            file_extension = CASE WHEN 'file_extension' = ANY (i.present) THEN i.file_extension ELSE c.file_extension END,
            chunk_index = CASE WHEN 'chunk_index' = ANY (i.present) THEN i.chunk_index ELSE c.chunk_index END,
            embedding = CASE WHEN 'embedding' = ANY (i.present) THEN i.embedding ELSE c.embedding END,
            embedding_model = CASE WHEN 'embedding_model' = ANY (i.present) THEN i.embedding_model ELSE c.embedding_model END,
            metadata = CASE WHEN NOT 'metadata' = ANY (i.present) THEN c.metadata
                            WHEN union_keys IS NULL THEN i.metadata
                            ELSE unified.metadata_merge(c.metadata, i.metadata, union_keys) END,
            updated_at = CASE WHEN 'updated_at' = ANY (i.present) THEN i.updated_at ELSE c.updated_at END
          FROM unnest(parsed) i, unnest(l_ord, l_id, l_created) AS l(ord, id, created_at)
         WHERE l.ord = i.ord AND i.source = 'cognee'
           AND c.id = l.id AND c.created_at = l.created_at;
        GET DIAGNOSTICS n = ROW_COUNT;
        updated := updated + n;
    END IF;

    -- 4. insert the rest, in key order; the column list depends on whose
    -- ids a chunk carries, because each application may write only its own
    IF EXISTS (SELECT FROM unnest(parsed) i WHERE i.ord <> ALL (l_ord) AND i.cognee_dataset_id IS NULL) THEN
        INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content,
                                    relative_path, start_line, end_line, file_extension, chunk_index,
                                    embedding, embedding_model, metadata, created_at, updated_at)
        SELECT i.source, i.source_collection, i.source_id, i.project_id, i.content,
               i.relative_path, i.start_line, i.end_line, i.file_extension, i.chunk_index,
               i.embedding, i.embedding_model, coalesce(i.metadata, '{}'),
               coalesce(i.created_at, now()), coalesce(i.updated_at, now())
          FROM unnest(parsed) i
         WHERE i.ord <> ALL (l_ord) AND i.cognee_dataset_id IS NULL
         ORDER BY i.source, i.source_collection, i.source_id;
        GET DIAGNOSTICS n = ROW_COUNT;
        inserted := inserted + n;
    END IF;

    IF EXISTS (SELECT FROM unnest(parsed) i
                WHERE i.ord <> ALL (l_ord) AND i.cognee_dataset_id IS NOT NULL AND i.project_id IS NULL) THEN
        INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id, content,
                                    relative_path, start_line, end_line, file_extension, chunk_index,
                                    embedding, embedding_model, metadata, created_at, updated_at)
        SELECT i.source, i.source_collection, i.source_id, i.cognee_dataset_id, i.content,
               i.relative_path, i.start_line, i.end_line, i.file_extension, i.chunk_index,
               i.embedding, i.embedding_model, coalesce(i.metadata, '{}'),
               coalesce(i.created_at, now()), coalesce(i.updated_at, now())
          FROM unnest(parsed) i
         WHERE i.ord <> ALL (l_ord) AND i.cognee_dataset_id IS NOT NULL AND i.project_id IS NULL
         ORDER BY i.source, i.source_collection, i.source_id;
        GET DIAGNOSTICS n = ROW_COUNT;
        inserted := inserted + n;
    END IF;

    -- shared rows (both ids): only unified_admin may create them
    IF EXISTS (SELECT FROM unnest(parsed) i
                WHERE i.ord <> ALL (l_ord) AND i.cognee_dataset_id IS NOT NULL AND i.project_id IS NOT NULL) THEN
        INSERT INTO unified.chunks (source, source_collection, source_id, project_id, cognee_dataset_id,
                                    content, relative_path, start_line, end_line, file_extension,
                                    chunk_index, embedding, embedding_model, metadata, created_at, updated_at)
        SELECT i.source, i.source_collection, i.source_id, i.project_id, i.cognee_dataset_id,
               i.content, i.relative_path, i.start_line, i.end_line, i.file_extension,
               i.chunk_index, i.embedding, i.embedding_model, coalesce(i.metadata, '{}'),
               coalesce(i.created_at, now()), coalesce(i.updated_at, now())
          FROM unnest(parsed) i
         WHERE i.ord <> ALL (l_ord) AND i.cognee_dataset_id IS NOT NULL AND i.project_id IS NOT NULL
         ORDER BY i.source, i.source_collection, i.source_id;
        GET DIAGNOSTICS n = ROW_COUNT;
        inserted := inserted + n;
    END IF;
END
$fn$;

-- Steps 2 to 4 for a parsed batch, again when a concurrent insert of one
-- of its keys committed meanwhile (see the banner).
CREATE FUNCTION unified.upsert_chunks_write(parsed unified.chunk_input[], metadata_union text[],
                                            OUT inserted bigint, OUT updated bigint)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    attempt     integer := 1;
BEGIN
    inserted := 0;
    updated := 0;
    IF cardinality(parsed) = 0 THEN
        RETURN;
    END IF;

    LOOP
        BEGIN
            SELECT a.inserted, a.updated INTO inserted, updated
              FROM unified.upsert_chunks_apply(parsed, metadata_union) a;
            RETURN;
        EXCEPTION WHEN unique_violation THEN
            -- A key inserted by a session that committed after step 2: a new
            -- statement sees it (READ COMMITTED).  With one snapshot for the
            -- whole transaction it would not, and PostgreSQL itself reports
            -- such a conflict as serialization_failure; a unique_violation
            -- there, or one that persists, is a row the caller cannot see.
            IF current_setting('transaction_isolation') <> 'read committed' OR attempt >= 3 THEN
                RAISE;
            END IF;
            attempt := attempt + 1;
        END;
    END LOOP;
END
$fn$;

-- Upsert a batch of chunks; metadata_union names metadata keys whose arrays
-- are united with the stored ones instead of replaced.  Two forms of the
-- batch, one behaviour: jsonb, or its JSON text (read without making a
-- jsonb).  PostgreSQL resolves a string literal or an untyped parameter
-- (what node-postgres and asyncpg send for $1) to the text form.
CREATE FUNCTION unified.upsert_chunks(chunks jsonb, metadata_union text[],
                                      OUT inserted bigint, OUT updated bigint)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
BEGIN
    SELECT w.inserted, w.updated INTO inserted, updated
      FROM unified.upsert_chunks_write(unified.upsert_chunks_parse(chunks), metadata_union) w;
END
$fn$;

CREATE FUNCTION unified.upsert_chunks(chunks text, metadata_union text[],
                                      OUT inserted bigint, OUT updated bigint)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
BEGIN
    SELECT w.inserted, w.updated INTO inserted, updated
      FROM unified.upsert_chunks_write(unified.upsert_chunks_parse(chunks), metadata_union) w;
END
$fn$;

CREATE FUNCTION unified.upsert_chunks(chunks jsonb, OUT inserted bigint, OUT updated bigint)
RETURNS record
LANGUAGE sql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT u.inserted, u.updated FROM unified.upsert_chunks(chunks, NULL::pg_catalog.text[]) u
$fn$;

CREATE FUNCTION unified.upsert_chunks(chunks text, OUT inserted bigint, OUT updated bigint)
RETURNS record
LANGUAGE sql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT u.inserted, u.updated FROM unified.upsert_chunks(chunks, NULL::pg_catalog.text[]) u
$fn$;

COMMENT ON FUNCTION unified.upsert_chunks(jsonb) IS
    'Insert or update (by source, source_collection, source_id) a JSON array of chunks; returns the counts';
COMMENT ON FUNCTION unified.upsert_chunks(jsonb, text[]) IS
    'upsert_chunks, uniting the stored and new arrays of the metadata keys listed in metadata_union';
COMMENT ON FUNCTION unified.upsert_chunks(text) IS
    'upsert_chunks for the JSON text of the batch (what a literal or an untyped parameter resolves to): same behaviour, parsed once without jsonb';
COMMENT ON FUNCTION unified.upsert_chunks(text, text[]) IS
    'upsert_chunks with metadata_union, for the JSON text of the batch';

-- ---------------------------------------------------------------------------
-- Deletes.  Rows are locked in key order before they are deleted, the order
-- upsert_chunks locks in, so a delete and an upsert of the same rows wait
-- for each other instead of deadlocking.
-- ---------------------------------------------------------------------------
CREATE FUNCTION unified.delete_chunks(source text, source_collection text, source_ids text[])
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    s       text := delete_chunks.source;
    sc      text := delete_chunks.source_collection;
    ids     text[] := delete_chunks.source_ids;
    n       bigint;
BEGIN
    IF s IS NULL OR sc IS NULL OR ids IS NULL THEN
        RAISE EXCEPTION 'source, source_collection and source_ids must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF s NOT IN ('claude_context', 'cognee') THEN
        RAISE EXCEPTION 'source must be claude_context or cognee'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given is %s.', left(quote_literal(s), 80));
    END IF;
    IF array_position(ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'source_ids must not contain NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    WITH l AS MATERIALIZED (
        SELECT c.id, c.created_at FROM unified.chunks c
         WHERE c.source = s AND c.source_collection = sc AND c.source_id = ANY (ids)
         ORDER BY c.source, c.source_collection, c.source_id
           FOR UPDATE OF c)
    DELETE FROM unified.chunks d USING l WHERE d.id = l.id AND d.created_at = l.created_at;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION unified.delete_chunks(text, text, text[]) IS
    'Delete the chunks with these source ids of one source and collection; returns how many';

CREATE FUNCTION unified.delete_file_chunks(project_id text, relative_path text,
                                           source_collection text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    p       text := delete_file_chunks.project_id;
    path    text := delete_file_chunks.relative_path;
    sc      text := delete_file_chunks.source_collection;
    n       bigint;
BEGIN
    IF p IS NULL OR path IS NULL THEN
        RAISE EXCEPTION 'project_id and relative_path must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    WITH l AS MATERIALIZED (
        SELECT c.id, c.created_at FROM unified.chunks c
         WHERE c.project_id = p AND c.relative_path = path AND c.source = 'claude_context'
           AND (sc IS NULL OR c.source_collection = sc)
         ORDER BY c.source, c.source_collection, c.source_id
           FOR UPDATE OF c)
    DELETE FROM unified.chunks d USING l WHERE d.id = l.id AND d.created_at = l.created_at;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION unified.delete_file_chunks(text, text, text) IS
    'Delete the Claude-Context chunks of one file of a project (re-index); returns how many';

-- ---------------------------------------------------------------------------
-- Search.
--
-- search_chunks ranks the visible chunks whose embedding has the query's
-- dimensions by cosine distance.  Without a vector index for those
-- dimensions it is exact: unified.cosine_distance over every candidate row
-- (the filters narrow the rows first, through the indexes on project_id
-- and cognee_dataset_id).  With one (enable_vector_index) it asks
-- pgvector's HNSW index for the nearest rows with iterative index scans
-- (hnsw.iterative_scan = relaxed_order), so that rows removed by
-- row-level security or the filters do not leave it short of k; the
-- candidates are then ordered by their exact distance.  The planner may
-- still prefer the exact path when the filters leave few rows.
-- ---------------------------------------------------------------------------

-- pgvector's schema when the vector extension is created here, version
-- 0.8 or later; else NULL.
CREATE FUNCTION unified.pgvector_schema()
RETURNS name
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
BEGIN
    -- PL/pgSQL keeps this query's plan for the session; as a SQL function
    -- it was planned again on every search
    RETURN (SELECT n.nspname
              FROM pg_catalog.pg_extension e
              JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
             WHERE e.extname OPERATOR(pg_catalog.=) 'vector'
               AND pg_catalog.string_to_array(pg_catalog.split_part(e.extversion, '-', 1), '.')::integer[]
                   OPERATOR(pg_catalog.>=) '{0,8}'::integer[]);
END
$fn$;

-- The name of the HNSW index enable_vector_index makes for these dimensions.
CREATE FUNCTION unified.vector_index_name(dimensions integer)
RETURNS name
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT pg_catalog.format('chunks_embedding_%s_cosine_idx', dimensions)::name
$fn$;

-- The vector indexes of unified.chunks (made by enable_vector_index).
CREATE VIEW unified.vector_indexes AS
SELECT (pg_catalog.regexp_match(c.relname, '^chunks_embedding_([0-9]+)_cosine_idx$'))[1]::integer AS dimensions,
       'cosine'::text AS metric,
       CASE WHEN (pg_catalog.regexp_match(c.relname, '^chunks_embedding_([0-9]+)_cosine_idx$'))[1]::integer
                 OPERATOR(pg_catalog.>) 2000 THEN 'halfvec' ELSE 'vector' END AS type,
       c.oid::regclass AS index,
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_inherits i WHERE i.inhparent OPERATOR(pg_catalog.=) c.oid)
           AS partitions,
       'partitioned'::text AS layout
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_index x ON x.indexrelid OPERATOR(pg_catalog.=) c.oid
 WHERE x.indrelid OPERATOR(pg_catalog.=) 'unified.chunks'::regclass
   AND c.relname OPERATOR(pg_catalog.~) '^chunks_embedding_[0-9]+_cosine_idx$'
UNION ALL
-- the global layout (72_vector_global.sql): one index on a side table
SELECT (pg_catalog.regexp_match(t.relname, '^chunk_vectors_([0-9]+)$'))[1]::integer,
       'cosine'::text,
       CASE WHEN (pg_catalog.regexp_match(t.relname, '^chunk_vectors_([0-9]+)$'))[1]::integer
                 OPERATOR(pg_catalog.>) 2000 THEN 'halfvec' ELSE 'vector' END,
       c.oid::regclass,
       NULL::bigint,
       'global'::text
  FROM pg_catalog.pg_class t
  JOIN pg_catalog.pg_index x ON x.indrelid OPERATOR(pg_catalog.=) t.oid
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) x.indexrelid
 WHERE t.relnamespace OPERATOR(pg_catalog.=) 'unified'::regnamespace
   AND t.relname OPERATOR(pg_catalog.~) '^chunk_vectors_[0-9]+$'
   AND c.relname OPERATOR(pg_catalog.~) '^chunk_vectors_[0-9]+_embedding_idx$';

COMMENT ON VIEW unified.vector_indexes IS
    'HNSW indexes serving search_chunks by embedding dimensions: per partition (and on how many) or global';

-- Check a query vector, k and a filter for a search; return the vector's
-- dimensions (src/vector.c: one pass over the query).  Not STRICT: a NULL
-- query or k is an error with its own message.
CREATE FUNCTION unified.search_check(query real[], k integer, filter jsonb)
RETURNS integer
AS 'MODULE_PATHNAME', 'upg_search_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The WHERE clause of a search over unified.chunks c for the filters given
-- (NULL = no condition; dims NULL: embeddings of any length); $1 .. $7 are
-- query, k, project_id, cognee_dataset_id, source_collection, filter,
-- min_score.  Never empty.
CREATE FUNCTION unified.search_where(dims integer, project_id text, cognee_dataset_id uuid,
                                     source_collection text, filter jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT pg_catalog.concat_ws(' AND ',
        'true',
        CASE WHEN dims IS NOT NULL
             THEN pg_catalog.format('pg_catalog.cardinality(c.embedding) OPERATOR(pg_catalog.=) %s', dims) END,
        CASE WHEN project_id IS NOT NULL THEN 'c.project_id OPERATOR(pg_catalog.=) $3' END,
        CASE WHEN cognee_dataset_id IS NOT NULL THEN 'c.cognee_dataset_id OPERATOR(pg_catalog.=) $4' END,
        CASE WHEN source_collection IS NOT NULL THEN 'c.source_collection OPERATOR(pg_catalog.=) $5' END,
        CASE WHEN filter IS NOT NULL THEN 'c.metadata OPERATOR(pg_catalog.@>) $6' END)
$fn$;

-- The exact path inside a project reads an 8-bit copy of every embedding
-- first, from an index, and the full rows of a few candidates only
-- (src/sketch.c says how, and why it is exact).  The index holds the
-- copies of embeddings of up to 2,000 dimensions of Claude-Context's
-- chunks; the table's other indexes are not affected.
--
-- The copy has its own type, unified.sketch: bytes, like bytea (its text
-- form is bytea's, and it is binary coercible to bytea, so that the index
-- uses bytea's btree operator class), but stored PLAIN.  An index entry
-- with a bytea of more than 510 bytes would be offered to pglz on every
-- insert, for codes that do not compress.
CREATE TYPE unified.sketch;
CREATE FUNCTION unified.sketch_in(cstring) RETURNS unified.sketch
AS 'byteain' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION unified.sketch_out(unified.sketch) RETURNS cstring
AS 'byteaout' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE unified.sketch (INPUT = unified.sketch_in, OUTPUT = unified.sketch_out,
                            INTERNALLENGTH = VARIABLE, STORAGE = plain, ALIGNMENT = int4);
COMMENT ON TYPE unified.sketch IS
    'An embedding quantized to one byte per dimension (unified.embedding_sketch)';
CREATE CAST (unified.sketch AS bytea) WITHOUT FUNCTION AS IMPLICIT;
REVOKE ALL ON FUNCTION unified.sketch_in(cstring), unified.sketch_out(unified.sketch) FROM PUBLIC;

CREATE FUNCTION unified.embedding_sketch(real[])
RETURNS unified.sketch
AS 'MODULE_PATHNAME', 'upg_embedding_sketch'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION unified.embedding_sketch(real[]) IS
    'An embedding quantized to one byte per dimension, with the bound of its rounding (the key of chunks_project_sketch_idx)';

-- (The id before the sketch keeps the index compact: new chunks' entries
-- go to the end of their project's range, as a serial key's do, where
-- entries ordered by sketch would split pages all over it.)
CREATE INDEX chunks_project_sketch_idx ON unified.chunks
    (project_id, id, unified.embedding_sketch(embedding)) INCLUDE (created_at)
    WHERE project_id IS NOT NULL AND pg_catalog.cardinality(embedding) <= 2000
      -- an entry must fit a third of a btree page (2,704 bytes): the
      -- project_id's bytes (up to 1,024), the codes, 58 bytes of headers
      AND pg_catalog.octet_length(project_id) + pg_catalog.cardinality(embedding) <= 2600;

-- The exact ranking: the lim nearest visible chunks, in (distance, id)
-- order, through chunks_project_sketch_idx when it serves the query, else
-- by the plain query (min_score is the caller's).
CREATE FUNCTION unified.search_chunks_sketch(q real[], lim integer, p_project text,
                                             p_dataset uuid, p_collection text, p_filter jsonb)
RETURNS TABLE (id bigint, source text, source_collection text, source_id text, project_id text,
               cognee_dataset_id uuid, content text, relative_path text, start_line integer,
               end_line integer, file_extension text, metadata jsonb, score double precision)
AS 'MODULE_PATHNAME', 'upg_search_chunks_sketch'
LANGUAGE C STABLE
SET search_path = pg_catalog, unified, pg_temp;

COMMENT ON FUNCTION unified.search_chunks_sketch(real[], integer, text, uuid, text, jsonb) IS
    'The exact nearest chunks, through the 8-bit copies of chunks_project_sketch_idx inside a project (internal to search_chunks)';

-- The exact path, in src/sketch.c: inside a project the 8-bit copies first;
-- otherwise (and when they do not serve the query) every candidate row's
-- cosine distance, in one query.  With a project or dataset filter the rows
-- are fetched through its index (a bitmap scan, in physical order), never
-- by scanning the partitions: a project's chunks are stored together, so
-- the scan reads the project's pages instead of everyone's, though the
-- planner, which does not know that, would often choose to read everything
-- (measured in BENCHMARKS.md).  The SET clause keeps the change inside
-- this function.
--
-- That query ranks with ORDER BY distance LIMIT k at one level, the rows'
-- columns carried along: a parallel plan (when the planner makes one: large
-- candidate sets, parallel_setup_cost, max_parallel_workers_per_gather) is
-- a top-k sort in every worker under a Gather Merge, never all candidates
-- sent through the leader.  The winners are not fetched again by key: a row
-- maintenance moved out of the default partition after the snapshot is,
-- for the snapshot, still there, while its key now routes to its month
-- (isolation sketch_partition_move).  The two filters on the distance are
-- applied after the LIMIT, which is exact: NaN (a stored embedding of norm
-- zero) sorts after every number, and min_score keeps a prefix of the
-- order, so the first k rows that pass are among the first k rows.  No
-- query is planned here before the C function reads the index, so that
-- its queries and its index read see the same partitions.
CREATE FUNCTION unified.search_chunks_exact(q real[], lim integer, p_project text,
                                            p_dataset uuid, p_collection text,
                                            p_filter jsonb, p_min_score real)
RETURNS TABLE (id bigint, source text, source_collection text, source_id text, project_id text,
               cognee_dataset_id uuid, content text, relative_path text, start_line integer,
               end_line integer, file_extension text, metadata jsonb, score double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, unified, pg_temp
SET enable_seqscan = on
AS $fn$
BEGIN
    IF p_project IS NOT NULL OR p_dataset IS NOT NULL THEN
        PERFORM set_config('enable_seqscan', 'off', true);
    END IF;
    RETURN QUERY
    SELECT s.id, s.source, s.source_collection, s.source_id, s.project_id, s.cognee_dataset_id,
           s.content, s.relative_path, s.start_line, s.end_line, s.file_extension, s.metadata, s.score
      FROM unified.search_chunks_sketch(q, lim, p_project, p_dataset, p_collection, p_filter)
           WITH ORDINALITY AS s(id, source, source_collection, source_id, project_id, cognee_dataset_id,
                                content, relative_path, start_line, end_line, file_extension, metadata,
                                score, n)
     WHERE p_min_score IS NULL OR s.score OPERATOR(pg_catalog.>=) p_min_score
     ORDER BY s.n;
END
$fn$;

-- The HNSW path.  The settings hold for this function only: PostgreSQL
-- restores them when it returns.
CREATE FUNCTION unified.search_chunks_hnsw(q real[], lim integer, p_project text,
                                            p_dataset uuid, p_collection text,
                                            p_filter jsonb, p_min_score real, vector_schema name)
RETURNS TABLE (id bigint, source text, source_collection text, source_id text, project_id text,
               cognee_dataset_id uuid, content text, relative_path text, start_line integer,
               end_line integer, file_extension text, metadata jsonb, score double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, unified, pg_temp
SET hnsw.iterative_scan = relaxed_order
SET hnsw.ef_search = 40
AS $fn$
DECLARE
    dims    integer := cardinality(q);
    expr    text;
BEGIN
    -- the index expression, exactly as enable_vector_index wrote it
    expr := format('(c.embedding)::%I.%s(%s)', vector_schema,
                   CASE WHEN dims > 2000 THEN 'halfvec' ELSE 'vector' END, dims);
    -- pgvector's default candidate list, per partition; at least k
    IF lim > 40 THEN
        PERFORM set_config('hnsw.ef_search', least(lim, 1000)::text, true);
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT s.id, s.source, s.source_collection, s.source_id, s.project_id, s.cognee_dataset_id,'
        ' s.content, s.relative_path, s.start_line, s.end_line, s.file_extension, s.metadata,'
        ' 1 OPERATOR(pg_catalog.-) s.d'
        ' FROM (SELECT c.id, c.source, c.source_collection, c.source_id, c.project_id, c.cognee_dataset_id,'
        '  c.content, c.relative_path, c.start_line, c.end_line, c.file_extension, c.metadata,'
        '  unified.cosine_distance(c.embedding, $1) AS d'
        '  FROM unified.chunks c WHERE %s'
        '  ORDER BY %s OPERATOR(%I.<=>) ($1)::%I.%s(%s) LIMIT $2) s'
        ' WHERE s.d OPERATOR(pg_catalog.<>) ''NaN''::float8'
        '  AND ($7 IS NULL OR 1 OPERATOR(pg_catalog.-) s.d OPERATOR(pg_catalog.>=) $7)'
        ' ORDER BY s.d, s.id',
        unified.search_where(dims, p_project, p_dataset, p_collection, p_filter),
        expr, vector_schema, vector_schema,
        CASE WHEN dims > 2000 THEN 'halfvec' ELSE 'vector' END, dims)
    USING q, lim, p_project, p_dataset, p_collection, p_filter, p_min_score;
END
$fn$;

-- Choose the path for a search (see the section's banner).
CREATE FUNCTION unified.search_chunks_run(q real[], lim integer, p_project text, p_dataset uuid,
                                          p_collection text, p_filter jsonb, p_min_score real)
RETURNS TABLE (id bigint, source text, source_collection text, source_id text, project_id text,
               cognee_dataset_id uuid, content text, relative_path text, start_line integer,
               end_line integer, file_extension text, metadata jsonb, score double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    dims    integer := unified.search_check(q, lim, p_filter);
    vs      name := unified.pgvector_schema();
BEGIN
    IF vs IS NOT NULL AND dims <= 4000 AND unified.vector_global_table(dims) IS NOT NULL THEN
        RETURN QUERY SELECT * FROM unified.search_chunks_global(q, lim, p_project, p_dataset,
                                                               p_collection, p_filter, p_min_score, vs);
    ELSIF vs IS NOT NULL AND dims <= 4000
       AND to_regclass(format('unified.%I', unified.vector_index_name(dims))) IS NOT NULL THEN
        RETURN QUERY SELECT * FROM unified.search_chunks_hnsw(q, lim, p_project, p_dataset,
                                                             p_collection, p_filter, p_min_score, vs);
    ELSE
        RETURN QUERY SELECT * FROM unified.search_chunks_exact(q, lim, p_project, p_dataset,
                                                              p_collection, p_filter, p_min_score);
    END IF;
END
$fn$;

-- The k nearest visible chunks by cosine similarity (score = 1 - distance).
-- (SQL, so that its parameters may be named like its result columns.)
CREATE FUNCTION unified.search_chunks(query real[], k integer DEFAULT 10, project_id text DEFAULT NULL,
                                      cognee_dataset_id uuid DEFAULT NULL,
                                      source_collection text DEFAULT NULL, filter jsonb DEFAULT NULL,
                                      min_score real DEFAULT NULL)
RETURNS TABLE (id bigint, source text, source_collection text, source_id text, project_id text,
               cognee_dataset_id uuid, content text, relative_path text, start_line integer,
               end_line integer, file_extension text, metadata jsonb, score double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT * FROM unified.search_chunks_run($1, $2, $3, $4, $5, $6, $7)
$fn$;

COMMENT ON FUNCTION unified.search_chunks(real[], integer, text, uuid, text, jsonb, real) IS
    'The k visible chunks nearest to query by cosine similarity, exact or through an HNSW index';

-- Vector and full-text ranking fused by reciprocal rank (k = 60), as
-- Claude-Context's hybrid mode does: each ranking contributes its 3 * k best
-- rows, a row's score is the sum of 1 / (60 + rank) over the rankings it
-- is in.  Full text is content_tsv matched with plainto_tsquery('english',
-- query_text) and ranked with ts_rank_cd (normalization 32).
CREATE FUNCTION unified.hybrid_search_run(q real[], q_text text, lim integer, p_project text,
                                          p_dataset uuid, p_collection text, p_filter jsonb,
                                          p_min_score real)
RETURNS TABLE (id bigint, source text, source_collection text, source_id text, project_id text,
               cognee_dataset_id uuid, content text, relative_path text, start_line integer,
               end_line integer, file_extension text, metadata jsonb, vector_score double precision,
               text_score real, score double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    dims    integer := unified.search_check(q, lim, p_filter);
    pool    integer := least(3 * lim, 10000);
    where_c text;
BEGIN
    IF q_text IS NULL THEN
        RAISE EXCEPTION 'query_text must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Use unified.search_chunks for a vector search alone.';
    END IF;
    -- the text ranking does not need embeddings of the query's dimensions
    where_c := unified.search_where(NULL, p_project, p_dataset, p_collection, p_filter);
    RETURN QUERY EXECUTE format(
        'WITH v AS (SELECT s.*, pg_catalog.row_number() OVER (ORDER BY s.score DESC, s.id) AS r'
        '   FROM unified.search_chunks($1, $8, $3, $4, $5, $6, $7) s),'
        ' t AS (SELECT x.*, pg_catalog.row_number() OVER (ORDER BY x.text_score DESC, x.id) AS r'
        '   FROM (SELECT c.id, c.source, c.source_collection, c.source_id, c.project_id, c.cognee_dataset_id,'
        '     c.content, c.relative_path, c.start_line, c.end_line, c.file_extension, c.metadata,'
        '     pg_catalog.ts_rank_cd(c.content_tsv, q.q, 32) AS text_score'
        '     FROM unified.chunks c, pg_catalog.plainto_tsquery(''pg_catalog.english''::regconfig, $9) AS q(q)'
        '     WHERE c.content_tsv OPERATOR(pg_catalog.@@) q.q AND %s'
        '     ORDER BY text_score DESC, c.id LIMIT $8) x)'
        ' SELECT coalesce(v.id, t.id), coalesce(v.source, t.source), coalesce(v.source_collection, t.source_collection),'
        '  coalesce(v.source_id, t.source_id), coalesce(v.project_id, t.project_id),'
        '  coalesce(v.cognee_dataset_id, t.cognee_dataset_id), coalesce(v.content, t.content),'
        '  coalesce(v.relative_path, t.relative_path), coalesce(v.start_line, t.start_line),'
        '  coalesce(v.end_line, t.end_line), coalesce(v.file_extension, t.file_extension),'
        '  coalesce(v.metadata, t.metadata), v.score, t.text_score,'
        '  coalesce(1.0::float8 OPERATOR(pg_catalog./) (60 OPERATOR(pg_catalog.+) v.r), 0)'
        '  OPERATOR(pg_catalog.+) coalesce(1.0::float8 OPERATOR(pg_catalog./) (60 OPERATOR(pg_catalog.+) t.r), 0) AS rrf'
        ' FROM v FULL JOIN t ON t.id OPERATOR(pg_catalog.=) v.id'
        ' ORDER BY rrf DESC, v.r NULLS LAST, t.r NULLS LAST LIMIT $2',
        where_c)
    USING q, lim, p_project, p_dataset, p_collection, p_filter, p_min_score, pool, q_text;
END
$fn$;

CREATE FUNCTION unified.hybrid_search(query real[], query_text text, k integer DEFAULT 10,
                                      project_id text DEFAULT NULL, cognee_dataset_id uuid DEFAULT NULL,
                                      source_collection text DEFAULT NULL, filter jsonb DEFAULT NULL,
                                      min_score real DEFAULT NULL)
RETURNS TABLE (id bigint, source text, source_collection text, source_id text, project_id text,
               cognee_dataset_id uuid, content text, relative_path text, start_line integer,
               end_line integer, file_extension text, metadata jsonb, vector_score double precision,
               text_score real, score double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT * FROM unified.hybrid_search_run($1, $2, $3, $4, $5, $6, $7, $8)
$fn$;

COMMENT ON FUNCTION unified.hybrid_search(real[], text, integer, text, uuid, text, jsonb, real) IS
    'Vector and full-text search fused by reciprocal rank (k = 60); score is the fused score';

-- ---------------------------------------------------------------------------
-- pgvector (optional).  enable_vector_index makes one HNSW expression
-- index on the partitioned table, for embeddings of one dimension count:
-- PostgreSQL builds it on every partition, the default one included, and
-- on every partition attached later (maintenance creates a month's table
-- and attaches it), so no partition is ever without it.  A partial index
-- (WHERE cardinality(embedding) = dimensions) because the cast to
-- vector(dimensions) fails for any other length; above 2,000 dimensions
-- (pgvector's limit for vector in HNSW) it indexes halfvec, up to 4,000.
-- The build holds a SHARE lock on the partitions (writes wait) for as
-- long as it runs, and uses maintenance_work_mem.
-- ---------------------------------------------------------------------------
-- Which vector indexes exist, as data: pg_dump leaves out the indexes of an
-- extension's table (unified.chunks), so a restore creates them again from
-- these rows (unified.finish_restore, in 98_dump.sql).
CREATE TABLE unified.vector_index_config (
    dimensions  integer PRIMARY KEY,
    metric      text NOT NULL DEFAULT 'cosine',
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  name NOT NULL DEFAULT SESSION_USER,
    CONSTRAINT vector_index_config_dimensions_check CHECK (dimensions BETWEEN 1 AND 4000),
    CONSTRAINT vector_index_config_metric_check CHECK (metric = 'cosine')
);
SELECT pg_catalog.pg_extension_config_dump('unified.vector_index_config', '');
REVOKE ALL ON TABLE unified.vector_index_config FROM PUBLIC;
GRANT SELECT ON TABLE unified.vector_index_config TO unified_admin;

-- The CREATE INDEX statement of the vector index for these dimensions, on
-- the parent only (a restore's partitions attach theirs) or on every
-- partition; NULL without pgvector.
CREATE FUNCTION unified.vector_index_definition(dimensions integer, only_parent boolean)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT pg_catalog.format('CREATE INDEX IF NOT EXISTS %I ON %s unified.chunks USING hnsw'
                             ' (((embedding)::%I.%s(%s)) %I.%I)'
                             ' WHERE pg_catalog.cardinality(embedding) OPERATOR(pg_catalog.=) %s',
                             unified.vector_index_name(dimensions),
                             CASE WHEN only_parent THEN 'ONLY' ELSE '' END,
                             vs, t, dimensions, vs, t || '_cosine_ops', dimensions)
      FROM (SELECT unified.pgvector_schema() AS vs,
                   CASE WHEN dimensions > 2000 THEN 'halfvec' ELSE 'vector' END AS t) x
     WHERE x.vs IS NOT NULL
$fn$;

-- layout 'partitioned' (the default): one index per partition, as above;
-- 'global': one index over all months in a side table (72_vector_global.sql).
CREATE FUNCTION unified.enable_vector_index(dimensions integer, metric text DEFAULT 'cosine',
                                            layout text DEFAULT 'partitioned')
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    vs      name;
BEGIN
    IF dimensions IS NULL OR metric IS NULL OR layout IS NULL THEN
        RAISE EXCEPTION 'dimensions, metric and layout must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF metric <> 'cosine' THEN
        RAISE EXCEPTION 'metric % is not supported', left(quote_literal(metric), 80)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'unified.search_chunks ranks by cosine similarity, so only a cosine index serves it.',
                  HINT = 'Use metric => ''cosine''.';
    END IF;
    IF dimensions < 1 OR dimensions > 4000 THEN
        RAISE EXCEPTION 'an HNSW index can have 1 to 4000 dimensions, not %', dimensions
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Embeddings with more dimensions are searched exactly.';
    END IF;
    PERFORM unified.vector_layout_check(dimensions, layout);

    vs := unified.pgvector_schema();
    IF vs IS NULL THEN
        IF EXISTS (SELECT FROM pg_extension WHERE extname = 'vector') THEN
            RAISE EXCEPTION 'pgvector % is too old for unified_pg',
                            (SELECT extversion FROM pg_extension WHERE extname = 'vector')
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Install pgvector 0.8 or later and run ALTER EXTENSION vector UPDATE.';
        ELSIF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'vector') THEN
            RAISE EXCEPTION 'extension "vector" (pgvector) is not created in this database'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Run CREATE EXTENSION vector; as a superuser (or a role allowed to), then call unified.enable_vector_index again.';
        ELSE
            RAISE EXCEPTION 'pgvector is not installed on this server'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'unified.search_chunks keeps working with exact search.',
                      HINT = 'Install pgvector 0.8 or later (the postgresql-15-pgvector package, or build it from source: see README), run CREATE EXTENSION vector, then call unified.enable_vector_index again.';
        END IF;
    END IF;

    IF layout = 'global' THEN
        RETURN unified.vector_global_enable(dimensions, vs);
    END IF;
    EXECUTE unified.vector_index_definition(dimensions, false);
    INSERT INTO unified.vector_index_config (dimensions, metric) VALUES (dimensions, metric)
        ON CONFLICT ON CONSTRAINT vector_index_config_pkey DO NOTHING;
    RETURN format('unified.%I', unified.vector_index_name(dimensions));
END
$fn$;

-- Drop the vector index for these dimensions (searches of that length are
-- exact again); true when there was one.
CREATE FUNCTION unified.disable_vector_index(dimensions integer)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    idx     regclass;
BEGIN
    IF dimensions IS NULL THEN
        RAISE EXCEPTION 'dimensions must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF unified.vector_global_disable(dimensions) THEN
        RETURN true;
    END IF;
    DELETE FROM unified.vector_index_config c WHERE c.dimensions = disable_vector_index.dimensions;
    idx := to_regclass(format('unified.%I', unified.vector_index_name(dimensions)));
    IF idx IS NULL THEN
        RETURN FOUND;
    END IF;
    EXECUTE format('DROP INDEX %s', idx);
    RETURN true;
END
$fn$;

COMMENT ON FUNCTION unified.disable_vector_index(integer) IS
    'Drop the HNSW index made by enable_vector_index for these dimensions, in either layout';

COMMENT ON FUNCTION unified.enable_vector_index(integer, text, text) IS
    'Create the HNSW index (pgvector) that serves search_chunks for embeddings of these dimensions: per partition or global';

-- ---------------------------------------------------------------------------
-- Privileges.  The operations run as the caller; the helpers they call need
-- EXECUTE for the same roles.
-- ---------------------------------------------------------------------------
REVOKE ALL ON FUNCTION
    unified.cosine_distance(real[], real[]),
    unified.search_chunks_sketch(real[], integer, text, uuid, text, jsonb),
    unified.embedding_from_jsonb(jsonb, integer),
    unified.upsert_chunks_parse(jsonb),
    unified.upsert_chunks_parse(text),
    unified.metadata_merge(jsonb, jsonb, text[]),
    unified.upsert_chunks_apply(unified.chunk_input[], text[]),
    unified.upsert_chunks(jsonb, text[]),
    unified.upsert_chunks_write(unified.chunk_input[], text[]),
    unified.upsert_chunks(jsonb),
    unified.upsert_chunks(text, text[]),
    unified.upsert_chunks(text),
    unified.delete_chunks(text, text, text[]),
    unified.delete_file_chunks(text, text, text),
    unified.pgvector_schema(),
    unified.vector_index_name(integer),
    unified.search_check(real[], integer, jsonb),
    unified.search_where(integer, text, uuid, text, jsonb),
    unified.search_chunks_exact(real[], integer, text, uuid, text, jsonb, real),
    unified.search_chunks_hnsw(real[], integer, text, uuid, text, jsonb, real, name),
    unified.search_chunks_run(real[], integer, text, uuid, text, jsonb, real),
    unified.search_chunks(real[], integer, text, uuid, text, jsonb, real),
    unified.hybrid_search_run(real[], text, integer, text, uuid, text, jsonb, real),
    unified.hybrid_search(real[], text, integer, text, uuid, text, jsonb, real),
    unified.enable_vector_index(integer, text, text)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    unified.cosine_distance(real[], real[]),
    unified.search_chunks_sketch(real[], integer, text, uuid, text, jsonb),
    unified.embedding_from_jsonb(jsonb, integer),
    unified.upsert_chunks_parse(jsonb),
    unified.upsert_chunks_parse(text),
    unified.metadata_merge(jsonb, jsonb, text[]),
    unified.upsert_chunks_apply(unified.chunk_input[], text[]),
    unified.upsert_chunks(jsonb, text[]),
    unified.upsert_chunks_write(unified.chunk_input[], text[]),
    unified.upsert_chunks(jsonb),
    unified.upsert_chunks(text, text[]),
    unified.upsert_chunks(text),
    unified.delete_chunks(text, text, text[]),
    unified.delete_file_chunks(text, text, text),
    unified.pgvector_schema(),
    unified.vector_index_name(integer),
    unified.search_check(real[], integer, jsonb),
    unified.search_where(integer, text, uuid, text, jsonb),
    unified.search_chunks_exact(real[], integer, text, uuid, text, jsonb, real),
    unified.search_chunks_hnsw(real[], integer, text, uuid, text, jsonb, real, name),
    unified.search_chunks_run(real[], integer, text, uuid, text, jsonb, real),
    unified.search_chunks(real[], integer, text, uuid, text, jsonb, real),
    unified.hybrid_search_run(real[], text, integer, text, uuid, text, jsonb, real),
    unified.hybrid_search(real[], text, integer, text, uuid, text, jsonb, real)
  TO claude_user, cognee_user, unified_admin;
REVOKE ALL ON FUNCTION unified.vector_index_definition(integer, boolean),
    unified.disable_vector_index(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unified.enable_vector_index(integer, text, text),
    unified.disable_vector_index(integer) TO unified_admin;
REVOKE ALL ON TABLE unified.vector_indexes FROM PUBLIC;
GRANT SELECT ON TABLE unified.vector_indexes TO unified_admin;
