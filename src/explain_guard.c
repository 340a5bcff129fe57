/*-------------------------------------------------------------------------
 *
 * explain_guard.c
 *		unified_pg.restrict_explain: no EXPLAIN ANALYZE of the shared
 *		tables for the roles that row-level security restricts.
 *
 * EXPLAIN ANALYZE prints, per plan node, how many rows a filter removed
 * ("Rows Removed by Filter", "Rows Removed by Index Recheck").  Under
 * row-level security those counts include the rows the policies hide.  A
 * leakproof condition of the caller's own (text comparisons are leakproof)
 * can become an index condition that runs before the policy's filter, so
 * "WHERE source_id >= 'abc'" shows how many hidden rows sort after 'abc':
 * a bisection extracts indexed values of other tenants and of the other
 * application byte by byte.  PostgreSQL has no switch for this, so the
 * extension refuses the statement.
 *
 * Buffer counts leak the same way: "Buffers: shared hit=N" of a node
 * includes the pages read by the queries of the functions it calls, and
 * the heap pages of hidden rows an index condition matched are among
 * them; "Planning: Buffers", shown by EXPLAIN (BUFFERS) even without
 * ANALYZE, includes what the planner's constant folding of an immutable
 * function read.  So the guard covers every query that runs while such an
 * EXPLAIN runs, not only the instrumented plan.
 *
 * Two hooks, because neither sees enough alone (both installed by hooks.c,
 * which calls the two guards below before anything else):
 *
 * - ProcessUtility notes that an EXPLAIN with ANALYZE or BUFFERS runs for
 *   a role the policies restrict (a counter, restored on error).  The
 *   options are read as ExplainQuery reads them, the last one of a name
 *   winning, so EXPLAIN (ANALYZE false, ANALYZE true) is seen for what it
 *   is.  The role is judged here, as the one who asked for the counts: a
 *   SECURITY DEFINER function called by the query does not change whose
 *   EXPLAIN it is.  Executor instrumentation alone would not tell EXPLAIN
 *   from auto_explain, which must keep working.
 * - ExecutorStart, while that mark is set, looks at each plan about to
 *   start: the explained one, and those of the functions it calls, at plan
 *   time or at run time.  A plan's range table is the flattened one: it
 *   lists the relations of views, of inlined SQL functions, of CTEs and
 *   subqueries, and of a prepared statement run by EXPLAIN ANALYZE
 *   EXECUTE, so none of them hides a table from the check.  A plan that
 *   reads a table of schema unified with row-level security enabled
 *   (unified.chunks and its partitions) is refused before it runs, with
 *   SQLSTATE 42501.  Superusers, BYPASSRLS roles and members of
 *   unified_admin see every row anyway and are not restricted.
 *
 * Plain EXPLAIN shows no counts and is not affected.  The setting is
 * SUSET: a session cannot turn it off for itself.  The hooks exist in a
 * backend once the library is loaded there, which shared_preload_libraries
 * guarantees from the first statement on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "unified_pg.h"

bool		upg_restrict_explain = true;

/* restricted EXPLAINs with counts running in this backend, nested included */
static int	upg_explain_counts_depth = 0;

/* the role that ran the outermost of them, for the error message */
static Oid	upg_explain_role = InvalidOid;

/* Define unified_pg.restrict_explain; from _PG_init. */
void
upg_explain_guard_init(void)
{
	DefineCustomBoolVariable("unified_pg.restrict_explain",
							 "Refuse EXPLAIN ANALYZE of queries on unified.chunks to roles under row-level security.",
							 "Its row counts would reveal rows that the policies hide.",
							 &upg_restrict_explain,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

/*
 * Does this EXPLAIN show counts (ANALYZE or BUFFERS on)?  The last option of
 * a name wins, as in ExplainQuery.
 */
static bool
upg_explain_shows_counts(Node *stmt)
{
	ListCell   *lc;
	bool		analyze = false;
	bool		buffers = false;

	if (stmt == NULL || !IsA(stmt, ExplainStmt))
		return false;
	foreach(lc, ((ExplainStmt *) stmt)->options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, "analyze") == 0)
			analyze = defGetBoolean(opt);
		else if (strcmp(opt->defname, "buffers") == 0)
			buffers = defGetBoolean(opt);
	}
	return analyze || buffers;
}

static bool upg_role_sees_all(void);

/*
 * Utility guard, entry: note that a restricted EXPLAIN with counts starts.
 * Returns whether it did; the caller passes that to
 * upg_explain_guard_utility_leave() when the statement ends, error or not.
 */
bool
upg_explain_guard_utility_enter(PlannedStmt *pstmt)
{
	bool		guarded = upg_restrict_explain &&
		upg_explain_shows_counts(pstmt->utilityStmt) && !upg_role_sees_all();

	if (guarded && upg_explain_counts_depth++ == 0)
		upg_explain_role = GetUserId();
	return guarded;
}

/* Utility guard, exit: the restricted EXPLAIN noted by the entry is over. */
void
upg_explain_guard_utility_leave(bool guarded)
{
	if (guarded)
		upg_explain_counts_depth--;
}

/* Does the current role see every row of every table anyway? */
static bool
upg_role_sees_all(void)
{
	Oid			admin = get_role_oid("unified_admin", true);

	return superuser() || has_bypassrls_privilege(GetUserId()) ||
		(OidIsValid(admin) && has_privs_of_role(GetUserId(), admin));
}

/* Is relid a table of schema unified with row-level security enabled? */
static bool
upg_is_protected_table(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	bool		result = false;

	if (HeapTupleIsValid(tup))
	{
		Form_pg_class rel = (Form_pg_class) GETSTRUCT(tup);

		result = rel->relrowsecurity &&
			rel->relnamespace == get_namespace_oid(UPG_SCHEMA_NAME, true);
		ReleaseSysCache(tup);
	}
	return result;
}

/* The first protected table the plan reads, or InvalidOid. */
static Oid
upg_plan_protected_table(PlannedStmt *plan)
{
	ListCell   *lc;

	foreach(lc, plan->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_RELATION && upg_is_protected_table(rte->relid))
			return rte->relid;
	}
	return InvalidOid;
}

/*
 * Executor guard (called by the ExecutorStart hook before the plan
 * starts): under a restricted EXPLAIN, refuse plans over protected tables.
 */
void
upg_explain_guard_executor_start(QueryDesc *queryDesc)
{
	if (upg_explain_counts_depth > 0 &&
		OidIsValid(upg_plan_protected_table(queryDesc->plannedstmt)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("EXPLAIN ANALYZE of queries on unified.chunks is not allowed for role \"%s\"",
						GetUserNameFromId(upg_explain_role, false)),
				 errdetail("Its row and buffer counts would reveal rows that row-level security hides."),
				 errhint("Use EXPLAIN without ANALYZE or BUFFERS, or ask a member of unified_admin to run it; "
						 "unified_pg.restrict_explain controls this.")));
}
