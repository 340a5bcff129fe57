-- The errors applications really get from unified.chunks, with their
-- SQLSTATE and the hint the extension adds (src/error_hints.c); the
-- README's troubleshooting table lists the same cases.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE ROLE rg130_claude IN ROLE claude_user;
CREATE ROLE rg130_cognee IN ROLE cognee_user;
CREATE ROLE rg130_tenant IN ROLE claude_user;
CREATE ROLE rg130_nobody;
SELECT unified.grant_project('rg130_tenant', 'rg130-a');
INSERT INTO unified.chunks (source, source_id, project_id, content)
VALUES ('claude_context', 'rg130-1', 'rg130-a', 'a');
RESET client_min_messages;

SET ROLE rg130_claude;
-- a row with neither owner column: row-level security refuses it first
INSERT INTO unified.chunks (source, source_id, content) VALUES ('claude_context', 'rg130-2', 'x');
\echo :LAST_ERROR_SQLSTATE
-- Cognee's column from a Claude-Context role: a column privilege
INSERT INTO unified.chunks (source, source_id, project_id, cognee_dataset_id, content)
VALUES ('claude_context', 'rg130-3', 'rg130-a', '00000000-0000-0000-0000-000000000130', 'x');
\echo :LAST_ERROR_SQLSTATE
UPDATE unified.chunks SET cognee_dataset_id = '00000000-0000-0000-0000-000000000130' WHERE source_id = 'rg130-1';
\echo :LAST_ERROR_SQLSTATE
-- a stored row's key
UPDATE unified.chunks SET source_id = 'rg130-9' WHERE source_id = 'rg130-1';
\echo :LAST_ERROR_SQLSTATE
-- a row of the other application
INSERT INTO unified.chunks (source, source_id, cognee_dataset_id, content)
VALUES ('cognee', 'rg130-4', '00000000-0000-0000-0000-000000000130', 'x');
\echo :LAST_ERROR_SQLSTATE
-- a partition directly
SELECT count(*) FROM unified.chunks_default;
\echo :LAST_ERROR_SQLSTATE
-- the same source row twice
INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('claude_context', 'rg130-1', 'rg130-a', 'again');
\echo :LAST_ERROR_SQLSTATE
-- an administrative function
SELECT count(*) FROM unified.health_check();
\echo :LAST_ERROR_SQLSTATE
-- row_security = off does not widen what a role sees: it makes the query fail
SET row_security = off;
SELECT count(*) FROM unified.chunks;
\echo :LAST_ERROR_SQLSTATE
RESET row_security;
RESET ROLE;

-- a tenant-scoped role writing a project it was not granted
SET ROLE rg130_tenant;
INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('claude_context', 'rg130-5', 'rg130-b', 'x');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- Cognee's side: Claude-Context's column
SET ROLE rg130_cognee;
INSERT INTO unified.chunks (source, source_id, project_id, cognee_dataset_id, content)
VALUES ('cognee', 'rg130-6', 'rg130-a', '00000000-0000-0000-0000-000000000130', 'x');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- a role in no group: no access at all
SET ROLE rg130_nobody;
SELECT count(*) FROM unified.chunks;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- another table whose name only resembles a partition gets no hint
CREATE TABLE public.chunks_backup (a int);
SET ROLE rg130_nobody;
SELECT count(*) FROM public.chunks_backup;
RESET ROLE;
DROP TABLE public.chunks_backup;

SET client_min_messages = warning;
DELETE FROM unified.chunks WHERE source_id LIKE 'rg130-%';
SELECT unified.revoke_project('rg130_tenant', 'rg130-a');
DROP ROLE rg130_claude, rg130_cognee, rg130_tenant, rg130_nobody;
