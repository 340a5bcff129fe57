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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"

#include "unified_pg.h"

PG_FUNCTION_INFO_V1(upg_caller_roles);

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
