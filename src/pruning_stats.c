/*-------------------------------------------------------------------------
 *
 * pruning_stats.c
 *		How well real queries of unified.chunks prune its partitions.
 *
 * The executor hook (stats_hooks.c) calls upg_pruning_observe() for every
 * SELECT, UPDATE and DELETE of a client session once the plan is
 * initialized, at any nesting level (the applications query through SQL
 * functions).  By then partitions pruned by the planner have no scan at
 * all and those pruned at executor start-up have no initialized subplan,
 * so the partitions a query will scan are exactly the relation scans of
 * its plan state tree.  A query of unified.chunks that filters on
 * created_at (a scan qual or index qual on the column) or skipped a
 * partition counts towards partition_pruning: partitions skipped over
 * partitions existing.  One that does neither cannot prune and is
 * counted beside it.  Partitions skipped while the query runs (pruning on
 * parameters) count as scanned, so the share is a lower bound.
 *
 * The counts go to the session's own counters (pool_stats.c), like every
 * other counter of the hot path, and are summed over pools when read.
 * A query that touches no partitioned table costs one walk of its range
 * table; only a query of a partitioned table looks up its name.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "partitioning/partdesc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "pool_stats.h"

/* what the walk over a plan state tree collects */
typedef struct UpgPruneWalk
{
	EState	   *estate;
	PartitionDesc partdesc;		/* of unified.chunks */
	bool	   *scanned;		/* per partition */
	bool		filters;		/* a scan filters on created_at */
} UpgPruneWalk;

/* Is relid unified.chunks? */
static bool
upg_is_chunks(Oid relid)
{
	Oid			nsp = get_namespace_oid(UPG_SCHEMA_NAME, true);
	char	   *name;

	if (!OidIsValid(nsp) || get_rel_namespace(relid) != nsp)
		return false;
	name = get_rel_name(relid);
	return name != NULL && strcmp(name, "chunks") == 0;
}

/* Oid of unified.chunks if the range table has it, else InvalidOid. */
static Oid
upg_chunks_in_range_table(List *rtable)
{
	ListCell   *lc;

	foreach(lc, rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_RELATION && rte->relkind == RELKIND_PARTITIONED_TABLE &&
			upg_is_chunks(rte->relid))
			return rte->relid;
	}
	return InvalidOid;
}

/* The quals of a relation scan that may name the partition key. */
static List *
upg_scan_quals(Plan *plan)
{
	List	   *quals = plan->qual;

	switch (nodeTag(plan))
	{
		case T_IndexScan:
			quals = list_concat_copy(quals, ((IndexScan *) plan)->indexqualorig);
			break;
		case T_IndexOnlyScan:
			quals = list_concat_copy(quals, ((IndexOnlyScan *) plan)->recheckqual);
			break;
		case T_BitmapHeapScan:
			quals = list_concat_copy(quals, ((BitmapHeapScan *) plan)->bitmapqualorig);
			break;
		default:
			break;
	}
	return quals;
}

/* Does a scan of partition relid filter on its created_at column? */
static bool
upg_scan_filters_created_at(Plan *plan, Index scanrelid, Oid relid)
{
	AttrNumber	attnum = get_attnum(relid, "created_at");
	Bitmapset  *attrs = NULL;

	if (attnum == InvalidAttrNumber)
		return false;
	pull_varattnos((Node *) upg_scan_quals(plan), scanrelid, &attrs);
	return bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, attrs);
}

/* Walker: note each partition of unified.chunks that the plan scans. */
static bool
upg_prune_walker(PlanState *ps, void *context)
{
	UpgPruneWalk *w = (UpgPruneWalk *) context;
	Plan	   *plan = ps->plan;

	switch (nodeTag(plan))
	{
		case T_SeqScan:
		case T_SampleScan:
		case T_IndexScan:
		case T_IndexOnlyScan:
		case T_BitmapHeapScan:
		case T_TidScan:
		case T_TidRangeScan:
			{
				Index		scanrelid = ((Scan *) plan)->scanrelid;
				Oid			relid = exec_rt_fetch(scanrelid, w->estate)->relid;
				int			i;

				for (i = 0; i < w->partdesc->nparts; i++)
				{
					if (w->partdesc->oids[i] != relid)
						continue;
					w->scanned[i] = true;
					if (!w->filters)
						w->filters = upg_scan_filters_created_at(plan, scanrelid, relid);
					break;
				}
				break;
			}
		default:
			break;
	}
	return planstate_tree_walker(ps, upg_prune_walker, context);
}

/* Count a query's pruning of unified.chunks, if it reads unified.chunks. */
void
upg_pruning_observe(QueryDesc *queryDesc, int eflags)
{
	UpgPruneWalk w;
	Oid			chunks;
	Relation	rel;
	int			nscanned = 0;
	int			i;

	if (queryDesc->operation != CMD_SELECT && queryDesc->operation != CMD_UPDATE &&
		queryDesc->operation != CMD_DELETE)
		return;
	chunks = upg_chunks_in_range_table(queryDesc->estate->es_range_table);
	if (!OidIsValid(chunks))
		return;

	rel = RelationIdGetRelation(chunks);
	if (!RelationIsValid(rel))
		return;
	memset(&w, 0, sizeof(w));
	w.estate = queryDesc->estate;
	w.partdesc = RelationGetPartitionDesc(rel, true);
	w.scanned = palloc0(sizeof(bool) * Max(w.partdesc->nparts, 1));
	(void) upg_prune_walker(queryDesc->planstate, &w);
	for (i = 0; i < w.partdesc->nparts; i++)
		nscanned += w.scanned[i] ? 1 : 0;

	if (w.filters || nscanned < w.partdesc->nparts)
	{
		upg_stats_count(UPG_C_PRUNE_QUERIES, 1);
		upg_stats_count(UPG_C_PRUNE_PARTITIONS, w.partdesc->nparts);
		upg_stats_count(UPG_C_PRUNE_SKIPPED, w.partdesc->nparts - nscanned);
	}
	else
		upg_stats_count(UPG_C_PRUNE_UNPRUNABLE, 1);
	pfree(w.scanned);
	RelationClose(rel);
}
