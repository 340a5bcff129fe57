/*
 * error_hints.c -- hints for the errors applications really get from
 * unified.chunks.
 *
 * PostgreSQL reports a refused column privilege as "permission denied for
 * table chunks" without naming the column, and a row-level security
 * violation without naming the policy's condition.  Applications hit both
 * for ordinary mistakes (a Claude-Context role setting cognee_dataset_id, a
 * row with neither owner column, a query of a partition), so the
 * emit_log_hook (hooks.c) calls upg_error_hints_add(), which adds a hint to those errors when they have none.  It cannot
 * say which column was refused: PostgreSQL checks a statement's column
 * privileges as one set and keeps no record of the column that failed.
 *
 * The hook runs while an error is being reported, inside a transaction that
 * may already be aborted: it looks only at the ErrorData (SQLSTATE, the
 * untranslated message format and the formatted message), never at the
 * catalogs, and allocates only in the error's own memory context.  The
 * table is recognised by name in the message, so a table called "chunks" in
 * another schema gets the same hint; the hint says it is about
 * unified.chunks.
 */
#include "postgres.h"

#include "utils/elog.h"
#include "utils/memutils.h"

#include "unified_pg.h"

static const char *upg_hint_for(const ErrorData *edata);

/* Is s, up to a quote, space or the end, exactly name? */
static bool
upg_word_is(const char *s, const char *name)
{
	size_t		n = strlen(name);

	return strncmp(s, name, n) == 0 && (s[n] == '\0' || s[n] == '"' || s[n] == ' ');
}

/* Is s a partition name: chunks_default or chunks_YYYY_MM? */
static bool
upg_word_is_partition(const char *s)
{
	int			i;

	if (upg_word_is(s, "chunks_default"))
		return true;
	if (strncmp(s, "chunks_", 7) != 0)
		return false;
	for (i = 7; i < 14; i++)
		if (i == 11 ? s[i] != '_' : !isdigit((unsigned char) s[i]))
			return false;
	return s[14] == '\0' || s[14] == '"' || s[14] == ' ';
}

/*
 * Does the formatted message name the table (partition: any partition) as
 * a word of its own, quoted or not?
 */
static bool
upg_message_names(const char *message, bool partition)
{
	const char *p;

	if (message == NULL)
		return false;
	for (p = strstr(message, "chunks"); p != NULL; p = strstr(p + 1, "chunks"))
	{
		if (p != message && p[-1] != ' ' && p[-1] != '"')
			continue;
		if (partition ? upg_word_is_partition(p) : upg_word_is(p, "chunks"))
			return true;
	}
	return false;
}

/* The hint for an error about unified.chunks, or NULL. */
static const char *
upg_hint_for(const ErrorData *edata)
{
	const char *fmt = edata->message_id;

	if (edata->sqlerrcode != ERRCODE_INSUFFICIENT_PRIVILEGE || fmt == NULL)
		return NULL;
	if (strcmp(fmt, "permission denied for table %s") == 0)
	{
		if (upg_message_names(edata->message, true))
			return "The partitions of unified.chunks are not open to application roles: query unified.chunks, "
				"which row-level security filters.";
		if (upg_message_names(edata->message, false))
			return "For unified.chunks: application roles may write only some of its columns. "
				"claude_user cannot write cognee_dataset_id and cognee_user cannot write project_id "
				"(only unified_admin shares a row between the applications), and neither may change "
				"source, source_collection or source_id of a stored row, nor write id, content_hash or "
				"migration_id. A role in none of claude_user, cognee_user and unified_admin has no access "
				"at all. PostgreSQL does not say which column was refused.";
		return NULL;
	}
	if (strcmp(fmt, "new row violates row-level security policy for table \"%s\"") == 0 &&
		upg_message_names(edata->message, false))
		return "For unified.chunks: a claude_user role writes only rows with project_id and a cognee_user "
			"role only rows with cognee_dataset_id (a row needs one of them), within the projects or "
			"datasets granted to it in unified.tenant_grants, if any.";
	if (strcmp(fmt, "query would be affected by row-level security policy for table \"%s\"") == 0 &&
		upg_message_names(edata->message, false))
		return "For unified.chunks: row_security = off cannot widen what a role sees, it only makes "
			"the query fail; leave row_security on.";
	return NULL;
}

/* Add the hint to an error that has none; from the emit_log_hook. */
void
upg_error_hints_add(ErrorData *edata)
{
	if (edata->elevel >= ERROR && edata->hint == NULL)
	{
		const char *hint = upg_hint_for(edata);

		if (hint != NULL)
			edata->hint = MemoryContextStrdup(edata->assoc_context, hint);
	}
}
