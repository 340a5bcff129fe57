-- ---------------------------------------------------------------------------
-- Roles, row-level security and tenant scoping (DESIGN section 3).
--
-- Who may do what with unified.chunks is decided in three layers, each of
-- which holds on its own:
--
--  1. Privileges.  The application groups may SELECT and DELETE, and
--     INSERT and UPDATE only the columns their application owns: a row's
--     identity (id, source, source_collection, source_id), its
--     created_at (the partition key) and migration_id are never updated by
--     an application, and claude_user never writes cognee_dataset_id (nor
--     cognee_user project_id).  Nobody but the owner can reach the
--     partitions, unified.chunk_keys or the grant tables directly;
--     partitions created later get no grants, so that stays true.
--  2. Row-level security, enabled and forced.  An application sees the
--     rows that carry its id (shared rows, with both ids, are seen by both)
--     and writes only the rows whose source is itself; a row it writes must
--     stay in its own space.  Shared rows are created by unified_admin;
--     the source application may still update and delete them, but only
--     unified_admin may change whom a row is shared with (a trigger checks
--     this, because a policy cannot compare the old row with the new).
--  3. Tenant scoping.  unified.grant_project / unified.grant_dataset limit
--     a role to listed projects and datasets.  The policies ask
--     unified.visible_projects() / unified.visible_datasets() once per
--     query (as InitPlans; "scope IS NULL OR id = ANY (scope)" costs a
--     NULL test per row when the caller is not scoped), and the indexes
--     on project_id and cognee_dataset_id are used as usual.  The grants
--     that apply are those of the session user and of the SET ROLE user
--     (unified.caller_roles() shows them), never anything taken from
--     settings or arguments: see src/security.c.
-- ---------------------------------------------------------------------------

-- Tenant grants: a role that appears here, in either table, sees only the
-- projects and datasets listed for it.  Roles are stored as regrole so
-- that renaming a role keeps its grants and pg_dump writes role names.
-- role_token binds a grant to the role it was given to, not merely to its
-- OID, which a role created later may reuse (see src/security.c): a grant
-- counts only while it equals unified.tenant_role_token(role).  A row
-- written by hand, without the token, restricts the role to nothing.
CREATE TABLE unified.project_grants (
    role        regrole NOT NULL,
    project_id  text NOT NULL,
    granted_by  name NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    role_token  text NOT NULL DEFAULT '',
    CONSTRAINT project_grants_pkey PRIMARY KEY (role, project_id),
    CONSTRAINT project_grants_project_id_check
        CHECK (pg_catalog.length(project_id) BETWEEN 1 AND 256)
);

CREATE TABLE unified.dataset_grants (
    role        regrole NOT NULL,
    dataset_id  uuid NOT NULL,
    granted_by  name NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    role_token  text NOT NULL DEFAULT '',
    CONSTRAINT dataset_grants_pkey PRIMARY KEY (role, dataset_id)
);

COMMENT ON TABLE unified.project_grants IS
    'Tenant scoping: Claude-Context projects a role is limited to (see unified.grant_project)';
COMMENT ON TABLE unified.dataset_grants IS
    'Tenant scoping: Cognee datasets a role is limited to (see unified.grant_dataset)';

SELECT pg_catalog.pg_extension_config_dump('unified.project_grants', '');
SELECT pg_catalog.pg_extension_config_dump('unified.dataset_grants', '');

-- The roles whose grants restrict the caller: the session user and the
-- role set by SET ROLE.  Reads only the backend's identity.
CREATE FUNCTION unified.caller_roles()
RETURNS oid[]
AS 'MODULE_PATHNAME', 'upg_caller_roles'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION unified.caller_roles() IS
    'Session user and SET ROLE user of this backend: the roles whose tenant grants apply';

-- Projects the caller may see, or NULL for "all of Claude-Context".  A
-- caller role is scoped when it has any grant, of either kind; the result
-- is the projects granted to every scoped caller role (so SET ROLE can only
-- narrow), and empty when a scoped role has dataset grants only.  In C
-- (src/security.c): the policies call it once per query, and it reads the
-- grant tables directly, so it needs neither SECURITY DEFINER nor a
-- privilege on them and looks up no name through search_path.
CREATE FUNCTION unified.visible_projects()
RETURNS text[]
AS 'MODULE_PATHNAME', 'upg_visible_projects'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION unified.visible_projects() IS
    'Projects the caller is limited to by tenant grants; NULL when not limited';

-- Datasets the caller may see, or NULL for "all of Cognee"; as above.
CREATE FUNCTION unified.visible_datasets()
RETURNS uuid[]
AS 'MODULE_PATHNAME', 'upg_visible_datasets'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION unified.visible_datasets() IS
    'Datasets the caller is limited to by tenant grants; NULL when not limited';

-- The token that binds tenant grants to "role" (its security label of
-- provider unified_pg, made on first use).  Internal.
CREATE FUNCTION unified.tenant_role_token(role oid)
RETURNS text
AS 'MODULE_PATHNAME', 'upg_tenant_role_token'
LANGUAGE C STRICT VOLATILE;

-- Check that "role" may receive tenant grants; return its OID.  Also
-- forget grants of roles that no longer exist, and grants that were given
-- to an earlier role with the same OID, so that a recycled OID never
-- inherits them.
CREATE FUNCTION unified.tenant_role_check(role regrole)
RETURNS oid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    r       record;
    token   text;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.rolname, a.rolsuper, a.rolbypassrls INTO r
      FROM pg_catalog.pg_roles a WHERE a.oid = role::oid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role with OID % does not exist', role::oid
            USING ERRCODE = 'undefined_object';
    END IF;
    IF r.rolname IN ('claude_user', 'cognee_user', 'unified_admin') THEN
        RAISE EXCEPTION 'tenant grants cannot be given to the group role "%"', r.rolname
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Grant projects and datasets to the login roles that are members of it.';
    END IF;
    IF r.rolsuper OR r.rolbypassrls THEN
        RAISE EXCEPTION 'role "%" bypasses row-level security', r.rolname
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Superusers and roles with BYPASSRLS see every row whatever their grants.';
    END IF;

    token := unified.tenant_role_token(tenant_role_check.role::oid);
    DELETE FROM unified.project_grants g
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles a WHERE a.oid = g.role::oid)
        OR (g.role::oid = tenant_role_check.role::oid AND g.role_token <> token);
    DELETE FROM unified.dataset_grants g
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles a WHERE a.oid = g.role::oid)
        OR (g.role::oid = tenant_role_check.role::oid AND g.role_token <> token);
    RETURN role::oid;
END
$fn$;

-- Refuse a project id that chunks could not hold.
CREATE FUNCTION unified.tenant_project_check(project_id text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
BEGIN
    IF project_id IS NULL THEN
        RAISE EXCEPTION 'project_id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(project_id) NOT BETWEEN 1 AND 256 THEN
        RAISE EXCEPTION 'project_id must be 1 to 256 characters long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given is %s characters long.', length(project_id));
    END IF;
    RETURN project_id;
END
$fn$;

-- Warn when a role just lost its last grant: it now sees all of its
-- application(s) again.
CREATE FUNCTION unified.tenant_last_grant_warning(role oid)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    r   oid := tenant_last_grant_warning.role;
BEGIN
    IF r IS NOT NULL
       AND NOT EXISTS (SELECT FROM unified.project_grants g WHERE g.role::oid = r)
       AND NOT EXISTS (SELECT FROM unified.dataset_grants g WHERE g.role::oid = r) THEN
        RAISE WARNING 'role "%" has no tenant grants left and now sees every row of its application',
                      r::regrole::text
            USING HINT = 'To take its access away, REVOKE claude_user or cognee_user from it instead.';
    END IF;
END
$fn$;

-- Limit "role" to project_id (in addition to its other grants).
-- Returns true when the grant is new, false when it existed.
CREATE FUNCTION unified.grant_project(role regrole, project_id text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    r       oid := unified.tenant_role_check(grant_project.role);
    p       text := unified.tenant_project_check(grant_project.project_id);
BEGIN
    INSERT INTO unified.project_grants AS g (role, project_id, granted_by, role_token)
    VALUES (r::regrole, p, SESSION_USER, unified.tenant_role_token(r))
    ON CONFLICT ON CONSTRAINT project_grants_pkey DO NOTHING;
    RETURN FOUND;
END
$fn$;

-- Limit "role" to dataset_id (in addition to its other grants).
CREATE FUNCTION unified.grant_dataset(role regrole, dataset_id uuid)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    r       oid := unified.tenant_role_check(grant_dataset.role);
BEGIN
    IF grant_dataset.dataset_id IS NULL THEN
        RAISE EXCEPTION 'dataset_id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO unified.dataset_grants AS g (role, dataset_id, granted_by, role_token)
    VALUES (r::regrole, grant_dataset.dataset_id, SESSION_USER, unified.tenant_role_token(r))
    ON CONFLICT ON CONSTRAINT dataset_grants_pkey DO NOTHING;
    RETURN FOUND;
END
$fn$;

-- Remove one project grant; true when there was one.
CREATE FUNCTION unified.revoke_project(role regrole, project_id text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    r       oid := unified.tenant_role_check(revoke_project.role);
    p       text := unified.tenant_project_check(revoke_project.project_id);
    done    boolean;
BEGIN
    DELETE FROM unified.project_grants g WHERE g.role::oid = r AND g.project_id = p;
    done := FOUND;
    IF done THEN
        PERFORM unified.tenant_last_grant_warning(r);
    END IF;
    RETURN done;
END
$fn$;

-- Remove one dataset grant; true when there was one.
CREATE FUNCTION unified.revoke_dataset(role regrole, dataset_id uuid)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    r       oid := unified.tenant_role_check(revoke_dataset.role);
    done    boolean;
BEGIN
    IF revoke_dataset.dataset_id IS NULL THEN
        RAISE EXCEPTION 'dataset_id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM unified.dataset_grants g WHERE g.role::oid = r AND g.dataset_id = revoke_dataset.dataset_id;
    done := FOUND;
    IF done THEN
        PERFORM unified.tenant_last_grant_warning(r);
    END IF;
    RETURN done;
END
$fn$;

COMMENT ON FUNCTION unified.grant_project(regrole, text) IS
    'Limit a login role to a Claude-Context project (admin only)';
COMMENT ON FUNCTION unified.grant_dataset(regrole, uuid) IS
    'Limit a login role to a Cognee dataset (admin only)';
COMMENT ON FUNCTION unified.revoke_project(regrole, text) IS
    'Remove a project grant (admin only); a role left without grants sees its whole application';
COMMENT ON FUNCTION unified.revoke_dataset(regrole, uuid) IS
    'Remove a dataset grant (admin only); a role left without grants sees its whole application';

-- Every tenant grant, for administrators.
-- stale: the grant was given to an earlier role with the same OID (or
-- written by hand); it limits the role to nothing until the role is given
-- a grant again, which deletes it.
CREATE VIEW unified.tenant_grants AS
SELECT g.role, 'project'::text AS kind, g.project_id AS object, g.granted_by, g.granted_at,
       NOT EXISTS (SELECT FROM pg_catalog.pg_shseclabel l
                    WHERE l.objoid = g.role::oid AND l.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass
                      AND l.provider = 'unified_pg' AND l.label = g.role_token) AS stale
  FROM unified.project_grants g
UNION ALL
SELECT g.role, 'dataset'::text, g.dataset_id::text, g.granted_by, g.granted_at,
       NOT EXISTS (SELECT FROM pg_catalog.pg_shseclabel l
                    WHERE l.objoid = g.role::oid AND l.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass
                      AND l.provider = 'unified_pg' AND l.label = g.role_token)
  FROM unified.dataset_grants g;

COMMENT ON VIEW unified.tenant_grants IS
    'Tenant grants of every role: the projects and datasets it is limited to; stale ones limit it to nothing';

-- Only unified_admin may change whom a row is shared with: the id of the
-- application that is not the row's source.  Column privileges already keep
-- a single-application role from writing the other id; this covers roles
-- that are members of both groups, whose policies are OR-ed.
CREATE FUNCTION unified.chunks_refuse_sharing_change()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
BEGIN
    IF pg_has_role('unified_admin', 'USAGE') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'only unified_admin may change which % a % chunk is shared with',
                    CASE OLD.source WHEN 'cognee' THEN 'project' ELSE 'dataset' END, OLD.source
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('Chunk %s belongs to %s.', OLD.id, OLD.source),
              HINT = 'Shared rows are managed by unified_admin.';
END
$fn$;

CREATE TRIGGER chunks_sharing_guard BEFORE UPDATE ON unified.chunks
    FOR EACH ROW
    WHEN ((OLD.source = 'claude_context' AND OLD.cognee_dataset_id IS DISTINCT FROM NEW.cognee_dataset_id)
       OR (OLD.source = 'cognee' AND OLD.project_id IS DISTINCT FROM NEW.project_id))
    EXECUTE FUNCTION unified.chunks_refuse_sharing_change();

-- ---------------------------------------------------------------------------
-- Row-level security on unified.chunks.  FORCE makes the table's owner
-- subject to the policies too; superusers and BYPASSRLS roles are not.
-- ---------------------------------------------------------------------------
ALTER TABLE unified.chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE unified.chunks FORCE ROW LEVEL SECURITY;

-- The policies are data, in one place: unified.chunk_policies() lists
-- them and unified.apply_chunk_policies() creates them on a table.  They
-- are made on unified.chunks here, and on every table that copies rows'
-- ownership from it (the side tables of enable_vector_index's global
-- layout, 72_vector_global.sql), so that a row is visible to exactly the
-- same roles wherever it is stored.  Each expression names only columns
-- those tables share: source, project_id and cognee_dataset_id.
CREATE FUNCTION unified.chunk_policies()
RETURNS TABLE (policy name, command text, role name, using_expr text, check_expr text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
    SELECT p.policy::name, p.command, p.role::name, p.using_expr, p.check_expr
      FROM (VALUES
        -- Claude-Context: rows with a project_id in the caller's scope.
        ('claude_select', 'SELECT', 'claude_user',
         $p$project_id IS NOT NULL
           AND ((SELECT unified.visible_projects()) IS NULL
                OR project_id = ANY ((SELECT unified.visible_projects())::text[]))$p$, NULL),
        ('claude_insert', 'INSERT', 'claude_user', NULL,
         $p$source = 'claude_context' AND project_id IS NOT NULL AND cognee_dataset_id IS NULL
                AND ((SELECT unified.visible_projects()) IS NULL
                OR project_id = ANY ((SELECT unified.visible_projects())::text[]))$p$),
        ('claude_update', 'UPDATE', 'claude_user',
         $p$source = 'claude_context' AND project_id IS NOT NULL
           AND ((SELECT unified.visible_projects()) IS NULL
                OR project_id = ANY ((SELECT unified.visible_projects())::text[]))$p$,
         $p$source = 'claude_context' AND project_id IS NOT NULL
                AND ((SELECT unified.visible_projects()) IS NULL
                OR project_id = ANY ((SELECT unified.visible_projects())::text[]))$p$),
        ('claude_delete', 'DELETE', 'claude_user',
         $p$source = 'claude_context' AND project_id IS NOT NULL
           AND ((SELECT unified.visible_projects()) IS NULL
                OR project_id = ANY ((SELECT unified.visible_projects())::text[]))$p$, NULL),
        -- Cognee: rows with a cognee_dataset_id in the caller's scope.
        ('cognee_select', 'SELECT', 'cognee_user',
         $p$cognee_dataset_id IS NOT NULL
           AND ((SELECT unified.visible_datasets()) IS NULL
                OR cognee_dataset_id = ANY ((SELECT unified.visible_datasets())::uuid[]))$p$, NULL),
        ('cognee_insert', 'INSERT', 'cognee_user', NULL,
         $p$source = 'cognee' AND cognee_dataset_id IS NOT NULL AND project_id IS NULL
                AND ((SELECT unified.visible_datasets()) IS NULL
                OR cognee_dataset_id = ANY ((SELECT unified.visible_datasets())::uuid[]))$p$),
        ('cognee_update', 'UPDATE', 'cognee_user',
         $p$source = 'cognee' AND cognee_dataset_id IS NOT NULL
           AND ((SELECT unified.visible_datasets()) IS NULL
                OR cognee_dataset_id = ANY ((SELECT unified.visible_datasets())::uuid[]))$p$,
         $p$source = 'cognee' AND cognee_dataset_id IS NOT NULL
                AND ((SELECT unified.visible_datasets()) IS NULL
                OR cognee_dataset_id = ANY ((SELECT unified.visible_datasets())::uuid[]))$p$),
        ('cognee_delete', 'DELETE', 'cognee_user',
         $p$source = 'cognee' AND cognee_dataset_id IS NOT NULL
           AND ((SELECT unified.visible_datasets()) IS NULL
                OR cognee_dataset_id = ANY ((SELECT unified.visible_datasets())::uuid[]))$p$, NULL),
        -- unified_admin: everything, including shared rows.
        ('admin_all', 'ALL', 'unified_admin', 'true', 'true')
      ) AS p(policy, command, role, using_expr, check_expr)
$fn$;

COMMENT ON FUNCTION unified.chunk_policies() IS
    'The row-level security policies of unified.chunks, as data (applied by apply_chunk_policies)';

-- Create the policies of chunk_policies() on rel; returns how many.
-- Internal: run by the install script and by enable_vector_index.
CREATE FUNCTION unified.apply_chunk_policies(rel regclass)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, unified, pg_temp
AS $fn$
DECLARE
    p       record;
    n       integer := 0;
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'rel must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR p IN SELECT * FROM unified.chunk_policies() LOOP
        EXECUTE format('CREATE POLICY %I ON %s AS PERMISSIVE FOR %s TO %I%s%s',
                       p.policy, rel, p.command, p.role,
                       CASE WHEN p.using_expr IS NOT NULL THEN format(' USING (%s)', p.using_expr) ELSE '' END,
                       CASE WHEN p.check_expr IS NOT NULL THEN format(' WITH CHECK (%s)', p.check_expr) ELSE '' END);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$fn$;

REVOKE ALL ON FUNCTION unified.chunk_policies(), unified.apply_chunk_policies(regclass) FROM PUBLIC;

SELECT unified.apply_chunk_policies('unified.chunks');

-- ---------------------------------------------------------------------------
-- Privileges.  Nothing in schema unified is granted to PUBLIC except
-- unified.content_hash and unified.embedding_sketch (a generated column and
-- an index expression call them as the inserting role).  Partitions, unified.chunk_keys and the grant tables get no grants
-- at all: only the owner (and the SECURITY DEFINER functions) use them.
-- ---------------------------------------------------------------------------
REVOKE ALL ON TABLE unified.chunks, unified.chunk_keys, unified.project_grants,
    unified.dataset_grants, unified.tenant_grants FROM PUBLIC;

GRANT SELECT, DELETE ON TABLE unified.chunks TO claude_user, cognee_user;
GRANT INSERT (source, source_collection, source_id, project_id, content,
              relative_path, start_line, end_line, file_extension, chunk_index,
              embedding, embedding_model, metadata, created_at, updated_at)
    ON TABLE unified.chunks TO claude_user;
GRANT UPDATE (project_id, content, relative_path, start_line, end_line, file_extension,
              chunk_index, embedding, embedding_model, metadata, updated_at)
    ON TABLE unified.chunks TO claude_user;
GRANT INSERT (source, source_collection, source_id, cognee_dataset_id, content,
              relative_path, start_line, end_line, file_extension, chunk_index,
              embedding, embedding_model, metadata, created_at, updated_at)
    ON TABLE unified.chunks TO cognee_user;
GRANT UPDATE (cognee_dataset_id, content, relative_path, start_line, end_line, file_extension,
              chunk_index, embedding, embedding_model, metadata, updated_at)
    ON TABLE unified.chunks TO cognee_user;

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLE unified.chunks TO unified_admin;
GRANT SELECT ON TABLE unified.project_grants, unified.dataset_grants, unified.tenant_grants
    TO unified_admin;

-- Policy helpers run as the querying role, so the groups need EXECUTE.
REVOKE ALL ON FUNCTION unified.caller_roles(), unified.visible_projects(),
    unified.visible_datasets() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unified.caller_roles(), unified.visible_projects(),
    unified.visible_datasets() TO claude_user, cognee_user, unified_admin;

-- Administration of tenant grants: unified_admin only.
REVOKE ALL ON FUNCTION unified.grant_project(regrole, text), unified.grant_dataset(regrole, uuid),
    unified.revoke_project(regrole, text), unified.revoke_dataset(regrole, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unified.grant_project(regrole, text), unified.grant_dataset(regrole, uuid),
    unified.revoke_project(regrole, text), unified.revoke_dataset(regrole, uuid) TO unified_admin;

-- Internal helpers: called only by the functions above (as their owner).
REVOKE ALL ON FUNCTION unified.tenant_role_token(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION unified.tenant_role_check(regrole), unified.tenant_project_check(text),
    unified.tenant_last_grant_warning(oid), unified.chunks_refuse_sharing_change() FROM PUBLIC;
