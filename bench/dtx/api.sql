-- Two participants through the unified_pg API: begin, prepare both, commit.
SELECT nextval('bench_seq') AS n \gset
SELECT unified.begin_distributed('b:n', '{claude,cognee}');
BEGIN;
INSERT INTO bench_claude VALUES (:n, 'claude');
PREPARE TRANSACTION 'unified:b:n:claude';
BEGIN;
INSERT INTO bench_cognee VALUES (:n, 'cognee');
PREPARE TRANSACTION 'unified:b:n:cognee';
CALL unified.commit_distributed('b:n');
