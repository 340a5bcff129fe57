#!/usr/bin/env bash
# Row-level security overhead on 1M chunks.
#
# Loads 1,000,000 chunks (600k Claude-Context rows: 200 projects x 300 files
# x 10 chunks; 400k Cognee rows: 200 datasets x 2,000) spread over twelve
# monthly partitions, then measures with pgbench, in the same run, the
# variants of a query side by side in rounds so that noise hits them alike:
#
#   path     a project's chunks by path (project_id, relative_path)
#   dataset  a dataset's newest 100 chunks (cognee_dataset_id, created_at)
#
# each as unified_admin with the equivalent WHERE (the baseline: its policy
# is "true"), as an application role under RLS without tenant grants, and as
# a login scoped by tenant grants to five projects / datasets.  Prints
# p50/p95 latency and the ratio of each p95 to the baseline's (target <= 1.10).
#
#   bench/rls/run.sh                 BENCH_ROUNDS=5 BENCH_SECONDS=5 BENCH_CLIENTS=1
#
# It builds and installs the extension and holds the machine-wide install
# lock while it runs, so that no other checkout replaces the library.
BENCH_PORT=${BENCH_PORT:-5561}
source "$(dirname "$0")/../lib.sh"

ROUNDS=${BENCH_ROUNDS:-5}
SECONDS_PER=${BENCH_SECONDS:-5}
CLIENTS=${BENCH_CLIENTS:-1}

bash "$UPG_ROOT/scripts/deps.sh"
bench_start_server "$(printf "%s\n" "shared_preload_libraries = 'unified_pg'" \
    "max_wal_size = '4GB'" "synchronous_commit = off" "jit = off")"
PORT=$BENCH_PORT
BINDIR=$(pg_bindir)
WORK=$BENCH_WORK
SOCK=$BENCH_WORK/sock
psql_() { as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres "$@"; }

say "==> loading 1,000,000 chunks"
t0=$(date +%s)
psql_ -d bench <<'SQL'
CREATE EXTENSION unified_pg;
SELECT unified.create_monthly_partition((date_trunc('month', now()) - make_interval(months => m))::date)
  FROM generate_series(1, 11) AS m \g /dev/null
-- Claude-Context: 200 projects x 300 files x 10 chunks, in ten statements.
DO $$
BEGIN
    FOR b IN 0..9 LOOP
        INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content,
                                    relative_path, start_line, end_line, file_extension, created_at)
        SELECT 'claude_context', 'code_chunks', format('chunk_%s_%s_%s', p, f, c), 'proj-' || p,
               repeat(md5(p || ':' || f || ':' || c), 6), format('src/file_%s.py', f),
               c * 20, c * 20 + 19, '.py',
               date_trunc('month', now()) - make_interval(days => ((p * 7 + f * 13 + c) % 360))
          FROM generate_series(b * 20 + 1, b * 20 + 20) AS p,
               generate_series(1, 300) AS f,
               generate_series(0, 9) AS c;
    END LOOP;
    -- Cognee: 200 datasets x 2,000 chunks.
    FOR b IN 0..9 LOOP
        INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id, content,
                                    metadata, created_at)
        SELECT 'cognee', 'DocumentChunk_text', format('00000000-0000-0000-%s-%s', lpad(d::text, 4, '0'), lpad(i::text, 12, '0')),
               format('00000000-0000-0000-0000-%s', lpad(d::text, 12, '0'))::uuid,
               repeat(md5(d || ':' || i), 6), '{"type": "DocumentChunk"}',
               date_trunc('month', now()) - make_interval(days => ((d * 11 + i) % 360))
          FROM generate_series(b * 20 + 1, b * 20 + 20) AS d,
               generate_series(1, 2000) AS i;
    END LOOP;
END $$;
VACUUM ANALYZE unified.chunks;

CREATE ROLE bench_admin LOGIN IN ROLE unified_admin;
CREATE ROLE bench_claude LOGIN IN ROLE claude_user;
CREATE ROLE bench_claude_scoped LOGIN IN ROLE claude_user;
CREATE ROLE bench_cognee LOGIN IN ROLE cognee_user;
CREATE ROLE bench_cognee_scoped LOGIN IN ROLE cognee_user;
SELECT unified.grant_project('bench_claude_scoped', 'proj-' || p) FROM generate_series(1, 5) AS p \g /dev/null
SELECT unified.grant_dataset('bench_cognee_scoped', format('00000000-0000-0000-0000-%s', lpad(d::text, 12, '0'))::uuid)
  FROM generate_series(1, 5) AS d \g /dev/null
SQL
say "    loaded in $(( $(date +%s) - t0 ))s: $(psql_ -d bench -Atc "SELECT count(*) FROM unified.chunks") rows, $(psql_ -d bench -Atc "SELECT count(*) FROM pg_inherits WHERE inhparent = 'unified.chunks'::regclass") partitions"

as_pg tee "$WORK/path.sql" >/dev/null <<'SQL'
\set p random(1, 5)
\set f random(1, 300)
SELECT id, content, start_line, end_line FROM unified.chunks
 WHERE project_id = 'proj-' || :p AND relative_path = 'src/file_' || :f || '.py';
SQL
as_pg tee "$WORK/dataset.sql" >/dev/null <<'SQL'
\set d random(1, 5)
SELECT id, content FROM unified.chunks
 WHERE cognee_dataset_id = ('00000000-0000-0000-0000-' || lpad(:d::text, 12, '0'))::uuid
 ORDER BY created_at DESC LIMIT 100;
SQL

say "==> plans (as the application roles)"
# (unified_pg.restrict_explain refuses EXPLAIN ANALYZE to these roles: the
# superuser turns it off for its own session, then takes on the role)
psql_ -d bench -c "SET unified_pg.restrict_explain = off" -c "SET ROLE bench_claude" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id, content FROM unified.chunks WHERE project_id = 'proj-3' AND relative_path = 'src/file_7.py'" | grep -E 'Index|InitPlan|Seq|rows=' | head -8
psql_ -d bench -c "SET unified_pg.restrict_explain = off" -c "SET ROLE bench_cognee_scoped" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id, content FROM unified.chunks WHERE cognee_dataset_id = '00000000-0000-0000-0000-000000000003' ORDER BY created_at DESC LIMIT 100" | grep -E 'Index|InitPlan|Seq|Limit' | head -8

# query:role pairs; the first of each query is the baseline
VARIANTS="path:bench_admin path:bench_claude path:bench_claude_scoped dataset:bench_admin dataset:bench_cognee dataset:bench_cognee_scoped"

say "==> warm-up"
for v in $VARIANTS; do
    q=${v%%:*}; r=${v#*:}
    as_pg "$BINDIR/pgbench" -n -h "$SOCK" -p "$PORT" -U "$r" -M prepared -c "$CLIENTS" -j "$CLIENTS" -T 2 -f "$WORK/$q.sql" bench >/dev/null 2>&1
done

say "==> measuring: $ROUNDS rounds x ${SECONDS_PER}s, the three roles of a query side by side, $CLIENTS client(s) each, -M prepared"
# The variants of one query run at the same time, so that whatever else the
# machine does slows them alike; the ratios compare like with like.
for round in $(seq 1 "$ROUNDS"); do
    for q in path dataset; do
        pids=()
        for v in $VARIANTS; do
            [ "${v%%:*}" = "$q" ] || continue
            r=${v#*:}
            as_pg mkdir -p "$WORK/log/$q.$r.$round"
            (cd "$WORK/log/$q.$r.$round" && as_pg "$BINDIR/pgbench" -n -h "$SOCK" -p "$PORT" -U "$r" -M prepared \
                -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER" -f "$WORK/$q.sql" --log --log-prefix=lat bench >/dev/null 2>&1) &
            pids+=($!)
        done
        for pid in "${pids[@]}"; do
            wait "$pid" || die "pgbench failed for $q"
        done
    done
done

# percentile FILE P: the P-th percentile of the latencies (microseconds) in FILE
percentile() { sort -n "$1" | awk -v p="$2" '{a[NR]=$1} END {i=int(NR*p/100); if (i<1) i=1; print a[i]}'; }

printf '\n%-8s %-22s %10s %10s %10s %9s\n' query role transactions p50_ms p95_ms p95_ratio
for q in path dataset; do
    base=''
    for v in $VARIANTS; do
        [ "${v%%:*}" = "$q" ] || continue
        r=${v#*:}
        cat "$WORK"/log/$q.$r.*/lat* | awk '{print $3}' >"$WORK/$q.$r.lat"
        n=$(wc -l <"$WORK/$q.$r.lat")
        p50=$(percentile "$WORK/$q.$r.lat" 50)
        p95=$(percentile "$WORK/$q.$r.lat" 95)
        [ -n "$base" ] || base=$p95
        printf '%-8s %-22s %10d %10.3f %10.3f %9.3f\n' "$q" "$r" "$n" \
            "$(echo "$p50 / 1000" | bc -l)" "$(echo "$p95 / 1000" | bc -l)" "$(echo "$p95 / $base" | bc -l)"
    done
done
say ""
say "baseline = bench_admin (unified_admin, policy \"true\") running the same query; target p95_ratio <= 1.10"
