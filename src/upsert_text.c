/*-------------------------------------------------------------------------
 *
 * upsert_text.c
 *		unified.upsert_chunks_parse(text): a batch read from its JSON text.
 *
 * A batch given as jsonb has been through the jsonb parser before
 * upsert_chunks runs: every JSON number of every embedding became a
 * numeric (numeric_in), then the whole document a jsonb, only for
 * upsert_chunks to turn the numbers into reals.  For a batch of 100 chunks
 * of 768 dimensions that is about a third of the call.  This file reads
 * the text once with PostgreSQL's own JSON parser (common/jsonapi.h) and
 * callbacks of its own: an embedding's numbers go straight to real
 * (upg_json_number_to_real, src/numeric_real.c), the other scalars become
 * the JsonbValues the jsonb path sees, and a nested value is kept as its
 * text (metadata is made jsonb from that small piece alone).
 *
 * Same rules, same errors, as the jsonb path:
 *
 *	- the parser is the one jsonb_in uses, with escapes processed as
 *	  jsonb_in does (so \u0000 and bad surrogates are refused alike), errors
 *	  raised by the same function (json_ereport_error), the same recursion
 *	  and stack-depth check; every number that numeric_in might refuse is
 *	  given to numeric_in as the parser meets it, as jsonb_in does;
 *	- nothing is judged while parsing: the parse finishes first (a syntax
 *	  error anywhere wins, as it does before jsonb_in returns), then each
 *	  element goes through upg_input_pair (src/operations.c) key by key in
 *	  jsonb's key order (shorter keys first, then bytewise), each key once
 *	  with its last value, as jsonb keeps it; an embedding's first problem
 *	  is kept, not raised, until its key's turn (UpgEmbeddingBuf);
 *	- a text longer than UPG_TEXT_MAX_BYTES goes through jsonb_in and the
 *	  jsonb path itself: below it no jsonb size limit (256 MB for a string
 *	  or a container, 2^28 elements) can be reached, since jsonb takes at
 *	  most about 8 bytes for each byte of JSON text, above it only jsonb
 *	  knows exactly where they are reached.
 *
 * Memory is proportional to the input: what an element will need (its
 * strings, at most 16,000 reals of its embedding, the text span of a
 * nested value) plus a fixed amount per element and per key; tokens that
 * are not kept are freed at once, and each element's raw values once it is
 * parsed.  Once an element is certain to fail (not an object, an unknown
 * key, a required key missing) later elements are parsed but no longer
 * kept: the outcome is that error or an earlier one.  Measured peaks for
 * 15 MB of text (the jsonb form's in brackets): 200,000 small valid chunks
 * 292 MB (297 MB), 300,000 chunks without an owner id 139 MB (363 MB),
 * 3.7 million empty objects 73 MB (3.2 GB).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/jsonfuncs.h"
#include "utils/numeric.h"

#include "compat.h"
#include "unified_pg.h"
#include "upsert_input.h"

PG_FUNCTION_INFO_V1(upg_upsert_chunks_parse_text);

/* larger texts take the jsonb path (see the banner) */
#define UPG_TEXT_MAX_BYTES		(16 * 1024 * 1024)

/* depths in a batch: 1 inside the array, 2 inside an element, 3 inside its value */
#define UPG_DEPTH_BATCH			1
#define UPG_DEPTH_ELEMENT		2
#define UPG_DEPTH_VALUE			3

/* One key of an element with its last value (kept small: one per key read). */
typedef struct UpgTextField
{
	int8		key;			/* index in upg_input_keys */
	int8		type;			/* the value's UpgJsonType */
	bool		boolean;		/* a boolean's value */
	int			len;			/* a string's length, or the JSON text's */
	char	   *ptr;			/* a string (its token), or where its JSON text starts */
	Numeric		number;			/* a number, as numeric_in makes it */
} UpgTextField;

/* One element of the batch, as read. */
typedef struct UpgTextChunk
{
	UpgJsonType type;
	int8		slot[UPG_NINPUT_KEYS];	/* index in fields, or -1 */
	UpgTextField *fields;
	int			nfields;
	int			cap;
	char	   *unknown;		/* the first unknown key in jsonb's order */
	UpgEmbeddingBuf *embedding;
} UpgTextChunk;

typedef struct UpgTextState
{
	JsonLexContext *lex;
	int			depth;			/* containers open around the next token */
	bool		root_seen;
	UpgJsonType root;
	bool		keeping;		/* no kept element is certain to fail yet */
	UpgTextChunk **chunks;
	int			nchunks;
	int			cap;
	UpgTextChunk *cur;			/* the element being read, if kept */
	UpgTextField *field;		/* its key whose value is being read */
	bool		in_embedding;	/* that value is "embedding"'s array */
} UpgTextState;

static int	upg_embedding_key = -1;

/* The JSON type of the value that starts with the lexer's current token. */
static UpgJsonType
upg_token_json_type(JsonTokenType t)
{
	switch (t)
	{
		case JSON_TOKEN_STRING:
			return UPG_JSON_STRING;
		case JSON_TOKEN_NUMBER:
			return UPG_JSON_NUMBER;
		case JSON_TOKEN_OBJECT_START:
			return UPG_JSON_OBJECT;
		case JSON_TOKEN_ARRAY_START:
			return UPG_JSON_ARRAY;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			return UPG_JSON_BOOL;
		default:
			return UPG_JSON_NULL;
	}
}

/* What an embedding element of this type is, for its error. */
static const char *
upg_token_embedding_problem(JsonTokenType t)
{
	switch (t)
	{
		case JSON_TOKEN_STRING:
			return "a string";
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			return "a boolean";
		case JSON_TOKEN_NULL:
			return "null";
		default:
			return "an array or object";
	}
}

/* jsonb's order of object keys: shorter first, then bytewise. */
static int
upg_key_cmp(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return (alen > blen) ? 1 : -1;
	return memcmp(a, b, alen);
}

/* Open a container; the first token of the document sets the root's type. */
static void
upg_text_open(UpgTextState *st, UpgJsonType type)
{
	if (!st->root_seen)
	{
		st->root_seen = true;
		st->root = type;
	}
	st->depth++;
}

/* Callback: an object opens. */
static UPG_JSON_CB
upg_text_object_start(void *state)
{
	upg_text_open((UpgTextState *) state, UPG_JSON_OBJECT);
	UPG_JSON_CB_DONE;
}

/* Callback: an array opens. */
static UPG_JSON_CB
upg_text_array_start(void *state)
{
	upg_text_open((UpgTextState *) state, UPG_JSON_ARRAY);
	UPG_JSON_CB_DONE;
}

/* Callback: an object or array closes. */
static UPG_JSON_CB
upg_text_close(void *state)
{
	((UpgTextState *) state)->depth--;
	UPG_JSON_CB_DONE;
}

/* A new element of the batch (depth 1), or of an embedding (depth 3). */
static UPG_JSON_CB
upg_text_element_start(void *state, bool isnull)
{
	UpgTextState *st = (UpgTextState *) state;

	/*
	 * A 16 MB batch can hold millions of elements or keys: stay cancellable.
	 * Every value is an array element or an object's field, so this and
	 * upg_text_field_start check once per value.
	 */
	CHECK_FOR_INTERRUPTS();
	if (st->root != UPG_JSON_ARRAY)
		UPG_JSON_CB_DONE;
	if (st->depth == UPG_DEPTH_BATCH && st->keeping)
	{
		UpgTextChunk *c = palloc(sizeof(UpgTextChunk));

		c->type = upg_token_json_type(st->lex->token_type);
		for (int i = 0; i < UPG_NINPUT_KEYS; i++)
			c->slot[i] = -1;
		c->fields = NULL;
		c->nfields = c->cap = 0;
		c->unknown = NULL;
		c->embedding = NULL;
		if (st->nchunks == st->cap)
		{
			st->cap = Max(st->cap * 2, 64);
			st->chunks = repalloc(st->chunks, sizeof(UpgTextChunk *) * st->cap);
		}
		st->chunks[st->nchunks++] = c;
		st->cur = c;
	}
	else if (st->depth == UPG_DEPTH_VALUE && st->in_embedding &&
			 st->lex->token_type != JSON_TOKEN_NUMBER)
		upg_embedding_buf_other(st->cur->embedding,
								upg_token_embedding_problem(st->lex->token_type));
	UPG_JSON_CB_DONE;
}

/* true when processing element c is certain to raise an error */
static bool
upg_text_chunk_fails(const UpgTextChunk *c)
{
	if (c->type != UPG_JSON_OBJECT || c->unknown != NULL)
		return true;
	for (int i = 0; i < UPG_NINPUT_KEYS; i++)
		if (c->slot[i] < 0 && upg_input_key_required(i))
			return true;
	return false;
}

/* The end of an element of the batch. */
static UPG_JSON_CB
upg_text_element_end(void *state, bool isnull)
{
	UpgTextState *st = (UpgTextState *) state;

	if (st->root == UPG_JSON_ARRAY && st->depth == UPG_DEPTH_BATCH && st->cur != NULL)
	{
		if (upg_text_chunk_fails(st->cur))
			st->keeping = false;
		st->cur = NULL;
	}
	UPG_JSON_CB_DONE;
}

/* Free what field f holds. */
static void
upg_text_field_free(UpgTextField *f)
{
	if (f->type == UPG_JSON_STRING && f->ptr != NULL)
		pfree(f->ptr);
	else if (f->type == UPG_JSON_NUMBER && f->number != NULL)
		pfree(f->number);
}

/* The field of element c for key index k, emptied for a new value. */
static UpgTextField *
upg_text_field(UpgTextChunk *c, int k)
{
	UpgTextField *f;

	if (c->slot[k] < 0)
	{
		if (c->nfields == c->cap)
		{
			c->cap = Max(c->cap * 2, 4);
			c->fields = c->fields ? repalloc(c->fields, sizeof(UpgTextField) * c->cap) :
				palloc(sizeof(UpgTextField) * c->cap);
		}
		c->slot[k] = c->nfields++;
	}
	else
		upg_text_field_free(&c->fields[c->slot[k]]);	/* a key given again */
	f = &c->fields[c->slot[k]];
	memset(f, 0, sizeof(UpgTextField));
	f->key = k;
	return f;
}

/* A key of an element: remember where its value starts. */
static UPG_JSON_CB
upg_text_field_start(void *state, char *fname, bool isnull)
{
	UpgTextState *st = (UpgTextState *) state;
	UpgTextChunk *c = st->cur;
	int			k;
	int			len;

	CHECK_FOR_INTERRUPTS();		/* see upg_text_element_start */
	if (st->root != UPG_JSON_ARRAY || st->depth != UPG_DEPTH_ELEMENT || c == NULL)
		UPG_JSON_CB_DONE;
	len = strlen(fname);
	k = upg_input_key_index(fname, len);
	if (k < 0)
	{
		if (c->unknown == NULL ||
			upg_key_cmp(fname, len, c->unknown, strlen(c->unknown)) < 0)
		{
			if (c->unknown != NULL)
				pfree(c->unknown);
			c->unknown = pstrdup(fname);
		}
		UPG_JSON_CB_DONE;
	}
	st->field = upg_text_field(c, k);
	st->field->type = upg_token_json_type(st->lex->token_type);
	if (st->field->type == UPG_JSON_ARRAY || st->field->type == UPG_JSON_OBJECT)
		st->field->ptr = st->lex->token_start;	/* its text, to its end */
	if (k == upg_embedding_key && st->field->type == UPG_JSON_ARRAY)
	{
		if (c->embedding == NULL)
			c->embedding = palloc0(sizeof(UpgEmbeddingBuf));
		upg_embedding_buf_reset(c->embedding);
		st->in_embedding = true;
	}
	UPG_JSON_CB_DONE;
}

/* The end of a key's value: a nested value's text ends here. */
static UPG_JSON_CB
upg_text_field_end(void *state, char *fname, bool isnull)
{
	UpgTextState *st = (UpgTextState *) state;

	if (st->depth == UPG_DEPTH_ELEMENT && st->field != NULL)
	{
		if (st->field->type == UPG_JSON_ARRAY || st->field->type == UPG_JSON_OBJECT)
			st->field->len = st->lex->prev_token_terminator - st->field->ptr;
		st->field = NULL;
		st->in_embedding = false;
	}
	if (fname != NULL)
		pfree(fname);
	UPG_JSON_CB_DONE;
}

/* A scalar: an element's value, an embedding's number, or checked and dropped. */
static UPG_JSON_CB
upg_text_scalar(void *state, char *token, JsonTokenType type)
{
	UpgTextState *st = (UpgTextState *) state;
	UpgTextField *f;

	if (!st->root_seen)
	{
		st->root_seen = true;
		st->root = upg_token_json_type(type);
	}
	if (type == JSON_TOKEN_NUMBER && st->in_embedding && st->depth == UPG_DEPTH_VALUE)
	{
		upg_embedding_buf_number(st->cur->embedding, token);
		pfree(token);
		UPG_JSON_CB_DONE;
	}
	if (st->field == NULL || st->depth != UPG_DEPTH_ELEMENT)
	{
		if (type == JSON_TOKEN_NUMBER)
			upg_json_number_check(token);
		pfree(token);
		UPG_JSON_CB_DONE;
	}

	/* the value of an element's key, as jsonb_in would make it */
	f = st->field;
	switch (type)
	{
		case JSON_TOKEN_STRING:
			f->ptr = token;
			f->len = strlen(token);
			UPG_JSON_CB_DONE;
		case JSON_TOKEN_NUMBER:
			f->number = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(token),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)));
			break;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			f->boolean = (type == JSON_TOKEN_TRUE);
			break;
		default:
			break;
	}
	pfree(token);
	UPG_JSON_CB_DONE;
}

/* Field f of element c as the value upg_input_pair takes. */
static void
upg_text_field_value(const UpgTextChunk *c, const UpgTextField *f, UpgInputValue *v)
{
	memset(v, 0, sizeof(UpgInputValue));
	v->type = (UpgJsonType) f->type;
	switch (v->type)
	{
		case UPG_JSON_STRING:
			v->scalar.type = jbvString;
			v->scalar.val.string.val = f->ptr;
			v->scalar.val.string.len = f->len;
			break;
		case UPG_JSON_NUMBER:
			v->scalar.type = jbvNumeric;
			v->scalar.val.numeric = f->number;
			break;
		case UPG_JSON_BOOL:
			v->scalar.type = jbvBool;
			v->scalar.val.boolean = f->boolean;
			break;
		case UPG_JSON_NULL:
			v->scalar.type = jbvNull;
			break;
		case UPG_JSON_ARRAY:
		case UPG_JSON_OBJECT:
			v->json = f->ptr;
			v->jsonlen = f->len;
			if (f->key == upg_embedding_key && v->type == UPG_JSON_ARRAY)
				v->embedding = c->embedding;
			break;
	}
}

/* Free element c, read: what upg_input_pair made of it are copies. */
static void
upg_text_chunk_free(UpgTextChunk *c)
{
	for (int i = 0; i < c->nfields; i++)
		upg_text_field_free(&c->fields[i]);
	if (c->fields != NULL)
		pfree(c->fields);
	if (c->embedding != NULL)
	{
		if (c->embedding->values != NULL)
			pfree(c->embedding->values);
		pfree(c->embedding);
	}
	if (c->unknown != NULL)
		pfree(c->unknown);
	pfree(c);
}

/* qsort comparator: fields in jsonb's key order */
static int
upg_text_field_cmp(const void *a, const void *b)
{
	const char *x = upg_input_key_name(((const UpgTextField *) a)->key);
	const char *y = upg_input_key_name(((const UpgTextField *) b)->key);

	return upg_key_cmp(x, strlen(x), y, strlen(y));
}

/* Element number ord, read, through the rules of upsert_input.h. */
static UpgParsedChunk *
upg_text_chunk_parse(UpgTextChunk *c, int ord)
{
	UpgChunkBuilder b;
	int			unknown_len = c->unknown ? strlen(c->unknown) : 0;

	if (c->type != UPG_JSON_OBJECT)
		upg_chunk_not_object_error(ord, c->type);
	if (c->nfields > 1)
		qsort(c->fields, c->nfields, sizeof(UpgTextField), upg_text_field_cmp);

	upg_input_begin(&b, ord);
	for (int i = 0; i <= c->nfields; i++)
	{
		const char *name = (i < c->nfields) ? upg_input_key_name(c->fields[i].key) : NULL;

		/* the unknown key's turn comes in jsonb's order too */
		if (c->unknown != NULL &&
			(name == NULL || upg_key_cmp(c->unknown, unknown_len, name, strlen(name)) < 0))
			upg_input_pair(&b, c->unknown, unknown_len, NULL);
		if (name != NULL)
		{
			UpgInputValue v;

			upg_text_field_value(c, &c->fields[i], &v);
			upg_input_pair(&b, name, strlen(name), &v);
		}
	}
	return upg_input_end(&b);
}

/* Parse text (len bytes) with the callbacks above; raises on bad JSON. */
static void
upg_text_read(UpgTextState *st, char *text, int len)
{
	JsonSemAction sem = {0};

	memset(st, 0, sizeof(UpgTextState));
	st->keeping = true;
	st->cap = 64;
	st->chunks = palloc(sizeof(UpgTextChunk *) * st->cap);
	st->lex = upg_json_lex_context(text, len, GetDatabaseEncoding());

	sem.semstate = st;
	sem.object_start = upg_text_object_start;
	sem.object_end = upg_text_close;
	sem.array_start = upg_text_array_start;
	sem.array_end = upg_text_close;
	sem.object_field_start = upg_text_field_start;
	sem.object_field_end = upg_text_field_end;
	sem.array_element_start = upg_text_element_start;
	sem.array_element_end = upg_text_element_end;
	sem.scalar = upg_text_scalar;
	pg_parse_json_or_ereport(st->lex, &sem);
}

/* The key index the callbacks test, looked up once. */
static void
upg_text_init_keys(void)
{
	if (upg_embedding_key < 0)
		upg_embedding_key = upg_input_key_index("embedding", strlen("embedding"));
}

/* SQL: unified.upsert_chunks_parse(chunks text) RETURNS unified.chunk_input[] */
Datum
upg_upsert_chunks_parse_text(PG_FUNCTION_ARGS)
{
	text	   *t;
	UpgTextState st;
	UpgParsedChunk **parsed;

	if (PG_ARGISNULL(0))
		upg_chunks_null_error();
	t = PG_GETARG_TEXT_PP(0);
	if (VARSIZE_ANY_EXHDR(t) > UPG_TEXT_MAX_BYTES)
		return upg_upsert_chunks_from_jsonb(fcinfo,
											DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																			   CStringGetDatum(text_to_cstring(t)))));

	upg_text_init_keys();
	upg_text_read(&st, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	if (st.root != UPG_JSON_ARRAY)
		upg_chunks_not_array_error(st.root == UPG_JSON_OBJECT);

	parsed = palloc(sizeof(UpgParsedChunk *) * Max(st.nchunks, 1));
	for (int i = 0; i < st.nchunks; i++)
	{
		parsed[i] = upg_text_chunk_parse(st.chunks[i], i + 1);
		upg_text_chunk_free(st.chunks[i]);
	}
	if (!st.keeping)
		elog(ERROR, "upsert_chunks_parse: an element certain to fail passed");
	return upg_parsed_result(fcinfo, parsed, st.nchunks);
}
