-- Pool statistics: who may read and reset them, under SET ROLE.  The
-- applications read unified.pool_stats and the histogram; only
-- unified_admin resets the counters, reads the SLOs or runs the health
-- check.  Roles created here vanish with the ROLLBACK.
BEGIN;
SELECT plan(20);

CREATE ROLE tap_p_claude LOGIN IN ROLE claude_user;
CREATE ROLE tap_p_cognee LOGIN IN ROLE cognee_user;
CREATE ROLE tap_p_admin LOGIN IN ROLE unified_admin;
CREATE ROLE tap_p_nobody LOGIN;
CREATE ROLE tap_p_monitor LOGIN IN ROLE pg_monitor;

SET ROLE tap_p_claude;
SELECT set_eq('SELECT pool FROM unified.pool_stats', ARRAY['claude-context', 'cognee', 'unified', 'other'],
    'Claude-Context reads pool_stats: every pool, then other');
SELECT ok((SELECT count(*) > 0 FROM unified.pool_latency_histogram), 'and the latency histogram');
SELECT throws_ok('SELECT * FROM unified.slo', '42501', NULL, 'but not the SLOs');
SELECT throws_ok('SELECT unified.reset_stats()', '42501', NULL, 'and cannot reset the counters');
SELECT throws_ok('SELECT * FROM unified.health_check()', '42501', NULL, 'nor run the health check');
RESET ROLE;

SET ROLE tap_p_cognee;
SELECT ok((SELECT count(*) = 4 FROM unified.pool_stats), 'Cognee reads pool_stats');
SELECT throws_ok('SELECT unified.reset_stats()', '42501', NULL, 'and cannot reset it');
RESET ROLE;

SET ROLE tap_p_nobody;
SELECT throws_ok('SELECT * FROM unified.pool_stats', '42501', NULL, 'a role in no group cannot read pool_stats');
SELECT throws_ok('SELECT * FROM unified.pool_stats_internal()', '42501', NULL, 'nor call the function behind it');
SELECT throws_ok('SELECT unified.reset_stats()', '42501', NULL, 'nor reset');
RESET ROLE;

SET ROLE tap_p_monitor;
SELECT lives_ok('SELECT * FROM unified.pool_stats', 'pg_monitor (postgres_exporter) reads pool_stats');
SELECT lives_ok('SELECT * FROM unified.slo', 'and the SLOs');
SELECT throws_ok('SELECT unified.reset_stats()', '42501', NULL, 'but does not reset');
RESET ROLE;

SET ROLE tap_p_admin;
SELECT lives_ok('SELECT * FROM unified.slo', 'unified_admin reads the SLOs');
SELECT ok((SELECT count(*) >= 12 FROM unified.health_check()), 'and runs the health check');
SELECT ok(unified.reset_stats() >= statement_timestamp(), 'and resets the counters');
SELECT ok((SELECT bool_and(xact_rollback = 0 AND xact_failed = 0 AND deadlocks = 0 AND rejected_connections = 0)
             FROM unified.pool_stats), 'which are zero afterwards');
SELECT ok((SELECT bool_and(count = 0) FROM unified.pool_latency_histogram WHERE pool <> 'other'),
    'and so is the histogram of every pool this session is not in');
RESET ROLE;

SELECT is((SELECT count(DISTINCT stats_reset) FROM unified.pool_stats), 1::bigint, 'one stats_reset for all pools');
SELECT ok((SELECT stats_reset FROM unified.stats_overall()) = (SELECT max(stats_reset) FROM unified.pool_stats),
    'shared with unified.slo');

SELECT * FROM finish();
ROLLBACK;
