-- search_path hijack: an application role plants functions and operators
-- named like the ones the extension's code calls (length, format,
-- pg_has_role, to_char, "=" for text, oid and uuid, ...) in a schema that
-- callers put first on their search_path, plus temporary tables named like
-- the extension's tables.  No extension function, trigger or policy may
-- pick any of them up, whoever calls it (the application itself, an
-- administrator or a superuser).
BEGIN;
-- The revoke functions warn when a role loses its last grant; expected here.
SET LOCAL client_min_messages = error;
SELECT plan(38);

CREATE ROLE tap_s_claude LOGIN IN ROLE claude_user;
CREATE ROLE tap_s_scoped LOGIN IN ROLE claude_user;
CREATE ROLE tap_s_both LOGIN IN ROLE claude_user, cognee_user;
CREATE ROLE tap_s_admin LOGIN IN ROLE unified_admin;
SELECT unified.grant_project('tap_s_scoped', 'proj-s') AS setup;
CREATE SCHEMA evil AUTHORIZATION tap_s_claude;
GRANT USAGE ON SCHEMA evil TO PUBLIC;

INSERT INTO unified.chunks (source, source_id, project_id, content, relative_path)
VALUES ('claude_context', 'tap-s-own', 'proj-s', 'own', 's.py'),
       ('claude_context', 'tap-s-other', 'proj-other', 'other', 'o.py');

-- A migration source the administrator may read, registered for
-- migrate_to_unified.
CREATE TABLE public.code_chunks_4042abcd (id text PRIMARY KEY, vector real[], content text, relative_path text,
    start_line int, end_line int, file_extension text, metadata text, created_at timestamptz);
INSERT INTO public.code_chunks_4042abcd VALUES ('chunk_s', '{1,2}', 'x', 'a.c', 1, 2, '.c', '{}', now());
GRANT SELECT ON public.code_chunks_4042abcd TO tap_s_admin;
INSERT INTO unified.migration_sources (kind, source) VALUES ('claude_context', 'public.code_chunks_4042abcd');

-- The attacker's objects.  Each records that it was called.
SET ROLE tap_s_claude;
CREATE TABLE evil.hits (what text);
GRANT INSERT, SELECT ON evil.hits TO PUBLIC;
CREATE FUNCTION evil.hit(w text) RETURNS void LANGUAGE sql AS $$INSERT INTO evil.hits VALUES (w)$$;
CREATE FUNCTION evil.length(text) RETURNS integer LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('length'); RETURN 5; END$$;
CREATE FUNCTION evil.format(text, text) RETURNS text LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('format2'); RETURN 'evil'; END$$;
CREATE FUNCTION evil.format(text, bigint, text) RETURNS text LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('format3'); RETURN 'evil'; END$$;
CREATE FUNCTION evil.format(text, text, text, text) RETURNS text LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('format4'); RETURN 'evil'; END$$;
CREATE FUNCTION evil.pg_has_role(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('pg_has_role'); RETURN true; END$$;
CREATE FUNCTION evil.to_char(date, text) RETURNS text LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('to_char'); RETURN '1999_01'; END$$;
CREATE FUNCTION evil.date_trunc(text, date) RETURNS timestamp LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('date_trunc'); RETURN '1999-01-01'; END$$;
CREATE FUNCTION evil.to_regclass(text) RETURNS regclass LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('to_regclass'); RETURN NULL; END$$;
CREATE FUNCTION evil.pg_advisory_xact_lock(integer, integer) RETURNS void LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('advisory'); END$$;
CREATE FUNCTION evil.current_setting(text) RETURNS text LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('current_setting'); RETURN '100000'; END$$;
CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('clock_timestamp'); RETURN '1999-01-01'; END$$;
CREATE FUNCTION evil.jsonb_array_length(jsonb) RETURNS integer LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('jsonb_array_length'); RETURN 0; END$$;
CREATE FUNCTION evil.to_regprocedure(text) RETURNS regprocedure LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('to_regprocedure'); RETURN NULL; END$$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('now'); RETURN '1999-01-01'; END$$;
CREATE FUNCTION evil.unnest(oid[]) RETURNS SETOF oid LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('unnest'); RETURN NEXT 0::oid; END$$;
CREATE FUNCTION evil.caller_roles() RETURNS oid[] LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('caller_roles'); RETURN '{}'; END$$;
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('text ='); RETURN true; END$$;
CREATE FUNCTION evil.oid_eq(oid, oid) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('oid ='); RETURN true; END$$;
CREATE FUNCTION evil.uuid_eq(uuid, uuid) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.hit('uuid ='); RETURN true; END$$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE OPERATOR evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = evil.oid_eq);
CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.uuid_eq);
-- These raise instead of recording a hit: the call that would reach them
-- (run_maintenance_all inside this test's transaction) ends in an error,
-- which would roll a recorded hit back.
CREATE FUNCTION evil.planted(w text) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN RAISE EXCEPTION 'planted % was called', w; END$$;
CREATE FUNCTION evil.int_plus(integer, integer) RETURNS integer LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.planted('int +'); RETURN 1; END$$;
CREATE FUNCTION evil.int_ge(integer, integer) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN PERFORM evil.planted('int >='); RETURN true; END$$;
CREATE OPERATOR evil.+ (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_plus);
CREATE OPERATOR evil.>= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_ge);
CREATE DOMAIN evil.jsonb AS pg_catalog.jsonb CHECK (evil.planted('jsonb domain'));
RESET ROLE;

-- Temporary tables that shadow the extension's and the catalog's names
-- for anyone who puts pg_temp first.
CREATE TEMP TABLE project_grants (role oid, project_id text);
CREATE TEMP TABLE dataset_grants (role oid, dataset_id uuid);
CREATE TEMP TABLE chunk_keys (source text, source_collection text, source_id text);
CREATE TEMP TABLE pg_roles (oid oid, rolname name, rolsuper boolean, rolbypassrls boolean);
GRANT ALL ON project_grants, dataset_grants, chunk_keys, pg_roles TO PUBLIC;

-- Run a statement with whatever search_path is set, record its outcome.
-- The attacker's own statements qualify their operators: what the planted
-- "=" would do to the attacker's own WHERE clause is not the question.
-- Nothing in here looks up a name through the path: pgTAP itself would be
-- fooled by the planted "=", so the assertions run after RESET.
CREATE TEMP TABLE outcomes (label text, state text, message text, value text);
GRANT ALL ON outcomes TO PUBLIC;
CREATE FUNCTION pg_temp.try(label text, q text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v   text;
    st  text := 'ok';
    m   text := '';
BEGIN
    BEGIN
        IF q OPERATOR(pg_catalog.~*) '^\s*select|returning' THEN
            EXECUTE q INTO v;
        ELSE
            EXECUTE q;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
    END;
    INSERT INTO pg_temp.outcomes VALUES (label, st, m, v);
END $$;
CREATE FUNCTION pg_temp.got(l text) RETURNS text LANGUAGE sql AS $$
    SELECT o.state || coalesce(': ' || nullif(o.message, ''), '') || coalesce(' = ' || o.value, '')
      FROM pg_temp.outcomes o WHERE o.label = l
$$;

-- ---------------------------------------------------- as the application
SET ROLE tap_s_claude;
SET search_path = pg_temp, evil, pg_catalog, public;
SELECT pg_temp.try('claude seen', $q$SELECT pg_catalog.string_agg(source_id, ',' ORDER BY source_id) FROM unified.chunks WHERE source_id OPERATOR(pg_catalog.~~) 'tap-s-%'$q$);
SELECT pg_temp.try('claude insert', $q$INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('claude_context', 'tap-s-new', 'proj-s', 'new')$q$);
SELECT pg_temp.try('claude duplicate', $q$INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('claude_context', 'tap-s-new', 'proj-s', 'again')$q$);
SELECT pg_temp.try('claude update', $q$UPDATE unified.chunks SET content = 'changed' WHERE source_id OPERATOR(pg_catalog.=) 'tap-s-new' RETURNING content$q$);
SELECT pg_temp.try('claude delete', $q$DELETE FROM unified.chunks WHERE source_id OPERATOR(pg_catalog.=) 'tap-s-new' RETURNING source_id$q$);
-- explain_pruning plans the caller's query with the caller's path, so its
-- own body is qualified throughout instead of pinned.
SELECT pg_temp.try('claude upsert', $q$SELECT (u.inserted::pg_catalog.text OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) u.updated::pg_catalog.text) FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-s-own", "project_id": "proj-s", "content": "own v2", "embedding": [1, 0]}, {"source": "claude_context", "source_id": "tapup-1", "project_id": "proj-s", "content": "up", "embedding": [0, 1]}]') u$q$);
SELECT pg_temp.try('claude upsert jsonb', $q$SELECT (u.inserted::pg_catalog.text OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) u.updated::pg_catalog.text) FROM unified.upsert_chunks('[{"source": "claude_context", "source_id": "tap-s-own", "project_id": "proj-s", "content": "own v3", "embedding": [1, 0]}, {"source": "claude_context", "source_id": "tapup-2", "project_id": "proj-s", "content": "up", "embedding": [0, 1]}]'::pg_catalog.jsonb) u$q$);
SELECT pg_temp.try('claude search', $q$SELECT pg_catalog.string_agg(s.source_id, ',') FROM unified.search_chunks('{1,0.1}', 2, 'proj-s') s$q$);
SELECT pg_temp.try('claude explain', $q$SELECT ((unified.explain_pruning('SELECT 1 FROM unified.chunks')).partitions_total OPERATOR(pg_catalog.>) 0)::pg_catalog.text$q$);
RESET search_path;
RESET ROLE;

SET ROLE tap_s_scoped;
SET search_path = pg_temp, evil, pg_catalog, public;
SELECT pg_temp.try('scoped seen', $q$SELECT pg_catalog.string_agg(source_id, ',' ORDER BY source_id) FROM unified.chunks WHERE source_id OPERATOR(pg_catalog.~~) 'tap-s-%'$q$);
SELECT pg_temp.try('scoped visible', $q$SELECT unified.visible_projects()::text$q$);
SELECT pg_temp.try('scoped insert elsewhere', $q$INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('claude_context', 'tap-s-x', 'proj-other', 'x')$q$);
RESET search_path;
RESET ROLE;

SET ROLE tap_s_both;
SET search_path = pg_temp, evil, pg_catalog, public;
SELECT pg_temp.try('both share', $q$UPDATE unified.chunks SET cognee_dataset_id = '00000000-0000-0000-0000-0000000000e1' WHERE source_id OPERATOR(pg_catalog.=) 'tap-s-own'$q$);
RESET search_path;
RESET ROLE;

-- ------------------------------------------------ as the administrator
SET ROLE tap_s_admin;
SET search_path = pg_temp, evil, pg_catalog, public;
SELECT pg_temp.try('admin grant empty', $q$SELECT unified.grant_project('tap_s_claude', '')::text$q$);
SELECT pg_temp.try('admin grant', $q$SELECT unified.grant_project('tap_s_claude', 'proj-s')::text$q$);
SELECT pg_temp.try('admin revoke', $q$SELECT unified.revoke_project('tap_s_claude', 'proj-s')::text$q$);
SELECT pg_temp.try('admin dataset', $q$SELECT (unified.grant_dataset('tap_s_claude', '00000000-0000-0000-0000-0000000000e1') AND unified.revoke_dataset('tap_s_claude', '00000000-0000-0000-0000-0000000000e1'))::text$q$);
-- health_check is SECURITY DEFINER and reads every area through SQL.
SELECT pg_temp.try('admin health', $q$SELECT (pg_catalog.count(*) OPERATOR(pg_catalog.>) 10)::pg_catalog.text FROM unified.health_check()$q$);
-- run_maintenance_all commits between passes, so it cannot pin its path
-- either; inside this test's transaction its first COMMIT is refused, after
-- one pass and the pass count.
SELECT pg_temp.try('admin vector index', $q$SELECT unified.enable_vector_index(2)$q$);
SELECT pg_temp.try('admin no vector index', $q$SELECT unified.disable_vector_index(2)::pg_catalog.text$q$);
SELECT pg_temp.try('admin maintenance all', $q$CALL unified.run_maintenance_all(premake => 0)$q$);
-- The migration's procedures commit per batch and cannot pin their path
-- either: each runs up to its first COMMIT, refused inside BEGIN.
SELECT pg_temp.try('admin migrate', $q$CALL unified.migrate_claude_chunks('public.code_chunks_4042abcd')$q$);
SELECT pg_temp.try('admin migrate all', $q$CALL unified.migrate_to_unified()$q$);
SELECT pg_temp.try('admin rollback', $q$CALL unified.rollback_migration(-1)$q$);
SELECT pg_temp.try('admin stored keys', $q$SELECT unified.migration_stored_keys('claude_context', '', ARRAY['tap-s-own', 'tap-s-none'])::text$q$);
SELECT pg_temp.try('admin busy', $q$SELECT unified.migration_backend_busy(pg_catalog.pg_backend_pid(),
    unified.migration_backend_start())::text$q$);
SELECT pg_temp.try('admin maintenance', $q$SELECT unified.run_maintenance(premake => 1) OPERATOR(pg_catalog.->>) 'status'$q$);
-- SECURITY DEFINER, so that unified_admin needs no privilege on pg_cron's
-- schema; here pg_cron is loaded but not created in this database.
SELECT pg_temp.try('admin schedule', $q$SELECT unified.schedule_maintenance('0 0 * * *')::text$q$);
RESET search_path;
RESET ROLE;

-- ----------------------------------------------------- as a superuser
SET search_path = pg_temp, evil, pg_catalog, public;
SELECT pg_temp.try('super partition', $q$SELECT unified.create_monthly_partition('2042-03-10')$q$);
SELECT pg_temp.try('super partition again', $q$SELECT unified.create_monthly_partition('2042-03-10')$q$);
SELECT pg_temp.try('super hash', $q$SELECT pg_catalog.encode(unified.content_hash('abc'), 'hex')$q$);
SELECT pg_temp.try('super truncate', $q$TRUNCATE unified.chunks$q$);
RESET search_path;

SELECT is(pg_temp.got('claude seen'), 'ok = tap-s-other,tap-s-own', 'an unscoped role sees its rows with the hostile path');
SELECT is(pg_temp.got('claude insert'), 'ok', 'insert works with the hostile path (key trigger)');
SELECT is(pg_temp.got('claude duplicate'), '23505: duplicate key value violates uniqueness of source rows in unified.chunks',
    'a duplicate is still refused, with the real message');
SELECT is(pg_temp.got('claude update'), 'ok = changed', 'update works with the hostile path');
SELECT is(pg_temp.got('claude delete'), 'ok = tap-s-new', 'delete works with the hostile path (key trigger)');
SELECT is(pg_temp.got('scoped seen'), 'ok = tap-s-own', 'a scoped role still sees only its project with the hostile path');
SELECT is(pg_temp.got('scoped visible'), 'ok = {proj-s}', 'visible_projects() is not fooled');
SELECT is(pg_temp.got('scoped insert elsewhere'), '42501: new row violates row-level security policy for table "chunks"',
    'a scoped role cannot write outside its project');
SELECT is(pg_temp.got('both share'), '42501: only unified_admin may change which dataset a claude_context chunk is shared with',
    'the sharing guard is not fooled by a planted pg_has_role');
SELECT is(pg_temp.got('admin grant empty'), '22023: project_id must be 1 to 256 characters long',
    'grant_project validates with the real length()');
SELECT is(pg_temp.got('admin grant'), 'ok = true', 'grant_project works with the hostile path');
SELECT is(pg_temp.got('admin revoke'), 'ok = true', 'revoke_project works with the hostile path');
SELECT is(pg_temp.got('admin dataset'), 'ok = true', 'grant_dataset and revoke_dataset work with the hostile path');
SELECT is(pg_temp.got('claude upsert'), 'ok = 1/1', 'upsert_chunks (a literal: the text form) works with the hostile path');
SELECT is(pg_temp.got('claude upsert jsonb'), 'ok = 1/1', 'upsert_chunks(jsonb) works with the hostile path');
SELECT is(pg_temp.got('claude search'), 'ok = tap-s-own,tapup-1', 'search_chunks works with the hostile path');
SELECT is(left(pg_temp.got('admin vector index'), 6), '55000:', 'enable_vector_index (SECURITY DEFINER) refuses cleanly with the hostile path');
SELECT is(pg_temp.got('admin no vector index'), 'ok = false', 'disable_vector_index (SECURITY DEFINER) works with the hostile path');
SELECT is(pg_temp.got('claude explain'), 'ok = true', 'explain_pruning works with the hostile path');
SELECT is(pg_temp.got('admin health'), 'ok = true', 'health_check runs every check with the hostile path');
SELECT is(pg_temp.got('admin maintenance all'), '2D000: invalid transaction termination',
    'run_maintenance_all runs its pass with the hostile path (its COMMIT is refused only inside BEGIN)');
SELECT is(pg_temp.got('admin migrate'), '2D000: invalid transaction termination',
    'migrate_claude_chunks checks and registers its run with the hostile path (its COMMIT is refused only inside BEGIN)');
SELECT is(pg_temp.got('admin migrate all'), '2D000: invalid transaction termination',
    'migrate_to_unified checks its source and starts its run with the hostile path');
SELECT is(pg_temp.got('admin rollback'), '22023: migration -1 does not exist',
    'rollback_migration checks its argument with the hostile path');
SELECT is(pg_temp.got('admin stored keys'), 'ok = {tap-s-own}',
    'migration_stored_keys (SECURITY DEFINER) finds the stored key with the hostile path');
SELECT is(pg_temp.got('admin busy'), 'ok = true',
    'migration_backend_start and migration_backend_busy (SECURITY DEFINER) see this session with the hostile path');
SELECT is(pg_temp.got('admin maintenance'), 'ok = done', 'run_maintenance works with the hostile path');
SELECT is(pg_temp.got('admin schedule'), '55000: pg_cron is loaded but its extension is not created in database "' || current_database() || '"',
    'schedule_maintenance (SECURITY DEFINER) checks pg_cron with the real functions');
-- The global vector layout's sync trigger (SECURITY DEFINER) needs
-- pgvector, absent here: 072_vector_global.sql fires it with planted
-- operators on the writer's path.  Here: that its path is pinned.
SELECT ok((SELECT prosecdef AND 'search_path=pg_catalog, unified, pg_temp' = ANY (proconfig)
             FROM pg_proc WHERE oid = 'unified.chunk_vectors_sync()'::regprocedure),
    'chunk_vectors_sync (the global vector layout''s trigger) is SECURITY DEFINER with a pinned search_path');
SELECT ok((SELECT prosecdef AND 'search_path=pg_catalog, unified, pg_temp' = ANY (proconfig)
             FROM pg_proc WHERE oid = 'unified.chunk_vectors_truncated()'::regprocedure),
    'chunk_vectors_truncated (the side tables'' TRUNCATE guard) is SECURITY DEFINER with a pinned search_path');
SELECT ok((SELECT prosecdef FROM pg_proc WHERE oid = 'unified.schedule_maintenance(text,integer,interval)'::regprocedure),
    'schedule_maintenance is SECURITY DEFINER, so unified_admin needs no privilege on pg_cron');
SELECT is(pg_temp.got('super partition'), 'ok = unified.chunks_2042_03',
    'create_monthly_partition names the right month with the hostile path');
SELECT is(pg_temp.got('super partition again'), 'ok = unified.chunks_2042_03', 'and finds it again');
SELECT is(pg_temp.got('super hash'), 'ok = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    'content_hash is not fooled');
SELECT is(pg_temp.got('super truncate'), 'ok', 'TRUNCATE works with the hostile path (key trigger)');
SELECT is((SELECT count(*)::int FROM unified.chunk_keys), 0, 'the real chunk_keys was emptied, not the temp one');
SELECT is((SELECT coalesce(string_agg(DISTINCT what, ','), '') FROM evil.hits), '',
    'not one planted function or operator was called');
SELECT is((SELECT count(*)::int FROM pg_temp.project_grants) + (SELECT count(*)::int FROM pg_temp.chunk_keys)
          + (SELECT count(*)::int FROM pg_temp.pg_roles), 0,
    'the shadowing temporary tables were never written');

SELECT * FROM finish();
ROLLBACK;
