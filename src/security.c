/*-------------------------------------------------------------------------
 *
 * security.c
 *		C support for row-level security and tenant scoping.
 *
 * The row-level security policies on unified.chunks restrict a login role
 * to the projects and datasets it was granted (unified.grant_project,
 * unified.grant_dataset).  Which roles' grants apply must not be something
 * the caller can change to widen what it sees:
 *
 *  - SET ROLE to a group role (claude_user) changes current_user to a role
 *    that has no grants of its own, so current_user alone is not enough;
 *  - inside a SECURITY DEFINER function current_user is the function's
 *    owner, so SQL cannot see who called it.
 *
 * unified.caller_roles() therefore reports the session user (changed only
 * by SET SESSION AUTHORIZATION, which needs a superuser) and the outer
 * user (the role set by SET ROLE, which SECURITY DEFINER functions do not
 * change).  The SQL helpers restrict a caller by the grants of every one of
 * these roles that has grants.  The function reads only the backend's own
 * identity, so it is safe to call from anywhere, including parallel
 * workers, which inherit both identities from the leader.
 *
 * A grant never outlives its role.  Grants are keyed by role OID, and
 * OIDs are recycled: a role created later with a dropped role's OID would
 * inherit its grants.  Dropping a role cannot remove them (DROP ROLE may
 * run in another database, and event triggers do not fire for roles), so
 * each grant also records a token that identifies the role itself: a
 * random value stored as the role's security label of provider
 * "unified_pg" (unified.tenant_role_token()).  Security labels on roles
 * live in the shared catalog pg_shseclabel, and PostgreSQL deletes a
 * role's labels when it drops the role, in whatever database; renaming
 * keeps them, and pg_dumpall carries them with the role.  A role created
 * with a recycled OID has no label, or a new one, so the dead role's
 * grants no longer match it.  They still make the role scoped, to
 * nothing: a stale grant fails closed, and the next grant given to the
 * role deletes them (unified.tenant_role_check).  Only superusers (a
 * restore) may set these labels by SECURITY LABEL; the provider refuses
 * everyone else, so no role can copy a dead role's token onto another.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_authid.h"
#include "commands/seclabel.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"

#include "unified_pg.h"

#define UPG_SECLABEL_PROVIDER	"unified_pg"
#define UPG_TOKEN_BYTES			16

/* grant tables: (role, value, granted_by, granted_at, role_token) */
#define Anum_upg_grants_value		2
#define Anum_upg_grants_role_token	5

PG_FUNCTION_INFO_V1(upg_caller_roles);
PG_FUNCTION_INFO_V1(upg_tenant_role_token);

/* Security label hook: only superusers may set unified_pg's labels by hand. */
static void
upg_seclabel_check(const ObjectAddress *object, const char *seclabel)
{
	if (object->classId != AuthIdRelationId)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("security labels of provider \"%s\" apply to roles only", UPG_SECLABEL_PROVIDER)));
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("security labels of provider \"%s\" are set by unified_pg only", UPG_SECLABEL_PROVIDER),
				 errdetail("They bind tenant grants to the role they were given to."),
				 errhint("Use unified.grant_project() or unified.grant_dataset().")));
}

/* Register the label provider that binds tenant grants; from _PG_init. */
void
upg_security_init(void)
{
	register_label_provider(UPG_SECLABEL_PROVIDER, upg_seclabel_check);
}

/* The role's token, or NULL when it has none. */
static char *
upg_role_token(Oid role)
{
	ObjectAddress addr;

	ObjectAddressSet(addr, AuthIdRelationId, role);
	return GetSecurityLabel(&addr, UPG_SECLABEL_PROVIDER);
}

/*
 * SQL: unified.tenant_role_token(role oid) RETURNS text -- the token that
 * binds grants to this role, made (a random value) on first use.  Locks
 * the role against a concurrent DROP ROLE, and concurrent first uses
 * against each other, until the end of the transaction.  Internal.
 */
Datum
upg_tenant_role_token(PG_FUNCTION_ARGS)
{
	Oid			role = PG_GETARG_OID(0);
	char	   *token;

	LockSharedObject(AuthIdRelationId, role, 0, ShareUpdateExclusiveLock);
	/* a first use that we waited for has committed a label: see it */
	InvalidateCatalogSnapshot();
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role)));

	token = upg_role_token(role);
	if (token == NULL)
	{
		uint8		bytes[UPG_TOKEN_BYTES];
		ObjectAddress addr;
		int			i;

		if (!pg_strong_random(bytes, sizeof(bytes)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random tenant grant token")));
		token = palloc(2 * UPG_TOKEN_BYTES + 1);
		for (i = 0; i < UPG_TOKEN_BYTES; i++)
			sprintf(token + 2 * i, "%02x", bytes[i]);
		ObjectAddressSet(addr, AuthIdRelationId, role);
		SetSecurityLabel(&addr, UPG_SECLABEL_PROVIDER, token);
		CommandCounterIncrement();
	}
	PG_RETURN_TEXT_P(cstring_to_text(token));
}

/* SQL: unified.caller_roles() -- session user and outer (SET ROLE) user. */
Datum
upg_caller_roles(PG_FUNCTION_ARGS)
{
	Datum		roles[2];
	int			nroles = 0;
	Oid			session_user = GetSessionUserId();
	Oid			outer_user = GetOuterUserId();

	roles[nroles++] = ObjectIdGetDatum(session_user);
	if (outer_user != session_user)
		roles[nroles++] = ObjectIdGetDatum(outer_user);

	PG_RETURN_ARRAYTYPE_P(construct_array(roles, nroles, OIDOID,
										  sizeof(Oid), true, TYPALIGN_INT));
}

/*
 * Tenant scope: the values (project ids or dataset ids) the caller may see.
 *
 * The policies on unified.chunks call unified.visible_projects() and
 * unified.visible_datasets() once per query, as InitPlans.  They are written
 * in C because they sit on every application query: no SECURITY DEFINER
 * switch, no GUC save/restore, no SPI, only two or three index probes of the
 * grant tables with the statement's snapshot.  Reading the tables here
 * needs no privilege on them, so the applications are given none.
 *
 * A caller role (see upg_caller_roles) is scoped when it has any grant, of
 * either kind.  No scoped role: NULL ("not scoped").  Otherwise the values
 * granted to every scoped role; SET ROLE can therefore only narrow.
 */
typedef struct UpgGrantTable
{
	const char *relname;		/* table in schema unified */
	const char *indexname;		/* its primary key, (role, value) */
	Oid			valtype;		/* type of the value column */
} UpgGrantTable;

static const UpgGrantTable upg_project_grants = {"project_grants", "project_grants_pkey", TEXTOID};
static const UpgGrantTable upg_dataset_grants = {"dataset_grants", "dataset_grants_pkey", UUIDOID};

/* Open a grant table and find its primary key index. */
static Relation
upg_open_grants(const UpgGrantTable *table, Oid *indexoid)
{
	Oid			nspoid = get_namespace_oid(UPG_SCHEMA_NAME, false);
	Oid			relid = get_relname_relid(table->relname, nspoid);

	*indexoid = get_relname_relid(table->indexname, nspoid);
	if (!OidIsValid(relid) || !OidIsValid(*indexoid))
		elog(ERROR, "unified_pg grant table %s.%s is missing", UPG_SCHEMA_NAME, table->relname);
	return table_open(relid, AccessShareLock);
}

/* Begin a scan of the grants of one role, in value order. */
static SysScanDesc
upg_scan_role(Relation rel, Oid indexoid, Oid role, ScanKeyData *key)
{
	Snapshot	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();

	ScanKeyInit(key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(role));
	return systable_beginscan(rel, indexoid, true, snapshot, 1, key);
}

/* Does the role have any row in the grant table? */
static bool
upg_has_grants(Relation rel, Oid indexoid, Oid role)
{
	ScanKeyData key;
	SysScanDesc scan = upg_scan_role(rel, indexoid, role, &key);
	bool		found = HeapTupleIsValid(systable_getnext(scan));

	systable_endscan(scan);
	return found;
}

/* Are two values of the grant table's value column equal (bytewise)? */
static bool
upg_values_equal(Oid valtype, Datum a, Datum b)
{
	if (valtype == UUIDOID)
		return memcmp(DatumGetPointer(a), DatumGetPointer(b), UUID_LEN) == 0;
	return VARSIZE_ANY_EXHDR(DatumGetPointer(a)) == VARSIZE_ANY_EXHDR(DatumGetPointer(b)) &&
		memcmp(VARDATA_ANY(DatumGetPointer(a)), VARDATA_ANY(DatumGetPointer(b)),
			   VARSIZE_ANY_EXHDR(DatumGetPointer(a))) == 0;
}

/*
 * Was this grant given to the role that now has its OID?  A grant whose
 * token is not the role's (the role it was given to was dropped) does not
 * count; the role is still scoped by it, to nothing.
 */
static bool
upg_grant_is_current(Relation rel, HeapTuple tup, const char *role_token)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, Anum_upg_grants_role_token, RelationGetDescr(rel), &isnull);
	text	   *t;

	if (isnull || role_token == NULL)
		return false;
	t = DatumGetTextPP(d);
	return VARSIZE_ANY_EXHDR(t) == strlen(role_token) &&
		memcmp(VARDATA_ANY(t), role_token, VARSIZE_ANY_EXHDR(t)) == 0;
}

/* The scope of the caller in one grant table; NULL when not scoped. */
static Datum
upg_visible(FunctionCallInfo fcinfo, const UpgGrantTable *table, const UpgGrantTable *other)
{
	Oid			callers[2];
	int			ncallers = 0;
	Oid			scoped[2];
	int			nscoped = 0;
	Oid			indexoid;
	Oid			other_indexoid;
	Relation	rel;
	Relation	other_rel;
	Datum	   *values = NULL;
	int			nvalues = 0;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	callers[ncallers++] = GetSessionUserId();
	if (GetOuterUserId() != callers[0])
		callers[ncallers++] = GetOuterUserId();

	rel = upg_open_grants(table, &indexoid);
	other_rel = upg_open_grants(other, &other_indexoid);
	for (i = 0; i < ncallers; i++)
		if (upg_has_grants(rel, indexoid, callers[i]) ||
			upg_has_grants(other_rel, other_indexoid, callers[i]))
			scoped[nscoped++] = callers[i];
	table_close(other_rel, AccessShareLock);

	if (nscoped == 0)
	{
		table_close(rel, AccessShareLock);
		PG_RETURN_NULL();
	}

	get_typlenbyvalalign(table->valtype, &typlen, &typbyval, &typalign);

	/* the first scoped role's values, in index (value) order ... */
	{
		ScanKeyData key;
		SysScanDesc scan = upg_scan_role(rel, indexoid, scoped[0], &key);
		char	   *token = upg_role_token(scoped[0]);
		HeapTuple	tup;
		int			allocated = 8;

		values = palloc(sizeof(Datum) * allocated);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			bool		isnull;
			Datum		v = heap_getattr(tup, Anum_upg_grants_value, RelationGetDescr(rel), &isnull);

			if (isnull || !upg_grant_is_current(rel, tup, token))
				continue;
			if (nvalues == allocated)
			{
				allocated *= 2;
				values = repalloc(values, sizeof(Datum) * allocated);
			}
			/* compared bytewise below, so never keep a compressed copy */
			if (typlen == -1)
				v = PointerGetDatum(PG_DETOAST_DATUM_PACKED(v));
			values[nvalues++] = datumCopy(v, typbyval, typlen);
		}
		systable_endscan(scan);
	}

	/* ... that the other scoped role, if any, was granted too */
	if (nscoped == 2 && nvalues > 0)
	{
		ScanKeyData key;
		SysScanDesc scan = upg_scan_role(rel, indexoid, scoped[1], &key);
		char	   *token = upg_role_token(scoped[1]);
		HeapTuple	tup;
		bool	   *keep = palloc0(sizeof(bool) * nvalues);
		int			kept = 0;

		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			bool		isnull;
			Datum		v = heap_getattr(tup, Anum_upg_grants_value, RelationGetDescr(rel), &isnull);

			if (isnull || !upg_grant_is_current(rel, tup, token))
				continue;
			if (typlen == -1)
				v = PointerGetDatum(PG_DETOAST_DATUM_PACKED(v));
			for (i = 0; i < nvalues; i++)
				if (!keep[i] && upg_values_equal(table->valtype, values[i], v))
					keep[i] = true;
		}
		systable_endscan(scan);
		for (i = 0; i < nvalues; i++)
			if (keep[i])
				values[kept++] = values[i];
		nvalues = kept;
	}
	table_close(rel, AccessShareLock);

	PG_RETURN_ARRAYTYPE_P(construct_array(values, nvalues, table->valtype,
										  typlen, typbyval, typalign));
}

PG_FUNCTION_INFO_V1(upg_visible_projects);
PG_FUNCTION_INFO_V1(upg_visible_datasets);

/* SQL: unified.visible_projects() -- projects the caller is limited to. */
Datum
upg_visible_projects(PG_FUNCTION_ARGS)
{
	return upg_visible(fcinfo, &upg_project_grants, &upg_dataset_grants);
}

/* SQL: unified.visible_datasets() -- datasets the caller is limited to. */
Datum
upg_visible_datasets(PG_FUNCTION_ARGS)
{
	return upg_visible(fcinfo, &upg_dataset_grants, &upg_project_grants);
}
