-- Baseline: the same two writes in one local transaction.
SELECT nextval('bench_seq') AS n \gset
BEGIN;
INSERT INTO bench_claude VALUES (:n, 'claude');
INSERT INTO bench_cognee VALUES (:n, 'cognee');
COMMIT;
