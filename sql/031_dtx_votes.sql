-- Distributed transactions under attack: votes bound to roles, what voted
-- recorded with the decision, one gid rule everywhere, DROP EXTENSION
-- refused while unfinished, no metadata leaks, begin_distributed never
-- part of a prepared transaction.  in_doubt_timeout is 1h on this server.
\set SHOW_CONTEXT never
SET client_min_messages = notice;

-- Park the background resolver (a half-hour nap) so that the gids below stay
-- as prepared until this test runs a pass itself; restored at the end.
ALTER SYSTEM SET unified_pg.resolver_naptime = '30min';
SELECT pg_reload_conf();
DO $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXIT WHEN (SELECT naptime_ms FROM unified.worker_status() WHERE worker = 'resolver') = 1800000;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT naptime_ms AS resolver_parked_ms FROM unified.worker_status() WHERE worker = 'resolver';

CREATE TABLE dtx_v (tx text, who text);
GRANT ALL ON dtx_v TO PUBLIC;

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

SET client_min_messages = warning;
DROP ROLE IF EXISTS v_claude, v_cognee, v_nobody, v_t1, v_t2, v_admin;
RESET client_min_messages;
CREATE ROLE v_claude IN ROLE claude_user;
CREATE ROLE v_cognee IN ROLE cognee_user;
CREATE ROLE v_nobody;
CREATE ROLE v_t1 IN ROLE claude_user;
CREATE ROLE v_t2 IN ROLE claude_user;
CREATE ROLE v_admin IN ROLE unified_admin;
-- two tenants of Claude-Context, each scoped to its own project
SELECT unified.grant_project('v_t1', 'proj-1') IS NOT NULL AS t1_scoped,
       unified.grant_project('v_t2', 'proj-2') IS NOT NULL AS t2_scoped;

-- ---- squatting by a role in no group -----------------------------------
SET ROLE v_claude;
SELECT unified.begin_distributed('sq-1', ARRAY['claude', 'cognee']);
BEGIN;
INSERT INTO dtx_v VALUES ('sq-1', 'claude');
PREPARE TRANSACTION 'unified:sq-1:claude';
-- the attacker reads the gid from pg_prepared_xacts and prepares the other one first
SET ROLE v_nobody;
BEGIN;
INSERT INTO dtx_v VALUES ('sq-1', 'attacker');
PREPARE TRANSACTION 'unified:sq-1:cognee';
-- the real participant then finds its gid taken
SET ROLE v_cognee;
BEGIN;
INSERT INTO dtx_v VALUES ('sq-1', 'cognee');
PREPARE TRANSACTION 'unified:sq-1:cognee';
RESET ROLE;
SELECT gid, owner, decision, bound_role, planned_action, reason
  FROM unified.in_doubt WHERE tx_id = 'sq-1' ORDER BY gid;
-- the vote does not count: everything is aborted and the participant named
SET ROLE v_claude;
CALL unified.commit_distributed('sq-1');
\echo :SQLSTATE
RESET ROLE;
SELECT state, error FROM unified.transaction_log WHERE tx_id = 'sq-1';
SELECT count(*) AS rows_of_sq1 FROM dtx_v WHERE tx = 'sq-1';
SELECT count(*) AS still_prepared FROM pg_prepared_xacts WHERE gid LIKE 'unified:sq-1:%';

-- A squatter of an undecided transaction is rolled back at the next pass,
-- so the real participant can prepare.
SET ROLE v_claude;
SELECT unified.begin_distributed('sq-1b', ARRAY['claude']);
SET ROLE v_nobody;
BEGIN;
INSERT INTO dtx_v VALUES ('sq-1b', 'attacker');
PREPARE TRANSACTION 'unified:sq-1b:claude';
RESET ROLE;
CALL unified.resolve_in_doubt();
SET ROLE v_claude;
BEGIN;
INSERT INTO dtx_v VALUES ('sq-1b', 'claude');
PREPARE TRANSACTION 'unified:sq-1b:claude';
CALL unified.commit_distributed('sq-1b');
RESET ROLE;
SELECT who FROM dtx_v WHERE tx = 'sq-1b' ORDER BY who;

-- ---- squatting by a scoped tenant of the same application ---------------
SET ROLE v_t1;
SELECT unified.begin_distributed('sq-2', ARRAY['claude', 'cognee']);
SET ROLE v_t2;
BEGIN;
INSERT INTO dtx_v VALUES ('sq-2', 'tenant 2');
PREPARE TRANSACTION 'unified:sq-2:claude';
SET ROLE v_cognee;
BEGIN;
INSERT INTO dtx_v VALUES ('sq-2', 'cognee');
PREPARE TRANSACTION 'unified:sq-2:cognee';
RESET ROLE;
SELECT gid, owner, planned_action, reason FROM unified.in_doubt WHERE tx_id = 'sq-2' ORDER BY gid;
SET ROLE v_t1;
CALL unified.commit_distributed('sq-2');
\echo :SQLSTATE
RESET ROLE;
SELECT count(*) AS rows_of_sq2, (SELECT state FROM unified.transaction_log WHERE tx_id = 'sq-2')
  FROM dtx_v WHERE tx = 'sq-2';
-- the tenant that began it votes for itself
SET ROLE v_t1;
SELECT unified.begin_distributed('sq-3', ARRAY['claude', 'cognee']);
BEGIN;
INSERT INTO dtx_v VALUES ('sq-3', 'tenant 1');
PREPARE TRANSACTION 'unified:sq-3:claude';
SET ROLE v_cognee;
BEGIN;
INSERT INTO dtx_v VALUES ('sq-3', 'cognee');
PREPARE TRANSACTION 'unified:sq-3:cognee';
SET ROLE v_t1;
CALL unified.commit_distributed('sq-3');
RESET ROLE;
SELECT who FROM dtx_v WHERE tx = 'sq-3' ORDER BY who;

-- ---- participants are finished only by the protocol -----------------------
SET ROLE v_claude;
SELECT unified.begin_distributed('own-1', ARRAY['claude', 'cognee']);
BEGIN;
INSERT INTO dtx_v VALUES ('own-1', 'claude');
PREPARE TRANSACTION 'unified:own-1:claude';
COMMIT PREPARED 'unified:own-1:claude';
\echo :SQLSTATE
ROLLBACK PREPARED 'unified:own-1:claude';
\echo :SQLSTATE
-- its own gids without the prefix are its own business
BEGIN;
PREPARE TRANSACTION 'own-plain';
ROLLBACK PREPARED 'own-plain';
CALL unified.abort_distributed('own-1');
RESET ROLE;
SELECT count(*) AS rows_of_own1, (SELECT state FROM unified.transaction_log WHERE tx_id = 'own-1')
  FROM dtx_v WHERE tx = 'own-1';

-- ---- explicit participant_roles -------------------------------------------
SET ROLE v_claude;
SELECT unified.begin_distributed('pr-1', ARRAY['a', 'b'], ARRAY['v_claude', 'v_cognee']::regrole[]);
RESET ROLE;
SELECT participants, participant_roles FROM unified.transaction_log WHERE tx_id = 'pr-1';
-- without the argument, unified_pg.participant_roles binds; unnamed participants bind to the beginner
SET ROLE v_claude;
SELECT unified.begin_distributed('pr-2', ARRAY['claude', 'cognee', 'unified', 'other']);
RESET ROLE;
SELECT participants, participant_roles FROM unified.transaction_log WHERE tx_id = 'pr-2';
SELECT pg_temp.try(q) AS result
  FROM unnest(ARRAY[
    $$SELECT unified.begin_distributed('pr-x', ARRAY['a', 'b'], ARRAY['v_claude']::regrole[])$$,
    $$SELECT unified.begin_distributed('pr-x', ARRAY['a'], ARRAY[NULL]::regrole[])$$,
    $$SELECT unified.begin_distributed('pr-x', ARRAY['a'], ARRAY[4000000000::oid::regrole])$$,
    $$SELECT unified.begin_distributed('pr-x', ARRAY['a'], ARRAY[['v_claude']]::regrole[])$$,
    $$SELECT unified.begin_distributed('pr-x', ARRAY['a'], ARRAY['no_such_role']::regrole[])$$
  ]) AS q;
SELECT count(*) AS logged_pr_x FROM unified.transaction_log WHERE tx_id = 'pr-x';
-- a malformed mapping is refused wherever it is set
ALTER SYSTEM SET unified_pg.participant_roles = 'claude';
ALTER SYSTEM SET unified_pg.participant_roles = 'claude:claude_user,claude:cognee_user';
ALTER SYSTEM SET unified_pg.participant_roles = 'cla.ude:claude_user';
ALTER SYSTEM SET unified_pg.participant_roles = 'claude:';
CALL unified.abort_distributed('pr-1');
CALL unified.abort_distributed('pr-2');

-- ---- a gid prepared again after the commit is a foreign vote -----------
SET ROLE v_claude;
SELECT unified.begin_distributed('rp-1', ARRAY['claude']);
BEGIN;
INSERT INTO dtx_v VALUES ('rp-1', 'claude');
PREPARE TRANSACTION 'unified:rp-1:claude';
CALL unified.commit_distributed('rp-1');
-- a client retry prepares the same gid again, and so does an attacker's
BEGIN;
INSERT INTO dtx_v VALUES ('rp-1', 'retry');
PREPARE TRANSACTION 'unified:rp-1:claude';
RESET ROLE;
SELECT gid, decision, planned_action, reason FROM unified.in_doubt WHERE tx_id = 'rp-1';
CALL unified.resolve_in_doubt();
SELECT who FROM dtx_v WHERE tx = 'rp-1' ORDER BY who;
SELECT count(*) AS still_prepared FROM pg_prepared_xacts WHERE gid LIKE 'unified:rp-1:%';
-- the same after a decision whose completion is not recorded yet
SELECT unified.begin_distributed('rp-2', ARRAY['claude']);
BEGIN;
INSERT INTO dtx_v VALUES ('rp-2', 'claude');
PREPARE TRANSACTION 'unified:rp-2:claude';
CALL unified.commit_distributed('rp-2');
UPDATE unified.transaction_log SET state = 'committing' WHERE tx_id = 'rp-2';
SET ROLE v_nobody;
BEGIN;
INSERT INTO dtx_v VALUES ('rp-2', 'attacker');
PREPARE TRANSACTION 'unified:rp-2:claude';
RESET ROLE;
CALL unified.resolve_in_doubt();
SELECT who FROM dtx_v WHERE tx = 'rp-2' ORDER BY who;
SELECT state, finished_by FROM unified.transaction_log WHERE tx_id = 'rp-2';

-- ---- malformed gids: one rule in the view, the resolver and the coordinator ----
SELECT unified.begin_distributed('x1', ARRAY['claude']);
BEGIN;
INSERT INTO dtx_v VALUES ('x1', 'claude');
PREPARE TRANSACTION 'unified:x1:claude';
BEGIN;
INSERT INTO dtx_v VALUES ('x1', 'extra');
PREPARE TRANSACTION 'unified:x1:claude:extra';
BEGIN;
PREPARE TRANSACTION 'unified::a';
BEGIN;
PREPARE TRANSACTION 'unified:x1:';
BEGIN;
PREPARE TRANSACTION 'unified:x 1:claude';
SELECT gid, tx_id, participant, planned_action, reason FROM unified.in_doubt ORDER BY gid;
-- the coordinator commits its participant and leaves gids of no transaction to the resolver
CALL unified.commit_distributed('x1');
SELECT gid FROM pg_prepared_xacts ORDER BY gid;
CALL unified.resolve_in_doubt();
SELECT count(*) AS still_prepared FROM pg_prepared_xacts;
SELECT who FROM dtx_v WHERE tx = 'x1' ORDER BY who;

-- ---- one error for "does not exist" and "not yours" ---------------------
SET ROLE v_claude;
SELECT unified.begin_distributed('leak-1', ARRAY['claude']);
SET ROLE v_cognee;
CALL unified.commit_distributed('leak-1');
\echo :SQLSTATE
CALL unified.commit_distributed('leak-2');
\echo :SQLSTATE
CALL unified.abort_distributed('leak-1');
\echo :SQLSTATE
CALL unified.abort_distributed('leak-2');
\echo :SQLSTATE
RESET ROLE;
SELECT state FROM unified.transaction_log WHERE tx_id = 'leak-1';
CALL unified.abort_distributed('leak-1');

-- ---- transaction_status ---------------------------------------------------
-- the beginner, a role bound to a participant, unified_admin: one row
SET ROLE v_claude;
SELECT tx_id, state, participants, error FROM unified.transaction_status('sq-1');
SET ROLE v_cognee;
SELECT tx_id, state FROM unified.transaction_status('sq-1');
SET ROLE v_admin;
SELECT tx_id, state FROM unified.transaction_status('sq-1');
-- anyone else: no row, exactly as for an unknown id
SET ROLE v_cognee;
SELECT count(*) AS rows_existing FROM unified.transaction_status('rp-1');
SELECT count(*) AS rows_unknown FROM unified.transaction_status('no-such-tx');
SET ROLE v_nobody;
SELECT pg_temp.try($$SELECT * FROM unified.transaction_status('sq-1')$$) AS existing;
SELECT pg_temp.try($$SELECT * FROM unified.transaction_status('no-such-tx')$$) AS unknown;
SET ROLE v_t2;
SELECT count(*) AS rows_other_tenant FROM unified.transaction_status('sq-3');
SET ROLE v_t1;
SELECT tx_id, state FROM unified.transaction_status('sq-3');
RESET ROLE;
SELECT pg_temp.try($$SELECT * FROM unified.transaction_status(NULL)$$);
SELECT pg_temp.try($$SELECT * FROM unified.transaction_status('a;b')$$);

-- ---- begin_distributed is never part of a prepared transaction ------------
BEGIN;
SELECT unified.begin_distributed('bp-1', ARRAY['claude']);
PREPARE TRANSACTION 'holds-a-begin';
SELECT count(*) AS logged_bp1 FROM unified.transaction_log WHERE tx_id = 'bp-1';
SELECT count(*) AS prepared FROM pg_prepared_xacts WHERE gid = 'holds-a-begin';

-- ---- DROP EXTENSION refused while a transaction is unfinished -----------
SELECT unified.begin_distributed('dx-1', ARRAY['claude']);
BEGIN;
INSERT INTO dtx_v VALUES ('dx-1', 'claude');
PREPARE TRANSACTION 'unified:dx-1:claude';
BEGIN;
DROP EXTENSION unified_pg CASCADE;
ROLLBACK;
CALL unified.abort_distributed('dx-1');
-- a decision not carried out blocks it too, even with nothing prepared
SELECT unified.begin_distributed('dx-2', ARRAY['claude']);
UPDATE unified.transaction_log SET state = 'committing' WHERE tx_id = 'dx-2';
BEGIN;
DROP EXTENSION unified_pg CASCADE;
ROLLBACK;
CALL unified.resolve_in_doubt();
SELECT state FROM unified.transaction_log WHERE tx_id = 'dx-2';
SELECT extname FROM pg_extension WHERE extname = 'unified_pg';

-- ---- the README's examples ------------------------------------------------
SELECT unified.begin_distributed('tx-42', ARRAY['claude', 'cognee']);
BEGIN; INSERT INTO dtx_v VALUES ('tx-42', 'claude'); PREPARE TRANSACTION 'unified:tx-42:claude';
BEGIN; INSERT INTO dtx_v VALUES ('tx-42', 'cognee'); PREPARE TRANSACTION 'unified:tx-42:cognee';
CALL unified.commit_distributed('tx-42');
SELECT state, decided_at IS NOT NULL AS decided, finished_at IS NOT NULL AS finished, error
  FROM unified.transaction_status('tx-42');
SELECT unified.begin_distributed('tx-43', ARRAY['claude', 'cognee'], ARRAY['claude_user', 'cognee_user']::regrole[]);
CALL unified.abort_distributed('tx-43');

DROP TABLE dtx_v;
SELECT unified.revoke_project('v_t1', 'proj-1') IS NOT NULL AND
       unified.revoke_project('v_t2', 'proj-2') IS NOT NULL AS revoked;
DROP ROLE v_claude, v_cognee, v_nobody, v_t1, v_t2, v_admin;

ALTER SYSTEM RESET unified_pg.resolver_naptime;
SELECT pg_reload_conf();
