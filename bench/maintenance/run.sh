#!/usr/bin/env bash
# Partition maintenance benchmarks (BENCHMARKS.md, "Partition maintenance").
#
#   bash bench/maintenance/run.sh          (as root or the postgres user)
#
# Builds and installs the extension, starts a throwaway server with
# unified_pg preloaded (bench/lib.sh), runs every measurement against a
# baseline taken in the same run, prints a table and stops the server.
# Needs pg_partman (postgresql-15-partman) for the comparison.
#   1. create 120 monthly partitions: run_maintenance(premake => 119) vs
#      pg_partman 4.x create_parent(p_premake := 119) on the same table shape
#   2. a maintenance pass with nothing to do (pgbench latency) vs SELECT 1
#   3. draining 100k rows (12 months) out of the default partition vs
#      inserting those rows
#   4. pruning on 24 months with 1M rows: partitions scanned per app query
BENCH_PORT=${BENCH_PORT:-5597}
source "$(dirname "$0")/../lib.sh"

bash "$UPG_ROOT/scripts/deps.sh" --bench
ROWS=${BENCH_ROWS:-1000000}
DRAIN_ROWS=${BENCH_DRAIN_ROWS:-100000}
bench_start_server "$(printf "%s\n" "shared_preload_libraries = 'unified_pg'" \
    "unified_pg.maintenance_interval = 0" "shared_buffers = '256MB'" "max_wal_size = '4GB'")"
PORT=$BENCH_PORT
BINDIR=$(pg_bindir)
WORK=$BENCH_WORK
SOCK=$BENCH_WORK/sock

q() { as_pg "$BINDIR/psql" -X -q -t -A -h "$SOCK" -p "$PORT" -U postgres -d bench -v ON_ERROR_STOP=1 "$@"; }
# ms of wall time a SQL script takes, measured inside the server
ms() {
    q -c "DO \$\$ DECLARE t timestamptz := clock_timestamp(); BEGIN $1; RAISE NOTICE 'ms=%', round(extract(epoch FROM clock_timestamp() - t) * 1000, 1); END \$\$" 2>&1 \
        | sed -n 's/.*ms=\([0-9.]*\).*/\1/p'
}
pgbench_ms() {
    printf '%s\n' "$1" >"$WORK/pgb.sql"
    chmod 644 "$WORK/pgb.sql"
    as_pg "$BINDIR/pgbench" -n -h "$SOCK" -p "$PORT" -U postgres -f "$WORK/pgb.sql" -t "${2:-200}" bench 2>/dev/null \
        | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

q -c "CREATE EXTENSION unified_pg" -c "CREATE SCHEMA partman" -c "CREATE EXTENSION pg_partman SCHEMA partman"

# 1. 120 monthly partitions.  Drop the install-time months first so that
#    both sides create the same 120 (current month + 119).
q -c "DO \$\$ DECLARE p regclass; BEGIN FOR p IN SELECT partition FROM unified.partitions WHERE NOT is_default LOOP EXECUTE format('DROP TABLE %s', p); END LOOP; END \$\$"
# (lock_wait => 1 hour: one pass, as pg_partman's create_parent is one
# transaction; with the default 5s a pass lets go of the table after 2.5 s
# and says "more")
t_upg=$(ms "PERFORM unified.run_maintenance(premake => 119, lock_wait => '1 hour')")
n_upg=$(q -c "SELECT count(*) FROM unified.partitions WHERE NOT is_default")
q -c "CREATE SCHEMA b" \
  -c "CREATE TABLE b.chunks (LIKE unified.chunks INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS INCLUDING INDEXES) PARTITION BY RANGE (created_at)"
t_pm=$(ms "PERFORM partman.create_parent('b.chunks', 'created_at', 'native', 'monthly', p_premake := 119, p_start_partition := date_trunc('month', now())::text, p_jobmon := false)")
n_pm=$(q -c "SELECT count(*) - 1 FROM pg_inherits WHERE inhparent = 'b.chunks'::regclass")

# 2. A pass with nothing to do, against SELECT 1.
noop=$(pgbench_ms "SELECT unified.run_maintenance();" 200)
base=$(pgbench_ms "SELECT 1;" 200)
pm_noop=$(pgbench_ms "SELECT partman.run_maintenance('b.chunks', p_jobmon := false);" 50)

# 3. Draining rows out of the default partition (12 months of 2019); the
#    baseline is writing the same rows (with their indexes) in the first place.
ins=$(ms "INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
          SELECT 'claude_context', 'd' || g, 'p', repeat('x', 200), '2019-01-01 00:00+00'::timestamptz + (g % 365) * interval '1 day'
            FROM generate_series(1, $DRAIN_ROWS) g")
drain=$(ms "PERFORM unified.run_maintenance(premake => 0, batch_rows => $DRAIN_ROWS)")
left=$(q -c "SELECT count(*) FROM unified.chunks_default")
consistent=$(q -c "SELECT (SELECT count(*) FROM unified.chunk_keys) = (SELECT count(*) FROM unified.chunks)")
q -c "TRUNCATE unified.chunks"

# 4. Pruning: 24 months (2024-01 .. 2025-12), $ROWS rows, beside the
#    current month and the next three and the default partition.
q -c "DO \$\$ DECLARE p regclass; BEGIN FOR p IN SELECT partition FROM unified.partitions WHERE NOT is_default LOOP EXECUTE format('DROP TABLE %s', p); END LOOP; END \$\$" \
  -c "SELECT unified.run_maintenance(premake => 3)" >/dev/null
q -c "SELECT unified.create_monthly_partition(('2024-01-01'::date + make_interval(months => m))::date) FROM generate_series(0, 23) m" >/dev/null
fill=$(ms "INSERT INTO unified.chunks (source, source_id, project_id, cognee_dataset_id, content, relative_path, created_at)
           SELECT CASE WHEN g % 2 = 0 THEN 'claude_context' ELSE 'cognee' END, 'r' || g,
                  CASE WHEN g % 2 = 0 THEN 'proj-' || (g % 10) END,
                  CASE WHEN g % 2 = 1 THEN ('00000000-0000-0000-0000-00000000000' || (g % 10))::uuid END,
                  'chunk ' || g, 'src/f' || (g % 1000) || '.ts',
                  '2024-01-01 00:00+00'::timestamptz + (g % 730) * interval '1 day' + (g % 86400) * interval '1 second'
             FROM generate_series(1, $ROWS) g")
q -c "ANALYZE unified.chunks"
prune() { q -F ' | ' -c "SELECT partitions_scanned || '/' || partitions_total, pruned_ratio FROM unified.explain_pruning(\$q\$$1\$q\$)"; }
one_month_ms=$(ms "PERFORM count(*) FROM unified.chunks WHERE created_at >= '2025-03-01 00:00+00' AND created_at < '2025-04-01 00:00+00'")
all_ms=$(ms "PERFORM count(*) FROM unified.chunks")

printf '\n## results (%s rows for pruning, %s rows drained)\n\n' "$ROWS" "$DRAIN_ROWS"
printf '| measurement | value | baseline | ratio |\n|---|---|---|---|\n'
printf '| create 120 monthly partitions: unified_pg (%s made) vs pg_partman create_parent (%s made) | %s ms | %s ms | %s |\n' \
    "$n_upg" "$n_pm" "$t_upg" "$t_pm" "$(ratio "$t_upg" "$t_pm")"
printf '| maintenance pass with nothing to do vs SELECT 1 (pgbench latency) | %s ms | %s ms | %s |\n' "$noop" "$base" "$(ratio "$noop" "$base")"
printf '| pg_partman run_maintenance(b.chunks) with nothing to do, for reference | %s ms | %s ms | %s |\n' "$pm_noop" "$noop" "$(ratio "$pm_noop" "$noop")"
printf '| drain %s rows (12 months) from the default vs inserting them | %s ms | %s ms | %s |\n' "$DRAIN_ROWS" "$drain" "$ins" "$(ratio "$drain" "$ins")"
printf '| rows left in the default after draining / keys consistent | %s / %s | | |\n' "$left" "$consistent"
printf '| count(*) of one month vs of all 24 months | %s ms | %s ms | %s |\n' "$one_month_ms" "$all_ms" "$(ratio "$one_month_ms" "$all_ms")"
printf '\n| query (24 months + current month + 3 ahead + default) | scanned/total | pruned_ratio |\n|---|---|---|\n'
while IFS= read -r line; do
    label=${line%%:::*}
    sql=${line#*:::}
    printf '| %s | %s |\n' "$label" "$(prune "$sql")"
done <<'QUERIES'
one month (created_at in March 2025):::SELECT * FROM unified.chunks WHERE created_at >= '2025-03-01 00:00+00' AND created_at < '2025-04-01 00:00+00'
one day:::SELECT * FROM unified.chunks WHERE created_at >= '2025-03-10 00:00+00' AND created_at < '2025-03-11 00:00+00'
last 7 days (now(), pruned at executor start):::SELECT * FROM unified.chunks WHERE created_at >= now() - interval '7 days'
Cognee: a dataset's chunks in one month:::SELECT * FROM unified.chunks WHERE cognee_dataset_id = '00000000-0000-0000-0000-000000000001' AND created_at >= '2025-06-01 00:00+00' AND created_at < '2025-07-01 00:00+00'
Cognee: a dataset's chunks, no time filter:::SELECT * FROM unified.chunks WHERE cognee_dataset_id = '00000000-0000-0000-0000-000000000001'
Claude-Context: a file's chunks (project + path):::SELECT * FROM unified.chunks WHERE project_id = 'proj-2' AND relative_path = 'src/f2.ts'
Claude-Context: one chunk by source id:::SELECT * FROM unified.chunks WHERE source = 'claude_context' AND source_collection = '' AND source_id = 'r42'
QUERIES
