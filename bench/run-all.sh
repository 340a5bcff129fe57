#!/usr/bin/env bash
# make bench: run every benchmark under bench/ (bench/*/run.sh, in name
# order) and write what they printed into BENCHMARKS.md, between the
# markers "make bench: begin" and "make bench: end" (the hand-written
# sections around them stay as they are).  For the run it records the
# machine, the PostgreSQL version, the commit, each benchmark's command,
# duration and exit status, and the end of its output, where each prints
# its ratios to the baseline it measured in the same run.
#
#   bash bench/run-all.sh                     every benchmark
#   BENCH_ONLY="overhead rls" bash bench/run-all.sh
#   BENCH_PORT=5671 ...                       first port; each benchmark gets the next one
#   BENCH_QUICK=1 bash bench/run-all.sh       every benchmark at a small size (about 15 minutes
#                                             on 2 cores): checks they all run; the ratios
#                                             are rougher than at the default sizes
#
# Every other BENCH_* variable is passed to the benchmarks (BENCH_SECONDS,
# BENCH_ROUNDS, ...; see each run.sh).  Each benchmark builds, installs and
# takes the machine-wide install lock itself, so this script does not.
# Full outputs are kept in bench/results/ (not committed).  Exits non-zero
# if a benchmark failed; the others still run.
source "$(dirname "$0")/../scripts/lib.sh"
set +e

# BENCH_QUICK=1: small sizes for whatever is not set explicitly.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    for setting in ROUNDS=1 SECONDS=3 RUNS=1 ROWS=20000 DRAIN_ROWS=5000 MONTHS=200 PLANS=10 SCALE=2 \
                   CHUNKS=5000 HNSW_SIZES=5000 QUERIES=10 RECOVERY_PARTICIPANTS=200; do
        var=BENCH_${setting%%=*}
        export "$var=${!var:-${setting#*=}}"
    done
fi

OUT=${BENCH_MARKDOWN:-$UPG_ROOT/BENCHMARKS.md}
RESULTS=$UPG_ROOT/bench/results
PORT=${BENCH_PORT:-5540}
mkdir -p "$RESULTS"

names=()
for f in "$UPG_ROOT"/bench/*/run.sh; do
    names+=("$(basename "$(dirname "$f")")")
done
if [ -n "${BENCH_ONLY:-}" ]; then
    for n in $BENCH_ONLY; do
        [ -x "$UPG_ROOT/bench/$n/run.sh" ] || [ -f "$UPG_ROOT/bench/$n/run.sh" ] || die "no benchmark bench/$n/run.sh"
    done
    names=($BENCH_ONLY)
fi

# The BENCH_* settings of this run, as they would be typed.
settings() {
    env | grep '^BENCH_' | grep -v -e '^BENCH_PORT=' -e '^BENCH_ONLY=' -e '^BENCH_MARKDOWN=' | sort | tr '\n' ' '
}

# The end of a benchmark's output, where each prints its results and their
# ratios to the baseline (progress lines "==> ..." left out).
result_lines() {
    grep -v -E '^(==>|\+ )' "$1" | tail -"${BENCH_RESULT_LINES:-30}"
}

section=$(mktemp)
status=0
{
    printf '<!-- make bench: begin (written by bench/run-all.sh; edit the sections outside) -->\n'
    printf '## Last `make bench` run\n\n'
    printf 'Written by `make bench` (`bench/run-all.sh`) on %s, commit %s.\n\n' \
        "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(git -C "$UPG_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    printf -- '- machine: %s cores (%s), %s RAM, %s, kernel %s\n' "$(nproc)" \
        "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
        "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)" \
        "$(. /etc/os-release 2>/dev/null && printf '%s' "$PRETTY_NAME")" "$(uname -r)"
    printf -- '- PostgreSQL: %s (`%s`)\n' "$("$PG_CONFIG" --version)" "$PG_CONFIG"
    printf -- '- load when the run started: %s (the machine may be shared: every benchmark interleaves\n' \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '  its baseline with the candidate in the same run, so the ratios matter, not the absolute numbers)\n'
    printf -- '- settings: `%s`\n\n' "$(settings)"
} >"$section"

for name in "${names[@]}"; do
    log=$RESULTS/$name.log
    cmd="BENCH_PORT=$PORT bash bench/$name/run.sh"
    say "==> bench/$name (port $PORT; output in $log)"
    t0=$(date +%s)
    BENCH_PORT=$PORT bash "$UPG_ROOT/bench/$name/run.sh" >"$log" 2>&1
    rc=$?
    t1=$(date +%s)
    [ "$rc" = 0 ] || status=1
    {
        printf '### %s\n\n' "$name"
        printf 'Command: `%s%s` — %s s, %s\n\n' "$(settings)" "$cmd" "$((t1 - t0))" \
            "$([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc)")"
        printf '```\n'
        result_lines "$log"
        printf '```\n\n'
    } >>"$section"
    tail -5 "$log"
    PORT=$((PORT + 1))
done
printf '<!-- make bench: end -->\n' >>"$section"

# Replace the previous run's section, or append one.
if grep -q '^<!-- make bench: begin' "$OUT" 2>/dev/null; then
    awk -v f="$section" '
        /^<!-- make bench: begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
        /^<!-- make bench: end -->/ { skip = 0; next }
        !skip { print }' "$OUT" >"$OUT.new" && mv "$OUT.new" "$OUT"
else
    { printf '\n'; cat "$section"; } >>"$OUT"
fi
rm -f "$section"
say "==> BENCHMARKS.md updated (${#names[@]} benchmarks)"
exit $status
