-- The original design's coordinator as written (ORIGINAL_DESIGN.md,
-- PostgresTransactionCoordinator): each state change is an upsert of the
-- log row in a transaction of its own (BEGIN, INSERT ... ON CONFLICT DO
-- UPDATE, COMMIT), participants named '<tx>:<participant>' (pgbench would read ':n_claude' as a variable n_claude).  client.sql is
-- the same protocol with a plain INSERT per state and no BEGIN/COMMIT
-- around it, which is cheaper.
SELECT nextval('bench_seq') AS n \gset
BEGIN;
INSERT INTO original_log (id, state, participants, created_at) VALUES ('o:n', 'pending', '{claude,cognee}', now())
    ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, updated_at = now();
COMMIT;
BEGIN;
INSERT INTO bench_claude VALUES (:n, 'claude');
PREPARE TRANSACTION 'o:n:claude';
BEGIN;
INSERT INTO bench_cognee VALUES (:n, 'cognee');
PREPARE TRANSACTION 'o:n:cognee';
BEGIN;
INSERT INTO original_log (id, state, participants, created_at) VALUES ('o:n', 'prepared', '{claude,cognee}', now())
    ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, updated_at = now();
COMMIT;
COMMIT PREPARED 'o:n:claude';
COMMIT PREPARED 'o:n:cognee';
BEGIN;
INSERT INTO original_log (id, state, participants, created_at) VALUES ('o:n', 'committed', '{claude,cognee}', now())
    ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, updated_at = now();
COMMIT;
