/*-------------------------------------------------------------------------
 *
 * sketch.c
 *		Exact search inside a project through an 8-bit copy of every
 *		embedding kept in an index.
 *
 * Why.  The exact search of a project's chunks is bound by reading them:
 * a 768-dimension embedding is 3 kB, stored in the row (STORAGE MAIN), two
 * rows to a page, and visiting a 50,000-chunk project's 25,000 pages costs
 * more than the search is allowed in all (BENCHMARKS.md).  So the exact
 * path reads a compact copy first and the full rows of a few candidates
 * only.
 *
 * The sketch.  unified.embedding_sketch(real[]) (a key column of the index
 * chunks_project_sketch_idx, on (project_id, id, sketch) INCLUDE
 * (created_at), for embeddings of up to UPG_SKETCH_MAX_DIMS dimensions) is
 * the embedding x scaled to unit length, quantized to one signed byte per
 * dimension with one scale sigma:
 *
 *     x / |x| = sigma * c + r,    c[i] in [-127, 127]
 *
 * with the residual's norm |r| folded, with every rounding error, into one
 * number, the slack.  For a query q the cosine similarity is then bounded:
 *
 *     cos(x, q) <= sigma * (c . q) / |q| + slack
 *
 * (Cauchy-Schwarz on r . q), so 1 - sigma * (c . q) / |q| - slack is a lower
 * bound of the distance unified.cosine_distance computes for that row.  The
 * slack covers, besides |r|, the float rounding of the three sums of
 * cosine_distance's kernel (at most n * 2^-24 each, relative, in any
 * summation order), with a factor of more than two to spare.  The query is
 * quantized too, to 16 bits, q = t * p + e, so that c . p is an exact
 * integer sum (multiply-adds of 16-bit lanes); |c . e| <= |c| |e| widens
 * the bound by (1 + slack) |e| / |q|, a few millionths.  Embeddings whose
 * squares could underflow or overflow a float are marked unbounded: they
 * are always candidates.  The index entry is about a quarter of the
 * embedding (780 bytes for 768 dimensions), and the index's leaf pages
 * hold a project's entries next to each other.  pgTAP 074 builds the
 * bound's worst case (residuals along the query) and fails when the slack
 * is halved.
 *
 * The search (unified.search_chunks_sketch, search_chunks_exact's body; for
 * a search outside a project it runs the plain query): every index entry of the project whose sketch has the
 * query's dimensions gets its bounds; the max(4096, 8k) lowest lower bounds
 * are kept (a max-heap while the index is read; the lowest bound left out
 * is remembered), so that memory depends on k, not on the project.  The
 * candidates are then ranked exactly, lowest bound first, in batches (the
 * first: every candidate whose lower bound is below the k-th lowest upper
 * bound), by a query on unified.chunks itself, as the caller, under
 * row-level security and with every filter of the search
 * (unified.search_where), which returns the rows' columns and the distance
 * unified.cosine_distance computes.  The search stops when it holds k rows
 * and the k-th distance is below the lowest bound not yet ranked: no other
 * row can come before it.  The result is the plain path's, row for row and
 * in the same order (distance, then id).
 *
 * Visibility.  The index is read without looking at the table: its entries
 * include dead and uncommitted row versions, which only add candidates (the
 * ranking query sees what the snapshot sees).  Every row version the
 * snapshot sees has its entry (VACUUM keeps what any snapshot needs, and a
 * HOT update does not change the embedding, the key of the index; an index
 * whose indcheckxmin says otherwise is not read).  A row reached through
 * two entries (an old and a new version) is ranked once.  When the
 * project has entries in the default partition, candidates are looked up
 * with partition pruning off: a row maintenance moved to its month after
 * the snapshot is, for the snapshot, still in the default partition, while
 * its key now routes to the month (and its new entry there may come
 * first).  The partitions are listed again once locked, until none is new,
 * and the ranking queries are planned after: both see the same partitions
 * (an ATTACH PARTITION locks the default partition, which the search then
 * holds).  Nothing of an entry reaches the caller, nor any message about
 * them: only rows the ranking query returns.
 *
 * When the batches stop paying (more than a twentieth of the project's
 * entries to rank, a batch of which fewer than half the rows come back:
 * a filter on metadata the index cannot see, rows row-level security
 * hides), the search runs the plain exact query instead, which is as
 * correct and costs what it always did; so it does without the index (or
 * with one whose definition is not the install script's), with a query
 * vector whose norm is out of the safe range, for a project_id and
 * dimensions the index's predicate leaves out, and with
 * unified_pg.sketch_search off.
 *
 * Locks: the partitions of unified.chunks and their parts of the index,
 * AccessShareLock, as a scan of the table takes them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/transam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_am.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "unified_pg.h"

/* most dimensions a sketch holds: its index entry must fit a btree page's third */
#define UPG_SKETCH_MAX_DIMS		2000
#define UPG_SKETCH_VERSION		1
#define UPG_SKETCH_UNBOUNDED	0x01	/* flag: no bound, always a candidate */
#define UPG_SKETCH_HEADER		12

/* a float's unit roundoff */
#define UPG_FLOAT_U				(1.0 / 16777216.0)

/* the index, and its columns */
#define UPG_SKETCH_INDEX		"chunks_project_sketch_idx"

PG_FUNCTION_INFO_V1(upg_embedding_sketch);
PG_FUNCTION_INFO_V1(upg_search_chunks_sketch);

/* The fixed part of a sketch (then dims signed bytes). */
typedef struct UpgSketchHeader
{
	uint8		version;
	uint8		flags;
	uint16		dims;
	float		sigma;
	float		slack;
} UpgSketchHeader;

StaticAssertDecl(sizeof(UpgSketchHeader) == UPG_SKETCH_HEADER, "sketch header size");

/* Fill the sketch of x[0 .. n-1] at out (header + n codes). */
static void
upg_sketch_make(const float *x, int n, char *out)
{
	UpgSketchHeader h = {UPG_SKETCH_VERSION, 0, (uint16) n, 0.0f, 0.0f};
	int8	   *codes = (int8 *) (out + UPG_SKETCH_HEADER);
	double		sq = 0.0;
	double		maxabs = 0.0;
	double		rr = 0.0;
	double		norm;
	double		slack;
	float		sigma;

	memset(codes, 0, n);
	for (int i = 0; i < n; i++)
	{
		double		v = x[i];

		if (isnan(v) || fabs(v) > 1e15)
			maxabs = INFINITY;
		else if (fabs(v) > maxabs)
			maxabs = fabs(v);
		sq += v * v;
	}
	/* the kernel's float squares and sums must neither underflow nor overflow */
	if (n == 0 || !(sq >= 1e-30 && sq <= 1e30) || !isfinite(maxabs))
	{
		h.flags = UPG_SKETCH_UNBOUNDED;
		memcpy(out, &h, sizeof(h));
		return;
	}
	norm = sqrt(sq);
	sigma = (float) (maxabs / norm / 127.0);
	for (int i = 0; i < n; i++)
	{
		double		u = x[i] / norm;
		double		c = rint(u / sigma);

		if (c > 127.0)
			c = 127.0;
		else if (c < -127.0)
			c = -127.0;
		codes[i] = (int8) c;
		rr += (u - (double) sigma * c) * (u - (double) sigma * c);
	}
	/* |r|, and the rounding of both sums and of cosine_distance, with room */
	slack = sqrt(rr);
	slack += (5.0 * n + 8.0) * UPG_FLOAT_U * (1.0 + slack) + 1e-6;
	h.sigma = sigma;
	h.slack = (float) slack;
	if ((double) h.slack < slack)
		h.slack = nextafterf(h.slack, INFINITY);
	memcpy(out, &h, sizeof(h));
}

/*
 * SQL: unified.embedding_sketch(real[]) -- the 8-bit copy of an embedding
 * that chunks_project_sketch_idx stores (see the banner).
 */
Datum
upg_embedding_sketch(PG_FUNCTION_ARGS)
{
	int			n;
	const float *x = upg_vector_values(PG_GETARG_ARRAYTYPE_P(0), 1, &n);
	bytea	   *result;

	if (n > UPG_SKETCH_MAX_DIMS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("an embedding sketch holds at most %d dimensions", UPG_SKETCH_MAX_DIMS),
				 errdetail("The embedding has %d.", n)));
	result = palloc(VARHDRSZ + UPG_SKETCH_HEADER + n);
	SET_VARSIZE(result, VARHDRSZ + UPG_SKETCH_HEADER + n);
	upg_sketch_make(x, n, VARDATA(result));
	PG_RETURN_BYTEA_P(result);
}

/*
 * The sum of c[i] * p[i], exact in integers: one loop without calls or
 * branches, which the compiler turns into multiply-adds of 16-bit lanes
 * (the Makefile's vector flags).  The query's scale keeps every partial
 * sum within int32 (upg_sketch_query).  Not inlined: inside the index
 * scan's loop nest GCC no longer vectorizes it.
 */
static pg_noinline int32
upg_sketch_dot(const int8 *restrict c, const int16 *restrict p, int n)
{
	int32		s = 0;

	for (int i = 0; i < n; i++)
		s += (int16) c[i] * p[i];
	return s;
}

/* One index entry's candidate: the bounds and the chunk's key. */
typedef struct UpgSketchEntry
{
	float		lb;				/* lower bound of the distance, rounded down */
	float		ub;				/* upper bound, rounded up */
	int64		id;
	TimestampTz created_at;
} UpgSketchEntry;

/* A ranked row: its distance and id (the order) and the row itself. */
typedef struct UpgRanked
{
	double		d;
	int64		id;
	HeapTuple	tuple;			/* in the caller's context */
} UpgRanked;

/* The state of one search. */
typedef struct UpgSketchSearch
{
	/* the arguments, as the SQL queries take them ($1 .. $7, $8 $9 keys) */
	Datum		args[9];
	char		nulls[9];
	const float *q;
	int			dims;
	double		qnorm;
	/* the query in 16 bits: q = qscale * p + e, |e| / |q| <= qerr */
	int16	   *p;
	double		qscale;
	double		qerr;
	int			lim;
	/*
	 * The candidates: the cap entries of lowest bound seen, a max-heap on
	 * lb while the index is read; out_lb, the lowest bound of the entries
	 * left out.  ubs: the lim lowest upper bounds, a max-heap.
	 */
	UpgSketchEntry *e;
	int			n;
	int			cap;
	double		out_lb;
	UpgSketchEntry *ubs;
	int			nubs;
	int64		seen_entries;	/* every entry of the query's dimensions */
	bool		any_default;	/* one of them was read from the default partition */
	/* rows ranked so far, the best lim of them, sorted */
	UpgRanked  *best;
	int			nbest;
	TupleDesc	rank_desc;		/* of the ranking queries' rows */
	MemoryContext outer;		/* where best rows live */
	HTAB	   *seen;			/* (id, created_at) already ranked */
	SPIPlanPtr	rank_plan;		/* the ranking query, with partition pruning */
	SPIPlanPtr	rank_plan_np;	/* the same, planned and run without */
	char	   *where;
	Oid			sketch_type;	/* unified.sketch */
	Oid			default_part;	/* unified.chunks' default partition */
	List	   *read_indexes;	/* partition indexes read */
} UpgSketchSearch;

typedef struct UpgSketchKey
{
	int64		id;
	TimestampTz created_at;
} UpgSketchKey;

/* the columns the searches return, then the distance (rank and plain queries) */
#define UPG_SKETCH_COLUMNS \
	"c.id, c.source, c.source_collection, c.source_id, c.project_id, c.cognee_dataset_id," \
	" c.content, c.relative_path, c.start_line, c.end_line, c.file_extension, c.metadata," \
	" unified.cosine_distance(c.embedding, $1) AS d"
#define UPG_SKETCH_NCOLS		13

/*
 * The index as the install script makes it (pg_get_indexdef under the
 * function's search_path): an index of that name defined otherwise (a
 * narrower predicate) would not hold every chunk it must, and is not read.
 */
#define UPG_SKETCH_INDEXDEF \
	"CREATE INDEX chunks_project_sketch_idx ON ONLY unified.chunks USING btree" \
	" (project_id, id, embedding_sketch(embedding)) INCLUDE (created_at)" \
	" WHERE ((project_id IS NOT NULL) AND (cardinality(embedding) <= 2000)" \
	" AND ((octet_length(project_id) + cardinality(embedding)) <= 2600))"

/* an entry's budget: project_id's bytes and the dimensions (the index's predicate) */
#define UPG_SKETCH_ENTRY_BUDGET	2600

/*
 * Quantize the query to 16 bits: with c[i] within 127 and p[i] within
 * pmax, no sum of dims products leaves int32.  false if q is not in the
 * range whose float squares are safe (the caller then runs the plain query).
 */
static bool
upg_sketch_query(UpgSketchSearch *s)
{
	double		sq = 0.0;
	double		maxabs = 0.0;
	double		ee = 0.0;
	double		pmax = Min(32767.0, floor((double) PG_INT32_MAX / (127.0 * s->dims)));

	for (int i = 0; i < s->dims; i++)
	{
		sq += (double) s->q[i] * (double) s->q[i];
		maxabs = Max(maxabs, fabs((double) s->q[i]));
	}
	if (!(sq >= 1e-30 && sq <= 1e30) || maxabs > 1e15)
		return false;
	s->qnorm = sqrt(sq);
	s->qscale = maxabs / pmax;
	s->p = palloc(sizeof(int16) * s->dims);
	for (int i = 0; i < s->dims; i++)
	{
		double		v = rint((double) s->q[i] / s->qscale);
		double		e;

		v = Max(-pmax, Min(pmax, v));
		s->p[i] = (int16) v;
		e = (double) s->q[i] - s->qscale * v;
		ee += e * e;
	}
	/* relative, with room for the rounding of these sums */
	s->qerr = sqrt(ee) / s->qnorm * (1.0 + 1e-9) + 1e-12;
	return true;
}

/*
 * The bounds of the distance to q for one stored sketch; false to skip it.
 * cos(x, q) <= sigma * (c . q) / |q| + slack, and
 * c . q = qscale * (c . p) + c . e with |c . e| <= |c| |e| and
 * sigma |c| <= 1 + |r| <= 1 + slack.
 */
static bool
upg_sketch_bounds(UpgSketchSearch *s, bytea *sk, float *lb, float *ub)
{
	UpgSketchHeader h;
	const char *p = VARDATA_ANY(sk);
	int			len = VARSIZE_ANY_EXHDR(sk);
	double		est;
	double		width;
	float		l;
	float		u;

	if (len < UPG_SKETCH_HEADER)
		goto unbounded;
	memcpy(&h, p, sizeof(h));
	if (h.version != UPG_SKETCH_VERSION || len != UPG_SKETCH_HEADER + h.dims)
		goto unbounded;
	/* the plain path ranks only embeddings of the query's dimensions */
	if (h.dims != s->dims)
		return false;
	if ((h.flags & UPG_SKETCH_UNBOUNDED) || !isfinite(h.sigma) || !isfinite(h.slack) ||
		h.sigma <= 0.0f || h.slack < 0.0f)
		goto unbounded;
	est = (double) h.sigma * s->qscale *
		(double) upg_sketch_dot((const int8 *) (p + UPG_SKETCH_HEADER), s->p, s->dims) / s->qnorm;
	width = (double) h.slack + (1.0 + (double) h.slack) * s->qerr + 1e-9;
	/* to float, rounded outwards */
	l = (float) (1.0 - est - width);
	u = (float) (1.0 - est + width);
	if ((double) l > 1.0 - est - width)
		l = nextafterf(l, -INFINITY);
	if ((double) u < 1.0 - est + width)
		u = nextafterf(u, INFINITY);
	*lb = l;
	*ub = u;
	return true;

unbounded:
	*lb = -INFINITY;
	*ub = INFINITY;
	return true;
}

/* Swap two entries. */
static inline void
upg_entry_swap(UpgSketchEntry *a, UpgSketchEntry *b)
{
	UpgSketchEntry t = *a;

	*a = *b;
	*b = t;
}

/* Restore the max-heap on lb below position i of h[0 .. n). */
static void
upg_heap_sift_down(UpgSketchEntry *h, int n, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1;
		int			m = i;

		if (l < n && h[l].lb > h[m].lb)
			m = l;
		if (l + 1 < n && h[l + 1].lb > h[m].lb)
			m = l + 1;
		if (m == i)
			return;
		upg_entry_swap(&h[i], &h[m]);
		i = m;
	}
}

/*
 * Offer x to the max-heap on lb h[0 .. *n), which holds at most cap: x is
 * kept if there is room or if it is below the top, which it then replaces.
 * Returns the entry left out (x, or the old top), or NULL.
 */
static const UpgSketchEntry *
upg_heap_offer(UpgSketchEntry *h, int *n, int cap, const UpgSketchEntry *x, UpgSketchEntry *out)
{
	int			i;

	if (*n < cap)
	{
		i = (*n)++;
		h[i] = *x;
		while (i > 0 && h[(i - 1) / 2].lb < h[i].lb)
		{
			upg_entry_swap(&h[i], &h[(i - 1) / 2]);
			i = (i - 1) / 2;
		}
		return NULL;
	}
	if (!(x->lb < h[0].lb))
		return x;
	*out = h[0];
	h[0] = *x;
	upg_heap_sift_down(h, *n, 0);
	return out;
}

/*
 * Add one index entry: kept among the cap lowest bounds (the lowest bound
 * left out remembered), its upper bound among the lim lowest.
 */
static void
upg_sketch_add(UpgSketchSearch *s, float lb, float ub, int64 id, TimestampTz ca)
{
	UpgSketchEntry x = {lb, ub, id, ca};
	UpgSketchEntry u = {ub, ub, id, ca};
	UpgSketchEntry spare;
	const UpgSketchEntry *out;

	s->seen_entries++;
	(void) upg_heap_offer(s->ubs, &s->nubs, s->lim, &u, &spare);
	out = upg_heap_offer(s->e, &s->n, s->cap, &x, &spare);
	if (out != NULL)
		s->out_lb = Min(s->out_lb, (double) out->lb);
}

/* Check that an index is the sketch index this file reads (four columns, these types). */
static bool
upg_sketch_index_ok(UpgSketchSearch *s, Relation irel)
{
	TupleDesc	td = RelationGetDescr(irel);

	if (irel->rd_rel->relam != BTREE_AM_OID ||
		irel->rd_index->indnatts != 4 ||
		irel->rd_index->indnkeyatts != 3 ||
		TupleDescAttr(td, 0)->atttypid != TEXTOID ||
		TupleDescAttr(td, 1)->atttypid != INT8OID ||
		TupleDescAttr(td, 2)->atttypid != s->sketch_type ||
		TupleDescAttr(td, 3)->atttypid != TIMESTAMPTZOID ||
		!irel->rd_index->indisvalid)
		return false;

	/*
	 * An index built while a transaction that may still be running saw
	 * other row versions (a HOT chain broken by the build) cannot serve a
	 * snapshot older than itself; the planner makes the same check.
	 */
	if (irel->rd_index->indcheckxmin &&
		!TransactionIdPrecedes(HeapTupleHeaderGetXmin(irel->rd_indextuple->t_data),
							   TransactionXmin))
		return false;
	return true;
}

/* Read the project's entries of one partition's sketch index; false if it is not one. */
static bool
upg_sketch_read_index(UpgSketchSearch *s, Oid indexoid, Datum project)
{
	Relation	irel;
	Relation	hrel;
	IndexScanDesc scan;
	ScanKeyData key;
	int64		before = s->seen_entries;
	int			since_check = 0;

	irel = index_open(indexoid, AccessShareLock);
	if (!upg_sketch_index_ok(s, irel))
	{
		index_close(irel, AccessShareLock);
		return false;
	}
	hrel = table_open(irel->rd_index->indrelid, AccessShareLock);
	scan = index_beginscan(hrel, irel, GetActiveSnapshot(), 1, 0);
	scan->xs_want_itup = true;
	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   irel->rd_indcollation[0], F_TEXTEQ, project);
	index_rescan(scan, &key, 1, NULL, 0);
	while (index_getnext_tid(scan, ForwardScanDirection) != NULL)
	{
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];
		bytea	   *sk;
		float		lb;
		float		ub;
		bool		use;

		if (++since_check == 1024)
		{
			CHECK_FOR_INTERRUPTS();
			since_check = 0;
		}
		/* columns: project_id, id, sketch; created_at included */
		index_deform_tuple(scan->xs_itup, scan->xs_itupdesc, values, isnull);
		if (isnull[1] || isnull[2] || isnull[3])
			continue;
		/* (never compressed: unified.sketch is stored PLAIN) */
		sk = DatumGetByteaPP(values[2]);
		use = upg_sketch_bounds(s, sk, &lb, &ub);
		if ((Pointer) sk != DatumGetPointer(values[2]))
			pfree(sk);
		if (use)
			upg_sketch_add(s, lb, ub, DatumGetInt64(values[1]), DatumGetTimestampTz(values[3]));
	}
	if (RelationGetRelid(hrel) == s->default_part && s->seen_entries > before)
		s->any_default = true;
	index_endscan(scan);
	table_close(hrel, AccessShareLock);
	index_close(irel, AccessShareLock);
	return true;
}

/* Whether the parent index is the one the install script made. */
static bool
upg_sketch_index_defined(Oid parent)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(parent)};
	bool		isnull;
	Datum		def;

	if (SPI_execute_with_args("SELECT pg_catalog.pg_get_indexdef($1)", 1, types, args, NULL,
							  true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		return false;
	def = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return !isnull && strcmp(TextDatumGetCString(def), UPG_SKETCH_INDEXDEF) == 0;
}

/*
 * Collect the bounds of every sketch of the project; false when there is no
 * usable sketch index (the caller then runs the plain query).  The list of
 * partitions is read again after they are locked, until it holds no
 * partition not read: a partition attached while this waited for a lock
 * (ATTACH PARTITION locks the default partition, which this then holds) is
 * read too, as the ranking query, planned later, will see it.
 */
static bool
upg_sketch_collect(UpgSketchSearch *s, Oid chunks, Datum project)
{
	Oid			nsp = get_namespace_oid(UPG_SCHEMA_NAME, false);
	Oid			parent = get_relname_relid(UPG_SKETCH_INDEX, nsp);
	bool		more = true;

	if (!OidIsValid(parent) || get_rel_relkind(parent) != RELKIND_PARTITIONED_INDEX ||
		!get_index_isvalid(parent) || IndexGetRelation(parent, false) != chunks ||
		!upg_sketch_index_defined(parent))
		return false;
	s->sketch_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									 CStringGetDatum("sketch"), ObjectIdGetDatum(nsp));
	if (!OidIsValid(s->sketch_type))
		return false;
	s->default_part = get_default_partition_oid(chunks);
	while (more)
	{
		List	   *indexes;
		ListCell   *lc;

		more = false;
		/* the partitions (tables, then their indexes), as a scan of unified.chunks locks them */
		(void) find_all_inheritors(chunks, AccessShareLock, NULL);
		indexes = find_all_inheritors(parent, AccessShareLock, NULL);
		foreach(lc, indexes)
		{
			Oid			idx = lfirst_oid(lc);

			if (get_rel_relkind(idx) != RELKIND_INDEX || list_member_oid(s->read_indexes, idx))
				continue;
			if (!upg_sketch_read_index(s, idx, project))
				return false;
			s->read_indexes = lappend_oid(s->read_indexes, idx);
			more = true;
		}
	}
	return true;
}

/* Partially order e[lo .. hi) so that e[lo .. lo+m) hold the m smallest bounds. */
static void
upg_sketch_select(UpgSketchEntry *e, int lo, int hi, int m)
{
	int			target = lo + m;

	if (m <= 0 || m >= hi - lo)
		return;
	while (hi - lo > 1)
	{
		double		a = e[lo].lb;
		double		b = e[(lo + hi) / 2].lb;
		double		c = e[hi - 1].lb;
		double		pivot = (a < b) ? ((b < c) ? b : (a < c ? c : a)) : ((a < c) ? a : (b < c ? c : b));
		int			i = lo;
		int			j = hi - 1;

		/* Hoare partition around pivot */
		while (i <= j)
		{
			while (e[i].lb < pivot)
				i++;
			while (e[j].lb > pivot)
				j--;
			if (i <= j)
			{
				upg_entry_swap(&e[i], &e[j]);
				i++;
				j--;
			}
		}
		if (target <= j)
			hi = j + 1;
		else if (target >= i)
			lo = i;
		else
			return;
	}
}

/* qsort comparator: ranked rows by distance, then id (the plain path's order). */
static int
upg_ranked_cmp(const void *a, const void *b)
{
	const UpgRanked *x = a;
	const UpgRanked *y = b;

	if (x->d != y->d)
		return x->d < y->d ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

/* The ranking query for candidates ($8, $9: their keys), as the caller. */
static SPIPlanPtr
upg_sketch_rank_plan(UpgSketchSearch *s)
{
	Oid			types[9] = {FLOAT4ARRAYOID, INT4OID, TEXTOID, UUIDOID, TEXTOID,
	JSONBOID, FLOAT4OID, INT8ARRAYOID, TIMESTAMPTZARRAYOID};
	char	   *sql;
	SPIPlanPtr	plan;

	sql = psprintf("SELECT " UPG_SKETCH_COLUMNS
				   " FROM ROWS FROM (pg_catalog.unnest($8), pg_catalog.unnest($9)) AS u(id, created_at)"
				   " JOIN unified.chunks c ON c.id OPERATOR(pg_catalog.=) u.id"
				   "  AND c.created_at OPERATOR(pg_catalog.=) u.created_at"
				   " WHERE %s", s->where);
	plan = SPI_prepare(sql, 9, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	return plan;
}

/* Merge the rows of the last SPI result into the best lim; returns how many came. */
static uint64
upg_sketch_merge(UpgSketchSearch *s)
{
	uint64		got = SPI_processed;
	int			total = s->nbest;
	UpgRanked  *all = palloc(sizeof(UpgRanked) * (s->nbest + got + 1));
	MemoryContext old;

	memcpy(all, s->best, sizeof(UpgRanked) * s->nbest);
	if (s->rank_desc == NULL && got > 0)
	{
		old = MemoryContextSwitchTo(s->outer);
		s->rank_desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
		MemoryContextSwitchTo(old);
	}
	for (uint64 i = 0; i < got; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		n1,
					n2;
		Datum		id = SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &n1);
		Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, UPG_SKETCH_NCOLS, &n2);
		UpgRanked	r;

		if (n1 || n2 || isnan(DatumGetFloat8(d)))
			continue;			/* norm zero: never a result */
		r.d = DatumGetFloat8(d);
		r.id = DatumGetInt64(id);
		/* not better than the lim-th: not kept */
		if (s->nbest == s->lim && upg_ranked_cmp(&r, &s->best[s->lim - 1]) >= 0)
			continue;
		old = MemoryContextSwitchTo(s->outer);
		r.tuple = heap_copytuple(tup);
		MemoryContextSwitchTo(old);
		all[total++] = r;
	}
	qsort(all, total, sizeof(UpgRanked), upg_ranked_cmp);
	for (int i = s->lim; i < total; i++)
		heap_freetuple(all[i].tuple);
	s->nbest = Min(total, s->lim);
	memcpy(s->best, all, sizeof(UpgRanked) * s->nbest);
	pfree(all);
	SPI_freetuptable(SPI_tuptable);
	return got;
}

/* Run the ranking query on these keys; with partition pruning off if no_pruning. */
static uint64
upg_sketch_rank_keys(UpgSketchSearch *s, Datum *ids, Datum *cas, int k, bool no_pruning)
{
	int			nest = 0;
	int			rc;

	if (k == 0)
		return 0;
	s->args[7] = PointerGetDatum(construct_array(ids, k, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	s->args[8] = PointerGetDatum(construct_array(cas, k, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	s->nulls[7] = s->nulls[8] = ' ';

	if (no_pruning)
	{
		/*
		 * Its own plan, only ever planned and run with pruning off: a plan
		 * the cache made generic under one setting must not serve the
		 * other.
		 */
		nest = NewGUCNestLevel();
		(void) set_config_option("enable_partition_pruning", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		if (s->rank_plan_np == NULL)
			s->rank_plan_np = upg_sketch_rank_plan(s);
	}
	rc = SPI_execute_plan(no_pruning ? s->rank_plan_np : s->rank_plan, s->args, s->nulls, true, 0);
	if (no_pruning)
		AtEOXact_GUC(true, nest);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "ranking the candidates failed");
	return upg_sketch_merge(s);
}

/*
 * Rank the entries e[from .. to) not ranked before; returns how many rows
 * came back.  When the project has entries in the default partition, every
 * lookup runs without partition pruning: a row maintenance moved to its
 * month after the snapshot was taken has an entry in both partitions, the
 * visible version in the default one, and its key now routes to the month;
 * looked up everywhere, the key finds the one version the snapshot sees,
 * whichever entry brought it.
 */
static uint64
upg_sketch_rank(UpgSketchSearch *s, int from, int to)
{
	Datum	   *ids = palloc(sizeof(Datum) * Max(to - from, 1));
	Datum	   *cas = palloc(sizeof(Datum) * Max(to - from, 1));
	int			k = 0;
	uint64		got;

	for (int i = from; i < to; i++)
	{
		UpgSketchKey key = {s->e[i].id, s->e[i].created_at};
		bool		found;

		(void) hash_search(s->seen, &key, HASH_ENTER, &found);
		if (found)
			continue;
		ids[k] = Int64GetDatum(key.id);
		cas[k++] = TimestampTzGetDatum(key.created_at);
	}
	got = upg_sketch_rank_keys(s, ids, cas, k, s->any_default);
	pfree(ids);
	pfree(cas);
	return got;
}

/* The lowest bound of the entries not ranked: e[from .. n) and those left out. */
static double
upg_sketch_min_lb(UpgSketchSearch *s, int from)
{
	double		m = s->out_lb;

	for (int i = from; i < s->n; i++)
		if (s->e[i].lb < m)
			m = s->e[i].lb;
	return m;
}

/*
 * Rank candidates batch by batch until the best lim are proven; false when
 * it stops paying and the plain query must answer: ranking a candidate
 * (a lookup of its row) costs about what scanning twenty rows does, so the
 * batches may rank at most a twentieth of the project's entries; and a
 * batch of which fewer than half the rows come back (rows the filters or
 * row-level security drop) says the ranking would go on for long.
 */
static bool
upg_sketch_search(UpgSketchSearch *s)
{
	int			done = 0;
	int64		budget = Max((int64) s->lim, s->seen_entries / 20);
	int			batch;
	double		reach = INFINITY;

	if (s->n == 0)
		return s->out_lb == INFINITY;
	/* first batch: every entry that may beat the lim-th lowest upper bound */
	if (s->nubs == s->lim)
		reach = s->ubs[0].lb;
	{
		int			j = 0;

		for (int i = 0; i < s->n; i++)
			if (s->e[i].lb <= reach)
				upg_entry_swap(&s->e[i], &s->e[j++]);
		batch = Max(j, Min(s->lim, s->n));
	}
	if (batch > budget)
		return false;
	for (;;)
	{
		int			to = Min(done + batch, s->n);
		uint64		got = upg_sketch_rank(s, done, to);
		double		next_lb;

		next_lb = upg_sketch_min_lb(s, to);
		if (s->nbest == s->lim && s->best[s->lim - 1].d < next_lb)
			return true;
		if (to >= s->n)
			return s->out_lb == INFINITY;	/* every entry ranked */
		if (got * 2 < (uint64) (to - done) || to > budget)
			return false;
		done = to;
		CHECK_FOR_INTERRUPTS();
		batch *= 2;
		upg_sketch_select(s->e, done, s->n, batch);
	}
}

/*
 * The plain exact query into the best rows: every candidate row's distance
 * (search_chunks_exact's comment says why it is written so).
 */
static void
upg_sketch_plain(UpgSketchSearch *s)
{
	Oid			types[7] = {FLOAT4ARRAYOID, INT4OID, TEXTOID, UUIDOID, TEXTOID,
	JSONBOID, FLOAT4OID};
	char	   *sql;

	for (int i = 0; i < s->nbest; i++)
		heap_freetuple(s->best[i].tuple);
	s->nbest = 0;
	sql = psprintf("SELECT " UPG_SKETCH_COLUMNS
				   " FROM unified.chunks c WHERE %s ORDER BY d, c.id LIMIT $2", s->where);
	if (SPI_execute_with_args(sql, 7, types, s->args, s->nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "the exact search failed");
	(void) upg_sketch_merge(s);
}

/* The WHERE clause of the search, from unified.search_where (one definition). */
static char *
upg_sketch_where(UpgSketchSearch *s)
{
	Oid			types[5] = {INT4OID, TEXTOID, UUIDOID, TEXTOID, JSONBOID};
	Datum		args[5] = {Int32GetDatum(s->dims), s->args[2], s->args[3], s->args[4], s->args[5]};
	char		nulls[5] = {' ', s->nulls[2], s->nulls[3], s->nulls[4], s->nulls[5]};
	bool		isnull;
	Datum		w;

	if (SPI_execute_with_args("SELECT unified.search_where($1, $2, $3, $4, $5)",
							  5, types, args, nulls, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "unified.search_where failed");
	w = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "unified.search_where returned NULL");
	return TextDatumGetCString(w);
}

/* Whether the index can hold this project's chunks of these dimensions (its predicate). */
static bool
upg_sketch_applies(UpgSketchSearch *s, Datum project)
{
	int			bytes = VARSIZE_ANY_EXHDR(DatumGetPointer(project));

	return s->dims >= 1 && s->dims <= UPG_SKETCH_MAX_DIMS &&
		bytes + s->dims <= UPG_SKETCH_ENTRY_BUDGET;
}

/* Put the best rows into the function's result, the distance made a score. */
static void
upg_sketch_emit(UpgSketchSearch *s, ReturnSetInfo *rsinfo)
{
	for (int i = 0; i < s->nbest; i++)
	{
		Datum		values[UPG_SKETCH_NCOLS];
		bool		nulls[UPG_SKETCH_NCOLS];

		heap_deform_tuple(s->best[i].tuple, s->rank_desc, values, nulls);
		values[UPG_SKETCH_NCOLS - 1] = Float8GetDatum(1.0 - s->best[i].d);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * SQL: unified.search_chunks_sketch(q, lim, project, dataset, collection,
 * filter) -- the exact lim nearest visible chunks, with their score, in
 * (distance, id) order; through the sketch index when it serves the query
 * (see the banner), else by the plain query.  The arguments are checked by
 * unified.search_check first.
 */
Datum
upg_search_chunks_sketch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	UpgSketchSearch s;
	ArrayType  *qa;
	HASHCTL		hctl;
	Oid			chunks;
	Datum		project = (Datum) 0;
	bool		sketched = false;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query and lim must not be NULL")));
	memset(&s, 0, sizeof(s));
	qa = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_ELEMTYPE(qa) != FLOAT4OID || ARR_NDIM(qa) != 1 ||
		(ARR_HASNULL(qa) && array_contains_nulls(qa)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query must be a one-dimensional array of numbers without NULLs")));
	s.lim = PG_GETARG_INT32(1);
	if (s.lim < 1 || s.lim > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lim must be between 1 and 10000")));
	s.q = (const float *) ARR_DATA_PTR(qa);
	s.dims = ArrayGetNItems(1, ARR_DIMS(qa));
	for (int i = 0; i < 6; i++)
	{
		s.args[i] = PG_GETARG_DATUM(i);
		s.nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	s.args[0] = PointerGetDatum(qa);
	s.nulls[6] = 'n';			/* min_score: applied by the caller */
	s.outer = CurrentMemoryContext;
	s.best = palloc(sizeof(UpgRanked) * s.lim);
	s.out_lb = INFINITY;

	/* the caller's right to read chunks, before reading their index */
	chunks = get_relname_relid("chunks", get_namespace_oid(UPG_SCHEMA_NAME, false));
	if (pg_class_aclcheck(chunks, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "chunks");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	s.where = upg_sketch_where(&s);

	if (!PG_ARGISNULL(2))
		project = PointerGetDatum(PG_GETARG_TEXT_PP(2));	/* its real length */
	if (upg_sketch_search_enabled && !PG_ARGISNULL(2) && upg_sketch_applies(&s, project) &&
		upg_sketch_query(&s))
	{
		/* bounded: the candidates a search may rank before it goes plain */
		s.cap = Max(4096, 8 * s.lim);
		s.e = palloc(sizeof(UpgSketchEntry) * s.cap);
		s.ubs = palloc(sizeof(UpgSketchEntry) * s.lim);
		if (upg_sketch_collect(&s, chunks, project))
		{
			hctl.keysize = sizeof(UpgSketchKey);
			hctl.entrysize = sizeof(UpgSketchKey);
			hctl.hcxt = CurrentMemoryContext;
			s.seen = hash_create("unified_pg sketch candidates", 256, &hctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
			s.rank_plan = upg_sketch_rank_plan(&s);
			sketched = upg_sketch_search(&s);
		}
	}
	if (!sketched)
		upg_sketch_plain(&s);
	upg_sketch_emit(&s, rsinfo);
	SPI_finish();
	return (Datum) 0;
}
