-- The floor under every protocol that prepares both participants: the same
-- two participants, prepared and committed, with no log at all.  It is not
-- crash safe (nothing records the decision); it is here because no protocol
-- that must PREPARE and COMMIT PREPARED both can be faster than this.
SELECT nextval('bench_seq') AS n \gset
BEGIN;
INSERT INTO bench_claude VALUES (:n, 'claude');
PREPARE TRANSACTION 'floor:f:n:claude';
BEGIN;
INSERT INTO bench_cognee VALUES (:n, 'cognee');
PREPARE TRANSACTION 'floor:f:n:cognee';
COMMIT PREPARED 'floor:f:n:claude';
COMMIT PREPARED 'floor:f:n:cognee';
