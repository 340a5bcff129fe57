#!/usr/bin/env bash
# Recovery of decided distributed transactions after an immediate stop (see
# BENCHMARKS.md).
#
#   bash bench/dtx/recovery.sh
#   BENCH_BASELINE_PG_CONFIG=/path/to/other/pg_config bash bench/dtx/recovery.sh
#
# For each size in BENCH_RECOVERY_SIZES (default "1000 10000") and each
# layout -- "one": every participant in unified_pg.database; "two": half of
# them in a second database -- it starts a throwaway server (Unix socket
# only, default max_worker_processes), prepares that many participants of
# decided transactions (two per transaction, 'committing' in the log) with
# the resolver parked, stops the server with -m immediate, starts it, and
# measures the seconds from "ready to accept connections" (the server's
# log) until no participant is left prepared.  The rows of every
# participant are checked afterwards.
#
# With BENCH_BASELINE_PG_CONFIG, every case is run first with that
# installation (another build of unified_pg, e.g. main's, installed into a
# copy of the same PostgreSQL) and then with this checkout's build, and
# the ratio baseline/candidate is printed.  BENCH_VERBOSE=1 also shows the
# server's start-up lines and the resolver's pass.  The machine-wide
# install lock is held for the whole run.
source "$(dirname "$0")/../../scripts/lib.sh"

SIZES=${BENCH_RECOVERY_SIZES:-1000 10000}
LAYOUTS=${BENCH_RECOVERY_LAYOUTS:-one two}
PORT=${BENCH_PORT:-5631}
BASELINE=${BENCH_BASELINE_PG_CONFIG:-}

take_install_lock "unified_pg benchmark"
build_and_install >/dev/null

WORK=$(mktemp -d /tmp/unified_pg-bench.XXXXXX)
chmod 755 "$WORK"
is_root && chown postgres: "$WORK"
SOCK=$WORK/sock
as_pg mkdir -p "$SOCK"
CURRENT_BINDIR=
CURRENT_DATA=

cleanup() {
    if [ -n "$CURRENT_DATA" ]; then
        as_pg "$CURRENT_BINDIR/pg_ctl" -D "$CURRENT_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# psql against the current server; extra arguments go to psql.
psql_b() { as_pg "$CURRENT_BINDIR/psql" -X -q -h "$SOCK" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }

# The SQL that prepares $1 participants ($1 / 2 transactions) in layout $2:
# the first participant in bench, the second in bench or in other.
prepare_sql() {
    local n=$1 layout=$2 db=$3 ntx=$(($1 / 2)) i who
    if [ "$db" = bench ]; then
        printf "SELECT unified.begin_distributed('r' || i, '{claude,cognee}') FROM generate_series(1, %d) i;\n" "$ntx"
    fi
    for i in $(seq 1 "$ntx"); do
        if [ "$db" = bench ]; then
            printf "BEGIN; INSERT INTO bench_claude VALUES (%d); PREPARE TRANSACTION 'unified:r%d:claude';\n" "$i" "$i"
        fi
        if { [ "$layout" = one ] && [ "$db" = bench ]; } || { [ "$layout" = two ] && [ "$db" = other ]; }; then
            printf "BEGIN; INSERT INTO bench_cognee VALUES (%d); PREPARE TRANSACTION 'unified:r%d:cognee';\n" "$i" "$i"
        fi
    done
}

# Seconds from ready until nothing is left prepared, for $1 participants in
# layout $2 with the installation of pg_config $3.
measure() {
    local n=$1 layout=$2 pgc=$3 data ready t1 left rows
    CURRENT_BINDIR=$("$pgc" --bindir)
    data=$WORK/data-$n-$layout-$RANDOM
    as_pg "$CURRENT_BINDIR/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat <<CONF | as_pg tee -a "$data/postgresql.conf" >/dev/null
port = $PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'bench'
max_prepared_transactions = $((n + 100))
shared_buffers = '256MB'
max_wal_size = '4GB'
log_line_prefix = '%m [%p] '
CONF
    as_pg "$CURRENT_BINDIR/pg_ctl" -D "$data" -l "$data/server.log" -w start >/dev/null
    CURRENT_DATA=$data
    psql_b -d postgres -c "CREATE DATABASE bench" -c "CREATE DATABASE other"
    psql_b -d bench -c "CREATE EXTENSION unified_pg" \
        -c "CREATE TABLE bench_claude (n int)" -c "CREATE TABLE bench_cognee (n int)"
    psql_b -d other -c "CREATE TABLE bench_cognee (n int)"

    # park the resolver so that the participants stay in doubt
    psql_b -d bench -c "ALTER SYSTEM SET unified_pg.resolver_naptime = '30min'" -c "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 100); do
        [ "$(psql_b -d bench -At -c 'SELECT max(naptime_ms) FROM unified.worker_status()')" = 1800000 ] && break
        sleep 0.1
    done
    prepare_sql "$n" "$layout" bench | psql_b -d bench >/dev/null
    [ "$layout" = two ] && prepare_sql "$n" "$layout" other | psql_b -d other >/dev/null
    psql_b -d bench -c "UPDATE unified.transaction_log SET state = 'committing', decided_at = now()" \
        -c "ALTER SYSTEM RESET unified_pg.resolver_naptime" >/dev/null
    left=$(psql_b -d bench -At -c "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'unified:r%'")
    [ "$left" = "$n" ] || die "prepared $left participants, not $n"

    as_pg "$CURRENT_BINDIR/pg_ctl" -D "$data" -m immediate -w stop >/dev/null
    : | as_pg tee "$data/server.log" >/dev/null
    as_pg "$CURRENT_BINDIR/pg_ctl" -D "$data" -l "$data/server.log" -w start >/dev/null
    while :; do
        left=$(psql_b -d bench -At -c "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'unified:r%'" 2>/dev/null || echo x)
        [ "$left" = 0 ] && break
        sleep 0.02
    done
    t1=$(date +%s.%N)
    ready=$(sed -n 's/^\([0-9-]* [0-9:.]*\) UTC .*database system is ready to accept connections.*/\1/p' "$data/server.log" | tail -1)
    ready=$(date -u -d "$ready" +%s.%N)
    rows=$(( $(psql_b -d bench -At -c "SELECT count(*) FROM bench_claude") + \
             $(psql_b -d bench -At -c "SELECT count(*) FROM bench_cognee") + \
             $(psql_b -d other -At -c "SELECT count(*) FROM bench_cognee") ))
    [ "$rows" = "$n" ] || die "found $rows committed rows, not $n"
    if [ -n "${BENCH_VERBOSE:-}" ]; then
        grep -E "ready to accept|started in database|ERROR|FATAL|terminated|exited" "$data/server.log" | head -20 >&2
        psql_b -d bench -At -c "SELECT 'passes ' || passes || ', last pass ' || round(last_pass_ms) || ' ms' FROM unified.resolver_status" >&2
    fi
    as_pg "$CURRENT_BINDIR/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    CURRENT_DATA=
    as_pg rm -rf "$data"
    awk -v a="$ready" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}

say "== recovery after an immediate stop: seconds from ready until no decided participant is left prepared"
say "   PostgreSQL $("$(pg_bindir)/postgres" --version | awk '{print $3}'), $(nproc) CPUs, default max_worker_processes"
if [ -n "$BASELINE" ]; then
    printf '%-14s %-6s %12s %12s %10s\n' participants layout baseline_s candidate_s base/cand
else
    printf '%-14s %-6s %12s\n' participants layout candidate_s
fi
for n in $SIZES; do
    for layout in $LAYOUTS; do
        if [ -n "$BASELINE" ]; then
            b=$(measure "$n" "$layout" "$BASELINE")
            c=$(measure "$n" "$layout" "$PG_CONFIG")
            awk -v n="$n" -v l="$layout" -v b="$b" -v c="$c" 'BEGIN {
                printf "%-14s %-6s %12.2f %12.2f %10.1f\n", n, l, b, c, (c > 0 ? b / c : 0) }'
        else
            c=$(measure "$n" "$layout" "$PG_CONFIG")
            printf '%-14s %-6s %12.2f\n' "$n" "$layout" "$c"
        fi
    done
done
