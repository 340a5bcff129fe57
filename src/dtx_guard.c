/*-------------------------------------------------------------------------
 *
 * dtx_guard.c
 *		Guards around two-phase commit: DROP EXTENSION and prepared slots.
 *
 * Three things can break distributed transactions from outside the
 * protocol, and all are refused here:
 *
 *  - COMMIT PREPARED or ROLLBACK PREPARED of a unified: gid by its owner:
 *    PostgreSQL lets the owner finish its own prepared transaction, which
 *    after the decision would commit or roll back one participant alone.
 *    Only the protocol (which finishes participants as the bootstrap
 *    superuser, without going through ProcessUtility) and superusers may.
 *
 *  - DROP EXTENSION unified_pg while a participant is prepared or a
 *    decision is not carried out: the log row would go with it, and a
 *    participant of a committed transaction would later be rolled back as
 *    an orphan.  A ProcessUtility hook refuses the drop and names the
 *    transactions.
 *
 *  - One role preparing transactions until max_prepared_transactions is
 *    full.  unified_pg.max_prepared_per_role bounds what one role may hold
 *    prepared (superusers are exempt).  The check runs in PRE_PREPARE,
 *    before PostgreSQL reserves the gid.  It must hold under concurrent
 *    PREPAREs of one role, and a transaction is only listed by
 *    pg_prepared_xact() once its PREPARE record is flushed: so each
 *    backend that passed the check keeps a reservation (role, xid) in
 *    shared memory until its PREPARE has completed or failed.  Check and
 *    reservation happen under one LWLock: count = the role's listed
 *    prepared transactions, except those whose xid is reserved, plus the
 *    role's reservations.  The lock is held only for that count (no I/O);
 *    PREPAREs themselves never wait for each other.
 *
 * Both need the library loaded in the backend: with
 * shared_preload_libraries that is every backend.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/twophase.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "unified_pg.h"

/* the shared memory and LWLock tranche of the reservations */
#define UPG_LIMIT_TRANCHE	"unified_pg prepared limit"

/* most transactions named in the hint of a refused DROP EXTENSION */
#define UPG_DROP_HINT_MAX	10

/* unified_pg.max_prepared_per_role; -1 = a quarter of max_prepared_transactions */
int			upg_max_prepared_per_role = -1;

/* one backend's reservation: it passed the check and is preparing */
typedef struct UpgPrepareSlot
{
	Oid			role;			/* InvalidOid: free */
	TransactionId xid;
} UpgPrepareSlot;

typedef struct UpgPrepareLimit
{
	LWLock	   *lock;
	int			nslots;
	UpgPrepareSlot slots[FLEXIBLE_ARRAY_MEMBER];
} UpgPrepareLimit;

static UpgPrepareLimit *upg_limit = NULL;
static bool upg_slot_held = false;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void upg_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
							   bool readOnlyTree, ProcessUtilityContext context,
							   ParamListInfo params, QueryEnvironment *queryEnv,
							   DestReceiver *dest, QueryCompletion *qc);
static void upg_check_drop_extension(DropStmt *stmt);
static void upg_check_finish_prepared(TransactionStmt *stmt);
static int	upg_unfinished(StringInfo names);
static void upg_limit_xact_callback(XactEvent event, void *arg);
static void upg_limit_check(void);
static void upg_limit_release(void);
static int	upg_limit_effective(void);

/* Install the hook and the PREPARE callback (from _PG_init). */
void
upg_dtx_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = upg_ProcessUtility;
	if (process_shared_preload_libraries_in_progress)
		RegisterXactCallback(upg_limit_xact_callback, NULL);
}

/* ---------------------------------------------------------------------
 * DROP EXTENSION
 * ---------------------------------------------------------------------
 */

/* ProcessUtility hook: refuse DROP EXTENSION unified_pg while unfinished. */
static void
upg_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, DropStmt) && ((DropStmt *) parsetree)->removeType == OBJECT_EXTENSION)
		upg_check_drop_extension((DropStmt *) parsetree);
	else if (IsA(parsetree, TransactionStmt))
		upg_check_finish_prepared((TransactionStmt *) parsetree);

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

/* Refuse COMMIT/ROLLBACK PREPARED of a unified: gid to non-superusers. */
static void
upg_check_finish_prepared(TransactionStmt *stmt)
{
	if ((stmt->kind != TRANS_STMT_COMMIT_PREPARED && stmt->kind != TRANS_STMT_ROLLBACK_PREPARED) ||
		stmt->gid == NULL || strncmp(stmt->gid, UPG_GID_PREFIX, strlen(UPG_GID_PREFIX)) != 0 ||
		superuser())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("only unified_pg may finish prepared transaction \"%s\"", stmt->gid),
			 errdetail("Gids beginning with \"unified:\" name participants of distributed transactions, which "
					   "only unified_pg commits and rolls back, so that all of a distributed transaction ends "
					   "the same way."),
			 errhint("The role that began it can call unified.commit_distributed or unified.abort_distributed; "
					 "the resolver rolls back participants that belong to no transaction.")));
}

/* Raise an error if stmt drops unified_pg while something is unfinished. */
static void
upg_check_drop_extension(DropStmt *stmt)
{
	ListCell   *lc;
	bool		ours = false;
	StringInfoData names;
	int			n;

	foreach(lc, stmt->objects)
		if (strcmp(strVal(lfirst(lc)), UPG_EXTENSION_NAME) == 0)
			ours = true;
	if (!ours || !OidIsValid(get_extension_oid(UPG_EXTENSION_NAME, true)))
		return;
	/* only the copy in unified_pg.database coordinates anything */
	if (upg_database != NULL)
	{
		char	   *here = get_database_name(MyDatabaseId);

		if (here == NULL || strcmp(here, upg_database) != 0)
			return;
	}

	initStringInfo(&names);
	n = upg_unfinished(&names);
	if (n > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg_plural("cannot drop extension unified_pg while %d distributed transaction is unfinished",
							   "cannot drop extension unified_pg while %d distributed transactions are unfinished",
							   n, n),
				 errdetail("Dropping it would drop unified.transaction_log, and the participants still "
						   "prepared would then be rolled back even where the decision was to commit."),
				 errhint("Finish them first (CALL unified.resolve_in_doubt(), or commit_distributed / "
						 "abort_distributed): %s.", names.data)));
}

/*
 * Count the unfinished transactions -- those with a prepared unified: gid
 * in any database, and log rows whose decision is not carried out -- and
 * name the first few in names.
 */
static int
upg_unfinished(StringInfo names)
{
	UpgPrepared *list;
	int			n = upg_list_prepared(UPG_GID_PREFIX, &list);
	int			count = 0;
	int			i;
	const char *last = NULL;
	UpgStep		step = {.in_procedure = true};

	/* list is sorted by tx id; a malformed gid stands for itself */
	for (i = 0; i < n; i++)
	{
		const char *name = list[i].kind == UPG_GID_VALID ? list[i].tx_id : list[i].gid;

		if (last != NULL && list[i].kind == UPG_GID_VALID && strcmp(last, name) == 0)
			continue;
		if (count < UPG_DROP_HINT_MAX)
			appendStringInfo(names, "%s%s", count ? ", " : "", name);
		count++;
		last = name;
	}

	if (!OidIsValid(get_relname_relid("transaction_log", get_namespace_oid(UPG_SCHEMA_NAME, true))))
		return count;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	upg_privileged_enter(&step);
	if (SPI_execute("SELECT tx_id FROM unified.transaction_log"
					" WHERE state IN ('committing', 'aborting') ORDER BY tx_id", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the transaction log");
	for (i = 0; i < (int) SPI_processed; i++)
	{
		char	   *tx = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		int			j;
		bool		seen = false;

		for (j = 0; j < n && !seen; j++)
			seen = list[j].kind == UPG_GID_VALID && strcmp(list[j].tx_id, tx) == 0;
		if (seen)
			continue;
		if (count < UPG_DROP_HINT_MAX)
			appendStringInfo(names, "%s%s", count ? ", " : "", tx);
		count++;
	}
	upg_privileged_leave(&step);
	SPI_finish();
	if (count > UPG_DROP_HINT_MAX)
		appendStringInfo(names, " and %d more", count - UPG_DROP_HINT_MAX);
	return count;
}

/* ---------------------------------------------------------------------
 * unified_pg.max_prepared_per_role
 * ---------------------------------------------------------------------
 */

/* Shared memory for the reservations: one slot per backend. */
static Size
upg_limit_shmem_size(void)
{
	return MAXALIGN(offsetof(UpgPrepareLimit, slots) +
					sizeof(UpgPrepareSlot) * (MaxBackends + 1));
}

/* Reserve the reservations' memory and lock (from upg_shmem_request). */
void
upg_limit_shmem_request(void)
{
	RequestAddinShmemSpace(upg_limit_shmem_size());
	RequestNamedLWLockTranche(UPG_LIMIT_TRANCHE, 1);
}

/* Create or attach the reservations (from upg_shmem_startup, under AddinShmemInitLock). */
void
upg_limit_shmem_startup(void)
{
	bool		found;

	upg_limit = ShmemInitStruct(UPG_LIMIT_TRANCHE, upg_limit_shmem_size(), &found);
	if (!found)
	{
		memset(upg_limit, 0, upg_limit_shmem_size());
		upg_limit->lock = &(GetNamedLWLockTranche(UPG_LIMIT_TRANCHE))->lock;
		upg_limit->nslots = MaxBackends + 1;
	}
}

/* The limit in force: the setting, or a quarter of the slots; 0 = none. */
static int
upg_limit_effective(void)
{
	if (upg_max_prepared_per_role >= 0)
		return upg_max_prepared_per_role;
	return max_prepared_xacts > 0 ? Max(1, max_prepared_xacts / 4) : 0;
}

/* PREPARE: check the limit (may raise an error); afterwards release. */
static void
upg_limit_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_PREPARE)
		upg_limit_check();
	else if (event == XACT_EVENT_PREPARE || event == XACT_EVENT_ABORT ||
			 event == XACT_EVENT_COMMIT)
		upg_limit_release();
}

/*
 * Count what the current role holds prepared or is preparing; refuse if
 * that reaches the limit, else reserve a slot for this PREPARE.
 */
static void
upg_limit_check(void)
{
	Oid			role = GetUserId();
	int			limit = upg_limit_effective();
	TransactionId xid;
	UpgPrepared *list;
	int			n,
				i,
				j,
				held = 0;
	int			me = MyProc->pgprocno;

	if (upg_limit == NULL || limit <= 0 || superuser_arg(role) || me >= upg_limit->nslots)
		return;
	xid = GetTopTransactionId();	/* PREPARE would assign it anyway */

	LWLockAcquire(upg_limit->lock, LW_EXCLUSIVE);
	n = upg_list_prepared("", &list);
	for (i = 0; i < n; i++)
	{
		bool		reserved = false;

		if (list[i].owner != role)
			continue;
		for (j = 0; j < upg_limit->nslots && !reserved; j++)
			reserved = upg_limit->slots[j].xid == list[i].xid &&
				OidIsValid(upg_limit->slots[j].role);
		if (!reserved)
			held++;
	}
	for (j = 0; j < upg_limit->nslots; j++)
		if (upg_limit->slots[j].role == role)
			held++;
	if (held >= limit)
	{
		LWLockRelease(upg_limit->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("role \"%s\" already holds %d prepared transactions",
						GetUserNameFromId(role, false), held),
				 errdetail("unified_pg.max_prepared_per_role is %d.", limit),
				 errhint("Commit or roll back prepared transactions of this role, "
						 "or raise unified_pg.max_prepared_per_role.")));
	}
	upg_limit->slots[me].role = role;
	upg_limit->slots[me].xid = xid;
	upg_slot_held = true;
	LWLockRelease(upg_limit->lock);
}

/* Drop this backend's reservation; never raises an error. */
static void
upg_limit_release(void)
{
	if (!upg_slot_held || upg_limit == NULL)
		return;
	LWLockAcquire(upg_limit->lock, LW_EXCLUSIVE);
	upg_limit->slots[MyProc->pgprocno].role = InvalidOid;
	upg_limit->slots[MyProc->pgprocno].xid = InvalidTransactionId;
	LWLockRelease(upg_limit->lock);
	upg_slot_held = false;
}
