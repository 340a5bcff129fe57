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

# The applications connect as login roles of their groups, under row-level
# security, as they would in production.
psql -X -q -v ON_ERROR_STOP=1 <<'SQL' || exit 1
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upg_client_claude') THEN
        CREATE ROLE upg_client_claude LOGIN IN ROLE claude_user;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upg_client_cognee') THEN
        CREATE ROLE upg_client_cognee LOGIN IN ROLE cognee_user;
    END IF;
END
$$;
SQL

echo "--- node-postgres (Claude-Context)"
(
    cd node
    export npm_config_cache="${TMPDIR:-/tmp}/unified_pg-npm-cache-$(id -u)"
    npm ci --no-audit --no-fund --no-update-notifier --loglevel=error >/dev/null || exit 1
    PGUSER=upg_client_claude node --test --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$out.node"
) || status=1

echo "--- asyncpg (Cognee)"
# a Claude-Context row that the Cognee client must not see
psql -X -q -v ON_ERROR_STOP=1 -c "INSERT INTO unified.chunks (source, source_id, project_id, content)
    VALUES ('claude_context', 'client-claude-marker', 'proj-marker', 'not for Cognee')" || status=1
(cd python && PGUSER=upg_client_cognee /usr/bin/python3 -m unittest -v test_cognee) 2>&1 | tee "$out.py"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
psql -X -q -c "DELETE FROM unified.chunks WHERE source_id = 'client-claude-marker'" || status=1

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
