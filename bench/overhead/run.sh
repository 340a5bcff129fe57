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
# to round.  Prints each round's TPS and the backends' CPU time per
# transaction (from the postmaster's reaped-children CPU counters, which
# moves far less than TPS when other work shares the machine), the CPU
# time the unified_pg background workers (resolver, maintenance) spent
# during the upg runs, per transaction, and the machine's load average;
# then per workload the median over rounds of upg/bare and pgss/bare
# (paired by round).  Targets: upg keeps >= 98 % of bare TPS and costs
# less than pgss.
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
    backends_gone
}

# Wait until the backends of the last pgbench run have exited and been
# reaped.  pgbench returns as soon as it has closed its connections; a
# backend still exiting then would put its whole run's CPU time into the
# next run's reading (this once made select-only, which follows the
# warm-up, look 10 to 27 % more expensive per transaction).
backends_gone() {
    local pm i
    pm=$(head -1 "$DATA/postmaster.pid")
    for i in $(seq 1 100); do
        ps -o args= --ppid "$pm" | grep -q -e 'postgres: postgres bench' -e defunct || return 0
        sleep 0.05
    done
}

pg_env=(env PGHOST="$SOCK" PGPORT="$PORT" PGUSER=postgres PGAPPNAME=claude-context)

as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w -o "-c shared_preload_libraries=unified_pg" start >/dev/null
running=1
as_pg "$BINDIR/createdb" -h "$SOCK" -p "$PORT" -U postgres bench
as_pg "${pg_env[@]}" "$BINDIR/psql" -X -q -d bench -c 'CREATE EXTENSION unified_pg'
say "==> pgbench -i -s $SCALE"
as_pg "${pg_env[@]}" "$BINDIR/pgbench" -i -q -s "$SCALE" bench >/dev/null 2>&1

# CPU time (clock ticks) of the postmaster's children that have exited:
# the backends of finished pgbench runs.
reaped_cpu() {
    local pid
    pid=$(head -1 "$DATA/postmaster.pid")
    awk '{ print $16 + $17 }' "/proc/$pid/stat"
}

# CPU time (clock ticks) used so far by the unified_pg background workers
# (0 for the other variants, which have none).
worker_cpu() {
    local pm pid t=0
    pm=$(head -1 "$DATA/postmaster.pid")
    for pid in $(ps -o pid=,args= --ppid "$pm" | awk '/unified_pg (resolver|maintenance)/ { print $1 }'); do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

# run VARIANT WORKLOAD: one pgbench run; prints its TPS, the backends' CPU
# microseconds per transaction (much less sensitive than TPS to what else
# the machine runs) and the background workers' CPU microseconds per
# transaction.
run() {
    local flags="" out cpu0 cpu1 w0 w1 n tps
    [ "$2" = select ] && flags="-S"
    cpu0=$(reaped_cpu)
    w0=$(worker_cpu)
    out=$(as_pg "${pg_env[@]}" "$BINDIR/pgbench" -n $flags -c "$CLIENTS" -j 2 -T "$SECS" bench 2>/dev/null)
    w1=$(worker_cpu)
    backends_gone
    cpu1=$(reaped_cpu)
    n=$(printf '%s\n' "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
    tps=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
    awk -v t="$tps" -v c=$((cpu1 - cpu0)) -v w=$((w1 - w0)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%s %.2f %.3f\n", t, c * 1000000 / hz / n, w * 1000000 / hz / n }'
}

variants=(bare upg pgss)
declare -A result cpu wcpu
say "==> $ROUNDS rounds, ${SECS}s per run, $CLIENTS clients"
printf '%-6s %-8s %10s %10s %10s   %8s %8s %8s %9s   %s\n' round workload "bare tps" "upg tps" "pgss tps" \
    "bare us" "upg us" "pgss us" "upg bgw" "load average"
for r in $(seq 1 "$ROUNDS"); do
    order=("${variants[@]:$(( (r - 1) % 3 ))}" "${variants[@]:0:$(( (r - 1) % 3 ))}")
    for v in "${order[@]}"; do
        start "$v"
        for w in select tpcb; do
            read -r result[$r,$v,$w] cpu[$r,$v,$w] wcpu[$r,$v,$w] < <(run "$v" "$w")
        done
    done
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    for w in select tpcb; do
        printf '%-6s %-8s %10.0f %10.0f %10.0f   %8s %8s %8s %9s   %s\n' "$r" "$w" \
            "${result[$r,bare,$w]}" "${result[$r,upg,$w]}" "${result[$r,pgss,$w]}" \
            "${cpu[$r,bare,$w]}" "${cpu[$r,upg,$w]}" "${cpu[$r,pgss,$w]}" "${wcpu[$r,upg,$w]}" "$load"
    done
done

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# median over rounds of the ratio A/B of array NAME, for workload W
median_ratio() {
    local -n arr=$1
    local w=$2 a=$3 b=$4 r
    for r in $(seq 1 "$ROUNDS"); do
        awk -v x="${arr[$r,$a,$w]}" -v y="${arr[$r,$b,$w]}" 'BEGIN { printf "%.4f\n", x / y }'
    done | median
}

say ""
say "medians of the per-round ratios (TPS: higher is better; CPU per transaction: lower is better)"
printf '%-8s %10s %10s %12s %12s %8s\n' workload "upg tps" "pgss tps" "upg cpu/xact" "pgss cpu/xact" "target"
for w in select tpcb; do
    u=$(median_ratio result "$w" upg bare)
    p=$(median_ratio result "$w" pgss bare)
    uc=$(median_ratio cpu "$w" upg bare)
    pc=$(median_ratio cpu "$w" pgss bare)
    met=$(awk -v u="$u" -v p="$p" 'BEGIN { print (u >= 0.98 && u > p) ? "met" : "missed" }')
    printf '%-8s %10.3f %10.3f %12.3f %12.3f %8s\n' "$w" "$u" "$p" "$uc" "$pc" "$met"
done
say "(ratios against bare; target: upg tps >= 0.98 and above pgss tps)"
say "(us: backend CPU per transaction; upg bgw: the unified_pg workers' CPU per transaction)"
