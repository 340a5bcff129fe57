/*-------------------------------------------------------------------------
 *
 * maintenance_guard.c
 *		What keeps partition maintenance safe from the roles it serves:
 *		its private lock and the limits on how many partitions it makes.
 *
 * Mutual exclusion.  unified.run_maintenance() lets one pass run at a
 * time.  An ordinary advisory lock would not do: any role can call
 * pg_advisory_lock() with the same key, hold it in a session or in a
 * prepared transaction, and every later pass would report "already
 * running" forever, across restarts.  unified.maintenance_lock() takes a
 * lock on a tag of the advisory lock method whose fourth field is
 * UPG_MAINT_LOCK_TAG; pg_advisory_lock() and its relatives only ever make
 * tags whose fourth field is 1 or 2, so no SQL role can take, hold or wait
 * for this lock.  (src/dtx.c does the same for its coordinator locks, with
 * a different field.)  The lock is transaction-level, so it goes away with
 * the pass's transaction, whether it commits, aborts or its backend dies.
 *
 * A transaction that took the lock cannot be prepared: PREPARE
 * TRANSACTION would hand the lock, and the ACCESS EXCLUSIVE locks the pass
 * took on unified.chunks, to a prepared transaction that outlives every
 * session and restart.  The XACT_EVENT_PRE_PREPARE callback refuses it
 * while the transaction can still abort cleanly.
 *
 * Locks held by strangers.  A role in no group has no privilege on
 * unified.chunks, yet some catalog functions lock a relation by OID with
 * no privilege check and keep the lock to the end of the transaction
 * (pg_partition_tree() locks the table and every partition).  Prepared,
 * such a transaction keeps every new month and every detach from
 * happening until an administrator finishes it.  So the same callback
 * refuses to prepare a transaction that holds any lock on unified.chunks or
 * one of its partitions when its role has no privilege on unified.chunks:
 * such a role has no business there.  (Roles that may use the table can
 * still do it; SECURITY.md names that limit.)  The check reads only this
 * backend's own lock table, and only for roles without privileges.
 *
 * Limits.  unified_pg.max_new_partitions and unified_pg.max_partitions
 * bound the months a pass makes for rows it finds in the default
 * partition; run_maintenance() reads them (see sql/install/
 * 20_maintenance.sql for what they mean).  Both are SIGHUP settings, so no
 * session can raise them for itself; the SQL reads them after calling
 * unified.maintenance_lock(), which loads this library, so that a value
 * SET before the library was loaded is checked (and refused) first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "unified_pg.h"

/* fourth field of the maintenance lock's tag; SQL advisory locks use 1 and 2 */
#define UPG_MAINT_LOCK_TAG	0x756d

int			upg_max_new_partitions = 12;
int			upg_max_partitions = 240;

/* the maintenance lock was taken in the current top-level transaction */
static bool upg_maint_lock_taken = false;

static void upg_maint_xact_callback(XactEvent event, void *arg);

PG_FUNCTION_INFO_V1(upg_maintenance_lock);

/* Define the limit settings and watch for PREPARE; from _PG_init. */
void
upg_maintenance_guard_init(void)
{
	DefineCustomIntVariable("unified_pg.max_new_partitions",
							"Months a maintenance pass may create for rows in the default partition.",
							"Besides the current and premade months.  Rows of months beyond the "
							"limit stay in the default partition until a later pass.",
							&upg_max_new_partitions,
							12,
							0,
							10000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("unified_pg.max_partitions",
							"Monthly partitions beyond which maintenance and migration make none for rows in the default partition.",
							"The current and premade months are always made; "
							"unified.create_monthly_partition() is not limited.",
							&upg_max_partitions,
							240,
							1,
							100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	RegisterXactCallback(upg_maint_xact_callback, NULL);
}

/* The tag of the maintenance lock of this database. */
static void
upg_maint_lock_tag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, 0, 0, UPG_MAINT_LOCK_TAG);
}

/* Does this backend hold a lock of any mode on the relation? */
static bool
upg_holds_relation_lock(Oid relid)
{
	LOCKTAG		tag;
	LOCKMODE	mode;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	for (mode = AccessShareLock; mode <= MaxLockMode; mode++)
		if (LockHeldByMe(&tag, mode))
			return true;
	return false;
}

/*
 * Refuse to prepare a transaction that holds a lock on unified.chunks or
 * a partition when its role has no privilege on unified.chunks.
 */
static void
upg_maint_check_foreign_prepare(void)
{
	Oid			nsp = get_namespace_oid(UPG_SCHEMA_NAME, true);
	Oid			chunks = OidIsValid(nsp) ? get_relname_relid("chunks", nsp) : InvalidOid;
	List	   *parts;
	ListCell   *lc;
	bool		held;

	if (!OidIsValid(chunks) ||
		pg_class_aclmask(chunks, GetUserId(),
						 ACL_SELECT | ACL_INSERT | ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE,
						 ACLMASK_ANY) != 0)
		return;
	held = upg_holds_relation_lock(chunks);
	/* NoLock: reading pg_inherits must not add locks of our own */
	parts = held ? NIL : find_inheritance_children(chunks, NoLock);
	foreach(lc, parts)
		if ((held = upg_holds_relation_lock(lfirst_oid(lc))))
			break;
	list_free(parts);
	if (held)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot prepare a transaction that holds a lock on unified.chunks"),
				 errdetail("Role \"%s\" has no privilege on unified.chunks, and a prepared transaction "
						   "would keep partition maintenance from changing its partitions.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("Commit or roll back the transaction instead.")));
}

/*
 * Refuse to prepare a transaction that ran maintenance, or that holds
 * unified.chunks without the right to; forget the lock when the
 * transaction ends.
 */
static void
upg_maint_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_PREPARE)
		upg_maint_check_foreign_prepare();
	if (!upg_maint_lock_taken)
		return;
	if (event == XACT_EVENT_PRE_PREPARE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot prepare a transaction that ran partition maintenance"),
				 errdetail("A prepared transaction would keep unified.chunks locked until it is finished."),
				 errhint("Run unified.run_maintenance() in a transaction of its own.")));
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		upg_maint_lock_taken = false;
}

/*
 * SQL: unified.maintenance_lock() RETURNS boolean -- try to take this
 * database's maintenance lock for the rest of the transaction; false when
 * another transaction holds it.  Internal: only run_maintenance calls it.
 */
Datum
upg_maintenance_lock(PG_FUNCTION_ARGS)
{
	LOCKTAG		tag;

	upg_maint_lock_tag(&tag);
	if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		PG_RETURN_BOOL(false);
	upg_maint_lock_taken = true;
	PG_RETURN_BOOL(true);
}
