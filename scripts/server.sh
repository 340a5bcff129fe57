#!/usr/bin/env bash
# make run / make stop: a local development server with unified_pg.
#
#   start  install what is missing, build, install, start a preloaded server
#          on port 5533 (data under the checkout in .run/), create database
#          claude_context with the extension, print how to connect
#   stop   stop that server
#
# Local connections through the Unix socket need no password; the socket
# is open to the postgres OS user and group only (and root).  TCP on
# localhost asks for a password (set one with ALTER ROLE ... PASSWORD).
# Port, directory and database can be changed with UPG_PORT, UPG_RUN_DIR
# and UPG_DB.  On an existing run directory the port and database it was
# made with stay unless UPG_PORT or UPG_DB say otherwise; then the new
# values are written into its postgresql.conf and a running server is
# restarted (both are postmaster settings).  UPG_RUN_INSTALL=no skips
# installing packages and building: the server then uses the unified_pg
# already installed in $PG_CONFIG's PostgreSQL (the test of this script
# runs it that way, as the postgres OS user).
source "$(dirname "$0")/lib.sh"
# every path below is absolute; the server user may not be able to enter
# the directory make was started in (e.g. a checkout under /root)
cd /

PORT=${UPG_PORT:-}
DB=${UPG_DB:-}
case $PORT in *[!0-9]*) die "UPG_PORT must be a port number, not '$PORT'" ;; esac
case $DB in *[!A-Za-z0-9_]*) die "UPG_DB must be letters, digits and underscores, not '$DB'" ;; esac
RUN_DIR_WANTED=${UPG_RUN_DIR:-$UPG_ROOT/.run}
RUN_DIR_FALLBACK=/var/tmp/unified_pg-run-$(printf '%s' "$UPG_ROOT" | cksum | cut -d' ' -f1)

find_run_dir() {
    # an existing run directory wins, so stop finds what start made
    for d in "$RUN_DIR_WANTED" "$RUN_DIR_FALLBACK"; do
        if [ -f "$d/data/PG_VERSION" ]; then
            printf '%s\n' "$d"
            return
        fi
    done
    server_dir "$RUN_DIR_WANTED" "$RUN_DIR_FALLBACK"
}

# The value of a setting in the block server_conf wrote (last one wins).
configured() {
    as_pg sed -n "s/^$2 = '\{0,1\}\([^']*\)'\{0,1\}\$/\1/p" "$1/postgresql.conf" | tail -1
}

# On an existing cluster: take its port and database unless UPG_PORT or
# UPG_DB ask for others, and write those into postgresql.conf.  Returns 0
# when something changed (the server must restart to see it).
reconfigure() {
    local data=$1 oldport olddb changed=1
    oldport=$(configured "$data" port)
    olddb=$(configured "$data" unified_pg.database)
    PORT=${PORT:-$oldport}
    DB=${DB:-$olddb}
    if [ "$PORT" != "$oldport" ]; then
        say "==> port $oldport -> $PORT"
        as_pg sed -i "s/^port = .*/port = $PORT/" "$data/postgresql.conf"
        changed=0
    fi
    if [ "$DB" != "$olddb" ]; then
        say "==> database $olddb -> $DB (the worker and pg_cron follow it)"
        as_pg sed -i -e "s/^unified_pg.database = .*/unified_pg.database = '$DB'/" \
            -e "s/^cron.database_name = .*/cron.database_name = '$DB'/" "$data/postgresql.conf"
        changed=0
    fi
    return $changed
}

start() {
    if [ "${UPG_RUN_INSTALL:-yes}" != no ]; then
        bash "$UPG_ROOT/scripts/deps.sh"
        take_install_lock
        build_and_install
        flock -u 9
    fi

    local bindir run data sock psql
    bindir=$(pg_bindir)
    run=$(find_run_dir)
    data=$run/data
    sock=$run/sock
    as_pg mkdir -p "$sock"

    local restart=no
    if [ -f "$data/PG_VERSION" ]; then
        reconfigure "$data" && restart=yes
    else
        PORT=${PORT:-5533}
        DB=${DB:-claude_context}
        say "==> initializing a cluster in $data"
        as_pg "$bindir/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$run/initdb.log"
        server_conf "$PORT" "$sock" "$DB" | as_pg tee -a "$data/postgresql.conf" >/dev/null
        printf "listen_addresses = 'localhost'\nunix_socket_permissions = 0770\n" \
            | as_pg tee -a "$data/postgresql.conf" >/dev/null
    fi

    if as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        if [ "$restart" = yes ]; then
            say "==> restarting the server for the new port or database"
            as_pg "$bindir/pg_ctl" -D "$data" -l "$run/server.log" -m fast -w restart >/dev/null \
                || { tail -20 "$run/server.log" >&2; die "server did not restart; log: $run/server.log"; }
        else
            say "==> server already running"
        fi
    else
        say "==> starting the server on port $PORT"
        as_pg "$bindir/pg_ctl" -D "$data" -l "$run/server.log" -w start >/dev/null \
            || { tail -20 "$run/server.log" >&2; die "server did not start; log: $run/server.log"; }
    fi

    psql=("$bindir/psql" -X -q -h "$sock" -p "$PORT" -U postgres -v ON_ERROR_STOP=1)
    if [ -z "$(printf '%s\n' "SELECT 1 FROM pg_database WHERE datname = :'db'" \
               | as_pg "${psql[@]}" -d postgres -At -v db="$DB")" ]; then
        printf '%s\n' 'CREATE DATABASE :"db"' | as_pg "${psql[@]}" -d postgres -v db="$DB"
    fi
    as_pg "${psql[@]}" -d "$DB" -c "SET client_min_messages = warning" \
                                -c "CREATE EXTENSION IF NOT EXISTS unified_pg" \
                                -c "CREATE EXTENSION IF NOT EXISTS pg_cron" \
                                -c "ALTER EXTENSION unified_pg UPDATE"

    # the workers (resolver and maintenance) start working in the database within a few seconds
    local i worker=no
    for i in $(seq 1 50); do
        if [ "$(as_pg "${psql[@]}" -d "$DB" -Atc "SELECT coalesce(bool_and(extension_present), false) FROM unified.worker_status()")" = t ]; then
            worker=yes
            break
        fi
        sleep 0.2
    done
    [ "$worker" = yes ] || say "warning: the unified_pg worker has not started yet; see $run/server.log"

    cat <<MSG

unified_pg is running.
  server:    PostgreSQL $("$bindir/postgres" --version | awk '{print $3}'), port $PORT, data in $data
  log:       $run/server.log
  connect:   psql -h $sock -p $PORT -U postgres $DB
             (no password on the socket; TCP on localhost:$PORT asks for one:
              ALTER ROLE postgres PASSWORD '...' to use it)
  try:       SELECT * FROM unified.partitions;   SELECT * FROM unified.resolver_status;
  stop:      make stop
MSG
}

stop() {
    local bindir run
    bindir=$(pg_bindir)
    for run in "$RUN_DIR_WANTED" "$RUN_DIR_FALLBACK"; do
        if [ -f "$run/data/PG_VERSION" ]; then
            if as_pg "$bindir/pg_ctl" -D "$run/data" status >/dev/null 2>&1; then
                as_pg "$bindir/pg_ctl" -D "$run/data" -m fast -w stop >/dev/null
                say "==> server stopped (data kept in $run/data)"
            else
                say "==> server is not running (data in $run/data)"
            fi
            return
        fi
    done
    say "==> no server was started from this checkout"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) die "usage: $0 start|stop" ;;
esac
