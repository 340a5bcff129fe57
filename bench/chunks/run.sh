#!/usr/bin/env bash
# What global uniqueness of source rows costs when writing chunks.
#
# unified.chunks enforces "a source row is stored at most once" across
# partitions through unified.chunk_keys and statement-level triggers.  The
# baseline is a partitioned table with the same columns, constraints,
# indexes and partitions but without those triggers, in the same server and
# run.  Workloads: one bulk INSERT ... SELECT; an indexer's batches (one
# statement per file of 20 chunks); single-row INSERTs from pgbench at 1
# and 8 clients; deleting a file's chunks (re-index).
#
#   bash bench/chunks/run.sh   BENCH_ROWS=100000 BENCH_RUNS=3 BENCH_SECONDS=10
#   (ROWS, RUNS and PGBENCH_SECONDS, without BENCH_, are still read)
source "$(dirname "$0")/../lib.sh"

ROWS=${BENCH_ROWS:-${ROWS:-100000}}
RUNS=${BENCH_RUNS:-${RUNS:-3}}
PGBENCH_SECONDS=${BENCH_SECONDS:-${PGBENCH_SECONDS:-10}}

bench_start_server
bench_sql <<'SQL'
CREATE EXTENSION unified_pg;
CREATE SCHEMA bench;
-- The same table without the uniqueness triggers: copy columns, defaults,
-- constraints and indexes, then the same monthly partitions.
CREATE TABLE bench.chunks (LIKE unified.chunks INCLUDING ALL) PARTITION BY RANGE (created_at);
CREATE TABLE bench.chunks_default PARTITION OF bench.chunks DEFAULT;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'unified.chunks'::regclass
                AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT' LOOP
        EXECUTE format('CREATE TABLE bench.%I PARTITION OF bench.chunks %s', r.relname, r.bound);
    END LOOP;
END $$;
SQL

cols="source, source_collection, source_id, project_id, content, relative_path, start_line, end_line, file_extension, embedding"
# files of 20 chunks, each file in one of 10 projects
gen="SELECT 'claude_context', 'code_chunks', 'chunk_' || lpad(to_hex(g), 16, '0'), 'proj-' || (g / 20 % 10),
            repeat('code line ' || g || E'\n', 20), 'src/file_' || (g / 20) || '.ts', (g % 20) * 10 + 1, (g % 20) * 10 + 9, '.ts',
            array_fill(0.5::real, ARRAY[64])
       FROM generate_series(1, $ROWS) g"

declare -A ms
for t in unified bench; do
    ms[bulk_$t]=$(bench_best_ms "$RUNS" "TRUNCATE $t.chunks; CHECKPOINT" <<SQL
INSERT INTO $t.chunks ($cols) $gen;
SQL
)
    # an indexer: one statement per file of 20 chunks
    batches=$((ROWS / 20))
    ms[batch_$t]=$(bench_best_ms "$RUNS" "TRUNCATE $t.chunks; CHECKPOINT" <<SQL
DO \$\$
BEGIN
    FOR f IN 0 .. $batches - 1 LOOP
        INSERT INTO $t.chunks ($cols)
        SELECT 'claude_context', 'code_chunks', 'chunk_' || lpad(to_hex(g), 16, '0'), 'proj-' || (f % 10),
               repeat('code line ' || g || E'\n', 20), 'src/file_' || f || '.ts', (g % 20) * 10 + 1, (g % 20) * 10 + 9, '.ts',
               array_fill(0.5::real, ARRAY[64])
          FROM generate_series(f * 20, f * 20 + 19) g;
    END LOOP;
END \$\$;
SQL
)
    # re-index: delete every file's chunks, one statement per file
    ms[delete_$t]=$(bench_best_ms "$RUNS" "TRUNCATE $t.chunks; INSERT INTO $t.chunks ($cols) $gen; ANALYZE $t.chunks" <<SQL
DO \$\$
BEGIN
    FOR f IN 0 .. $batches - 1 LOOP
        DELETE FROM $t.chunks WHERE project_id = 'proj-' || (f % 10) AND relative_path = 'src/file_' || f || '.ts';
    END LOOP;
END \$\$;
SQL
)
done

# single-row inserts, as many as pgbench manages in PGBENCH_SECONDS
bindir=$(pg_bindir)
for t in unified bench; do
    cat > "$BENCH_WORK/insert_$t.sql" <<SQL
\\set n random(1, 1000000000)
INSERT INTO $t.chunks (source, source_collection, source_id, project_id, content, relative_path)
VALUES ('claude_context', 'code_chunks', 'chunk_' || :client_id || '_' || :n || '_' || random(), 'proj-1', 'one chunk of code', 'src/x.ts');
SQL
    chown postgres: "$BENCH_WORK/insert_$t.sql" 2>/dev/null || true
done
declare -A tps
for c in 1 8; do
    for t in unified bench; do
        bench_sql -c "TRUNCATE $t.chunks" -c CHECKPOINT >/dev/null
        tps[${c}_$t]=$(as_pg "${BENCH_ENV[@]}" "$bindir/pgbench" -n -c "$c" -j "$c" -T "$PGBENCH_SECONDS" \
            -f "$BENCH_WORK/insert_$t.sql" "$BENCH_DB" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    done
done

cat <<OUT
chunk writes with global source-row uniqueness (unified.chunks) vs the same
table without it (baseline), $ROWS rows, best of $RUNS, same server and run

workload                         unified      baseline     ratio (unified/baseline)
bulk INSERT ... SELECT           $(printf '%7s ms' "${ms[bulk_unified]}")   $(printf '%7s ms' "${ms[bulk_bench]}")   $(ratio "${ms[bulk_unified]}" "${ms[bulk_bench]}") (time)
indexer, 20 chunks/statement     $(printf '%7s ms' "${ms[batch_unified]}")   $(printf '%7s ms' "${ms[batch_bench]}")   $(ratio "${ms[batch_unified]}" "${ms[batch_bench]}") (time)
re-index, delete per file        $(printf '%7s ms' "${ms[delete_unified]}")   $(printf '%7s ms' "${ms[delete_bench]}")   $(ratio "${ms[delete_unified]}" "${ms[delete_bench]}") (time)
single-row INSERT, 1 client      $(printf '%7.0f tps' "${tps[1_unified]}")  $(printf '%7.0f tps' "${tps[1_bench]}")  $(ratio "${tps[1_unified]}" "${tps[1_bench]}") (throughput)
single-row INSERT, 8 clients     $(printf '%7.0f tps' "${tps[8_unified]}")  $(printf '%7.0f tps' "${tps[8_bench]}")  $(ratio "${tps[8_unified]}" "${tps[8_bench]}") (throughput)
OUT
