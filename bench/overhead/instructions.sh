#!/usr/bin/env bash
# Instructions per transaction spent by a backend, with unified_pg preloaded,
# without it, and with pg_stat_statements: the overhead of the hooks in a
# unit that other work on the machine cannot disturb (TPS on a shared
# machine moves by tens of percent from run to run; see run.sh).
#
# The server runs under valgrind's callgrind, which counts every
# instruction each process executes and writes the count when the process
# exits.  For each variant one client runs pgbench select-only and
# TPC-B-like twice, N1 and N2 transactions; the difference of the two
# backends' counts divided by N2 - N1 is the cost of one transaction,
# connection start and exit excluded.
#
#   bench/overhead/instructions.sh     BENCH_N1=500 BENCH_N2=2500 BENCH_PORT=5642
#
# Needs valgrind.  Builds and installs the extension and holds the
# machine-wide install lock while it runs.
source "$(dirname "$0")/../../scripts/lib.sh"

N1=${BENCH_N1:-500}       # select-only; TPC-B runs a fifth of these
N2=${BENCH_N2:-2500}
PORT=${BENCH_PORT:-5642}

command -v valgrind >/dev/null || die "valgrind is needed (apt-get install valgrind)"
bash "$UPG_ROOT/scripts/deps.sh"
take_install_lock "unified_pg benchmark"
build_and_install

BINDIR=$(pg_bindir)
WORK=$(mktemp -d /tmp/unified_pg-bench.XXXXXX)
chmod 755 "$WORK"
is_root && chown postgres: "$WORK"
DATA=$WORK/data
SOCK=$WORK/sock
CG=$WORK/cg
running=0
cleanup() {
    [ "$running" = 1 ] && as_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 300 stop >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

as_pg mkdir -p "$SOCK" "$CG"
as_pg "$BINDIR/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<CONF
port = $PORT
unix_socket_directories = '$SOCK'
listen_addresses = ''
unified_pg.database = 'bench'
unified_pg.enforce_pool_limits = on
synchronous_commit = off
autovacuum = off
jit = off
CONF
pg_env=(env PGHOST="$SOCK" PGPORT="$PORT" PGUSER=postgres PGAPPNAME=claude-context)

as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w -o "-c shared_preload_libraries=unified_pg" start >/dev/null
running=1
as_pg "$BINDIR/createdb" -h "$SOCK" -p "$PORT" -U postgres bench
as_pg "${pg_env[@]}" "$BINDIR/psql" -X -q -d bench -c 'CREATE EXTENSION unified_pg'
as_pg "${pg_env[@]}" "$BINDIR/pgbench" -i -q -s 1 bench >/dev/null 2>&1
as_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
running=0

# start_valgrind PRELOAD: the server under callgrind, each process counted.
start_valgrind() {
    as_pg bash -c "cd '$WORK' && exec valgrind -q --tool=callgrind --callgrind-out-file='$CG/cg.%p' \
        '$BINDIR/postgres' -D '$DATA' -c shared_preload_libraries='$1' >>'$WORK/server.log' 2>&1" &
    running=1
    for _ in $(seq 1 300); do
        as_pg "$BINDIR/pg_isready" -q -h "$SOCK" -p "$PORT" && return 0
        sleep 1
    done
    die "the server under valgrind did not start"
}

# instructions of the backend of one pgbench run of N transactions: the
# largest count among the processes that ended meanwhile
backend_ir() {
    local flags=$1 n=$2 before f best=0 ir
    before=$(ls "$CG")
    as_pg "${pg_env[@]}" "$BINDIR/pgbench" -n $flags -c 1 -t "$n" bench >/dev/null 2>&1
    sleep 3    # the backend writes its counts as it exits
    for f in $(comm -13 <(printf '%s\n' "$before") <(ls "$CG")); do
        ir=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$CG/$f")
        [ -n "$ir" ] && [ "$ir" -gt "$best" ] && best=$ir
    done
    printf '%s\n' "$best"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f\n", a / b }'; }

declare -A per
for v in bare upg pgss; do
    case $v in
        bare) preload="" ;;
        upg) preload="unified_pg" ;;
        pgss) preload="pg_stat_statements" ;;
    esac
    say "==> $v under callgrind"
    start_valgrind "$preload"
    backend_ir -S 50 >/dev/null    # warm the caches of the shared buffers
    for w in select tpcb; do
        flags="" n1=$((N1 / 5)) n2=$((N2 / 5))
        [ "$w" = select ] && flags="-S" n1=$N1 n2=$N2
        a=$(backend_ir "$flags" "$n1")
        b=$(backend_ir "$flags" "$n2")
        per[$v,$w]=$(( (b - a) / (n2 - n1) ))
    done
    as_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 300 stop >/dev/null
    running=0
done

say ""
printf '%-8s %12s %12s %12s %10s %10s\n' workload "bare Ir" "upg Ir" "pgss Ir" "upg/bare" "pgss/bare"
for w in select tpcb; do
    printf '%-8s %12s %12s %12s %10s %10s\n' "$w" "${per[bare,$w]}" "${per[upg,$w]}" "${per[pgss,$w]}" \
        "$(ratio "${per[upg,$w]}" "${per[bare,$w]}")" "$(ratio "${per[pgss,$w]}" "${per[bare,$w]}")"
done
say "(instructions per transaction of one backend; ratio: lower is better)"
