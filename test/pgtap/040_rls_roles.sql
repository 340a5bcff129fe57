-- Row-level security and tenant scoping on unified.chunks: every allowed
-- and denied operation per role, under SET ROLE / SET SESSION
-- AUTHORIZATION.  Roles created here vanish with the ROLLBACK.
BEGIN;
SELECT plan(103);

-- ---------------------------------------------------------------- setup
CREATE ROLE tap_claude LOGIN IN ROLE claude_user;
CREATE ROLE tap_cognee LOGIN IN ROLE cognee_user;
CREATE ROLE tap_admin LOGIN IN ROLE unified_admin;
CREATE ROLE tap_claude_a LOGIN IN ROLE claude_user;          -- scoped to proj-a
CREATE ROLE tap_cognee_d1 LOGIN IN ROLE cognee_user;         -- scoped to dataset d1
CREATE ROLE tap_both LOGIN IN ROLE claude_user, cognee_user;
CREATE ROLE tap_nobody LOGIN;
CREATE ROLE tap_pooler LOGIN IN ROLE claude_user;            -- unscoped pool login ...
CREATE ROLE tap_tenant_b NOLOGIN IN ROLE claude_user;        -- ... that SETs ROLE to a tenant
GRANT tap_tenant_b TO tap_pooler;
CREATE ROLE tap_pooler_a LOGIN IN ROLE claude_user;          -- scoped to proj-a, SETs ROLE to tenant b
GRANT tap_tenant_b TO tap_pooler_a;
CREATE SCHEMA tap_fn AUTHORIZATION tap_claude;
GRANT USAGE ON SCHEMA tap_fn TO PUBLIC;

SELECT unified.grant_project('tap_claude_a', 'proj-a');
SELECT unified.grant_dataset('tap_cognee_d1', '00000000-0000-0000-0000-0000000000d1');
SELECT unified.grant_project('tap_tenant_b', 'proj-b');
SELECT unified.grant_project('tap_pooler_a', 'proj-a');

-- c*: Claude-Context only, k*: Cognee only, s*: shared (source first).
INSERT INTO unified.chunks (source, source_id, project_id, cognee_dataset_id, content, relative_path)
VALUES ('claude_context', 'tap-c1', 'proj-a', NULL, 'c1', 'a.py'),
       ('claude_context', 'tap-c2', 'proj-b', NULL, 'c2', 'b.py'),
       ('cognee', 'tap-k1', NULL, '00000000-0000-0000-0000-0000000000d1', 'k1', NULL),
       ('cognee', 'tap-k2', NULL, '00000000-0000-0000-0000-0000000000d2', 'k2', NULL),
       ('claude_context', 'tap-s1', 'proj-a', '00000000-0000-0000-0000-0000000000d1', 's1', 's.py'),
       ('cognee', 'tap-s2', 'proj-b', '00000000-0000-0000-0000-0000000000d2', 's2', NULL);

-- Rows a statement touched.
CREATE FUNCTION pg_temp.affected(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE q;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
-- The source ids the current role sees, sorted and comma-separated.
CREATE FUNCTION pg_temp.seen() RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(source_id, ',' ORDER BY source_id), '')
      FROM unified.chunks WHERE source_id LIKE 'tap-%'
$$;
-- What the superuser sees of a row (content), bypassing RLS.
CREATE FUNCTION pg_temp.content_of(sid text) RETURNS text LANGUAGE sql SECURITY DEFINER AS $$
    SELECT content FROM unified.chunks WHERE source_id = sid
$$;

-- ------------------------------------------------------------ claude_user
SET ROLE tap_claude;
SELECT is(pg_temp.seen(), 'tap-c1,tap-c2,tap-s1,tap-s2',
    'claude_user sees Claude-Context rows and shared rows, no Cognee-only rows');
SELECT lives_ok(
    $$INSERT INTO unified.chunks (source, source_id, project_id, content, relative_path)
      VALUES ('claude_context', 'tap-c3', 'proj-c', 'c3', 'c.py')$$,
    'claude_user inserts its own row');
SELECT is((SELECT count(*)::int FROM unified.chunks WHERE source_id = 'tap-c3'), 1,
    'and sees it (the identity default needs no sequence privilege)');
SELECT throws_ok(
    $$INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('claude_context', 'tap-x', NULL, 'x')$$,
    '42501', NULL, 'claude_user cannot insert a row without project_id');
SELECT throws_ok(
    $$INSERT INTO unified.chunks (source, source_id, project_id, cognee_dataset_id, content)
      VALUES ('cognee', 'tap-x', 'proj-a', '00000000-0000-0000-0000-0000000000d1', 'x')$$,
    '42501', NULL, 'claude_user cannot write cognee_dataset_id');
SELECT throws_ok(
    $$INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('cognee', 'tap-x', 'proj-a', 'x')$$,
    '42501', NULL, 'claude_user cannot insert a row with source cognee');
SELECT throws_ok(
    $$INSERT INTO unified.chunks (id, source, source_id, project_id, content) VALUES (1, 'claude_context', 'tap-x', 'proj-a', 'x')$$,
    '42501', NULL, 'claude_user cannot choose the surrogate key');
SELECT throws_ok(
    $$INSERT INTO unified.chunks (source, source_id, project_id, content, migration_id) VALUES ('claude_context', 'tap-x', 'proj-a', 'x', 1)$$,
    '42501', NULL, 'claude_user cannot claim a migration');
SELECT is(pg_temp.affected($$UPDATE unified.chunks SET content = 'c1 v2' WHERE source_id = 'tap-c1'$$), 1::bigint,
    'claude_user updates its own row');
SELECT is(pg_temp.affected($$UPDATE unified.chunks SET content = 's1 v2' WHERE source_id = 'tap-s1'$$), 1::bigint,
    'claude_user updates a shared row whose source it is');
SELECT is(pg_temp.affected($$UPDATE unified.chunks SET content = 'hacked' WHERE source_id IN ('tap-s2', 'tap-k1')$$), 0::bigint,
    'claude_user cannot update a shared row Cognee owns, nor a Cognee row');
SELECT is(pg_temp.affected($$UPDATE unified.chunks SET content = 'hacked'$$), 4::bigint,
    'an unqualified UPDATE touches only rows claude_user owns');
SELECT throws_ok(
    $$UPDATE unified.chunks SET project_id = NULL WHERE source_id = 'tap-c1'$$,
    '42501', NULL, 'claude_user cannot move a row out of its space (project_id NULL)');
SELECT throws_ok(
    $$UPDATE unified.chunks SET cognee_dataset_id = '00000000-0000-0000-0000-0000000000d2' WHERE source_id = 'tap-c1'$$,
    '42501', NULL, 'claude_user cannot share a row into a Cognee dataset');
SELECT throws_ok(
    $$UPDATE unified.chunks SET cognee_dataset_id = NULL WHERE source_id = 'tap-s1'$$,
    '42501', NULL, 'claude_user cannot unshare a shared row');
SELECT throws_ok($$UPDATE unified.chunks SET source = 'cognee' WHERE source_id = 'tap-c1'$$,
    '42501', NULL, 'claude_user cannot update source');
SELECT throws_ok($$UPDATE unified.chunks SET source_id = 'tap-renamed' WHERE source_id = 'tap-c1'$$,
    '42501', NULL, 'claude_user cannot update source_id');
SELECT throws_ok($$UPDATE unified.chunks SET created_at = now() - interval '10 years' WHERE source_id = 'tap-c1'$$,
    '42501', NULL, 'claude_user cannot update created_at (move a row between partitions)');
SELECT throws_ok($$UPDATE unified.chunks SET id = 42 WHERE source_id = 'tap-c1'$$,
    '42501', NULL, 'claude_user cannot update id');
SELECT is(pg_temp.affected($$DELETE FROM unified.chunks WHERE source_id IN ('tap-k1', 'tap-s2')$$), 0::bigint,
    'claude_user cannot delete Cognee rows or shared rows Cognee owns');
SELECT is(pg_temp.affected($$DELETE FROM unified.chunks WHERE project_id = 'proj-c' AND relative_path = 'c.py'$$), 1::bigint,
    'claude_user deletes a file''s chunks (re-index)');
SELECT throws_ok($$TRUNCATE unified.chunks$$, '42501', NULL, 'claude_user cannot TRUNCATE');
SELECT throws_ok($$SELECT * FROM unified.chunks_default$$, '42501', NULL,
    'claude_user cannot read the default partition');
SELECT throws_ok(format('SELECT * FROM unified.%I', 'chunks_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')),
    '42501', NULL, 'claude_user cannot read the current month''s partition');
SELECT throws_ok(
    $$INSERT INTO unified.chunks_default (source, source_id, project_id, content) VALUES ('claude_context', 'tap-x', 'p', 'x')$$,
    '42501', NULL, 'claude_user cannot write a partition directly');
SELECT throws_ok($$SELECT * FROM unified.chunk_keys$$, '42501', NULL, 'claude_user cannot read chunk_keys');
SELECT throws_ok($$DELETE FROM unified.chunk_keys$$, '42501', NULL, 'claude_user cannot write chunk_keys');
SELECT throws_ok($$SELECT * FROM unified.transaction_log$$, '42501', NULL, 'claude_user cannot read the transaction log');
SELECT throws_ok($$SELECT * FROM unified.project_grants$$, '42501', NULL, 'claude_user cannot read tenant grants');
SELECT throws_ok($$SELECT unified.grant_project('tap_claude', 'proj-a')$$, '42501', NULL,
    'claude_user cannot grant projects');
SELECT throws_ok($$SELECT unified.create_monthly_partition('2041-01-01')$$, '42501', NULL,
    'claude_user cannot create partitions');
SET row_security = off;
SELECT throws_ok($$SELECT count(*) FROM unified.chunks$$, '42501', NULL,
    'row_security = off does not bypass the policies, it fails');
RESET row_security;
RESET ROLE;

SELECT is(pg_temp.content_of('tap-k1'), 'k1', 'the Cognee row claude_user tried to change is untouched');
SELECT is(pg_temp.content_of('tap-s2'), 's2', 'the shared row Cognee owns is untouched');

-- A partition created later, by an administrator, is not reachable either.
SET ROLE tap_admin;
SELECT is(unified.create_monthly_partition('2040-01-01'), 'unified.chunks_2040_01',
    'unified_admin creates a new partition');
RESET ROLE;
SELECT is((SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'unified.chunks_2040_01'::regclass),
    (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'unified.chunks'::regclass),
    'it belongs to the owner of unified.chunks, not to the administrator who made it');
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
VALUES ('claude_context', 'tap-c2040', 'proj-a', 'future', '2040-01-15 00:00:00+00');
SET ROLE tap_claude;
SELECT throws_ok($$SELECT * FROM unified.chunks_2040_01$$, '42501', NULL,
    'claude_user cannot read a partition created later');
SELECT throws_ok($$DELETE FROM unified.chunks_2040_01$$, '42501', NULL,
    'claude_user cannot delete from a partition created later');
SELECT is((SELECT content FROM unified.chunks WHERE source_id = 'tap-c2040'), 'future',
    'but reads its rows through unified.chunks');
RESET ROLE;

-- ------------------------------------------------------------ cognee_user
SET ROLE tap_cognee;
SELECT is(pg_temp.seen(), 'tap-k1,tap-k2,tap-s1,tap-s2',
    'cognee_user sees Cognee rows and shared rows, no Claude-Context-only rows');
SELECT lives_ok(
    $$INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id, content, metadata)
      VALUES ('cognee', 'DocumentChunk_text', 'tap-k3', '00000000-0000-0000-0000-0000000000d3', 'k3', '{"type": "x"}')$$,
    'cognee_user inserts its own row');
SELECT throws_ok(
    $$INSERT INTO unified.chunks (source, source_id, cognee_dataset_id, project_id, content)
      VALUES ('cognee', 'tap-x', '00000000-0000-0000-0000-0000000000d1', 'proj-a', 'x')$$,
    '42501', NULL, 'cognee_user cannot write project_id');
SELECT throws_ok(
    $$INSERT INTO unified.chunks (source, source_id, cognee_dataset_id, content)
      VALUES ('claude_context', 'tap-x', '00000000-0000-0000-0000-0000000000d1', 'x')$$,
    '42501', NULL, 'cognee_user cannot insert a row with source claude_context');
SELECT is(pg_temp.affected($$UPDATE unified.chunks SET content = 'hacked' WHERE source_id IN ('tap-c1', 'tap-s1')$$), 0::bigint,
    'cognee_user cannot update Claude-Context rows or shared rows Claude-Context owns');
SELECT is(pg_temp.affected($$UPDATE unified.chunks SET content = 's2 v2' WHERE source_id = 'tap-s2'$$), 1::bigint,
    'cognee_user updates a shared row whose source it is');
SELECT throws_ok(
    $$UPDATE unified.chunks SET cognee_dataset_id = NULL WHERE source_id = 'tap-k1'$$,
    '42501', NULL, 'cognee_user cannot move a row out of its space');
SELECT throws_ok(
    $$UPDATE unified.chunks SET project_id = 'proj-z' WHERE source_id = 'tap-k1'$$,
    '42501', NULL, 'cognee_user cannot share a row into a project');
SELECT is(pg_temp.affected($$DELETE FROM unified.chunks WHERE source_id IN ('tap-c1', 'tap-s1')$$), 0::bigint,
    'cognee_user cannot delete Claude-Context rows');
SELECT is(pg_temp.affected($$DELETE FROM unified.chunks WHERE source_id = 'tap-k3'$$), 1::bigint,
    'cognee_user deletes its own row');
SELECT throws_ok($$SELECT * FROM unified.chunks_default$$, '42501', NULL,
    'cognee_user cannot read a partition');
RESET ROLE;
SELECT is(pg_temp.content_of('tap-c1'), 'hacked', 'Claude-Context''s row keeps the content claude_user gave it');

-- ------------------------------------------------- roles without a group
SET ROLE tap_nobody;
SELECT throws_ok($$SELECT count(*) FROM unified.chunks$$, '42501', NULL,
    'a role in no group cannot read unified.chunks');
RESET ROLE;

-- ------------------------------------------------ member of both groups
SET ROLE tap_both;
SELECT is(pg_temp.seen(), 'tap-c1,tap-c2,tap-c2040,tap-k1,tap-k2,tap-s1,tap-s2',
    'a member of both groups sees both applications');
SELECT throws_ok(
    $$INSERT INTO unified.chunks (source, source_id, project_id, cognee_dataset_id, content)
      VALUES ('claude_context', 'tap-x', 'proj-a', '00000000-0000-0000-0000-0000000000d9', 'x')$$,
    '42501', NULL, 'a member of both groups cannot create a shared row');
SELECT throws_ok(
    $$UPDATE unified.chunks SET cognee_dataset_id = '00000000-0000-0000-0000-0000000000d9' WHERE source_id = 'tap-c1'$$,
    '42501', NULL, 'a member of both groups cannot share a row');
SELECT throws_ok(
    $$UPDATE unified.chunks SET project_id = 'proj-z' WHERE source_id = 'tap-s2'$$,
    '42501', NULL, 'a member of both groups cannot re-share a Cognee row into another project');
RESET ROLE;

-- ---------------------------------------------------------- unified_admin
SET ROLE tap_admin;
SELECT is(pg_temp.seen(), 'tap-c1,tap-c2,tap-c2040,tap-k1,tap-k2,tap-s1,tap-s2', 'unified_admin sees every row');
SELECT lives_ok(
    $$INSERT INTO unified.chunks (source, source_id, project_id, cognee_dataset_id, content)
      VALUES ('cognee', 'tap-s3', 'proj-a', '00000000-0000-0000-0000-0000000000d1', 's3')$$,
    'unified_admin creates a shared row');
SELECT is(pg_temp.affected($$UPDATE unified.chunks SET cognee_dataset_id = '00000000-0000-0000-0000-0000000000d1' WHERE source_id = 'tap-c2'$$),
    1::bigint, 'unified_admin shares a row');
SELECT is(pg_temp.affected($$UPDATE unified.chunks SET created_at = '2040-01-20 00:00:00+00' WHERE source_id = 'tap-k2'$$),
    1::bigint, 'unified_admin moves a row to another month''s partition');
SELECT is((SELECT content FROM unified.chunks WHERE source_id = 'tap-k2' AND created_at >= '2040-01-01 00:00:00+00'), 'k2',
    'and it is there, once');
SELECT throws_ok($$SELECT * FROM unified.chunks_default$$, '42501', NULL,
    'unified_admin works through unified.chunks, not the partitions');
SELECT ok(unified.grant_project('tap_claude_a', 'proj-q'), 'unified_admin grants a project');
SELECT ok(unified.revoke_project('tap_claude_a', 'proj-q'), 'unified_admin revokes it');
RESET ROLE;

-- -------------------------------------------------------- tenant scoping
SET SESSION AUTHORIZATION tap_claude_a;
SELECT is(pg_temp.seen(), 'tap-c1,tap-c2040,tap-s1,tap-s3', 'a role granted proj-a sees only proj-a');
SELECT is(unified.visible_projects(), ARRAY['proj-a'], 'visible_projects() reports the scope');
SELECT throws_ok(
    $$INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('claude_context', 'tap-x', 'proj-b', 'x')$$,
    '42501', NULL, 'a scoped role cannot insert into another project');
SELECT lives_ok(
    $$INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('claude_context', 'tap-c4', 'proj-a', 'c4')$$,
    'a scoped role inserts into its project');
SELECT throws_ok($$UPDATE unified.chunks SET project_id = 'proj-b' WHERE source_id = 'tap-c4'$$,
    '42501', NULL, 'a scoped role cannot move a row to another project');
SELECT is(pg_temp.affected($$DELETE FROM unified.chunks WHERE project_id = 'proj-b'$$), 0::bigint,
    'a scoped role cannot delete another project''s rows');
SELECT is(pg_temp.affected($$UPDATE unified.chunks SET content = 'hacked' WHERE project_id = 'proj-b'$$), 0::bigint,
    'a scoped role cannot update another project''s rows');
-- Attempts to widen the scope.
SET ROLE claude_user;
SELECT is(pg_temp.seen(), 'tap-c1,tap-c2040,tap-c4,tap-s1,tap-s3',
    'SET ROLE to the group role does not widen the scope (session user is scoped)');
SELECT is(current_user::text, 'claude_user', '(current_user is the group role)');
RESET ROLE;
SELECT throws_ok($$SET ROLE tap_claude$$, '42501', NULL,
    'a scoped role cannot SET ROLE to an unscoped login role it is not a member of');
SET unified.project_id = 'proj-b';
SET app.current_project = 'proj-b';
SET application_name = 'unified';
SELECT is(pg_temp.seen(), 'tap-c1,tap-c2040,tap-c4,tap-s1,tap-s3', 'custom settings and application_name do not widen the scope');
RESET unified.project_id;
RESET app.current_project;
RESET application_name;
SELECT throws_ok($$SET unified_pg.database = 'x'$$, '55P02', NULL, 'the extension''s settings cannot be SET');
RESET SESSION AUTHORIZATION;

-- A SECURITY DEFINER function owned by an unscoped role does not widen a
-- scoped caller's view.
SET ROLE tap_claude;
CREATE FUNCTION tap_fn.all_source_ids() RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog AS
$$SELECT coalesce(string_agg(source_id, ',' ORDER BY source_id), '') FROM unified.chunks WHERE source_id LIKE 'tap-%'$$;
RESET ROLE;
SET SESSION AUTHORIZATION tap_claude_a;
SELECT is(tap_fn.all_source_ids(), 'tap-c1,tap-c2040,tap-c4,tap-s1,tap-s3',
    'a SECURITY DEFINER function of an unscoped role sees only the caller''s projects');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION tap_claude;
SELECT is(tap_fn.all_source_ids(), 'tap-c1,tap-c2,tap-c2040,tap-c4,tap-s1,tap-s2,tap-s3',
    '(its owner sees every project)');
RESET SESSION AUTHORIZATION;

-- A pool login that SETs ROLE to a tenant role is limited to the tenant.
SET SESSION AUTHORIZATION tap_pooler;
SELECT is(pg_temp.seen(), 'tap-c1,tap-c2,tap-c2040,tap-c4,tap-s1,tap-s2,tap-s3', 'an unscoped pool login sees every project');
SET ROLE tap_tenant_b;
SELECT is(pg_temp.seen(), 'tap-c2,tap-s2', 'after SET ROLE to a tenant role it sees only that tenant''s project');
SELECT is(tap_fn.all_source_ids(), 'tap-c2,tap-s2',
    'and a SECURITY DEFINER function of an unscoped role does not undo the SET ROLE');
RESET ROLE;
RESET SESSION AUTHORIZATION;
-- Scoped session and scoped SET ROLE: the intersection.
SET SESSION AUTHORIZATION tap_pooler_a;
SELECT is(pg_temp.seen(), 'tap-c1,tap-c2040,tap-c4,tap-s1,tap-s3', 'a scoped pool login sees its project');
SET ROLE tap_tenant_b;
SELECT is(pg_temp.seen(), '', 'SET ROLE to a role scoped elsewhere can only narrow (to nothing)');
SELECT is(unified.visible_projects(), '{}'::text[], 'visible_projects() is empty');
RESET ROLE;
RESET SESSION AUTHORIZATION;

-- Cognee scoping, and scoping is fail-closed across applications.
SET SESSION AUTHORIZATION tap_cognee_d1;
SELECT is(pg_temp.seen(), 'tap-c2,tap-k1,tap-s1,tap-s3', 'a role granted dataset d1 sees only d1 (c2 was shared into d1)');
SELECT is(unified.visible_datasets(), ARRAY['00000000-0000-0000-0000-0000000000d1'::uuid], 'visible_datasets() reports the scope');
SELECT is(unified.visible_projects(), '{}'::text[], 'a role scoped by datasets only has no projects');
SELECT throws_ok(
    $$INSERT INTO unified.chunks (source, source_id, cognee_dataset_id, content) VALUES ('cognee', 'tap-x', '00000000-0000-0000-0000-0000000000d2', 'x')$$,
    '42501', NULL, 'a scoped Cognee role cannot insert into another dataset');
SELECT is(pg_temp.affected($$DELETE FROM unified.chunks WHERE cognee_dataset_id = '00000000-0000-0000-0000-0000000000d2'$$), 0::bigint,
    'a scoped Cognee role cannot delete another dataset''s rows');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.content_of('tap-k2'), 'k2', 'dataset d2 is untouched');

-- Grants take effect at once, in the same session.
SELECT unified.grant_project('tap_claude_a', 'proj-b');
SET SESSION AUTHORIZATION tap_claude_a;
SELECT is(pg_temp.seen(), 'tap-c1,tap-c2,tap-c2040,tap-c4,tap-s1,tap-s2,tap-s3', 'a new grant widens the scope at once');
RESET SESSION AUTHORIZATION;
SELECT unified.revoke_project('tap_claude_a', 'proj-b');
SET SESSION AUTHORIZATION tap_claude_a;
SELECT is(pg_temp.seen(), 'tap-c1,tap-c2040,tap-c4,tap-s1,tap-s3', 'a revoke narrows it at once');
RESET SESSION AUTHORIZATION;

-- ----------------------------------------------- the policies use indexes
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE l text; r text := '';
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP r := r || l || E'\n'; END LOOP;
    RETURN r;
END $$;
SET LOCAL enable_seqscan = off;
SET ROLE tap_claude;
SELECT matches(pg_temp.plan_of($$SELECT id FROM unified.chunks WHERE project_id = 'proj-a' AND relative_path = 'a.py'$$),
    'Index Cond: \(\(project_id = ''proj-a''::text\) AND \(relative_path = ''a.py''::text\)\)',
    'claude_user: a project''s chunks by path use the (project_id, relative_path) index');
SELECT doesnt_match(pg_temp.plan_of($$SELECT id FROM unified.chunks WHERE project_id = 'proj-a' AND relative_path = 'a.py'$$),
    'Seq Scan|SubPlan', 'claude_user: no sequential scan and no per-row subplan');
SELECT matches(pg_temp.plan_of($$SELECT id FROM unified.chunks WHERE project_id = 'proj-a' AND relative_path = 'a.py'$$),
    'InitPlan', 'claude_user: the scope is computed once per query (InitPlan)');
RESET ROLE;
SET SESSION AUTHORIZATION tap_claude_a;
SELECT matches(pg_temp.plan_of($$SELECT id FROM unified.chunks WHERE project_id = 'proj-a' AND relative_path = 'a.py'$$),
    'Index Cond: \(\(project_id = ''proj-a''::text\) AND \(relative_path = ''a.py''::text\)\)',
    'scoped role: the same index is used');
SELECT doesnt_match(pg_temp.plan_of($$SELECT id FROM unified.chunks WHERE project_id = 'proj-a' AND relative_path = 'a.py'$$),
    'Seq Scan|SubPlan', 'scoped role: no sequential scan and no per-row subplan');
RESET SESSION AUTHORIZATION;
SET ROLE tap_cognee;
SELECT matches(pg_temp.plan_of($$SELECT id FROM unified.chunks WHERE cognee_dataset_id = '00000000-0000-0000-0000-0000000000d1'$$),
    'Index Cond: \(cognee_dataset_id = ''00000000-0000-0000-0000-0000000000d1''::uuid\)',
    'cognee_user: a dataset''s chunks use the dataset index');
SELECT doesnt_match(pg_temp.plan_of($$SELECT id FROM unified.chunks WHERE cognee_dataset_id = '00000000-0000-0000-0000-0000000000d1'$$),
    'Seq Scan|SubPlan', 'cognee_user: no sequential scan and no per-row subplan');
-- (On these few rows the planner may prefer the source index, which the
-- DELETE policy's source = ... can use too; either way no table is scanned.)
SELECT doesnt_match(pg_temp.plan_of($$DELETE FROM unified.chunks WHERE cognee_dataset_id = '00000000-0000-0000-0000-0000000000d1'$$),
    'Seq Scan|SubPlan', 'cognee_user: DELETE of a dataset uses an index');
RESET ROLE;
SET ROLE tap_claude;
SELECT doesnt_match(pg_temp.plan_of($$DELETE FROM unified.chunks WHERE project_id = 'proj-a' AND relative_path = 'a.py'$$),
    'Seq Scan|SubPlan', 'claude_user: DELETE of a file''s chunks uses an index');
RESET ROLE;
RESET enable_seqscan;

-- -------------------------------------------- superusers bypass, as documented
SELECT is(pg_temp.seen(), 'tap-c1,tap-c2,tap-c2040,tap-c4,tap-k1,tap-k2,tap-s1,tap-s2,tap-s3',
    'a superuser bypasses row-level security');
SELECT ok((SELECT relforcerowsecurity FROM pg_class WHERE oid = 'unified.chunks'::regclass),
    'row-level security is forced, so a non-superuser owner would be subject to it');

SELECT * FROM finish();
ROLLBACK;
