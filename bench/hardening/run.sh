#!/usr/bin/env bash
# Maintenance against hostile created_at values (BENCHMARKS.md, "Hardening").
#
# An application role writes one row in each of $BENCH_MONTHS (default 1,500)
# distinct past months, all landing in the default partition.  Then, in the
# same run:
#
#   1. planning time of the applications' path lookup (a project's chunks by
#      path, as a Claude-Context login under RLS): the baseline, before any
#      maintenance (current month + 3 ahead + default);
#   2. one maintenance pass, SELECT unified.run_maintenance(): its wall time,
#      its outcome, and the longest time ACCESS EXCLUSIVE on unified.chunks
#      was held, sampled from another session every ~2 ms in pg_locks;
#   3. the same planning time after the pass, and its ratio to the baseline;
#   4. passes until the attacker's rows have filled the partition budget
#      (unified_pg.max_partitions, 240 by default), as hourly passes would
#      after a day, and the planning time then.
#
# Targets: no lock held longer than lock_wait (5 s), path-lookup planning
# under 5 ms.  Run it from a checkout to measure that checkout's build (it
# builds and installs it, holding the machine-wide install lock):
#
#   BENCH_PORT=5611 bash bench/hardening/run.sh     (BENCH_MAX_PARTITIONS=240 by default)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

MONTHS=${BENCH_MONTHS:-1500}
PLANS=${BENCH_PLANS:-50}

bench_start_server "unified_pg.maintenance_interval = 0
unified_pg.max_partitions = ${BENCH_MAX_PARTITIONS:-240}"

bench_sql -c "CREATE EXTENSION unified_pg" \
    -c "CREATE ROLE bench_app LOGIN IN ROLE claude_user" \
    -c "CREATE TABLE public.bench_done (x int); GRANT ALL ON public.bench_done TO PUBLIC" >/dev/null
# the hostile rows, written by the application role, plus ordinary ones
bench_sql -U bench_app -c "
INSERT INTO unified.chunks (source, source_id, project_id, content, relative_path, created_at)
SELECT 'claude_context', 'h' || m, 'proj-h', 'x', 'src/h.ts', '1901-01-10'::date + make_interval(months => m)
  FROM generate_series(0, $MONTHS - 1) m;
INSERT INTO unified.chunks (source, source_id, project_id, content, relative_path)
SELECT 'claude_context', 'n' || g, 'proj-' || (g % 20), 'x', 'src/f' || (g % 200) || '.ts'
  FROM generate_series(1, 20000) g;" >/dev/null
bench_sql -c "ANALYZE unified.chunks" >/dev/null

# median planning time (ms) of the path lookup, in one session as the app
plan_ms() {
    bench_sql -U bench_app -At -c "
DO \$\$ DECLARE p json; t numeric[] := '{}'; BEGIN
  FOR i IN 1 .. $PLANS LOOP
    EXECUTE 'EXPLAIN (FORMAT JSON, SUMMARY) SELECT id, content FROM unified.chunks WHERE project_id = ''proj-3'' AND relative_path = ''src/f3.ts''' INTO p;
    t := t || (p->0->>'Planning Time')::numeric;
  END LOOP;
  RAISE NOTICE 'ms=%', (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(t) x);
END \$\$" 2>&1 | sed -n 's/.*ms=\([0-9.]*\).*/\1/p'
}

parts() { bench_sql -At -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'unified.chunks'::regclass"; }

plan_before=$(plan_ms)
parts_before=$(parts)

# Sampler: the longest continuous ACCESS EXCLUSIVE hold on unified.chunks.
bench_sql -At -c "
DO \$\$ DECLARE held_since timestamptz; longest interval := '0'; started timestamptz := clock_timestamp(); BEGIN
  LOOP
    IF EXISTS (SELECT FROM pg_locks WHERE relation = 'unified.chunks'::regclass
                 AND mode = 'AccessExclusiveLock' AND granted) THEN
      held_since := coalesce(held_since, clock_timestamp());
    ELSIF held_since IS NOT NULL THEN
      longest := greatest(longest, clock_timestamp() - held_since);
      held_since := NULL;
    END IF;
    EXIT WHEN EXISTS (SELECT FROM public.bench_done) OR clock_timestamp() - started > interval '10 minutes';
    PERFORM pg_sleep(0.002);
  END LOOP;
  RAISE NOTICE 'hold_ms=%', round(extract(epoch FROM longest) * 1000);
END \$\$" >"$BENCH_WORK/sampler.out" 2>&1 &
sampler=$!
sleep 0.5

t0=$(date +%s%N)
result=$(bench_sql -At -c "SELECT r->>'status', coalesce(jsonb_array_length(r->'created'), 0),
                                  coalesce(jsonb_array_length(r->'deferred_months'), 0), r->>'deferred_more'
                             FROM unified.run_maintenance() AS r" 2>&1 | tr '\n' ' ' || true)
t1=$(date +%s%N)
pass_ms=$(( (t1 - t0) / 1000000 ))
bench_sql -c "INSERT INTO public.bench_done VALUES (1)" >/dev/null
wait "$sampler" || true
hold_ms=$(sed -n 's/.*hold_ms=\([0-9.]*\).*/\1/p' "$BENCH_WORK/sampler.out")

plan_after=$(plan_ms)
parts_after=$(parts)

# 4. the steady state: passes until max_partitions stops them
t0=$(date +%s%N)
passes=0
while [ "$passes" -lt 400 ]; do
    made=$(bench_sql -At -c "SELECT jsonb_array_length(r->'created') FROM unified.run_maintenance() AS r" 2>/dev/null || echo 0)
    passes=$((passes + 1))
    [ "${made:-0}" -gt 0 ] || break
done
t1=$(date +%s%N)
fill_ms=$(( (t1 - t0) / 1000000 ))
plan_full=$(plan_ms)
parts_full=$(parts)

printf '\n## hardening: %s distinct months in the default partition (%s)\n\n' "$MONTHS" "$(git -C "$UPG_ROOT" rev-parse --short HEAD 2>/dev/null || echo export)"
printf '| measurement | value | baseline | ratio |\n|---|---|---|---|\n'
printf '| maintenance pass: wall time | %s ms | | |\n' "$pass_ms"
printf '| maintenance pass: outcome (status, created, deferred listed, deferred_more) | %s | | |\n' "$(printf '%s' "$result" | cut -c1-160)"
printf '| longest ACCESS EXCLUSIVE hold on unified.chunks (target < 5000 ms) | %s ms | | |\n' "${hold_ms:-n/a}"
printf '| partitions (default included) | %s | %s before | |\n' "$parts_after" "$parts_before"
printf '| path lookup planning, median of %s (target < 5 ms): after the pass vs before it | %s ms | %s ms | %s |\n' \
    "$PLANS" "$plan_after" "$plan_before" "$(ratio "$plan_after" "$plan_before")"
printf '| passes until max_partitions: %s passes, %s ms in all | %s partitions | | |\n' "$passes" "$fill_ms" "$parts_full"
printf '| path lookup planning with %s partitions vs before any pass | %s ms | %s ms | %s |\n' \
    "$parts_full" "$plan_full" "$plan_before" "$(ratio "$plan_full" "$plan_before")"
