# unified_pg -- PGXS build.
#
#   make && make install     build and install into the server of $(PG_CONFIG)
#   make run / make stop     a local preloaded server on port 5533 (see README)
#   make test                install what is missing, then every suite on throwaway servers
#   make bench               every benchmark under bench/, results into BENCHMARKS.md
#
# The install script sql/unified_pg--$(EXTVERSION).sql is generated from the
# ordered pieces in sql/install/, one piece per concern.

EXTENSION = unified_pg
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = unified_pg
OBJS = \
	src/unified_pg.o \
	src/pools.o \
	src/shmem.o \
	src/chunks.o \
	src/maintenance.o \
	src/maintenance_guard.o \
	src/explain_guard.o \
	src/security.o \
	src/worker.o \
	src/dtx.o \
	src/dtx_protocol.o \
	src/dtx_guard.o \
	src/resolver.o \
	src/finisher.o \
	src/vector.o \
	src/sketch.o \
	src/numeric_real.o \
	src/operations.o \
	src/upsert_text.o \
	src/histogram.o \
	src/pool_stats.o \
	src/pool_quota.o \
	src/stats_hooks.o \
	src/stats_views.o \
	src/pruning_stats.o \
	src/migrate.o \
	src/error_hints.o \
	src/hooks.o

INSTALL_PIECES = $(sort $(wildcard sql/install/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*--*.sql))

PG_CFLAGS = -Wall -Werror

# The cosine kernel is written to be vectorized; these are the flags that
# let GCC and clang do it (pgvector uses the same): without associative
# math a sum cannot be split into SIMD lanes.  "make vector-check" prints the
# compiler's report for the kernel's loop.
UPG_VECTOR_CFLAGS = -ftree-vectorize -fassociative-math -fno-signed-zeros -fno-trapping-math
src/vector.o src/sketch.o: CFLAGS += $(UPG_VECTOR_CFLAGS)
src/vector.bc src/sketch.bc: BITCODE_CFLAGS += $(UPG_VECTOR_CFLAGS)

# pg_regress: every sql/NNN_*.sql, against a running preloaded server (make test starts one).
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/[0-9][0-9][0-9]_*.sql)))
REGRESS_OPTS = --use-existing

# isolation specs: test/isolation/specs/*.spec
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --use-existing --inputdir=test/isolation --outputdir=output_iso

# TAP tests (PostgreSQL::Test::Cluster): test/t/*.pl; part of installcheck,
# each test makes its own clusters.
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

EXTRA_CLEAN = output_iso results regression.diffs regression.out tmp_check

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track headers: every object is rebuilt when one changes
# (a stale object with an old struct layout would corrupt shared memory).
$(OBJS): $(wildcard src/*.h)

# Both suites run in the database make test prepares (PGXS sets its own names).
CONTRIB_TESTDB = unified_regress
ISOLATION_TESTDB = unified_regress


sql/$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_PIECES)
	cat $^ > $@

.PHONY: run stop test deps bench vector-check
vector-check:
	$(CC) $(CPPFLAGS) $(CFLAGS) $(UPG_VECTOR_CFLAGS) -fopt-info-vec-optimized -c src/vector.c -o /dev/null 2>&1 | grep -E 'vector\.c:[0-9]+:[0-9]+: optimized: loop vectorized'
	$(CC) $(CPPFLAGS) $(CFLAGS) $(UPG_VECTOR_CFLAGS) -fopt-info-vec-optimized -c src/sketch.c -o /dev/null 2>&1 | grep -E 'sketch\.c:[0-9]+:[0-9]+: optimized: loop vectorized'

deps:
	@bash scripts/deps.sh
run:
	@bash scripts/server.sh start
stop:
	@bash scripts/server.sh stop
test:
	@bash scripts/test.sh
bench:
	@bash bench/run-all.sh
