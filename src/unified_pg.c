/*-------------------------------------------------------------------------
 *
 * unified_pg.c
 *		Module entry point: GUCs, shared memory and worker registration;
 *		every executor, utility and log hook is installed by hooks.c.
 *
 * Everything unified_pg does at load time happens here, in this order:
 * define the unified_pg.* settings, reserve the prefix, and then -- only
 * when loaded through shared_preload_libraries -- request shared memory
 * and register the background worker.  When the library is not
 * preloaded, functions that need shared memory raise SQLSTATE 55000 with a
 * hint (see upg_require_shmem), while plain SQL objects keep working.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "unified_pg.h"

PG_MODULE_MAGIC;

/* GUC variables */
char	   *upg_database = NULL;
char	   *upg_pools_string = NULL;
bool		upg_enforce_pool_limits = false;
int			upg_resolver_naptime_ms = 1000;
int			upg_in_doubt_timeout_s = 60;
int			upg_maintenance_interval_s = 3600;
int			upg_transaction_log_retention_s = 7 * 24 * 3600;
char	   *upg_debug_pause_at = NULL;
bool		upg_restoring = false;
bool		upg_sketch_search_enabled = true;

bool		upg_preloaded = false;

/* saved hook values, for chaining */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);
static void upg_define_gucs(void);
static void upg_shmem_request_hook(void);
static void upg_shmem_startup_hook(void);

/* Module load: settings always, shared memory and worker only when preloaded. */
void
_PG_init(void)
{
	upg_define_gucs();
	upg_dtx_init();
	upg_maintenance_guard_init();
	upg_explain_guard_init();
	upg_security_init();
	upg_hooks_install();

	if (!process_shared_preload_libraries_in_progress)
		return;

	/* after every unified_pg.* setting is defined, or their values are lost */
	MarkGUCPrefixReserved("unified_pg");

	upg_preloaded = true;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = upg_shmem_request_hook;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = upg_shmem_startup_hook;

	upg_register_worker();
}

/*
 * Define the unified_pg.* settings.  Postmaster-context settings can only
 * be defined while preloading (defining one later is FATAL), so a library
 * loaded late defines just the reloadable ones and leaves the prefix
 * unreserved, keeping whatever postgresql.conf says for the next start.
 */
static void
upg_define_gucs(void)
{
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("unified_pg.database",
								   "Database the unified_pg background worker connects to.",
								   "The transaction log lives here and the resolver and "
								   "maintenance run here.",
								   &upg_database,
								   "postgres",
								   PGC_POSTMASTER,
								   0,
								   NULL, NULL, NULL);

	DefineCustomStringVariable("unified_pg.pools",
							   "Connection pools as application_name:budget pairs.",
							   "A comma-separated list such as "
							   "'claude-context:40,cognee:40,unified:20'.",
							   &upg_pools_string,
							   "claude-context:40,cognee:40,unified:20",
							   PGC_SIGHUP,
							   0,
							   upg_pools_check_hook,
							   upg_pools_assign_hook,
							   NULL);

	DefineCustomBoolVariable("unified_pg.enforce_pool_limits",
							 "Refuse a connection that would exceed its pool's budget.",
							 "Superusers are never refused.",
							 &upg_enforce_pool_limits,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("unified_pg.resolver_naptime",
							"Pause between passes of the in-doubt transaction resolver.",
							NULL,
							&upg_resolver_naptime_ms,
							1000,
							10,
							INT_MAX / 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("unified_pg.finisher_idle_timeout",
							"Time after which an idle finisher of another database exits.",
							"Finishers commit and roll back prepared participants in databases "
							"other than unified_pg.database; one runs per database while there is work.",
							&upg_finisher_idle_timeout_s,
							10,
							1,
							INT_MAX / 1000,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("unified_pg.in_doubt_timeout",
							"Age after which an undecided prepared participant is presumed aborted.",
							NULL,
							&upg_in_doubt_timeout_s,
							60,
							1,
							INT_MAX / 1000,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("unified_pg.maintenance_interval",
							"Period of the built-in partition maintenance; 0 disables it.",
							NULL,
							&upg_maintenance_interval_s,
							3600,
							0,
							INT_MAX / 1000,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("unified_pg.transaction_log_retention",
							"Age after which finished distributed transactions are pruned from the log; 0 keeps them.",
							"The resolver deletes committed and aborted rows older than this in bounded batches.",
							&upg_transaction_log_retention_s,
							7 * 24 * 3600,
							0,
							INT_MAX / 1000,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomStringVariable("unified_pg.participant_roles",
							   "Role each distributed transaction participant is bound to, as participant:role pairs.",
							   "Only a member of its bound role can prepare a participant's vote. "
							   "begin_distributed's participant_roles argument overrides it; "
							   "a participant not listed is bound to the role that began the transaction.",
							   &upg_participant_roles_string,
							   "claude:claude_user,cognee:cognee_user,unified:unified_admin",
							   PGC_SIGHUP,
							   0,
							   upg_participant_roles_check_hook,
							   NULL, NULL);

	DefineCustomIntVariable("unified_pg.max_prepared_per_role",
							"Most prepared transactions one role may hold; -1 means a quarter of max_prepared_transactions, 0 no limit.",
							"Superusers are exempt.  Needs shared_preload_libraries.",
							&upg_max_prepared_per_role,
							-1,
							-1,
							INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	/*
	 * Developer-only: make commit_distributed (or the resolver) stop at a
	 * named point until the process is killed, so crash tests can hit
	 * every point of the protocol deterministically.  Hidden and SUSET.
	 */
	DefineCustomStringVariable("unified_pg.debug_pause_at",
							   "Developer-only: protocol point at which distributed commit pauses.",
							   NULL,
							   &upg_debug_pause_at,
							   "",
							   PGC_SUSET,
							   GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							   NULL, NULL, NULL);

	DefineCustomBoolVariable("unified_pg.restoring",
							 "Set while restoring a dump into a new database.",
							 "CREATE EXTENSION then leaves the partitions of unified.chunks "
							 "to the dump, which brings its own.",
							 &upg_restoring,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("unified_pg.sketch_search",
							 "Let the exact search inside a project read the 8-bit copies of "
							 "chunks_project_sketch_idx first.",
							 "Off, it reads every candidate row: the same answer, more slowly.",
							 &upg_sketch_search_enabled,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	upg_stats_define_gucs();
}

/* Ask for our shared memory and LWLock tranche. */
static void
upg_shmem_request_hook(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	upg_shmem_request();
}

/* Attach to (or create) our shared memory. */
static void
upg_shmem_startup_hook(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	upg_shmem_startup();
}
