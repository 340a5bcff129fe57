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

/* transactions resolved under their locks at once */
#define UPG_RESOLVER_BATCH		500

/* a prepared gid of a transaction being resolved */
typedef struct UpgGid
{
	UpgParticipant part;
	int			tx;				/* index of its transaction in the batch */
	bool		old;			/* prepared before now() - timeout */
	bool		listed;			/* its participant is listed in the log row */
} UpgGid;

/* a transaction being resolved, as read under its coordinator lock */
typedef struct UpgTx
{
	char	   *tx_id;
	char	   *state;			/* NULL: no log row */
	bool		timed_out;		/* began before now() - timeout */
	char	  **listed;			/* participants listed in the log row */
	int			nlisted;
	int			left;			/* its gids we could not finish */
} UpgTx;

/* one batch of transactions, locked together */
typedef struct UpgBatch
{
	UpgTx	   *txs;			/* sorted by tx_id */
	int			ntx;
	UpgGid	   *gids;
	int			ngids;
} UpgBatch;

/* what the resolver does with a prepared gid */
typedef enum UpgAction
{
	UPG_ACTION_NONE,
	UPG_ACTION_COMMIT,
	UPG_ACTION_ROLLBACK
} UpgAction;

PG_FUNCTION_INFO_V1(upg_resolve_in_doubt);
PG_FUNCTION_INFO_V1(upg_resolver_status);

static char **upg_candidates(bool in_procedure, int timeout_ms, int *ntx);
static void upg_resolve_batch(char **tx_ids, int ntx, bool in_procedure,
							  int timeout_ms, UpgResolverState *counts, bool *pause);
static void upg_read_logged(UpgBatch *b, int timeout_ms, MemoryContext cxt);
static void upg_read_prepared(UpgBatch *b, int timeout_ms, MemoryContext cxt);
static void upg_presume_aborted(UpgBatch *b, bool in_procedure, UpgResolverState *counts);
static UpgAction upg_action(const UpgTx *tx, const UpgGid *g);
static void upg_finish_decided(UpgBatch *b, bool in_procedure, bool *pause,
							   UpgResolverState *counts);
static void upg_record_finished(UpgBatch *b, bool in_procedure, UpgResolverState *counts);
static uint64 upg_prune(bool in_procedure);

/* ---------------------------------------------------------------------
 * The resolver pass
 * ---------------------------------------------------------------------
 */

/*
 * One resolver pass.  in_procedure: we are in a non-atomic procedure with
 * SPI connected; otherwise in the worker, outside any transaction, in a
 * memory context the caller resets after the pass.
 */
void
upg_resolver_pass(bool in_procedure, int timeout_ms)
{
	UpgResolverState counts;
	TimestampTz started = GetCurrentTimestamp();
	char	  **txs;
	int			ntx;
	int			i;
	bool		pause = true;	/* stop once at resolver_mid_pass */
	MemoryContext passcxt;
	MemoryContext oldcxt;

	memset(&counts, 0, sizeof(counts));
	passcxt = AllocSetContextCreate(CurrentMemoryContext,
									"unified_pg resolver pass", ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(passcxt);

	/* 1: candidates, read without locks */
	txs = upg_candidates(in_procedure, timeout_ms, &ntx);
	MemoryContextSwitchTo(passcxt);

	/* 2: in batches, each under its coordinator locks */
	for (i = 0; i < ntx; i += UPG_RESOLVER_BATCH)
	{
		CHECK_FOR_INTERRUPTS();
		upg_resolve_batch(txs + i, Min(UPG_RESOLVER_BATCH, ntx - i), in_procedure,
						  timeout_ms, &counts, &pause);
		MemoryContextSwitchTo(passcxt);
	}

	/* 3: prune */
	counts.log_rows_pruned = upg_prune(in_procedure);

	MemoryContextSwitchTo(oldcxt);
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
 * The transactions worth a look, sorted by tx id, copied into the current
 * memory context: prepared gids whose transaction is decided, missing from
 * the log past the grace, undecided past the timeout or not listed, and
 * log rows that are decided but unfinished or pending past the timeout.
 */
static char **
upg_candidates(bool in_procedure, int timeout_ms, int *ntx)
{
	UpgStep		step = {.in_procedure = in_procedure};
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[2] = {FLOAT8OID, INT4OID};
	Datum		args[2];
	char	  **txs;
	int			i;

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
							  " SELECT DISTINCT c.tx_id COLLATE \"C\" FROM ("
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
	*ntx = (int) SPI_processed;
	txs = MemoryContextAlloc(cxt, sizeof(char *) * Max(*ntx, 1));
	for (i = 0; i < *ntx; i++)
		txs[i] = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc, 1));
	upg_step_commit(&step, false);
	return txs;
}

/* bsearch comparator: a tx id against a transaction of the batch */
static int
upg_tx_cmp(const void *key, const void *elem)
{
	return strcmp((const char *) key, ((const UpgTx *) elem)->tx_id);
}

/* The transaction of the batch with this tx id, or -1. */
static int
upg_batch_find(UpgBatch *b, const char *tx_id)
{
	UpgTx	   *tx = bsearch(tx_id, b->txs, b->ntx, sizeof(UpgTx), upg_tx_cmp);

	return tx == NULL ? -1 : (int) (tx - b->txs);
}

/*
 * Resolve a batch of transactions (sorted by tx id): try-lock each,
 * skipping those a coordinator holds; read their log rows and their gids
 * in one query each, under the locks; decide; finish the participants,
 * per database, all at once; record completion in one statement.
 */
static void
upg_resolve_batch(char **tx_ids, int ntx, bool in_procedure, int timeout_ms,
				  UpgResolverState *counts, bool *pause)
{
	UpgStep		step = {.in_procedure = in_procedure};
	UpgBatch	b;
	int			i;

	b.txs = palloc0(sizeof(UpgTx) * Max(ntx, 1));
	b.ntx = 0;
	for (i = 0; i < ntx; i++)
	{
		if (!upg_dtx_trylock_batch(tx_ids[i]))
		{
			counts->skipped_locked++;
			continue;
		}
		b.txs[b.ntx++].tx_id = tx_ids[i];
	}
	if (b.ntx == 0)
		return;

	PG_TRY();
	{
		MemoryContext cxt = CurrentMemoryContext;

		/* SPI calls leave SPI's context current: results go to cxt */
		upg_step_start(&step);
		upg_read_logged(&b, timeout_ms, cxt);
		upg_read_prepared(&b, timeout_ms, cxt);
		upg_step_commit(&step, false);
		MemoryContextSwitchTo(cxt);

		upg_presume_aborted(&b, in_procedure, counts);
		MemoryContextSwitchTo(cxt);
		upg_finish_decided(&b, in_procedure, pause, counts);
		MemoryContextSwitchTo(cxt);
		upg_record_finished(&b, in_procedure, counts);
		MemoryContextSwitchTo(cxt);
	}
	PG_FINALLY();
	{
		for (i = 0; i < b.ntx; i++)
			upg_dtx_unlock_batch(b.txs[i].tx_id);
	}
	PG_END_TRY();
}

/* Read the log rows of the batch, in one query; copies into cxt. */
static void
upg_read_logged(UpgBatch *b, int timeout_ms, MemoryContext cxt)
{
	Oid			argtypes[2] = {TEXTARRAYOID, FLOAT8OID};
	Datum		args[2];
	Datum	   *elems = palloc(sizeof(Datum) * b->ntx);
	uint64		r;
	int			i;

	for (i = 0; i < b->ntx; i++)
		elems[i] = CStringGetTextDatum(b->txs[i].tx_id);
	args[0] = PointerGetDatum(construct_array(elems, b->ntx, TEXTOID, -1, false, TYPALIGN_INT));
	args[1] = Float8GetDatum(timeout_ms / 1000.0);
	if (SPI_execute_with_args("SELECT tx_id, state,"
							  " began_at < pg_catalog.now() - pg_catalog.make_interval(secs => $2),"
							  " participants FROM unified.transaction_log WHERE tx_id = ANY ($1)",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the transaction log");

	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int			t = upg_batch_find(b, SPI_getvalue(tup, desc, 1));
		bool		isnull;
		Datum	   *parts;
		UpgTx	   *tx;

		if (t < 0)
			continue;
		tx = &b->txs[t];
		tx->state = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 2));
		tx->timed_out = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 4, &isnull)),
						  TEXTOID, -1, false, TYPALIGN_INT, &parts, NULL, &tx->nlisted);
		tx->listed = MemoryContextAlloc(cxt, sizeof(char *) * Max(tx->nlisted, 1));
		for (i = 0; i < tx->nlisted; i++)
			tx->listed[i] = MemoryContextStrdup(cxt, TextDatumGetCString(parts[i]));
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Read the prepared gids of the batch's transactions, in one look at
 * pg_prepared_xacts, into cxt.  The gids are parsed here rather than with a
 * regular expression in SQL; gids not in our format are never touched.
 */
static void
upg_read_prepared(UpgBatch *b, int timeout_ms, MemoryContext cxt)
{
	Oid			argtypes[1] = {FLOAT8OID};
	Datum		args[1];
	uint64		r;

	args[0] = Float8GetDatum(timeout_ms / 1000.0);
	if (SPI_execute_with_args("SELECT p.gid, d.oid,"
							  " p.prepared < pg_catalog.now() - pg_catalog.make_interval(secs => $1),"
							  " p.transaction::text::bigint"
							  "  FROM pg_catalog.pg_prepared_xacts p"
							  "  JOIN pg_catalog.pg_database d ON d.datname = p.database"
							  " WHERE pg_catalog.starts_with(p.gid, 'unified:')"
							  " ORDER BY d.oid, p.gid",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list prepared transactions");

	b->gids = MemoryContextAllocZero(cxt, sizeof(UpgGid) * Max(SPI_processed, 1));
	b->ngids = 0;
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *g = SPI_getvalue(tup, desc, 1);
		char		tx[UPG_TX_ID_MAXLEN + 1];
		char		part[UPG_PARTICIPANT_MAXLEN + 1];
		UpgGid	   *gid = &b->gids[b->ngids];
		int			t;
		int			j;

		if (!upg_dtx_parse_gid(g, tx, part) || (t = upg_batch_find(b, tx)) < 0)
			continue;
		strlcpy(gid->part.gid, g, GIDSIZE);
		gid->part.dboid = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		gid->old = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		gid->part.xid = (TransactionId) DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		gid->tx = t;
		gid->listed = false;
		for (j = 0; j < b->txs[t].nlisted; j++)
			if (strcmp(b->txs[t].listed[j], part) == 0)
				gid->listed = true;
		b->ngids++;
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Presume aborted the batch's transactions still pending past the
 * timeout: one UPDATE to 'aborting', durable before anything is rolled
 * back.
 */
static void
upg_presume_aborted(UpgBatch *b, bool in_procedure, UpgResolverState *counts)
{
	UpgStep		step = {.in_procedure = in_procedure};
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		args[1];
	Datum	   *elems = palloc(sizeof(Datum) * b->ntx);
	int			n = 0;
	uint64		r;
	int			i;

	for (i = 0; i < b->ntx; i++)
		if (b->txs[i].state != NULL && b->txs[i].timed_out &&
			strcmp(b->txs[i].state, "pending") == 0)
			elems[n++] = CStringGetTextDatum(b->txs[i].tx_id);
	if (n == 0)
		return;

	upg_step_start(&step);
	args[0] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	if (SPI_execute_with_args("UPDATE unified.transaction_log SET state = 'aborting',"
							  " decided_at = pg_catalog.clock_timestamp(),"
							  " updated_at = pg_catalog.clock_timestamp(),"
							  " error = 'presumed aborted: undecided for longer than unified_pg.in_doubt_timeout'"
							  " WHERE tx_id = ANY ($1) AND state = 'pending' RETURNING tx_id",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not update the transaction log");
	for (r = 0; r < SPI_processed; r++)
	{
		int			t = upg_batch_find(b, SPI_getvalue(SPI_tuptable->vals[r],
													   SPI_tuptable->tupdesc, 1));

		if (t >= 0)
		{
			b->txs[t].state = MemoryContextStrdup(cxt, "aborting");
			counts->transactions_timed_out++;
		}
	}
	upg_step_commit(&step, true);
}

/* What to do with a prepared gid, from what was read under the lock. */
static UpgAction
upg_action(const UpgTx *tx, const UpgGid *g)
{
	if (tx->state == NULL)
		return g->old ? UPG_ACTION_ROLLBACK : UPG_ACTION_NONE;
	if (!g->listed)
		return UPG_ACTION_ROLLBACK;
	if (strcmp(tx->state, "committing") == 0 || strcmp(tx->state, "committed") == 0)
		return UPG_ACTION_COMMIT;
	if (strcmp(tx->state, "aborting") == 0 || strcmp(tx->state, "aborted") == 0)
		return UPG_ACTION_ROLLBACK;
	return UPG_ACTION_NONE;
}

/*
 * Commit, then roll back, every gid of the batch that has a decision:
 * each list in one call, which finishes all databases at once.  Counts
 * what is left per transaction.
 */
static void
upg_finish_decided(UpgBatch *b, bool in_procedure, bool *pause,
				   UpgResolverState *counts)
{
	/* the worker retries every pass, so it only LOGs what a caller is WARNed of */
	int			elevel = in_procedure ? WARNING : LOG;
	UpgParticipant *list = palloc(sizeof(UpgParticipant) * Max(b->ngids, 1));
	int		   *owner = palloc(sizeof(int) * Max(b->ngids, 1));
	bool	   *done = palloc(sizeof(bool) * Max(b->ngids, 1));
	int			pass;

	for (pass = 0; pass < 2; pass++)
	{
		UpgAction	want = pass == 0 ? UPG_ACTION_COMMIT : UPG_ACTION_ROLLBACK;
		int			n = 0;
		int			left;
		int			i;

		for (i = 0; i < b->ngids; i++)
			if (upg_action(&b->txs[b->gids[i].tx], &b->gids[i]) == want)
			{
				owner[n] = b->gids[i].tx;
				list[n++] = b->gids[i].part;
			}
		if (n == 0)
			continue;
		left = upg_finish_batch(list, n, want == UPG_ACTION_COMMIT, in_procedure,
								"resolver_mid_pass", pause, elevel, done);
		for (i = 0; i < n; i++)
			if (!done[i])
				b->txs[owner[i]].left++;
		if (want == UPG_ACTION_COMMIT)
			counts->participants_committed += n - left;
		else
			counts->participants_rolled_back += n - left;
	}
}

/*
 * Mark the batch's transactions that have a gid prepared right now as not
 * done, with one look at pg_prepared_xacts (a gid may have been prepared
 * since we read them).  Runs inside a step.
 */
static void
upg_recheck_prepared(UpgBatch *b)
{
	uint64		r;

	if (SPI_execute("SELECT gid FROM pg_catalog.pg_prepared_xacts"
					" WHERE pg_catalog.starts_with(gid, 'unified:')",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list prepared transactions");
	for (r = 0; r < SPI_processed; r++)
	{
		char	   *g = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		char		tx[UPG_TX_ID_MAXLEN + 1];
		char		part[UPG_PARTICIPANT_MAXLEN + 1];
		int			t;

		if (upg_dtx_parse_gid(g, tx, part) && (t = upg_batch_find(b, tx)) >= 0)
			b->txs[t].left++;
		pfree(g);
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Move the batch's decided transactions with nothing left prepared to
 * 'committed'/'aborted', in one statement.
 */
static void
upg_record_finished(UpgBatch *b, bool in_procedure, UpgResolverState *counts)
{
	UpgStep		step = {.in_procedure = in_procedure};
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		args[1];
	Datum	   *elems = palloc(sizeof(Datum) * b->ntx);
	int			n = 0;
	int			i;

	upg_step_start(&step);
	upg_recheck_prepared(b);
	for (i = 0; i < b->ntx; i++)
		if (b->txs[i].state != NULL && b->txs[i].left == 0 &&
			(strcmp(b->txs[i].state, "committing") == 0 ||
			 strcmp(b->txs[i].state, "aborting") == 0))
			elems[n++] = CStringGetTextDatum(b->txs[i].tx_id);
	if (n > 0)
	{
		args[0] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
		if (SPI_execute_with_args("UPDATE unified.transaction_log SET"
								  " state = CASE state WHEN 'committing' THEN 'committed' ELSE 'aborted' END,"
								  " finished_at = pg_catalog.clock_timestamp(),"
								  " updated_at = pg_catalog.clock_timestamp(),"
								  " finished_by = 'resolver'"
								  " WHERE tx_id = ANY ($1) AND state IN ('committing', 'aborting')",
								  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update the transaction log");
		counts->transactions_finished += SPI_processed;
	}
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
