/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The unified_pg background workers: one per job.
 *
 * Two static workers, registered at load time, each connected as the
 * bootstrap superuser to unified_pg.database and each running one job:
 *
 *	unified_pg resolver      the in-doubt resolver pass (resolver.c), every
 *	                         unified_pg.resolver_naptime
 *	unified_pg maintenance   built-in partition maintenance (maintenance.c),
 *	                         checked every second, run every
 *	                         unified_pg.maintenance_interval
 *
 * They share this file's loop but nothing else: a maintenance pass that
 * takes minutes, or fails, never holds up or stops the resolver.  (The
 * finishers of other databases are dynamic workers, see finisher.c; a
 * one-shot worker registers pg_cron jobs, see maintenance.c.)
 *
 * Each loop: reset the loop's memory context, die on SIGTERM, reload the
 * configuration after SIGHUP, and -- when the extension exists in the
 * database and the server is not a standby -- do one round of the job;
 * then wait on the latch for the nap.  On a standby both workers idle
 * (they connect once the standby is consistent, read nothing but the
 * catalog, and say so in worker_status); after promotion the next loop
 * does the job, so the resolver finishes what the old primary left in
 * doubt.
 *
 * A missing unified_pg.database (or one that does not allow connections)
 * would make every incarnation fail with FATAL at connection time, once a
 * second.  So each worker notes in shared memory that it is connecting; an
 * incarnation that finds the note left behind (its predecessor died while
 * connecting) instead connects to no database, waits quietly until the
 * database exists and accepts connections, and exits so that the next
 * incarnation connects normally.
 *
 * Settings.  A connection takes the database's settings (ALTER DATABASE
 * ... SET), which its owner chooses without being a superuser:
 * default_transaction_read_only = on or a tiny statement_timeout would make
 * every round fail and the worker restart forever.  So every worker of this
 * library (finishers included) pins, right after connecting, the settings
 * that decide whether its work can run at all (upg_worker_pin_settings);
 * the SQL it calls sets its own lock_timeout.
 *
 * Crash reasoning: the workers keep no state that matters outside of
 * shared memory counters and the tables they work on.  Every round runs in
 * its own transactions, so an ERROR aborts the round, ends the process,
 * and the postmaster starts a new incarnation after bgw_restart_time; the
 * new incarnation reconciles from the tables.  SIGTERM (die) ends a
 * worker at the next CHECK_FOR_INTERRUPTS; postmaster death ends it from
 * WaitLatch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "unified_pg.h"

/* seconds the postmaster waits before restarting a crashed worker */
#define UPG_WORKER_RESTART_SECONDS	1

/* how often the maintenance worker looks at the clock, in ms */
#define UPG_MAINTENANCE_NAPTIME_MS	1000

/* each job: its name (bgw_type, pg_stat_activity.backend_type) and round */
typedef struct UpgJobDesc
{
	const char *name;
	const char *short_name;		/* worker_status().worker */
	void		(*round) (void);
	int			(*naptime_ms) (void);
} UpgJobDesc;

static void upg_resolver_round(void);
static int	upg_resolver_nap(void);
static int	upg_maintenance_nap(void);

static const UpgJobDesc upg_jobs[UPG_NUM_JOBS] = {
	[UPG_JOB_RESOLVER] = {"unified_pg resolver", "resolver", upg_resolver_round, upg_resolver_nap},
	[UPG_JOB_MAINTENANCE] = {"unified_pg maintenance", "maintenance", upg_maintenance_tick, upg_maintenance_nap},
};

/* this process's job (worker processes only) */
static UpgJob upg_my_job = UPG_JOB_RESOLVER;

static void upg_worker_handle_signals(void);
static void upg_worker_sleep(long timeout_ms);
static bool upg_extension_present(void);
/* what a connection to unified_pg.database would meet */
typedef enum UpgDatabaseState
{
	UPG_DB_MISSING,
	UPG_DB_NO_CONNECTIONS,		/* ALLOW_CONNECTIONS false */
	UPG_DB_READY
} UpgDatabaseState;

static void upg_worker_connect(void);
static void upg_worker_report(bool present, bool in_recovery);
static void upg_wait_for_database(void);
static UpgDatabaseState upg_database_state(const char *name);
static void upg_worker_on_exit(int code, Datum arg);

PG_FUNCTION_INFO_V1(upg_worker_status);

/*
 * Settings a worker's work depends on, whatever the database's owner set
 * for the database: transactions that can write, no timeouts but the
 * lock_timeout the SQL sets itself.
 */
static const char *const upg_pinned_settings[][2] = {
	{"default_transaction_read_only", "off"},
	{"default_transaction_isolation", "read committed"},
	{"default_transaction_deferrable", "off"},
	{"statement_timeout", "0"},
	{"lock_timeout", "0"},
	{"idle_in_transaction_session_timeout", "0"},
	{"idle_session_timeout", "0"},
};

/* Pin upg_pinned_settings for this worker; call right after connecting. */
void
upg_worker_pin_settings(void)
{
	int			i;

	for (i = 0; i < lengthof(upg_pinned_settings); i++)
		SetConfigOption(upg_pinned_settings[i][0], upg_pinned_settings[i][1],
						PGC_SUSET, PGC_S_OVERRIDE);
}

/*
 * Fill in one of our workers: it connects to a database and runs
 * function_name of this library, with name and type as given.
 */
void
upg_fill_worker(BackgroundWorker *worker, const char *function_name,
				const char *name, const char *type, int restart_time)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = restart_time;
	strlcpy(worker->bgw_library_name, UPG_EXTENSION_NAME, BGW_MAXLEN);
	strlcpy(worker->bgw_function_name, function_name, BGW_MAXLEN);
	strlcpy(worker->bgw_name, name, BGW_MAXLEN);
	strlcpy(worker->bgw_type, type, BGW_MAXLEN);
}

/*
 * Register the static workers, one per job; called from _PG_init while
 * preloading.  They start once a standby is consistent, to idle there.
 */
void
upg_register_worker(void)
{
	BackgroundWorker worker;
	int			job;

	for (job = 0; job < UPG_NUM_JOBS; job++)
	{
		upg_fill_worker(&worker, "upg_worker_main", upg_jobs[job].name, upg_jobs[job].name,
						UPG_WORKER_RESTART_SECONDS);
		worker.bgw_start_time = BgWorkerStart_ConsistentState;
		worker.bgw_main_arg = Int32GetDatum(job);
		RegisterBackgroundWorker(&worker);
	}
}

/*
 * Start a short-lived worker running function_name(main_arg), never
 * restarted, and wait until it exits.  Returns false when no worker slot
 * was free; otherwise *status says how the wait ended.
 */
bool
upg_run_worker(const char *function_name, const char *name, const char *type,
			   Datum main_arg, BgwHandleStatus *status)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	upg_fill_worker(&worker, function_name, name, type, BGW_NEVER_RESTART);
	worker.bgw_main_arg = main_arg;
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return false;
	*status = WaitForBackgroundWorkerShutdown(handle);
	return true;
}

/* Entry point of the static workers; main_arg is the job. */
void
upg_worker_main(Datum main_arg)
{
	MemoryContext loopcxt;

	upg_my_job = (UpgJob) DatumGetInt32(main_arg);
	if (upg_my_job < 0 || upg_my_job >= UPG_NUM_JOBS)
		elog(ERROR, "unified_pg worker started for unknown job %d", (int) upg_my_job);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	upg_worker_connect();
	ereport(LOG,
			(errmsg("%s started in database \"%s\"", upg_jobs[upg_my_job].name, upg_database)));

	loopcxt = AllocSetContextCreate(TopMemoryContext, "unified_pg worker loop",
									ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		bool		present;
		bool		in_recovery;

		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);
		upg_worker_handle_signals();

		pgstat_report_activity(STATE_RUNNING, "checking for the unified_pg extension");
		present = upg_extension_present();
		in_recovery = RecoveryInProgress();
		MemoryContextSwitchTo(loopcxt);

		/* the job runs in its own transactions; a standby only idles */
		if (present && !in_recovery)
			upg_jobs[upg_my_job].round();
		MemoryContextSwitchTo(loopcxt);

		upg_worker_report(present, in_recovery);
		pgstat_report_stat(false);
		upg_worker_sleep(upg_jobs[upg_my_job].naptime_ms());
	}
}

/*
 * Connect to unified_pg.database, or -- if the previous incarnation died
 * while connecting -- wait for it without a connection and exit.
 */
static void
upg_worker_connect(void)
{
	UpgWorkerState *me = &upg_shared->workers[upg_my_job];
	bool		previous_connect_failed;

	LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
	previous_connect_failed = me->connecting;
	me->connecting = true;
	LWLockRelease(upg_shared->lock);

	if (previous_connect_failed)
	{
		BackgroundWorkerInitializeConnection(NULL, NULL, 0);
		upg_wait_for_database();
		LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
		me->connecting = false;
		LWLockRelease(upg_shared->lock);
		proc_exit(1);			/* restarted, then connects normally */
	}

	BackgroundWorkerInitializeConnection(upg_database, NULL, 0);
	upg_worker_pin_settings();

	LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
	me->connecting = false;
	me->pid = MyProcPid;
	me->started_at = GetCurrentTimestamp();
	me->last_loop_at = 0;
	me->loops = 0;
	me->starts++;
	LWLockRelease(upg_shared->lock);
	before_shmem_exit(upg_worker_on_exit, (Datum) 0);
}

/* Publish what this loop saw. */
static void
upg_worker_report(bool present, bool in_recovery)
{
	UpgWorkerState *me = &upg_shared->workers[upg_my_job];

	LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
	me->extension_present = present;
	me->in_recovery = in_recovery;
	me->naptime_ms = upg_jobs[upg_my_job].naptime_ms();
	me->last_loop_at = GetCurrentTimestamp();
	me->loops++;
	LWLockRelease(upg_shared->lock);
}

/* The resolver's round: one pass with the configured timeout. */
static void
upg_resolver_round(void)
{
	upg_resolver_pass(false, upg_in_doubt_timeout_s * 1000);
}

/* The resolver naps unified_pg.resolver_naptime. */
static int
upg_resolver_nap(void)
{
	return upg_resolver_naptime_ms;
}

/*
 * Maintenance looks at the clock every second; upg_maintenance_tick
 * decides whether a run is due (or one left work for the next loop).
 */
static int
upg_maintenance_nap(void)
{
	return UPG_MAINTENANCE_NAPTIME_MS;
}

/* Die on SIGTERM; reload the configuration after SIGHUP. */
static void
upg_worker_handle_signals(void)
{
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/* Sleep for timeout_ms, or until the latch is set or the postmaster dies. */
static void
upg_worker_sleep(long timeout_ms)
{
	pgstat_report_activity(STATE_IDLE, NULL);
	(void) WaitLatch(MyLatch,
					 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 timeout_ms,
					 UPG_WAIT_EVENT_EXTENSION);
	ResetLatch(MyLatch);
}

/*
 * Can a database of this name be connected to?  Without a database
 * connection only shared catalogs can be read, and only by a plain heap
 * scan (no indexes), as the autovacuum launcher does.
 */
static UpgDatabaseState
upg_database_state(const char *name)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	UpgDatabaseState state = UPG_DB_MISSING;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) == 0)
		{
			state = db->datallowconn ? UPG_DB_READY : UPG_DB_NO_CONNECTIONS;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return state;
}

/*
 * Connected to no database, poll the shared catalog until
 * unified_pg.database exists and accepts connections; say once in the log
 * what we are waiting for.
 */
static void
upg_wait_for_database(void)
{
	UpgDatabaseState logged = UPG_DB_READY;

	for (;;)
	{
		UpgDatabaseState state;

		upg_worker_handle_signals();
		state = upg_database_state(upg_database);
		if (state == UPG_DB_READY)
			return;

		if (state != logged && state == UPG_DB_MISSING)
			ereport(LOG,
					(errmsg("%s is waiting for database \"%s\" to be created",
							upg_jobs[upg_my_job].name, upg_database),
					 errhint("Create the database, or set unified_pg.database and restart the server.")));
		else if (state != logged)
			ereport(LOG,
					(errmsg("%s is waiting for database \"%s\" to accept connections",
							upg_jobs[upg_my_job].name, upg_database),
					 errhint("ALTER DATABASE %s ALLOW_CONNECTIONS true, or set unified_pg.database and restart the server.",
							 quote_identifier(upg_database))));
		logged = state;
		upg_worker_sleep(Max(upg_resolver_naptime_ms, 1000));
	}
}

/* Is the extension installed in the worker's database? */
static bool
upg_extension_present(void)
{
	bool		present;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	present = OidIsValid(get_extension_oid(UPG_EXTENSION_NAME, true));
	CommitTransactionCommand();
	return present;
}

/*
 * Clear our pid from shared memory when the worker exits.  After an ERROR
 * the process exits without having released its LWLocks (that happens in
 * a later exit callback), so release them first or we could wait on our
 * own lock forever.
 */
static void
upg_worker_on_exit(int code, Datum arg)
{
	LWLockReleaseAll();
	LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
	if (upg_shared->workers[upg_my_job].pid == MyProcPid)
		upg_shared->workers[upg_my_job].pid = 0;
	LWLockRelease(upg_shared->lock);
}

/*
 * SQL: unified.worker_status() -- what each worker last reported, one row
 * per job.  Copies the state under the shared lock, then builds the rows.
 */
Datum
upg_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	UpgWorkerState states[UPG_NUM_JOBS];
	int			job;

	upg_require_shmem();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(upg_shared->lock, LW_SHARED);
	memcpy(states, upg_shared->workers, sizeof(states));
	LWLockRelease(upg_shared->lock);

	for (job = 0; job < UPG_NUM_JOBS; job++)
	{
		UpgWorkerState *state = &states[job];
		Datum		values[10];
		bool		nulls[10] = {0};

		values[0] = CStringGetTextDatum(upg_jobs[job].short_name);
		if (state->pid != 0)
			values[1] = Int32GetDatum(state->pid);
		else
			nulls[1] = true;
		values[2] = CStringGetTextDatum(upg_database);
		if (state->started_at != 0)
			values[3] = TimestampTzGetDatum(state->started_at);
		else
			nulls[3] = true;
		if (state->last_loop_at != 0)
			values[4] = TimestampTzGetDatum(state->last_loop_at);
		else
			nulls[4] = true;
		values[5] = Int64GetDatum((int64) state->loops);
		values[6] = Int64GetDatum((int64) state->starts);
		values[7] = BoolGetDatum(state->extension_present);
		values[8] = Int32GetDatum(state->naptime_ms);
		values[9] = BoolGetDatum(state->in_recovery);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
