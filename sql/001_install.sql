-- Installing, dropping and re-installing the extension.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS unified_pg CASCADE;
RESET client_min_messages;

-- Roles may already exist (from an earlier install): creating must still work.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cognee_user') THEN
        CREATE ROLE cognee_user NOLOGIN;
    END IF;
END
$$;

CREATE EXTENSION unified_pg;

-- The group roles exist, cannot log in, and have no password.
SELECT rolname, rolcanlogin, rolpassword IS NULL AS no_password
  FROM pg_authid
 WHERE rolname IN ('claude_user', 'cognee_user', 'unified_admin')
 ORDER BY rolname;

-- Schema and core tables.
SELECT c.relname, c.relkind
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'unified' AND c.relkind IN ('r', 'p') AND c.relname !~ '^chunks_[0-9]'
 ORDER BY c.relname;

-- unified.chunks is range-partitioned on created_at.
SELECT partstrat, pg_get_partkeydef('unified.chunks'::regclass) AS partkey
  FROM pg_partitioned_table WHERE partrelid = 'unified.chunks'::regclass;

-- The current month and the next three have partitions, plus the default.
SELECT count(*) FILTER (WHERE pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT') AS default_partitions,
       count(*) FILTER (WHERE c.relname IN (
           SELECT 'chunks_' || to_char(CURRENT_DATE + make_interval(months => m), 'YYYY_MM')
             FROM generate_series(0, 3) AS m)) AS monthly_partitions_ahead
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'unified.chunks'::regclass;

-- Partition bounds are UTC months, whatever the session time zone.
SET TimeZone = 'Pacific/Auckland';
SELECT unified.create_monthly_partition('2031-07-15') AS created;
SELECT unified.create_monthly_partition('2031-07-01') AS again_is_idempotent;
RESET TimeZone;
SET TimeZone = 'UTC';
SELECT pg_get_expr(relpartbound, oid) AS bound FROM pg_class WHERE oid = 'unified.chunks_2031_07'::regclass;
RESET TimeZone;

-- Indexes the applications' queries use exist on the parent.
SELECT indexrelid::regclass AS index, pg_get_indexdef(indexrelid) ~ 'WHERE' AS partial
  FROM pg_index WHERE indrelid = 'unified.chunks'::regclass ORDER BY indexrelid::regclass::text;

-- Extension membership: DROP EXTENSION removes everything but the roles.
DROP EXTENSION unified_pg;
SELECT count(*) AS unified_schemas FROM pg_namespace WHERE nspname = 'unified';
SELECT count(*) AS roles_kept FROM pg_roles
 WHERE rolname IN ('claude_user', 'cognee_user', 'unified_admin');

-- ...and it can be created again while the roles exist.  A leftover
-- schema of the same name is not adopted.
CREATE SCHEMA unified;
CREATE EXTENSION unified_pg;
DROP SCHEMA unified;
CREATE EXTENSION unified_pg;
SELECT extversion FROM pg_extension WHERE extname = 'unified_pg';

-- Bad arguments to create_monthly_partition.
SELECT unified.create_monthly_partition(NULL);
SELECT unified.create_monthly_partition('0900-01-01');
SELECT unified.create_monthly_partition('infinity');

-- The settings are all there, with the documented defaults.
SELECT name, setting, unit, context FROM pg_settings
 WHERE name LIKE 'unified_pg.%' ORDER BY name;

-- The prefix is reserved: a misspelled setting is refused.
SET unified_pg.no_such_setting = 1;

-- unified_pg.pools is a reload setting: SET is refused, ALTER SYSTEM
-- validates the value with the same parser the server uses on reload.
SET unified_pg.pools = 'a:1';
ALTER SYSTEM SET unified_pg.pools = 'a:1, b:2';
ALTER SYSTEM SET unified_pg.pools = 'a:1,a:2';
ALTER SYSTEM SET unified_pg.pools = 'a';
ALTER SYSTEM SET unified_pg.pools = 'a:0';
ALTER SYSTEM SET unified_pg.pools = 'a:99999999999';
ALTER SYSTEM SET unified_pg.pools = 'a:1;DROP TABLE x';
ALTER SYSTEM SET unified_pg.pools = 'a:1,other:5';
ALTER SYSTEM SET unified_pg.pools = 'other:5,a:1,other:6';
ALTER SYSTEM SET unified_pg.pools = 'a:1,';
ALTER SYSTEM SET unified_pg.pools = '';
ALTER SYSTEM RESET unified_pg.pools;
