/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		Shared memory owned by unified_pg.
 *
 * One UpgSharedState struct, created at postmaster start-up, holds what
 * backends and the background worker must see in common.  It is protected
 * by a single LWLock from the "unified_pg" tranche: writers take it
 * exclusively for a few stores, readers take it shared and copy what they
 * need before doing anything slow.  No I/O is ever done under the lock.
 *
 * The struct lives only while the server runs; durable state (the
 * transaction log, migrations) lives in tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "unified_pg.h"

UpgSharedState *upg_shared = NULL;

/* Size of everything we put in shared memory. */
static Size
upg_shmem_size(void)
{
	return MAXALIGN(sizeof(UpgSharedState));
}

/* Called from shmem_request_hook: reserve memory and the LWLock tranche. */
void
upg_shmem_request(void)
{
	RequestAddinShmemSpace(upg_shmem_size());
	RequestNamedLWLockTranche(UPG_EXTENSION_NAME, 1);
	upg_limit_shmem_request();
	upg_stats_shmem_request();
	upg_finisher_shmem_request();
}

/* Called from shmem_startup_hook: create or attach to the shared state. */
void
upg_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	upg_shared = ShmemInitStruct(UPG_EXTENSION_NAME, upg_shmem_size(), &found);
	if (!found)
	{
		memset(upg_shared, 0, upg_shmem_size());
		upg_shared->lock = &(GetNamedLWLockTranche(UPG_EXTENSION_NAME))->lock;
	}
	upg_limit_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
	upg_stats_shmem_startup();
	upg_finisher_shmem_startup();
}

/*
 * Raise the standard error when shared memory is not available, which is
 * the case exactly when the library was not preloaded.
 */
void
upg_require_shmem(void)
{
	if (upg_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("unified_pg must be loaded via shared_preload_libraries"),
				 errhint("Add unified_pg to shared_preload_libraries in postgresql.conf and restart the server.")));
}
