# Shared helpers for the unified_pg scripts; sourced, not run.
#
# The scripts work as root (the server itself then runs as the "postgres"
# OS user, which PostgreSQL requires) and as an ordinary user (who must own
# the data directory and have sudo for installing packages).

set -euo pipefail

UPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# Run a command as the OS user that owns PostgreSQL servers.
as_pg() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Run a command with root rights (for apt-get and make install).
as_root() {
    if is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root rights for: $*"
    fi
}

pg_bindir() { "$PG_CONFIG" --bindir; }

# Every checkout on a machine installs into the same PostgreSQL, so a build,
# install and the tests or benchmarks that use it run under one lock: a
# read-only descriptor on that PostgreSQL's library directory, locked with
# flock (it works for root and other users alike).  Held until the script
# exits; "what" says what is waiting.
take_install_lock() {
    local what=${1:-unified_pg run}
    exec 9<"$("$PG_CONFIG" --pkglibdir)"
    if ! flock -n 9; then
        say "==> waiting for another $what on this machine to finish"
        flock 9
    fi
}

# Build and install the extension into the server of $PG_CONFIG.
build_and_install() {
    say "==> building unified_pg"
    make -C "$UPG_ROOT" -s PG_CONFIG="$PG_CONFIG" >/dev/null
    say "==> installing unified_pg into $("$PG_CONFIG" --pkglibdir)"
    as_root make -C "$UPG_ROOT" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# Make a directory the server user can own, even below a checkout that the
# server user cannot enter (e.g. under /root): fall back to /var/tmp.
server_dir() {
    local wanted=$1 fallback=$2
    if is_root; then
        mkdir -p "$wanted"
        chown postgres: "$wanted"
        if runuser -u postgres -- test -w "$wanted" 2>/dev/null; then
            printf '%s\n' "$wanted"
            return
        fi
        rmdir "$wanted" 2>/dev/null || true
        mkdir -p "$fallback"
        chown postgres: "$fallback"
        printf '%s\n' "$fallback"
    else
        mkdir -p "$wanted"
        printf '%s\n' "$wanted"
    fi
}

# The settings every unified_pg server here gets (append to postgresql.conf).
server_conf() {
    local port=$1 socketdir=$2 db=$3
    cat <<CONF

# ---- added by unified_pg scripts ----
port = $port
unix_socket_directories = '$socketdir'
shared_preload_libraries = 'unified_pg,pg_cron'
cron.database_name = '$db'
unified_pg.database = '$db'
max_prepared_transactions = 200
max_connections = 200
max_worker_processes = 32
log_line_prefix = '%m [%p] %q%a@%d '
CONF
}
