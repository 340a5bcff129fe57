-- The participant work alone: the same two participants, prepared and
-- committed one after the other, with no log at all.  It is not crash safe
-- (nothing records the decision).  Every protocol that prepares and commits
-- both spends at least this CPU, so where the clients keep the CPUs busy no
-- protocol is faster; with few clients a protocol that commits both
-- participants concurrently waits for one flush less than this.
SELECT nextval('bench_seq') AS n \gset
BEGIN;
INSERT INTO bench_claude VALUES (:n, 'claude');
PREPARE TRANSACTION 'floor:f:n:claude';
BEGIN;
INSERT INTO bench_cognee VALUES (:n, 'cognee');
PREPARE TRANSACTION 'floor:f:n:cognee';
COMMIT PREPARED 'floor:f:n:claude';
COMMIT PREPARED 'floor:f:n:cognee';
