-- The original design's client-side protocol: the client prepares, inserts
-- a log row per state change and runs COMMIT PREPARED for each participant.
SELECT nextval('bench_seq') AS n \gset
INSERT INTO client_log VALUES ('c:n', 'pending');
BEGIN;
INSERT INTO bench_claude VALUES (:n, 'claude');
PREPARE TRANSACTION 'client:c:n:claude';
BEGIN;
INSERT INTO bench_cognee VALUES (:n, 'cognee');
PREPARE TRANSACTION 'client:c:n:cognee';
INSERT INTO client_log VALUES ('c:n', 'committing');
COMMIT PREPARED 'client:c:n:claude';
COMMIT PREPARED 'client:c:n:cognee';
INSERT INTO client_log VALUES ('c:n', 'committed');
