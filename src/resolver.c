/*-------------------------------------------------------------------------
 *
 * resolver.c
 *		The in-doubt resolver and the participant finisher.
 *
 * A resolver pass finishes what coordinators left behind.  It runs in the
 * background worker every unified_pg.resolver_naptime (in its own
 * transactions) and on demand through CALL unified.resolve_in_doubt() (in
 * the procedure's transactions); the code is the same.  What to do with a
 * gid is decided by upg_decide (dtx_protocol.c), as for the coordinator
 * and the unified.in_doubt view.  A pass:
 *
 *	1. lists every prepared unified: gid once (pg_prepared_xact(), sorted
 *	   by transaction), then reads the log row of each transaction found
 *	   (gids first, rows after: a row is committed before its participants
 *	   prepare, so no gid is ever seen without the row it had); a
 *	   transaction is a candidate when upg_decide says commit or rollback
 *	   for one of its gids, its decision is not carried out, or it is
 *	   undecided past the timeout; log rows in that state with nothing
 *	   prepared are added;
 *	2. rolls back the malformed gids (each under a lock of its own), then,
 *	   for each candidate, TRY-locks the coordinator lock (see dtx.c) and
 *	   skips the transaction if a coordinator holds it; otherwise reads
 *	   the row again under the lock -- if it changed since step 1, a
 *	   coordinator worked on it and the next pass looks again -- records
 *	   the presumed abort durably if it timed out, and commits or rolls back
 *	   each gid as upg_decide says, one LOG line per action (gid, decision,
 *	   reason); finally moves 'committing'/'aborting' to
 *	   'committed'/'aborted' once nothing it saw is prepared any more;
 *	3. prunes finished rows older than unified_pg.transaction_log_retention
 *	   in bounded batches.
 *
 * Work is per pass O(prepared + candidates): one listing, one row read per
 * transaction, and a finish that checks the gid still has the xid listed
 * (TransactionIdIsInProgress), never a scan of pg_prepared_xacts per
 * transaction.  Memory of one transaction is reset after it.
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

/* a transaction the pass looks at: its row and its prepared gids */
typedef struct UpgCandidate
{
	char		tx_id[UPG_TX_ID_MAXLEN + 1];
	UpgTxRow	row;			/* state UPG_TX_NONE: no row */
	UpgPrepared *gids;			/* into the pass's listing */
	int			ngids;
} UpgCandidate;

PG_FUNCTION_INFO_V1(upg_resolve_in_doubt);
PG_FUNCTION_INFO_V1(upg_resolver_status);

static bool upg_needs_resolving(const UpgCandidate *c, int timeout_ms, TimestampTz now);
static int	upg_candidates(int timeout_ms, TimestampTz now, UpgCandidate **out,
						   UpgPrepared **malformed, int *nmalformed);
static int	upg_tx_id_cmp(const void *a, const void *b);
static void upg_log_action(const UpgPrepared *p, UpgAction action, UpgTxState state,
						   const char *reason);
static bool upg_rollback_malformed(const UpgPrepared *p, bool in_procedure, bool *pause);
static bool upg_resolve_one(UpgCandidate *c, bool in_procedure, int timeout_ms,
							UpgResolverState *counts, bool *pause);
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
		(void) upg_dtx_finish_here(parts[i].gid, parts[i].xid, commit);
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
			(void) upg_dtx_finish_here(job->items[i].gid, InvalidTransactionId, job->commit);
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
	UpgCandidate *cands;
	int			ncands;
	UpgPrepared *malformed;
	int			nmalformed;
	int			i;
	bool		pause = true;	/* stop once at resolver_mid_pass */
	MemoryContext passcxt;
	MemoryContext txcxt;
	MemoryContext oldcxt;

	memset(&counts, 0, sizeof(counts));
	passcxt = AllocSetContextCreate(in_procedure ? CurrentMemoryContext : TopMemoryContext,
									"unified_pg resolver pass", ALLOCSET_DEFAULT_SIZES);
	txcxt = AllocSetContextCreate(passcxt, "unified_pg resolver transaction",
								  ALLOCSET_DEFAULT_SIZES);

	/* 1: candidates, read without locks */
	upg_step_start(&step);
	oldcxt = MemoryContextSwitchTo(passcxt);
	ncands = upg_candidates(timeout_ms, started, &cands, &malformed, &nmalformed);
	MemoryContextSwitchTo(oldcxt);
	upg_step_commit(&step, false);

	/* 2: gids that belong to no transaction, then each transaction */
	for (i = 0; i < nmalformed; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!upg_rollback_malformed(&malformed[i], in_procedure, &pause))
			counts.skipped_locked++;
		else
			counts.participants_rolled_back++;
	}
	for (i = 0; i < ncands; i++)
	{
		CHECK_FOR_INTERRUPTS();
		oldcxt = MemoryContextSwitchTo(txcxt);
		if (!upg_resolve_one(&cands[i], in_procedure, timeout_ms, &counts, &pause))
			counts.skipped_locked++;
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(txcxt);
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
 * Does a transaction need the resolver: a gid to commit or roll back, a
 * decision whose completion is not recorded, or a timed-out undecided row?
 */
static bool
upg_needs_resolving(const UpgCandidate *c, int timeout_ms, TimestampTz now)
{
	int			i;

	if (c->row.state == UPG_TX_COMMITTING || c->row.state == UPG_TX_ABORTING ||
		upg_tx_timed_out(&c->row, timeout_ms, now))
		return true;
	for (i = 0; i < c->ngids; i++)
	{
		UpgAction	a = upg_decide(&c->gids[i], &c->row, timeout_ms, now).action;

		if (a == UPG_ACTION_COMMIT || a == UPG_ACTION_ROLLBACK)
			return true;
	}
	return false;
}

/*
 * The pass's candidates, in the current (pass) context: every transaction
 * with a prepared unified: gid that needs resolving, grouped from one
 * listing of pg_prepared_xact(), and log rows that need it without any
 * gid; malformed gids apart.  Gids are listed before rows are read, so a
 * row committed after the listing is seen (never a gid without its row).
 */
static int
upg_candidates(int timeout_ms, TimestampTz now, UpgCandidate **out,
			   UpgPrepared **malformed, int *nmalformed)
{
	UpgPrepared *all;
	int			n = upg_list_prepared(UPG_GID_PREFIX, &all);
	UpgCandidate *cands = palloc(sizeof(UpgCandidate) * (n + UPG_RESOLVER_MAX_TX + 1));
	int			ncands = 0;
	Oid			argtypes[2] = {FLOAT8OID, INT4OID};
	Datum		args[2];
	int			i,
				nrows;
	char	  **rows;

	*malformed = palloc(sizeof(UpgPrepared) * Max(n, 1));
	*nmalformed = 0;
	/* read the rows with a snapshot taken after the listing */
	PushActiveSnapshot(GetTransactionSnapshot());
	for (i = 0; i < n;)
	{
		UpgCandidate *c = &cands[ncands];
		int			j;

		if (all[i].kind != UPG_GID_VALID)
		{
			(*malformed)[(*nmalformed)++] = all[i++];
			continue;
		}
		for (j = i; j < n && all[j].kind == UPG_GID_VALID &&
			 strcmp(all[j].tx_id, all[i].tx_id) == 0; j++)
			;
		strlcpy(c->tx_id, all[i].tx_id, sizeof(c->tx_id));
		c->gids = &all[i];
		c->ngids = j - i;
		(void) upg_tx_read(c->tx_id, false, &c->row);
		if (upg_needs_resolving(c, timeout_ms, now) && ncands < UPG_RESOLVER_MAX_TX)
			ncands++;
		i = j;
	}

	/* rows that need resolving with nothing prepared */
	args[0] = Float8GetDatum(timeout_ms / 1000.0);
	args[1] = Int32GetDatum(UPG_RESOLVER_MAX_TX);
	if (SPI_execute_with_args("SELECT tx_id FROM unified.transaction_log"
							  " WHERE state IN ('committing', 'aborting')"
							  "    OR (state = 'pending'"
							  "        AND began_at < pg_catalog.now() - pg_catalog.make_interval(secs => $1))"
							  " ORDER BY tx_id LIMIT $2",
							  2, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list in-doubt transactions");
	nrows = (int) SPI_processed;
	rows = palloc(sizeof(char *) * Max(nrows, 1));
	for (i = 0; i < nrows; i++)
		rows[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
	for (i = 0; i < nrows && ncands < n + UPG_RESOLVER_MAX_TX; i++)
	{
		UpgCandidate *c = &cands[ncands];
		UpgPrepared key;

		/* a transaction with gids was looked at above (all is sorted by tx_id) */
		strlcpy(key.tx_id, rows[i], sizeof(key.tx_id));
		if (n > 0 && bsearch(&key, all, n, sizeof(UpgPrepared), upg_tx_id_cmp) != NULL)
			continue;
		strlcpy(c->tx_id, rows[i], sizeof(c->tx_id));
		c->gids = NULL;
		c->ngids = 0;
		if (upg_tx_read(c->tx_id, false, &c->row))
			ncands++;
	}
	PopActiveSnapshot();
	*out = cands;
	return ncands;
}

/* Order prepared gids by tx id alone (for bsearch). */
static int
upg_tx_id_cmp(const void *a, const void *b)
{
	return strcmp(((const UpgPrepared *) a)->tx_id, ((const UpgPrepared *) b)->tx_id);
}

/* One LOG line per action of the resolver: gid, decision, reason. */
static void
upg_log_action(const UpgPrepared *p, UpgAction action, UpgTxState state, const char *reason)
{
	const char *decision = upg_tx_state_name(state);

	ereport(LOG,
			(errmsg("unified_pg resolver: %s prepared transaction \"%s\" (decision: %s; reason: %s)",
					action == UPG_ACTION_COMMIT ? "committing" : "rolling back",
					p->gid, decision ? decision : "none", reason)));
}

/*
 * Roll back a gid that belongs to no transaction, under a lock of its own
 * (two resolver passes may run at once).  Returns false if that is taken.
 */
static bool
upg_rollback_malformed(const UpgPrepared *p, bool in_procedure, bool *pause)
{
	UpgParticipant part;

	if (!upg_dtx_lock(p->gid, false))
		return false;
	strlcpy(part.gid, p->gid, GIDSIZE);
	part.dboid = p->dboid;
	part.xid = p->xid;
	upg_log_action(p, UPG_ACTION_ROLLBACK, UPG_TX_NONE, "malformed participant gid");
	(void) upg_finish_participants(&part, 1, false, in_procedure, "resolver_mid_pass",
								   pause, in_procedure ? WARNING : LOG);
	upg_dtx_unlock(p->gid);
	return true;
}

/*
 * Resolve one transaction under its coordinator lock, acting on the gids
 * the pass listed.  Returns false if a coordinator holds the lock.  If
 * its row changed since the listing (a coordinator worked on it in
 * between), nothing is done: the next pass sees it afresh.
 */
static bool
upg_resolve_one(UpgCandidate *c, bool in_procedure, int timeout_ms,
				UpgResolverState *counts, bool *pause)
{
	UpgStep		step = {.in_procedure = in_procedure};
	/* the worker retries every pass, so it only LOGs what a caller is WARNed of */
	int			elevel = in_procedure ? WARNING : LOG;
	TimestampTz now = GetCurrentTimestamp();
	UpgTxRow	row;
	bool		have;
	UpgParticipant *commit_list = palloc(sizeof(UpgParticipant) * Max(c->ngids, 1));
	UpgParticipant *rollback_list = palloc(sizeof(UpgParticipant) * Max(c->ngids, 1));
	int			ncommit = 0,
				nrollback = 0,
				left,
				i;

	if (!upg_dtx_lock(c->tx_id, false))
		return false;

	/* the row again, under the lock */
	upg_step_start(&step);
	have = upg_tx_read(c->tx_id, false, &row);
	if (have != (c->row.state != UPG_TX_NONE) ||
		(have && (row.state != c->row.state || row.updated_at != c->row.updated_at)))
	{
		upg_step_commit(&step, false);
		upg_dtx_unlock(c->tx_id);
		return true;
	}

	/* presumed abort: make it durable before rolling anything back */
	if (upg_tx_timed_out(&row, timeout_ms, now))
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		args[1];

		args[0] = CStringGetTextDatum(c->tx_id);
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
			row.state = UPG_TX_ABORTING;
			ereport(LOG,
					(errmsg("unified_pg resolver: presumed distributed transaction \"%s\" aborted "
							"(decision: aborting; reason: undecided past unified_pg.in_doubt_timeout)",
							c->tx_id)));
		}
		upg_step_commit(&step, true);
	}
	else
		upg_step_commit(&step, false);

	for (i = 0; i < c->ngids; i++)
	{
		UpgVerdict	v = upg_decide(&c->gids[i], have ? &row : NULL, timeout_ms, now);
		UpgParticipant *p;

		if (v.action == UPG_ACTION_COMMIT)
			p = &commit_list[ncommit++];
		else if (v.action == UPG_ACTION_ROLLBACK)
			p = &rollback_list[nrollback++];
		else
			continue;
		upg_log_action(&c->gids[i], v.action, row.state, v.reason);
		strlcpy(p->gid, c->gids[i].gid, GIDSIZE);
		p->dboid = c->gids[i].dboid;
		p->xid = c->gids[i].xid;
	}

	left = upg_finish_participants(commit_list, ncommit, true, in_procedure,
								   "resolver_mid_pass", pause, elevel);
	counts->participants_committed += ncommit - left;
	i = upg_finish_participants(rollback_list, nrollback, false, in_procedure,
								"resolver_mid_pass", pause, elevel);
	counts->participants_rolled_back += nrollback - i;
	left += i;

	/* record completion once nothing the pass saw is prepared */
	if (have && left == 0 &&
		(row.state == UPG_TX_COMMITTING || row.state == UPG_TX_ABORTING))
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		args[1];

		upg_step_start(&step);
		args[0] = CStringGetTextDatum(c->tx_id);
		if (SPI_execute_with_args("UPDATE unified.transaction_log SET"
								  " state = CASE state WHEN 'committing' THEN 'committed' ELSE 'aborted' END,"
								  " finished_at = pg_catalog.clock_timestamp(),"
								  " updated_at = pg_catalog.clock_timestamp(),"
								  " finished_by = 'resolver'"
								  " WHERE tx_id = $1 AND state IN ('committing', 'aborting')",
								  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update the transaction log");
		counts->transactions_finished += SPI_processed;
		upg_step_commit(&step, false);
	}

	upg_dtx_unlock(c->tx_id);
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

	upg_require_log_database();

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
