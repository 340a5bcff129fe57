#!/usr/bin/env bash
# Overhead of unified_pg's statistics hooks on ordinary work.
#
# One server, one pgbench database (scale 10), restarted in three ways and
# measured in interleaved rounds, so that whatever else the machine does
# hits every variant alike:
#
#   bare   shared_preload_libraries = ''
#   upg    shared_preload_libraries = 'unified_pg' (worker, statistics hooks,
#          budgets enforced; clients in the pool claude-context)
#   pgss   shared_preload_libraries = 'pg_stat_statements'
#
# Each round runs pgbench select-only (-S) and TPC-B-like, 8 clients, for
# BENCH_SECONDS each, for every variant in an order that rotates from round
# to round.  Prints each round's TPS, then per workload the median over
# rounds of upg/bare and pgss/bare (paired by round).  Targets: upg keeps
# >= 98 % of bare TPS and costs less than pgss.
#
#   bench/overhead/run.sh        BENCH_ROUNDS=5 BENCH_SECONDS=10 BENCH_CLIENTS=8 BENCH_PORT=5641
#
# It builds and installs the extension and holds the machine-wide install
# lock while it runs.  synchronous_commit is off so that TPC-B measures CPU,
# not the disk's flush latency (which would hide any overhead).
source "$(dirname "$0")/../../scripts/lib.sh"

ROUNDS=${BENCH_ROUNDS:-5}
SECS=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-8}
PORT=${BENCH_PORT:-5641}
SCALE=${BENCH_SCALE:-10}

bash "$UPG_ROOT/scripts/deps.sh"
take_install_lock "unified_pg benchmark"
build_and_install

BINDIR=$(pg_bindir)
WORK=$(mktemp -d /tmp/unified_pg-bench.XXXXXX)
chmod 755 "$WORK"
is_root && chown postgres: "$WORK"
DATA=$WORK/data
SOCK=$WORK/sock
running=0
cleanup() {
    [ "$running" = 1 ] && as_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

as_pg mkdir -p "$SOCK"
as_pg "$BINDIR/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<CONF
port = $PORT
unix_socket_directories = '$SOCK'
listen_addresses = ''
unified_pg.database = 'bench'
unified_pg.enforce_pool_limits = on
shared_buffers = '256MB'
synchronous_commit = off
max_wal_size = '4GB'
checkpoint_timeout = '30min'
jit = off
CONF

# start VARIANT: (re)start the server with that variant's preload.
start() {
    local preload
    case $1 in
        bare) preload="" ;;
        upg) preload="unified_pg" ;;
        pgss) preload="pg_stat_statements" ;;
    esac
    [ "$running" = 1 ] && as_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w \
        -o "-c shared_preload_libraries='$preload'" start >/dev/null
    running=1
    # warm shared_buffers (empty after the restart) before measuring
    as_pg "${pg_env[@]}" "$BINDIR/pgbench" -n -S -c "$CLIENTS" -j 2 -T 2 bench >/dev/null 2>&1
}

pg_env=(env PGHOST="$SOCK" PGPORT="$PORT" PGUSER=postgres PGAPPNAME=claude-context)

as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w -o "-c shared_preload_libraries=unified_pg" start >/dev/null
running=1
as_pg "$BINDIR/createdb" -h "$SOCK" -p "$PORT" -U postgres bench
as_pg "${pg_env[@]}" "$BINDIR/psql" -X -q -d bench -c 'CREATE EXTENSION unified_pg'
say "==> pgbench -i -s $SCALE"
as_pg "${pg_env[@]}" "$BINDIR/pgbench" -i -q -s "$SCALE" bench >/dev/null 2>&1

# tps VARIANT WORKLOAD: one pgbench run, prints its TPS.
tps() {
    local flags=""
    [ "$2" = select ] && flags="-S"
    as_pg "${pg_env[@]}" "$BINDIR/pgbench" -n $flags -c "$CLIENTS" -j 2 -T "$SECS" bench 2>/dev/null \
        | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

variants=(bare upg pgss)
declare -A result
say "==> $ROUNDS rounds, ${SECS}s per run, $CLIENTS clients"
printf '%-6s %-8s %10s %10s %10s\n' round workload bare upg pgss
for r in $(seq 1 "$ROUNDS"); do
    order=("${variants[@]:$(( (r - 1) % 3 ))}" "${variants[@]:0:$(( (r - 1) % 3 ))}")
    for v in "${order[@]}"; do
        start "$v"
        for w in select tpcb; do
            result[$r,$v,$w]=$(tps "$v" "$w")
        done
    done
    for w in select tpcb; do
        printf '%-6s %-8s %10s %10s %10s\n' "$r" "$w" "${result[$r,bare,$w]}" "${result[$r,upg,$w]}" "${result[$r,pgss,$w]}"
    done
done

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

say ""
printf '%-8s %14s %14s %16s\n' workload upg/bare pgss/bare "target met"
for w in select tpcb; do
    u=$(for r in $(seq 1 "$ROUNDS"); do awk -v a="${result[$r,upg,$w]}" -v b="${result[$r,bare,$w]}" 'BEGIN { printf "%.4f\n", a / b }'; done | median)
    p=$(for r in $(seq 1 "$ROUNDS"); do awk -v a="${result[$r,pgss,$w]}" -v b="${result[$r,bare,$w]}" 'BEGIN { printf "%.4f\n", a / b }'; done | median)
    met=$(awk -v u="$u" -v p="$p" 'BEGIN { print (u >= 0.98 && u > p) ? "yes" : "no" }')
    printf '%-8s %14.3f %14.3f %16s\n' "$w" "$u" "$p" "$met"
done
