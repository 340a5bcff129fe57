/*-------------------------------------------------------------------------
 *
 * chunks.c
 *		C support for unified.chunks: content hashes and source-row keys.
 *
 * unified.content_hash(text) gives every chunk a SHA-256 of its content,
 * stored in the generated column content_hash and used to verify
 * migrations.  PostgreSQL's own sha256() takes bytea, and the text-to-bytea
 * conversions are only STABLE, so a generated column cannot use them; the
 * hash of a text value's bytes never changes, so this function is honestly
 * IMMUTABLE.
 *
 * A source row (source, source_collection, source_id) is stored at most
 * once across all partitions.  PostgreSQL cannot enforce that with a unique
 * index on a table partitioned by created_at, so unified.chunk_keys holds
 * one row per stored source row under a primary key, kept in step by the
 * statement-level triggers below, which see the statement's rows as the
 * transition tables new_keys and old_keys.  They are written in C because
 * they run on every write of both applications:
 *
 *	- the statement's row count comes from the transition table for free;
 *	- each trigger runs one cached plan, schema-qualified and free of
 *	  operators, so it cannot be redirected by the caller's search_path;
 *	- instead of SECURITY DEFINER (which costs a GUC save and restore per
 *	  call to pin search_path) the trigger switches to the owner of
 *	  unified.chunks, who owns unified.chunk_keys, for the duration of its
 *	  query, as a restricted operation; an error restores the caller's
 *	  identity with the transaction's abort.
 *
 * Concurrency comes from the primary key: a second session inserting the
 * same key waits in ON CONFLICT for the first and sees a conflict if it
 * committed.  Naming the duplicate costs more queries and happens only when
 * a statement fails.
 *
 * The cached plans are bound to the transition tables' row type as first
 * seen; they are planned again when unified.chunks changes, like any
 * cached plan.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "unified_pg.h"

PG_FUNCTION_INFO_V1(upg_content_hash);
PG_FUNCTION_INFO_V1(upg_chunk_keys_add);
PG_FUNCTION_INFO_V1(upg_chunk_keys_remove);

/* cached plans, one per backend */
static SPIPlanPtr upg_keys_add_plan = NULL;
static SPIPlanPtr upg_keys_remove_plan = NULL;

#define UPG_KEYS_ADD_SQL \
	"INSERT INTO unified.chunk_keys (source, source_collection, source_id) " \
	"SELECT source, source_collection, source_id FROM new_keys " \
	"ON CONFLICT DO NOTHING"

#define UPG_KEYS_REMOVE_SQL \
	"DELETE FROM unified.chunk_keys k USING old_keys o " \
	"WHERE k.source OPERATOR(pg_catalog.=) o.source " \
	"AND k.source_collection OPERATOR(pg_catalog.=) o.source_collection " \
	"AND k.source_id OPERATOR(pg_catalog.=) o.source_id"

/* a key repeated within the statement */
#define UPG_KEYS_DUP_IN_STATEMENT_SQL \
	"SELECT source, source_collection, source_id FROM new_keys " \
	"GROUP BY source, source_collection, source_id " \
	"HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1 LIMIT 1"

/* the statement's keys as stored, with who stored them */
#define UPG_KEYS_DUP_STORED_SQL \
	"SELECT n.source, n.source_collection, n.source_id, k.xmin, k.cmin FROM new_keys n " \
	"JOIN unified.chunk_keys k ON k.source OPERATOR(pg_catalog.=) n.source " \
	"AND k.source_collection OPERATOR(pg_catalog.=) n.source_collection " \
	"AND k.source_id OPERATOR(pg_catalog.=) n.source_id"

/* SQL: unified.content_hash(text) -- SHA-256 of the text's bytes. */
Datum
upg_content_hash(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
	pg_cryptohash_ctx *ctx;
	bytea	   *result;

	result = (bytea *) palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	SET_VARSIZE(result, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	ctx = pg_cryptohash_create(PG_SHA256);
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in)) < 0 ||
		pg_cryptohash_final(ctx, (uint8 *) VARDATA(result), PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute SHA-256 of chunk content: %s",
			 pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);

	PG_RETURN_BYTEA_P(result);
}

/* Check that we are an AFTER ... FOR EACH STATEMENT trigger with the table. */
static TriggerData *
upg_keys_trigger_data(FunctionCallInfo fcinfo, const char *fname, bool want_new)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s can only be called as a trigger", fname)));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		(want_new ? trigdata->tg_newtable : trigdata->tg_oldtable) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be an AFTER ... FOR EACH STATEMENT trigger with a %s transition table",
						fname, want_new ? "NEW" : "OLD")));
	return trigdata;
}

/*
 * Become the owner of unified.chunks (who owns unified.chunk_keys) for a
 * restricted operation, and connect to SPI with the transition tables;
 * the caller's identity is returned for upg_keys_end.
 */
static void
upg_keys_begin(TriggerData *trigdata, Oid *save_userid, int *save_sec_context)
{
	GetUserIdAndSecContext(save_userid, save_sec_context);
	SetUserIdAndSecContext(trigdata->tg_relation->rd_rel->relowner,
						   *save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed");
}

/* Leave SPI and become the caller again. */
static void
upg_keys_end(Oid save_userid, int save_sec_context)
{
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/* Run the cached plan *plan (made from sql on first use); return rows done. */
static uint64
upg_keys_run(SPIPlanPtr *plan, const char *sql, int expected)
{
	int			rc = upg_spi_execute(plan, sql, 0, NULL, NULL, NULL, false);

	if (rc != expected)
		elog(ERROR, "SPI_execute_plan returned %s for \"%s\"",
			 SPI_result_code_string(rc), sql);
	return SPI_processed;
}

/* Format the first three columns of a result row as "(a, b, c)". */
static char *
upg_keys_format(HeapTuple tuple, TupleDesc tupdesc)
{
	return psprintf("(%s, %s, %s)",
					SPI_getvalue(tuple, tupdesc, 1),
					SPI_getvalue(tuple, tupdesc, 2),
					SPI_getvalue(tuple, tupdesc, 3));
}

/*
 * Find a key that made the statement fail and put it into *key.  Runs with
 * a fresh snapshot (not read-only), so that a key committed by a session
 * this statement waited for is seen.  A key repeated within the statement
 * comes first; otherwise a stored key whose row this trigger did not
 * insert itself.  Our rows are the current (sub)transaction's with a
 * command id after statement_cid, the command of the statement that fired
 * the trigger (SPI advances the command counter around each command);
 * rows stored by earlier statements of this transaction have command ids
 * up to statement_cid.
 */
static bool
upg_keys_find_duplicate(CommandId statement_cid, char **key)
{
	uint64		i;

	if (SPI_execute(UPG_KEYS_DUP_IN_STATEMENT_SQL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed for \"%s\"", UPG_KEYS_DUP_IN_STATEMENT_SQL);
	if (SPI_processed > 0)
	{
		*key = upg_keys_format(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
		return true;
	}

	if (SPI_execute(UPG_KEYS_DUP_STORED_SQL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed for \"%s\"", UPG_KEYS_DUP_STORED_SQL);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		bool		isnull;
		TransactionId xmin = DatumGetTransactionId(SPI_getbinval(tuple, tupdesc, 4, &isnull));
		CommandId	cmin = DatumGetCommandId(SPI_getbinval(tuple, tupdesc, 5, &isnull));

		if (TransactionIdIsCurrentTransactionId(xmin) && cmin > statement_cid)
			continue;			/* inserted by this trigger */
		*key = upg_keys_format(tuple, tupdesc);
		return true;
	}
	return false;
}

/*
 * Trigger: AFTER INSERT ON unified.chunks REFERENCING NEW TABLE AS new_keys
 * FOR EACH STATEMENT.  Store the statement's keys; raise unique_violation,
 * naming one duplicate, if a key is repeated or already stored.
 */
Datum
upg_chunk_keys_add(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = upg_keys_trigger_data(fcinfo, "chunk_keys_add", true);
	int64		wanted = tuplestore_tuple_count(trigdata->tg_newtable);
	Oid			save_userid;
	int			save_sec_context;
	uint64		added;
	CommandId	statement_cid;
	char	   *key = NULL;
	bool		found;

	if (wanted == 0)
		return PointerGetDatum(NULL);

	upg_keys_begin(trigdata, &save_userid, &save_sec_context);

	/* the command of the statement that fired us; ours come after it */
	statement_cid = GetCurrentCommandId(false);
	added = upg_keys_run(&upg_keys_add_plan, UPG_KEYS_ADD_SQL, SPI_OK_INSERT);
	if (added == (uint64) wanted)
	{
		upg_keys_end(save_userid, save_sec_context);
		return PointerGetDatum(NULL);
	}

	found = upg_keys_find_duplicate(statement_cid, &key);
	ereport(ERROR,
			(errcode(ERRCODE_UNIQUE_VIOLATION),
			 errmsg("duplicate key value violates uniqueness of source rows in unified.chunks"),
			 found ?
			 errdetail("Key (source, source_collection, source_id)=%s already exists.", key) :
			 errdetail("A source row of this statement is already stored."),
			 errhint("A source row is stored at most once: delete the stored chunk first, or update it."),
			 err_generic_string(PG_DIAG_SCHEMA_NAME, UPG_SCHEMA_NAME),
			 err_generic_string(PG_DIAG_TABLE_NAME, "chunks"),
			 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "chunk_keys_pkey")));
	PG_RETURN_NULL();			/* not reached */
}

/*
 * Trigger: AFTER DELETE ON unified.chunks REFERENCING OLD TABLE AS old_keys
 * FOR EACH STATEMENT.  Forget the keys of the deleted rows.
 */
Datum
upg_chunk_keys_remove(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = upg_keys_trigger_data(fcinfo, "chunk_keys_remove", false);
	Oid			save_userid;
	int			save_sec_context;

	if (tuplestore_tuple_count(trigdata->tg_oldtable) == 0)
		return PointerGetDatum(NULL);

	upg_keys_begin(trigdata, &save_userid, &save_sec_context);
	(void) upg_keys_run(&upg_keys_remove_plan, UPG_KEYS_REMOVE_SQL, SPI_OK_DELETE);
	upg_keys_end(save_userid, save_sec_context);
	return PointerGetDatum(NULL);
}
