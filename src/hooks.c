/*-------------------------------------------------------------------------
 *
 * hooks.c
 *		Every server hook unified_pg installs, each once, in one place.
 *
 * Several areas need the same hooks: the guards (dtx_guard.c,
 * explain_guard.c) refuse statements, error_hints.c adds hints to errors,
 * the statistics (stats_hooks.c, pool_quota.c) count.  Rather than each
 * chaining its own copy of a hook -- three ProcessUtility hooks, two
 * ExecutorStart hooks and two emit_log hooks, each with its own PG_TRY
 * and its own call of the previous hook -- there is one hook function per
 * kind, here, which calls the areas' routines in a fixed order and the
 * previous hook (or the standard function) exactly once:
 *
 *   1. guards, which may refuse the statement with an ERROR before any of
 *      it runs (and before anything is counted for it);
 *   2. hints, which change the error being reported;
 *   3. statistics, which only count, never fail, and wrap the run as
 *      closely as possible (the guards' own checks are not timed).
 *
 * ProcessUtility: DROP EXTENSION and COMMIT/ROLLBACK PREPARED guard, then
 * the EXPLAIN guard's mark, then the statistics' nesting level and timer;
 * one PG_TRY restores the mark and the level however the statement ends.
 * ExecutorStart: the EXPLAIN guard before the plan starts, the statistics
 * after (they ask for a timer and look at the plan's pruning).
 * ExecutorRun and ExecutorFinish: statistics only (nesting, timer).
 * ExecutorEnd: statistics only (the latency), before the executor ends.
 * emit_log_hook: hints, then the statistics' error and deadlock counts,
 * so that a hook chained after ours sees the hint too.
 * ClientAuthentication_hook: the previous hook first (it may still refuse
 * the connection), then the pool and its budget.
 *
 * The guards and hints work whenever the library is loaded, even late
 * (LOAD, or a function call); the statistics need shared memory, so the
 * hooks that only count (ExecutorRun, ExecutorFinish, ExecutorEnd,
 * ClientAuthentication) are installed only when the library is preloaded,
 * and the statistics routines return at once outside a client session.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "libpq/auth.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "tcop/utility.h"
#include "utils/elog.h"

#include "pool_stats.h"

static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;
static ClientAuthentication_hook_type prev_ClientAuthentication = NULL;

static void upg_ExecutorStart(QueryDesc *queryDesc, int eflags);
static void upg_ExecutorRun(UPG_EXECUTOR_RUN_ARGS);
static void upg_ExecutorFinish(QueryDesc *queryDesc);
static void upg_ExecutorEnd(QueryDesc *queryDesc);
static void upg_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
							   bool readOnlyTree, ProcessUtilityContext context,
							   ParamListInfo params, QueryEnvironment *queryEnv,
							   DestReceiver *dest, QueryCompletion *qc);
static void upg_emit_log_hook(ErrorData *edata);
static void upg_ClientAuthentication(Port *port, int status);

/* Install every hook; from _PG_init, the counting ones only when preloading. */
void
upg_hooks_install(void)
{
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = upg_ExecutorStart;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = upg_ProcessUtility;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = upg_emit_log_hook;

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = upg_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = upg_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = upg_ExecutorEnd;
	prev_ClientAuthentication = ClientAuthentication_hook;
	ClientAuthentication_hook = upg_ClientAuthentication;
	upg_stats_callbacks_register();
}

/* ExecutorStart: the EXPLAIN guard, the plan's start, then statistics. */
static void
upg_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	upg_explain_guard_executor_start(queryDesc);

	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	upg_stats_executor_start(queryDesc, eflags);
}

/* ExecutorRun: statistics' nesting level and timer around the run. */
static void
upg_ExecutorRun(UPG_EXECUTOR_RUN_ARGS)
{
	instr_time	start;
	bool		timed = upg_stats_executor_enter(queryDesc, false, &start);

	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(UPG_EXECUTOR_RUN_PASS);
		else
			standard_ExecutorRun(UPG_EXECUTOR_RUN_PASS);
	}
	PG_FINALLY();
	{
		upg_stats_executor_leave();
	}
	PG_END_TRY();
	if (timed)
		upg_stats_executor_timed(queryDesc, &start);
}

/* ExecutorFinish: AFTER triggers and the like are nested and timed too. */
static void
upg_ExecutorFinish(QueryDesc *queryDesc)
{
	instr_time	start;
	bool		timed = upg_stats_executor_enter(queryDesc, true, &start);

	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		upg_stats_executor_leave();
	}
	PG_END_TRY();
	if (timed)
		upg_stats_executor_timed(queryDesc, &start);
}

/* ExecutorEnd: count a top-level query's latency, then end it. */
static void
upg_ExecutorEnd(QueryDesc *queryDesc)
{
	upg_stats_executor_end(queryDesc);

	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/*
 * ProcessUtility: the guards (which may refuse the statement), then the
 * statistics' nesting level and timer around the run.
 */
static void
upg_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	bool		explain_guarded;
	bool		timed;
	instr_time	start;

	upg_dtx_guard_utility(pstmt);
	explain_guarded = upg_explain_guard_utility_enter(pstmt);
	timed = upg_stats_utility_enter(&start);
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
		upg_stats_utility_leave();
		upg_explain_guard_utility_leave(explain_guarded);
	}
	PG_END_TRY();
	if (timed)
		upg_stats_utility_timed(&start);
}

/* emit_log_hook: hints first, then the statistics' counts. */
static void
upg_emit_log_hook(ErrorData *edata)
{
	upg_error_hints_add(edata);
	upg_stats_emit_log(edata);

	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* ClientAuthentication_hook: the previous hook, then the session's pool. */
static void
upg_ClientAuthentication(Port *port, int status)
{
	if (prev_ClientAuthentication)
		prev_ClientAuthentication(port, status);
	upg_quota_client_authenticated(port, status);
}
