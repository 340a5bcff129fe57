/*-------------------------------------------------------------------------
 *
 * resolver.c
 *		The in-doubt resolver and the participant finisher.
 *
 * A resolver pass finishes what coordinators left behind.  It runs in the
 * background worker every unified_pg.resolver_naptime (in its own
 * transactions) and on demand through CALL unified.resolve_in_doubt() (in
 * the procedure's transactions); the code is the same.  A pass:
 *
 *	1. lists candidate transactions without any lock: prepared gids
 *	   'unified:<tx>:<participant>' (any database) whose transaction is
 *	   decided, missing from the log past the grace, undecided past the
 *	   timeout or that are not listed participants, plus log rows in
 *	   'committing'/'aborting' and 'pending' rows past the timeout;
 *	2. for each, TRY-locks the coordinator lock (see dtx.c) and skips the
 *	   transaction if a coordinator holds it; otherwise it reads the row
 *	   again under the lock and acts on what it reads then:
 *	     committing/committed      commit the listed participants
 *	     aborting/aborted          roll back
 *	     pending past the timeout  UPDATE to 'aborting' (durably), roll back
 *	     no row, past the grace    roll back (presumed abort)
 *	   and finally moves 'committing'/'aborting' to 'committed'/'aborted'
 *	   once nothing of the transaction is prepared any more;
 *	3. prunes finished rows older than unified_pg.transaction_log_retention
 *	   in bounded batches.
 *
 * The grace for a gid without a log row is the in-doubt timeout too: a
 * participant prepared before its coordinator's begin_distributed
 * committed is a client bug, but it must not be rolled back under a
 * coordinator that is merely slow.  Gids without the unified: prefix, or
 * with it but not in our format, are never touched.
 *
 * Crash reasoning: every action is idempotent and driven by what is
 * prepared and logged at the time, and each participant is finished in a
 * transaction of its own, so a pass killed at any point is simply
 * continued by the next one (the worker runs one right after it starts).
 * An ERROR ends the worker, which the postmaster restarts.
 *
 * A prepared transaction can only be finished by a backend connected to
 * its database.  For other databases the finisher, a dynamic background
 * worker connected to that database as the bootstrap superuser, receives
 * the gids in a DSM segment, finishes them one transaction each, writes
 * back which are done and exits; its caller waits for it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "unified_pg.h"

/* most transactions one pass looks at, and the prune batch size */
#define UPG_RESOLVER_MAX_TX		10000
#define UPG_PRUNE_BATCH			1000
#define UPG_PRUNE_MAX_BATCHES	10

/* the finisher's job, in a DSM segment */
typedef struct UpgFinishItem
{
	char		gid[GIDSIZE];
	int			status;			/* 0 not done, 1 finished, 2 was gone */
} UpgFinishItem;

typedef struct UpgFinishJob
{
	Oid			dboid;
	bool		commit;
	int			ngids;
	UpgFinishItem items[FLEXIBLE_ARRAY_MEMBER];
} UpgFinishJob;

/* a prepared gid of the transaction being resolved */
typedef struct UpgGid
{
	UpgParticipant part;
	bool		old;			/* prepared before now() - timeout */
	bool		listed;			/* its participant is listed in the log row */
} UpgGid;

PG_FUNCTION_INFO_V1(upg_resolve_in_doubt);
PG_FUNCTION_INFO_V1(upg_resolver_status);

static bool upg_resolve_one(const char *tx_id, bool in_procedure, int timeout_ms,
							MemoryContext cxt, UpgResolverState *counts,
							bool *pause);
static uint64 upg_prune(bool in_procedure);

/* ---------------------------------------------------------------------
 * The finisher: a dynamic worker that finishes gids of another database
 * ---------------------------------------------------------------------
 */

/*
 * Finish gids of database dboid through a finisher worker; must run inside
 * a transaction (the DSM segment belongs to it).  Returns how many are no
 * longer prepared, or -1 if no worker could be started, which is reported
 * at elevel (the background resolver retries every pass, so it only LOGs).
 */
int
upg_finish_elsewhere(Oid dboid, char **gids, int ngids, bool commit, int elevel)
{
	Size		size = offsetof(UpgFinishJob, items) + sizeof(UpgFinishItem) * ngids;
	dsm_segment *seg;
	UpgFinishJob *job;
	char		name[BGW_MAXLEN];
	BgwHandleStatus status;
	int			done = 0;
	int			i;

	seg = dsm_create(size, 0);
	job = dsm_segment_address(seg);
	memset(job, 0, size);
	job->dboid = dboid;
	job->commit = commit;
	job->ngids = ngids;
	for (i = 0; i < ngids; i++)
		strlcpy(job->items[i].gid, gids[i], GIDSIZE);

	snprintf(name, sizeof(name), "unified_pg finisher for database %u", dboid);
	if (!upg_run_worker("upg_finisher_main", name, "unified_pg finisher",
						UInt32GetDatum(dsm_segment_handle(seg)), &status))
	{
		ereport(elevel,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a unified_pg finisher for database %u", dboid),
				 errdetail("%d prepared participants there stay prepared for now.", ngids),
				 errhint("Raise max_worker_processes; the resolver retries on its next pass.")));
		dsm_detach(seg);
		return -1;
	}
	pg_read_barrier();
	for (i = 0; i < ngids; i++)
		if (job->items[i].status != 0)
			done++;
	dsm_detach(seg);
	return done;
}

/*
 * Finish prepared participants, ordered by database: those of this
 * database each in a step of its own, then the others through one finisher
 * worker per database.  If *pause, stop at pause_point once the first
 * participant here is finished, and clear *pause.  A finisher that cannot
 * start is reported at elevel.  Returns how many are left prepared.
 */
int
upg_finish_participants(UpgParticipant *parts, int n, bool commit, bool in_procedure,
						const char *pause_point, bool *pause, int elevel)
{
	UpgStep		step = {.in_procedure = in_procedure};
	char	  **gids = palloc(sizeof(char *) * Max(n, 1));
	int			left = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (parts[i].dboid != MyDatabaseId)
			continue;
		upg_step_start(&step);
		upg_dtx_finish_here(parts[i].gid, commit);
		upg_step_commit(&step, false);
		if (*pause)
		{
			*pause = false;
			upg_dtx_pause_point(pause_point);
		}
	}

	i = 0;
	while (i < n)
	{
		Oid			db = parts[i].dboid;
		int			k = 0;
		int			done;

		if (db == MyDatabaseId)
		{
			i++;
			continue;
		}
		for (; i < n && parts[i].dboid == db; i++)
			gids[k++] = parts[i].gid;
		upg_step_start(&step);
		done = upg_finish_elsewhere(db, gids, k, commit, elevel);
		upg_step_commit(&step, false);
		left += k - Max(done, 0);
	}
	pfree(gids);
	return left;
}

/* Entry point of the finisher worker. */
void
upg_finisher_main(Datum main_arg)
{
	dsm_segment *seg;
	UpgFinishJob *job;
	int			i;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* the caller may be gone already: then there is nothing to do */
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		proc_exit(0);
	job = dsm_segment_address(seg);

	BackgroundWorkerInitializeConnectionByOid(job->dboid, InvalidOid, 0);
	upg_worker_pin_settings();

	for (i = 0; i < job->ngids; i++)
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		args[1];
		bool		present;

		CHECK_FOR_INTERRUPTS();
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		args[0] = CStringGetTextDatum(job->items[i].gid);
		if (SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_prepared_xacts "
								  "WHERE gid = $1 AND database = pg_catalog.current_database()",
								  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not list prepared transactions");
		present = SPI_processed > 0;
		SPI_finish();
		PopActiveSnapshot();
		if (present)
			upg_dtx_finish_here(job->items[i].gid, job->commit);
		CommitTransactionCommand();
		pg_write_barrier();
		job->items[i].status = present ? 1 : 2;
	}
	pgstat_report_activity(STATE_IDLE, NULL);
	dsm_detach(seg);
	proc_exit(0);
}

/* ---------------------------------------------------------------------
 * The resolver pass
 * ---------------------------------------------------------------------
 */

/*
 * One resolver pass.  in_procedure: we are in a non-atomic procedure with
 * SPI connected; otherwise in the worker, outside any transaction.
 */
void
upg_resolver_pass(bool in_procedure, int timeout_ms)
{
	UpgStep		step = {.in_procedure = in_procedure};
	UpgResolverState counts;
	TimestampTz started = GetCurrentTimestamp();
	Oid			argtypes[2] = {FLOAT8OID, INT4OID};
	Datum		args[2];
	char	  **txs;
	int			ntx;
	int			i;
	bool		pause = true;	/* stop once at resolver_mid_pass */
	MemoryContext passcxt;
	MemoryContext oldcxt;

	memset(&counts, 0, sizeof(counts));
	passcxt = AllocSetContextCreate(in_procedure ? CurrentMemoryContext : TopMemoryContext,
									"unified_pg resolver pass", ALLOCSET_DEFAULT_SIZES);

	/* 1: candidates, read without locks */
	upg_step_start(&step);
	args[0] = Float8GetDatum(timeout_ms / 1000.0);
	args[1] = Int32GetDatum(UPG_RESOLVER_MAX_TX);
	if (SPI_execute_with_args(
							  "WITH g AS ("
							  "  SELECT m[1] AS tx_id, m[2] AS participant, p.prepared"
							  "    FROM pg_catalog.pg_prepared_xacts p,"
							  "         LATERAL pg_catalog.regexp_match(p.gid,"
							  "           '^unified:([A-Za-z0-9_.-]{1,128}):([A-Za-z0-9_-]{1,63})$') AS m"
							  "   WHERE pg_catalog.starts_with(p.gid, 'unified:') AND m IS NOT NULL)"
							  " SELECT DISTINCT c.tx_id FROM ("
							  "  SELECT g.tx_id FROM g"
							  "    LEFT JOIN unified.transaction_log l ON l.tx_id = g.tx_id"
							  "   WHERE (l.tx_id IS NULL"
							  "          AND g.prepared < pg_catalog.now() - pg_catalog.make_interval(secs => $1))"
							  "      OR l.state <> 'pending'"
							  "      OR l.began_at < pg_catalog.now() - pg_catalog.make_interval(secs => $1)"
							  "      OR NOT (g.participant = ANY (l.participants))"
							  "  UNION ALL"
							  "  SELECT l.tx_id FROM unified.transaction_log l"
							  "   WHERE l.state IN ('committing', 'aborting')"
							  "      OR (l.state = 'pending'"
							  "          AND l.began_at < pg_catalog.now() - pg_catalog.make_interval(secs => $1))"
							  " ) c ORDER BY 1 LIMIT $2",
							  2, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list in-doubt transactions");
	ntx = (int) SPI_processed;
	oldcxt = MemoryContextSwitchTo(passcxt);
	txs = palloc(sizeof(char *) * Max(ntx, 1));
	for (i = 0; i < ntx; i++)
		txs[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
	MemoryContextSwitchTo(oldcxt);
	upg_step_commit(&step, false);

	/* 2: each under its coordinator lock, skipping those a coordinator has */
	for (i = 0; i < ntx; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!upg_resolve_one(txs[i], in_procedure, timeout_ms, passcxt, &counts,
							 &pause))
			counts.skipped_locked++;
	}

	/* 3: prune */
	counts.log_rows_pruned = upg_prune(in_procedure);

	MemoryContextDelete(passcxt);

	LWLockAcquire(upg_shared->lock, LW_EXCLUSIVE);
	upg_shared->resolver.passes++;
	upg_shared->resolver.last_pass_started_at = started;
	upg_shared->resolver.last_pass_finished_at = GetCurrentTimestamp();
	upg_shared->resolver.last_pass_ms =
		(double) (upg_shared->resolver.last_pass_finished_at - started) / 1000.0;
	upg_shared->resolver.participants_committed += counts.participants_committed;
	upg_shared->resolver.participants_rolled_back += counts.participants_rolled_back;
	upg_shared->resolver.transactions_finished += counts.transactions_finished;
	upg_shared->resolver.transactions_timed_out += counts.transactions_timed_out;
	upg_shared->resolver.skipped_locked += counts.skipped_locked;
	upg_shared->resolver.log_rows_pruned += counts.log_rows_pruned;
	LWLockRelease(upg_shared->lock);
}

/*
 * Resolve one transaction under its coordinator lock.  Returns false if a
 * coordinator holds the lock (nothing was done).
 */
static bool
upg_resolve_one(const char *tx_id, bool in_procedure, int timeout_ms,
				MemoryContext cxt, UpgResolverState *counts, bool *pause)
{
	UpgStep		step = {.in_procedure = in_procedure};
	/* the worker retries every pass, so it only LOGs what a caller is WARNed of */
	int			elevel = in_procedure ? WARNING : LOG;
	Oid			argtypes[2] = {TEXTOID, FLOAT8OID};
	Datum		args[2];
	char	   *state = NULL;
	bool		timed_out = false;
	UpgGid	   *gids;
	int			ngids;
	UpgParticipant *commit_list;
	UpgParticipant *rollback_list;
	int			ncommit = 0;
	int			nrollback = 0;
	int			left;
	int			i;
	char		prefix[UPG_TX_ID_MAXLEN + 16];
	char	  **listed = NULL;
	int			nlisted = 0;

	if (!upg_dtx_lock(tx_id, false))
		return false;

	snprintf(prefix, sizeof(prefix), "%s%s:", UPG_GID_PREFIX, tx_id);

	/*
	 * Read the row and the gids again, now that we hold the lock.  The gids
	 * are matched by prefix and parsed here rather than with a regular
	 * expression in SQL: after a restart with many participants in doubt
	 * this runs once per transaction over every prepared transaction.
	 */
	upg_step_start(&step);
	args[0] = CStringGetTextDatum(tx_id);
	args[1] = Float8GetDatum(timeout_ms / 1000.0);
	if (SPI_execute_with_args("SELECT state, began_at < pg_catalog.now() - pg_catalog.make_interval(secs => $2), "
							  "participants FROM unified.transaction_log WHERE tx_id = $1",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the transaction log");
	if (SPI_processed > 0)
	{
		bool		isnull;
		MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
		Datum	   *elems;

		state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		timed_out = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		deconstruct_array(DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0],
															   SPI_tuptable->tupdesc, 3, &isnull)),
						  TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &nlisted);
		listed = palloc(sizeof(char *) * Max(nlisted, 1));
		for (i = 0; i < nlisted; i++)
			listed[i] = TextDatumGetCString(elems[i]);
		MemoryContextSwitchTo(oldcxt);
	}

	args[0] = CStringGetTextDatum(prefix);
	argtypes[0] = TEXTOID;
	if (SPI_execute_with_args("SELECT p.gid, d.oid, p.prepared < pg_catalog.now() - pg_catalog.make_interval(secs => $2)"
							  "  FROM pg_catalog.pg_prepared_xacts p"
							  "  JOIN pg_catalog.pg_database d ON d.datname = p.database"
							  " WHERE pg_catalog.starts_with(p.gid, $1)"
							  " ORDER BY d.oid, p.gid",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list prepared transactions");

	/* copy out of SPI into the pass's context before the step commits */
	gids = MemoryContextAllocZero(cxt, sizeof(UpgGid) * Max(SPI_processed, 1));
	commit_list = MemoryContextAllocZero(cxt, sizeof(UpgParticipant) * Max(SPI_processed, 1));
	rollback_list = MemoryContextAllocZero(cxt, sizeof(UpgParticipant) * Max(SPI_processed, 1));
	ngids = 0;
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *g = SPI_getvalue(tup, desc, 1);
		char		tx[UPG_TX_ID_MAXLEN + 1];
		char		part[UPG_PARTICIPANT_MAXLEN + 1];
		int			j;

		/* not in our format: never touched */
		if (!upg_dtx_parse_gid(g, tx, part) || strcmp(tx, tx_id) != 0)
			continue;
		strlcpy(gids[ngids].part.gid, g, GIDSIZE);
		gids[ngids].part.dboid = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		gids[ngids].old = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		gids[ngids].listed = false;
		for (j = 0; j < nlisted; j++)
			if (strcmp(listed[j], part) == 0)
				gids[ngids].listed = true;
		ngids++;
	}
	upg_step_commit(&step, false);

	/* decide, from what we read under the lock */
	if (state != NULL && strcmp(state, "pending") == 0 && timed_out)
	{
		/* presumed abort: make it durable before rolling anything back */
		upg_step_start(&step);
		args[0] = CStringGetTextDatum(tx_id);
		if (SPI_execute_with_args("UPDATE unified.transaction_log SET state = 'aborting',"
								  " decided_at = pg_catalog.clock_timestamp(),"
								  " updated_at = pg_catalog.clock_timestamp(),"
								  " error = 'presumed aborted: undecided for longer than unified_pg.in_doubt_timeout'"
								  " WHERE tx_id = $1 AND state = 'pending'",
								  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update the transaction log");
		if (SPI_processed == 1)
		{
			counts->transactions_timed_out++;
			state = "aborting";
		}
		upg_step_commit(&step, true);
	}

	for (i = 0; i < ngids; i++)
	{
		bool		do_commit = false;
		bool		do_rollback = false;

		if (state == NULL)
			do_rollback = gids[i].old;
		else if (!gids[i].listed)
			do_rollback = true;
		else if (strcmp(state, "committing") == 0 || strcmp(state, "committed") == 0)
			do_commit = true;
		else if (strcmp(state, "aborting") == 0 || strcmp(state, "aborted") == 0)
			do_rollback = true;

		if (do_commit)
			commit_list[ncommit++] = gids[i].part;
		else if (do_rollback)
			rollback_list[nrollback++] = gids[i].part;
	}

	left = upg_finish_participants(commit_list, ncommit, true, in_procedure,
								   "resolver_mid_pass", pause, elevel);
	counts->participants_committed += ncommit - left;
	i = upg_finish_participants(rollback_list, nrollback, false, in_procedure,
								"resolver_mid_pass", pause, elevel);
	counts->participants_rolled_back += nrollback - i;
	left += i;

	/* record completion once nothing of the transaction is prepared */
	if (state != NULL && left == 0 &&
		(strcmp(state, "committing") == 0 || strcmp(state, "aborting") == 0))
	{
		upg_step_start(&step);
		args[0] = CStringGetTextDatum(tx_id);
		args[1] = CStringGetTextDatum(prefix);
		argtypes[1] = TEXTOID;
		if (SPI_execute_with_args("UPDATE unified.transaction_log SET"
								  " state = CASE state WHEN 'committing' THEN 'committed' ELSE 'aborted' END,"
								  " finished_at = pg_catalog.clock_timestamp(),"
								  " updated_at = pg_catalog.clock_timestamp(),"
								  " finished_by = 'resolver'"
								  " WHERE tx_id = $1 AND state IN ('committing', 'aborting')"
								  "   AND NOT EXISTS (SELECT FROM pg_catalog.pg_prepared_xacts p"
								  "                    WHERE pg_catalog.starts_with(p.gid, $2))",
								  2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update the transaction log");
		counts->transactions_finished += SPI_processed;
		upg_step_commit(&step, false);
	}

	pfree(gids);
	pfree(commit_list);
	pfree(rollback_list);
	upg_dtx_unlock(tx_id);
	return true;
}

/* Delete finished log rows past the retention, in bounded batches. */
static uint64
upg_prune(bool in_procedure)
{
	UpgStep		step = {.in_procedure = in_procedure};
	Oid			argtypes[2] = {FLOAT8OID, INT4OID};
	Datum		args[2];
	uint64		total = 0;
	int			batch;

	if (upg_transaction_log_retention_s <= 0)
		return 0;
	for (batch = 0; batch < UPG_PRUNE_MAX_BATCHES; batch++)
	{
		uint64		n;

		upg_step_start(&step);
		args[0] = Float8GetDatum((double) upg_transaction_log_retention_s);
		args[1] = Int32GetDatum(UPG_PRUNE_BATCH);
		if (SPI_execute_with_args("DELETE FROM unified.transaction_log WHERE tx_id IN ("
								  " SELECT tx_id FROM unified.transaction_log"
								  "  WHERE state IN ('committed', 'aborted')"
								  "    AND finished_at < pg_catalog.now() - pg_catalog.make_interval(secs => $1)"
								  "  ORDER BY finished_at LIMIT $2"
								  "  FOR UPDATE SKIP LOCKED)",
								  2, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not prune the transaction log");
		n = SPI_processed;
		upg_step_commit(&step, false);
		total += n;
		if (n < UPG_PRUNE_BATCH)
			break;
	}
	return total;
}

/* ---------------------------------------------------------------------
 * SQL
 * ---------------------------------------------------------------------
 */

/* SQL: CALL unified.resolve_in_doubt(in_doubt_timeout interval DEFAULT NULL) */
Datum
upg_resolve_in_doubt(PG_FUNCTION_ARGS)
{
	int			timeout_ms = upg_in_doubt_timeout_s * 1000;

	upg_require_shmem();
	upg_dtx_require_prepared_xacts();

	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		((CallContext *) fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("unified.resolve_in_doubt cannot run inside a transaction block"),
				 errdetail("It finishes every participant in a transaction of its own."),
				 errhint("Use CALL unified.resolve_in_doubt() outside BEGIN ... COMMIT.")));

	if (strcmp(get_database_name(MyDatabaseId), upg_database) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("distributed transactions are coordinated in database \"%s\"", upg_database),
				 errhint("Connect to database \"%s\" to run the resolver.", upg_database)));

	if (!PG_ARGISNULL(0))
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(0);
		double		ms = (double) iv->time / 1000.0 +
			((double) iv->day + (double) iv->month * DAYS_PER_MONTH) * (double) SECS_PER_DAY * 1000.0;

		if (ms < 0 || ms > (double) INT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("in_doubt_timeout must be between 0 and %d milliseconds", INT_MAX)));
		timeout_ms = (int) ms;
	}

	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	upg_resolver_pass(true, timeout_ms);
	SPI_finish();
	PG_RETURN_VOID();
}

/* SQL: unified.resolver_status_internal() -- settings and counters. */
Datum
upg_resolver_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	UpgResolverState r;
	pid_t		pid;
	Datum		values[15];
	bool		nulls[15] = {0};

	upg_require_shmem();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	LWLockAcquire(upg_shared->lock, LW_SHARED);
	r = upg_shared->resolver;
	pid = upg_shared->worker.pid;
	LWLockRelease(upg_shared->lock);

	if (pid != 0)
		values[0] = Int32GetDatum(pid);
	else
		nulls[0] = true;
	values[1] = CStringGetTextDatum(upg_database);
	values[2] = Int32GetDatum(upg_resolver_naptime_ms);
	values[3] = Int32GetDatum(upg_in_doubt_timeout_s);
	values[4] = Int32GetDatum(upg_transaction_log_retention_s);
	values[5] = Int64GetDatum((int64) r.passes);
	if (r.last_pass_started_at != 0)
		values[6] = TimestampTzGetDatum(r.last_pass_started_at);
	else
		nulls[6] = true;
	if (r.last_pass_finished_at != 0)
		values[7] = TimestampTzGetDatum(r.last_pass_finished_at);
	else
		nulls[7] = true;
	if (r.passes > 0)
		values[8] = Float8GetDatum(r.last_pass_ms);
	else
		nulls[8] = true;
	values[9] = Int64GetDatum((int64) r.participants_committed);
	values[10] = Int64GetDatum((int64) r.participants_rolled_back);
	values[11] = Int64GetDatum((int64) r.transactions_finished);
	values[12] = Int64GetDatum((int64) r.transactions_timed_out);
	values[13] = Int64GetDatum((int64) r.skipped_locked);
	values[14] = Int64GetDatum((int64) r.log_rows_pruned);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
