#!/usr/bin/env bash
# Migration throughput: CALL unified.migrate_claude_chunks (keyset batches
# of 1,000 committed one by one, with checks, rejects and checkpoints)
# against, in the same run and on the same source:
#
#   ceiling   one INSERT ... SELECT of the whole source into unified.chunks
#             with the same mapping (no checks, no batches, one commit)
#   original  the original design's client loop: LIMIT/OFFSET pages of
#             1,000 rows through asyncpg, executemany per page (ordered by
#             id so that it completes: see original_loop.py; ORDER="" runs
#             it unordered, as the original wrote it)
#
# The source is a Claude-Context table (code_chunks_<hex>: text ids,
# real[] vectors of DIM dimensions, metadata as JSON text).  Each method
# starts from an empty unified.chunks after a CHECKPOINT; the rounds
# interleave the methods.  ORIGINAL=0 leaves the slow baseline out.
#
#   bash bench/migration/run.sh   BENCH_ROWS=500000 BENCH_DIM=768 BENCH_ROUNDS=1 BENCH_ORIGINAL=1
#   (ROWS, DIM, ROUNDS and ORIGINAL, without BENCH_, are still read)
source "$(dirname "$0")/../lib.sh"

ROWS=${BENCH_ROWS:-${ROWS:-500000}}
DIM=${BENCH_DIM:-${DIM:-768}}
ROUNDS=${BENCH_ROUNDS:-${ROUNDS:-1}}
ORIGINAL=${BENCH_ORIGINAL:-${ORIGINAL:-1}}
SRC=public.code_chunks_be7c4a11

bench_start_server "synchronous_commit = on"
say "==> generating $ROWS source rows with $DIM-dimension vectors"
bench_sql <<SQL
CREATE EXTENSION unified_pg;
CREATE TABLE $SRC (
    id text PRIMARY KEY, vector real[], content text NOT NULL, relative_path text NOT NULL,
    start_line integer NOT NULL, end_line integer NOT NULL, file_extension text NOT NULL,
    metadata text DEFAULT '{}'::text, created_at timestamptz DEFAULT now());
-- 64 distinct random vectors, rotated, so that generating is cheap and
-- every row still stores a full vector
CREATE TEMP TABLE v AS
SELECT k, array_agg(random()::real ORDER BY d) AS vec FROM generate_series(0, 63) k, generate_series(1, $DIM) d GROUP BY k;
INSERT INTO $SRC
SELECT 'chunk_' || lpad(to_hex(g), 16, '0'), v.vec, repeat('code line ' || g || E'\n', 20),
       'src/file_' || (g / 20) || '.ts', (g % 20) * 10 + 1, (g % 20) * 10 + 9, '.ts',
       json_build_object('codebasePath', '/home/dev/repo', 'language', 'typescript', 'chunkIndex', g % 20)::text,
       now() - (g % 1000) * interval '1 minute'
  FROM generate_series(1, $ROWS) g JOIN v ON v.k = g % 64;
VACUUM ANALYZE $SRC;
SQL

reset="TRUNCATE unified.chunks; DELETE FROM unified.migration_rejects; DELETE FROM unified.migrations; CHECKPOINT"
ceiling_sql="INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, relative_path,
        start_line, end_line, file_extension, chunk_index, embedding, metadata, created_at, updated_at)
 SELECT 'claude_context', 'code_chunks_be7c4a11', s.id, s.metadata::jsonb ->> 'codebasePath', s.content,
        s.relative_path, s.start_line, s.end_line, s.file_extension, (s.metadata::jsonb ->> 'chunkIndex')::int,
        s.vector, s.metadata::jsonb, s.created_at, s.created_at
   FROM $SRC s;"

# Seconds (with decimals) a command takes.
timed() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) / 1e9 }'
}
count() { bench_sql -At -c "SELECT count(*) FROM unified.chunks"; }

declare -A best
keep_best() { # name seconds
    if [ -z "${best[$1]:-}" ] || awk -v a="$2" -v b="${best[$1]}" 'BEGIN { exit !(a < b) }'; then best[$1]=$2; fi
}

for r in $(seq 1 "$ROUNDS"); do
    bench_sql -c "$reset" >/dev/null
    s=$(timed bench_sql -c "$ceiling_sql"); n=$(count); keep_best ceiling "$s"
    say "round $r: ceiling   $s s ($n rows)"

    bench_sql -c "$reset" >/dev/null
    s=$(timed bench_sql -c "SET client_min_messages = warning" -c "CALL unified.migrate_claude_chunks('$SRC')"); n=$(count)
    keep_best migration "$s"
    say "round $r: migration $s s ($n rows)"

    if [ "$ORIGINAL" = 1 ]; then
        bench_sql -c "$reset" >/dev/null
        s=$(timed as_pg "${BENCH_ENV[@]}" PGDATABASE="$BENCH_DB" /usr/bin/python3 "$UPG_ROOT/bench/migration/original_loop.py" "$SRC" 1000)
        n=$(count); keep_best original "$s"
        say "round $r: original  $s s ($n rows)"
    fi
done

say ""
say "rows=$ROWS dim=$DIM rounds=$ROUNDS (best of the rounds; shared machine)"
printf '%-10s %10s %12s\n' method seconds rows/s
for m in ceiling migration original; do
    [ -n "${best[$m]:-}" ] || continue
    printf '%-10s %10s %12s\n' "$m" "${best[$m]}" "$(awk -v n="$ROWS" -v s="${best[$m]}" 'BEGIN { printf "%.0f", n / s }')"
done
say "migration / ceiling throughput: $(ratio "${best[ceiling]}" "${best[migration]}")  (target >= 0.70)"
if [ -n "${best[original]:-}" ]; then
    say "migration / original throughput: $(ratio "${best[original]}" "${best[migration]}")  (target >= 5)"
fi
