-- unified_pg install script, generated from sql/install/*.sql by the Makefile.
\echo Use "CREATE EXTENSION unified_pg" to load this file. \quit

-- The schema is created here, not named in the control file, so that it is
-- a member of the extension and DROP EXTENSION removes it.  An existing
-- schema "unified" makes CREATE EXTENSION fail rather than adopt it.
CREATE SCHEMA unified;
COMMENT ON SCHEMA unified IS 'unified_pg: shared storage and coordination for Claude-Context and Cognee';

-- ---------------------------------------------------------------------------
-- Group roles (DESIGN section 3).
--
-- Roles are cluster-wide and outlive the extension: they are created only
-- when missing, always NOLOGIN and without a password.  Operators create
-- login roles and GRANT these groups to them.  A role that already exists
-- is left as the operator configured it, with a warning if it can log in.
-- ---------------------------------------------------------------------------
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['claude_user', 'cognee_user', 'unified_admin'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        ELSIF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r AND rolcanlogin) THEN
            RAISE WARNING 'role "%" already exists and can log in', r
                USING HINT = 'unified_pg expects it to be a NOLOGIN group role; grant it to login roles instead.';
        END IF;
    END LOOP;
END
$roles$;

GRANT USAGE ON SCHEMA unified TO claude_user, cognee_user, unified_admin;
