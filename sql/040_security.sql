-- Roles, row-level security and tenant grants: the catalog state and every
-- validation error of the administration functions.  Behaviour per role is
-- tested in test/pgtap/040_rls_roles.sql.
\set VERBOSITY terse

-- RLS is enabled and forced on unified.chunks, and only there.
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
  FROM pg_class c
 WHERE c.oid IN ('unified.chunks'::regclass, 'unified.chunks_default'::regclass,
                 'unified.chunk_keys'::regclass)
 ORDER BY c.relname;

-- The policies, as PostgreSQL stores them.
SELECT policyname, permissive, roles, cmd, qual, with_check
  FROM pg_policies WHERE schemaname = 'unified' AND tablename = 'chunks'
 ORDER BY policyname;

-- Table privileges of the roles on the storage relations (every relation
-- is checked in test/pgtap/043_privileges.sql).  Monthly
-- partitions are summed up so that the output does not depend on the date.
SELECT CASE WHEN c.relname ~ '^chunks_[0-9]{4}_[0-9]{2}$' THEN 'chunks_YYYY_MM' ELSE c.relname END AS relation,
       r.rolname,
       coalesce(string_agg(DISTINCT p.privilege, ',')
                FILTER (WHERE has_table_privilege(r.rolname, c.oid, p.privilege)), '') AS privileges
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'unified'
 CROSS JOIN (VALUES ('claude_user'), ('cognee_user'), ('unified_admin'), ('public')) AS r(rolname)
 CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) AS p(privilege)
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
   AND (c.relname ~ '^chunks_[0-9]{4}_[0-9]{2}$'
        OR c.relname IN ('chunks', 'chunks_default', 'chunks_id_seq', 'chunk_keys', 'transaction_log',
                         'project_grants', 'dataset_grants', 'tenant_grants'))
 GROUP BY 1, 2
 ORDER BY 1, 2;

-- Column privileges: what each application may write.
SELECT r.rolname, p.privilege,
       string_agg(a.attname, ',' ORDER BY a.attnum) AS columns
  FROM pg_attribute a
 CROSS JOIN (VALUES ('claude_user'), ('cognee_user')) AS r(rolname)
 CROSS JOIN (VALUES ('INSERT'), ('UPDATE')) AS p(privilege)
 WHERE a.attrelid = 'unified.chunks'::regclass AND a.attnum > 0 AND NOT a.attisdropped
   AND has_column_privilege(r.rolname, 'unified.chunks'::regclass, a.attnum, p.privilege)
 GROUP BY 1, 2
 ORDER BY 1, 2;

-- Functions: who may execute them.  content_hash is public because the
-- generated column calls it as the inserting role.
SELECT p.oid::regprocedure AS function, p.prosecdef AS security_definer,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public,
       has_function_privilege('claude_user', p.oid, 'EXECUTE') AS claude,
       has_function_privilege('cognee_user', p.oid, 'EXECUTE') AS cognee,
       has_function_privilege('unified_admin', p.oid, 'EXECUTE') AS admin
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'unified_pg'
 WHERE p.proname IN ('content_hash', 'caller_roles', 'visible_projects', 'visible_datasets',
                     'grant_project', 'grant_dataset', 'revoke_project', 'revoke_dataset',
                     'tenant_role_check', 'tenant_project_check', 'tenant_last_grant_warning',
                     'chunks_refuse_sharing_change')
 ORDER BY p.oid::regprocedure::text;

-- Tenant grants: login roles for the test.
CREATE ROLE regress_claude_app LOGIN IN ROLE claude_user;
CREATE ROLE regress_cognee_app LOGIN IN ROLE cognee_user;
CREATE ROLE regress_admin LOGIN IN ROLE unified_admin;
CREATE ROLE regress_super SUPERUSER;
CREATE ROLE regress_bypass BYPASSRLS;

SET ROLE regress_admin;
SELECT unified.grant_project('regress_claude_app', 'proj-a') AS granted;
SELECT unified.grant_project('regress_claude_app', 'proj-a') AS granted_again;
SELECT unified.grant_project('regress_claude_app', 'proj-b') AS granted;
SELECT unified.grant_dataset('regress_cognee_app', '11111111-1111-1111-1111-111111111111') AS granted;
SELECT role, kind, object, granted_by FROM unified.tenant_grants ORDER BY role::text, kind, object;

-- Refused: NULLs, unknown roles, group roles, roles that bypass RLS,
-- project ids chunks could not hold, wrong types.
SELECT unified.grant_project(NULL, 'p');
SELECT unified.grant_project('regress_no_such_role', 'p');
SELECT unified.grant_project(999999999::oid::regrole, 'p');
SELECT unified.grant_project('claude_user', 'p');
SELECT unified.grant_project('unified_admin', 'p');
SELECT unified.grant_project('regress_super', 'p');
SELECT unified.grant_project('regress_bypass', 'p');
SELECT unified.grant_project('regress_claude_app', NULL);
SELECT unified.grant_project('regress_claude_app', '');
SELECT unified.grant_project('regress_claude_app', repeat('x', 257));
SELECT unified.grant_dataset('regress_cognee_app', NULL);
SELECT unified.grant_dataset('regress_cognee_app', 'not-a-uuid');
SELECT unified.grant_dataset('regress_cognee_app', 42);
SELECT unified.revoke_project('regress_claude_app', NULL);
SELECT unified.revoke_dataset(NULL, '11111111-1111-1111-1111-111111111111');

-- Revoking: true when there was a grant; a warning when it was the last.
SELECT unified.revoke_project('regress_claude_app', 'proj-b') AS revoked;
SELECT unified.revoke_project('regress_claude_app', 'proj-b') AS revoked_again;
SELECT unified.revoke_project('regress_claude_app', 'proj-a') AS revoked_last;
SELECT unified.revoke_dataset('regress_cognee_app', '11111111-1111-1111-1111-111111111111') AS revoked_last;
RESET ROLE;

-- Only unified_admin administers grants; the applications cannot read them.
SET ROLE regress_claude_app;
SELECT unified.grant_project('regress_claude_app', 'proj-z');
SELECT unified.revoke_project('regress_claude_app', 'proj-a');
SELECT * FROM unified.project_grants;
SELECT * FROM unified.tenant_grants;
SELECT unified.tenant_role_check('regress_claude_app');
RESET ROLE;

-- Grants of a dropped role are forgotten the next time grants change.
CREATE ROLE regress_gone LOGIN IN ROLE claude_user;
SELECT unified.grant_project('regress_gone', 'proj-a');
DROP ROLE regress_gone;
SELECT count(*) AS stale_before FROM unified.project_grants WHERE role::oid NOT IN (SELECT oid FROM pg_roles);
SELECT unified.grant_project('regress_claude_app', 'proj-a');
SELECT count(*) AS stale_after FROM unified.project_grants WHERE role::oid NOT IN (SELECT oid FROM pg_roles);
SELECT unified.revoke_project('regress_claude_app', 'proj-a');

DROP ROLE regress_claude_app, regress_cognee_app, regress_admin, regress_super, regress_bypass;
SELECT count(*) AS grants_left FROM unified.tenant_grants;
