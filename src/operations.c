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
 *	  batch checked and parsed in one pass (below), with the per-key rules
 *	  that the text form, upsert_chunks_parse(text) in src/upsert_text.c,
 *	  applies too (src/upsert_input.h);
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
#include "upsert_input.h"

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

StaticAssertDecl(lengthof(upg_input_keys) == UPG_NINPUT_KEYS, "one entry per key");

/* At most 80 bytes of s (len bytes), cut at a character boundary. */
static char *
upg_clip(const char *s, int len)
{
	return pnstrdup(s, pg_mbcliplen(s, len, Min(len, 80)));
}

/* Raise the error for a bad element; detail is a sentence fragment. */
void
upg_bad_chunk(int ord, int sqlstate, const char *detail)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("invalid chunk %d in upsert_chunks", ord),
			 errdetail("Chunk %d %s.", ord, detail),
			 errhint("Each chunk is an object with \"source\", \"source_id\", \"content\" and the owner's id; "
					 "other keys are named like the columns of unified.chunks.")));
}

/* The name of a JSON type, for messages. */
const char *
upg_json_type_name(UpgJsonType t)
{
	switch (t)
	{
		case UPG_JSON_NULL:
			return "null";
		case UPG_JSON_STRING:
			return "string";
		case UPG_JSON_NUMBER:
			return "number";
		case UPG_JSON_BOOL:
			return "boolean";
		case UPG_JSON_ARRAY:
			return "array";
		case UPG_JSON_OBJECT:
			return "object";
	}
	return "value";
}

/* The JSON type of a jsonb value (nested values as binary). */
static UpgJsonType
upg_jsonb_type(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return UPG_JSON_NULL;
		case jbvString:
			return UPG_JSON_STRING;
		case jbvNumeric:
			return UPG_JSON_NUMBER;
		case jbvBool:
			return UPG_JSON_BOOL;
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? UPG_JSON_ARRAY : UPG_JSON_OBJECT;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return UPG_JSON_NULL;		/* not reached */
}

/* The index in upg_input_keys of the key named name (len bytes), or -1. */
int
upg_input_key_index(const char *name, int len)
{
	for (int i = 0; i < UPG_NINPUT_KEYS; i++)
		if (strlen(upg_input_keys[i].name) == len &&
			memcmp(upg_input_keys[i].name, name, len) == 0)
			return i;
	return -1;
}

/* The name of key number i. */
const char *
upg_input_key_name(int i)
{
	return upg_input_keys[i].name;
}

/* true when every element must have key number i */
bool
upg_input_key_required(int i)
{
	return upg_input_keys[i].required;
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

/* The array or object v as an embedding. */
static ArrayType *
upg_input_embedding(UpgInputValue *v, int ord)
{
	if (v->type == UPG_JSON_STRING)
		return upg_embedding_from_text(v->scalar.val.string.val, v->scalar.val.string.len, ord);
	if (v->container != NULL)
		return upg_embedding_from_container(v->container, ord);
	return upg_embedding_from_buf(v->embedding, ord);
}

/* The object v as jsonb: the container itself, or its JSON text parsed. */
static Datum
upg_input_object(UpgInputValue *v)
{
	if (v->container != NULL)
		return JsonbPGetDatum(JsonbValueToJsonb(&v->scalar));
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(pnstrdup(v->json, v->jsonlen)));
}

/* Convert one value of an element to its chunk_input attribute. */
static void
upg_input_value(UpgParsedChunk *pc, const UpgInputKey *k, UpgInputValue *v)
{
	int			i = k->attnum - 1;
	bool		want_string = (k->kind == UPG_IN_TEXT || k->kind == UPG_IN_UUID ||
							   k->kind == UPG_IN_TIMESTAMPTZ);
	bool		type_ok;

	if (v->type == UPG_JSON_NULL)
	{
		if (!k->nullable)
			upg_bad_chunk(pc->ord, ERRCODE_INVALID_PARAMETER_VALUE,
						  psprintf("has \"%s\": null", k->name));
		pc->nulls[i] = true;
		return;
	}
	type_ok = want_string ? v->type == UPG_JSON_STRING :
		k->kind == UPG_IN_INT4 ? v->type == UPG_JSON_NUMBER :
		k->kind == UPG_IN_OBJECT ? v->type == UPG_JSON_OBJECT :
		(v->type == UPG_JSON_STRING || v->type == UPG_JSON_ARRAY);
	if (!type_ok)
		upg_bad_chunk(pc->ord, ERRCODE_INVALID_PARAMETER_VALUE,
					  psprintf("has \"%s\" of JSON type %s, not %s", k->name, upg_json_type_name(v->type),
							   want_string ? "string" : k->kind == UPG_IN_INT4 ? "number" :
							   k->kind == UPG_IN_OBJECT ? "object" : "array"));

	pc->nulls[i] = false;
	switch (k->kind)
	{
		case UPG_IN_TEXT:
			pc->values[i] = PointerGetDatum(cstring_to_text_with_len(v->scalar.val.string.val,
																	 v->scalar.val.string.len));
			break;
		case UPG_IN_UUID:
			pc->values[i] = upg_input_uuid(&v->scalar, pc->ord);
			break;
		case UPG_IN_INT4:
			pc->values[i] = upg_input_int4(&v->scalar, pc->ord, k->name);
			break;
		case UPG_IN_EMBEDDING:
			pc->values[i] = PointerGetDatum(upg_input_embedding(v, pc->ord));
			break;
		case UPG_IN_OBJECT:
			pc->values[i] = upg_input_object(v);
			break;
		case UPG_IN_TIMESTAMPTZ:
			pc->values[i] = DirectFunctionCall3(timestamptz_in,
												CStringGetDatum(pnstrdup(v->scalar.val.string.val,
																		 v->scalar.val.string.len)),
												ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
			break;
	}
}

/* Check what the keys together must satisfy. */
static void
upg_input_check_element(UpgParsedChunk *pc, const bool *seen)
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

/* Start element number ord (1-based). */
void
upg_input_begin(UpgChunkBuilder *b, int ord)
{
	UpgParsedChunk *pc = palloc(sizeof(UpgParsedChunk));

	b->pc = pc;
	memset(b->seen, 0, sizeof(b->seen));
	b->npresent = 0;
	pc->ord = ord;
	for (int i = 0; i < Natts_ci; i++)
		pc->nulls[i] = true;
	pc->values[Anum_ci_ord - 1] = Int32GetDatum(ord);
	pc->nulls[Anum_ci_ord - 1] = false;
	pc->values[Anum_ci_source_collection - 1] = PointerGetDatum(cstring_to_text(""));
	pc->nulls[Anum_ci_source_collection - 1] = false;
}

/*
 * The element's key (len bytes) and its value, in jsonb's key order (each
 * key once): the one place that says what a key may hold.
 */
void
upg_input_pair(UpgChunkBuilder *b, const char *key, int len, UpgInputValue *v)
{
	int			i = upg_input_key_index(key, len);

	if (i < 0)
		upg_bad_chunk(b->pc->ord, ERRCODE_INVALID_PARAMETER_VALUE,
					  psprintf("has an unknown key \"%s\"", upg_clip(key, len)));
	b->seen[i] = true;
	b->present[b->npresent++] = PointerGetDatum(cstring_to_text(upg_input_keys[i].name));
	upg_input_value(b->pc, &upg_input_keys[i], v);
}

/* Finish the element: check the keys together, return it parsed. */
UpgParsedChunk *
upg_input_end(UpgChunkBuilder *b)
{
	UpgParsedChunk *pc = b->pc;

	pc->values[Anum_ci_present - 1] =
		PointerGetDatum(construct_array(b->present, b->npresent, TEXTOID, -1, false, TYPALIGN_INT));
	pc->nulls[Anum_ci_present - 1] = false;
	upg_input_check_element(pc, b->seen);

	pc->key[0] = DatumGetTextPP(pc->values[Anum_ci_source - 1]);
	pc->key[1] = DatumGetTextPP(pc->values[Anum_ci_source_collection - 1]);
	pc->key[2] = DatumGetTextPP(pc->values[Anum_ci_source_id - 1]);
	return pc;
}

/* Parse element number ord, an object container (the jsonb path). */
static UpgParsedChunk *
upg_input_element(int ord, JsonbContainer *obj)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	key = {0};
	JsonbValue	v;
	JsonbIteratorToken tok;
	UpgChunkBuilder b;

	upg_input_begin(&b, ord);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = v;
		else if (tok == WJB_VALUE)
		{
			UpgInputValue iv = {0};

			iv.type = upg_jsonb_type(&v);
			iv.scalar = v;
			if (v.type == jbvBinary)
				iv.container = v.val.binary.data;
			upg_input_pair(&b, key.val.string.val, key.val.string.len, &iv);
		}
	}
	return upg_input_end(&b);
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

/* The error for a NULL batch. */
void
upg_chunks_null_error(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("chunks must not be NULL")));
}

/* The error for a batch that is not an array: an object or a scalar. */
void
upg_chunks_not_array_error(bool object)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("chunks must be a JSON array of objects"),
			 errdetail("The value given is a JSON %s.", object ? "object" : "scalar")));
}

/* The error for element ord, which is not an object. */
void
upg_chunk_not_object_error(int ord, UpgJsonType type)
{
	upg_bad_chunk(ord, ERRCODE_INVALID_PARAMETER_VALUE,
				  psprintf("is a JSON %s, not an object", upg_json_type_name(type)));
}

/*
 * The parsed elements as the function's result: sorted by key, refused
 * when a key is given twice.
 */
Datum
upg_parsed_result(FunctionCallInfo fcinfo, UpgParsedChunk **parsed, int n)
{
	TupleDesc	desc;
	Oid			elemtype;
	Datum	   *rows;

	desc = upg_chunk_input_desc(fcinfo, &elemtype);
	qsort(parsed, n, sizeof(UpgParsedChunk *), upg_parsed_cmp);
	upg_parsed_check_duplicates(parsed, n);

	rows = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
		rows[i] = HeapTupleGetDatum(heap_form_tuple(desc, parsed[i]->values, parsed[i]->nulls));
	PG_RETURN_ARRAYTYPE_P(construct_array(rows, n, elemtype, -1, false, TYPALIGN_DOUBLE));
}

/* A batch given as jsonb, parsed (also the text path's way for huge input). */
Datum
upg_upsert_chunks_from_jsonb(FunctionCallInfo fcinfo, Jsonb *jb)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	UpgParsedChunk **parsed;
	int			ord = 0;

	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		upg_chunks_not_array_error(JB_ROOT_IS_OBJECT(jb));

	parsed = palloc(sizeof(UpgParsedChunk *) * Max(JB_ROOT_COUNT(jb), 1));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		ord++;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			upg_chunk_not_object_error(ord, upg_jsonb_type(&v));
		parsed[ord - 1] = upg_input_element(ord, v.val.binary.data);
	}
	return upg_parsed_result(fcinfo, parsed, ord);
}

/* SQL: unified.upsert_chunks_parse(chunks jsonb) RETURNS unified.chunk_input[] */
Datum
upg_upsert_chunks_parse(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		upg_chunks_null_error();
	return upg_upsert_chunks_from_jsonb(fcinfo, PG_GETARG_JSONB_P(0));
}
