# Helpers for the benchmarks; sourced.  Each benchmark runs on a throwaway
# preloaded server of its own (Unix socket only) so that it measures the
# installed build and nothing else on the machine, and prints ratios
# against a baseline measured in the same run.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

BENCH_PORT=${BENCH_PORT:-5540}
BENCH_DB=bench

# Install this checkout's build and start a throwaway server; sets
# BENCH_WORK, BENCH_PSQL and BENCH_ENV.  Holds the machine-wide install
# lock (as make test does) until the benchmark ends.
bench_start_server() {
    local extra_conf=${1:-}
    take_install_lock
    build_and_install >/dev/null
    BENCH_WORK=$(mktemp -d /tmp/unified_pg-bench.XXXXXX)
    chmod 755 "$BENCH_WORK"
    is_root && chown postgres: "$BENCH_WORK"
    local bindir
    bindir=$(pg_bindir)
    as_pg mkdir -p "$BENCH_WORK/sock"
    as_pg "$bindir/initdb" -D "$BENCH_WORK/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    {
        server_conf "$BENCH_PORT" "$BENCH_WORK/sock" "$BENCH_DB"
        printf "listen_addresses = ''\nshared_buffers = '1GB'\nmax_wal_size = '8GB'\ncheckpoint_timeout = '30min'\n%s\n" "$extra_conf"
    } | as_pg tee -a "$BENCH_WORK/data/postgresql.conf" >/dev/null
    as_pg "$bindir/pg_ctl" -D "$BENCH_WORK/data" -l "$BENCH_WORK/server.log" -w start >/dev/null
    BENCH_ENV=(env PGHOST="$BENCH_WORK/sock" PGPORT="$BENCH_PORT" PGUSER=postgres)
    BENCH_PSQL=("${BENCH_ENV[@]}" "$bindir/psql" -X -q -v ON_ERROR_STOP=1)
    as_pg "$bindir/createdb" -h "$BENCH_WORK/sock" -p "$BENCH_PORT" -U postgres "$BENCH_DB"
    trap bench_stop_server EXIT
}

bench_stop_server() {
    as_pg "$(pg_bindir)/pg_ctl" -D "$BENCH_WORK/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$BENCH_WORK"
}

# Run SQL in the benchmark database; extra arguments go to psql.
bench_sql() {
    as_pg "${BENCH_PSQL[@]}" -d "$BENCH_DB" "$@"
}

# Milliseconds taken by one SQL script (read from stdin), best of $1 runs,
# with $2 (SQL) run before each try to reset the state.
bench_best_ms() {
    local runs=$1 reset=$2 sql best= t0 t1 ms i
    sql=$(cat)
    for i in $(seq 1 "$runs"); do
        bench_sql -c "$reset" >/dev/null
        t0=$(date +%s%N)
        printf '%s\n' "$sql" | bench_sql >/dev/null
        t1=$(date +%s%N)
        ms=$(( (t1 - t0) / 1000000 ))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    printf '%s\n' "$best"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f\n", a / b }'; }
