-- The distributed-transaction protocol's SQL surface: the log's columns,
-- who may call what, the settings, and unified.in_doubt fed by the C
-- rule (src/dtx_protocol.c) rather than by SQL of its own.
BEGIN;
SELECT plan(20);

SELECT col_type_is('unified', 'transaction_log', 'participant_roles', 'regrole[]',
    'each participant is bound to a role');
SELECT col_type_is('unified', 'transaction_log', 'votes', 'xid[]',
    'the decision records what voted');
-- The state is checked by a domain (parsed once per session), not a CHECK
-- on the table (parsed again by every statement writing a row).
SELECT col_type_is('unified', 'transaction_log', 'state', 'unified.transaction_state',
    'the state column is the domain');
SELECT is((SELECT count(*)::int FROM pg_constraint
            WHERE conrelid = 'unified.transaction_log'::regclass AND contype = 'c'),
    0, 'the log has no CHECK constraint to parse on every write');
SELECT throws_ok($$INSERT INTO unified.transaction_log (tx_id, participants, state)
                  VALUES ('tap-bad-state', '{a}', 'decided')$$,
    '23514', NULL, 'a state the resolver does not know is refused');
SELECT has_function('unified', 'begin_distributed', ARRAY['text', 'text[]', 'regrole[]'],
    'begin_distributed takes participant_roles');
SELECT hasnt_function('unified', 'begin_distributed', ARRAY['text', 'text[]'],
    'no second begin_distributed to pick by accident');
SELECT has_function('unified', 'transaction_status', ARRAY['text']);
SELECT has_function('unified', 'in_doubt_internal', ARRAY[]::text[]);

-- Who may call what.
SELECT ok(has_function_privilege('claude_user', 'unified.transaction_status(text)', 'EXECUTE'),
    'claude_user may ask for a transaction''s status');
SELECT ok(has_function_privilege('cognee_user', 'unified.transaction_status(text)', 'EXECUTE'),
    'cognee_user may ask for a transaction''s status');
SELECT ok(NOT has_function_privilege('public', 'unified.transaction_status(text)', 'EXECUTE'),
    'PUBLIC may not');
SELECT ok(NOT has_function_privilege('claude_user', 'unified.in_doubt_internal()', 'EXECUTE'),
    'applications cannot list in-doubt participants');
SELECT ok(has_function_privilege('unified_admin', 'unified.in_doubt_internal()', 'EXECUTE'),
    'unified_admin can');

-- The view is the C rule, not SQL of its own: no regular expression over gids.
SELECT ok(pg_get_viewdef('unified.in_doubt'::regclass) LIKE '%in_doubt_internal()%',
    'unified.in_doubt reads unified.in_doubt_internal()');
SELECT ok(pg_get_viewdef('unified.in_doubt'::regclass) NOT LIKE '%regexp%'
      AND pg_get_viewdef('unified.transaction_stats'::regclass) NOT LIKE '%regexp%',
    'no view parses gids itself');
SELECT columns_are('unified', 'in_doubt', ARRAY[
    'gid', 'tx_id', 'participant', 'database', 'owner', 'prepared_at', 'age',
    'decision', 'bound_role', 'planned_action', 'reason']);

-- Settings.
SELECT is(current_setting('unified_pg.participant_roles'),
    'claude:claude_user,cognee:cognee_user,unified:unified_admin',
    'participant_roles has the documented default');
SELECT is((SELECT context FROM pg_settings WHERE name = 'unified_pg.max_prepared_per_role'),
    'sighup', 'max_prepared_per_role is reloadable');
SELECT throws_ok($$SET unified_pg.participant_roles = 'claude'$$, '55P02', NULL,
    'participant_roles cannot be set in a session');

SELECT * FROM finish();
ROLLBACK;
