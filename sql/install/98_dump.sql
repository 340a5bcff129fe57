-- ---------------------------------------------------------------------------
-- Backups: what pg_dump keeps, and how a restore puts it back.
--
-- pg_dump leaves out the definition and the rows of every extension member,
-- because CREATE EXTENSION recreates them.  That is right for functions, but
-- the partitions of unified.chunks hold user data, and which months exist
-- depends on when the extension was installed.  So no partition is a member:
-- pg_dump dumps each one, with its rows and indexes, like any table.
--
-- Restored partitions are loaded by COPY into each partition, which does
-- not fire the statement triggers on unified.chunks, so unified.chunk_keys
-- is dumped with its rows too (a configuration table of the extension) and
-- arrives consistent with the chunks.  So does the position of the id
-- sequence.
--
-- A restore must not meet partitions and indexes that CREATE EXTENSION
-- made: the dump brings its own.  pg_dump itself restores a partitioned
-- table in this order: tables and partitions, rows, then the parent's
-- indexes ON ONLY, the partitions' indexes, and ALTER INDEX ... ATTACH
-- PARTITION.  The parent's indexes of an extension table are not in the
-- dump, so unified_pg supplies that step.  With unified_pg.restoring = on,
-- CREATE EXTENSION notes the definitions of unified.chunks' primary key and
-- indexes in unified.restore_pending, then drops them and the (empty)
-- partitions it made; unified.finish_restore() creates them again between
-- the data and the post-data sections of the restore:
--
--   PGOPTIONS='-c unified_pg.restoring=on' \
--       pg_restore --section=pre-data --section=data -d newdb backup.dump
--   psql -d newdb -c 'SELECT unified.finish_restore()'
--   pg_restore --section=post-data -d newdb backup.dump
--
-- Run after the post-data section instead, finish_restore() creates the
-- parent's indexes so that they adopt the partitions' matching indexes; the
-- restore then reports failed ALTER INDEX ... ATTACH PARTITION statements
-- but ends in the same state.
-- ---------------------------------------------------------------------------

CREATE TABLE unified.restore_pending (
    position    integer PRIMARY KEY,
    definition  text NOT NULL
);

COMMENT ON TABLE unified.restore_pending IS
    'Primary key and index definitions of unified.chunks to create again after a restore';

-- Create unified.chunks' primary key and indexes from restore_pending and
-- return how many.  Before the post-data section no partition has indexes:
-- create them on the parent only, for the dump's ATTACH statements to
-- complete.  After it, create them normally, adopting the partitions' own.
CREATE FUNCTION unified.finish_restore()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    def         text;
    n           integer := 0;
    only_parent boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM unified.restore_pending) THEN
        -- the second call, after post-data, for the global vector layout
        n := unified.vector_global_restore();
        IF n IS NOT NULL THEN
            RETURN n;
        END IF;
        RAISE EXCEPTION 'no restore is pending'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'finish_restore() is needed only after CREATE EXTENSION ran with unified_pg.restoring = on.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_inherits i
                     JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = 'unified.chunks'::regclass
                      AND pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT') THEN
        RAISE EXCEPTION 'unified.chunks has no default partition yet'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run finish_restore() after the dump''s tables and data are restored.';
    END IF;

    only_parent := NOT EXISTS (SELECT FROM pg_catalog.pg_index ix
                                 JOIN pg_catalog.pg_inherits i ON i.inhrelid = ix.indrelid
                                WHERE i.inhparent = 'unified.chunks'::regclass);
    FOR def IN SELECT definition FROM unified.restore_pending ORDER BY position LOOP
        IF NOT only_parent THEN
            def := replace(replace(def, ' ON ONLY unified.chunks ', ' ON unified.chunks '),
                           'ALTER TABLE ONLY unified.chunks ', 'ALTER TABLE unified.chunks ');
        END IF;
        EXECUTE def;
        n := n + 1;
    END LOOP;
    -- the vector indexes made by enable_vector_index (70_operations.sql)
    FOR def IN SELECT unified.vector_index_definition(v.dimensions, only_parent)
                 FROM unified.vector_index_config v WHERE v.layout = 'partitioned'
                ORDER BY v.dimensions LOOP
        IF def IS NULL THEN
            RAISE EXCEPTION 'the backup has vector indexes, but the vector extension is not created'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Install pgvector, CREATE EXTENSION vector, then run finish_restore() again.';
        END IF;
        EXECUTE def;
        n := n + 1;
    END LOOP;
    -- the side tables of the global layout, from the restored chunks, or
    -- a warning to call again after post-data (72_vector_global.sql)
    n := n + coalesce(unified.vector_global_restore(), 0);
    DELETE FROM unified.restore_pending;
    RETURN n;
END
$fn$;

REVOKE ALL ON FUNCTION unified.finish_restore() FROM PUBLIC;

DO $dump$
DECLARE
    part        regclass;
    restoring   boolean := coalesce(pg_catalog.current_setting('unified_pg.restoring', true), 'off')::boolean;
BEGIN
    IF restoring THEN
        -- the primary key first, then the other indexes
        INSERT INTO unified.restore_pending (position, definition)
        SELECT pg_catalog.row_number() OVER (ORDER BY ord, name), def
          FROM (SELECT 0 AS ord, con.conname AS name,
                       pg_catalog.format('ALTER TABLE ONLY unified.chunks ADD CONSTRAINT %I %s',
                                         con.conname, pg_catalog.pg_get_constraintdef(con.oid)) AS def
                  FROM pg_catalog.pg_constraint con
                 WHERE con.conrelid = 'unified.chunks'::regclass AND con.contype = 'p'
                UNION ALL
                SELECT 1, ic.relname, pg_catalog.pg_get_indexdef(ix.indexrelid)
                  FROM pg_catalog.pg_index ix
                  JOIN pg_catalog.pg_class ic ON ic.oid = ix.indexrelid
                 WHERE ix.indrelid = 'unified.chunks'::regclass
                   AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint con
                                    WHERE con.conindid = ix.indexrelid)) AS d;

        FOR part IN SELECT i.inhrelid::regclass FROM pg_catalog.pg_inherits i
                     WHERE i.inhparent = 'unified.chunks'::regclass LOOP
            EXECUTE pg_catalog.format('DROP TABLE %s', part);
        END LOOP;
        EXECUTE 'ALTER TABLE unified.chunks DROP CONSTRAINT chunks_pkey';
        FOR part IN SELECT ix.indexrelid::regclass FROM pg_catalog.pg_index ix
                     WHERE ix.indrelid = 'unified.chunks'::regclass LOOP
            EXECUTE pg_catalog.format('DROP INDEX %s', part);
        END LOOP;

        RAISE WARNING 'unified.chunks was created without partitions and indexes for a restore'
            USING HINT = 'Restore the pre-data and data sections, run SELECT unified.finish_restore(), then restore the post-data section.';
    ELSE
        -- partitions that are still members (made in this script)
        FOR part IN SELECT i.inhrelid::regclass FROM pg_catalog.pg_inherits i
                     WHERE i.inhparent = 'unified.chunks'::regclass
                       AND EXISTS (SELECT FROM pg_catalog.pg_depend d
                                    WHERE d.classid = 'pg_catalog.pg_class'::regclass
                                      AND d.objid = i.inhrelid
                                      AND d.refclassid = 'pg_catalog.pg_extension'::regclass
                                      AND d.deptype = 'e') LOOP
            EXECUTE pg_catalog.format('ALTER EXTENSION unified_pg DROP TABLE %s', part);
        END LOOP;
    END IF;
END
$dump$;

SELECT pg_catalog.pg_extension_config_dump('unified.chunk_keys', '');

-- The identity sequence of unified.chunks.id: pg_dump then restores its
-- position, so ids handed out after a restore do not repeat old ones.
SELECT pg_catalog.pg_extension_config_dump(
    pg_catalog.pg_get_serial_sequence('unified.chunks', 'id')::regclass, '');
