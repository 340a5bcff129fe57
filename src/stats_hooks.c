/*-------------------------------------------------------------------------
 *
 * stats_hooks.c
 *		The hooks that count: executor, utility, transactions, errors.
 *
 * Every hook returns at once in a process that is not a client session
 * (background workers, autovacuum, parallel workers: upg_my_session is
 * NULL there), so only what clients do is counted, each in the pool its
 * session was given at connection time (pool_quota.c).
 *
 * Statement latency is that of top-level statements, as
 * pg_stat_statements measures it: executor time of a query (ExecutorRun
 * and ExecutorFinish, through the query's totaltime instrumentation) or
 * the whole run of a utility statement.  Statements run inside functions
 * and procedures are nested (a nesting level kept by the Run, Finish and
 * ProcessUtility hooks) and belong to their top-level statement.  A
 * statement that fails is not timed; it is counted as an error.
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
#include "storage/ipc.h"
#include "tcop/utility.h"
#include "utils/elog.h"
#include "utils/timestamp.h"

#include "pool_stats.h"

static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;

/* depth of statements inside the current top-level statement */
static int	upg_nesting_level = 0;

/* an error was reported in the current transaction */
static bool upg_error_seen = false;

static void upg_ExecutorStart(QueryDesc *queryDesc, int eflags);
static void upg_ExecutorRun(UPG_EXECUTOR_RUN_ARGS);
static void upg_ExecutorFinish(QueryDesc *queryDesc);
static void upg_ExecutorEnd(QueryDesc *queryDesc);
static void upg_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
							   bool readOnlyTree, ProcessUtilityContext context,
							   ParamListInfo params, QueryEnvironment *queryEnv,
							   DestReceiver *dest, QueryCompletion *qc);
static void upg_emit_log_hook(ErrorData *edata);
static void upg_stats_xact_callback(XactEvent event, void *arg);

/* Chain every counting hook; called from _PG_init while preloading. */
void
upg_stats_hooks_install(void)
{
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = upg_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = upg_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = upg_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = upg_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = upg_ProcessUtility;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = upg_emit_log_hook;
	RegisterXactCallback(upg_stats_xact_callback, NULL);
}

/* Is a statement starting now a top-level statement of a session? */
static inline bool
upg_top_level(void)
{
	return upg_my_session != NULL && upg_nesting_level == 0;
}

/* ExecutorStart: ask for the query's total time; watch partition pruning. */
static void
upg_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	if (upg_my_session == NULL || (eflags & EXEC_FLAG_EXPLAIN_ONLY))
		return;
	if (upg_nesting_level == 0 && queryDesc->totaltime == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(queryDesc->estate->es_query_cxt);

		queryDesc->totaltime = InstrAlloc(1, INSTRUMENT_TIMER, false);
		MemoryContextSwitchTo(old);
	}
	upg_pruning_observe(queryDesc, eflags);
}

/* ExecutorRun: statements run from here on are nested. */
static void
upg_ExecutorRun(UPG_EXECUTOR_RUN_ARGS)
{
	upg_nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(UPG_EXECUTOR_RUN_PASS);
		else
			standard_ExecutorRun(UPG_EXECUTOR_RUN_PASS);
	}
	PG_FINALLY();
	{
		upg_nesting_level--;
	}
	PG_END_TRY();
}

/* ExecutorFinish: AFTER triggers and the like are nested too. */
static void
upg_ExecutorFinish(QueryDesc *queryDesc)
{
	upg_nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		upg_nesting_level--;
	}
	PG_END_TRY();
}

/* ExecutorEnd: count a top-level query's latency. */
static void
upg_ExecutorEnd(QueryDesc *queryDesc)
{
	if (queryDesc->totaltime && upg_top_level())
	{
		InstrEndLoop(queryDesc->totaltime);
		upg_stats_record_latency((uint64) (queryDesc->totaltime->total * 1000000.0));
	}
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/* ProcessUtility: time a top-level utility statement; nest what it runs. */
static void
upg_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	bool		timed = upg_top_level();
	instr_time	start;
	instr_time	duration;

	if (timed)
		INSTR_TIME_SET_CURRENT(start);
	upg_nesting_level++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		upg_nesting_level--;
	}
	PG_END_TRY();

	if (timed)
	{
		INSTR_TIME_SET_CURRENT(duration);
		INSTR_TIME_SUBTRACT(duration, start);
		upg_stats_record_latency((uint64) INSTR_TIME_GET_MICROSEC(duration));
	}
}

/* emit_log_hook: count errors and deadlocks of this session. */
static void
upg_emit_log_hook(ErrorData *edata)
{
	if (upg_my_session != NULL && edata->elevel >= ERROR)
	{
		upg_error_seen = true;
		upg_stats_count(UPG_C_ERRORS, 1);
		if (edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED)
			upg_stats_count(UPG_C_DEADLOCKS, 1);
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
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
	upg_error_seen = false;
	upg_stats_count(counter, 1);

	now = GetCurrentTimestamp();
	start = Max(GetCurrentTransactionStartTimestamp(), upg_stats_counted_since());
	if (now > start)
		upg_stats_count(UPG_C_BUSY_US, (uint64) (now - start));
}
