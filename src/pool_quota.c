/*-------------------------------------------------------------------------
 *
 * pool_quota.c
 *		A session's pool, and connection budgets per pool.
 *
 * ClientAuthentication_hook runs in every new client backend once its
 * role is authenticated, before the startup packet's settings are
 * applied.  There the session's pool is fixed for good: the pool named by
 * the startup packet's application_name in unified_pg.pools as this new
 * backend sees it (it was forked by a postmaster that has applied the
 * last reload), else "other".  A later SET application_name does not move
 * the session.
 *
 * Budgets.  Each pool entry counts the budget slots held by its live
 * sessions in an atomic counter.  A session takes a slot with a
 * compare-and-swap that succeeds only while the count is below the budget,
 * so any number of simultaneous connection attempts can never push a
 * pool past it, and a refused attempt never disturbs the count.  Slots are
 * taken whether or not unified_pg.enforce_pool_limits is on (so turning
 * it on by reload starts from the true count); with it on, an attempt
 * that finds the pool full is refused with SQLSTATE 53300 (FATAL, as for
 * max_connections) and counted in rejected_connections.  Superusers are
 * never refused and take no slot.
 *
 * A slot is given back by the session's exit callback, registered before
 * the slot is taken, so every way a backend exits normally (including
 * FATAL during the rest of start-up) returns it.  A backend that dies
 * without running its callbacks (kill -9, a crash) makes the postmaster
 * restart every backend and reinitialize shared memory, which starts all
 * counts from zero: no slot can outlive the process that took it.
 *
 * The budget trusts the client's application_name: it is a courtesy limit
 * between cooperating applications, not a security boundary.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq/auth.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "utils/acl.h"

#include "pool_stats.h"

/* Take a slot of entry if fewer than budget (0: no budget) are held. */
static bool
upg_quota_take(int entry, int budget)
{
	pg_atomic_uint32 *held = &upg_stats->entries[entry].held;
	uint32		seen;

	if (budget <= 0 || !upg_enforce_pool_limits)
	{
		pg_atomic_fetch_add_u32(held, 1);
		return true;
	}
	seen = pg_atomic_read_u32(held);
	while (seen < (uint32) budget)
	{
		if (pg_atomic_compare_exchange_u32(held, &seen, seen + 1))
			return true;
	}
	return false;
}

/* Give back a slot of entry (from the session's exit callback). */
void
upg_quota_release(int entry)
{
	pg_atomic_fetch_sub_u32(&upg_stats->entries[entry].held, 1);
}

/* Refuse this connection: pool is at its budget. */
static void
upg_quota_refuse(int entry, const char *pool, int budget)
{
	pg_atomic_fetch_add_u64(&upg_stats->entries[entry].rejected, 1);
	ereport(FATAL,
			(errcode(ERRCODE_TOO_MANY_CONNECTIONS),
			 errmsg("pool \"%s\" has reached its budget of %d connections", pool, budget),
			 errdetail("unified_pg.enforce_pool_limits is on and unified_pg.pools gives pool \"%s\" %d connections, all in use.",
					   pool, budget),
			 errhint("Close idle connections of this application, or raise its budget in unified_pg.pools and reload.")));
}

/*
 * Fix the session's pool and take its budget slot.  Runs while the
 * connection is being set up, inside the start-up transaction, so the
 * catalog can be read to tell a superuser.
 */
static void
upg_quota_admit(Port *port)
{
	const UpgPoolConfig *config = upg_pool_config;
	int			index = upg_pool_lookup(port->application_name);
	const char *pool = UPG_OTHER_POOL_NAME;
	int			budget = config ? config->other_budget : 0;
	int			entry;
	bool		superuser;

	if (index >= 0)
	{
		pool = config->pools[index].name;
		budget = config->pools[index].budget;
	}
	entry = upg_stats_entry_for(pool);
	if (entry == UPG_STATS_OTHER && index >= 0)
	{
		pool = UPG_OTHER_POOL_NAME;		/* every entry taken: count as other */
		budget = config->other_budget;
	}
	superuser = superuser_arg(get_role_oid(port->user_name, false));

	upg_stats_session_prepare();
	if (!superuser && !upg_quota_take(entry, budget))
		upg_quota_refuse(entry, pool, budget);
	upg_stats_session_start(entry, !superuser);
}

/*
 * Admit an authenticated connection to its pool; called by the
 * ClientAuthentication_hook (hooks.c) after the previous hook.
 */
void
upg_quota_client_authenticated(Port *port, int status)
{
	if (status != STATUS_OK || upg_stats == NULL)
		return;
	upg_quota_admit(port);
}
