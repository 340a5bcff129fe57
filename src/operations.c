/*-------------------------------------------------------------------------
 *
 * operations.c
 *		C support for the applications' operations on unified.chunks.
 *
 * The operations themselves (upsert_chunks, delete_chunks, search_chunks,
 * hybrid_search, enable_vector_index) are SQL functions that run with the
 * caller's rights, in sql/install/70_operations.sql; their banner explains
 * how upsert stays atomic and race-free.  What is here runs once per row,
 * where a PL/pgSQL trigger would cost more than the work it does:
 *
 *	- unified.upsert_chunks_parse(jsonb), step 1 of upsert_chunks: the
 *	  batch checked and parsed in one pass (below);
 *	- unified.chunks_touch_updated_at(), a BEFORE UPDATE row trigger that
 *	  sets updated_at to the transaction's start time (the time now() and
 *	  the column's default give an inserted row), unless the UPDATE sets
 *	  updated_at itself: the trigger's WHEN clause fires it only when the
 *	  new row carries the old value, so an explicit value is kept.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/varlena.h"

#include "unified_pg.h"

PG_FUNCTION_INFO_V1(upg_chunks_touch_updated_at);
PG_FUNCTION_INFO_V1(upg_upsert_chunks_parse);

/*
 * Trigger: BEFORE UPDATE ON unified.chunks FOR EACH ROW.  Return the new
 * row with updated_at set to the transaction's start time.
 */
Datum
upg_chunks_touch_updated_at(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	int			attnum;
	Datum		value;
	bool		isnull = false;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("chunks_touch_updated_at must be a BEFORE UPDATE ... FOR EACH ROW trigger")));

	/* partitions may number their columns differently: look it up */
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	attnum = SPI_fnumber(tupdesc, "updated_at");
	if (attnum <= 0)
		elog(ERROR, "relation \"%s\" has no column \"updated_at\"",
			 RelationGetRelationName(trigdata->tg_relation));

	value = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	return PointerGetDatum(heap_modify_tuple_by_cols(trigdata->tg_newtuple, tupdesc,
													 1, &attnum, &value, &isnull));
}

/* ---------------------------------------------------------------------
 * unified.upsert_chunks_parse(jsonb): steps 1 of upsert_chunks.
 *
 * One pass over the batch with the jsonb iterator: each element must be an
 * object whose keys are among those below, each with its JSON type; the
 * first problem is an error naming the chunk (1-based) and the key, before
 * anything is written.  The result is the batch as unified.chunk_input[],
 * sorted by (source, source_collection, source_id) under the database's
 * default collation, the order the SQL steps lock and insert in; a key
 * given twice is refused (cardinality_violation), because one statement
 * cannot write a source row twice.
 * ---------------------------------------------------------------------
 */

/* attribute numbers of unified.chunk_input (checked against the type) */
enum
{
	Anum_ci_ord = 1,
	Anum_ci_present,
	Anum_ci_source,
	Anum_ci_source_collection,
	Anum_ci_source_id,
	Anum_ci_project_id,
	Anum_ci_cognee_dataset_id,
	Anum_ci_content,
	Anum_ci_relative_path,
	Anum_ci_start_line,
	Anum_ci_end_line,
	Anum_ci_file_extension,
	Anum_ci_chunk_index,
	Anum_ci_embedding,
	Anum_ci_embedding_model,
	Anum_ci_metadata,
	Anum_ci_created_at,
	Anum_ci_updated_at,
	Natts_ci = Anum_ci_updated_at
};

typedef enum UpgInputKind
{
	UPG_IN_TEXT,
	UPG_IN_UUID,
	UPG_IN_INT4,
	UPG_IN_EMBEDDING,
	UPG_IN_OBJECT,
	UPG_IN_TIMESTAMPTZ
} UpgInputKind;

typedef struct UpgInputKey
{
	const char *name;
	int			attnum;
	UpgInputKind kind;
	bool		required;
	bool		nullable;
} UpgInputKey;

static const UpgInputKey upg_input_keys[] = {
	{"source", Anum_ci_source, UPG_IN_TEXT, true, false},
	{"source_collection", Anum_ci_source_collection, UPG_IN_TEXT, false, false},
	{"source_id", Anum_ci_source_id, UPG_IN_TEXT, true, false},
	{"project_id", Anum_ci_project_id, UPG_IN_TEXT, false, true},
	{"cognee_dataset_id", Anum_ci_cognee_dataset_id, UPG_IN_UUID, false, true},
	{"content", Anum_ci_content, UPG_IN_TEXT, true, false},
	{"relative_path", Anum_ci_relative_path, UPG_IN_TEXT, false, true},
	{"start_line", Anum_ci_start_line, UPG_IN_INT4, false, true},
	{"end_line", Anum_ci_end_line, UPG_IN_INT4, false, true},
	{"file_extension", Anum_ci_file_extension, UPG_IN_TEXT, false, true},
	{"chunk_index", Anum_ci_chunk_index, UPG_IN_INT4, false, true},
	{"embedding", Anum_ci_embedding, UPG_IN_EMBEDDING, false, true},
	{"embedding_model", Anum_ci_embedding_model, UPG_IN_TEXT, false, true},
	{"metadata", Anum_ci_metadata, UPG_IN_OBJECT, false, false},
	{"created_at", Anum_ci_created_at, UPG_IN_TIMESTAMPTZ, false, false},
	{"updated_at", Anum_ci_updated_at, UPG_IN_TIMESTAMPTZ, false, false},
};

#define UPG_NINPUT_KEYS lengthof(upg_input_keys)

/* one parsed element, with its key for sorting */
typedef struct UpgParsedChunk
{
	int			ord;
	Datum		values[Natts_ci];
	bool		nulls[Natts_ci];
	text	   *key[3];			/* source, source_collection, source_id */
} UpgParsedChunk;

/* At most 80 bytes of s (len bytes), cut at a character boundary. */
static char *
upg_clip(const char *s, int len)
{
	return pnstrdup(s, pg_mbcliplen(s, len, Min(len, 80)));
}

/* Raise the error for a bad element; detail is a sentence fragment. */
static void
upg_bad_chunk(int ord, int sqlstate, const char *detail)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("invalid chunk %d in upsert_chunks", ord),
			 errdetail("Chunk %d %s.", ord, detail),
			 errhint("Each chunk is an object with \"source\", \"source_id\", \"content\" and the owner's id; "
					 "other keys are named like the columns of unified.chunks.")));
}

/* The JSON type of v, for messages. */
static const char *
upg_json_type(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "array" : "object";
		default:
			return "value";
	}
}

/* The key named name (not NUL-terminated), or NULL. */
static const UpgInputKey *
upg_input_key(const char *name, int len)
{
	for (int i = 0; i < UPG_NINPUT_KEYS; i++)
		if (strlen(upg_input_keys[i].name) == len &&
			memcmp(upg_input_keys[i].name, name, len) == 0)
			return &upg_input_keys[i];
	return NULL;
}

/* A JSON integer as int4, or an error naming the chunk and key. */
static Datum
upg_input_int4(JsonbValue *v, int ord, const char *key)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	char	   *p = s + (*s == '-');
	bool		ok = (*p != '\0' && strlen(p) <= 10);

	for (; ok && *p; p++)
		ok = (*p >= '0' && *p <= '9');
	if (ok)
	{
		int64		n = strtoll(s, NULL, 10);

		if (n >= PG_INT32_MIN && n <= PG_INT32_MAX)
			return Int32GetDatum((int32) n);
	}
	upg_bad_chunk(ord, ERRCODE_INVALID_PARAMETER_VALUE,
				  psprintf("has \"%s\" = %s, not an integer", key, s));
	return (Datum) 0;			/* not reached */
}

/* A UUID in one of the forms uuid_in takes, or an error naming the chunk. */
static Datum
upg_input_uuid(JsonbValue *v, int ord)
{
	const char *s = v->val.string.val;
	int			len = v->val.string.len;
	int			hex = 0;
	bool		ok = true;

	for (int i = 0; i < len && ok; i++)
	{
		char		c = s[i];

		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
			hex++;
		else
			ok = (c == '-' || c == '{' || c == '}');
	}
	if (!ok || hex != 32 || len > 38)
		upg_bad_chunk(ord, ERRCODE_INVALID_PARAMETER_VALUE,
					  psprintf("has \"cognee_dataset_id\" = \"%s\", not a UUID", upg_clip(s, len)));
	return DirectFunctionCall1(uuid_in, CStringGetDatum(pnstrdup(s, len)));
}

/* Convert one value of an element to its chunk_input attribute. */
static void
upg_input_value(UpgParsedChunk *pc, const UpgInputKey *k, JsonbValue *v)
{
	int			i = k->attnum - 1;
	bool		want_string = (k->kind == UPG_IN_TEXT || k->kind == UPG_IN_UUID ||
							   k->kind == UPG_IN_TIMESTAMPTZ);
	bool		type_ok;

	if (v->type == jbvNull)
	{
		if (!k->nullable)
			upg_bad_chunk(pc->ord, ERRCODE_INVALID_PARAMETER_VALUE,
						  psprintf("has \"%s\": null", k->name));
		pc->nulls[i] = true;
		return;
	}
	type_ok = want_string ? v->type == jbvString :
		k->kind == UPG_IN_INT4 ? v->type == jbvNumeric :
		k->kind == UPG_IN_OBJECT ? (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data)) :
		(v->type == jbvString || (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data)));
	if (!type_ok)
		upg_bad_chunk(pc->ord, ERRCODE_INVALID_PARAMETER_VALUE,
					  psprintf("has \"%s\" of JSON type %s, not %s", k->name, upg_json_type(v),
							   want_string ? "string" : k->kind == UPG_IN_INT4 ? "number" :
							   k->kind == UPG_IN_OBJECT ? "object" : "array"));

	pc->nulls[i] = false;
	switch (k->kind)
	{
		case UPG_IN_TEXT:
			pc->values[i] = PointerGetDatum(cstring_to_text_with_len(v->val.string.val, v->val.string.len));
			break;
		case UPG_IN_UUID:
			pc->values[i] = upg_input_uuid(v, pc->ord);
			break;
		case UPG_IN_INT4:
			pc->values[i] = upg_input_int4(v, pc->ord, k->name);
			break;
		case UPG_IN_EMBEDDING:
			pc->values[i] = PointerGetDatum(v->type == jbvString ?
											upg_embedding_from_text(v->val.string.val, v->val.string.len, pc->ord) :
											upg_embedding_from_container(v->val.binary.data, pc->ord));
			break;
		case UPG_IN_OBJECT:
			pc->values[i] = JsonbPGetDatum(JsonbValueToJsonb(v));
			break;
		case UPG_IN_TIMESTAMPTZ:
			pc->values[i] = DirectFunctionCall3(timestamptz_in,
												CStringGetDatum(pnstrdup(v->val.string.val, v->val.string.len)),
												ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
			break;
	}
}

/* Check what the keys together must satisfy. */
static void
upg_input_check_element(UpgParsedChunk *pc, bool *seen)
{
	const char *source;

	for (int i = 0; i < UPG_NINPUT_KEYS; i++)
		if (upg_input_keys[i].required && !seen[i])
			upg_bad_chunk(pc->ord, ERRCODE_INVALID_PARAMETER_VALUE,
						  psprintf("has no \"%s\"", upg_input_keys[i].name));

	source = TextDatumGetCString(pc->values[Anum_ci_source - 1]);
	if (strcmp(source, "claude_context") == 0)
	{
		if (pc->nulls[Anum_ci_project_id - 1])
			upg_bad_chunk(pc->ord, ERRCODE_CHECK_VIOLATION,
						  "is a claude_context chunk without a \"project_id\"");
	}
	else if (strcmp(source, "cognee") == 0)
	{
		if (pc->nulls[Anum_ci_cognee_dataset_id - 1])
			upg_bad_chunk(pc->ord, ERRCODE_CHECK_VIOLATION,
						  "is a cognee chunk without a \"cognee_dataset_id\"");
	}
	else
		upg_bad_chunk(pc->ord, ERRCODE_INVALID_PARAMETER_VALUE,
					  psprintf("has \"source\" = \"%s\", not \"claude_context\" or \"cognee\"",
							   upg_clip(source, strlen(source))));
}

/* Parse element number ord, an object container, into pc. */
static void
upg_input_element(UpgParsedChunk *pc, JsonbContainer *obj)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		seen[UPG_NINPUT_KEYS] = {0};
	Datum		present[UPG_NINPUT_KEYS];
	int			npresent = 0;
	const UpgInputKey *k = NULL;

	for (int i = 0; i < Natts_ci; i++)
		pc->nulls[i] = true;
	pc->values[Anum_ci_ord - 1] = Int32GetDatum(pc->ord);
	pc->nulls[Anum_ci_ord - 1] = false;
	pc->values[Anum_ci_source_collection - 1] = PointerGetDatum(cstring_to_text(""));
	pc->nulls[Anum_ci_source_collection - 1] = false;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			k = upg_input_key(v.val.string.val, v.val.string.len);
			if (k == NULL)
				upg_bad_chunk(pc->ord, ERRCODE_INVALID_PARAMETER_VALUE,
							  psprintf("has an unknown key \"%s\"",
									   upg_clip(v.val.string.val, v.val.string.len)));
			seen[k - upg_input_keys] = true;
			present[npresent++] = PointerGetDatum(cstring_to_text(k->name));
		}
		else if (tok == WJB_VALUE)
			upg_input_value(pc, k, &v);
	}
	pc->values[Anum_ci_present - 1] =
		PointerGetDatum(construct_array(present, npresent, TEXTOID, -1, false, TYPALIGN_INT));
	pc->nulls[Anum_ci_present - 1] = false;
	upg_input_check_element(pc, seen);

	pc->key[0] = DatumGetTextPP(pc->values[Anum_ci_source - 1]);
	pc->key[1] = DatumGetTextPP(pc->values[Anum_ci_source_collection - 1]);
	pc->key[2] = DatumGetTextPP(pc->values[Anum_ci_source_id - 1]);
}

/* qsort comparator: by key under the default collation, then by ord. */
static int
upg_parsed_cmp(const void *a, const void *b)
{
	const UpgParsedChunk *x = *(UpgParsedChunk *const *) a;
	const UpgParsedChunk *y = *(UpgParsedChunk *const *) b;

	for (int i = 0; i < 3; i++)
	{
		int			c = varstr_cmp(VARDATA_ANY(x->key[i]), VARSIZE_ANY_EXHDR(x->key[i]),
								   VARDATA_ANY(y->key[i]), VARSIZE_ANY_EXHDR(y->key[i]),
								   DEFAULT_COLLATION_OID);

		if (c != 0)
			return c;
	}
	return (x->ord > y->ord) - (x->ord < y->ord);
}

/* true when a and b have the same key */
static bool
upg_parsed_same_key(const UpgParsedChunk *a, const UpgParsedChunk *b)
{
	for (int i = 0; i < 3; i++)
		if (VARSIZE_ANY_EXHDR(a->key[i]) != VARSIZE_ANY_EXHDR(b->key[i]) ||
			memcmp(VARDATA_ANY(a->key[i]), VARDATA_ANY(b->key[i]), VARSIZE_ANY_EXHDR(a->key[i])) != 0)
			return false;
	return true;
}

/* Refuse the batch when two adjacent (sorted) chunks have one key. */
static void
upg_parsed_check_duplicates(UpgParsedChunk **sorted, int n)
{
	for (int i = 1; i < n; i++)
		if (upg_parsed_same_key(sorted[i - 1], sorted[i]))
			ereport(ERROR,
					(errcode(ERRCODE_CARDINALITY_VIOLATION),
					 errmsg("upsert_chunks would write the same source row twice"),
					 errdetail("Chunks %d and %d have the same (source, source_collection, source_id) = (%s, %s, %s).",
							   Min(sorted[i - 1]->ord, sorted[i]->ord), Max(sorted[i - 1]->ord, sorted[i]->ord),
							   text_to_cstring(sorted[i]->key[0]), text_to_cstring(sorted[i]->key[1]),
							   text_to_cstring(sorted[i]->key[2])),
					 errhint("Give each source row once per call.")));
}

/* The tuple descriptor of the function's result's element type. */
static TupleDesc
upg_chunk_input_desc(FunctionCallInfo fcinfo, Oid *elemtype)
{
	Oid			rettype = get_fn_expr_rettype(fcinfo->flinfo);
	TupleDesc	desc;

	*elemtype = get_element_type(rettype);
	if (!OidIsValid(*elemtype))
		elog(ERROR, "upsert_chunks_parse must return unified.chunk_input[]");
	desc = lookup_rowtype_tupdesc_copy(*elemtype, -1);
	if (desc->natts != Natts_ci)
		elog(ERROR, "unified.chunk_input has %d attributes, expected %d", desc->natts, Natts_ci);
	return desc;
}

/* SQL: unified.upsert_chunks_parse(chunks jsonb) RETURNS unified.chunk_input[] */
Datum
upg_upsert_chunks_parse(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	UpgParsedChunk **parsed;
	Datum	   *rows;
	TupleDesc	desc;
	Oid			elemtype;
	int			n;
	int			ord = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("chunks must not be NULL")));
	jb = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chunks must be a JSON array of objects"),
				 errdetail("The value given is a JSON %s.", JB_ROOT_IS_OBJECT(jb) ? "object" : "scalar")));

	desc = upg_chunk_input_desc(fcinfo, &elemtype);
	n = JB_ROOT_COUNT(jb);
	parsed = palloc(sizeof(UpgParsedChunk *) * Max(n, 1));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		UpgParsedChunk *pc;

		if (tok != WJB_ELEM)
			continue;
		ord++;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			upg_bad_chunk(ord, ERRCODE_INVALID_PARAMETER_VALUE,
						  psprintf("is a JSON %s, not an object", upg_json_type(&v)));
		pc = palloc(sizeof(UpgParsedChunk));
		pc->ord = ord;
		upg_input_element(pc, v.val.binary.data);
		parsed[ord - 1] = pc;
	}

	qsort(parsed, ord, sizeof(UpgParsedChunk *), upg_parsed_cmp);
	upg_parsed_check_duplicates(parsed, ord);

	rows = palloc(sizeof(Datum) * Max(ord, 1));
	for (int i = 0; i < ord; i++)
		rows[i] = HeapTupleGetDatum(heap_form_tuple(desc, parsed[i]->values, parsed[i]->nulls));
	PG_RETURN_ARRAYTYPE_P(construct_array(rows, ord, elemtype, -1, false, TYPALIGN_DOUBLE));
}
