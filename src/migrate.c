/*-------------------------------------------------------------------------
 *
 * migrate.c
 *		C support for migrating Claude-Context and Cognee tables into
 *		unified.chunks (sql/install/60_migration.sql).
 *
 * The migration itself is SQL: keyset batches, each one INSERT ... SELECT
 * committed with its checkpoint by a procedure.  What it needs from C are
 * checks and conversions that run on every migrated row and decide whether
 * it can be stored or must go to unified.migration_rejects.  None of them
 * raises for bad data: a cast that fails would make the whole batch's
 * statement fail and fall back to row-by-row handling (a subtransaction
 * and a statement per key), which one bad row in a thousand should not
 * cost.
 *
 *	- unified.migration_vector_problem: one pass over the floats finds NaN
 *	  and infinities (SQL would scan the array once per kind of value);
 *	- unified.migration_text_vector: pgvector's text form '[1,2,3]' (or an
 *	  array literal '{1,2,3}') as real[], NULL when it is not one;
 *	- unified.migration_json_valid: whether text is JSON that jsonb accepts
 *	  (the escapes are checked too: jsonb refuses \u0000);
 *	- unified.migration_detoast: a real[] read from the source, fetched
 *	  from TOAST once.  A 768-dimension vector is stored out of line, and
 *	  every function that looks at it (the check above, the CHECK
 *	  constraints of unified.chunks) would otherwise fetch it again.
 *	- unified.migration_lock_relations: the source and every relation
 *	  below it (inheritance children, partitions) locked by OID in SHARE
 *	  UPDATE EXCLUSIVE mode, the weakest lock that conflicts with the DDL
 *	  that could plant code in them (CREATE INDEX, ALTER TABLE ... ADD
 *	  CONSTRAINT, ATTACH PARTITION, RENAME) while readers and writers of
 *	  the source go on.  SQL's LOCK TABLE takes a name, which the source's
 *	  owner can make point elsewhere, and refuses foreign tables and
 *	  materialized views.
 *
 * Only the last holds locks (until the transaction ends); none keeps state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "fmgr.h"
#include "utils/array.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "unified_pg.h"

PG_FUNCTION_INFO_V1(upg_migration_vector_problem);
PG_FUNCTION_INFO_V1(upg_migration_text_vector);
PG_FUNCTION_INFO_V1(upg_migration_json_valid);
PG_FUNCTION_INFO_V1(upg_migration_detoast);
PG_FUNCTION_INFO_V1(upg_migration_lock_relations);

/* The largest embedding unified.chunks accepts (chunks_embedding_check). */
#define UPG_MAX_EMBEDDING_DIMENSIONS 16000

/*
 * SQL: unified.migration_vector_problem(vector real[], dimensions integer)
 * returns why the vector cannot be stored, or NULL when it can (a NULL
 * vector can: the chunk then has no embedding).  dimensions NULL means any
 * length is accepted.
 */
Datum
upg_migration_vector_problem(PG_FUNCTION_ARGS)
{
	ArrayType  *a;
	int			n;
	float4	   *v;
	int			i;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	a = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_ELEMTYPE(a) != FLOAT4OID)
		elog(ERROR, "migration_vector_problem expects real[]");

	if (ARR_NDIM(a) == 0)
		PG_RETURN_TEXT_P(cstring_to_text("vector is empty"));
	if (ARR_NDIM(a) != 1)
		PG_RETURN_TEXT_P(cstring_to_text(psprintf("vector has %d dimensions of arrays, not one",
												  ARR_NDIM(a))));
	if (array_contains_nulls(a))
		PG_RETURN_TEXT_P(cstring_to_text("vector contains NULL"));

	n = ARR_DIMS(a)[0];
	if (n > UPG_MAX_EMBEDDING_DIMENSIONS)
		PG_RETURN_TEXT_P(cstring_to_text(psprintf("vector has %d dimensions, more than %d",
												  n, UPG_MAX_EMBEDDING_DIMENSIONS)));
	if (!PG_ARGISNULL(1) && n != PG_GETARG_INT32(1))
		PG_RETURN_TEXT_P(cstring_to_text(psprintf("vector has %d dimensions, the source's vectors have %d",
												  n, PG_GETARG_INT32(1))));

	v = (float4 *) ARR_DATA_PTR(a);
	for (i = 0; i < n; i++)
	{
		if (isnan(v[i]))
			PG_RETURN_TEXT_P(cstring_to_text(psprintf("vector contains NaN (element %d)", i + 1)));
		if (isinf(v[i]))
			PG_RETURN_TEXT_P(cstring_to_text(psprintf("vector contains an infinite value (element %d)",
													  i + 1)));
	}
	PG_RETURN_NULL();
}

/* Skip blanks as float4in does. */
static const char *
upg_skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v')
		p++;
	return p;
}

/*
 * Parse '[f, f, ...]' or '{f, f, ...}' into *out (palloc'd), *n floats;
 * false when the text is not such a list.  Each float as strtof reads it
 * (NaN and infinities included: the vector check names them).
 */
static bool
upg_parse_float_list(const char *p, float4 **out, int *n)
{
	char		close;
	int			cap = 64;

	p = upg_skip_space(p);
	if (*p == '[')
		close = ']';
	else if (*p == '{')
		close = '}';
	else
		return false;
	p = upg_skip_space(p + 1);

	*n = 0;
	*out = palloc(cap * sizeof(float4));
	if (*p == close)
		return *upg_skip_space(p + 1) == '\0';
	for (;;)
	{
		char	   *end;
		float		f;

		f = strtof(p, &end);
		if (end == p)
			return false;
		if (*n >= UPG_MAX_EMBEDDING_DIMENSIONS + 1)
			return false;
		if (*n == cap)
		{
			cap *= 2;
			*out = repalloc(*out, cap * sizeof(float4));
		}
		(*out)[(*n)++] = f;
		p = upg_skip_space(end);
		if (*p == ',')
			p = upg_skip_space(p + 1);
		else if (*p == close)
			return *upg_skip_space(p + 1) == '\0';
		else
			return false;
	}
}

/*
 * SQL: unified.migration_text_vector(text) returns real[]: a vector in
 * pgvector's text form, or NULL when the text is not one.  (STRICT.)
 */
Datum
upg_migration_text_vector(PG_FUNCTION_ARGS)
{
	char	   *str = text_to_cstring(PG_GETARG_TEXT_PP(0));
	float4	   *vals;
	int			n;
	Datum	   *elems;
	int			i;

	if (!upg_parse_float_list(str, &vals, &n))
		PG_RETURN_NULL();
	if (n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(FLOAT4OID));
	elems = palloc(n * sizeof(Datum));
	for (i = 0; i < n; i++)
		elems[i] = Float4GetDatum(vals[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT));
}

/*
 * SQL: unified.migration_json_valid(text) returns boolean: can the text be
 * cast to jsonb?  (STRICT.)  The escapes are decoded as jsonb would
 * decode them, so \u0000 and broken surrogate pairs are refused here too.
 */
Datum
upg_migration_json_valid(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	JsonLexContext *lex;

	lex = makeJsonLexContextCstringLen(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
									   GetDatabaseEncoding(), true);
	PG_RETURN_BOOL(pg_parse_json(lex, &nullSemAction) == JSON_SUCCESS);
}

/* SQL: unified.migration_detoast(real[]) returns real[]: the value itself,
 * detoasted (fetched and decompressed) once.  (STRICT.) */
Datum
upg_migration_detoast(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(PG_GETARG_ARRAYTYPE_P(0));
}

/*
 * SQL: unified.migration_lock_relations(source regclass) returns regclass[]:
 * the source and every relation that inherits from it or is one of its
 * partitions, at any depth, the source first, each locked in SHARE UPDATE
 * EXCLUSIVE mode until the end of the transaction.  42501 unless the
 * caller may SELECT from the source, checked before the lock is taken, so
 * that no role can hold a table it cannot read (and keep VACUUM from it).
 */
Datum
upg_migration_lock_relations(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	List	   *rels;
	ListCell   *lc;
	Datum	   *elems;
	int			n = 0;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source relation with OID %u does not exist", relid)));
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read source %s", get_rel_name(relid))));
	LockRelationOid(relid, ShareUpdateExclusiveLock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
	{
		UnlockRelationOid(relid, ShareUpdateExclusiveLock);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source relation with OID %u does not exist", relid)));
	}
	/* the source is locked already; its descendants are locked here */
	rels = find_all_inheritors(relid, ShareUpdateExclusiveLock, NULL);
	elems = palloc(sizeof(Datum) * list_length(rels));
	foreach(lc, rels)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT));
}
