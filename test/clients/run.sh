#!/usr/bin/env bash
# Real application clients against the test server: node-postgres as
# Claude-Context and asyncpg as Cognee.  Run by scripts/test.sh as the
# server's OS user with PGHOST, PGPORT, PGUSER and PGDATABASE set.  Ends
# with a line "clients: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0

echo "--- node-postgres (Claude-Context)"
(
    cd node
    export npm_config_cache="${TMPDIR:-/tmp}/unified_pg-npm-cache-$(id -u)"
    npm ci --no-audit --no-fund --no-update-notifier --loglevel=error >/dev/null || exit 1
    node --test --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$out.node"
) || status=1

echo "--- asyncpg (Cognee)"
(cd python && /usr/bin/python3 -m unittest -v test_cognee) 2>&1 | tee "$out.py"
[ "${PIPESTATUS[0]}" = 0 ] || status=1

node_pass=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$out.node" 2>/dev/null | tail -1)
node_fail=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$out.node" 2>/dev/null | tail -1)
py_ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\}.*/\1/p' "$out.py" | tail -1)
py_fail=$(grep -cE '^(FAIL|ERROR):' "$out.py" || true)
rm -f "$out.node" "$out.py"
passed=$(( ${node_pass:-0} + ${py_ran:-0} - ${py_fail:-0} ))
failed=$(( ${node_fail:-0} + ${py_fail:-0} ))
if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
    failed=1
fi
echo "clients: $passed passed, $failed failed"
exit $status
