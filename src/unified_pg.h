/*-------------------------------------------------------------------------
 *
 * unified_pg.h
 *		Declarations shared by the unified_pg source files.
 *
 * Each concern lives in its own file: unified_pg.c (module entry, GUCs,
 * hook chaining), pools.c (the unified_pg.pools setting), shmem.c (shared
 * state), worker.c (the background worker's main loop).  Files added later
 * (resolver, statistics hooks, maintenance, migration) declare their entry
 * points here so that the worker and the hooks can call them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef UNIFIED_PG_H
#define UNIFIED_PG_H

#include "postgres.h"

#include "access/xact.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "postmaster/bgworker.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/array.h"

#include "compat.h"

#define UPG_EXTENSION_NAME	"unified_pg"
#define UPG_SCHEMA_NAME		"unified"

/* the static background workers, one per job (worker.c) */
typedef enum UpgJob
{
	UPG_JOB_RESOLVER = 0,
	UPG_JOB_MAINTENANCE,
	UPG_NUM_JOBS
} UpgJob;

/* ---- GUCs (unified_pg.c) ---- */
extern char *upg_database;
extern char *upg_pools_string;
extern bool upg_enforce_pool_limits;
extern int	upg_resolver_naptime_ms;
extern int	upg_in_doubt_timeout_s;
extern int	upg_maintenance_interval_s;
extern int	upg_transaction_log_retention_s;
extern char *upg_debug_pause_at;
extern bool upg_restoring;
extern bool upg_sketch_search_enabled;

/* true when the library was loaded through shared_preload_libraries */
extern bool upg_preloaded;

/* ---- pools.c: the parsed form of unified_pg.pools ---- */
#define UPG_MAX_POOLS		32
#define UPG_POOL_NAME_LEN	NAMEDATALEN

typedef struct UpgPool
{
	char		name[UPG_POOL_NAME_LEN];	/* application_name */
	int			budget;			/* connection budget */
} UpgPool;

typedef struct UpgPoolConfig
{
	int			other_budget;	/* budget of "other"; 0 = none */
	int			npools;
	UpgPool		pools[UPG_MAX_POOLS];
} UpgPoolConfig;

extern const UpgPoolConfig *upg_pool_config;

extern bool upg_pools_check_hook(char **newval, void **extra, GucSource source);
extern void upg_pools_assign_hook(const char *newval, void *extra);
extern int	upg_pool_lookup(const char *application_name);

/* ---- shmem.c: state shared by all backends and the worker ---- */
typedef struct UpgWorkerState
{
	pid_t		pid;			/* 0 when the worker is not running */
	TimestampTz started_at;		/* when the current incarnation started */
	TimestampTz last_loop_at;	/* end of the most recent loop */
	uint64		loops;			/* loops of the current incarnation */
	uint64		starts;			/* incarnations since the server started */
	bool		extension_present;	/* seen in unified_pg.database */
	int			naptime_ms;		/* resolver_naptime as the worker sees it */
	bool		connecting;		/* an incarnation is connecting to the database */
	bool		in_recovery;	/* idle: the server is a standby */
} UpgWorkerState;

/* what the in-doubt resolver last did (resolver.c); totals since start */
typedef struct UpgResolverState
{
	uint64		passes;			/* passes, by the worker or on demand */
	TimestampTz last_pass_started_at;
	TimestampTz last_pass_finished_at;
	double		last_pass_ms;
	uint64		participants_committed;
	uint64		participants_rolled_back;
	uint64		transactions_finished;	/* marked committed or aborted */
	uint64		transactions_timed_out; /* presumed aborted after the timeout */
	uint64		skipped_locked; /* a coordinator held the transaction */
	uint64		log_rows_pruned;
} UpgResolverState;
/* built-in partition maintenance (maintenance.c) */
#define UPG_MAINT_RESULT_LEN	2048

typedef struct UpgMaintenanceState
{
	TimestampTz last_attempt_at;	/* when the worker last started a run */
	TimestampTz last_finished_at;	/* when the last run completed */
	uint64		runs;			/* completed runs since the server started */
	uint64		passes;			/* run_maintenance() calls in those runs */
	int			last_passes;	/* calls in the last run */
	int			interval_s;		/* maintenance_interval as the worker saw it */
	uint64		skipped_recovery;	/* runs skipped because of recovery */
	char		last_result[UPG_MAINT_RESULT_LEN];	/* jsonb text, truncated */
} UpgMaintenanceState;

/*
 * One request to register a pg_cron job from the database pg_cron lives
 * in, handed to a short-lived worker (maintenance.c).
 */
typedef struct UpgCronRequest
{
	pid_t		requester;		/* waiting backend; 0 when the slot is free */
	char		crondb[NAMEDATALEN];	/* cron.database_name */
	char		username[NAMEDATALEN];	/* the job's owner */
	char		database[NAMEDATALEN];	/* where the job runs */
	char		jobname[NAMEDATALEN];
	char		schedule[128];
	char		command[256];
	bool		done;			/* the worker has answered */
	int64		jobid;
	int			sqlerrcode;		/* 0 on success */
	char		message[256];
} UpgCronRequest;

typedef struct UpgSharedState
{
	LWLock	   *lock;			/* protects everything below */
	UpgWorkerState workers[UPG_NUM_JOBS];	/* indexed by UpgJob */
	UpgResolverState resolver;
	UpgMaintenanceState maintenance;
	UpgCronRequest cron;
} UpgSharedState;

extern UpgSharedState *upg_shared;

extern void upg_shmem_request(void);
extern void upg_shmem_startup(void);
extern void upg_require_shmem(void);

/* ---- maintenance.c ---- */
extern void upg_maintenance_tick(void);
PGDLLEXPORT void upg_cron_worker_main(Datum main_arg);

/* ---- maintenance_guard.c: maintenance lock and partition limits ---- */
extern int	upg_max_new_partitions;
extern int	upg_max_partitions;
extern void upg_maintenance_guard_init(void);

/* ---- explain_guard.c: unified_pg.restrict_explain ---- */
extern bool upg_restrict_explain;
extern void upg_explain_guard_init(void);
struct PlannedStmt;
struct QueryDesc;
extern bool upg_explain_guard_utility_enter(struct PlannedStmt *pstmt);
extern void upg_explain_guard_utility_leave(bool guarded);
extern void upg_explain_guard_executor_start(struct QueryDesc *queryDesc);

/* ---- security.c: tenant grants bound to their role ---- */
extern void upg_security_init(void);

/* ---- worker.c ---- */
extern void upg_register_worker(void);
extern void upg_fill_worker(BackgroundWorker *worker, const char *function_name,
							const char *name, const char *type, int restart_time);
extern bool upg_run_worker(const char *function_name, const char *name,
						   const char *type, Datum main_arg, BgwHandleStatus *status);
PGDLLEXPORT void upg_worker_main(Datum main_arg);
extern void upg_worker_pin_settings(void);

/* ---- dtx.c: distributed transaction coordinator ---- */
#define UPG_GID_PREFIX			"unified:"
#define UPG_TX_ID_MAXLEN		128
#define UPG_PARTICIPANT_MAXLEN	63
#define UPG_MAX_PARTICIPANTS	64

/*
 * A unit of work in its own transaction, run with the extension's rights.
 * In a non-atomic procedure the transactions are SPI_commit()'s; in the
 * background worker they are StartTransactionCommand()'s.
 */
typedef struct UpgStep
{
	bool		in_procedure;	/* SPI connected non-atomic by the caller */
	bool		open;			/* between upg_step_start and upg_step_commit */
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} UpgStep;

extern void upg_step_start(UpgStep *step);
extern void upg_step_commit(UpgStep *step, bool durable);
extern void upg_privileged_enter(UpgStep *step);
extern void upg_privileged_leave(UpgStep *step);
extern int	upg_spi_execute(SPIPlanPtr *plan, const char *sql, int nargs,
							Oid *argtypes, Datum *args, const char *nulls,
							bool read_only);
extern bool upg_dtx_lock(const char *tx_id, bool wait);
extern void upg_dtx_unlock(const char *tx_id);
extern bool upg_dtx_trylock_batch(const char *tx_id);
extern void upg_dtx_unlock_batch(const char *tx_id);
extern bool upg_dtx_finish_here(const char *gid, TransactionId xid, bool commit);
extern void upg_dtx_pause_point(const char *point);
extern void upg_dtx_require_prepared_xacts(void);
extern void upg_require_log_database(void);

/* ---- dtx_guard.c: DROP EXTENSION and the per-role prepared limit ---- */
extern int	upg_max_prepared_per_role;
extern void upg_dtx_init(void);
extern void upg_dtx_guard_utility(struct PlannedStmt *pstmt);
extern void upg_limit_shmem_request(void);
extern void upg_limit_shmem_startup(void);
extern char *upg_participant_roles_string;
extern bool upg_participant_roles_check_hook(char **newval, void **extra, GucSource source);

/* ---- dtx_protocol.c: the protocol's rules, one place for C and SQL ---- */

/* a transaction's state in unified.transaction_log; NONE = no row */
typedef enum UpgTxState
{
	UPG_TX_NONE = 0,
	UPG_TX_PENDING,
	UPG_TX_COMMITTING,
	UPG_TX_COMMITTED,
	UPG_TX_ABORTING,
	UPG_TX_ABORTED
} UpgTxState;

/* what a prepared gid is to us */
typedef enum UpgGidKind
{
	UPG_GID_OTHER = 0,			/* no unified: prefix: never touched */
	UPG_GID_MALFORMED,			/* the prefix, but not unified:<tx>:<participant> */
	UPG_GID_VALID
} UpgGidKind;

/* what to do with a prepared gid */
typedef enum UpgAction
{
	UPG_ACTION_NONE = 0,		/* not ours */
	UPG_ACTION_WAIT,			/* a vote of an undecided transaction */
	UPG_ACTION_COMMIT,
	UPG_ACTION_ROLLBACK
} UpgAction;

/* one prepared transaction, as pg_prepared_xact() reports it */
typedef struct UpgPrepared
{
	char		gid[GIDSIZE];
	TransactionId xid;
	Oid			owner;
	Oid			dboid;
	TimestampTz prepared_at;
	UpgGidKind	kind;
	char		tx_id[UPG_TX_ID_MAXLEN + 1];
	char		participant[UPG_PARTICIPANT_MAXLEN + 1];
} UpgPrepared;

/* one row of unified.transaction_log */
typedef struct UpgTxRow
{
	UpgTxState	state;			/* UPG_TX_NONE when there is no row */
	Oid			began_by;
	TimestampTz began_at;
	TimestampTz updated_at;
	int			nparts;
	char	  **participants;
	Oid		   *roles;			/* the role each participant is bound to */
	TransactionId *votes;		/* what voted, recorded with the decision; or NULL */
} UpgTxRow;

/* the decision for one prepared gid */
typedef struct UpgVerdict
{
	UpgAction	action;
	int			index;			/* the participant in the row, or -1 */
	const char *reason;
} UpgVerdict;

extern const char *upg_tx_state_name(UpgTxState state);
extern UpgTxState upg_tx_state_from_name(const char *name);
extern UpgGidKind upg_gid_parse(const char *gid, char *tx_id, char *participant);
extern int	upg_list_prepared(const char *prefix, UpgPrepared **out);
extern bool upg_tx_read(const char *tx_id, bool fresh, UpgTxRow *row);
extern bool upg_vote_eligible(Oid owner, Oid bound, Oid began_by);
extern bool upg_tx_timed_out(const UpgTxRow *row, int timeout_ms, TimestampTz now);
extern UpgVerdict upg_decide(const UpgPrepared *p, const UpgTxRow *row,
							 int timeout_ms, TimestampTz now);
extern const char *upg_action_name(UpgAction action);

/* ---- resolver.c: the in-doubt resolver ---- */
extern void upg_resolver_pass(bool in_procedure, int timeout_ms);

/* ---- finisher.c: finishing participants here and in other databases ---- */

/*
 * A prepared participant: its gid, the database it was prepared in and,
 * when known, the xid of the prepared transaction that voted (a gid
 * prepared again under another xid is then left alone).
 */
typedef struct UpgParticipant
{
	char		gid[GIDSIZE];
	Oid			dboid;
	TransactionId xid;			/* the prepared xid, or Invalid: whatever is prepared */
} UpgParticipant;

extern int	upg_finisher_idle_timeout_s;

extern Size upg_finisher_shmem_size(void);
extern void upg_finisher_shmem_request(void);
extern void upg_finisher_shmem_startup(void);
/* a batch of participants being finished: start, (go,) wait -- or cancel */
typedef struct UpgFinishBatch UpgFinishBatch;

extern UpgFinishBatch *upg_finish_start(UpgParticipant *parts, int n, bool commit,
										bool armed, int elevel);
extern void upg_finish_go(UpgFinishBatch *b);
extern void upg_finish_cancel(UpgFinishBatch *b);
extern int	upg_finish_wait(UpgFinishBatch *b, bool in_procedure, UpgStep *step,
							const char *pause_point, bool *pause, bool *done);
extern int	upg_finish_participants(UpgParticipant *parts, int n, bool commit,
									bool in_procedure, const char *pause_point,
									bool *pause, int elevel);
extern int	upg_finish_batch(UpgParticipant *parts, int n, bool commit,
							 bool in_procedure, const char *pause_point,
							 bool *pause, int elevel, bool *done);
PGDLLEXPORT void upg_finisher_main(Datum main_arg);

/* ---- vector.c: embeddings ---- */
struct JsonbContainer;
extern ArrayType *upg_embedding_from_container(struct JsonbContainer *root, int chunk_no);
extern ArrayType *upg_embedding_from_text(const char *str, int len, int chunk_no);
extern const float *upg_vector_values(ArrayType *a, int argno, int *dims);

/* an embedding read element by element from JSON text (upsert_text.c) */
typedef struct UpgEmbeddingBuf
{
	float	   *values;			/* the first elements, while all are fine */
	int			cap;
	int			count;			/* elements met, also beyond the maximum */
	int			bad_elem;		/* the first that is not a real, 1-based, or 0 */
	const char *bad_what;		/* what it is, for the error */
} UpgEmbeddingBuf;
extern void upg_embedding_buf_reset(UpgEmbeddingBuf *b);
extern void upg_embedding_buf_number(UpgEmbeddingBuf *b, const char *token);
extern void upg_embedding_buf_other(UpgEmbeddingBuf *b, const char *what);
extern ArrayType *upg_embedding_from_buf(const UpgEmbeddingBuf *b, int chunk_no);

/* ---- numeric_real.c: a numeric as real, correctly rounded ---- */
typedef enum UpgNumericRealResult
{
	UPG_NUMERIC_REAL_OK,
	UPG_NUMERIC_REAL_NOT_FINITE,
	UPG_NUMERIC_REAL_OUT_OF_RANGE
} UpgNumericRealResult;
struct NumericData;
extern UpgNumericRealResult upg_numeric_to_real(struct NumericData *num, float *out);
extern UpgNumericRealResult upg_json_number_to_real(const char *token, float *out);
extern void upg_json_number_check(const char *token);

/* ---- statistics (pool_stats.c and friends; internals in src/pool_stats.h) ---- */
extern int	upg_stats_window_s;
extern void upg_stats_define_gucs(void);
extern void upg_stats_shmem_request(void);
extern void upg_stats_shmem_startup(void);

/* ---- error_hints.c: hints for the errors applications get ---- */
extern void upg_error_hints_add(ErrorData *edata);

/* ---- hooks.c: every server hook, installed once ---- */
extern void upg_hooks_install(void);

#endif							/* UNIFIED_PG_H */
