#!/usr/bin/env bash
# Distributed transaction benchmarks (see BENCHMARKS.md).
#
#   bash bench/dtx/run.sh
#
# Starts a throwaway preloaded server on a Unix socket (nothing listens on
# TCP), then:
#   throughput  pgbench, BENCH_SECONDS (default 3) per run, 1/8/32 clients,
#               BENCH_ROUNDS (default 3) rounds interleaving them, medians:
#               local.sql  (baseline: both writes in one local transaction),
#               api.sql    (two participants through unified_pg's API),
#               client.sql (the original design's client-side protocol),
#               original.sql (the original design's coordinator as
#                           written: an upsert of the log row in its own
#                           transaction per state; one database only),
#               floor.sql  (both participants prepared and committed with
#                           no log: not crash safe, the participant work
#                           alone; one database only);
#               prints tps and ratios against the baseline of the same run
#   two dbs     the same three protocols with the Cognee participant in a
#               second database (bench/dtx/twodb.py, asyncpg, one process
#               per client), 1/8/32 clients, interleaved the same way
#   recovery    BENCH_RECOVERY_PARTICIPANTS (default 1000) prepared
#               participants of decided transactions, immediate stop,
#               start: seconds until none is left prepared
# BENCH_FLUSH_DELAY_US=N (default unset: the storage as it is) runs the
# server with commit_delay = N and commit_siblings = 0: every WAL flush a
# backend or worker waits for (XLogFlush) then sleeps N microseconds first,
# holding the WAL write lock, which emulates storage whose flush costs N us
# more (network block storage: 0.5-2 ms per flush is common).  Records
# inserted meanwhile share that flush, as they would share a slow one.
# The extension is built and installed under the same machine-wide lock as
# make test, which is held for the whole run.
source "$(dirname "$0")/../../scripts/lib.sh"

SECONDS_PER_RUN=${BENCH_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-1 8 32}
NPART=${BENCH_RECOVERY_PARTICIPANTS:-1000}
PORT=${BENCH_PORT:-5541}
FLUSH_DELAY=${BENCH_FLUSH_DELAY_US:-}
case $FLUSH_DELAY in
    '' | [0-9] | [0-9][0-9] | [0-9][0-9][0-9] | [0-9][0-9][0-9][0-9] | [0-9][0-9][0-9][0-9][0-9]) ;;
    *) die "BENCH_FLUSH_DELAY_US must be a number of microseconds (0 to 99999), not '$FLUSH_DELAY'" ;;
esac

take_install_lock
build_and_install >/dev/null

BINDIR=$(pg_bindir)
WORK=$(mktemp -d /tmp/unified_pg-bench.XXXXXX)
chmod 755 "$WORK"
is_root && chown postgres: "$WORK"
DATA=$WORK/data
SOCK=$WORK/sock
BENCH=$(cd "$(dirname "$0")" && pwd)
as_pg cp "$BENCH"/local.sql "$BENCH"/api.sql "$BENCH"/client.sql "$BENCH"/floor.sql "$BENCH"/original.sql "$WORK"/

cleanup() {
    as_pg "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

as_pg mkdir -p "$SOCK"
as_pg "$BINDIR/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat <<CONF | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
port = $PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'bench'
max_connections = 200
max_worker_processes = 40
max_prepared_transactions = $((NPART + 200))
shared_buffers = '256MB'
CONF
if [ -n "$FLUSH_DELAY" ]; then
    printf "commit_delay = %d\ncommit_siblings = 0\n" "$FLUSH_DELAY" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
fi
as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w start >/dev/null
psql_b() { as_pg "$BINDIR/psql" -X -q -h "$SOCK" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_b -d postgres -c "CREATE DATABASE bench"
psql_b -d bench <<'SQL'
CREATE EXTENSION unified_pg;
CREATE SEQUENCE bench_seq;
CREATE TABLE bench_claude (n bigint, who text);
CREATE TABLE bench_cognee (n bigint, who text);
CREATE TABLE client_log (tx_id text, state text, at timestamptz DEFAULT clock_timestamp());
CREATE TABLE original_log (id text PRIMARY KEY, state text NOT NULL, participants text[],
                           created_at timestamptz, updated_at timestamptz);
SQL
psql_b -d postgres -c "CREATE DATABASE bench2"
psql_b -d bench2 -c "CREATE TABLE bench_cognee (n bigint, who text)"

# One measurement: tps of protocol $2 with $3 clients, mode $1 (one|two databases).
measure() {
    local mode=$1 w=$2 c=$3 out
    psql_b -d bench -c "CHECKPOINT" >/dev/null
    if [ "$mode" = one ]; then
        out=$(cd "$WORK" && as_pg "$BINDIR/pgbench" -h "$SOCK" -p "$PORT" -U postgres -n -M simple \
            -c "$c" -j "$c" -T "$SECONDS_PER_RUN" ${BENCH_LATENCIES:+-r} -f "$w.sql" bench 2>&1) || { say "$out" >&2; die "pgbench $w failed"; }
        [ -n "${BENCH_LATENCIES:-}" ] && printf "%s\n" "$out" | sed -n '/statement latencies/,$p' >&2
        printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1
    else
        (cd "$WORK" && as_pg /usr/bin/python3 twodb.py "$w" "$c" "$SECONDS_PER_RUN" "$SOCK" "$PORT" bench bench2) \
            || die "twodb.py $w failed"
    fi
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The protocols interleaved, ROUNDS rounds each; prints the medians and ratios.
# Where the clients keep the CPUs busy, floor/client is the most API/client
# could be: the API does the floor's work and more (with few clients the
# API's concurrent COMMIT PREPAREDs wait for one flush less than the
# floor's).  original and floor run in one database only.
throughput() {
    local mode=$1 c w r protocols="local api client"
    [ "$mode" = one ] && protocols="local api client original floor"
    printf '%-8s %10s %10s %10s %10s %10s %10s %10s %10s %12s %12s\n' clients local_tps api_tps client_tps \
        orig_tps floor_tps api/local api/client api/orig floor/client floor/orig
    for c in $CLIENTS; do
        declare -A runs=()
        for r in $(seq 1 "$ROUNDS"); do
            for w in $protocols; do
                runs[$w]="${runs[$w]:-} $(measure "$mode" "$w" "$c")"
            done
        done
        # shellcheck disable=SC2086
        awk -v c="$c" -v l="$(median ${runs[local]})" -v a="$(median ${runs[api]})" -v k="$(median ${runs[client]})" \
            -v o="$( [ -n "${runs[original]:-}" ] && median ${runs[original]})" \
            -v f="$( [ -n "${runs[floor]:-}" ] && median ${runs[floor]})" '
            function r(x, y) { return x == "" ? "-" : sprintf("%.3f", x / y) }
            BEGIN {
            printf "%-8s %10.0f %10.0f %10.0f %10s %10s %10.3f %10.3f %10s %12s %12s\n", c, l, a, k,
                o == "" ? "-" : sprintf("%.0f", o), f == "" ? "-" : sprintf("%.0f", f),
                a / l, a / k, o == "" ? "-" : sprintf("%.3f", a / o), r(f, k), o == "" ? "-" : r(f, o) }'
    done
    sleep 1
    psql_b -d bench -At -c "SELECT 'log: ' || string_agg(state || '=' || transactions, ' ') FROM unified.transaction_stats"
    psql_b -d bench -At -c "SELECT 'prepared left: ' || count(*) FROM pg_prepared_xacts"
}

as_pg cp "$BENCH"/twodb.py "$WORK"/
say "== throughput, one database: ${SECONDS_PER_RUN}s per run, median of $ROUNDS interleaved rounds, PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}'), $(nproc) CPUs"
if [ -n "$FLUSH_DELAY" ]; then
    say "== flush delay: commit_delay = $(psql_b -d bench -At -c 'SHOW commit_delay') us, commit_siblings = $(psql_b -d bench -At -c 'SHOW commit_siblings') (BENCH_FLUSH_DELAY_US=$FLUSH_DELAY: every waited-for WAL flush costs $FLUSH_DELAY us more)"
else
    say "== flush delay: none (the storage as it is; BENCH_FLUSH_DELAY_US unset)"
fi
say "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
throughput one
say "== throughput, two databases (claude participant and log in bench, cognee participant in bench2)"
throughput two
[ "$NPART" -gt 0 ] || exit 0

say "== recovery: $NPART decided participants, immediate stop, start"
# Park the resolver (a half-hour nap) so the participants stay in doubt.
psql_b -d bench -c "ALTER SYSTEM SET unified_pg.resolver_naptime = '30min'" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 100); do
    [ "$(psql_b -d bench -At -c 'SELECT naptime_ms FROM unified.worker_status()')" = 1800000 ] && break
    sleep 0.1
done
sleep 0.5
{
    ntx=$((NPART / 2))
    printf "SELECT unified.begin_distributed('r' || i, '{claude,cognee}') FROM generate_series(1, %d) i;\n" "$ntx"
    for i in $(seq 1 "$ntx"); do
        printf "BEGIN; INSERT INTO bench_claude VALUES (%d, 'r'); PREPARE TRANSACTION 'unified:r%d:claude';\n" "$i" "$i"
        printf "BEGIN; INSERT INTO bench_cognee VALUES (%d, 'r'); PREPARE TRANSACTION 'unified:r%d:cognee';\n" "$i" "$i"
    done
    printf "UPDATE unified.transaction_log SET state = 'committing', decided_at = now() WHERE tx_id LIKE 'r%%';\n"
} | psql_b -d bench >/dev/null
psql_b -d bench -c "ALTER SYSTEM RESET unified_pg.resolver_naptime" >/dev/null
before=$(psql_b -d bench -At -c "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'unified:r%'")
as_pg "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null
t0=$(date +%s.%N)
as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w start >/dev/null
t_ready=$(date +%s.%N)
while :; do
    left=$(psql_b -d bench -At -c "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'unified:r%'" 2>/dev/null || echo x)
    [ "$left" = 0 ] && break
    sleep 0.05
done
t1=$(date +%s.%N)
rows=$(psql_b -d bench -At -c "SELECT count(*) FROM bench_claude WHERE who = 'r'")
state=$(psql_b -d bench -At -c "SELECT string_agg(state || '=' || n, ' ') FROM (SELECT state, count(*) n FROM unified.transaction_log WHERE tx_id LIKE 'r%' GROUP BY 1) s")
awk -v b="$before" -v t0="$t0" -v r="$t_ready" -v t1="$t1" 'BEGIN {
    printf "prepared before stop: %d\nstart (recovery) took: %.2f s\nnone left prepared after: %.2f s from pg_ctl start (%.2f s after ready)\n", b, r - t0, t1 - t0, t1 - r }'
say "rows committed per side: $rows; log: $state"
