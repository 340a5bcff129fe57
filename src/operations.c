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
 *	- unified.chunks_touch_updated_at(), a BEFORE UPDATE row trigger that
 *	  sets updated_at to the transaction's start time (the time now() and
 *	  the column's default give an inserted row), unless the UPDATE sets
 *	  updated_at itself: the trigger's WHEN clause fires it only when the
 *	  new row carries the old value, so an explicit value is kept.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "unified_pg.h"

PG_FUNCTION_INFO_V1(upg_chunks_touch_updated_at);

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
