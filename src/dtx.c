/*-------------------------------------------------------------------------
 *
 * dtx.c
 *		Distributed transactions: the coordinator's SQL API.
 *
 * Participants are ordinary sessions, in any database of the cluster, that
 * each run PREPARE TRANSACTION 'unified:<tx>:<participant>'.  The
 * coordinator is the session that calls commit_distributed or
 * abort_distributed in unified_pg.database, where unified.transaction_log
 * lives.  The protocol is presumed abort: a participant is committed only
 * after the log row of its transaction says 'committing' durably, and
 * only if it is the prepared transaction that voted.  The rules that say
 * what to do with a prepared gid are in dtx_protocol.c.
 *
 * commit_distributed runs in phases, one function each, each phase in
 * transactions of its own (it is a non-atomic procedure and commits
 * between them):
 *
 *	1. open:	try its coordinator lock; got, read its row once and check
 *				the caller may see it (a caller who may not releases the
 *				lock after that read: it never waits holding it); taken,
 *				check the right on a read without the lock first (so that
 *				nobody can queue behind another role's coordinator), then
 *				wait for the lock and read the row again;
 *	2. collect: list the prepared gids of the transaction and decide each;
 *	3. votes:	every listed participant must have an eligible vote
 *				(prepared by a member of its bound role); otherwise abort
 *				everything and name the participant;
 *	4. arm:		hand the votes out: those of other databases to their
 *				finishers, half of this database's to its finisher when that
 *				one is idle; the finishers wait for the go;
 *	   decide:	UPDATE 'pending' -> 'committing', recording each vote's
 *				prepared xid;
 *	5. finish:	let the finishers go, COMMIT PREPARED our share of the votes
 *				at the same time (all in one step), ROLLBACK PREPARED
 *				anything else under the transaction's prefix;
 *	6. complete: UPDATE 'committing' -> 'committed' in the step that
 *				committed our votes, release the lock.
 *
 * So a commit runs in three transactions: open to decision, our votes and
 * completion, and the empty one a procedure ends with.
 *
 * Flush budget.  Only the decision must be durable before a participant
 * commits, and the decision's commit record is written to WAL before any
 * COMMIT PREPARED record, which PostgreSQL always flushes: so the decision
 * commits asynchronously and the first COMMIT PREPARED (in any database:
 * WAL is shared by the cluster) flushes it.  If no participant could be
 * committed, we flush the decision ourselves before returning.
 * begin_distributed commits asynchronously when it is the only write of
 * its transaction (the first PREPARE of a participant flushes it), and
 * completion is never flushed.  The COMMIT PREPAREDs run concurrently, in
 * us and in finishers, each with commit_delay set so that the first to
 * flush waits for the others' records: one flush for all of them, which
 * is the decision's.  The finishers get the go only once the decision's
 * commit record is in WAL (upg_finish_go), so every COMMIT PREPARED record
 * follows the decision in WAL and no flush can make a participant's commit
 * durable without the decision.  So beyond the participants' PREPAREs, a
 * distributed transaction waits for one flush.
 *
 * Crash reasoning: a finisher armed with votes that never gets the go
 * (the coordinator failed or died before or right after deciding) gives
 * them up unfinished; the resolver commits them if the decision is
 * durable.  A crash before the decision reaches disk leaves
 * 'pending' (or no row at all, if even the begin was lost) and only
 * prepared participants: nothing was committed, and the resolver rolls
 * them back (after the timeout, or at once when there is no row).  Once
 * any participant is committed the decision is on disk, and the resolver
 * commits the votes still prepared and records completion.  A crash after
 * everything was committed leaves 'committing' with nothing prepared,
 * which the resolver marks committed.  commit_distributed returns only
 * when the decision is durable.
 *
 * Locking protocol: the coordinator lock is a session-level advisory lock
 * (lock method USER, key derived from the tx id, field4 = UPG_DTX_LOCK_TAG
 * so that it never equals a lock taken with pg_advisory_lock).  The
 * coordinator waits for it and keeps it across its commits until it is
 * done; the resolver only try-locks it and skips a transaction whose lock
 * is taken, so the two never both work on one transaction.  Every state
 * change is also an UPDATE ... WHERE state = <expected>, so even a
 * misbehaving third party cannot move a row backwards.  Session locks
 * survive COMMIT but not process exit; on ERROR our abort callback releases
 * the lock we hold.
 *
 * Rights: only the role that began a transaction, or a member of
 * unified_admin, may commit or abort it; to any other role it does not
 * exist (one error for both cases, naming no one).  Participants may have
 * been prepared by other roles, and COMMIT PREPARED checks ownership, so
 * after our own checks the log SQL and the finishing run as the bootstrap
 * superuser with search_path pinned (SetUserIdAndSecContext), never
 * requiring the caller to be a superuser.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/twophase.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/procarray.h"
#include "tcop/pquery.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "unified_pg.h"

/* field4 of our advisory lock tags; SQL advisory locks use 1 and 2 */
#define UPG_DTX_LOCK_TAG	0x7570

/* unified_pg.participant_roles */
char	   *upg_participant_roles_string = NULL;

/* the coordinator lock this backend holds, released on abort */
static bool upg_lock_held = false;
static LOCKTAG upg_lock_held_tag;
static bool upg_xact_callback_registered = false;

/*
 * begin_distributed ran in the current transaction; if its INSERT was the
 * transaction's first write, the WAL position after it, so that the
 * commit can be made asynchronous if nothing else was written.
 */
static bool upg_begun_in_xact = false;
static bool upg_begin_alone = false;
static XLogRecPtr upg_begin_lsn = InvalidXLogRecPtr;

/* plans kept for the life of the process (upg_spi_execute) */
static SPIPlanPtr upg_plan_set_state = NULL;
static SPIPlanPtr upg_plan_decide = NULL;
static SPIPlanPtr upg_plan_begin = NULL;
static SPIPlanPtr upg_plan_status = NULL;

/* one coordinator call: what commit/abort_distributed knows as it goes */
typedef struct UpgCoord
{
	const char *tx_id;
	bool		commit;
	UpgStep		step;
	UpgTxRow	row;
	UpgPrepared *prepared;		/* the VALID gids of this transaction */
	UpgVerdict *verdicts;		/* upg_decide's verdict for each */
	int			nprepared;
	XLogRecPtr	decision_lsn;	/* the decision's commit record, to flush */
	UpgFinishBatch *votes;		/* the votes, handed out before the decision */
	int			left;			/* participants left prepared */
} UpgCoord;

PG_FUNCTION_INFO_V1(upg_participant_gid);
PG_FUNCTION_INFO_V1(upg_begin_distributed);
PG_FUNCTION_INFO_V1(upg_commit_distributed);
PG_FUNCTION_INFO_V1(upg_abort_distributed);
PG_FUNCTION_INFO_V1(upg_transaction_status);

static char *upg_arg_tx_id(FunctionCallInfo fcinfo, int argno);
static void upg_check_name(const char *value, int len, int maxlen,
						   bool allow_dot, const char *what);
static void upg_check_gid_length(const char *tx_id, const char *participant);
static char **upg_arg_participants(FunctionCallInfo fcinfo, int argno,
								   const char *tx_id, int *nparts);
static Oid *upg_arg_participant_roles(FunctionCallInfo fcinfo, int argno,
									  char **names, int nparts);
static Oid	upg_mapped_role(const char *participant);
static void upg_require_nonatomic(FunctionCallInfo fcinfo, const char *what);
static void upg_lock_tag(LOCKTAG *tag, const char *tx_id);
static void upg_dtx_xact_callback(XactEvent event, void *arg);
static void upg_dtx_register_callback(void);
static bool upg_may_see(const UpgTxRow *row, Oid caller, bool for_status);
static void upg_raise_unknown(const char *tx_id);
static void upg_begin_insert(const char *tx_id, Oid *argtypes, Datum *args);
static void upg_coord_open(UpgCoord *c);
static void upg_coord_check_state(UpgCoord *c);
static void upg_coord_collect(UpgCoord *c);
static void upg_coord_check_votes(UpgCoord *c);
static void upg_coord_arm(UpgCoord *c);
static void upg_coord_decide(UpgCoord *c);
static void upg_coord_finish(UpgCoord *c);
static void upg_coord_complete(UpgCoord *c);
static void upg_coord_abort(UpgCoord *c, const char *error);
static void upg_coord_close(UpgCoord *c);
static void upg_set_state(UpgCoord *c, UpgTxState from, UpgTxState to,
						  const char *error);

/* ---------------------------------------------------------------------
 * Validation
 * ---------------------------------------------------------------------
 */

/* Read and validate a tx id argument. */
static char *
upg_arg_tx_id(FunctionCallInfo fcinfo, int argno)
{
	text	   *t;
	char	   *s;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("distributed transaction id must not be null")));
	t = PG_GETARG_TEXT_PP(argno);
	s = text_to_cstring(t);
	upg_check_name(s, VARSIZE_ANY_EXHDR(t), UPG_TX_ID_MAXLEN, true,
				   "distributed transaction id");
	return s;
}

/*
 * Check an identifier: 1..maxlen bytes of ASCII letters, digits, '_', '-'
 * (and '.' in tx ids).  Neither may contain ':', so a gid splits one way.
 */
static void
upg_check_name(const char *value, int len, int maxlen, bool allow_dot,
			   const char *what)
{
	int			i;

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	if (len > maxlen)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long", what),
				 errdetail("It is %d bytes long; the limit is %d bytes.", len, maxlen)));
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) value[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '_' || c == '-' ||
			(allow_dot && c == '.'))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s contains a character that is not allowed", what),
				 errdetail("Byte %d is not allowed.", i + 1),
				 errhint("Use only ASCII letters, digits, \"_\" and \"-\"%s.",
						 allow_dot ? " and \".\"" : "")));
	}
}

/* The gid must fit PREPARE TRANSACTION's limit (GIDSIZE - 1 bytes). */
static void
upg_check_gid_length(const char *tx_id, const char *participant)
{
	int			len = strlen(UPG_GID_PREFIX) + strlen(tx_id) + 1 + strlen(participant);

	if (len >= GIDSIZE)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("participant gid for \"%s\" would be too long", participant),
				 errdetail("unified:<tx_id>:<participant> would be %d bytes; the limit is %d bytes.",
						   len, GIDSIZE - 1),
				 errhint("Use a shorter transaction id or participant name.")));
}

/* Read and validate a participants argument; returns the names. */
static char **
upg_arg_participants(FunctionCallInfo fcinfo, int argno, const char *tx_id,
					 int *nparts)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	char	  **names;
	int			i,
				j;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("participants must not be null")));
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("participants must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a distributed transaction needs at least one participant")));
	if (n > UPG_MAX_PARTICIPANTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too many participants"),
				 errdetail("%d participants were given; the limit is %d.", n, UPG_MAX_PARTICIPANTS)));

	names = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
	{
		text	   *t;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("participant names must not be null")));
		t = DatumGetTextPP(elems[i]);
		names[i] = text_to_cstring(t);
		upg_check_name(names[i], VARSIZE_ANY_EXHDR(t), UPG_PARTICIPANT_MAXLEN,
					   false, "participant name");
		upg_check_gid_length(tx_id, names[i]);
		for (j = 0; j < i; j++)
			if (strcmp(names[j], names[i]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("participant \"%s\" is listed more than once", names[i])));
	}
	*nparts = n;
	return names;
}

/* Prepared transactions must be enabled; say how otherwise. */
void
upg_dtx_require_prepared_xacts(void)
{
	if (max_prepared_xacts <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("prepared transactions are disabled"),
				 errdetail("Distributed transactions need every participant to run PREPARE TRANSACTION, "
						   "and max_prepared_transactions is 0."),
				 errhint("Set max_prepared_transactions to at least the number of participants "
						 "that can be prepared at once (e.g. 100) and restart the server.")));
}

/*
 * The log, its coordinator locks and the resolver all live in
 * unified_pg.database; a coordinator elsewhere would keep a log the
 * resolver never reads, and its participants would be presumed aborted.
 */
void
upg_require_log_database(void)
{
	char	   *here = get_database_name(MyDatabaseId);

	if (here == NULL || strcmp(here, upg_database) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("distributed transactions are coordinated in database \"%s\"", upg_database),
				 errdetail("The transaction log and the resolver live in unified_pg.database."),
				 errhint("Connect to database \"%s\" to begin, commit or abort distributed transactions; "
						 "participants may be in any database.", upg_database)));
}

/* Refuse to run where we cannot commit between phases. */
static void
upg_require_nonatomic(FunctionCallInfo fcinfo, const char *what)
{
	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		((CallContext *) fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s cannot run inside a transaction block", what),
				 errdetail("It commits its decision and every participant in transactions of its own."),
				 errhint("Use CALL %s(...) outside BEGIN ... COMMIT and not from a function.", what)));
}

/* ---------------------------------------------------------------------
 * Steps: transactions run with the extension's rights
 * ---------------------------------------------------------------------
 */

/* Become the bootstrap superuser with a pinned search_path. */
void
upg_privileged_enter(UpgStep *step)
{
	GetUserIdAndSecContext(&step->save_userid, &step->save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   step->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	step->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
}

/* Undo upg_privileged_enter. */
void
upg_privileged_leave(UpgStep *step)
{
	AtEOXact_GUC(true, step->save_nestlevel);
	SetUserIdAndSecContext(step->save_userid, step->save_sec_context);
}

/* Start a step: a transaction (in the worker) and the extension's rights. */
void
upg_step_start(UpgStep *step)
{
	Assert(!step->open);
	if (!step->in_procedure)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	upg_privileged_enter(step);
	step->open = true;
}

/*
 * Commit a step.  durable forces synchronous_commit on for this commit
 * (the decision must be on disk before any participant is committed);
 * other steps commit asynchronously, because everything they record is
 * derived from what is prepared and is recorded again by the resolver if
 * a crash loses it.  COMMIT/ROLLBACK PREPARED flush WAL regardless.
 */
void
upg_step_commit(UpgStep *step, bool durable)
{
	Assert(step->open);
	upg_privileged_leave(step);
	step->open = false;
	(void) set_config_option("synchronous_commit", durable ? "on" : "off",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
							 true, 0, false);
	if (step->in_procedure)
	{
		SPI_commit();
		SPI_start_transaction();
		EnsurePortalSnapshotExists();
	}
	else
	{
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
}

/*
 * Run one of our statements through a plan kept for the life of the
 * process, prepared on first use.  Our statements are schema-qualified, and
 * run with the pinned search_path or use qualified operators; the plan
 * cache replans them after DDL (e.g. the extension dropped and created
 * again).  Used by the coordinator and by the source-row key triggers.
 */
int
upg_spi_execute(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
				Datum *args, const char *nulls, bool read_only)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, argtypes);

		if (p == NULL)
			elog(ERROR, "could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "could not keep the plan of \"%s\"", sql);
		*plan = p;
	}
	return SPI_execute_plan(*plan, args, nulls, read_only, 0);
}

/* ---------------------------------------------------------------------
 * Coordinator locks
 * ---------------------------------------------------------------------
 */

/* The advisory lock tag of a transaction in this database. */
static void
upg_lock_tag(LOCKTAG *tag, const char *tx_id)
{
	uint64		h = hash_bytes_extended((const unsigned char *) tx_id, strlen(tx_id), 0);

	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h,
						 UPG_DTX_LOCK_TAG);
}

/*
 * Transaction events: release our coordinator lock when the transaction
 * holding us aborts, and refuse to PREPARE a transaction that called
 * begin_distributed (its log row would be in doubt itself).  PRE_PREPARE
 * may raise an error (it runs before anything is prepared); ABORT never.
 */
static void
upg_dtx_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			/* the begin's row was the only write: no flush (see the banner) */
			if (upg_begun_in_xact && upg_begin_alone && XactLastRecEnd == upg_begin_lsn)
				(void) set_config_option("synchronous_commit", "off",
										 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
										 true, 0, false);
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (upg_begun_in_xact)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that called unified.begin_distributed"),
						 errdetail("The log row of a distributed transaction must be committed, not prepared, "
								   "before its participants prepare."),
						 errhint("Call unified.begin_distributed in a transaction of its own.")));
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			upg_begun_in_xact = false;
			if (upg_lock_held)
			{
				upg_lock_held = false;
				(void) LockRelease(&upg_lock_held_tag, ExclusiveLock, true);
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			upg_begun_in_xact = false;
			break;
		default:
			break;
	}
}

/* Register upg_dtx_xact_callback once per process. */
static void
upg_dtx_register_callback(void)
{
	if (!upg_xact_callback_registered)
	{
		RegisterXactCallback(upg_dtx_xact_callback, NULL);
		upg_xact_callback_registered = true;
	}
}

/*
 * Take a transaction's coordinator lock (session level).  wait = false
 * only tries; returns whether we got it.  One at a time per backend.
 */
bool
upg_dtx_lock(const char *tx_id, bool wait)
{
	LOCKTAG		tag;
	LockAcquireResult res;

	upg_dtx_register_callback();
	Assert(!upg_lock_held);
	upg_lock_tag(&tag, tx_id);
	res = LockAcquire(&tag, ExclusiveLock, true, !wait);
	if (res == LOCKACQUIRE_NOT_AVAIL)
		return false;
	upg_lock_held_tag = tag;
	upg_lock_held = true;
	return true;
}

/* Release the coordinator lock taken by upg_dtx_lock. */
void
upg_dtx_unlock(const char *tx_id)
{
	if (upg_lock_held)
	{
		upg_lock_held = false;
		(void) LockRelease(&upg_lock_held_tag, ExclusiveLock, true);
	}
}

/*
 * Try-lock a transaction's coordinator lock (session level) without the
 * one-at-a-time bookkeeping above: the resolver holds a batch of them and
 * releases each itself with upg_dtx_unlock_batch, on error too.
 */
bool
upg_dtx_trylock_batch(const char *tx_id)
{
	LOCKTAG		tag;

	upg_lock_tag(&tag, tx_id);
	return LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
}

/* Release a lock taken by upg_dtx_trylock_batch. */
void
upg_dtx_unlock_batch(const char *tx_id)
{
	LOCKTAG		tag;

	upg_lock_tag(&tag, tx_id);
	(void) LockRelease(&tag, ExclusiveLock, true);
}

/* ---------------------------------------------------------------------
 * Participants
 * ---------------------------------------------------------------------
 */

/*
 * COMMIT or ROLLBACK PREPARED one participant of this database, in the
 * current step.  The step runs as the bootstrap superuser, which is what
 * lets the coordinator finish participants prepared by other roles.  With
 * a valid xid, only the prepared transaction with that xid is finished: a
 * prepared xid stays "in progress" until it is finished, and a gid can
 * only be reused once it is, so if xid is no longer running the gid is
 * gone or belongs to another transaction now.  Returns whether it was
 * finished here (false: it was gone).
 */
bool
upg_dtx_finish_here(const char *gid, TransactionId xid, bool commit)
{
	char		activity[GIDSIZE + 32];

	if (TransactionIdIsValid(xid) && !TransactionIdIsInProgress(xid))
		return false;
	snprintf(activity, sizeof(activity), "%s PREPARED '%s'",
			 commit ? "COMMIT" : "ROLLBACK", gid);
	pgstat_report_activity(STATE_RUNNING, activity);
	FinishPreparedTransaction(gid, commit);
	return true;
}

/*
 * Developer-only: stop here, until killed, when unified_pg.debug_pause_at
 * names this point.  Tests use it to crash at every step of the protocol.
 */
void
upg_dtx_pause_point(const char *point)
{
	char		activity[128];

	if (upg_debug_pause_at == NULL || strcmp(upg_debug_pause_at, point) != 0)
		return;
	snprintf(activity, sizeof(activity), "unified_pg paused at %s", point);
	ereport(LOG, (errmsg("unified_pg: pausing at %s", point)));
	pgstat_report_activity(STATE_RUNNING, activity);
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000, UPG_WAIT_EVENT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---------------------------------------------------------------------
 * Bound roles
 * ---------------------------------------------------------------------
 */

/*
 * Read and check a participant_roles argument: NULL, or one existing role
 * per participant.  Returns the OIDs, or NULL when not given.
 */
static Oid *
upg_arg_participant_roles(FunctionCallInfo fcinfo, int argno, char **names, int nparts)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;
	Oid		   *roles;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("participant_roles must be a one-dimensional array")));
	deconstruct_array(arr, REGROLEOID, sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, &n);
	if (n != nparts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("participant_roles must name one role per participant"),
				 errdetail("%d participants and %d roles were given.", nparts, n)));
	roles = palloc(sizeof(Oid) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the role of participant \"%s\" must not be null", names[i])));
		roles[i] = DatumGetObjectId(elems[i]);
		if (GetUserNameFromId(roles[i], true) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("role with OID %u does not exist", roles[i]),
					 errdetail("It was given as the role of participant \"%s\".", names[i])));
	}
	return roles;
}

/*
 * Parse unified_pg.participant_roles ("participant:role,...").  Returns
 * the number of pairs, or -1 with *error set; parts and roles (if not
 * NULL) receive pointers into the palloc'd copy.
 */
static int
upg_parse_role_map(const char *value, char ***parts, char ***roles, const char **error)
{
	char	   *copy = pstrdup(value);
	char	   *tok;
	char	   *save = NULL;
	int			n = 0;
	int			cap = 8;
	char	  **p = palloc(sizeof(char *) * cap);
	char	  **r = palloc(sizeof(char *) * cap);

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		char	   *colon;
		char	   *name;
		char	   *role;
		int			i;

		while (*tok == ' ')
			tok++;
		colon = strchr(tok, ':');
		if (colon == NULL)
		{
			*error = "Each entry must be participant:role.";
			return -1;
		}
		*colon = '\0';
		name = tok;
		role = colon + 1;
		while (*role == ' ')
			role++;
		for (i = (int) strlen(role) - 1; i >= 0 && role[i] == ' '; i--)
			role[i] = '\0';
		for (i = (int) strlen(name) - 1; i >= 0 && name[i] == ' '; i--)
			name[i] = '\0';
		if (*name == '\0' || strlen(name) > UPG_PARTICIPANT_MAXLEN ||
			strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name))
		{
			*error = "Participant names are 1 to 63 ASCII letters, digits, \"_\" and \"-\".";
			return -1;
		}
		if (*role == '\0' || strlen(role) >= NAMEDATALEN || strchr(role, ':'))
		{
			*error = "Role names are 1 to 63 bytes without \":\".";
			return -1;
		}
		for (i = 0; i < n; i++)
			if (strcmp(p[i], name) == 0)
			{
				*error = "A participant is listed more than once.";
				return -1;
			}
		if (n == cap)
		{
			cap *= 2;
			p = repalloc(p, sizeof(char *) * cap);
			r = repalloc(r, sizeof(char *) * cap);
		}
		p[n] = name;
		r[n] = role;
		n++;
	}
	if (parts)
		*parts = p;
	if (roles)
		*roles = r;
	return n;
}

/* GUC check hook of unified_pg.participant_roles. */
bool
upg_participant_roles_check_hook(char **newval, void **extra, GucSource source)
{
	const char *error = NULL;

	if (*newval == NULL)
		return true;
	if (upg_parse_role_map(*newval, NULL, NULL, &error) < 0)
	{
		GUC_check_errdetail("%s", error);
		return false;
	}
	return true;
}

/*
 * The role unified_pg.participant_roles binds participant to, or the
 * caller if it names none.
 */
static Oid
upg_mapped_role(const char *participant)
{
	char	  **parts;
	char	  **roles;
	const char *error;
	int			n,
				i;

	n = upg_parse_role_map(upg_participant_roles_string ? upg_participant_roles_string : "",
						   &parts, &roles, &error);
	for (i = 0; i < n; i++)
		if (strcmp(parts[i], participant) == 0)
		{
			Oid			role = get_role_oid(roles[i], true);

			if (!OidIsValid(role))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("role \"%s\" does not exist", roles[i]),
						 errdetail("unified_pg.participant_roles binds participant \"%s\" to it.",
								   participant),
						 errhint("Create the role, change unified_pg.participant_roles, "
								 "or pass participant_roles to unified.begin_distributed.")));
			return role;
		}
	return GetUserId();
}

/* ---------------------------------------------------------------------
 * Rights
 * ---------------------------------------------------------------------
 */

/*
 * May caller see (and, unless for_status, commit or abort) the
 * transaction of row?  Its beginner and unified_admin may; for status,
 * also any role that may vote for one of its participants.  In a step
 * (which runs as the bootstrap superuser: caller is who called us).
 */
static bool
upg_may_see(const UpgTxRow *row, Oid caller, bool for_status)
{
	Oid			admin = get_role_oid("unified_admin", true);
	int			i;

	if (caller == row->began_by || superuser_arg(caller) ||
		(OidIsValid(admin) && has_privs_of_role(caller, admin)))
		return true;
	if (for_status)
		for (i = 0; i < row->nparts; i++)
			if (upg_vote_eligible(caller, row->roles[i], row->began_by))
				return true;
	return false;
}

/*
 * The one error for a transaction that does not exist or is not the
 * caller's: the two must not be told apart, and no owner is named.
 */
static void
upg_raise_unknown(const char *tx_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("distributed transaction \"%s\" does not exist", tx_id),
			 errhint("Only the role that began a distributed transaction, or a member of unified_admin, "
					 "can commit or abort it; start one with unified.begin_distributed.")));
}

/* ---------------------------------------------------------------------
 * The coordinator, one function per phase
 * ---------------------------------------------------------------------
 */

/*
 * Error context once the commit decision is durable: whatever stops the
 * call from now on (a cancel, a timeout, a participant that fails), the
 * transaction is committed, and the resolver commits what this call did
 * not.
 */
static void
upg_decided_context(void *arg)
{
	errcontext("distributed transaction \"%s\" is committed: its commit decision is durable, "
			   "and the resolver commits any participant this call did not",
			   (const char *) arg);
}

/*
 * Phase 1: take the transaction's coordinator lock and read its row,
 * checking that the caller may see it.  The lock is only tried first: got
 * (the usual case), the row is read once, under it, with a snapshot taken
 * after it (under READ COMMITTED; under REPEATABLE READ or SERIALIZABLE
 * the CALL's transaction snapshot, so that a retry of a transaction
 * committed meanwhile fails with 40001 instead of 55000), and a caller
 * without the right releases the lock after that one read -- it never
 * waits while holding it, so it holds up no one for longer than a read,
 * and it learns nothing (the same error as for an unknown tx id).  Taken
 * by someone else, the right is checked on a read without the lock before
 * waiting for it, so that a caller without the right never waits in its
 * queue; the row is read again once we hold it and the right checked again
 * on it (that first look's snapshot can be older than the row).
 */
static void
upg_coord_open(UpgCoord *c)
{
	UpgTxRow	peek;
	Oid			caller = GetUserId();

	upg_step_start(&c->step);
	if (upg_dtx_lock(c->tx_id, false))
	{
		if (!upg_tx_read(c->tx_id, true, &c->row) || !upg_may_see(&c->row, caller, false))
		{
			upg_dtx_unlock(c->tx_id);
			upg_raise_unknown(c->tx_id);
		}
		return;
	}
	if (!upg_tx_read(c->tx_id, false, &peek) || !upg_may_see(&peek, caller, false))
		upg_raise_unknown(c->tx_id);
	(void) upg_dtx_lock(c->tx_id, true);
	/*
	 * The look above used the CALL's snapshot, as old as the caller makes
	 * it: it may show the caller's own earlier transaction of this id,
	 * pruned since.  The right is checked again on the row under the lock.
	 */
	if (!upg_tx_read(c->tx_id, true, &c->row) || !upg_may_see(&c->row, caller, false))
	{
		upg_dtx_unlock(c->tx_id);
		upg_raise_unknown(c->tx_id);
	}
}

/* Refuse what the row's state does not allow. */
static void
upg_coord_check_state(UpgCoord *c)
{
	UpgTxState s = c->row.state;

	if (c->commit && s == UPG_TX_COMMITTED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("distributed transaction \"%s\" is already committed", c->tx_id)));
	if (c->commit && (s == UPG_TX_ABORTING || s == UPG_TX_ABORTED))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("distributed transaction \"%s\" was aborted", c->tx_id),
				 errdetail("A transaction that is aborted cannot be committed.")));
	if (!c->commit && (s == UPG_TX_COMMITTING || s == UPG_TX_COMMITTED))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("distributed transaction \"%s\" is already committed", c->tx_id),
				 errdetail("Its commit decision is durable; it can no longer be aborted.")));
}

/*
 * Phase 2: the prepared gids that parse to this transaction, each with
 * its verdict.  Other gids sharing the prefix belong to no transaction
 * and are left to the resolver.
 */
static void
upg_coord_collect(UpgCoord *c)
{
	char		prefix[UPG_TX_ID_MAXLEN + 16];
	UpgPrepared *all;
	int			n,
				i;
	TimestampTz now = GetCurrentTimestamp();

	snprintf(prefix, sizeof(prefix), "%s%s:", UPG_GID_PREFIX, c->tx_id);
	n = upg_list_prepared(prefix, &all);
	c->prepared = palloc(sizeof(UpgPrepared) * Max(n, 1));
	c->verdicts = palloc(sizeof(UpgVerdict) * Max(n, 1));
	c->nprepared = 0;
	for (i = 0; i < n; i++)
	{
		if (all[i].kind != UPG_GID_VALID || strcmp(all[i].tx_id, c->tx_id) != 0)
			continue;
		c->prepared[c->nprepared] = all[i];
		c->verdicts[c->nprepared] = upg_decide(&all[i], &c->row, -1, now);
		c->nprepared++;
	}
	pfree(all);
}

/*
 * Phase 3: every listed participant must have voted, from a role bound to
 * it; otherwise abort everything and say which one did not.
 */
static void
upg_coord_check_votes(UpgCoord *c)
{
	int			i,
				j;

	for (i = 0; i < c->row.nparts; i++)
	{
		int			foreign = -1;
		bool		voted = false;

		for (j = 0; j < c->nprepared; j++)
		{
			if (c->verdicts[j].index != i)
				continue;
			if (c->verdicts[j].action == UPG_ACTION_WAIT)
				voted = true;
			else
				foreign = j;
		}
		if (voted)
			continue;

		if (foreign >= 0)
		{
			char	   *owner = GetUserNameFromId(c->prepared[foreign].owner, true);
			char	   *bound = GetUserNameFromId(c->row.roles[i], true);

			upg_coord_abort(c, psprintf("participant %s was prepared by a role not bound to it",
										c->row.participants[i]));
			ereport(ERROR,
					(errcode(ERRCODE_TRANSACTION_ROLLBACK),
					 errmsg("distributed transaction \"%s\" was aborted because participant \"%s\" "
							"was prepared by a role it is not bound to",
							c->tx_id, c->row.participants[i]),
					 errdetail("%s was prepared by role \"%s\", which is not a member of \"%s\" "
							   "(or is a tenant-scoped role that did not begin the transaction).",
							   c->prepared[foreign].gid, owner ? owner : "?", bound ? bound : "?"),
					 errhint("Prepare each participant as a member of the role it is bound to "
							 "(unified_pg.participant_roles or begin_distributed's participant_roles); "
							 "every prepared participant has been rolled back.")));
		}
		upg_coord_abort(c, psprintf("participant %s was not prepared at commit",
									c->row.participants[i]));
		ereport(ERROR,
				(errcode(ERRCODE_TRANSACTION_ROLLBACK),
				 errmsg("distributed transaction \"%s\" was aborted because participant \"%s\" is not prepared",
						c->tx_id, c->row.participants[i]),
				 errdetail("Every participant must PREPARE TRANSACTION '%s%s:%s' before the commit; "
						   "the participants that were prepared have been rolled back.",
						   UPG_GID_PREFIX, c->tx_id, c->row.participants[i])));
	}
}

/*
 * Phase 4a: hand the votes out before the decision: this database's are
 * split between us and its finisher (when idle), the others go to their
 * databases' finishers, which wait for upg_finish_go.  Once the decision
 * is in WAL every one of them commits at once, and their COMMIT
 * PREPAREDs share one flush (finisher.c).
 */
static void
upg_coord_arm(UpgCoord *c)
{
	UpgParticipant *yes = palloc(sizeof(UpgParticipant) * Max(c->nprepared, 1));
	int			nyes = 0;
	int			i;

	for (i = 0; i < c->nprepared; i++)
	{
		if (c->verdicts[i].action != UPG_ACTION_WAIT)
			continue;
		strlcpy(yes[nyes].gid, c->prepared[i].gid, GIDSIZE);
		yes[nyes].dboid = c->prepared[i].dboid;
		yes[nyes].xid = c->prepared[i].xid;
		nyes++;
	}
	c->votes = upg_finish_start(yes, nyes, true, true, WARNING);
}

/*
 * Phase 4b: the decision, with what voted.  It commits asynchronously; the
 * first COMMIT PREPARED flushes it (see the banner).
 */
static void
upg_coord_decide(UpgCoord *c)
{
	Oid			argtypes[2] = {TEXTOID, XIDARRAYOID};
	Datum		args[2];
	Datum	   *elems = palloc(sizeof(Datum) * Max(c->row.nparts, 1));
	TransactionId *votes = palloc0(sizeof(TransactionId) * Max(c->row.nparts, 1));
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	for (i = 0; i < c->nprepared; i++)
		if (c->verdicts[i].action == UPG_ACTION_WAIT)
			votes[c->verdicts[i].index] = c->prepared[i].xid;
	for (i = 0; i < c->row.nparts; i++)
		elems[i] = TransactionIdGetDatum(votes[i]);

	args[0] = CStringGetTextDatum(c->tx_id);
	args[1] = PointerGetDatum(construct_array(elems, c->row.nparts, XIDOID,
											  sizeof(TransactionId), true, TYPALIGN_INT));
	if (upg_spi_execute(&upg_plan_decide,
						"UPDATE unified.transaction_log SET state = 'committing', votes = $2,"
						" decided_at = pg_catalog.clock_timestamp(), updated_at = pg_catalog.clock_timestamp()"
						" WHERE tx_id = $1 AND state = 'pending'",
						2, argtypes, args, NULL, false) != SPI_OK_UPDATE)
		elog(ERROR, "could not update the transaction log");
	if (SPI_processed != 1)
		elog(ERROR, "distributed transaction \"%s\" left state \"pending\" while locked", c->tx_id);
	upg_step_commit(&c->step, false);
	c->decision_lsn = XactLastCommitEnd;

	c->row.state = UPG_TX_COMMITTING;
	c->row.votes = votes;
	for (i = 0; i < c->nprepared; i++)
		c->verdicts[i] = upg_decide(&c->prepared[i], &c->row, -1, now);
}

/*
 * Phase 5: commit the votes (or, aborting, roll back everything) and roll
 * back the foreign gids under the transaction's prefix.
 */
static void
upg_coord_finish(UpgCoord *c)
{
	UpgParticipant *yes = palloc(sizeof(UpgParticipant) * Max(c->nprepared, 1));
	UpgParticipant *no = palloc(sizeof(UpgParticipant) * Max(c->nprepared, 1));
	int			nyes = 0,
				nno = 0,
				i;
	bool		pause = c->commit;
	bool		nopause = false;

	for (i = 0; i < c->nprepared; i++)
	{
		bool		vote = c->commit && c->verdicts[i].action == UPG_ACTION_COMMIT;
		UpgParticipant *p;

		if (vote && c->votes != NULL)
			continue;			/* handed out already */
		p = vote ? &yes[nyes++] : &no[nno++];
		strlcpy(p->gid, c->prepared[i].gid, GIDSIZE);
		p->dboid = c->prepared[i].dboid;
		p->xid = c->prepared[i].xid;
	}
	/* upg_finish_participants orders by database; ours are sorted by gid */
	c->left = 0;
	if (c->votes != NULL)
	{
		UpgFinishBatch *votes = c->votes;

		/* our votes in one step, left open for the completion */
		c->votes = NULL;
		c->left = upg_finish_wait(votes, true, &c->step, "after_first_participant",
								  &pause, NULL);
	}
	else if (nyes > 0)
		c->left = upg_finish_participants(yes, nyes, true, true,
										  "after_first_participant", &pause, WARNING);
	if (nno > 0)
	{
		int			left;

		if (c->step.open)
			upg_step_commit(&c->step, false);
		left = upg_finish_participants(no, nno, false, true, NULL, &nopause, WARNING);

		if (!c->commit)
			c->left = left;
	}
}

/*
 * Phase 6: record completion, in the step that committed our votes (it
 * commits asynchronously: the resolver records completion again if a
 * crash loses it), make sure the decision is durable, release the lock.
 */
static void
upg_coord_complete(UpgCoord *c)
{
	upg_dtx_pause_point("after_all_participants");
	if (c->left == 0)
		upg_set_state(c, UPG_TX_COMMITTING, UPG_TX_COMMITTED, NULL);
	upg_coord_close(c);
	if (c->left > 0)
		ereport(WARNING,
				(errmsg("distributed transaction \"%s\" is committed but %d participants are not finished yet",
						c->tx_id, c->left),
				 errdetail("The commit decision is durable; the resolver will commit them.")));
}

/*
 * Abort: record the decision (unless already recorded), roll back every
 * gid of the transaction, record completion when nothing is left.
 */
static void
upg_coord_abort(UpgCoord *c, const char *error)
{
	bool		was_aborted = c->row.state == UPG_TX_ABORTED;

	c->commit = false;
	if (c->row.state == UPG_TX_PENDING)
	{
		upg_set_state(c, UPG_TX_PENDING, UPG_TX_ABORTING, error);
		c->decision_lsn = XactLastCommitEnd;
		c->row.state = UPG_TX_ABORTING;
	}
	else if (c->step.open)
		upg_step_commit(&c->step, false);
	upg_coord_finish(c);
	if (!was_aborted && c->left == 0)
		upg_set_state(c, UPG_TX_ABORTING, UPG_TX_ABORTED, NULL);
	upg_coord_close(c);
}

/* Make the decision durable if no participant's commit did, and unlock. */
static void
upg_coord_close(UpgCoord *c)
{
	if (c->step.open)
		upg_step_commit(&c->step, false);
	if (!XLogRecPtrIsInvalid(c->decision_lsn))
		XLogFlush(c->decision_lsn);
	upg_dtx_unlock(c->tx_id);
}

/*
 * UPDATE the log row from one state to another and commit asynchronously
 * (whatever a crash loses of it, the resolver redoes); in the open step if
 * there is one, else in a step of its own.
 */
static void
upg_set_state(UpgCoord *c, UpgTxState from, UpgTxState to, const char *error)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	args[0] = CStringGetTextDatum(c->tx_id);
	args[1] = CStringGetTextDatum(upg_tx_state_name(from));
	args[2] = CStringGetTextDatum(upg_tx_state_name(to));
	if (error)
		args[3] = CStringGetTextDatum(error);
	else
		nulls[3] = 'n';

	if (!c->step.open)
		upg_step_start(&c->step);
	if (upg_spi_execute(&upg_plan_set_state, "UPDATE unified.transaction_log SET state = $3, "
						"updated_at = pg_catalog.clock_timestamp(), "
						"decided_at = CASE WHEN $3 IN ('committing', 'aborting') "
						"  THEN pg_catalog.clock_timestamp() ELSE decided_at END, "
						"finished_at = CASE WHEN $3 IN ('committed', 'aborted') "
						"  THEN pg_catalog.clock_timestamp() ELSE finished_at END, "
						"finished_by = CASE WHEN $3 IN ('committed', 'aborted') "
						"  THEN 'coordinator' ELSE finished_by END, "
						"error = COALESCE($4, error) "
						"WHERE tx_id = $1 AND state = $2",
						4, argtypes, args, nulls, false) != SPI_OK_UPDATE)
		elog(ERROR, "could not update the transaction log");
	if (SPI_processed != 1)
		elog(ERROR, "distributed transaction \"%s\" left state \"%s\" while locked",
			 c->tx_id, upg_tx_state_name(from));
	upg_step_commit(&c->step, false);
}

/* Common entry of commit_distributed and abort_distributed. */
static void
upg_coordinate(FunctionCallInfo fcinfo, bool commit)
{
	const char *what = commit ? "unified.commit_distributed" : "unified.abort_distributed";
	UpgCoord	c;
	ErrorContextCallback decided;

	memset(&c, 0, sizeof(c));
	c.tx_id = upg_arg_tx_id(fcinfo, 0);
	c.commit = commit;
	c.step.in_procedure = true;
	c.decision_lsn = InvalidXLogRecPtr;

	upg_require_shmem();
	upg_dtx_require_prepared_xacts();
	upg_require_log_database();
	upg_require_nonatomic(fcinfo, what);

	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	upg_coord_open(&c);
	upg_coord_check_state(&c);
	upg_coord_collect(&c);

	if (!commit)
	{
		bool		already = c.row.state == UPG_TX_ABORTED;

		upg_coord_abort(&c, "aborted by unified.abort_distributed");
		SPI_finish();
		if (already)
			ereport(NOTICE,
					(errmsg("distributed transaction \"%s\" was already aborted", c.tx_id)));
		else if (c.left > 0)
			ereport(WARNING,
					(errmsg("distributed transaction \"%s\" is aborted but %d participants are still prepared",
							c.tx_id, c.left),
					 errdetail("The resolver will roll them back.")));
		return;
	}

	if (c.row.state == UPG_TX_PENDING)
	{
		upg_coord_check_votes(&c);
		upg_dtx_pause_point("before_decision");
		upg_coord_arm(&c);
		PG_TRY();
		{
			upg_coord_decide(&c);
		}
		PG_CATCH();
		{
			upg_finish_cancel(c.votes);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	else
		upg_step_commit(&c.step, false);
	decided.callback = upg_decided_context;
	decided.arg = (void *) c.tx_id;
	decided.previous = error_context_stack;
	error_context_stack = &decided;
	PG_TRY();
	{
		upg_dtx_pause_point("after_decision");
		/* the decision's commit record is in WAL: the finishers may commit */
		if (c.votes != NULL)
			upg_finish_go(c.votes);
		upg_dtx_pause_point("after_go");
		upg_coord_finish(&c);
	}
	PG_CATCH();
	{
		/*
		 * The error's context says the decision is durable: make it so
		 * before the caller reads it (a rare path, outside the flush budget)
		 */
		XLogFlush(GetXLogInsertRecPtr());
		PG_RE_THROW();
	}
	PG_END_TRY();
	error_context_stack = decided.previous;
	upg_coord_complete(&c);
	SPI_finish();
}

/* ---------------------------------------------------------------------
 * SQL API
 * ---------------------------------------------------------------------
 */

/* SQL: unified.participant_gid(tx_id, participant) -- the gid to PREPARE. */
Datum
upg_participant_gid(PG_FUNCTION_ARGS)
{
	char	   *tx_id = upg_arg_tx_id(fcinfo, 0);
	text	   *t;
	char	   *part;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("participant name must not be null")));
	t = PG_GETARG_TEXT_PP(1);
	part = text_to_cstring(t);
	upg_check_name(part, VARSIZE_ANY_EXHDR(t), UPG_PARTICIPANT_MAXLEN, false,
				   "participant name");
	upg_check_gid_length(tx_id, part);
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%s%s:%s", UPG_GID_PREFIX, tx_id, part)));
}

/*
 * INSERT the row of a new transaction.  A plain INSERT, not ON CONFLICT DO
 * NOTHING (a speculative insertion costs an index probe and a WAL record
 * more): the primary key's unique violation is turned into our error.
 * Replacing the error without a subtransaction is safe because the
 * transaction is aborted by it anyway and nothing runs in between.
 */
static void
upg_begin_insert(const char *tx_id, Oid *argtypes, Datum *args)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		if (upg_spi_execute(&upg_plan_begin,
							"INSERT INTO unified.transaction_log (tx_id, participants, began_by, participant_roles) "
							"VALUES ($1, $2, $3, $4)",
							4, argtypes, args, NULL, false) != SPI_OK_INSERT || SPI_processed != 1)
			elog(ERROR, "could not insert into the transaction log");
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("distributed transaction \"%s\" already exists", tx_id),
				 errhint("Use a new transaction id for every distributed transaction.")));
	}
	PG_END_TRY();
}

/*
 * SQL: unified.begin_distributed(tx_id, participants, participant_roles)
 * -- log it as pending, each participant bound to a role.
 */
Datum
upg_begin_distributed(PG_FUNCTION_ARGS)
{
	char	   *tx_id = upg_arg_tx_id(fcinfo, 0);
	int			nparts;
	char	  **names = upg_arg_participants(fcinfo, 1, tx_id, &nparts);
	Oid		   *roles = upg_arg_participant_roles(fcinfo, 2, names, nparts);
	char	   *caller;
	Oid			argtypes[4] = {TEXTOID, TEXTARRAYOID, NAMEOID, REGROLEARRAYOID};
	Datum		args[4];
	UpgStep		step = {.in_procedure = true};
	Datum	   *elems;
	Datum	   *role_elems;
	bool		alone;
	int			i;

	upg_require_shmem();
	upg_dtx_require_prepared_xacts();
	upg_require_log_database();

	caller = GetUserNameFromId(GetUserId(), false);

	/* store the validated names, not the caller's array (bounds, nulls) */
	elems = palloc(sizeof(Datum) * nparts);
	role_elems = palloc(sizeof(Datum) * nparts);
	for (i = 0; i < nparts; i++)
	{
		elems[i] = CStringGetTextDatum(names[i]);
		role_elems[i] = ObjectIdGetDatum(roles ? roles[i] : upg_mapped_role(names[i]));
	}

	args[0] = CStringGetTextDatum(tx_id);
	args[1] = PointerGetDatum(construct_array(elems, nparts, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = CStringGetDatum(caller);
	args[3] = PointerGetDatum(construct_array(role_elems, nparts, REGROLEOID, sizeof(Oid),
											  true, TYPALIGN_INT));

	upg_dtx_register_callback();
	alone = !upg_begun_in_xact && !TransactionIdIsValid(GetTopTransactionIdIfAny());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	upg_privileged_enter(&step);
	upg_begin_insert(tx_id, argtypes, args);
	upg_privileged_leave(&step);
	SPI_finish();
	upg_begun_in_xact = true;
	upg_begin_alone = alone;
	upg_begin_lsn = XactLastRecEnd;

	PG_RETURN_TEXT_P(cstring_to_text(tx_id));
}

/* SQL: CALL unified.commit_distributed(tx_id) */
Datum
upg_commit_distributed(PG_FUNCTION_ARGS)
{
	upg_coordinate(fcinfo, true);
	PG_RETURN_VOID();
}

/* SQL: CALL unified.abort_distributed(tx_id) */
Datum
upg_abort_distributed(PG_FUNCTION_ARGS)
{
	upg_coordinate(fcinfo, false);
	PG_RETURN_VOID();
}

/*
 * SQL: unified.transaction_status(tx_id) -- one row for the roles that may
 * see the transaction, none (as for an unknown id) for everyone else.
 */
Datum
upg_transaction_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *tx_id = upg_arg_tx_id(fcinfo, 0);
	UpgStep		step = {.in_procedure = true};
	UpgTxRow	row;
	Oid			caller = GetUserId();
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];

	upg_require_log_database();
	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != 6)
		elog(ERROR, "unified.transaction_status() is declared with the wrong columns");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	upg_privileged_enter(&step);
	if (upg_tx_read(tx_id, false, &row) && upg_may_see(&row, caller, true))
	{
		Datum		values[6];
		bool		nulls[6];
		int			i;

		args[0] = CStringGetTextDatum(tx_id);
		if (upg_spi_execute(&upg_plan_status,
							"SELECT tx_id, state, decided_at, finished_at, participants, error"
							"  FROM unified.transaction_log WHERE tx_id = $1",
							1, argtypes, args, NULL, true) != SPI_OK_SELECT)
			elog(ERROR, "could not read the transaction log");
		if (SPI_processed == 1)
		{
			for (i = 0; i < 6; i++)
				values[i] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &nulls[i]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	upg_privileged_leave(&step);
	SPI_finish();
	return (Datum) 0;
}
