#!/usr/bin/env bash
# Install the Debian packages unified_pg needs to build, run and test,
# skipping those already installed.  apt-get update runs only when
# something is missing.
source "$(dirname "$0")/lib.sh"

PACKAGES=(
    make gcc
    libkrb5-dev                     # libpq-be.h (the connection hook) includes gssapi.h
    postgresql-15 postgresql-server-dev-15 postgresql-15-cron
    postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
    libipc-run-perl
    python3-asyncpg
)
# Node.js runs the node-postgres client tests; use the machine's if present.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
fi
if [ "${1:-}" = "--bench" ]; then
    PACKAGES+=(postgresql-15-partman
               python3-numpy)           # bench/operations' latent embeddings
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    say "==> all required packages are installed"
else
    say "==> installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    say "==> packages installed"
fi

# pgvector is optional: unified_pg works without it, and only the pgvector
# tests and enable_vector_index() need it.  It goes into the server of
# $PG_CONFIG: the distribution package where the registry has one and
# $PG_CONFIG is the distribution's server, else the source tarball in
# $UPG_DEPS_DIR, or ../shared/deps/ next to the checkout (or next to the
# main checkout of a git worktree, one level up) when it is there.  Otherwise the
# pgvector suites report themselves skipped, and the reason is printed here.
PGVECTOR_VERSION=0.8.6
PGVECTOR_TARBALL=
for d in ${UPG_DEPS_DIR:+"$UPG_DEPS_DIR"} "$UPG_ROOT/../shared/deps" "$UPG_ROOT/../../shared/deps"; do
    if [ -f "$d/pgvector-$PGVECTOR_VERSION.tar.gz" ]; then
        PGVECTOR_TARBALL=$(cd "$d" && pwd)/pgvector-$PGVECTOR_VERSION.tar.gz
        break
    fi
done

pgvector_installed() {
    [ -f "$("$PG_CONFIG" --sharedir)/extension/vector.control" ] &&
        [ -f "$("$PG_CONFIG" --pkglibdir)/vector.so" ]
}

pgvector_from_package() {
    local candidate
    [ "$(readlink -f "$("$PG_CONFIG" --bindir)")" = "$(readlink -f /usr/lib/postgresql/15/bin)" ] || return 1
    command -v apt-cache >/dev/null 2>&1 || return 1
    candidate=$(apt-cache policy postgresql-15-pgvector 2>/dev/null | sed -n 's/^ *Candidate: *//p')
    [ -n "$candidate" ] && [ "$candidate" != "(none)" ] || return 1
    say "==> installing postgresql-15-pgvector $candidate"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql-15-pgvector >/dev/null
}

pgvector_from_source() {
    local build
    [ -n "$PGVECTOR_TARBALL" ] || return 1
    say "==> building pgvector $PGVECTOR_VERSION from $PGVECTOR_TARBALL"
    build=$(mktemp -d /tmp/unified_pg-pgvector.XXXXXX)
    tar -C "$build" -xzf "$PGVECTOR_TARBALL"
    # OPTFLAGS="": no -march=native, so the build runs on any x86-64.
    make -C "$build/pgvector-$PGVECTOR_VERSION" -s PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >/dev/null
    as_root make -C "$build/pgvector-$PGVECTOR_VERSION" -s PG_CONFIG="$PG_CONFIG" OPTFLAGS="" install >/dev/null
    rm -rf "$build"
}

if pgvector_installed; then
    say "==> pgvector is installed"
elif pgvector_from_package || pgvector_from_source; then
    pgvector_installed && say "==> pgvector installed"
else
    say "==> pgvector: not installed (no postgresql-15-pgvector package for this server and no" \
        "pgvector-$PGVECTOR_VERSION.tar.gz in ../shared/deps); the pgvector tests will be skipped"
fi
