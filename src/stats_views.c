/*-------------------------------------------------------------------------
 *
 * stats_views.c
 *		SQL functions behind unified.pool_stats, pool_latency_histogram,
 *		slo and reset_stats().
 *
 * A reader builds one row per pool of unified_pg.pools (as this backend
 * sees the setting) plus "other".  Counters come from the shared entries
 * (totals of ended sessions, their window ring) plus the live sessions
 * (their counters and their own window rings); an
 * entry whose name is not configured any more is reported under "other".
 * Live counts (connections, active, idle, idle in transaction, waiting on
 * a lock) come from the server's own backend status and PGPROC wait
 * events, each backend placed in the pool its session was given at
 * connection time.  Totals and sessions are summed under the stats lock in
 * shared mode (sessions that end fold themselves into the totals under it
 * exclusively), so a counter never goes backwards between two reads;
 * every value is an atomic read, never a torn one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "pool_stats.h"

/* columns of unified.pool_stats, in the order of its SQL declaration */
enum
{
	Anum_ps_pool,
	Anum_ps_max_connections,
	Anum_ps_connections,
	Anum_ps_active,
	Anum_ps_idle,
	Anum_ps_idle_in_transaction,
	Anum_ps_waiting,
	Anum_ps_utilization,
	Anum_ps_busy_ratio,
	Anum_ps_xact_commit,
	Anum_ps_xact_rollback,
	Anum_ps_xact_failed,
	Anum_ps_success_rate,
	Anum_ps_deadlocks,
	Anum_ps_latency_p50_ms,
	Anum_ps_latency_p95_ms,
	Anum_ps_latency_p99_ms,
	Anum_ps_rejected_connections,
	Anum_ps_stats_reset,
	Anum_ps_xact_prepared,
	Anum_ps_errors,
	Anum_ps_statements,
	Anum_ps_latency_avg_ms,
	Anum_ps_budget_in_use,
	Natts_pool_stats
};

/* columns of unified.stats_overall() */
enum
{
	Anum_so_busy_ratio,
	Anum_so_success_rate,
	Anum_so_deadlock_rate,
	Anum_so_latency_p95_ms,
	Anum_so_pruning_queries,
	Anum_so_partitions_existing,
	Anum_so_partitions_skipped,
	Anum_so_unprunable_queries,
	Anum_so_stats_reset,
	Natts_stats_overall
};

/* one pool's numbers while a reader adds them up */
typedef struct UpgPoolRow
{
	const char *name;
	int			budget;			/* 0: none */
	int64		connections;
	int64		active;
	int64		idle;
	int64		idle_in_transaction;
	int64		waiting;
	int64		held;
	uint64		rejected;
	uint64		counters[UPG_NCOUNTERS];
	double		connected_us;	/* ended sessions and live ones */
	uint64		hist[UPG_HIST_BUCKETS]; /* cumulative since reset */
	uint64		window[UPG_HIST_BUCKETS];	/* the last stats_window */
} UpgPoolRow;

/* a live session: its pid and its row */
typedef struct UpgPidRow
{
	int			pid;
	int			row;
} UpgPidRow;

PG_FUNCTION_INFO_V1(upg_pool_stats);
PG_FUNCTION_INFO_V1(upg_pool_latency_histogram);
PG_FUNCTION_INFO_V1(upg_stats_overall);
PG_FUNCTION_INFO_V1(upg_reset_stats);

/* Order UpgPidRow by pid. */
static int
upg_pid_row_cmp(const void *a, const void *b)
{
	int			pa = ((const UpgPidRow *) a)->pid;
	int			pb = ((const UpgPidRow *) b)->pid;

	return (pa > pb) - (pa < pb);
}

/* The rows: configured pools in order, then "other". */
static UpgPoolRow *
upg_rows_init(int *nrows)
{
	const UpgPoolConfig *config = upg_pool_config;
	int			npools = config ? config->npools : 0;
	UpgPoolRow *rows = palloc0(sizeof(UpgPoolRow) * (npools + 1));
	int			i;

	for (i = 0; i < npools; i++)
	{
		rows[i].name = config->pools[i].name;
		rows[i].budget = config->pools[i].budget;
	}
	rows[npools].name = UPG_OTHER_POOL_NAME;
	rows[npools].budget = config ? config->other_budget : 0;
	*nrows = npools + 1;
	return rows;
}

/* Row of shared entry e: its configured pool, else "other". */
static int
upg_row_of_entry(UpgPoolRow *rows, int nrows, int e)
{
	const char *name = upg_stats->entries[e].name;
	int			i;

	for (i = 0; i < nrows - 1; i++)
		if (strcmp(rows[i].name, name) == 0)
			return i;
	return nrows - 1;
}

/*
 * Add the slots of a window ring that hold the current interval or the
 * UPG_WINDOW_SPAN before it.  A slot whose epoch changes while it is
 * copied is being cleared for a new interval by its session: it is left
 * out (it held an interval that has just left the window).
 */
static void
upg_add_window(uint64 *window, UpgWindowSlot *ring, int64 epoch_now)
{
	uint32		copy[UPG_HIST_BUCKETS];
	int			i;
	int			j;

	for (j = 0; j < UPG_WINDOW_SLOTS; j++)
	{
		UpgWindowSlot *slot = &ring[j];
		int64		epoch = (int64) pg_atomic_read_u64(&slot->epoch);

		if (epoch == 0 || epoch > epoch_now || epoch < epoch_now - UPG_WINDOW_SPAN)
			continue;
		pg_read_barrier();
		for (i = 0; i < UPG_HIST_BUCKETS; i++)
			copy[i] = pg_atomic_read_u32(&slot->counts[i]);
		pg_read_barrier();
		if ((int64) pg_atomic_read_u64(&slot->epoch) != epoch)
			continue;
		for (i = 0; i < UPG_HIST_BUCKETS; i++)
			window[i] += copy[i];
	}
}

/* Add the totals of ended sessions and the window ring of entry e. */
static void
upg_add_entry(UpgPoolRow *row, UpgStatsEntry *e, int epoch_now)
{
	int			i;

	row->held += pg_atomic_read_u32(&e->held);
	row->rejected += pg_atomic_read_u64(&e->rejected);
	for (i = 0; i < UPG_NCOUNTERS; i++)
		row->counters[i] += pg_atomic_read_u64(&e->retired[i]);
	for (i = 0; i < UPG_HIST_BUCKETS; i++)
		row->hist[i] += pg_atomic_read_u64(&e->retired_hist[i]);
	upg_add_window(row->window, e->window, epoch_now);
}

/* Add a live session's values (those of the current generation). */
static void
upg_add_session(UpgPoolRow *row, UpgSession *s, uint64 generation,
				TimestampTz now, TimestampTz reset, int epoch_now)
{
	TimestampTz from = Max(s->connected_at, reset);
	int			i;

	if (now > from)
		row->connected_us += (double) (now - from);
	if (pg_atomic_read_u64(&s->generation) != generation)
		return;
	pg_read_barrier();
	for (i = 0; i < UPG_NCOUNTERS; i++)
		row->counters[i] += pg_atomic_read_u64(&s->counters[i]);
	for (i = 0; i < UPG_HIST_BUCKETS; i++)
		row->hist[i] += pg_atomic_read_u64(&s->hist[i]);
	upg_add_window(row->window, s->window, epoch_now);
}

/* Count the backends of each pool by state, from the server's own status. */
static void
upg_add_live_counts(UpgPoolRow *rows, UpgPidRow *pids, int npids)
{
	int			n = pgstat_fetch_stat_numbackends();
	int			i;

	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
		PgBackendStatus *be;
		UpgPidRow	key;
		UpgPidRow  *found;
		UpgPoolRow *row;
		PGPROC	   *proc;

		if (local == NULL)
			continue;
		be = &local->backendStatus;
		key.pid = be->st_procpid;
		found = bsearch(&key, pids, npids, sizeof(UpgPidRow), upg_pid_row_cmp);
		if (found == NULL)
			continue;			/* not a client session */
		row = &rows[found->row];
		row->connections++;
		if (be->st_state == STATE_RUNNING || be->st_state == STATE_FASTPATH)
			row->active++;
		else if (be->st_state == STATE_IDLE)
			row->idle++;
		else if (be->st_state == STATE_IDLEINTRANSACTION ||
				 be->st_state == STATE_IDLEINTRANSACTION_ABORTED)
			row->idle_in_transaction++;
		proc = BackendPidGetProc(be->st_procpid);
		if (proc != NULL &&
			((*(volatile uint32 *) &proc->wait_event_info) & 0xFF000000) == PG_WAIT_LOCK)
			row->waiting++;
	}
}

/* Build every row: shared totals, live sessions, backend states. */
static UpgPoolRow *
upg_collect_rows(int *nrows)
{
	UpgPoolRow *rows = upg_rows_init(nrows);
	UpgPidRow  *pids = palloc(sizeof(UpgPidRow) * Max(upg_stats->nsessions, 1));
	int			npids = 0;
	int			entry_row[UPG_STATS_ENTRIES];
	uint64		generation = pg_atomic_read_u64(&upg_stats->generation);
	TimestampTz reset = (TimestampTz) pg_atomic_read_u64(&upg_stats->stats_reset);
	TimestampTz now = GetCurrentTimestamp();
	int			interval_s;
	int			epoch_now = upg_stats_window_epoch(now, &interval_s);
	int			i;

	/* shared: a session that ends folds itself into the totals exclusively */
	LWLockAcquire(upg_stats->lock, LW_SHARED);
	for (i = 0; i < UPG_STATS_ENTRIES; i++)
	{
		entry_row[i] = -1;
		if (pg_atomic_read_u32(&upg_stats->entries[i].in_use) == 0)
			continue;
		pg_read_barrier();
		entry_row[i] = upg_row_of_entry(rows, *nrows, i);
		upg_add_entry(&rows[entry_row[i]], &upg_stats->entries[i], epoch_now);
	}
	for (i = 0; i < *nrows; i++)
		rows[i].connected_us += (double) rows[i].counters[UPG_C_CONNECTED_US];

	for (i = 0; i < upg_stats->nsessions; i++)
	{
		UpgSession *s = &upg_stats->sessions[i];
		int			pid = (int) pg_atomic_read_u32(&s->pid);
		int			row;

		if (pid == 0)
			continue;
		pg_read_barrier();
		if (s->entry < 0 || s->entry >= UPG_STATS_ENTRIES || entry_row[s->entry] < 0)
			continue;
		row = entry_row[s->entry];
		upg_add_session(&rows[row], s, generation, now, reset, epoch_now);
		pids[npids].pid = pid;
		pids[npids].row = row;
		npids++;
	}
	LWLockRelease(upg_stats->lock);

	qsort(pids, npids, sizeof(UpgPidRow), upg_pid_row_cmp);
	upg_add_live_counts(rows, pids, npids);
	pfree(pids);
	return rows;
}

/* a ratio, or NULL when the denominator is zero */
static void
upg_set_ratio(Datum *values, bool *nulls, int att, double num, double den)
{
	if (den > 0)
		values[att] = Float8GetDatum(num / den);
	else
		nulls[att] = true;
}

/* a percentile of a histogram, or NULL when it is empty */
static void
upg_set_percentile(Datum *values, bool *nulls, int att, const uint64 *hist, double p)
{
	double		v = upg_hist_percentile_ms(hist, p);

	if (isnan(v))
		nulls[att] = true;
	else
		values[att] = Float8GetDatum(v);
}

/* Fill one pool_stats tuple from a row. */
static void
upg_pool_stats_values(UpgPoolRow *r, Datum *values, bool *nulls, TimestampTz reset)
{
	uint64	   *c = r->counters;

	values[Anum_ps_pool] = CStringGetTextDatum(r->name);
	if (r->budget > 0)
		values[Anum_ps_max_connections] = Int32GetDatum(r->budget);
	else
		nulls[Anum_ps_max_connections] = true;
	values[Anum_ps_connections] = Int64GetDatum(r->connections);
	values[Anum_ps_active] = Int64GetDatum(r->active);
	values[Anum_ps_idle] = Int64GetDatum(r->idle);
	values[Anum_ps_idle_in_transaction] = Int64GetDatum(r->idle_in_transaction);
	values[Anum_ps_waiting] = Int64GetDatum(r->waiting);
	upg_set_ratio(values, nulls, Anum_ps_utilization, (double) r->connections, (double) r->budget);
	upg_set_ratio(values, nulls, Anum_ps_busy_ratio, (double) c[UPG_C_BUSY_US],
				  r->connected_us);
	values[Anum_ps_xact_commit] = Int64GetDatum((int64) c[UPG_C_COMMIT]);
	values[Anum_ps_xact_rollback] = Int64GetDatum((int64) c[UPG_C_ROLLBACK]);
	values[Anum_ps_xact_failed] = Int64GetDatum((int64) c[UPG_C_FAILED]);
	upg_set_ratio(values, nulls, Anum_ps_success_rate, (double) c[UPG_C_COMMIT],
				  (double) (c[UPG_C_COMMIT] + c[UPG_C_FAILED]));
	values[Anum_ps_deadlocks] = Int64GetDatum((int64) c[UPG_C_DEADLOCKS]);
	upg_set_percentile(values, nulls, Anum_ps_latency_p50_ms, r->window, 0.50);
	upg_set_percentile(values, nulls, Anum_ps_latency_p95_ms, r->window, 0.95);
	upg_set_percentile(values, nulls, Anum_ps_latency_p99_ms, r->window, 0.99);
	values[Anum_ps_rejected_connections] = Int64GetDatum((int64) r->rejected);
	values[Anum_ps_stats_reset] = TimestampTzGetDatum(reset);
	values[Anum_ps_xact_prepared] = Int64GetDatum((int64) c[UPG_C_PREPARED]);
	values[Anum_ps_errors] = Int64GetDatum((int64) c[UPG_C_ERRORS]);
	values[Anum_ps_statements] = Int64GetDatum((int64) c[UPG_C_STATEMENTS]);
	upg_set_ratio(values, nulls, Anum_ps_latency_avg_ms, (double) c[UPG_C_LATENCY_US] / 1000.0,
				  (double) c[UPG_C_STATEMENTS]);
	values[Anum_ps_budget_in_use] = Int64GetDatum(r->held);
}

/* Check that the SQL declaration has the columns this file fills. */
static void
upg_check_natts(FunctionCallInfo fcinfo, int natts)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (rsinfo->setDesc->natts != natts)
		elog(ERROR, "function returns %d columns, its declaration %d",
			 natts, rsinfo->setDesc->natts);
}

/* unified.pool_stats_internal(): the rows of unified.pool_stats. */
Datum
upg_pool_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	UpgPoolRow *rows;
	TimestampTz reset;
	int			nrows;
	int			i;

	upg_require_shmem();
	InitMaterializedSRF(fcinfo, 0);
	upg_check_natts(fcinfo, Natts_pool_stats);
	reset = (TimestampTz) pg_atomic_read_u64(&upg_stats->stats_reset);
	rows = upg_collect_rows(&nrows);
	for (i = 0; i < nrows; i++)
	{
		Datum		values[Natts_pool_stats];
		bool		nulls[Natts_pool_stats] = {0};

		upg_pool_stats_values(&rows[i], values, nulls, reset);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

/*
 * unified.pool_latency_histogram_internal(): per pool, one row per bucket
 * bound with the number of statements at or below it since the reset
 * (cumulative, as Prometheus expects), the last bound Infinity.
 */
Datum
upg_pool_latency_histogram(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	UpgPoolRow *rows;
	int			nrows;
	int			i;
	int			b;

	upg_require_shmem();
	InitMaterializedSRF(fcinfo, 0);
	upg_check_natts(fcinfo, 3);
	rows = upg_collect_rows(&nrows);
	for (i = 0; i < nrows; i++)
	{
		uint64		cumulative = 0;

		for (b = 0; b < UPG_HIST_BUCKETS; b++)
		{
			Datum		values[3];
			bool		nulls[3] = {0};

			cumulative += rows[i].hist[b];
			values[0] = CStringGetTextDatum(rows[i].name);
			values[1] = Float8GetDatum(upg_hist_upper_us(b) / 1000.0);
			values[2] = Int64GetDatum((int64) cumulative);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	PG_RETURN_VOID();
}

/* unified.stats_overall(): all pools together, for unified.slo. */
Datum
upg_stats_overall(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	UpgPoolRow *rows;
	UpgPoolRow	all;
	Datum		values[Natts_stats_overall];
	bool		nulls[Natts_stats_overall] = {0};
	uint64		xacts;
	int			nrows;
	int			i;
	int			j;

	upg_require_shmem();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (tupdesc->natts != Natts_stats_overall)
		elog(ERROR, "function returns %d columns, its declaration %d",
			 Natts_stats_overall, tupdesc->natts);

	rows = upg_collect_rows(&nrows);
	memset(&all, 0, sizeof(all));
	for (i = 0; i < nrows; i++)
	{
		for (j = 0; j < UPG_NCOUNTERS; j++)
			all.counters[j] += rows[i].counters[j];
		for (j = 0; j < UPG_HIST_BUCKETS; j++)
			all.window[j] += rows[i].window[j];
		all.connected_us += rows[i].connected_us;
	}
	xacts = all.counters[UPG_C_COMMIT] + all.counters[UPG_C_ROLLBACK] + all.counters[UPG_C_FAILED];
	upg_set_ratio(values, nulls, Anum_so_busy_ratio, (double) all.counters[UPG_C_BUSY_US],
				  all.connected_us);
	upg_set_ratio(values, nulls, Anum_so_success_rate, (double) all.counters[UPG_C_COMMIT],
				  (double) (all.counters[UPG_C_COMMIT] + all.counters[UPG_C_FAILED]));
	upg_set_ratio(values, nulls, Anum_so_deadlock_rate, (double) all.counters[UPG_C_DEADLOCKS],
				  (double) xacts);
	upg_set_percentile(values, nulls, Anum_so_latency_p95_ms, all.window, 0.95);
	for (j = 0; j < UPG_NPRUNE; j++)
		values[Anum_so_pruning_queries + j] =
			Int64GetDatum((int64) all.counters[UPG_C_PRUNE_QUERIES + j]);
	values[Anum_so_stats_reset] =
		TimestampTzGetDatum((TimestampTz) pg_atomic_read_u64(&upg_stats->stats_reset));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* unified.reset_stats(): zero every counter; returns the new stats_reset. */
Datum
upg_reset_stats(PG_FUNCTION_ARGS)
{
	upg_require_shmem();
	upg_stats_reset();
	PG_RETURN_TIMESTAMPTZ((TimestampTz) pg_atomic_read_u64(&upg_stats->stats_reset));
}
