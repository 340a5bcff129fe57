/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The unified_pg background worker.
 *
 * One worker per server, registered at load time, connected as the
 * bootstrap superuser to unified_pg.database.  It loops forever: wait for
 * the latch or the naptime, reload the configuration if SIGHUP arrived,
 * and -- when the extension exists in its database -- do one round of
 * work.  The work of a round is owned by other files (the resolver pass,
 * built-in partition maintenance); this file only schedules it.
 *
 * A missing unified_pg.database (or one that does not allow connections)
 * would make every incarnation fail with FATAL at connection time, once a
 * second.  So the worker notes in shared
 * memory that it is connecting; an incarnation that finds the note left
 * behind (its predecessor died while connecting) instead connects to no
 * database, waits quietly until the database exists and accepts
 * connections, and exits so that the next incarnation connects normally.
 *
 * Settings.  A connection takes the database's settings (ALTER DATABASE
 * ... SET), which its owner chooses without being a superuser:
 * default_transaction_read_only = on or a tiny statement_timeout would make
 * every round fail and the worker restart forever.  So every worker of this
 * library pins, right after connecting, the settings that decide whether
 * its work can run at all (upg_worker_pin_settings); the SQL it calls sets
 * its own lock_timeout.
 *
 * Crash reasoning: the worker keeps no state that matters outside of
 * shared memory counters and the tables it works on.  Every round runs in
 * its own transactions, so an ERROR aborts the round, ends the process,
 * and the postmaster starts a new incarnation after bgw_restart_time; the
 * new incarnation reconciles from the tables.  SIGTERM (die) ends the
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
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "unified_pg.h"

/* seconds the postmaster waits before restarting a crashed worker */
#define UPG_WORKER_RESTART_SECONDS	1

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
static void
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

/* Register the static worker; called from _PG_init while preloading. */
void
upg_register_worker(void)
{
	BackgroundWorker worker;

	upg_fill_worker(&worker, "upg_worker_main", UPG_WORKER_TYPE, UPG_WORKER_TYPE,
					UPG_WORKER_RESTART_SECONDS);
	RegisterBackgroundWorker(&worker);
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

/* Entry point of the background worker. */
void
upg_worker_main(Datum main_arg)
{
	bool		previous_connect_failed;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
	previous_connect_failed = upg_shared->worker.connecting;
	upg_shared->worker.connecting = true;
	LWLockRelease(upg_shared->lock);

	if (previous_connect_failed)
	{
		BackgroundWorkerInitializeConnection(NULL, NULL, 0);
		upg_wait_for_database();
		LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
		upg_shared->worker.connecting = false;
		LWLockRelease(upg_shared->lock);
		proc_exit(1);			/* restarted, then connects normally */
	}

	BackgroundWorkerInitializeConnection(upg_database, NULL, 0);
	upg_worker_pin_settings();

	LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
	upg_shared->worker.connecting = false;
	upg_shared->worker.pid = MyProcPid;
	upg_shared->worker.started_at = GetCurrentTimestamp();
	upg_shared->worker.last_loop_at = 0;
	upg_shared->worker.loops = 0;
	upg_shared->worker.starts++;
	LWLockRelease(upg_shared->lock);
	before_shmem_exit(upg_worker_on_exit, (Datum) 0);

	ereport(LOG,
			(errmsg("unified_pg worker started in database \"%s\"", upg_database)));

	for (;;)
	{
		bool		present;

		upg_worker_handle_signals();

		pgstat_report_activity(STATE_RUNNING, "checking for the unified_pg extension");
		present = upg_extension_present();

		/*
		 * The resolver pass and built-in maintenance run here, each in its
		 * own transactions, when the extension is present.
		 */
		if (present)
		{
			upg_resolver_pass(false, upg_in_doubt_timeout_s * 1000);
			upg_maintenance_tick();
		}

		LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
		upg_shared->worker.extension_present = present;
		upg_shared->worker.naptime_ms = upg_resolver_naptime_ms;
		upg_shared->worker.last_loop_at = GetCurrentTimestamp();
		upg_shared->worker.loops++;
		LWLockRelease(upg_shared->lock);

		pgstat_report_stat(false);
		upg_worker_sleep(upg_resolver_naptime_ms);
	}
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
					(errmsg("unified_pg worker is waiting for database \"%s\" to be created",
							upg_database),
					 errhint("Create the database, or set unified_pg.database and restart the server.")));
		else if (state != logged)
			ereport(LOG,
					(errmsg("unified_pg worker is waiting for database \"%s\" to accept connections",
							upg_database),
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
	if (upg_shared->worker.pid == MyProcPid)
		upg_shared->worker.pid = 0;
	LWLockRelease(upg_shared->lock);
}

/*
 * SQL: unified.worker_status() -- what the worker last reported.
 * Copies the state under the shared lock, then builds the tuple.
 */
Datum
upg_worker_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	UpgWorkerState state;
	Datum		values[8];
	bool		nulls[8] = {0};

	upg_require_shmem();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	LWLockAcquire(upg_shared->lock, LW_SHARED);
	state = upg_shared->worker;
	LWLockRelease(upg_shared->lock);

	if (state.pid != 0)
		values[0] = Int32GetDatum(state.pid);
	else
		nulls[0] = true;
	values[1] = CStringGetTextDatum(upg_database);
	if (state.started_at != 0)
		values[2] = TimestampTzGetDatum(state.started_at);
	else
		nulls[2] = true;
	if (state.last_loop_at != 0)
		values[3] = TimestampTzGetDatum(state.last_loop_at);
	else
		nulls[3] = true;
	values[4] = Int64GetDatum((int64) state.loops);
	values[5] = Int64GetDatum((int64) state.starts);
	values[6] = BoolGetDatum(state.extension_present);
	values[7] = Int32GetDatum(state.naptime_ms);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
