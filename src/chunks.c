/*-------------------------------------------------------------------------
 *
 * chunks.c
 *		C support for unified.chunks.
 *
 * unified.content_hash(text) gives every chunk a SHA-256 of its content,
 * stored in the generated column content_hash and used to verify
 * migrations.  PostgreSQL's own sha256() takes bytea, and the text-to-bytea
 * conversions are only STABLE, so a generated column cannot use them; the
 * hash of a text value's bytes never changes, so this function is honestly
 * IMMUTABLE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "unified_pg.h"

PG_FUNCTION_INFO_V1(upg_content_hash);

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
