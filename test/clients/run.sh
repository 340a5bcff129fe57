#!/usr/bin/env bash
# Real application clients against the test server: node-postgres as
# Claude-Context (test/clients/node, npm test) and asyncpg as Cognee
# (test/clients/python).  Run by scripts/test.sh as the server's OS user with
# PGHOST (the socket), PGPORT, PGUSER (a superuser) and PGDATABASE set; the
# server must listen on 127.0.0.1 and ask the client roles below for a
# scram-sha-256 password (scripts/test.sh sets that up).  Ends with a line
# "clients: N passed, M failed".
#
# The clients connect as the applications would in production: over TCP,
# with a SCRAM password, as login roles of claude_user, cognee_user and
# unified_admin (no superuser), with application_name claude-context,
# cognee and unified.
set -uo pipefail
cd "$(dirname "$0")"
out=$(mktemp)
status=0
TCP_HOST=${UPG_CLIENT_HOST:-127.0.0.1}

# A fresh password per run for each login role, never written to a file.
password() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }
PW_CLAUDE=$(password)
PW_COGNEE=$(password)
PW_ADMIN=$(password)
PW_TENANT=$(password)

psql -X -q -v ON_ERROR_STOP=1 \
    -v pw_claude="$PW_CLAUDE" -v pw_cognee="$PW_COGNEE" -v pw_admin="$PW_ADMIN" -v pw_tenant="$PW_TENANT" <<'SQL' || exit 1
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upg_client_claude') AS new_claude,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upg_client_cognee') AS new_cognee,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upg_client_admin') AS new_admin,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upg_client_cognee_tenant') AS new_tenant \gset
\if :new_claude
CREATE ROLE upg_client_claude LOGIN IN ROLE claude_user;
\endif
\if :new_cognee
CREATE ROLE upg_client_cognee LOGIN IN ROLE cognee_user;
\endif
\if :new_admin
CREATE ROLE upg_client_admin LOGIN IN ROLE unified_admin;
\endif
-- a Cognee login limited to the datasets granted to it (unified.grant_dataset)
\if :new_tenant
CREATE ROLE upg_client_cognee_tenant LOGIN IN ROLE cognee_user;
\endif
SET password_encryption = 'scram-sha-256';
ALTER ROLE upg_client_claude PASSWORD :'pw_claude';
ALTER ROLE upg_client_cognee PASSWORD :'pw_cognee';
ALTER ROLE upg_client_admin PASSWORD :'pw_admin';
ALTER ROLE upg_client_cognee_tenant PASSWORD :'pw_tenant';
-- the migration test creates the Cognee tables it migrates from
SELECT format('GRANT CREATE ON DATABASE %I TO upg_client_admin', current_database()) \gexec
-- Undecided participants are presumed aborted after 5s during this suite,
-- so the resolver worker finishes a dead coordinator's work in the test.
ALTER SYSTEM SET unified_pg.in_doubt_timeout = '5s';
SELECT pg_reload_conf();
SQL

restore() {
    psql -X -q -c "ALTER SYSTEM RESET unified_pg.in_doubt_timeout" -c "SELECT pg_reload_conf()" >/dev/null || status=1
    rm -f "$out" "$out.node" "$out".node.*.mjs "$out.py"
}
trap restore EXIT

url() { printf 'postgresql://%s:%s@%s:%s/%s' "$1" "$2" "$TCP_HOST" "$PGPORT" "$PGDATABASE"; }
export CLAUDE_DATABASE_URL=$(url upg_client_claude "$PW_CLAUDE")
export COGNEE_DATABASE_URL=$(url upg_client_cognee "$PW_COGNEE")
export UNIFIED_DATABASE_URL=$(url upg_client_admin "$PW_ADMIN")
export COGNEE_TENANT_DATABASE_URL=$(url upg_client_cognee_tenant "$PW_TENANT")
SUPER_HOST=$PGHOST

echo "--- node-postgres (Claude-Context)"
(
    cd node
    export npm_config_cache="${TMPDIR:-/tmp}/unified_pg-npm-cache-$(id -u)"
    npm ci --no-audit --no-fund --no-update-notifier --loglevel=error >/dev/null || exit 1
    # One file at a time (node 18, Debian 12's, has no --test-concurrency):
    # the monitor's counts must see only its own pools.
    rc=0
    for f in *.test.mjs; do
        PGHOST=$TCP_HOST PGUSER=upg_client_claude PGPASSWORD=$PW_CLAUDE \
            node --test --test-reporter=spec --test-reporter-destination=stdout \
            --test-reporter=tap --test-reporter-destination="$out.node.$f" "$f" || rc=1
    done
    cat "$out".node.*.mjs >"$out.node"
    exit $rc
) || status=1

echo "--- asyncpg (Cognee)"
# a Claude-Context row that the Cognee client must not see
PGHOST=$SUPER_HOST psql -X -q -v ON_ERROR_STOP=1 -c "INSERT INTO unified.chunks (source, source_id, project_id, content)
    VALUES ('claude_context', 'client-claude-marker', 'proj-marker', 'not for Cognee')" || status=1
(cd python && PGHOST=$TCP_HOST PGUSER=upg_client_cognee PGPASSWORD=$PW_COGNEE \
    /usr/bin/python3 -m unittest discover -v -p 'test_*.py') 2>&1 | tee "$out.py"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
psql -X -q -c "DELETE FROM unified.chunks WHERE source_id = 'client-claude-marker'" || status=1

node_pass=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$out.node" 2>/dev/null | awk '{s += $1} END {print s + 0}')
node_fail=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$out.node" 2>/dev/null | awk '{s += $1} END {print s + 0}')
py_ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\}.*/\1/p' "$out.py" | tail -1)
py_fail=$(grep -cE '^(FAIL|ERROR):' "$out.py" || true)
passed=$(( ${node_pass:-0} + ${py_ran:-0} - ${py_fail:-0} ))
failed=$(( ${node_fail:-0} + ${py_fail:-0} ))
if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
    failed=1
fi
echo "clients: $passed passed, $failed failed"
exit $status
