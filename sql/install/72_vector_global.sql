-- ---------------------------------------------------------------------------
-- pgvector, global layout (optional): one HNSW index over every month.
--
-- enable_vector_index(d, layout => 'partitioned'), the default, builds one
-- HNSW index per partition; a search that does not filter on created_at
-- then descends every partition's graph (a Merge Append of 16 index scans
-- for 12 months, 3 premade and the default one), several times the work of
-- one graph (BENCHMARKS.md).  layout => 'global' instead keeps the
-- embeddings of d dimensions in a side table, unified.chunk_vectors_<d>,
-- with one HNSW index over all of them:
--
--   (id, created_at)        the chunk's primary key, and a foreign key to it
--   source, source_collection, project_id, cognee_dataset_id, metadata
--                           copied from the chunk: what the row-level
--                           security policies and the search filters read,
--                           so that the index scan alone filters
--   embedding               vector(d), or halfvec(d) above 2,000 dimensions
--
-- Nobody can see more through the side table than through unified.chunks:
--
--  * it carries the policies of unified.chunks, created from the same
--    definition (unified.chunk_policies(), 30_security.sql), on the same
--    copied columns, with row-level security enabled and forced;
--  * application roles may only SELECT it; its rows are written by the
--    statement triggers below, SECURITY DEFINER with a pinned search_path,
--    from the transition tables of the caller's own writes to
--    unified.chunks, which that table's policies have already checked;
--  * search_chunks joins every candidate back to unified.chunks, whose own
--    policies then apply to the row it returns.
--
-- Kept in sync in the transaction that changes unified.chunks: AFTER
-- INSERT, UPDATE and DELETE statement triggers on unified.chunks (one
-- set-based statement each, as for unified.chunk_keys; an UPDATE rewrites
-- only the side rows whose embedding or owner columns changed), and
-- maintenance deletes a month's side rows before it detaches or drops the
-- month (unified.vector_global_forget_partition).  Rows that maintenance
-- moves out of the default partition keep their (id, created_at) and get
-- their side rows back (unified.vector_global_move).
--
-- No orphan can survive a commit, whatever writes the rows (a bug, a
-- partition written directly by its owner, an interleaving of sessions):
-- the foreign key (id, created_at) REFERENCES unified.chunks is checked at
-- commit (DEFERRABLE INITIALLY DEFERRED, so that maintenance may move a row
-- out of the default partition and attach its month in one transaction).
-- It also makes PostgreSQL refuse a DETACH or DROP of a partition whose
-- rows still have side rows, and a TRUNCATE of unified.chunks alone:
-- TRUNCATE unified.chunks, unified.chunk_vectors_<d> (or CASCADE) empties
-- both.
--
-- Locks: enabling takes SHARE ROW EXCLUSIVE on unified.chunks (writes wait)
-- while it copies the embeddings and builds the index, so that no write
-- falls between the copy and the triggers.
--
-- pg_dump: the side table is a member of the extension (it is derived
-- data) and is not dumped; its configuration row is, and
-- unified.finish_restore() builds it again from the restored chunks.
-- ---------------------------------------------------------------------------

ALTER TABLE unified.vector_index_config
    ADD COLUMN layout text NOT NULL DEFAULT 'partitioned',
    ADD CONSTRAINT vector_index_config_layout_check CHECK (layout IN ('partitioned', 'global'));

-- The side table of the global layout for these dimensions.
CREATE FUNCTION unified.vector_table_name(dimensions integer)
RETURNS name
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT pg_catalog.format('chunk_vectors_%s', dimensions)::name
$fn$;

-- The side table for these dimensions if the global layout has one; else NULL.
CREATE FUNCTION unified.vector_global_table(dimensions integer)
RETURNS regclass
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT pg_catalog.to_regclass(pg_catalog.format('unified.%I', unified.vector_table_name(dimensions)))
$fn$;

-- Check a layout for enable_vector_index: a known name, and not another
-- layout already serving these dimensions.
CREATE FUNCTION unified.vector_layout_check(dimensions integer, layout text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    d       integer := vector_layout_check.dimensions;
    l       text := vector_layout_check.layout;
    other   text;
BEGIN
    IF l IS NULL OR l NOT IN ('partitioned', 'global') THEN
        RAISE EXCEPTION 'layout must be partitioned or global'
            USING ERRCODE = CASE WHEN l IS NULL THEN 'null_value_not_allowed' ELSE 'invalid_parameter_value' END,
                  DETAIL = format('The value given is %s.', coalesce(left(quote_literal(l), 80), 'NULL'));
    END IF;
    other := CASE
        WHEN l = 'partitioned' AND unified.vector_global_table(d) IS NOT NULL THEN 'global'
        WHEN l = 'global' AND to_regclass(format('unified.%I', unified.vector_index_name(d))) IS NOT NULL
            THEN 'partitioned' END;
    IF other IS NOT NULL THEN
        RAISE EXCEPTION 'embeddings of % dimensions already have a vector index with layout %', d, other
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Run unified.disable_vector_index(%s) first, then enable the %s layout.', d, l);
    END IF;
    RETURN l;
END
$fn$;

-- The side table's definition: its columns, key and foreign key.
CREATE FUNCTION unified.vector_global_create(dimensions integer, vector_schema name)
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    t       name := unified.vector_table_name(dimensions);
BEGIN
    EXECUTE format('CREATE TABLE unified.%I ('
                   ' id bigint NOT NULL, created_at timestamptz NOT NULL,'
                   ' source text NOT NULL, source_collection text NOT NULL,'
                   ' project_id text, cognee_dataset_id uuid, metadata jsonb NOT NULL,'
                   ' embedding %I.%s(%s) NOT NULL,'
                   ' CONSTRAINT %I PRIMARY KEY (id, created_at))'
                   -- room for HOT updates: a metadata or owner change then
                   -- leaves the HNSW index alone
                   ' WITH (fillfactor = 80)',
                   t, vector_schema, CASE WHEN dimensions > 2000 THEN 'halfvec' ELSE 'vector' END,
                   dimensions, t || '_pkey');
    EXECUTE format('COMMENT ON TABLE unified.%I IS %L', t,
                   format('Embeddings of %s dimensions of unified.chunks with one HNSW index (enable_vector_index, layout global)',
                          dimensions));
    EXECUTE format('ALTER TABLE unified.%I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', t);
    PERFORM unified.apply_chunk_policies(format('unified.%I', t)::regclass);
    EXECUTE format('REVOKE ALL ON TABLE unified.%I FROM PUBLIC', t);
    EXECUTE format('GRANT SELECT ON TABLE unified.%I TO claude_user, cognee_user, unified_admin', t);
    -- TRUNCATE unified.chunks must name the side table too (see the banner);
    -- the side table alone may not be emptied
    EXECUTE format('GRANT TRUNCATE ON TABLE unified.%I TO unified_admin', t);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON unified.%I'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION unified.chunk_vectors_truncated(%s)',
                   t || '_truncate', t, dimensions);
    -- Derived data: dropped with the extension, left out of dumps.  Added
    -- last, so that its privileges are recorded as the initial ones
    -- (pg_init_privs) and pg_dump does not dump them either.
    EXECUTE format('ALTER EXTENSION unified_pg ADD TABLE unified.%I', t);
    RETURN format('unified.%I', t)::regclass;
END
$fn$;

-- Create the global layout for these dimensions: the side table, filled
-- from unified.chunks, its HNSW index, the foreign key and the triggers.
-- Idempotent.  Internal: enable_vector_index and finish_restore call it.
CREATE FUNCTION unified.vector_global_enable(dimensions integer, vector_schema name)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    t       name := unified.vector_table_name(dimensions);
    typ     text := CASE WHEN dimensions > 2000 THEN 'halfvec' ELSE 'vector' END;
    op      text;
BEGIN
    IF dimensions IS NULL OR vector_schema IS NULL THEN
        RAISE EXCEPTION 'dimensions and vector_schema must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- no write may fall between the copy and the triggers
    LOCK TABLE unified.chunks IN SHARE ROW EXCLUSIVE MODE;
    IF unified.vector_global_table(dimensions) IS NULL THEN
        PERFORM unified.vector_global_create(dimensions, vector_schema);
        EXECUTE format('INSERT INTO unified.%I (id, created_at, source, source_collection, project_id,'
                       ' cognee_dataset_id, metadata, embedding)'
                       ' SELECT c.id, c.created_at, c.source, c.source_collection, c.project_id,'
                       '  c.cognee_dataset_id, c.metadata, (c.embedding)::%I.%s(%s)'
                       ' FROM unified.chunks c WHERE pg_catalog.cardinality(c.embedding) OPERATOR(pg_catalog.=) %s',
                       t, vector_schema, typ, dimensions, dimensions);
        -- ef_construction 128 instead of pgvector's 64: one graph of every
        -- month is searched alone, and on clustered embeddings builds with
        -- 64 vary widely in recall (0.79 to 0.97 at ef_search 100 for the
        -- same rows, 0.995 or more with 128; BENCHMARKS.md)
        EXECUTE format('CREATE INDEX %I ON unified.%I USING hnsw (embedding %I.%I) WITH (ef_construction = 128)',
                       t || '_embedding_idx', t, vector_schema, typ || '_cosine_ops');
        EXECUTE format('ALTER TABLE unified.%I ADD CONSTRAINT %I FOREIGN KEY (id, created_at)'
                       ' REFERENCES unified.chunks (id, created_at) DEFERRABLE INITIALLY DEFERRED',
                       t, t || '_chunk_fkey');
        FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
            EXECUTE format('CREATE TRIGGER %I AFTER %s ON unified.chunks REFERENCING %s'
                           ' FOR EACH STATEMENT EXECUTE FUNCTION unified.chunk_vectors_sync(%s)',
                           t || '_' || op, upper(op),
                           CASE op WHEN 'insert' THEN 'NEW TABLE AS new_rows'
                                   WHEN 'delete' THEN 'OLD TABLE AS old_rows'
                                   ELSE 'OLD TABLE AS old_rows NEW TABLE AS new_rows' END,
                           dimensions);
        END LOOP;
    END IF;
    INSERT INTO unified.vector_index_config AS v (dimensions, metric, layout)
    VALUES (dimensions, 'cosine', 'global')
    ON CONFLICT ON CONSTRAINT vector_index_config_pkey DO UPDATE SET layout = 'global'
        WHERE v.layout IS DISTINCT FROM 'global';
    RETURN format('unified.%I', t || '_embedding_idx');
END
$fn$;

-- Keep unified.chunk_vectors_<d> (d = the trigger's argument) in step with
-- one statement's writes to unified.chunks, from its transition tables.
-- SECURITY DEFINER: application roles cannot write the side table
-- themselves; what is copied are their own rows, already checked by the
-- policies of unified.chunks.
-- AFTER TRUNCATE of a side table (which fires once every table of the
-- statement is emptied): refuse it unless unified.chunks lost its
-- embeddings of that dimension in the same statement, so that the side
-- table never silently stops serving searches of rows that exist.
CREATE FUNCTION unified.chunk_vectors_truncated()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    d       integer := TG_ARGV[0]::integer;
BEGIN
    IF EXISTS (SELECT FROM unified.chunks c WHERE pg_catalog.cardinality(c.embedding) OPERATOR(pg_catalog.=) d) THEN
        RAISE EXCEPTION 'cannot truncate %.% alone', TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = format('unified.chunks has embeddings of %s dimensions, which searches find through it.', d),
                  HINT = format('TRUNCATE unified.chunks, %I.%I together (or unified.chunks CASCADE); to rebuild it, '
                                'unified.disable_vector_index(%s) then unified.enable_vector_index(%s, layout => ''global'').',
                                TG_TABLE_SCHEMA, TG_TABLE_NAME, d, d);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION unified.chunk_vectors_sync()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    d       integer := TG_ARGV[0]::integer;
    t       name := unified.vector_table_name(d);
    vs      name := unified.pgvector_schema();
    cast_to text;
    cols    CONSTANT text := 'id, created_at, source, source_collection, project_id, cognee_dataset_id, metadata, embedding';
    sel     text;
BEGIN
    cast_to := format('%I.%s(%s)', vs, CASE WHEN d > 2000 THEN 'halfvec' ELSE 'vector' END, d);
    sel := format('SELECT n.id, n.created_at, n.source, n.source_collection, n.project_id, n.cognee_dataset_id,'
                  ' n.metadata, (n.embedding)::%s FROM new_rows n'
                  ' WHERE pg_catalog.cardinality(n.embedding) OPERATOR(pg_catalog.=) %s', cast_to, d);
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('INSERT INTO unified.%I (%s) %s', t, cols, sel);
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE format('DELETE FROM unified.%I v USING old_rows o'
                       ' WHERE v.id OPERATOR(pg_catalog.=) o.id AND v.created_at OPERATOR(pg_catalog.=) o.created_at', t);
    ELSE
        -- rows that lost their embedding of d dimensions (or their key)
        EXECUTE format('DELETE FROM unified.%I v USING old_rows o'
                       ' WHERE v.id OPERATOR(pg_catalog.=) o.id AND v.created_at OPERATOR(pg_catalog.=) o.created_at'
                       '  AND NOT EXISTS (SELECT FROM new_rows n WHERE n.id OPERATOR(pg_catalog.=) o.id'
                       '   AND n.created_at OPERATOR(pg_catalog.=) o.created_at'
                       '   AND pg_catalog.cardinality(n.embedding) OPERATOR(pg_catalog.=) %s)', t, d);
        -- New and changed rows; unchanged ones are not written again.  An
        -- unchanged embedding keeps its stored value, so that a metadata or
        -- owner change can be a HOT update, which leaves the index alone.
        EXECUTE format('INSERT INTO unified.%I AS v (%s) %s'
                       ' ON CONFLICT ON CONSTRAINT %I DO UPDATE SET'
                       '  embedding = CASE WHEN v.embedding OPERATOR(%I.=) excluded.embedding'
                       '                   THEN v.embedding ELSE excluded.embedding END,'
                       '  source = excluded.source, source_collection = excluded.source_collection,'
                       '  project_id = excluded.project_id, cognee_dataset_id = excluded.cognee_dataset_id,'
                       '  metadata = excluded.metadata'
                       ' WHERE NOT v.embedding OPERATOR(%I.=) excluded.embedding'
                       '  OR (v.source, v.source_collection, v.project_id, v.cognee_dataset_id, v.metadata)'
                       '   IS DISTINCT FROM (excluded.source, excluded.source_collection,'
                       '    excluded.project_id, excluded.cognee_dataset_id, excluded.metadata)',
                       t, cols, sel, t || '_pkey', vs, vs);
    END IF;
    RETURN NULL;
END
$fn$;

-- Drop the global layout for these dimensions; true when there was one.
-- Internal: disable_vector_index calls it.
CREATE FUNCTION unified.vector_global_disable(dimensions integer)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    t       name := unified.vector_table_name(dimensions);
    op      text;
    found_t boolean := unified.vector_global_table(dimensions) IS NOT NULL;
BEGIN
    DELETE FROM unified.vector_index_config v WHERE v.dimensions = dimensions AND v.layout = 'global';
    IF NOT found_t THEN
        RETURN FOUND;
    END IF;
    FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON unified.chunks', t || '_' || op);
    END LOOP;
    EXECUTE format('ALTER EXTENSION unified_pg DROP TABLE unified.%I', t);
    EXECUTE format('DROP TABLE unified.%I', t);
    RETURN true;
END
$fn$;

-- Maintenance, before it detaches or drops a partition: delete the side
-- rows of its chunks (they leave unified.chunks), in the same transaction.
-- Locks unified.chunks first, as the DETACH that follows does, so that no
-- row of that month is written in between.  Returns how many.  Internal.
CREATE FUNCTION unified.vector_global_forget_partition(part regclass)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    d       integer;
    t       name;
    n       bigint;
    total   bigint := 0;
    locked  boolean := false;
BEGIN
    IF part IS NULL THEN
        RAISE EXCEPTION 'part must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR d IN SELECT v.dimensions FROM unified.vector_index_config v
              WHERE v.layout = 'global' ORDER BY v.dimensions LOOP
        CONTINUE WHEN unified.vector_global_table(d) IS NULL;
        t := unified.vector_table_name(d);
        IF NOT locked THEN
            LOCK TABLE ONLY unified.chunks IN ACCESS EXCLUSIVE MODE;
            locked := true;
        END IF;
        EXECUTE format('DELETE FROM unified.%I v USING %s d WHERE v.id OPERATOR(pg_catalog.=) d.id'
                       ' AND v.created_at OPERATOR(pg_catalog.=) d.created_at', t, part);
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
        -- Check now the foreign key's pending events (rows of this month
        -- deleted earlier in the transaction): PostgreSQL refuses to alter
        -- or drop a table that has some, as maintenance does next.
        EXECUTE format('SET CONSTRAINTS unified.%I IMMEDIATE', t || '_chunk_fkey');
        EXECUTE format('SET CONSTRAINTS unified.%I DEFERRED', t || '_chunk_fkey');
    END LOOP;
    RETURN total;
END
$fn$;

-- Maintenance, after it moved rows of a month out of the default partition
-- into "part" (not attached yet): the moved chunks keep their key, but to
-- PostgreSQL they were deleted from the default partition, and the foreign
-- key's check of that deletion (which looks for the key in that partition
-- only) would fail at commit while side rows still reference it.  So take
-- their side rows out, run that check now, and put them back (the
-- foreign key checks the new rows at commit, once the month is attached).
-- Returns how many.  Internal.
CREATE FUNCTION unified.vector_global_move(part regclass)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    d       integer;
    t       name;
    n       bigint;
    total   bigint := 0;
    vs      name := unified.pgvector_schema();
BEGIN
    IF part IS NULL THEN
        RAISE EXCEPTION 'part must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR d IN SELECT v.dimensions FROM unified.vector_index_config v
              WHERE v.layout = 'global' ORDER BY v.dimensions LOOP
        CONTINUE WHEN unified.vector_global_table(d) IS NULL;
        t := unified.vector_table_name(d);
        EXECUTE format('DELETE FROM unified.%I v USING %s m WHERE v.id OPERATOR(pg_catalog.=) m.id'
                       ' AND v.created_at OPERATOR(pg_catalog.=) m.created_at', t, part);
        GET DIAGNOSTICS n = ROW_COUNT;
        CONTINUE WHEN n = 0;
        EXECUTE format('SET CONSTRAINTS unified.%I IMMEDIATE', t || '_chunk_fkey');
        EXECUTE format('SET CONSTRAINTS unified.%I DEFERRED', t || '_chunk_fkey');
        EXECUTE format('INSERT INTO unified.%I (id, created_at, source, source_collection, project_id,'
                       ' cognee_dataset_id, metadata, embedding)'
                       ' SELECT m.id, m.created_at, m.source, m.source_collection, m.project_id,'
                       '  m.cognee_dataset_id, m.metadata, (m.embedding)::%I.%s(%s)'
                       ' FROM %s m WHERE pg_catalog.cardinality(m.embedding) OPERATOR(pg_catalog.=) %s',
                       t, vs, CASE WHEN d > 2000 THEN 'halfvec' ELSE 'vector' END, d, part, d);
        total := total + n;
    END LOOP;
    RETURN total;
END
$fn$;

-- After a restore (finish_restore): build the global layouts of the
-- restored configuration whose side tables are missing; returns how many,
-- or NULL when none is missing.  The foreign key needs the primary key of
-- unified.chunks, which is valid only once the post-data section has
-- attached the partitions' indexes: before that it warns, builds nothing
-- and returns 0, and finish_restore() is to be run again after post-data.
CREATE FUNCTION unified.vector_global_restore()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    dims    integer[];
    d       integer;
    vs      name := unified.pgvector_schema();
BEGIN
    SELECT array_agg(v.dimensions ORDER BY v.dimensions) INTO dims
      FROM unified.vector_index_config v
     WHERE v.layout = 'global' AND unified.vector_global_table(v.dimensions) IS NULL;
    IF dims IS NULL THEN
        RETURN NULL;
    END IF;
    IF vs IS NULL THEN
        RAISE EXCEPTION 'the backup has vector indexes, but the vector extension is not created'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Install pgvector, CREATE EXTENSION vector, then run finish_restore() again.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_constraint con JOIN pg_index x ON x.indexrelid = con.conindid
                    WHERE con.conrelid = 'unified.chunks'::regclass AND con.contype = 'p' AND x.indisvalid) THEN
        RAISE WARNING 'the global vector layout for % dimensions is not built yet', array_to_string(dims, ', ')
            USING DETAIL = 'Its foreign key needs the primary key of unified.chunks on every partition, which the post-data section completes.',
                  HINT = 'Run SELECT unified.finish_restore() again after pg_restore --section=post-data.';
        RETURN 0;
    END IF;
    FOREACH d IN ARRAY dims LOOP
        PERFORM unified.vector_global_enable(d, vs);
    END LOOP;
    RETURN cardinality(dims);
END
$fn$;

-- The HNSW path of the global layout, in two steps.  1: the 2k nearest side
-- rows by the one index, every filter (project, dataset, collection,
-- metadata) and the policies applied inside the index scan, with iterative
-- scans so that they never leave it short; a query on one small table,
-- planned in a fraction of a millisecond.  Twice k because iterative scans
-- return rows in approximate order only (relaxed_order), so the first k
-- may miss some of the k nearest.  2: those chunks from unified.chunks,
-- whose own policies apply again, the k with the least exact distance;
-- a static query, so PL/pgSQL keeps its plan (planning a join
-- with every partition on each call would cost more than the search).  One
-- graph is searched instead of one per partition, so its candidate list
-- can afford to be longer: ef_search 100 (pgvector's default is 40), or
-- 2k, or the caller's hnsw.ef_search if larger (BENCHMARKS.md).
CREATE FUNCTION unified.search_chunks_global(q real[], lim integer, p_project text,
                                             p_dataset uuid, p_collection text,
                                             p_filter jsonb, p_min_score real, vector_schema name)
RETURNS TABLE (id bigint, source text, source_collection text, source_id text, project_id text,
               cognee_dataset_id uuid, content text, relative_path text, start_line integer,
               end_line integer, file_extension text, metadata jsonb, score double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, unified, pg_temp
SET hnsw.iterative_scan = relaxed_order
SET enable_partition_pruning = on
AS $fn$
#variable_conflict use_column
DECLARE
    dims    integer := cardinality(q);
    typ     text := CASE WHEN dims > 2000 THEN 'halfvec' ELSE 'vector' END;
    ids     bigint[];
    cats    timestamptz[];
    -- no SET clause for it: the caller's value is read here, and put back
    -- below (an error undoes the change with the (sub)transaction)
    -- (a placeholder before pgvector is loaded: any text, or none)
    ef      text := current_setting('hnsw.ef_search', true);
    ef_n    integer := CASE WHEN ef ~ '^[0-9]{1,4}$' THEN ef::integer ELSE 40 END;
BEGIN
    PERFORM set_config('hnsw.ef_search', least(greatest(100, 2 * lim, ef_n), 1000)::text, true);
    EXECUTE format(
        'SELECT pg_catalog.array_agg(s.id), pg_catalog.array_agg(s.created_at)'
        ' FROM (SELECT v.id, v.created_at FROM unified.%I v WHERE %s'
        '  ORDER BY v.embedding OPERATOR(%I.<=>) ($1)::%I.%s(%s) LIMIT $2 OPERATOR(pg_catalog.*) 2) s',
        unified.vector_table_name(dims),
        concat_ws(' AND ', 'true',
            CASE WHEN p_project IS NOT NULL THEN 'v.project_id OPERATOR(pg_catalog.=) $3' END,
            CASE WHEN p_dataset IS NOT NULL THEN 'v.cognee_dataset_id OPERATOR(pg_catalog.=) $4' END,
            CASE WHEN p_collection IS NOT NULL THEN 'v.source_collection OPERATOR(pg_catalog.=) $5' END,
            CASE WHEN p_filter IS NOT NULL THEN 'v.metadata OPERATOR(pg_catalog.@>) $6' END),
        vector_schema, vector_schema, typ, dims)
    INTO ids, cats
    USING q, lim, p_project, p_dataset, p_collection, p_filter;
    PERFORM set_config('hnsw.ef_search', ef_n::text, true);
    -- A row maintenance moved out of the default partition after this
    -- snapshot was taken is, for the snapshot, still there, while its key
    -- now routes to its month: while the default partition holds rows, each
    -- candidate is looked for in every partition (a query planned here,
    -- with pruning off; the cached plan below is only ever used with it on).
    IF pg_catalog.pg_relation_size('unified.chunks_default'::regclass) OPERATOR(pg_catalog.>) 0 THEN
        PERFORM set_config('enable_partition_pruning', 'off', true);
        RETURN QUERY EXECUTE
            'SELECT s.id, s.source, s.source_collection, s.source_id, s.project_id, s.cognee_dataset_id,'
            '  s.content, s.relative_path, s.start_line, s.end_line, s.file_extension, s.metadata,'
            '  1 OPERATOR(pg_catalog.-) s.d'
            ' FROM (SELECT c.*, unified.cosine_distance(c.embedding, $1) AS d'
            '   FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) AS t(id, created_at)'
            '   CROSS JOIN LATERAL ('
            '     SELECT c.id, c.source, c.source_collection, c.source_id, c.project_id,'
            '            c.cognee_dataset_id, c.content, c.relative_path, c.start_line, c.end_line,'
            '            c.file_extension, c.metadata, c.embedding'
            '       FROM unified.chunks c'
            '      WHERE c.id OPERATOR(pg_catalog.=) t.id AND c.created_at OPERATOR(pg_catalog.=) t.created_at'
            '      LIMIT 1) c'
            '   OFFSET 0) s'
            ' WHERE s.d OPERATOR(pg_catalog.<>) ''NaN''::float8'
            '   AND ($4 IS NULL OR 1 OPERATOR(pg_catalog.-) s.d OPERATOR(pg_catalog.>=) $4)'
            ' ORDER BY s.d, s.id'
            ' LIMIT $5'
        USING q, ids, cats, p_min_score, lim;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT s.id, s.source, s.source_collection, s.source_id, s.project_id, s.cognee_dataset_id,
           s.content, s.relative_path, s.start_line, s.end_line, s.file_extension, s.metadata,
           1 - s.d
      FROM (SELECT c.*, unified.cosine_distance(c.embedding, q) AS d
              FROM unnest(ids, cats) AS t(id, created_at)
              -- one primary-key probe per candidate, into its month only
              -- (LIMIT keeps the planner from turning this into a join
              -- that scans unified.chunks)
              CROSS JOIN LATERAL (
                  SELECT c.id, c.source, c.source_collection, c.source_id, c.project_id,
                         c.cognee_dataset_id, c.content, c.relative_path, c.start_line, c.end_line,
                         c.file_extension, c.metadata, c.embedding
                    FROM unified.chunks c
                   WHERE c.id = t.id AND c.created_at = t.created_at LIMIT 1) c
            OFFSET 0) s
     WHERE s.d <> 'NaN'::float8 AND (p_min_score IS NULL OR 1 - s.d >= p_min_score)
     ORDER BY s.d, s.id
     LIMIT lim;
END
$fn$;

COMMENT ON FUNCTION unified.search_chunks_global(real[], integer, text, uuid, text, jsonb, real, name) IS
    'search_chunks through the one HNSW index of the global layout (internal)';

-- ---------------------------------------------------------------------------
-- Privileges.  search_chunks runs as the caller and calls the search
-- helpers; everything else here runs inside enable_vector_index,
-- disable_vector_index, maintenance or finish_restore, as their owner.
-- ---------------------------------------------------------------------------
REVOKE ALL ON FUNCTION
    unified.vector_table_name(integer),
    unified.vector_global_table(integer),
    unified.vector_layout_check(integer, text),
    unified.vector_global_create(integer, name),
    unified.vector_global_enable(integer, name),
    unified.chunk_vectors_sync(),
    unified.chunk_vectors_truncated(),
    unified.vector_global_disable(integer),
    unified.vector_global_forget_partition(regclass),
    unified.vector_global_move(regclass),
    unified.vector_global_restore(),
    unified.search_chunks_global(real[], integer, text, uuid, text, jsonb, real, name)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    unified.vector_table_name(integer),
    unified.vector_global_table(integer),
    unified.search_chunks_global(real[], integer, text, uuid, text, jsonb, real, name)
  TO claude_user, cognee_user, unified_admin;
