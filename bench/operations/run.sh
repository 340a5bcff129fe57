#!/usr/bin/env bash
# The applications' operations against the applications' own SQL, measured
# in the same run on a throwaway server (see bench.py for what is measured):
#
#   upsert   100k chunks (768 dims) in batches of 100 through
#            unified.upsert_chunks, as a claude_user login under RLS, against
#            Claude-Context's own INSERT ... ON CONFLICT (id) DO UPDATE into
#            its per-codebase tables (plain and hybrid layouts), batches
#            interleaved; target >= 0.7 of the baseline's throughput
#   sketch_write  what chunks_project_sketch_idx costs an upsert: batches
#            with and without it, alternating (BENCH_SKETCH_ROUNDS,
#            BENCH_SKETCH_BLOCK)
#   search   exact search_chunks inside one project of 50k chunks: p95
#            (target < 50 ms), beside pgvector's exact scan of the
#            backend's table
#   storage  embedding STORAGE MAIN vs EXTENDED vs EXTERNAL for a scan
#   hnsw     with pgvector: search_chunks through HNSW over 12 monthly
#            partitions vs one plain pgvector table with one HNSW index,
#            latency and recall@10 against exact, at BENCH_HNSW_SIZES, for
#            each generator of BENCH_HNSW_DATA ("latent", the default:
#            embeddings of a low intrinsic dimension; "clusters": uniform
#            noise around 100 centres)
#
#   bench/operations/run.sh       BENCH_CHUNKS=100000 BENCH_QUERIES=50
#                                 BENCH_HNSW_SIZES="20000 100000" BENCH_PORT=5661
#                                 BENCH_HNSW_LAYOUTS="partitioned global"
#                                 BENCH_HNSW_PREWARM=1 BENCH_HNSW_WARMUP=0
#
# The server's memory, for large HNSW builds (pgvector builds the graph in
# maintenance_work_mem, shared memory when the build is parallel):
# BENCH_SHARED_BUFFERS (1GB), BENCH_MAINTENANCE_WORK_MEM (1GB) and
# BENCH_MAX_PARALLEL_MAINTENANCE_WORKERS (PostgreSQL's default unless set).
#
# It builds and installs the extension (and pgvector, through deps.sh) and
# holds the machine-wide install lock while it runs.
source "$(dirname "$0")/../../scripts/lib.sh"

PORT=${BENCH_PORT:-5661}
SHARED_BUFFERS=${BENCH_SHARED_BUFFERS:-1GB}
MAINTENANCE_WORK_MEM=${BENCH_MAINTENANCE_WORK_MEM:-1GB}

bash "$UPG_ROOT/scripts/deps.sh" --bench
take_install_lock
build_and_install

BINDIR=$(pg_bindir)
WORK=$(mktemp -d /tmp/unified_pg-bench.XXXXXX)
chmod 755 "$WORK"
is_root && chown postgres: "$WORK"
DATA=$WORK/data
SOCK=$WORK/sock
started=0
cleanup() {
    [ "$started" = 1 ] && as_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

as_pg mkdir -p "$SOCK"
as_pg "$BINDIR/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<CONF
port = $PORT
unix_socket_directories = '$SOCK'
listen_addresses = ''
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'bench'
unified_pg.maintenance_interval = 0
shared_buffers = '$SHARED_BUFFERS'
maintenance_work_mem = '$MAINTENANCE_WORK_MEM'
max_wal_size = '8GB'
checkpoint_timeout = '30min'
jit = off
CONF
if [ -n "${BENCH_MAX_PARALLEL_MAINTENANCE_WORKERS:-}" ]; then
    echo "max_parallel_maintenance_workers = $BENCH_MAX_PARALLEL_MAINTENANCE_WORKERS" |
        as_pg tee -a "$DATA/postgresql.conf" >/dev/null
fi
as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w start >/dev/null
started=1
as_pg "$BINDIR/createdb" -h "$SOCK" -p "$PORT" -U postgres bench
as_pg "$BINDIR/psql" -X -q -h "$SOCK" -p "$PORT" -U postgres -d bench -c "CREATE EXTENSION unified_pg"

as_pg env BENCH_HOST="$SOCK" BENCH_PORT="$PORT" /usr/bin/python3 "$UPG_ROOT/bench/operations/bench.py"
