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

#include "utils/guc.h"

/*
 * GUC check hooks hand "extra" data back to the GUC machinery, which frees
 * it with free().  PostgreSQL 16 exports guc_malloc() for this; before
 * that, plain malloc() is the documented way.
 */
#if PG_VERSION_NUM >= 160000
#define upg_guc_malloc(size)	guc_malloc(LOG, (size))
#define upg_guc_free(ptr)		guc_free(ptr)
#else
#define upg_guc_malloc(size)	malloc(size)
#define upg_guc_free(ptr)		free(ptr)
#endif

/*
 * The wait event our worker reports while sleeping.  (PostgreSQL 17 can
 * register a named custom wait event instead; PG_WAIT_EXTENSION works on
 * every supported version.)
 */
#define UPG_WAIT_EVENT_EXTENSION	PG_WAIT_EXTENSION

/*
 * Index of this backend among MaxBackends, for per-backend shared arrays.
 * PostgreSQL 17 numbers processes from 0 (MyProcNumber); before that
 * backend ids start at 1.
 */
#if PG_VERSION_NUM >= 170000
#define upg_my_backend_index()	((int) MyProcNumber)
#else
#define upg_my_backend_index()	((int) MyBackendId - 1)
#endif

/*
 * ExecutorRun lost its execute_once argument in PostgreSQL 18.  Hook
 * functions are declared with UPG_EXECUTOR_RUN_ARGS and call on with
 * UPG_EXECUTOR_RUN_PASS, so their bodies are the same on every version.
 */
#if PG_VERSION_NUM >= 180000
#define UPG_EXECUTOR_RUN_ARGS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count
#define UPG_EXECUTOR_RUN_PASS	queryDesc, direction, count
#else
#define UPG_EXECUTOR_RUN_ARGS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once
#define UPG_EXECUTOR_RUN_PASS	queryDesc, direction, count, execute_once
#endif

/*
 * JSON parser callbacks return a JsonParseErrorType from PostgreSQL 16 on
 * (void before), and makeJsonLexContextCstringLen takes a context to fill
 * from 17 on.  Callbacks are declared UPG_JSON_CB and end with
 * UPG_JSON_CB_DONE.  Only PostgreSQL 15 is built and tested here.
 */
#if PG_VERSION_NUM >= 160000
#define UPG_JSON_CB				JsonParseErrorType
#define UPG_JSON_CB_DONE		return JSON_SUCCESS
#else
#define UPG_JSON_CB				void
#define UPG_JSON_CB_DONE		return
#endif
#if PG_VERSION_NUM >= 170000
#define upg_json_lex_context(json, len, enc) \
	makeJsonLexContextCstringLen(NULL, (json), (len), (enc), true)
#else
#define upg_json_lex_context(json, len, enc) \
	makeJsonLexContextCstringLen((json), (len), (enc), true)
#endif

#endif							/* UNIFIED_PG_COMPAT_H */
