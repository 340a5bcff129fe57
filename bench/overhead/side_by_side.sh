#!/usr/bin/env bash
# Overhead of unified_pg's statistics hooks, measured side by side: the
# three variants of run.sh run at the same moment, so that whatever else
# the machine does hits all three alike.
#
# Three servers, one per variant, each with its own pgbench database
# (scale 10):
#
#   bare   shared_preload_libraries = ''
#   upg    shared_preload_libraries = 'unified_pg' (worker, statistics hooks,
#          budgets enforced; clients in the pool claude-context)
#   pgss   shared_preload_libraries = 'pg_stat_statements'
#
# Each round starts pgbench (8 clients, 2 threads) against all three at
# once, select-only then TPC-B-like, for BENCH_SECONDS.  The machine has
# fewer cores than processes, so the kernel's scheduler gives each of the
# three the same share of CPU time, and each server's TPS is inversely
# proportional to what one of its transactions costs: upg/bare is the
# fraction of bare's throughput that unified_pg keeps, free of the load
# swings that make sequential runs (run.sh) differ by tens of percent.
# Prints each round's TPS and the median over rounds of upg/bare and
# pgss/bare.  Targets: upg keeps >= 98 % of bare TPS and costs less than
# pgss.
#
#   bench/overhead/side_by_side.sh   BENCH_ROUNDS=7 BENCH_SECONDS=10 BENCH_CLIENTS=8 BENCH_PORT=5643
#
# (uses ports BENCH_PORT to BENCH_PORT + 2).  It builds and installs the
# extension and holds the machine-wide install lock while it runs.
source "$(dirname "$0")/../../scripts/lib.sh"

ROUNDS=${BENCH_ROUNDS:-7}
SECS=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-8}
PORT=${BENCH_PORT:-5643}
SCALE=${BENCH_SCALE:-10}

bash "$UPG_ROOT/scripts/deps.sh"
take_install_lock "unified_pg benchmark"
build_and_install

BINDIR=$(pg_bindir)
WORK=$(mktemp -d /tmp/unified_pg-bench.XXXXXX)
chmod 755 "$WORK"
is_root && chown postgres: "$WORK"
variants=(bare upg pgss)
declare -A port preload
port=([bare]=$PORT [upg]=$((PORT + 1)) [pgss]=$((PORT + 2)))
preload=([bare]="" [upg]="unified_pg" [pgss]="pg_stat_statements")
cleanup() {
    local v
    for v in "${variants[@]}"; do
        [ -f "$WORK/$v/postmaster.pid" ] &&
            as_pg "$BINDIR/pg_ctl" -D "$WORK/$v" -m fast -w stop >/dev/null 2>&1
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# env for psql/pgbench against variant $1
pg_env() { echo env PGHOST="$WORK/sock" PGPORT="${port[$1]}" PGUSER=postgres PGAPPNAME=claude-context; }

as_pg mkdir -p "$WORK/sock"
for v in "${variants[@]}"; do
    as_pg "$BINDIR/initdb" -D "$WORK/$v" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    as_pg tee -a "$WORK/$v/postgresql.conf" >/dev/null <<CONF
port = ${port[$v]}
unix_socket_directories = '$WORK/sock'
listen_addresses = ''
shared_preload_libraries = '${preload[$v]}'
unified_pg.database = 'bench'
unified_pg.enforce_pool_limits = on
shared_buffers = '256MB'
synchronous_commit = off
max_wal_size = '4GB'
checkpoint_timeout = '30min'
jit = off
CONF
    as_pg "$BINDIR/pg_ctl" -D "$WORK/$v" -l "$WORK/$v.log" -w start >/dev/null
    as_pg $(pg_env "$v") "$BINDIR/createdb" bench
    [ "$v" = upg ] && as_pg $(pg_env "$v") "$BINDIR/psql" -X -q -d bench -c 'CREATE EXTENSION unified_pg'
    say "==> $v: pgbench -i -s $SCALE"
    as_pg $(pg_env "$v") "$BINDIR/pgbench" -i -q -s "$SCALE" bench >/dev/null 2>&1
    as_pg $(pg_env "$v") "$BINDIR/pgbench" -n -S -c "$CLIENTS" -j 2 -T 2 bench >/dev/null 2>&1
done

# round WORKLOAD: pgbench against the three servers at once; prints the
# three TPS in the order of variants.
round() {
    local flags="" v
    [ "$1" = select ] && flags="-S"
    for v in "${variants[@]}"; do
        as_pg $(pg_env "$v") "$BINDIR/pgbench" -n $flags -c "$CLIENTS" -j 2 -T "$SECS" bench \
            >"$WORK/$v.out" 2>/dev/null &
    done
    wait
    for v in "${variants[@]}"; do
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/$v.out"
    done | paste -sd' '
}

declare -A tps
say "==> $ROUNDS rounds, ${SECS}s per run, $CLIENTS clients per server, the three servers at once"
printf '%-6s %-8s %10s %10s %10s %9s %9s   %s\n' round workload "bare tps" "upg tps" "pgss tps" \
    "upg/bare" "pgss/bare" "load average"
for r in $(seq 1 "$ROUNDS"); do
    for w in select tpcb; do
        read -r tps[$r,bare,$w] tps[$r,upg,$w] tps[$r,pgss,$w] < <(round "$w")
        printf '%-6s %-8s %10.0f %10.0f %10.0f %9.3f %9.3f   %s\n' "$r" "$w" \
            "${tps[$r,bare,$w]}" "${tps[$r,upg,$w]}" "${tps[$r,pgss,$w]}" \
            "$(awk -v a="${tps[$r,upg,$w]}" -v b="${tps[$r,bare,$w]}" 'BEGIN { print a / b }')" \
            "$(awk -v a="${tps[$r,pgss,$w]}" -v b="${tps[$r,bare,$w]}" 'BEGIN { print a / b }')" \
            "$(cut -d' ' -f1-3 /proc/loadavg)"
    done
done

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# median over rounds of A/B for workload W
median_ratio() {
    local w=$1 a=$2 b=$3 r
    for r in $(seq 1 "$ROUNDS"); do
        awk -v x="${tps[$r,$a,$w]}" -v y="${tps[$r,$b,$w]}" 'BEGIN { printf "%.4f\n", x / y }'
    done | median
}

say ""
say "medians of the per-round ratios (TPS against bare, the three measured at once)"
printf '%-8s %10s %10s %8s\n' workload "upg tps" "pgss tps" "target"
for w in select tpcb; do
    u=$(median_ratio "$w" upg bare)
    p=$(median_ratio "$w" pgss bare)
    met=$(awk -v u="$u" -v p="$p" 'BEGIN { print (u >= 0.98 && u > p) ? "met" : "missed" }')
    printf '%-8s %10.3f %10.3f %8s\n' "$w" "$u" "$p" "$met"
done
say "(target: upg tps >= 0.98 of bare and above pgss)"
