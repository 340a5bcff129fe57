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
    PACKAGES+=(postgresql-15-partman)
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    say "==> all required packages are installed"
    exit 0
fi

say "==> installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
say "==> packages installed"
