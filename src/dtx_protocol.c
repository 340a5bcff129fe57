/*-------------------------------------------------------------------------
 *
 * dtx_protocol.c
 *		The rules of the distributed transaction protocol, in one place.
 *
 * Everything that decides what happens to a prepared transaction lives
 * here and nowhere else: the coordinator (dtx.c), the resolver
 * (resolver.c) and the unified.in_doubt view (through
 * unified.in_doubt_internal(), below) all call the same functions:
 *
 *	upg_gid_parse		the gid grammar: 'unified:<tx>:<participant>',
 *						<tx> 1..128 bytes of [A-Za-z0-9_.-], <participant>
 *						1..63 bytes of [A-Za-z0-9_-].  A gid with the
 *						prefix that does not fit is MALFORMED; one without
 *						the prefix is OTHER and never touched;
 *	upg_list_prepared	what is prepared, straight from pg_prepared_xact();
 *	upg_tx_read			a row of unified.transaction_log;
 *	upg_vote_eligible	whether a prepared transaction's owner may vote
 *						for a participant (DESIGN section 5);
 *	upg_decide			what to do with one prepared gid.
 *
 * The decision, for a gid of kind VALID:
 *
 *	no log row								rollback (orphan, at once)
 *	participant not listed in the row		rollback
 *	pending, owner not eligible				rollback (foreign vote)
 *	pending, past the timeout				rollback, once 'aborting' is
 *											recorded
 *	pending									wait
 *	committing/committed, the xid recorded
 *	  with the decision						commit
 *	committing/committed, another xid		rollback (foreign vote: a gid
 *											prepared again after the
 *											decision, or a squatter)
 *	aborting/aborted						rollback
 *
 * and a MALFORMED gid is rolled back: the unified: prefix is reserved for
 * participants, and nothing can ever commit such a gid.  Only the
 * resolver acts on MALFORMED gids and orphans (a coordinator acts only on
 * the gids that parse to its own transaction).
 *
 * Votes are bound to roles: each participant has a role in the log row
 * (begin_distributed's participant_roles, else unified_pg.participant_roles,
 * else the role that began it).  A prepared transaction votes for the
 * participant only when its owner is a member of that role; a
 * tenant-scoped role (one with project or dataset grants) must moreover be
 * the bound role itself or the role that began the transaction, so that
 * one tenant of claude_user cannot vote in another tenant's transaction.
 * Superusers are trusted.
 *
 * What voted is recorded with the commit decision (each participant's
 * prepared xid, in the row's votes column); afterwards only that xid is
 * ever committed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "unified_pg.h"

/* columns of pg_prepared_xact() */
#define Anum_prepared_xid		1
#define Anum_prepared_gid		2
#define Anum_prepared_at		3
#define Anum_prepared_owner		4
#define Anum_prepared_dbid		5

/* columns of upg_tx_read's SELECT */
#define Anum_row_state			1
#define Anum_row_began_by		2
#define Anum_row_began_at		3
#define Anum_row_updated_at		4
#define Anum_row_participants	5
#define Anum_row_roles			6
#define Anum_row_votes			7

/* columns of unified.in_doubt_internal() */
#define Natts_in_doubt			10

static SPIPlanPtr upg_plan_read = NULL;
static SPIPlanPtr upg_plan_scoped = NULL;

static const char *const upg_state_names[] = {
	[UPG_TX_NONE] = NULL,
	[UPG_TX_PENDING] = "pending",
	[UPG_TX_COMMITTING] = "committing",
	[UPG_TX_COMMITTED] = "committed",
	[UPG_TX_ABORTING] = "aborting",
	[UPG_TX_ABORTED] = "aborted",
};

PG_FUNCTION_INFO_V1(upg_in_doubt_internal);

static bool upg_role_is_scoped(Oid role);
static int	upg_prepared_cmp(const void *a, const void *b);

/* ---------------------------------------------------------------------
 * States and gids
 * ---------------------------------------------------------------------
 */

/* The log's name of a state; NULL for NONE. */
const char *
upg_tx_state_name(UpgTxState state)
{
	return upg_state_names[state];
}

/* A state from its name in the log. */
UpgTxState
upg_tx_state_from_name(const char *name)
{
	int			i;

	for (i = UPG_TX_PENDING; i <= UPG_TX_ABORTED; i++)
		if (strcmp(name, upg_state_names[i]) == 0)
			return (UpgTxState) i;
	elog(ERROR, "unknown distributed transaction state \"%s\"", name);
	return UPG_TX_NONE;			/* keep the compiler quiet */
}

/* The in_doubt view's name of an action. */
const char *
upg_action_name(UpgAction action)
{
	switch (action)
	{
		case UPG_ACTION_WAIT:
			return "wait";
		case UPG_ACTION_COMMIT:
			return "commit";
		case UPG_ACTION_ROLLBACK:
			return "rollback";
		default:
			return "none";
	}
}

/* Is c allowed in a tx id (with_dot) or a participant name? */
static inline bool
upg_name_char(unsigned char c, bool with_dot)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '-' || (with_dot && c == '.');
}

/*
 * The gid grammar.  For a VALID gid, tx_id and participant (room for their
 * maximum lengths plus one) receive the two parts.
 */
UpgGidKind
upg_gid_parse(const char *gid, char *tx_id, char *participant)
{
	size_t		plen = strlen(UPG_GID_PREFIX);
	const char *rest;
	const char *colon;
	size_t		txlen,
				partlen,
				i;

	if (strncmp(gid, UPG_GID_PREFIX, plen) != 0)
		return UPG_GID_OTHER;
	rest = gid + plen;
	colon = strchr(rest, ':');
	if (colon == NULL)
		return UPG_GID_MALFORMED;
	txlen = colon - rest;
	partlen = strlen(colon + 1);
	if (txlen < 1 || txlen > UPG_TX_ID_MAXLEN ||
		partlen < 1 || partlen > UPG_PARTICIPANT_MAXLEN)
		return UPG_GID_MALFORMED;
	for (i = 0; i < txlen; i++)
		if (!upg_name_char((unsigned char) rest[i], true))
			return UPG_GID_MALFORMED;
	for (i = 0; i < partlen; i++)
		if (!upg_name_char((unsigned char) colon[1 + i], false))
			return UPG_GID_MALFORMED;
	memcpy(tx_id, rest, txlen);
	tx_id[txlen] = '\0';
	memcpy(participant, colon + 1, partlen);
	participant[partlen] = '\0';
	return UPG_GID_VALID;
}

/* Order prepared gids by transaction, then gid. */
static int
upg_prepared_cmp(const void *a, const void *b)
{
	const UpgPrepared *pa = a;
	const UpgPrepared *pb = b;
	int			c = strcmp(pa->tx_id, pb->tx_id);

	return c != 0 ? c : strcmp(pa->gid, pb->gid);
}

/*
 * Every prepared transaction whose gid starts with prefix, in every
 * database, sorted by (tx_id, gid); returns the count, *out palloc'd in
 * the current context.  Calls pg_prepared_xact() directly (value per
 * call) rather than through SPI: the resolver reads thousands of them
 * after a restart, and this costs a few hundred nanoseconds each.
 */
int
upg_list_prepared(const char *prefix, UpgPrepared **out)
{
	FmgrInfo	flinfo;
	ReturnSetInfo rsinfo;
	ExprContext *econtext = CreateStandaloneExprContext();
	LOCAL_FCINFO(fcinfo, 0);
	size_t		plen = strlen(prefix);
	int			cap = 16;
	int			n = 0;
	UpgPrepared *list = palloc(sizeof(UpgPrepared) * cap);

	fmgr_info(F_PG_PREPARED_XACT, &flinfo);
	memset(&rsinfo, 0, sizeof(rsinfo));
	rsinfo.type = T_ReturnSetInfo;
	rsinfo.econtext = econtext;
	rsinfo.allowedModes = (int) SFRM_ValuePerCall;
	rsinfo.returnMode = SFRM_ValuePerCall;
	InitFunctionCallInfoData(*fcinfo, &flinfo, 0, InvalidOid, NULL, (Node *) &rsinfo);

	for (;;)
	{
		Datum		d;
		HeapTupleHeader th;
		bool		isnull;
		text	   *gid;
		UpgPrepared *p;

		fcinfo->isnull = false;
		rsinfo.isDone = ExprSingleResult;
		d = FunctionCallInvoke(fcinfo);
		if (rsinfo.isDone == ExprEndResult)
			break;
		th = DatumGetHeapTupleHeader(d);
		gid = DatumGetTextPP(GetAttributeByNum(th, Anum_prepared_gid, &isnull));
		if (VARSIZE_ANY_EXHDR(gid) < plen ||
			strncmp(VARDATA_ANY(gid), prefix, plen) != 0)
			continue;
		if (n == cap)
		{
			cap *= 2;
			list = repalloc(list, sizeof(UpgPrepared) * cap);
		}
		p = &list[n++];
		memset(p, 0, sizeof(*p));
		text_to_cstring_buffer(gid, p->gid, GIDSIZE);
		p->xid = DatumGetTransactionId(GetAttributeByNum(th, Anum_prepared_xid, &isnull));
		p->prepared_at = DatumGetTimestampTz(GetAttributeByNum(th, Anum_prepared_at, &isnull));
		p->owner = DatumGetObjectId(GetAttributeByNum(th, Anum_prepared_owner, &isnull));
		p->dboid = DatumGetObjectId(GetAttributeByNum(th, Anum_prepared_dbid, &isnull));
		p->kind = upg_gid_parse(p->gid, p->tx_id, p->participant);
	}
	FreeExprContext(econtext, true);
	if (n > 1)
		qsort(list, n, sizeof(UpgPrepared), upg_prepared_cmp);
	*out = list;
	return n;
}

/* ---------------------------------------------------------------------
 * The log
 * ---------------------------------------------------------------------
 */

/*
 * Read the log row of tx_id into *row, allocated in the current context;
 * returns false, with row->state NONE, if there is none.  fresh: with a
 * snapshot taken now (a coordinator that has just taken the transaction's
 * coordinator lock must see what the previous holder committed); else
 * with the active snapshot.  No row lock: the coordinator lock keeps
 * coordinators and the resolver apart, and every state change is an
 * UPDATE ... WHERE state = <expected>.  Runs in an open step (SPI
 * connected, the extension's rights).
 */
bool
upg_tx_read(const char *tx_id, bool fresh, UpgTxRow *row)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;
	char	   *s;

	memset(row, 0, sizeof(*row));
	args[0] = CStringGetTextDatum(tx_id);
	if (upg_spi_execute(&upg_plan_read,
						"SELECT state, began_by, began_at, updated_at, participants, participant_roles, votes"
						"  FROM unified.transaction_log WHERE tx_id = $1",
						1, argtypes, args, NULL, !fresh) != SPI_OK_SELECT)
		elog(ERROR, "could not read the transaction log");
	if (SPI_processed == 0)
		return false;
	if (SPI_tuptable->tupdesc->natts != Anum_row_votes)
		elog(ERROR, "unexpected column count in unified.transaction_log");

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	s = SPI_getvalue(tup, desc, Anum_row_state);
	row->state = upg_tx_state_from_name(s);
	s = SPI_getvalue(tup, desc, Anum_row_began_by);
	row->began_by = get_role_oid(s, true);
	row->began_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, Anum_row_began_at, &isnull));
	row->updated_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, Anum_row_updated_at, &isnull));

	d = SPI_getbinval(tup, desc, Anum_row_participants, &isnull);
	deconstruct_array(DatumGetArrayTypePCopy(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, NULL, &n);
	row->nparts = n;
	row->participants = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
		row->participants[i] = TextDatumGetCString(elems[i]);

	/* the bound roles; a row without them binds every participant to its beginner */
	row->roles = palloc(sizeof(Oid) * Max(n, 1));
	for (i = 0; i < n; i++)
		row->roles[i] = row->began_by;
	d = SPI_getbinval(tup, desc, Anum_row_roles, &isnull);
	if (!isnull)
	{
		int			nr;

		deconstruct_array(DatumGetArrayTypePCopy(d), REGROLEOID, sizeof(Oid), true,
						  TYPALIGN_INT, &elems, &nulls, &nr);
		for (i = 0; i < n && i < nr; i++)
			if (!nulls[i])
				row->roles[i] = DatumGetObjectId(elems[i]);
	}

	d = SPI_getbinval(tup, desc, Anum_row_votes, &isnull);
	if (!isnull)
	{
		int			nv;

		deconstruct_array(DatumGetArrayTypePCopy(d), XIDOID, sizeof(TransactionId), true,
						  TYPALIGN_INT, &elems, &nulls, &nv);
		row->votes = palloc0(sizeof(TransactionId) * Max(n, 1));
		for (i = 0; i < n && i < nv; i++)
			row->votes[i] = nulls[i] ? InvalidTransactionId : DatumGetTransactionId(elems[i]);
	}
	return true;
}

/* ---------------------------------------------------------------------
 * Votes and the decision
 * ---------------------------------------------------------------------
 */

/* Does role have tenant grants (is it scoped to some projects or datasets)? */
static bool
upg_role_is_scoped(Oid role)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	bool		isnull;

	args[0] = ObjectIdGetDatum(role);
	if (upg_spi_execute(&upg_plan_scoped,
						"SELECT EXISTS (SELECT FROM unified.project_grants WHERE role::pg_catalog.oid OPERATOR(pg_catalog.=) $1)"
						"    OR EXISTS (SELECT FROM unified.dataset_grants WHERE role::pg_catalog.oid OPERATOR(pg_catalog.=) $1)",
						1, argtypes, args, NULL, true) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the tenant grants");
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * May a prepared transaction owned by owner vote for a participant bound
 * to bound, in a transaction began_by began?  Needs SPI (tenant grants).
 */
bool
upg_vote_eligible(Oid owner, Oid bound, Oid began_by)
{
	if (!OidIsValid(owner) || !OidIsValid(bound))
		return false;
	if (superuser_arg(owner))
		return true;
	if (!is_member_of_role_nosuper(owner, bound))
		return false;
	if (owner == bound || owner == began_by)
		return true;
	return !upg_role_is_scoped(owner);
}

/* Is row undecided for longer than timeout_ms (< 0: never)? */
bool
upg_tx_timed_out(const UpgTxRow *row, int timeout_ms, TimestampTz now)
{
	return row->state == UPG_TX_PENDING && timeout_ms >= 0 &&
		row->began_at < TimestampTzPlusMilliseconds(now, -(int64) timeout_ms);
}

/*
 * What to do with prepared gid p, given its transaction's row (NULL or
 * state NONE when there is none).  timeout_ms < 0: no timeout (a live
 * coordinator asks).  See the banner for the rules.
 */
UpgVerdict
upg_decide(const UpgPrepared *p, const UpgTxRow *row, int timeout_ms, TimestampTz now)
{
	UpgVerdict	v = {UPG_ACTION_ROLLBACK, -1, NULL};
	int			i;

	if (p->kind == UPG_GID_OTHER)
	{
		v.action = UPG_ACTION_NONE;
		v.reason = "not a unified: gid; never touched";
		return v;
	}
	if (p->kind == UPG_GID_MALFORMED)
	{
		v.reason = "malformed participant gid";
		return v;
	}
	if (row == NULL || row->state == UPG_TX_NONE)
	{
		v.reason = "no log row";
		return v;
	}
	for (i = 0; i < row->nparts; i++)
		if (strcmp(row->participants[i], p->participant) == 0)
			break;
	if (i == row->nparts)
	{
		v.reason = "not a listed participant";
		return v;
	}
	v.index = i;

	switch (row->state)
	{
		case UPG_TX_PENDING:
			if (!upg_vote_eligible(p->owner, row->roles[i], row->began_by))
				v.reason = "foreign vote: its owner is not bound to the participant";
			else if (upg_tx_timed_out(row, timeout_ms, now))
				v.reason = "undecided past unified_pg.in_doubt_timeout";
			else
			{
				v.action = UPG_ACTION_WAIT;
				v.reason = "undecided";
			}
			break;
		case UPG_TX_COMMITTING:
		case UPG_TX_COMMITTED:
			if (row->votes != NULL ? row->votes[i] == p->xid :
				upg_vote_eligible(p->owner, row->roles[i], row->began_by))
			{
				v.action = UPG_ACTION_COMMIT;
				v.reason = "commit decision";
			}
			else
				v.reason = "foreign vote: not the prepared transaction that voted";
			break;
		default:
			v.reason = "abort decision";
			break;
	}
	return v;
}

/* ---------------------------------------------------------------------
 * SQL: unified.in_doubt_internal() -- the rows of unified.in_doubt
 * ---------------------------------------------------------------------
 */

/* SQL: every prepared unified: gid with its decision, action and reason. */
Datum
upg_in_doubt_internal(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	UpgStep		step = {.in_procedure = true};
	UpgPrepared *list;
	UpgTxRow	row;
	bool		have_row = false;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int			n,
				i;

	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != Natts_in_doubt)
		elog(ERROR, "unified.in_doubt_internal() is declared with the wrong columns");

	n = upg_list_prepared(UPG_GID_PREFIX, &list);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	upg_privileged_enter(&step);
	/* rows are read with a snapshot taken after the listing */
	PushActiveSnapshot(GetTransactionSnapshot());
	for (i = 0; i < n; i++)
	{
		UpgPrepared *p = &list[i];
		Datum		values[Natts_in_doubt];
		bool		nulls[Natts_in_doubt] = {0};
		UpgVerdict	v;
		char	   *s;

		if (p->kind == UPG_GID_VALID &&
			(i == 0 || strcmp(list[i - 1].tx_id, p->tx_id) != 0))
			have_row = upg_tx_read(p->tx_id, false, &row);
		v = upg_decide(p, p->kind == UPG_GID_VALID && have_row ? &row : NULL,
					   upg_in_doubt_timeout_s * 1000, now);

		values[0] = CStringGetTextDatum(p->gid);
		if (p->kind == UPG_GID_VALID)
		{
			values[1] = CStringGetTextDatum(p->tx_id);
			values[2] = CStringGetTextDatum(p->participant);
		}
		else
			nulls[1] = nulls[2] = true;
		s = get_database_name(p->dboid);
		if (s)
			values[3] = CStringGetTextDatum(s);
		else
			nulls[3] = true;
		s = GetUserNameFromId(p->owner, true);
		if (s)
			values[4] = CStringGetTextDatum(s);
		else
			nulls[4] = true;
		values[5] = TimestampTzGetDatum(p->prepared_at);
		if (p->kind == UPG_GID_VALID && have_row)
			values[6] = CStringGetTextDatum(upg_tx_state_name(row.state));
		else
			nulls[6] = true;
		if (p->kind == UPG_GID_VALID && have_row && v.index >= 0)
			values[7] = ObjectIdGetDatum(row.roles[v.index]);
		else
			nulls[7] = true;
		values[8] = CStringGetTextDatum(upg_action_name(v.action));
		values[9] = CStringGetTextDatum(v.reason);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PopActiveSnapshot();
	upg_privileged_leave(&step);
	SPI_finish();
	return (Datum) 0;
}
