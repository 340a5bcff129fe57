/*-------------------------------------------------------------------------
 *
 * vector.c
 *		Embeddings as real[]: the cosine kernel and JSON input.
 *
 * unified.chunks stores embeddings as real[] so that nothing requires
 * pgvector.  unified.cosine_distance(real[], real[]) is the kernel of the
 * exact search (unified.search_chunks when no HNSW index serves a query).
 * It detoasts each argument once, checks shape and NULLs once, and then
 * runs one loop over two plain float arrays with three float accumulators:
 * no function call, no detoast and no branch inside the loop, so the
 * compiler turns it into SIMD code.  The Makefile compiles this file with
 * -ftree-vectorize -fassociative-math -fno-signed-zeros -fno-trapping-math
 * (the flags pgvector uses for its own kernels; associative math is what
 * allows a vectorized sum, whose rounding differs from the sequential
 * one in the last bits).  `make vector-check` shows GCC's report that the
 * loop was vectorized.  Sums are kept in float like pgvector's, so that the
 * exact path and pgvector's HNSW path rank the same rows the same way.
 * Before the loop the kernel asks for every cache line of both vectors:
 * a scan is bound by reading each stored embedding from memory, and the
 * prefetches put all of a row's misses in flight at once.
 *
 * The "embedding" of an upsert_chunks() element becomes real[] here: a JSON
 * array of numbers, or a string in pgvector's or real[]'s text form (the
 * cheap way: the jsonb parser turns every JSON number into a numeric
 * first).  Anything else, and any value that is not a finite number within
 * the range of real, is refused with an error naming the chunk and the
 * element.  JSON numbers reach this file as numerics (the jsonb parser
 * makes them), converted by src/numeric_real.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "unified_pg.h"

/* most dimensions an embedding may have (the chunks_embedding_check constraint) */
#define UPG_MAX_DIMENSIONS	16000

PG_FUNCTION_INFO_V1(upg_cosine_distance);
PG_FUNCTION_INFO_V1(upg_embedding_from_jsonb);
PG_FUNCTION_INFO_V1(upg_search_check);

/*
 * Check that a is a one-dimensional real[] without NULLs; return its values
 * (argno names the SQL argument in the errors).  Also embedding_sketch's.
 */
const float *
upg_vector_values(ArrayType *a, int argno, int *dims)
{
	if (ARR_ELEMTYPE(a) != FLOAT4OID)
		elog(ERROR, "embedding argument %d is not real[]", argno);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("embedding must be a one-dimensional array"),
				 errdetail("Argument %d has %d dimensions.", argno, ARR_NDIM(a))));
	if (ARR_HASNULL(a) && array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("embedding must not contain NULL values"),
				 errdetail("Argument %d contains a NULL.", argno)));
	*dims = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	return (const float *) ARR_DATA_PTR(a);
}

/*
 * The kernel: dot product and both squared norms in one pass.  Kept apart
 * (and static inline) so that its loop is the one the compiler vectorizes;
 * restrict tells it the arrays do not overlap the accumulators.
 */
static inline void
upg_cosine_sums(const float *restrict x, const float *restrict y, int n,
				float *dot, float *xx, float *yy)
{
	float		d = 0.0f;
	float		nx = 0.0f;
	float		ny = 0.0f;

	for (int i = 0; i < n; i++)
	{
		d += x[i] * y[i];
		nx += x[i] * x[i];
		ny += y[i] * y[i];
	}
	*dot = d;
	*xx = nx;
	*yy = ny;
}

/*
 * Ask the CPU for every cache line of x[0 .. n-1] before the kernel reads
 * them.  A scan hands the kernel one stored embedding after another, each
 * 3 kB (768 dimensions) fetched from memory; the hardware prefetcher only
 * finds each row's stream after its first misses, while these requests
 * are all in flight at once.  Measured: 15-20 % less time for a scan of
 * 50,000 rows (BENCHMARKS.md).  A prefetch never faults and changes
 * nothing but timing.
 */
static inline void
upg_vector_prefetch(const float *x, int n)
{
#if defined(__GNUC__) || defined(__clang__)
	for (int i = 0; i < n; i += 64 / sizeof(float))
		__builtin_prefetch(&x[i]);
#endif
}

/*
 * The argument argno (0-based) as an array, detoasted once per query when
 * it is a constant or a query parameter (the search's query vector): the
 * copy is kept in fn_extra for as long as the expression lives, so a scan
 * does not detoast the same 3 kB vector again for every row.
 */
typedef struct UpgVectorCache
{
	Datum		src;			/* the argument as passed */
	ArrayType  *detoasted;		/* its detoasted copy, in fn_mcxt */
} UpgVectorCache;

static ArrayType *
upg_vector_arg(FunctionCallInfo fcinfo, int argno)
{
	Datum		d = PG_GETARG_DATUM(argno);
	UpgVectorCache *cache;
	MemoryContext old;

	if (!VARATT_IS_EXTENDED(DatumGetPointer(d)) ||
		!get_fn_expr_arg_stable(fcinfo->flinfo, argno))
		return DatumGetArrayTypeP(d);

	cache = (UpgVectorCache *) fcinfo->flinfo->fn_extra;
	if (cache != NULL && cache->src == d)
		return cache->detoasted;

	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (cache == NULL)
		cache = palloc0(sizeof(UpgVectorCache));
	else if (cache->detoasted != NULL)
		pfree(cache->detoasted);
	cache->src = d;
	cache->detoasted = DatumGetArrayTypePCopy(d);
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = cache;
	return cache->detoasted;
}

/*
 * SQL: unified.cosine_distance(real[], real[]) -- 1 - cos(x, y), in [0, 2].
 * NaN when either vector has norm zero (the angle is undefined), as in
 * pgvector.
 */
Datum
upg_cosine_distance(PG_FUNCTION_ARGS)
{
	ArrayType  *a = upg_vector_arg(fcinfo, 0);
	ArrayType  *b = upg_vector_arg(fcinfo, 1);
	int			na;
	int			nb;
	const float *x = upg_vector_values(a, 1, &na);
	const float *y = upg_vector_values(b, 2, &nb);
	float		dot;
	float		xx;
	float		yy;
	double		sim;

	if (na != nb)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", na, nb),
				 errhint("Compare embeddings made by the same model.")));

	upg_vector_prefetch(x, na);
	upg_vector_prefetch(y, nb);
	upg_cosine_sums(x, y, na, &dot, &xx, &yy);
	if (xx == 0.0f || yy == 0.0f)
		PG_RETURN_FLOAT8(get_float8_nan());

	sim = (double) dot / sqrt((double) xx * (double) yy);
	/* rounding can take |sim| a hair past 1 */
	if (sim > 1.0)
		sim = 1.0;
	else if (sim < -1.0)
		sim = -1.0;
	PG_RETURN_FLOAT8(1.0 - sim);
}

/* Raise the error for element elem (1-based) of chunk chunk_no's embedding. */
static void
upg_embedding_bad_element(int chunk_no, int elem, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid embedding in chunk %d", chunk_no),
			 errdetail("Element %d of \"embedding\" is %s.", elem, what),
			 errhint("An embedding is a flat JSON array of finite numbers, or a string \"[1,2,3]\", at most %d of them.",
					 UPG_MAX_DIMENSIONS)));
}

/* What an element is when its conversion gave r; NULL when it is fine. */
static const char *
upg_embedding_problem(UpgNumericRealResult r)
{
	switch (r)
	{
		case UPG_NUMERIC_REAL_OK:
			break;
		case UPG_NUMERIC_REAL_NOT_FINITE:
			return "not a finite number";
		case UPG_NUMERIC_REAL_OUT_OF_RANGE:
			return "out of range for type real";
	}
	return NULL;
}

/* Convert one JSON number to float4, refusing what real cannot hold. */
static float
upg_embedding_number(Numeric num, int chunk_no, int elem)
{
	float		f = 0.0f;
	const char *problem = upg_embedding_problem(upg_numeric_to_real(num, &f));

	if (problem != NULL)
		upg_embedding_bad_element(chunk_no, elem, problem);
	return f;
}

/* Refuse an embedding of n elements when that is too many. */
static void
upg_embedding_check_length(int n, int chunk_no)
{
	if (n > UPG_MAX_DIMENSIONS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("embedding of chunk %d has %d dimensions, more than %d",
						chunk_no, n, UPG_MAX_DIMENSIONS)));
}

/* A one-dimensional real[] holding values[0 .. n-1], built in one piece. */
static ArrayType *
upg_float4_array(const float *values, int n)
{
	ArrayType  *r;
	Size		nbytes;

	if (n == 0)
		return construct_empty_array(FLOAT4OID);
	nbytes = ARR_OVERHEAD_NONULLS(1) + sizeof(float) * n;
	r = (ArrayType *) palloc0(nbytes);
	SET_VARSIZE(r, nbytes);
	r->ndim = 1;
	r->dataoffset = 0;
	r->elemtype = FLOAT4OID;
	ARR_DIMS(r)[0] = n;
	ARR_LBOUND(r)[0] = 1;
	memcpy(ARR_DATA_PTR(r), values, sizeof(float) * n);
	return r;
}

/*
 * The JSON array "root" as an embedding (real[]); chunk_no names the chunk
 * in errors.
 */
ArrayType *
upg_embedding_from_container(JsonbContainer *root, int chunk_no)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	float	   *values;
	int			n;
	int			count = 0;

	if (!JsonContainerIsArray(root) || JsonContainerIsScalar(root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid embedding in chunk %d", chunk_no),
				 errdetail("\"embedding\" is a JSON %s, not an array.",
						   JsonContainerIsObject(root) ? "object" : "scalar")));

	n = JsonContainerSize(root);
	upg_embedding_check_length(n, chunk_no);

	values = palloc(sizeof(float) * Max(n, 1));
	it = JsonbIteratorInit(root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;			/* the array's own begin and end */
		count++;
		switch (v.type)
		{
			case jbvNumeric:
				values[count - 1] = upg_embedding_number(v.val.numeric, chunk_no, count);
				break;
			case jbvNull:
				upg_embedding_bad_element(chunk_no, count, "null");
				break;
			case jbvString:
				upg_embedding_bad_element(chunk_no, count, "a string");
				break;
			case jbvBool:
				upg_embedding_bad_element(chunk_no, count, "a boolean");
				break;
			default:
				/* skipNested: a nested array or object comes back as binary */
				upg_embedding_bad_element(chunk_no, count, "an array or object");
				break;
		}
	}
	return upg_float4_array(values, count);
}

/*
 * An embedding read from JSON text (the text entry point of upsert_chunks,
 * src/upsert_text.c), element by element as the parser meets them.  The
 * first problem is kept, not raised, until the chunk is checked: then
 * upg_embedding_from_buf raises exactly what upg_embedding_from_container
 * raises for the same array (too many elements first, then the first bad
 * element), in the order the jsonb path checks a chunk's keys.
 */
void
upg_embedding_buf_reset(UpgEmbeddingBuf *b)
{
	/* the values are allocated by the first number, not here: "[]" costs nothing */
	b->count = 0;
	b->bad_elem = 0;
	b->bad_what = NULL;
}

/* The next element is a JSON number, token its text. */
void
upg_embedding_buf_number(UpgEmbeddingBuf *b, const char *token)
{
	float		f = 0.0f;
	const char *problem;

	b->count++;
	if (b->bad_elem != 0 || b->count > UPG_MAX_DIMENSIONS)
	{
		/* not stored; still refused where the jsonb parser refuses it */
		upg_json_number_check(token);
		return;
	}
	problem = upg_embedding_problem(upg_json_number_to_real(token, &f));
	if (problem != NULL)
	{
		b->bad_elem = b->count;
		b->bad_what = problem;
		return;
	}
	if (b->values == NULL)
	{
		b->cap = 256;
		b->values = palloc(sizeof(float) * b->cap);
	}
	else if (b->count > b->cap)
	{
		b->cap = Min(b->cap * 2, UPG_MAX_DIMENSIONS);
		b->values = repalloc(b->values, sizeof(float) * b->cap);
	}
	b->values[b->count - 1] = f;
}

/* The next element is not a number: what names its JSON type. */
void
upg_embedding_buf_other(UpgEmbeddingBuf *b, const char *what)
{
	b->count++;
	if (b->bad_elem == 0)
	{
		b->bad_elem = b->count;
		b->bad_what = what;
	}
}

/* The embedding read into b, or the error the jsonb path raises for it. */
ArrayType *
upg_embedding_from_buf(const UpgEmbeddingBuf *b, int chunk_no)
{
	upg_embedding_check_length(b->count, chunk_no);
	if (b->bad_elem != 0)
		upg_embedding_bad_element(chunk_no, b->bad_elem, b->bad_what);
	return upg_float4_array(b->values, b->count);
}

/*
 * The text form of an embedding, "[1,2.5,-3]" (pgvector's, which is what
 * Claude-Context's backend sends) or "{1,2.5,-3}" (real[]'s), parsed with
 * strtof: much cheaper than JSON numbers, each of which the jsonb parser
 * first turns into a numeric.
 */
ArrayType *
upg_embedding_from_text(const char *str, int len, int chunk_no)
{
	char	   *buf = pnstrdup(str, len);
	char	   *p = buf;
	char	   *end;
	char		close;
	float	   *values;
	int			cap = 64;
	int			count = 0;

	while (*p == ' ')
		p++;
	if (*p != '[' && *p != '{')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid embedding in chunk %d", chunk_no),
				 errdetail("A string \"embedding\" must look like \"[1,2,3]\" or \"{1,2,3}\".")));
	close = (*p == '[') ? ']' : '}';
	p++;
	values = palloc(sizeof(float) * cap);
	for (;;)
	{
		float		f;

		while (*p == ' ')
			p++;
		if (*p == close && count == 0)
			break;
		errno = 0;
		f = strtof(p, &end);
		if (end == p)
			upg_embedding_bad_element(chunk_no, count + 1, "not a number");
		if (errno == ERANGE && (isinf(f) || fabsf(f) >= FLT_MAX))
			upg_embedding_bad_element(chunk_no, count + 1, "out of range for type real");
		if (isnan(f) || isinf(f))
			upg_embedding_bad_element(chunk_no, count + 1, "not a finite number");
		if (++count > UPG_MAX_DIMENSIONS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("embedding of chunk %d has more than %d dimensions",
							chunk_no, UPG_MAX_DIMENSIONS)));
		if (count > cap)
		{
			cap *= 2;
			values = repalloc(values, sizeof(float) * cap);
		}
		values[count - 1] = f;
		p = end;
		while (*p == ' ')
			p++;
		if (*p == ',')
		{
			p++;
			continue;
		}
		if (*p == close)
			break;
		upg_embedding_bad_element(chunk_no, count, "followed by neither a comma nor the closing bracket");
	}
	p++;
	while (*p == ' ')
		p++;
	if (*p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid embedding in chunk %d", chunk_no),
				 errdetail("Text follows the closing bracket of \"embedding\".")));
	pfree(buf);
	return upg_float4_array(values, count);
}

/*
 * SQL: unified.embedding_from_jsonb(embedding jsonb, chunk_no int) -- an
 * embedding given as a JSON array of numbers or as a string in text form,
 * as real[].  JSON null gives SQL NULL.
 */
Datum
upg_embedding_from_jsonb(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	int			chunk_no = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	JsonbValue	s;

	if (JB_ROOT_IS_SCALAR(jb) && JsonbExtractScalar(&jb->root, &s))
	{
		if (s.type == jbvNull)
			PG_RETURN_NULL();
		if (s.type == jbvString)
			PG_RETURN_ARRAYTYPE_P(upg_embedding_from_text(s.val.string.val, s.val.string.len, chunk_no));
	}
	PG_RETURN_ARRAYTYPE_P(upg_embedding_from_container(&jb->root, chunk_no));
}

/*
 * SQL: unified.search_check(query real[], k int, filter jsonb) -- check a
 * search's query vector, k and filter, in this order, and return the
 * query's dimensions.  Every search calls it first; in C it reads the
 * query once (the SQL version it replaced walked it five times).
 */
Datum
upg_search_check(PG_FUNCTION_ARGS)
{
	ArrayType  *q;
	const float *x;
	int			dims;
	bool		nonzero = false;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query must not be NULL")));
	q = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_ELEMTYPE(q) != FLOAT4OID)
		elog(ERROR, "search_check: query is not real[]");
	if (ARR_NDIM(q) != 1 || (ARR_HASNULL(q) && array_contains_nulls(q)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query must be a one-dimensional array of numbers without NULLs")));
	dims = ArrayGetNItems(ARR_NDIM(q), ARR_DIMS(q));
	if (dims > UPG_MAX_DIMENSIONS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("query has %d dimensions, more than %d", dims, UPG_MAX_DIMENSIONS)));
	x = (const float *) ARR_DATA_PTR(q);
	for (int i = 0; i < dims; i++)
		if (isnan(x[i]) || isinf(x[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("query must contain finite numbers only")));
	for (int i = 0; i < dims && !nonzero; i++)
		nonzero = x[i] != 0.0f;
	if (!nonzero)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query has norm zero: its cosine distance to anything is undefined")));
	if (PG_ARGISNULL(1) || PG_GETARG_INT32(1) < 1 || PG_GETARG_INT32(1) > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and 10000"),
				 errdetail("The value given is %s.",
						   PG_ARGISNULL(1) ? "NULL" : psprintf("%d", PG_GETARG_INT32(1)))));
	if (!PG_ARGISNULL(2))
	{
		char	   *type = text_to_cstring(DatumGetTextPP(DirectFunctionCall1(jsonb_typeof,
																			  PG_GETARG_DATUM(2))));

		if (strcmp(type, "object") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("filter must be a JSON object"),
					 errdetail("The value given is a JSON %s.", type)));
	}
	PG_RETURN_INT32(dims);
}
