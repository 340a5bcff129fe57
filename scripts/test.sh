#!/usr/bin/env bash
# make test: install what is missing, build, install, then run every suite
# on throwaway servers and exit non-zero if anything failed.
#
# Suites, in order:
#   regress    pg_regress on sql/NNN_*.sql, against a preloaded server
#   isolation  pg_isolation_regress on test/isolation/specs/*.spec, same server
#   pgtap      pg_prove on test/pgtap/*.sql, same server
#   tap        prove on test/t/*.pl; each test makes its own clusters
#              with PostgreSQL::Test::Cluster
#   clients    test/clients/run.sh if present (real application clients)
#
# The extension is built in the checkout; the tests run as the server's OS
# user from a copy of the checkout in a fresh temporary directory, so the
# checkout may live anywhere and the tests never write to it.  UPG_KEEP=1
# keeps that directory; UPG_SUITES="regress pgtap" runs a subset;
# UPG_REGRESS="001_install 030_x" and UPG_TAP="test/t/010_x.pl" narrow the
# regress and TAP suites.
#
# The extension is installed into the system's PostgreSQL, which every
# checkout on this machine shares, so install and tests run under one lock.
source "$(dirname "$0")/lib.sh"

SUITES=${UPG_SUITES:-regress isolation pgtap tap clients}
PORT=${UPG_TEST_PORT:-5534}
DB=unified_regress

bash "$UPG_ROOT/scripts/deps.sh"
take_install_lock "unified_pg test run"
build_and_install

BINDIR=$(pg_bindir)
WORK=$(mktemp -d /tmp/unified_pg-test.XXXXXX)
chmod 755 "$WORK"
is_root && chown postgres: "$WORK"
SRC=$WORK/src
DATA=$WORK/data
SOCK=$WORK/sock

# a copy of the built tree, owned by the server user (not with tar's
# --one-top-level=src, which would merge the tree's own src/ into the top)
as_pg mkdir "$SRC"
tar -C "$UPG_ROOT" --exclude=.git --exclude=.run --exclude=tmp_check --exclude=results \
    --exclude=output_iso --exclude=node_modules -cf - . | as_pg tar -C "$SRC" -xf -

server_started=0
cleanup() {
    if [ "$server_started" = 1 ]; then
        as_pg "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ "${UPG_KEEP:-0}" = 1 ]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

start_server() {
    as_pg mkdir -p "$SOCK"
    as_pg "$BINDIR/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$WORK/initdb.log"
    {
        server_conf "$PORT" "$SOCK" "$DB"
        # TCP on the loopback only, for the client suites
        printf "listen_addresses = '127.0.0.1'\n"
        cat "$SRC/test/server.conf"
    } | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
    # The client suites' login roles must give a SCRAM password over TCP, as
    # the applications do; every other connection stays as initdb made it.
    {
        printf '# unified_pg client suites (test/clients/run.sh)\n'
        printf 'host all upg_client_claude,upg_client_cognee,upg_client_admin,upg_client_cognee_tenant 127.0.0.1/32 scram-sha-256\n'
        cat "$DATA/pg_hba.conf"
    } >"$WORK/pg_hba.conf"
    as_pg cp "$WORK/pg_hba.conf" "$DATA/pg_hba.conf"
    as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w start >/dev/null \
        || { tail -30 "$WORK/server.log" >&2; die "test server did not start"; }
    server_started=1
    as_pg "$BINDIR/createdb" -h "$SOCK" -p "$PORT" -U postgres "$DB"
    as_pg "$BINDIR/psql" -X -q -h "$SOCK" -p "$PORT" -U postgres -d "$DB" \
        -c "CREATE EXTENSION unified_pg"
}

passed=0
failed=0
failed_suites=()
# record SUITE STATUS PASSED FAILED: add a suite's counts; a suite that
# exited non-zero counts at least one failure even if none was parsed.
record() {
    local suite=$1 status=$2 p=${3:-0} f=${4:-0}
    [ -n "$p" ] || p=0
    [ -n "$f" ] || f=0
    if [ "$status" != 0 ] && [ "$f" = 0 ]; then
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$status" = 0 ]; then
        say "--- $suite: $p passed"
    else
        failed_suites+=("$suite")
        say "--- $suite: FAILED ($p passed, $f failed)"
    fi
}

# counts from pg_regress / pg_isolation_regress output
regress_counts() {
    printf '%s %s\n' "$(grep -cE '\.\.\. ok|^ok ' "$1" || true)" \
        "$(grep -cE '\.\.\. FAILED|^not ok ' "$1" || true)"
}

# counts from prove / pg_prove output: Tests=N total, "Failed X/Y subtests"
prove_counts() {
    local total bad
    total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$1" | tail -1)
    bad=$(sed -n 's|^ *Failed \([0-9]*\)/[0-9]* subtests.*|\1|p' "$1" | awk '{s += $1} END {print s + 0}')
    total=${total:-0}
    bad=${bad:-0}
    printf '%s %s\n' "$((total - bad))" "$bad"
}

pgenv=(env PGHOST="$SOCK" PGPORT="$PORT" PGUSER=postgres PG_CONFIG="$PG_CONFIG")

run_regress() {
    local out status=0
    out=$WORK/regress.out
    as_pg "${pgenv[@]}" make -C "$SRC" -s installcheck ISOLATION= TAP_TESTS= ${UPG_REGRESS:+REGRESS="$UPG_REGRESS"} \
        >"$out" 2>&1 || status=$?
    cat "$out"
    [ "$status" = 0 ] || { [ -f "$SRC/regression.diffs" ] && cat "$SRC/regression.diffs"; }
    record regress "$status" $(regress_counts "$out")
}

run_isolation() {
    local out status=0
    out=$WORK/isolation.out
    as_pg "${pgenv[@]}" make -C "$SRC" -s installcheck REGRESS= TAP_TESTS= >"$out" 2>&1 || status=$?
    cat "$out"
    [ "$status" = 0 ] || { [ -f "$SRC/output_iso/regression.diffs" ] && cat "$SRC/output_iso/regression.diffs"; }
    record isolation "$status" $(regress_counts "$out")
}

run_pgtap() {
    local out status=0 files
    out=$WORK/pgtap.out
    files=$(cd "$SRC" && ls test/pgtap/*.sql 2>/dev/null || true)
    [ -n "$files" ] || { say "--- pgtap: no files"; return; }
    as_pg "${pgenv[@]}" "$BINDIR/psql" -X -q -d "$DB" -v ON_ERROR_STOP=1 \
        -c "CREATE EXTENSION IF NOT EXISTS pgtap" -c "CREATE EXTENSION IF NOT EXISTS unified_pg"
    (cd "$SRC" && as_pg "${pgenv[@]}" pg_prove -d "$DB" $files) >"$out" 2>&1 || status=$?
    cat "$out"
    record pgtap "$status" $(prove_counts "$out")
}

run_tap() {
    local out status=0
    out=$WORK/tap.out
    as_pg env PG_CONFIG="$PG_CONFIG" PG_TEST_TIMEOUT_DEFAULT="${PG_TEST_TIMEOUT_DEFAULT:-60}" make -C "$SRC" -s installcheck REGRESS= ISOLATION= PROVE_FLAGS="--timer" ${UPG_TAP:+PROVE_TESTS="$UPG_TAP"} \
        >"$out" 2>&1 || status=$?
    cat "$out"
    if [ "$status" != 0 ]; then
        for f in "$SRC"/tmp_check/log/*.log; do
            [ -f "$f" ] || continue
            say "----- $f (last 40 lines)"
            tail -40 "$f"
        done
    fi
    record tap "$status" $(prove_counts "$out")
}

run_clients() {
    [ -x "$SRC/test/clients/run.sh" ] || return 0
    local out status=0
    out=$WORK/clients.out
    as_pg "${pgenv[@]}" PGDATABASE="$DB" TMPDIR="$WORK" "$SRC/test/clients/run.sh" >"$out" 2>&1 || status=$?
    cat "$out"
    record clients "$status" $(sed -n 's/^clients: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$out")
}

needs_server=0
for s in $SUITES; do
    case $s in regress|isolation|pgtap|clients) needs_server=1 ;; esac
done
[ "$needs_server" = 1 ] && start_server

for s in $SUITES; do
    say "=== $s"
    case $s in
        regress) run_regress ;;
        isolation) run_isolation ;;
        pgtap) run_pgtap ;;
        tap) run_tap ;;
        clients) run_clients ;;
        *) die "unknown suite $s" ;;
    esac
done

say ""
if [ "$failed" -gt 0 ]; then
    say "failed suites: ${failed_suites[*]}"
fi
say "tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
