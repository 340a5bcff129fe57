/*-------------------------------------------------------------------------
 *
 * compat.h
 *		The one place for PostgreSQL version differences.
 *
 * unified_pg targets PostgreSQL 15 and newer.  Anything that differs
 * between supported major versions is wrapped here, so that the rest of
 * the code reads as if written for a single version.
 *
 *-------------------------------------------------------------------------
 */
#ifndef UNIFIED_PG_COMPAT_H
#define UNIFIED_PG_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "unified_pg requires PostgreSQL 15 or newer"
#endif

/*
 * PostgreSQL 16 moved the GUC definitions out of utils/guc.h into
 * utils/guc_hooks.h for the check/assign hook typedefs; guc.h still has
 * everything we use on both versions.
 */
#include "utils/guc.h"

/*
 * GUC check hooks hand "extra" data back to the GUC machinery, which frees
 * it with free().  PostgreSQL 16 exports guc_malloc() for this; before
 * that, plain malloc() is the documented way.
 */
#if PG_VERSION_NUM >= 160000
#define upg_guc_malloc(size)	guc_malloc(LOG, (size))
#else
#define upg_guc_malloc(size)	malloc(size)
#endif

/* PostgreSQL 17 renamed the wait-event enum used by WaitLatch callers. */
#if PG_VERSION_NUM >= 170000
#define UPG_WAIT_EVENT_EXTENSION	WAIT_EVENT_EXTENSION
#else
#define UPG_WAIT_EVENT_EXTENSION	PG_WAIT_EXTENSION
#endif

#endif							/* UNIFIED_PG_COMPAT_H */
