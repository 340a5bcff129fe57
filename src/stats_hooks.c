/*-------------------------------------------------------------------------
 *
 * stats_hooks.c
 *		What counts: the statistics' parts of the executor, utility and
 *		error hooks, and the transaction callback.
 *
 * The hook functions themselves are in hooks.c, which calls the routines
 * here after the guards.  Every routine returns at once in a process that
 * is not a client session (background workers, autovacuum, parallel
 * workers, a library not preloaded: upg_my_session is NULL there), so only
 * what clients do is counted, each in the pool its session was given at
 * connection time (pool_quota.c).
 *
 * Statement latency is that of top-level statements, as
 * pg_stat_statements measures it: executor time of a query (ExecutorRun
 * and ExecutorFinish) or the whole run of a utility statement.
 * Statements run inside functions and procedures are nested (a nesting
 * level kept around ExecutorRun, ExecutorFinish and ProcessUtility) and
 * belong to their top-level statement.  A statement that fails is not
 * timed; it is counted as an error.
 *
 * The timer.  A top-level query gets an entry in a small array of the
 * queries being timed (almost always one; an extended-protocol client can
 * interleave a few portals): its QueryDesc and the executor time so far.
 * ExecutorRun and ExecutorFinish read the clock before and after and add
 * the difference, ExecutorEnd records the sum and frees the entry.  That
 * is two clock reads per call and no allocation, where the executor's
 * Instrumentation (InstrAlloc, InstrStartNode/StopNode) costs a palloc
 * and more work per call.  The ExecutorFinish of a plain SELECT (no
 * data-modifying WITH) runs no triggers and no sub-plans, so it is not
 * timed.  A query that fails never reaches ExecutorEnd: its entry is
 * dropped when its subtransaction or transaction aborts.  Should more
 * queries be open than the array holds, the next ones are timed through
 * the executor's Instrumentation as before (queryDesc->totaltime).
 *
 * Transactions.  A commit, a PREPARE TRANSACTION and an abort are counted
 * in the transaction callback, which only adds to this session's own
 * counters: it cannot fail, and nothing here ever raises an error in a
 * commit or abort callback.  An abort is an explicit rollback when the
 * transaction block is in the state ROLLBACK puts it in (status 'E'); a
 * session that disconnects without an error rolls back too; every other
 * abort is a transaction aborted by an error (xact_failed).  Time inside
 * transactions (busy_ratio) is counted when each transaction ends.
 *
 * Errors and deadlocks come from emit_log_hook, so they are counted when
 * the server logs them: with log_min_messages at its default (warning) or
 * anything up to error.  The classification of aborts above does not
 * depend on logging.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "utils/elog.h"
#include "utils/timestamp.h"

#include "pool_stats.h"

/* most top-level queries timed at once without Instrumentation */
#define UPG_TIMED_MAX	8

/* a top-level query being timed */
typedef struct UpgTimedQuery
{
	QueryDesc  *query;
	EState	   *estate;			/* with query, tells a reused address apart */
	SubTransactionId subid;		/* started in; dropped when that aborts */
	instr_time	elapsed;		/* executor time so far */
} UpgTimedQuery;

/* depth of statements inside the current top-level statement */
static int	upg_nesting_level = 0;

/* an error was reported in the current transaction */
static bool upg_error_seen = false;

static UpgTimedQuery upg_timed[UPG_TIMED_MAX];
static int	upg_ntimed = 0;

static void upg_stats_xact_callback(XactEvent event, void *arg);
static void upg_stats_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
									   SubTransactionId parentSubid, void *arg);

/* Register the transaction callbacks; called from _PG_init while preloading. */
void
upg_stats_callbacks_register(void)
{
	RegisterXactCallback(upg_stats_xact_callback, NULL);
	RegisterSubXactCallback(upg_stats_subxact_callback, NULL);
}

/* Is a statement starting now a top-level statement of a session? */
static inline bool
upg_top_level(void)
{
	return upg_my_session != NULL && upg_nesting_level == 0;
}

/* The timer entry of a query, or NULL. */
static inline UpgTimedQuery *
upg_timed_find(QueryDesc *queryDesc)
{
	int			i;

	for (i = 0; i < upg_ntimed; i++)
		if (upg_timed[i].query == queryDesc && upg_timed[i].estate == queryDesc->estate)
			return &upg_timed[i];
	return NULL;
}

/* Free entry t (entries are unordered). */
static inline void
upg_timed_remove(UpgTimedQuery *t)
{
	*t = upg_timed[--upg_ntimed];
}

/* Start timing a top-level query: an entry, else its Instrumentation. */
static void
upg_timed_start(QueryDesc *queryDesc)
{
	UpgTimedQuery *t = upg_timed_find(queryDesc);

	if (t == NULL && upg_ntimed < UPG_TIMED_MAX)
		t = &upg_timed[upg_ntimed++];
	if (t != NULL)
	{
		t->query = queryDesc;
		t->estate = queryDesc->estate;
		t->subid = GetCurrentSubTransactionId();
		INSTR_TIME_SET_ZERO(t->elapsed);
	}
	else if (queryDesc->totaltime == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(queryDesc->estate->es_query_cxt);

		queryDesc->totaltime = InstrAlloc(1, INSTRUMENT_TIMER, false);
		MemoryContextSwitchTo(old);
	}
}

/* After ExecutorStart: time a top-level query; watch partition pruning. */
void
upg_stats_executor_start(QueryDesc *queryDesc, int eflags)
{
	if (upg_my_session == NULL || (eflags & EXEC_FLAG_EXPLAIN_ONLY))
		return;
	if (upg_nesting_level == 0)
		upg_timed_start(queryDesc);
	upg_pruning_observe(queryDesc, eflags);
}

/*
 * Before ExecutorRun or ExecutorFinish (finish: which one): statements run
 * from here on are nested.  Returns whether the call is to be timed, with
 * the clock read into *start.
 */
bool
upg_stats_executor_enter(QueryDesc *queryDesc, bool finish, instr_time *start)
{
	bool		timed;

	timed = upg_top_level() &&
		!(finish && queryDesc->operation == CMD_SELECT &&
		  !queryDesc->plannedstmt->hasModifyingCTE) &&
		upg_timed_find(queryDesc) != NULL;
	upg_nesting_level++;
	if (timed)
		INSTR_TIME_SET_CURRENT(*start);
	return timed;
}

/* After ExecutorRun or ExecutorFinish, error or not: leave the nesting. */
void
upg_stats_executor_leave(void)
{
	upg_nesting_level--;
}

/* After a timed ExecutorRun or ExecutorFinish that returned: add its time. */
void
upg_stats_executor_timed(QueryDesc *queryDesc, const instr_time *start)
{
	instr_time	now;
	UpgTimedQuery *t;

	INSTR_TIME_SET_CURRENT(now);
	t = upg_timed_find(queryDesc);
	if (t != NULL)
		INSTR_TIME_ACCUM_DIFF(t->elapsed, now, *start);
}

/* Before ExecutorEnd: count a top-level query's latency. */
void
upg_stats_executor_end(QueryDesc *queryDesc)
{
	UpgTimedQuery *t;

	if (upg_my_session == NULL)
		return;
	t = upg_ntimed > 0 ? upg_timed_find(queryDesc) : NULL;
	if (t != NULL)
	{
		upg_stats_record_latency((uint64) INSTR_TIME_GET_MICROSEC(t->elapsed));
		upg_timed_remove(t);
	}
	else if (queryDesc->totaltime && upg_nesting_level == 0)
	{
		InstrEndLoop(queryDesc->totaltime);
		upg_stats_record_latency((uint64) (queryDesc->totaltime->total * 1000000.0));
	}
}

/*
 * Before ProcessUtility: what it runs is nested.  Returns whether the
 * statement is timed (a top-level one), with the clock read into *start.
 */
bool
upg_stats_utility_enter(instr_time *start)
{
	bool		timed = upg_top_level();

	if (timed)
		INSTR_TIME_SET_CURRENT(*start);
	upg_nesting_level++;
	return timed;
}

/* After ProcessUtility, error or not: leave the nesting. */
void
upg_stats_utility_leave(void)
{
	upg_nesting_level--;
}

/* After a timed ProcessUtility that returned: count its latency. */
void
upg_stats_utility_timed(const instr_time *start)
{
	instr_time	duration;

	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, *start);
	upg_stats_record_latency((uint64) INSTR_TIME_GET_MICROSEC(duration));
}

/* From the emit_log_hook: count errors and deadlocks of this session. */
void
upg_stats_emit_log(ErrorData *edata)
{
	if (upg_my_session != NULL && edata->elevel >= ERROR)
	{
		upg_error_seen = true;
		upg_stats_count(UPG_C_ERRORS, 1);
		if (edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED)
			upg_stats_count(UPG_C_DEADLOCKS, 1);
	}
}

/*
 * Transaction callback: count how the transaction ended and the time it
 * took.  Only adds to this session's own counters; cannot fail.
 */
static void
upg_stats_xact_callback(XactEvent event, void *arg)
{
	UpgCounter counter;
	TimestampTz now;
	TimestampTz start;

	if (upg_my_session == NULL)
		return;
	if (upg_in_startup_transaction)
	{
		/* the connection's own start-up transaction is not the client's */
		if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
			upg_in_startup_transaction = false;
		return;
	}
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			counter = UPG_C_COMMIT;
			break;
		case XACT_EVENT_PREPARE:
			counter = UPG_C_PREPARED;
			break;
		case XACT_EVENT_ABORT:
			if (TransactionBlockStatusCode() == 'E' ||
				(proc_exit_inprogress && !upg_error_seen))
				counter = UPG_C_ROLLBACK;
			else
				counter = UPG_C_FAILED;
			break;
		default:
			return;
	}
	/* queries still being timed now failed; the others ended before commit */
	upg_ntimed = 0;
	upg_error_seen = false;
	upg_stats_count(counter, 1);

	now = GetCurrentTimestamp();
	start = Max(GetCurrentTransactionStartTimestamp(), upg_stats_counted_since());
	if (now > start)
		upg_stats_count(UPG_C_BUSY_US, (uint64) (now - start));
}

/*
 * Subtransaction callback: at an abort, forget the queries timed since the
 * subtransaction began (they failed; subtransaction ids only grow, so
 * those of its children are larger).  Cannot fail.
 */
static void
upg_stats_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	int			i;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	for (i = upg_ntimed - 1; i >= 0; i--)
		if (upg_timed[i].subid >= mySubid)
			upg_timed_remove(&upg_timed[i]);
}
