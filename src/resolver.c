/*-------------------------------------------------------------------------
 *
 * resolver.c
 *		The in-doubt resolver.
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
 *	2. rolls back the malformed gids (each under a lock of its own), then
 *	   takes the candidates in batches of UPG_RESOLVER_BATCH: TRY-locks the
 *	   coordinator lock (see dtx.c) of each and skips the transactions a
 *	   coordinator holds; reads the rows again under the locks, in one
 *	   transaction -- a transaction whose row changed since step 1 was
 *	   worked on by a coordinator and is left to the next pass -- records
 *	   the presumed aborts durably (one flush for the batch), decides each
 *	   gid with upg_decide, one LOG line per action (gid, decision,
 *	   reason), finishes all the batch's commits and then all its rollbacks
 *	   at once (finisher.c: this database here, the others through their
 *	   finishers, concurrently), and moves 'committing'/'aborting' to
 *	   'committed'/'aborted' in one statement for the transactions of which
 *	   nothing it saw is prepared any more;
 *	3. prunes finished rows older than unified_pg.transaction_log_retention
 *	   in bounded batches.
 *
 * Work is per pass O(prepared + candidates): one listing, one row read per
 * transaction, one look at pg_prepared_xacts per batch and database when
 * finishing, never a scan of pg_prepared_xacts per transaction.  Memory of
 * a batch is reset after it; rows read through SPI are copied out of SPI's
 * context before its step commits.
 *
 * Crash reasoning: every action is idempotent and driven by what is
 * prepared and logged at the time, and each participant is finished in a
 * transaction of its own, so a pass killed at any point is simply
 * continued by the next one (the worker runs one right after it starts).
 * An ERROR ends the worker, which the postmaster restarts.
 *
 * A prepared transaction can only be finished by a backend connected to
 * its database: see finisher.c for the finishers of other databases.
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

/* transactions resolved under their locks at once */
#define UPG_RESOLVER_BATCH		500

/* a transaction the pass looks at: its row and its prepared gids */
typedef struct UpgCandidate
{
	char		tx_id[UPG_TX_ID_MAXLEN + 1];
	UpgTxRow	row;			/* state UPG_TX_NONE: no row */
	UpgPrepared *gids;			/* into the pass's listing */
	int			ngids;
	/* set while its batch is resolved */
	bool		locked;			/* we hold its coordinator lock */
	bool		current;		/* its row is as the listing saw it */
	UpgTxRow	now;			/* the row read under the lock, in the batch's context */
	int			left;			/* its gids we could not finish */
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
static void upg_resolve_batch(UpgCandidate *cands, int n, bool in_procedure,
							  int timeout_ms, UpgResolverState *counts, bool *pause);
static void upg_reread_rows(UpgCandidate *cands, int n, bool in_procedure);
static void upg_copy_row(UpgTxRow *dst, const UpgTxRow *src);
static void upg_presume_aborted(UpgCandidate *cands, int n, bool in_procedure,
								int timeout_ms, TimestampTz now, UpgResolverState *counts);
static void upg_finish_decided(UpgCandidate *cands, int n, bool in_procedure,
							   int timeout_ms, TimestampTz now, bool *pause,
							   UpgResolverState *counts);
static void upg_record_finished(UpgCandidate *cands, int n, bool in_procedure,
								UpgResolverState *counts);
static uint64 upg_prune(bool in_procedure);

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
	MemoryContext entrycxt;
	MemoryContext passcxt;
	MemoryContext batchcxt;
	MemoryContext oldcxt;

	memset(&counts, 0, sizeof(counts));
	entrycxt = CurrentMemoryContext;
	passcxt = AllocSetContextCreate(CurrentMemoryContext,
									"unified_pg resolver pass", ALLOCSET_DEFAULT_SIZES);
	batchcxt = AllocSetContextCreate(passcxt, "unified_pg resolver batch",
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
	for (i = 0; i < ncands; i += UPG_RESOLVER_BATCH)
	{
		CHECK_FOR_INTERRUPTS();
		oldcxt = MemoryContextSwitchTo(batchcxt);
		upg_resolve_batch(&cands[i], Min(UPG_RESOLVER_BATCH, ncands - i), in_procedure,
						  timeout_ms, &counts, &pause);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(batchcxt);
	}

	/* 3: prune */
	counts.log_rows_pruned = upg_prune(in_procedure);

	MemoryContextSwitchTo(entrycxt);
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
 * Resolve a batch of candidates: lock, read again, presume aborted,
 * decide and finish, record completion; the locks are released whatever
 * happens.
 */
static void
upg_resolve_batch(UpgCandidate *cands, int n, bool in_procedure, int timeout_ms,
				  UpgResolverState *counts, bool *pause)
{
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	for (i = 0; i < n; i++)
	{
		cands[i].locked = upg_dtx_trylock_batch(cands[i].tx_id);
		cands[i].current = false;
		cands[i].left = 0;
		if (!cands[i].locked)
			counts->skipped_locked++;
	}

	PG_TRY();
	{
		MemoryContext cxt = CurrentMemoryContext;

		upg_reread_rows(cands, n, in_procedure);
		MemoryContextSwitchTo(cxt);
		upg_presume_aborted(cands, n, in_procedure, timeout_ms, now, counts);
		MemoryContextSwitchTo(cxt);
		upg_finish_decided(cands, n, in_procedure, timeout_ms, now, pause, counts);
		MemoryContextSwitchTo(cxt);
		upg_record_finished(cands, n, in_procedure, counts);
		MemoryContextSwitchTo(cxt);
	}
	PG_FINALLY();
	{
		for (i = 0; i < n; i++)
			if (cands[i].locked)
				upg_dtx_unlock_batch(cands[i].tx_id);
	}
	PG_END_TRY();
}

/*
 * Read the rows of the locked candidates again, in one transaction, and
 * keep those whose row is as the listing saw it (else a coordinator
 * worked on it in between, and the next pass sees it afresh).  The rows
 * are copied into the current context: SPI's is gone with the step.
 */
static void
upg_reread_rows(UpgCandidate *cands, int n, bool in_procedure)
{
	UpgStep		step = {.in_procedure = in_procedure};
	MemoryContext cxt = CurrentMemoryContext;
	int			i;

	upg_step_start(&step);
	for (i = 0; i < n; i++)
	{
		UpgCandidate *c = &cands[i];
		UpgTxRow	row;
		bool		have;
		MemoryContext oldcxt;

		if (!c->locked)
			continue;
		have = upg_tx_read(c->tx_id, false, &row);
		if (have != (c->row.state != UPG_TX_NONE) ||
			(have && (row.state != c->row.state || row.updated_at != c->row.updated_at)))
			continue;
		oldcxt = MemoryContextSwitchTo(cxt);
		if (have)
			upg_copy_row(&c->now, &row);
		else
			memset(&c->now, 0, sizeof(c->now));
		MemoryContextSwitchTo(oldcxt);
		c->current = true;
	}
	upg_step_commit(&step, false);
}

/* Deep-copy a log row into the current memory context. */
static void
upg_copy_row(UpgTxRow *dst, const UpgTxRow *src)
{
	int			i;

	*dst = *src;
	dst->participants = palloc(sizeof(char *) * Max(src->nparts, 1));
	for (i = 0; i < src->nparts; i++)
		dst->participants[i] = pstrdup(src->participants[i]);
	dst->roles = palloc(sizeof(Oid) * Max(src->nparts, 1));
	memcpy(dst->roles, src->roles, sizeof(Oid) * src->nparts);
	if (src->votes != NULL)
	{
		dst->votes = palloc(sizeof(TransactionId) * Max(src->nparts, 1));
		memcpy(dst->votes, src->votes, sizeof(TransactionId) * src->nparts);
	}
}

/*
 * Presumed abort: make 'aborting' durable, for every candidate of the
 * batch undecided past the timeout, before anything is rolled back -- one
 * transaction and one flush for the batch.
 */
static void
upg_presume_aborted(UpgCandidate *cands, int n, bool in_procedure, int timeout_ms,
					TimestampTz now, UpgResolverState *counts)
{
	UpgStep		step = {.in_procedure = in_procedure};
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	bool		any = false;
	int			i;

	for (i = 0; i < n; i++)
	{
		UpgCandidate *c = &cands[i];

		if (!c->current || !upg_tx_timed_out(&c->now, timeout_ms, now))
			continue;
		if (!any)
			upg_step_start(&step);
		any = true;
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
			c->now.state = UPG_TX_ABORTING;
			ereport(LOG,
					(errmsg("unified_pg resolver: presumed distributed transaction \"%s\" aborted "
							"(decision: aborting; reason: undecided past unified_pg.in_doubt_timeout)",
							c->tx_id)));
		}
	}
	if (any)
		upg_step_commit(&step, true);
}

/*
 * Decide every gid of the batch's current candidates (one LOG line per
 * action), then commit all that are to be committed and roll back all that
 * are to be rolled back, each list in one call that works on every
 * database at once.  Counts what is left per candidate.
 */
static void
upg_finish_decided(UpgCandidate *cands, int n, bool in_procedure, int timeout_ms,
				   TimestampTz now, bool *pause, UpgResolverState *counts)
{
	/* the worker retries every pass, so it only LOGs what a caller is WARNed of */
	int			elevel = in_procedure ? WARNING : LOG;
	int			total = 0;
	UpgParticipant *list[2];
	int		   *owner[2];
	int			nlist[2] = {0, 0};
	bool	   *done;
	int			i,
				j,
				k;

	for (i = 0; i < n; i++)
		if (cands[i].current)
			total += cands[i].ngids;
	for (k = 0; k < 2; k++)
	{
		list[k] = palloc(sizeof(UpgParticipant) * Max(total, 1));
		owner[k] = palloc(sizeof(int) * Max(total, 1));
	}
	done = palloc(sizeof(bool) * Max(total, 1));

	for (i = 0; i < n; i++)
	{
		UpgCandidate *c = &cands[i];

		if (!c->current)
			continue;
		for (j = 0; j < c->ngids; j++)
		{
			const UpgPrepared *g = &c->gids[j];
			UpgVerdict	v = upg_decide(g, c->now.state != UPG_TX_NONE ? &c->now : NULL,
									   timeout_ms, now);
			UpgParticipant *p;

			if (v.action != UPG_ACTION_COMMIT && v.action != UPG_ACTION_ROLLBACK)
				continue;
			k = v.action == UPG_ACTION_COMMIT ? 0 : 1;
			upg_log_action(g, v.action, c->now.state, v.reason);
			owner[k][nlist[k]] = i;
			p = &list[k][nlist[k]++];
			strlcpy(p->gid, g->gid, GIDSIZE);
			p->dboid = g->dboid;
			p->xid = g->xid;
		}
	}

	for (k = 0; k < 2; k++)
	{
		int			left;

		if (nlist[k] == 0)
			continue;
		left = upg_finish_batch(list[k], nlist[k], k == 0, in_procedure,
								"resolver_mid_pass", pause, elevel, done);
		for (j = 0; j < nlist[k]; j++)
			if (!done[j])
				cands[owner[k][j]].left++;
		if (k == 0)
			counts->participants_committed += nlist[k] - left;
		else
			counts->participants_rolled_back += nlist[k] - left;
	}
}

/*
 * Record completion, in one statement, of the batch's decided candidates
 * of which nothing the pass saw is prepared any more.
 */
static void
upg_record_finished(UpgCandidate *cands, int n, bool in_procedure,
					UpgResolverState *counts)
{
	UpgStep		step = {.in_procedure = in_procedure};
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		args[1];
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			m = 0;
	int			i;

	for (i = 0; i < n; i++)
		if (cands[i].current && cands[i].left == 0 &&
			(cands[i].now.state == UPG_TX_COMMITTING || cands[i].now.state == UPG_TX_ABORTING))
			elems[m++] = CStringGetTextDatum(cands[i].tx_id);
	if (m == 0)
		return;

	upg_step_start(&step);
	args[0] = PointerGetDatum(construct_array(elems, m, TEXTOID, -1, false, TYPALIGN_INT));
	if (SPI_execute_with_args("UPDATE unified.transaction_log SET"
							  " state = CASE state WHEN 'committing' THEN 'committed' ELSE 'aborted' END,"
							  " finished_at = pg_catalog.clock_timestamp(),"
							  " updated_at = pg_catalog.clock_timestamp(),"
							  " finished_by = 'resolver'"
							  " WHERE tx_id = ANY ($1) AND state IN ('committing', 'aborting')",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update the transaction log");
	counts->transactions_finished += SPI_processed;
	upg_step_commit(&step, false);
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
	pid = upg_shared->workers[UPG_JOB_RESOLVER].pid;
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
