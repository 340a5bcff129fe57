-- Distributed transactions: the API, the views and every validation error.
-- The server runs with unified_pg.in_doubt_timeout = 1h, so the background
-- resolver leaves undecided participants alone and the test decides when
-- they time out (resolve_in_doubt(in_doubt_timeout => '0s')).
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

CREATE TABLE dtx_t (tx text, who text);
GRANT ALL ON dtx_t TO PUBLIC;

-- try(sql): run a statement and report ok or SQLSTATE: message.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- A login-less role per kind of caller.
SET client_min_messages = warning;
DROP ROLE IF EXISTS dtx_claude, dtx_cognee, dtx_admin, dtx_nobody;
RESET client_min_messages;
CREATE ROLE dtx_claude IN ROLE claude_user;
CREATE ROLE dtx_cognee IN ROLE cognee_user;
CREATE ROLE dtx_admin IN ROLE unified_admin;
CREATE ROLE dtx_nobody;

-- ---- participant_gid ----------------------------------------------------
SELECT unified.participant_gid('tx-42', 'claude');
SELECT unified.participant_gid('a.b_c-1', 'Z_9-x');
SELECT pg_temp.try($$SELECT unified.participant_gid('tx', 'a.b')$$);
SELECT pg_temp.try($$SELECT unified.participant_gid('tx', 'a:b')$$);
SELECT pg_temp.try($$SELECT unified.participant_gid(NULL, 'a')$$);
SELECT pg_temp.try($$SELECT unified.participant_gid('tx', NULL)$$);
SELECT pg_temp.try($$SELECT unified.participant_gid('tx', '')$$);
SELECT pg_temp.try(format('SELECT unified.participant_gid(%L, %L)', repeat('t', 128), repeat('p', 63)));
SELECT length(unified.participant_gid(repeat('t', 127), repeat('p', 63))) AS longest_gid;

-- ---- begin_distributed: bad input, each refused and nothing logged -----
SELECT pg_temp.try(q) AS result
  FROM unnest(ARRAY[
    $$SELECT unified.begin_distributed('it''s', ARRAY['a'])$$,
    $$SELECT unified.begin_distributed('a;DROP TABLE dtx_t', ARRAY['a'])$$,
    $$SELECT unified.begin_distributed('100%', ARRAY['a'])$$,
    $$SELECT unified.begin_distributed('tëst', ARRAY['a'])$$,
    $$SELECT unified.begin_distributed(' tx', ARRAY['a'])$$,
    $$SELECT unified.begin_distributed('tx:1', ARRAY['a'])$$,
    $$SELECT unified.begin_distributed('', ARRAY['a'])$$,
    $$SELECT unified.begin_distributed(NULL, ARRAY['a'])$$,
    $$SELECT unified.begin_distributed(repeat('x', 129), ARRAY['a'])$$,
    $$SELECT unified.begin_distributed(repeat('x', 128), ARRAY[repeat('p', 63)])$$,
    $$SELECT unified.begin_distributed('tx', ARRAY[]::text[])$$,
    $$SELECT unified.begin_distributed('tx', NULL)$$,
    $$SELECT unified.begin_distributed('tx', ARRAY['a', NULL])$$,
    $$SELECT unified.begin_distributed('tx', ARRAY['a', 'b', 'a'])$$,
    $$SELECT unified.begin_distributed('tx', ARRAY[['a'], ['b']])$$,
    $$SELECT unified.begin_distributed('tx', ARRAY['a''b'])$$,
    $$SELECT unified.begin_distributed('tx', ARRAY['a;b'])$$,
    $$SELECT unified.begin_distributed('tx', ARRAY['ä'])$$,
    $$SELECT unified.begin_distributed('tx', ARRAY['a.b'])$$,
    $$SELECT unified.begin_distributed('tx', ARRAY[repeat('p', 64)])$$,
    $$SELECT unified.begin_distributed('tx', (SELECT array_agg('p' || i) FROM generate_series(1, 65) i))$$
  ]) AS q;
SELECT count(*) AS logged_after_bad_input FROM unified.transaction_log;

-- 64 participants is the limit, and a duplicate tx id is refused.
SELECT unified.begin_distributed('many', (SELECT array_agg('p' || i) FROM generate_series(1, 64) i));
SELECT pg_temp.try($$SELECT unified.begin_distributed('many', ARRAY['a'])$$);
SELECT tx_id, cardinality(participants), state FROM unified.transaction_log;
CALL unified.abort_distributed('many');

-- ---- commit: two participants ---------------------------------------
SELECT unified.begin_distributed('tx-1', ARRAY['claude', 'cognee']) AS tx;
SELECT tx_id, participants, state, began_by, database, decided_at IS NULL AS undecided
  FROM unified.transaction_log WHERE tx_id = 'tx-1';
BEGIN;
INSERT INTO dtx_t VALUES ('tx-1', 'claude');
PREPARE TRANSACTION 'unified:tx-1:claude';
BEGIN;
INSERT INTO dtx_t VALUES ('tx-1', 'cognee');
PREPARE TRANSACTION 'unified:tx-1:cognee';
SELECT gid, tx_id, participant, database, owner, age >= '0s' AS has_age, decision, planned_action, reason
  FROM unified.in_doubt ORDER BY gid;
SELECT count(*) AS visible_before FROM dtx_t WHERE tx = 'tx-1';
CALL unified.commit_distributed('tx-1');
SELECT who FROM dtx_t WHERE tx = 'tx-1' ORDER BY who;
SELECT state, finished_by, decided_at <= finished_at AS ordered, error
  FROM unified.transaction_log WHERE tx_id = 'tx-1';
SELECT count(*) AS still_prepared FROM pg_prepared_xacts;

-- commit twice, abort after commit: refused, nothing changes
CALL unified.commit_distributed('tx-1');
\echo :SQLSTATE
CALL unified.abort_distributed('tx-1');
\echo :SQLSTATE
SELECT state FROM unified.transaction_log WHERE tx_id = 'tx-1';

-- unknown transaction
CALL unified.commit_distributed('no-such-tx');
\echo :SQLSTATE
CALL unified.abort_distributed('no-such-tx');
\echo :SQLSTATE
CALL unified.commit_distributed('bad;tx');
\echo :SQLSTATE

-- not inside a transaction block, not from a function
SELECT unified.begin_distributed('tx-blk', ARRAY['a']);
BEGIN;
CALL unified.commit_distributed('tx-blk');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
CALL unified.abort_distributed('tx-blk');
\echo :SQLSTATE
ROLLBACK;
CREATE FUNCTION pg_temp.commit_from_function(tx text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    CALL unified.commit_distributed(tx);
END
$$;
SELECT pg_temp.commit_from_function('tx-blk');
\echo :SQLSTATE
SELECT state FROM unified.transaction_log WHERE tx_id = 'tx-blk';

-- ---- a participant that did not prepare aborts the whole transaction ----
SELECT unified.begin_distributed('tx-2', ARRAY['claude', 'cognee']);
BEGIN;
INSERT INTO dtx_t VALUES ('tx-2', 'claude');
PREPARE TRANSACTION 'unified:tx-2:claude';
CALL unified.commit_distributed('tx-2');
\echo :SQLSTATE
SELECT count(*) AS rows_of_tx2 FROM dtx_t WHERE tx = 'tx-2';
SELECT state, finished_by, error FROM unified.transaction_log WHERE tx_id = 'tx-2';
SELECT count(*) AS still_prepared FROM pg_prepared_xacts;
-- the late participant prepares anyway: the decision is abort
BEGIN;
INSERT INTO dtx_t VALUES ('tx-2', 'cognee');
PREPARE TRANSACTION 'unified:tx-2:cognee';
CALL unified.commit_distributed('tx-2');
\echo :SQLSTATE
CALL unified.resolve_in_doubt();
SELECT count(*) AS still_prepared FROM pg_prepared_xacts;
SELECT count(*) AS rows_of_tx2 FROM dtx_t WHERE tx = 'tx-2';

-- ---- abort ---------------------------------------------------------------
SELECT unified.begin_distributed('tx-3', ARRAY['claude', 'cognee']);
BEGIN;
INSERT INTO dtx_t VALUES ('tx-3', 'claude');
PREPARE TRANSACTION 'unified:tx-3:claude';
BEGIN;
INSERT INTO dtx_t VALUES ('tx-3', 'cognee');
PREPARE TRANSACTION 'unified:tx-3:cognee';
CALL unified.abort_distributed('tx-3');
SELECT state, finished_by, error FROM unified.transaction_log WHERE tx_id = 'tx-3';
SELECT count(*) AS rows_of_tx3, (SELECT count(*) FROM pg_prepared_xacts) AS still_prepared
  FROM dtx_t WHERE tx = 'tx-3';
CALL unified.abort_distributed('tx-3');
CALL unified.commit_distributed('tx-3');
\echo :SQLSTATE

-- ---- rights --------------------------------------------------------------
-- claude begins; the participants are prepared by two different roles.
SET ROLE dtx_claude;
SELECT unified.begin_distributed('tx-4', ARRAY['claude', 'cognee']);
SELECT unified.participant_gid('tx-4', 'claude');
BEGIN;
INSERT INTO dtx_t VALUES ('tx-4', 'claude');
PREPARE TRANSACTION 'unified:tx-4:claude';
SET ROLE dtx_cognee;
BEGIN;
INSERT INTO dtx_t VALUES ('tx-4', 'cognee');
PREPARE TRANSACTION 'unified:tx-4:cognee';
-- cognee did not begin it: refused
CALL unified.commit_distributed('tx-4');
\echo :SQLSTATE
CALL unified.abort_distributed('tx-4');
\echo :SQLSTATE
-- a role outside the groups cannot even begin one, nor read the log
SET ROLE dtx_nobody;
SELECT pg_temp.try($$SELECT unified.begin_distributed('tx-x', ARRAY['a'])$$);
SELECT pg_temp.try($$SELECT count(*) FROM unified.transaction_log$$);
SELECT pg_temp.try($$SELECT count(*) FROM unified.in_doubt$$);
CALL unified.commit_distributed('tx-4');
\echo :SQLSTATE
CALL unified.resolve_in_doubt();
\echo :SQLSTATE
-- the application roles cannot read or write the log directly either
SET ROLE dtx_claude;
SELECT pg_temp.try($$SELECT count(*) FROM unified.transaction_log$$);
SELECT pg_temp.try($$UPDATE unified.transaction_log SET state = 'committing'$$);
-- the beginner commits, although a participant belongs to another role
CALL unified.commit_distributed('tx-4');
RESET ROLE;
SELECT owner_count, rows_of_tx4 FROM
  (SELECT count(*) AS rows_of_tx4 FROM dtx_t WHERE tx = 'tx-4') r,
  (SELECT count(*) AS owner_count FROM pg_prepared_xacts) p;
SELECT state, began_by FROM unified.transaction_log WHERE tx_id = 'tx-4';
-- unified_admin may abort what claude began
SET ROLE dtx_claude;
SELECT unified.begin_distributed('tx-5', ARRAY['claude']);
BEGIN;
INSERT INTO dtx_t VALUES ('tx-5', 'claude');
PREPARE TRANSACTION 'unified:tx-5:claude';
SET ROLE dtx_admin;
CALL unified.abort_distributed('tx-5');
SELECT tx_id, state, began_by FROM unified.transaction_log WHERE tx_id = 'tx-5';
RESET ROLE;

-- ---- the resolver ----------------------------------------------------------
-- A coordinator that died after its decision: the resolver commits.
SELECT unified.begin_distributed('tx-6', ARRAY['claude', 'cognee']);
BEGIN;
INSERT INTO dtx_t VALUES ('tx-6', 'claude');
PREPARE TRANSACTION 'unified:tx-6:claude';
BEGIN;
INSERT INTO dtx_t VALUES ('tx-6', 'cognee');
PREPARE TRANSACTION 'unified:tx-6:cognee';
UPDATE unified.transaction_log SET state = 'committing', decided_at = clock_timestamp()
 WHERE tx_id = 'tx-6';
CALL unified.resolve_in_doubt();
SELECT state, finished_by FROM unified.transaction_log WHERE tx_id = 'tx-6';
SELECT who FROM dtx_t WHERE tx = 'tx-6' ORDER BY who;

-- Undecided: left alone within the timeout, presumed aborted after it.
SELECT unified.begin_distributed('tx-7', ARRAY['claude', 'cognee']);
BEGIN;
INSERT INTO dtx_t VALUES ('tx-7', 'claude');
PREPARE TRANSACTION 'unified:tx-7:claude';
CALL unified.resolve_in_doubt();
SELECT gid, decision, planned_action, reason FROM unified.in_doubt;
CALL unified.resolve_in_doubt(in_doubt_timeout => '0s');
SELECT state, finished_by, error FROM unified.transaction_log WHERE tx_id = 'tx-7';
SELECT count(*) AS rows_of_tx7, (SELECT count(*) FROM pg_prepared_xacts) AS still_prepared
  FROM dtx_t WHERE tx = 'tx-7';
CALL unified.commit_distributed('tx-7');
\echo :SQLSTATE

-- No log row: an orphan, rolled back at the next pass.  A gid with the
-- prefix that is not a valid participant gid belongs to no transaction and
-- is rolled back too (one rule: the view, the resolver and the coordinator
-- all ask src/dtx_protocol.c).  Gids without the prefix are never touched.
BEGIN;
INSERT INTO dtx_t VALUES ('ghost', 'a');
PREPARE TRANSACTION 'unified:ghost:a';
BEGIN;
INSERT INTO dtx_t VALUES ('other', 'x');
PREPARE TRANSACTION 'other-app:1';
BEGIN;
INSERT INTO dtx_t VALUES ('malformed', 'x');
PREPARE TRANSACTION 'unified:no-participant';
SELECT gid, tx_id, participant, decision, planned_action, reason FROM unified.in_doubt ORDER BY gid;
CALL unified.resolve_in_doubt();
SELECT gid FROM pg_prepared_xacts ORDER BY gid;
ROLLBACK PREPARED 'other-app:1';
SELECT count(*) AS ghost_rows FROM dtx_t WHERE tx IN ('ghost', 'other', 'malformed');

-- A gid with the tx's prefix but an unlisted participant is not part of it.
SELECT unified.begin_distributed('tx-8', ARRAY['claude']);
BEGIN;
INSERT INTO dtx_t VALUES ('tx-8', 'claude');
PREPARE TRANSACTION 'unified:tx-8:claude';
BEGIN;
INSERT INTO dtx_t VALUES ('tx-8', 'intruder');
PREPARE TRANSACTION 'unified:tx-8:intruder';
CALL unified.commit_distributed('tx-8');
SELECT who FROM dtx_t WHERE tx = 'tx-8' ORDER BY who;
SELECT count(*) AS still_prepared FROM pg_prepared_xacts;

-- resolve_in_doubt: bad arguments and transaction blocks
CALL unified.resolve_in_doubt(in_doubt_timeout => '-1s');
\echo :SQLSTATE
BEGIN;
CALL unified.resolve_in_doubt();
\echo :SQLSTATE
ROLLBACK;

-- ---- views ---------------------------------------------------------------
SELECT state, transactions, prepared_participants, oldest_began_at IS NOT NULL AS has_oldest
  FROM unified.transaction_stats;
SELECT database, passes > 0 AS passed, participants_committed >= 2 AS committed_some,
       participants_rolled_back >= 2 AS rolled_back_some, transactions_timed_out >= 1 AS timed_out_some,
       in_doubt_timeout_s, log_retention_s
  FROM unified.resolver_status;
SELECT state, finished_by, count(*) FROM unified.transaction_log GROUP BY 1, 2 ORDER BY 1, 2;

-- Pruning: finished rows past the retention go, unfinished ones stay.
UPDATE unified.transaction_log SET finished_at = finished_at - interval '30 days'
 WHERE tx_id IN ('tx-1', 'tx-2');
UPDATE unified.transaction_log SET began_at = began_at - interval '30 days'
 WHERE tx_id = 'tx-blk';
CALL unified.resolve_in_doubt();
SELECT tx_id, state FROM unified.transaction_log WHERE tx_id IN ('tx-1', 'tx-2', 'tx-blk') ORDER BY 1;

DROP TABLE dtx_t;
DROP ROLE dtx_claude, dtx_cognee, dtx_admin, dtx_nobody;

ALTER SYSTEM RESET unified_pg.resolver_naptime;
SELECT pg_reload_conf();
