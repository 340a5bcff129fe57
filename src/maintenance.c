/*-------------------------------------------------------------------------
 *
 * maintenance.c
 *		Built-in partition maintenance and partition-pruning introspection.
 *
 * The work itself is SQL (unified.run_maintenance(), sql/install/
 * 20_maintenance.sql); this file only decides when the background worker
 * runs it and reports what happened:
 *
 * - upg_maintenance_tick() is called by the worker on every loop.  Once
 *   unified_pg.maintenance_interval has elapsed since the last attempt it
 *   calls unified.run_maintenance() through SPI, one transaction per pass,
 *   again while a pass says there is more to do (each pass does bounded
 *   work, so locks are held one pass at a time); after a few passes it
 *   lets the worker's loop go round and goes on at the next loop.  The time of the
 *   attempt is recorded in shared memory before running: if a pass fails,
 *   the ERROR ends the worker, the postmaster restarts it, and the new
 *   incarnation waits a full interval instead of retrying in a tight loop.
 *   On a standby (recovery) nothing runs.
 *
 * - unified.maintenance_status() shows the last attempt and its result.
 *
 * - unified.cron_schedule_elsewhere() registers a pg_cron job when pg_cron
 *   lives in another database (cron.database_name) than ours: pg_cron's
 *   functions exist only there, so a short-lived dynamic worker connects
 *   there as the calling role and calls cron.schedule_in_database() for
 *   our database.  One request at a time goes through a slot in shared
 *   memory; the caller waits for the worker to exit and reads the answer.
 *   A slot left by a backend that died is reclaimed.
 *
 * - unified.explain_select(query) plans one SELECT with EXPLAIN (FORMAT
 *   JSON, VERBOSE) and returns the plan; unified.explain_pruning() counts
 *   the partitions in it.  It runs with the caller's rights.  The query is
 *   parsed here and refused unless it is exactly one plain SELECT: no
 *   second statement, no SELECT INTO, no FOR UPDATE, no data-modifying
 *   WITH, no EXPLAIN ANALYZE.  It is only planned, never executed.  The
 *   planner does evaluate immutable functions of the query (constant
 *   folding), with the caller's rights; the EXPLAIN therefore runs with
 *   the transaction read-only, so that nothing they call can write.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/utility.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "unified_pg.h"

/*
 * passes per worker loop; each is bounded by run_maintenance's batch_rows.
 * A run with more work left goes on at the next loop, so the resolver pass
 * between them is never starved.
 */
#define UPG_MAINT_PASSES_PER_LOOP	10

/* the last loop stopped with work left (worker process only) */
static bool upg_maint_unfinished = false;

/*
 * The stored result must stay valid JSON that unified.health_check() can
 * read: when the whole result does not fit in shared memory, keep what
 * says whether maintenance is healthy (status, the first errors, the
 * deferred months, blocked_by) and say it was shortened.
 */
#define UPG_MAINT_QUERY \
	"SELECT CASE WHEN octet_length(r::text) < 1900 THEN r::text ELSE " \
	"jsonb_build_object('status', r->'status', 'blocked_by', " \
	"(SELECT coalesce(jsonb_agg(g), '[]') FROM (SELECT g FROM jsonb_array_elements(r->'blocked_by') g LIMIT 3) s), " \
	"'errors', (SELECT coalesce(jsonb_agg(e), '[]') FROM (SELECT e - 'pids' AS e FROM jsonb_array_elements(r->'errors') e LIMIT 3) s), " \
	"'errors_total', jsonb_array_length(r->'errors'), " \
	"'deferred_months', (SELECT coalesce(jsonb_agg(m), '[]') FROM (SELECT m FROM jsonb_array_elements(r->'deferred_months') m LIMIT 12) s), " \
	"'deferred_more', (r->>'deferred_more')::boolean OR jsonb_array_length(r->'deferred_months') > 12, " \
	"'created', jsonb_array_length(r->'created'), " \
	"'more', r->'more', 'shortened', true)::text END, " \
	"coalesce((r->>'more')::boolean, false) " \
	"FROM unified.run_maintenance() AS r"

#define UPG_EXPLAIN_PREFIX		"EXPLAIN (FORMAT JSON, VERBOSE) "

static bool upg_maintenance_pass(char *result, Size result_len);
static void upg_check_single_select(const char *query, bool wrapped);
static bool upg_select_only_walker(Node *node, void *context);

PG_FUNCTION_INFO_V1(upg_maintenance_status);
PG_FUNCTION_INFO_V1(upg_explain_select);
PG_FUNCTION_INFO_V1(upg_cron_schedule_elsewhere);

static void upg_cron_release_slot(void);

/*
 * Worker hook: run maintenance when the interval has elapsed.  Called once
 * per worker loop while the extension exists in the worker's database.
 */
void
upg_maintenance_tick(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz last;
	char		result[UPG_MAINT_RESULT_LEN];
	int			passes = 0;
	bool		more = true;

	if (upg_maintenance_interval_s <= 0)
	{
		upg_maint_unfinished = false;
		return;
	}

	if (!upg_maint_unfinished)
	{
		LWLockAcquire(upg_shared->lock, LW_SHARED);
		last = upg_shared->maintenance.last_attempt_at;
		LWLockRelease(upg_shared->lock);
		if (last != 0 &&
			!TimestampDifferenceExceeds(last, now, upg_maintenance_interval_s * 1000))
			return;

		LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
		upg_shared->maintenance.last_attempt_at = now;
		upg_shared->maintenance.interval_s = upg_maintenance_interval_s;
		LWLockRelease(upg_shared->lock);
	}

	/* a standby has no partitions to make; run_maintenance would say so too */
	if (RecoveryInProgress())
	{
		LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
		upg_shared->maintenance.skipped_recovery++;
		LWLockRelease(upg_shared->lock);
		return;
	}

	result[0] = '\0';
	while (more && passes < UPG_MAINT_PASSES_PER_LOOP)
	{
		CHECK_FOR_INTERRUPTS();
		more = upg_maintenance_pass(result, sizeof(result));
		passes++;
	}

	LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
	if (!upg_maint_unfinished)
		upg_shared->maintenance.last_passes = 0;
	upg_shared->maintenance.passes += passes;
	upg_shared->maintenance.last_passes += passes;
	strlcpy(upg_shared->maintenance.last_result, result, UPG_MAINT_RESULT_LEN);
	if (!more)
	{
		upg_shared->maintenance.last_finished_at = GetCurrentTimestamp();
		upg_shared->maintenance.runs++;
	}
	LWLockRelease(upg_shared->lock);
	upg_maint_unfinished = more;
}

/*
 * One pass of unified.run_maintenance() in its own transaction; copies the
 * (possibly truncated) jsonb result into "result" and returns its "more".
 */
static bool
upg_maintenance_pass(char *result, Size result_len)
{
	bool		more = false;
	int			ret;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "SELECT unified.run_maintenance()");

	ret = SPI_execute(UPG_MAINT_QUERY, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "unified.run_maintenance() returned %d", ret);
	else
	{
		bool		isnull;
		char	   *text = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		strlcpy(result, text ? text : "", result_len);
		more = !isnull && DatumGetBool(d);
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return more;
}

/* SQL: unified.maintenance_status() -- the built-in maintenance's last run. */
Datum
upg_maintenance_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	UpgMaintenanceState state;
	Datum		values[8];
	bool		nulls[8] = {0};

	upg_require_shmem();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	LWLockAcquire(upg_shared->lock, LW_SHARED);
	state = upg_shared->maintenance;
	LWLockRelease(upg_shared->lock);

	/* the setting as this backend sees it; the worker's copy may lag a reload */
	values[0] = Int32GetDatum(upg_maintenance_interval_s);
	if (state.last_attempt_at != 0)
		values[1] = TimestampTzGetDatum(state.last_attempt_at);
	else
		nulls[1] = true;
	if (state.last_finished_at != 0)
		values[2] = TimestampTzGetDatum(state.last_finished_at);
	else
		nulls[2] = true;
	values[3] = Int64GetDatum((int64) state.runs);
	values[4] = Int64GetDatum((int64) state.passes);
	values[5] = Int32GetDatum(state.last_passes);
	values[6] = Int64GetDatum((int64) state.skipped_recovery);
	if (state.last_result[0] != '\0')
		values[7] = CStringGetTextDatum(state.last_result);
	else
		nulls[7] = true;

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * Refuse anything but one plain SELECT.  With "wrapped" the text is our own
 * EXPLAIN around the caller's query, parsed again so that nothing in the
 * caller's text can change what the EXPLAIN does.
 */
static void
upg_check_single_select(const char *query, bool wrapped)
{
	List	   *stmts = raw_parser(query, RAW_PARSE_DEFAULT);
	RawStmt    *raw;
	Node	   *stmt;

	if (list_length(stmts) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query must be exactly one SELECT statement"),
				 errdetail("The text contains %d statements.", list_length(stmts))));

	raw = linitial_node(RawStmt, stmts);
	stmt = raw->stmt;
	if (wrapped)
	{
		ExplainStmt *explain = (ExplainStmt *) stmt;

		if (!IsA(stmt, ExplainStmt) || list_length(explain->options) != 2)
			elog(ERROR, "unexpected statement in EXPLAIN wrapper");
		stmt = explain->query;
	}

	if (!IsA(stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query must be exactly one SELECT statement"),
				 errdetail("The statement is %s.", CreateCommandName(stmt))));

	(void) upg_select_only_walker(stmt, NULL);
}

/* Walk a raw parse tree; raise an error at anything that is not read-only. */
static bool
upg_select_only_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;

	if (IsA(node, InsertStmt) || IsA(node, UpdateStmt) ||
		IsA(node, DeleteStmt) || IsA(node, MergeStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query must be exactly one SELECT statement"),
				 errdetail("It contains %s in a WITH clause.", CreateCommandName(node))));
	if (IsA(node, SelectStmt) && ((SelectStmt *) node)->intoClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query must be exactly one SELECT statement"),
				 errdetail("SELECT INTO creates a table.")));
	if (IsA(node, LockingClause))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query must be exactly one SELECT statement"),
				 errdetail("Row locking clauses (FOR UPDATE, FOR SHARE) are not accepted.")));

	return raw_expression_tree_walker(node, upg_select_only_walker, context);
}

/*
 * Run our EXPLAIN with the transaction read-only.  Planning is not
 * execution, but it evaluates the query's immutable functions (constant
 * folding), and one of those may call a volatile function that writes:
 * read-only, any such write fails (SQLSTATE 25006) instead of happening.
 * The caller's setting is restored however the EXPLAIN ends.
 */
static int
upg_explain_read_only(const char *sql)
{
	bool		save_read_only = XactReadOnly;
	int			ret;

	XactReadOnly = true;
	PG_TRY();
	{
		ret = SPI_execute(sql, false, 0);
	}
	PG_FINALLY();
	{
		XactReadOnly = save_read_only;
	}
	PG_END_TRY();
	return ret;
}

/*
 * SQL: unified.explain_select(query text) RETURNS json -- the plan of one
 * SELECT, as EXPLAIN (FORMAT JSON, VERBOSE) shows it, with the caller's
 * rights.  Nothing is executed; planning runs read-only.
 */
Datum
upg_explain_select(PG_FUNCTION_ARGS)
{
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	StringInfoData sql;
	text	   *result = NULL;
	int			ret;

	upg_check_single_select(query, false);

	initStringInfo(&sql);
	appendStringInfoString(&sql, UPG_EXPLAIN_PREFIX);
	appendStringInfoString(&sql, query);
	upg_check_single_select(sql.data, true);

	SPI_connect();
	ret = upg_explain_read_only(sql.data);
	if (ret != SPI_OK_UTILITY || SPI_processed != 1)
		elog(ERROR, "EXPLAIN returned %d with " UINT64_FORMAT " rows", ret, SPI_processed);
	else
	{
		char	   *plan = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		Size		len = strlen(plan);

		/* allocate in the caller's context, which outlives SPI_finish */
		result = (text *) SPI_palloc(VARHDRSZ + len);
		SET_VARSIZE(result, VARHDRSZ + len);
		memcpy(VARDATA(result), plan, len);
	}
	SPI_finish();

	PG_RETURN_TEXT_P(result);
}

/* Free the cron request slot if this backend holds it. */
static void
upg_cron_release_slot(void)
{
	LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
	if (upg_shared->cron.requester == MyProcPid)
		upg_shared->cron.requester = 0;
	LWLockRelease(upg_shared->lock);
}

/* Copy a text argument into a fixed buffer, refusing what does not fit. */
static void
upg_cron_copy_arg(char *dst, Size dstlen, text *arg, const char *what)
{
	char	   *s = text_to_cstring(arg);

	if (strlen(s) >= dstlen)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long for a pg_cron job", what),
				 errdetail("It may be at most %d bytes.", (int) dstlen - 1)));
	strlcpy(dst, s, dstlen);
}

/*
 * SQL: unified.cron_schedule_elsewhere(job_name, schedule, command)
 * RETURNS bigint -- register a pg_cron job that runs "command" in this
 * database, from the database named by cron.database_name, owned by the
 * current role.  Returns pg_cron's job id.
 */
Datum
upg_cron_schedule_elsewhere(PG_FUNCTION_ARGS)
{
	const char *crondb = GetConfigOption("cron.database_name", true, false);
	char	   *username = GetUserNameFromId(GetUserId(), false);
	char	   *dbname = get_database_name(MyDatabaseId);
	UpgCronRequest req;
	pid_t		holder;

	upg_require_shmem();

	if (crondb == NULL || crondb[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_cron is not available"),
				 errhint("Add pg_cron to shared_preload_libraries and CREATE EXTENSION pg_cron.")));

	memset(&req, 0, sizeof(req));
	strlcpy(req.crondb, crondb, NAMEDATALEN);
	strlcpy(req.username, username, NAMEDATALEN);
	strlcpy(req.database, dbname, NAMEDATALEN);
	upg_cron_copy_arg(req.jobname, sizeof(req.jobname), PG_GETARG_TEXT_PP(0), "job name");
	upg_cron_copy_arg(req.schedule, sizeof(req.schedule), PG_GETARG_TEXT_PP(1), "schedule");
	upg_cron_copy_arg(req.command, sizeof(req.command), PG_GETARG_TEXT_PP(2), "command");
	req.requester = MyProcPid;

	/* claim the slot, reclaiming it from a backend that is gone */
	LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
	holder = upg_shared->cron.requester;
	if (holder != 0 && holder != MyProcPid && kill(holder, 0) == 0)
	{
		LWLockRelease(upg_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("another pg_cron job registration is in progress"),
				 errhint("Try again in a moment.")));
	}
	upg_shared->cron = req;
	LWLockRelease(upg_shared->lock);

	PG_TRY();
	{
		BgwHandleStatus status;

		if (!upg_run_worker("upg_cron_worker_main", "unified_pg pg_cron registration",
							"unified_pg pg_cron registration", Int32GetDatum(MyProcPid),
							&status))
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("could not start a worker to register the pg_cron job"),
					 errhint("Raise max_worker_processes.")));
		if (status == BGWH_POSTMASTER_DIED)
			ereport(FATAL,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("postmaster exited while registering a pg_cron job")));

		LWLockAcquire(upg_shared->lock, LW_SHARED);
		req = upg_shared->cron;
		LWLockRelease(upg_shared->lock);
	}
	PG_FINALLY();
	{
		upg_cron_release_slot();
	}
	PG_END_TRY();

	if (!req.done)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not register the pg_cron job from database \"%s\"", req.crondb),
				 errdetail("The registration worker could not connect as role \"%s\" or ended early.",
						   req.username),
				 errhint("pg_cron runs jobs as the role that schedules them; schedule as a role that can log in, and see the server log.")));
	if (req.sqlerrcode != 0)
		ereport(ERROR,
				(errcode(req.sqlerrcode),
				 errmsg("could not register the pg_cron job from database \"%s\": %s",
						req.crondb, req.message)));

	PG_RETURN_INT64(req.jobid);
}

/*
 * Entry point of the registration worker: connect to pg_cron's database as
 * the requesting role, call cron.schedule_in_database(), store the answer.
 */
void
upg_cron_worker_main(Datum main_arg)
{
	UpgCronRequest req;
	MemoryContext cxt = CurrentMemoryContext;
	volatile int64 jobid = 0;
	volatile int sqlerrcode = 0;
	char		message[256] = "";

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	LWLockAcquire(upg_shared->lock, LW_SHARED);
	req = upg_shared->cron;
	LWLockRelease(upg_shared->lock);
	if (req.requester != DatumGetInt32(main_arg))
		proc_exit(0);			/* the requester gave up */

	BackgroundWorkerInitializeConnection(req.crondb, req.username, 0);
	upg_worker_pin_settings();

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
		Datum		args[4];
		bool		isnull;
		int			ret;

		args[0] = CStringGetTextDatum(req.jobname);
		args[1] = CStringGetTextDatum(req.schedule);
		args[2] = CStringGetTextDatum(req.command);
		args[3] = CStringGetTextDatum(req.database);

		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "SELECT cron.schedule_in_database(...)");
		ret = SPI_execute_with_args("SELECT cron.schedule_in_database($1, $2, $3, $4)",
									4, argtypes, args, NULL, false, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "cron.schedule_in_database returned %d", ret);
		jobid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		sqlerrcode = edata->sqlerrcode;
		strlcpy(message, edata->message ? edata->message : "unknown error", sizeof(message));
		AbortCurrentTransaction();
	}
	PG_END_TRY();

	LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
	if (upg_shared->cron.requester == DatumGetInt32(main_arg))
	{
		upg_shared->cron.done = true;
		upg_shared->cron.jobid = jobid;
		upg_shared->cron.sqlerrcode = sqlerrcode;
		strlcpy(upg_shared->cron.message, message, sizeof(upg_shared->cron.message));
	}
	LWLockRelease(upg_shared->lock);

	proc_exit(0);
}
