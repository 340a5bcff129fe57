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
 * after the log row of its transaction says 'committing' durably; in every
 * other case (no row, 'pending' past the timeout, 'aborting', 'aborted')
 * the right outcome is rollback.
 *
 * commit_distributed runs in phases, each in a transaction of its own
 * (it is a non-atomic procedure and commits between them):
 *
 *	1. take the transaction's coordinator lock, read and lock its row,
 *	   check the caller's rights and that every participant is prepared;
 *	2. UPDATE state 'pending' -> 'committing' and commit with
 *	   synchronous_commit on: from here on the transaction is committed;
 *	3. COMMIT PREPARED every participant, each in its own transaction, in
 *	   this process for this database and through a short-lived
 *	   background worker for each other database (a prepared transaction
 *	   can only be finished from its own database);
 *	4. UPDATE 'committing' -> 'committed'.
 *
 * Crash reasoning: a crash before 2 leaves 'pending' and prepared
 * participants, which the resolver rolls back after the timeout (or the
 * coordinator can be called again).  A crash after 2 leaves 'committing',
 * and the resolver commits whatever is still prepared and then records
 * completion; COMMIT PREPARED of a participant is itself durable and
 * atomic, so a crash during 3 loses nothing.  A crash after 3 leaves
 * 'committing' with nothing prepared, which the resolver marks committed.
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
 * unified_admin, may commit or abort it.  Participants may have been
 * prepared by other roles, and COMMIT PREPARED checks ownership, so after
 * our own check the log SQL and the finishing run as the bootstrap
 * superuser with search_path pinned (SetUserIdAndSecContext), never
 * requiring the caller to be a superuser.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "tcop/pquery.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "unified_pg.h"

/* field4 of our advisory lock tags; SQL advisory locks use 1 and 2 */
#define UPG_DTX_LOCK_TAG	0x7570

/* the coordinator lock this backend holds, released on abort */
static bool upg_lock_held = false;
static LOCKTAG upg_lock_held_tag;
static bool upg_xact_callback_registered = false;

/* plans kept for the life of the process (upg_spi_execute) */
static SPIPlanPtr upg_plan_1 = NULL;
static SPIPlanPtr upg_plan_2 = NULL;
static SPIPlanPtr upg_plan_3 = NULL;
static SPIPlanPtr upg_plan_4 = NULL;

PG_FUNCTION_INFO_V1(upg_participant_gid);
PG_FUNCTION_INFO_V1(upg_begin_distributed);
PG_FUNCTION_INFO_V1(upg_commit_distributed);
PG_FUNCTION_INFO_V1(upg_abort_distributed);

static char *upg_arg_tx_id(FunctionCallInfo fcinfo, int argno);
static void upg_check_name(const char *value, int len, int maxlen,
						   bool allow_dot, const char *what);
static void upg_check_gid_length(const char *tx_id, const char *participant);
static char **upg_arg_participants(FunctionCallInfo fcinfo, int argno,
								   const char *tx_id, int *nparts);
static void upg_require_log_database(void);
static void upg_require_nonatomic(FunctionCallInfo fcinfo, const char *what);
static void upg_privileged_enter(UpgStep *step);
static void upg_privileged_leave(UpgStep *step);
static void upg_lock_tag(LOCKTAG *tag, const char *tx_id);
static void upg_dtx_xact_callback(XactEvent event, void *arg);
static void upg_finish_distributed(FunctionCallInfo fcinfo, bool commit);
static int	upg_find_prepared(const char *tx_id, char **listed, int nlisted,
							  UpgParticipant **out, bool *found_listed);
static int	upg_finish_all(UpgParticipant *parts, int nparts, bool commit,
						   bool pause);
static void upg_set_state(UpgStep *step, const char *tx_id, const char *from,
						  const char *to, const char *error, bool durable);

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
static void
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
static void
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
static void
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

/* Release our coordinator lock when the transaction holding us aborts. */
static void
upg_dtx_xact_callback(XactEvent event, void *arg)
{
	if ((event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) && upg_lock_held)
	{
		upg_lock_held = false;
		(void) LockRelease(&upg_lock_held_tag, ExclusiveLock, true);
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

	if (!upg_xact_callback_registered)
	{
		RegisterXactCallback(upg_dtx_xact_callback, NULL);
		upg_xact_callback_registered = true;
	}
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
 * Split 'unified:<tx>:<participant>' (each part validated as the API
 * validates it).  Returns false for any other gid; such gids are never
 * touched.  tx_id and participant need room for their maximum lengths.
 */
bool
upg_dtx_parse_gid(const char *gid, char *tx_id, char *participant)
{
	size_t		plen = strlen(UPG_GID_PREFIX);
	const char *rest;
	const char *colon;
	size_t		txlen,
				partlen;
	size_t		i;

	if (strncmp(gid, UPG_GID_PREFIX, plen) != 0)
		return false;
	rest = gid + plen;
	colon = strchr(rest, ':');
	if (colon == NULL)
		return false;
	txlen = colon - rest;
	partlen = strlen(colon + 1);
	if (txlen < 1 || txlen > UPG_TX_ID_MAXLEN || partlen < 1 || partlen > UPG_PARTICIPANT_MAXLEN)
		return false;
	for (i = 0; i < txlen + 1 + partlen; i++)
	{
		unsigned char c = (unsigned char) rest[i];

		if (i == txlen)
			continue;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '-' ||
			  (c == '.' && i < txlen)))
			return false;
	}
	memcpy(tx_id, rest, txlen);
	tx_id[txlen] = '\0';
	memcpy(participant, colon + 1, partlen);
	participant[partlen] = '\0';
	return true;
}

/*
 * COMMIT or ROLLBACK PREPARED one participant of this database, in the
 * current step.  The step runs as the bootstrap superuser, which is what
 * lets the coordinator finish participants prepared by other roles.
 */
void
upg_dtx_finish_here(const char *gid, bool commit)
{
	char		activity[GIDSIZE + 32];

	snprintf(activity, sizeof(activity), "%s PREPARED '%s'",
			 commit ? "COMMIT" : "ROLLBACK", gid);
	pgstat_report_activity(STATE_RUNNING, activity);
	FinishPreparedTransaction(gid, commit);
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

/*
 * The prepared gids of a transaction, in every database.  A gid whose
 * participant is not listed in the log is not part of the transaction;
 * found_listed[i] tells which listed participants were found.  Returns
 * the count; *out, ordered by database, is allocated in the caller's
 * (SPI procedure) context, which survives the steps' commits.
 */
static int
upg_find_prepared(const char *tx_id, char **listed, int nlisted,
				  UpgParticipant **out, bool *found_listed)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	char		prefix[UPG_TX_ID_MAXLEN + 16];
	int			n,
				i;
	UpgParticipant *parts;

	snprintf(prefix, sizeof(prefix), "%s%s:", UPG_GID_PREFIX, tx_id);
	args[0] = CStringGetTextDatum(prefix);
	if (upg_spi_execute(&upg_plan_1, "SELECT p.gid, d.oid FROM pg_catalog.pg_prepared_xacts p "
							  "JOIN pg_catalog.pg_database d ON d.datname = p.database "
							  "WHERE pg_catalog.starts_with(p.gid, $1) ORDER BY d.oid, p.gid",
							  1, argtypes, args, NULL, true) != SPI_OK_SELECT)
		elog(ERROR, "could not list prepared transactions");

	n = (int) SPI_processed;
	parts = palloc0(sizeof(UpgParticipant) * Max(n, 1));
	for (i = 0; i < nlisted; i++)
		found_listed[i] = false;
	for (i = 0; i < n; i++)
	{
		char	   *gid = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		bool		isnull;
		Oid			dboid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 2, &isnull));
		char		tx[UPG_TX_ID_MAXLEN + 1];
		char		part[UPG_PARTICIPANT_MAXLEN + 1];
		int			j;

		strlcpy(parts[i].gid, gid, GIDSIZE);
		parts[i].dboid = dboid;
		if (upg_dtx_parse_gid(gid, tx, part) && strcmp(tx, tx_id) == 0)
		{
			for (j = 0; j < nlisted; j++)
				if (strcmp(listed[j], part) == 0)
					found_listed[j] = true;
		}
	}
	SPI_freetuptable(SPI_tuptable);
	*out = parts;
	return n;
}

/*
 * Finish prepared participants in this procedure; with pause, stop at
 * "after_first_participant" once the first of this database is finished.
 * Returns how many are left unfinished.
 */
static int
upg_finish_all(UpgParticipant *parts, int nparts, bool commit, bool pause)
{
	return upg_finish_participants(parts, nparts, commit, true,
								   "after_first_participant", &pause, WARNING);
}

/*
 * UPDATE the log row from one state to another and commit; in the open
 * step if there is one, else in a step of its own.
 */
static void
upg_set_state(UpgStep *step, const char *tx_id, const char *from,
			  const char *to, const char *error, bool durable)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	args[0] = CStringGetTextDatum(tx_id);
	args[1] = CStringGetTextDatum(from);
	args[2] = CStringGetTextDatum(to);
	if (error)
		args[3] = CStringGetTextDatum(error);
	else
		nulls[3] = 'n';

	if (!step->open)
		upg_step_start(step);
	if (upg_spi_execute(&upg_plan_2, "UPDATE unified.transaction_log SET state = $3, "
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
		elog(ERROR, "distributed transaction \"%s\" left state \"%s\" while locked", tx_id, from);
	upg_step_commit(step, durable);
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

/* SQL: unified.begin_distributed(tx_id, participants) -- log it as pending. */
Datum
upg_begin_distributed(PG_FUNCTION_ARGS)
{
	char	   *tx_id = upg_arg_tx_id(fcinfo, 0);
	int			nparts;
	char	  **names = upg_arg_participants(fcinfo, 1, tx_id, &nparts);
	char	   *caller;
	Oid			argtypes[3] = {TEXTOID, TEXTARRAYOID, NAMEOID};
	Datum		args[3];
	UpgStep		step = {.in_procedure = true};
	ArrayType  *arr;
	Datum	   *elems;
	int			i;

	upg_require_shmem();
	upg_dtx_require_prepared_xacts();
	upg_require_log_database();

	caller = GetUserNameFromId(GetUserId(), false);

	/* store the validated names, not the caller's array (bounds, nulls) */
	elems = palloc(sizeof(Datum) * nparts);
	for (i = 0; i < nparts; i++)
		elems[i] = CStringGetTextDatum(names[i]);
	arr = construct_array(elems, nparts, TEXTOID, -1, false, TYPALIGN_INT);

	args[0] = CStringGetTextDatum(tx_id);
	args[1] = PointerGetDatum(arr);
	args[2] = CStringGetDatum(caller);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	upg_privileged_enter(&step);
	if (upg_spi_execute(&upg_plan_3, "INSERT INTO unified.transaction_log (tx_id, participants, began_by) "
							  "VALUES ($1, $2, $3) ON CONFLICT (tx_id) DO NOTHING",
							  3, argtypes, args, NULL, false) != SPI_OK_INSERT)
		elog(ERROR, "could not insert into the transaction log");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("distributed transaction \"%s\" already exists", tx_id),
				 errhint("Use a new transaction id for every distributed transaction.")));
	upg_privileged_leave(&step);
	SPI_finish();

	PG_RETURN_TEXT_P(cstring_to_text(tx_id));
}

/* SQL: CALL unified.commit_distributed(tx_id) */
Datum
upg_commit_distributed(PG_FUNCTION_ARGS)
{
	upg_finish_distributed(fcinfo, true);
	PG_RETURN_VOID();
}

/* SQL: CALL unified.abort_distributed(tx_id) */
Datum
upg_abort_distributed(PG_FUNCTION_ARGS)
{
	upg_finish_distributed(fcinfo, false);
	PG_RETURN_VOID();
}

/* The coordinator: commit (or abort) one distributed transaction. */
static void
upg_finish_distributed(FunctionCallInfo fcinfo, bool commit)
{
	const char *what = commit ? "unified.commit_distributed" : "unified.abort_distributed";
	char	   *tx_id = upg_arg_tx_id(fcinfo, 0);
	Oid			caller = GetUserId();
	UpgStep		step = {.in_procedure = true};
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	char	   *state;
	char	   *began_by;
	ArrayType  *arr;
	Datum	   *elems;
	int			nlisted;
	char	  **listed;
	bool	   *found;
	UpgParticipant *parts;
	int			nparts;
	Oid			began_oid;
	Oid			admin_oid;
	int			i;
	int			left;

	upg_require_shmem();
	upg_dtx_require_prepared_xacts();
	upg_require_log_database();
	upg_require_nonatomic(fcinfo, what);

	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* phase 1: lock, read, check */
	(void) upg_dtx_lock(tx_id, true);
	upg_step_start(&step);
	args[0] = CStringGetTextDatum(tx_id);
	if (upg_spi_execute(&upg_plan_4, "SELECT state, began_by, participants FROM unified.transaction_log "
							  "WHERE tx_id = $1 FOR UPDATE",
							  1, argtypes, args, NULL, false) != SPI_OK_SELECT)
		elog(ERROR, "could not read the transaction log");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("distributed transaction \"%s\" does not exist", tx_id),
				 errhint("Start it with unified.begin_distributed first.")));
	{
		bool		isnull;

		state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		began_by = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		arr = DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 3, &isnull));
	}
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &nlisted);
	listed = palloc(sizeof(char *) * nlisted);
	for (i = 0; i < nlisted; i++)
		listed[i] = TextDatumGetCString(elems[i]);

	began_oid = get_role_oid(began_by, true);
	admin_oid = get_role_oid("unified_admin", true);
	if (caller != began_oid &&
		!(OidIsValid(admin_oid) && has_privs_of_role(caller, admin_oid)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s distributed transaction \"%s\"",
						commit ? "commit" : "abort", tx_id),
				 errdetail("Only the role that began it (%s) or members of unified_admin may.",
						   began_by)));

	if (commit && strcmp(state, "committed") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("distributed transaction \"%s\" is already committed", tx_id)));
	if (commit && (strcmp(state, "aborting") == 0 || strcmp(state, "aborted") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("distributed transaction \"%s\" was aborted", tx_id),
				 errdetail("A transaction that is aborted cannot be committed.")));
	if (!commit && (strcmp(state, "committing") == 0 || strcmp(state, "committed") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("distributed transaction \"%s\" is already committed", tx_id),
				 errdetail("Its commit decision is durable; it can no longer be aborted.")));

	found = palloc(sizeof(bool) * nlisted);
	nparts = upg_find_prepared(tx_id, listed, nlisted, &parts, found);

	/*
	 * The row stays locked until the first state change below commits, in
	 * this same step: reading, checking and deciding is one transaction.
	 */

	if (!commit)
	{
		bool		already = strcmp(state, "aborted") == 0;

		if (strcmp(state, "pending") == 0)
			upg_set_state(&step, tx_id, "pending", "aborting",
						  "aborted by unified.abort_distributed", true);
		else
			upg_step_commit(&step, false);
		left = upg_finish_all(parts, nparts, false, false);
		if (!already && left == 0)
			upg_set_state(&step, tx_id, "aborting", "aborted", NULL, false);
		upg_dtx_unlock(tx_id);
		SPI_finish();
		if (already)
			ereport(NOTICE,
					(errmsg("distributed transaction \"%s\" was already aborted", tx_id)));
		else if (left > 0)
			ereport(WARNING,
					(errmsg("distributed transaction \"%s\" is aborted but %d participants are still prepared",
							tx_id, left),
					 errdetail("The resolver will roll them back.")));
		return;
	}

	if (strcmp(state, "pending") == 0)
	{
		int			missing = -1;

		for (i = 0; i < nlisted; i++)
			if (!found[i])
			{
				missing = i;
				break;
			}
		if (missing >= 0)
		{
			char	   *err = psprintf("participant %s was not prepared at commit", listed[missing]);

			upg_set_state(&step, tx_id, "pending", "aborting", err, true);
			left = upg_finish_all(parts, nparts, false, false);
			if (left == 0)
				upg_set_state(&step, tx_id, "aborting", "aborted", NULL, false);
			upg_dtx_unlock(tx_id);
			ereport(ERROR,
					(errcode(ERRCODE_TRANSACTION_ROLLBACK),
					 errmsg("distributed transaction \"%s\" was aborted because participant \"%s\" is not prepared",
							tx_id, listed[missing]),
					 errdetail("Every participant must PREPARE TRANSACTION '%s%s:%s' before the commit; "
							   "the participants that were prepared have been rolled back.",
							   UPG_GID_PREFIX, tx_id, listed[missing])));
		}

		upg_dtx_pause_point("before_decision");

		/* phase 2: the decision, durable before any participant commits */
		upg_set_state(&step, tx_id, "pending", "committing", NULL, true);
	}
	else
		upg_step_commit(&step, false);

	upg_dtx_pause_point("after_decision");

	/*
	 * phase 3: commit the listed participants; an unlisted gid that merely
	 * shares the prefix is not part of the decision and is rolled back.
	 */
	{
		UpgParticipant *yes = palloc(sizeof(UpgParticipant) * Max(nparts, 1));
		UpgParticipant *no = palloc(sizeof(UpgParticipant) * Max(nparts, 1));
		int			nyes = 0,
					nno = 0;

		for (i = 0; i < nparts; i++)
		{
			char		tx[UPG_TX_ID_MAXLEN + 1];
			char		part[UPG_PARTICIPANT_MAXLEN + 1];
			bool		is_listed = false;
			int			j;

			if (upg_dtx_parse_gid(parts[i].gid, tx, part) && strcmp(tx, tx_id) == 0)
				for (j = 0; j < nlisted; j++)
					if (strcmp(listed[j], part) == 0)
						is_listed = true;
			if (is_listed)
				yes[nyes++] = parts[i];
			else
				no[nno++] = parts[i];
		}
		left = upg_finish_all(yes, nyes, true, true);
		(void) upg_finish_all(no, nno, false, false);
	}

	upg_dtx_pause_point("after_all_participants");

	/* phase 4: record completion */
	if (left == 0)
		upg_set_state(&step, tx_id, "committing", "committed", NULL, false);
	upg_dtx_unlock(tx_id);
	SPI_finish();

	if (left > 0)
		ereport(WARNING,
				(errmsg("distributed transaction \"%s\" is committed but %d participants are not finished yet",
						tx_id, left),
				 errdetail("The commit decision is durable; the resolver will commit them.")));
}
