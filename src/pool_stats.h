/*-------------------------------------------------------------------------
 *
 * pool_stats.h
 *		Shared statistics of the connection pools: layout and internal API.
 *
 * Used by histogram.c (bucket arithmetic), pool_stats.c (shared state,
 * sessions, persistence), stats_hooks.c (the hooks that count),
 * stats_views.c (the SQL functions that read), pool_quota.c (connection
 * budgets) and pruning_stats.c (partition pruning of unified.chunks).
 * See the banner of pool_stats.c for the locking protocol.
 *
 *-------------------------------------------------------------------------
 */
#ifndef UNIFIED_PG_POOL_STATS_H
#define UNIFIED_PG_POOL_STATS_H

#include "port/atomics.h"
#include "portability/instr_time.h"
#include "storage/lwlock.h"
#include "storage/spin.h"

#include "unified_pg.h"

/* ---- histogram.c ---- */

/*
 * Latency histogram: values in whole microseconds; 16 linear buckets below
 * 16 us, then 16 buckets per power of two up to 2^32 us (71.6 minutes),
 * then one overflow bucket.
 */
#define UPG_HIST_SUB_BITS	4
#define UPG_HIST_SUB		(1 << UPG_HIST_SUB_BITS)
#define UPG_HIST_MAX_EXP	32
#define UPG_HIST_FINITE		(UPG_HIST_SUB + (UPG_HIST_MAX_EXP - UPG_HIST_SUB_BITS) * UPG_HIST_SUB)
#define UPG_HIST_BUCKETS	(UPG_HIST_FINITE + 1)

extern int	upg_hist_bucket(uint64 value_us);
extern double upg_hist_lower_us(int bucket);
extern double upg_hist_upper_us(int bucket);
extern double upg_hist_percentile_ms(const uint64 *counts, double p);

/* ---- pool_stats.c ---- */

/* entries keyed by pool name; entry 0 is "other" */
#define UPG_STATS_ENTRIES		48
#define UPG_STATS_OTHER			0
#define UPG_OTHER_POOL_NAME		"other"

/* the window ring: UPG_WINDOW_SPAN intervals of stats_window / UPG_WINDOW_SPAN */
#define UPG_WINDOW_SPAN			10
#define UPG_WINDOW_SLOTS		(UPG_WINDOW_SPAN + 2)

/* what a session counts; Anum-like positions, also the file layout */
typedef enum UpgCounter
{
	UPG_C_COMMIT,
	UPG_C_ROLLBACK,				/* explicit ROLLBACK, or a disconnect */
	UPG_C_FAILED,				/* aborted by an error */
	UPG_C_PREPARED,
	UPG_C_DEADLOCKS,
	UPG_C_ERRORS,
	UPG_C_BUSY_US,				/* time inside finished transactions */
	UPG_C_CONNECTED_US,			/* time connected (sessions that ended) */
	UPG_C_SESSIONS,				/* sessions admitted */
	UPG_C_STATEMENTS,
	UPG_C_LATENCY_US,			/* sum of statement latencies */
	/* partition pruning of queries of unified.chunks (pruning_stats.c) */
	UPG_C_PRUNE_QUERIES,		/* queries that filter on created_at */
	UPG_C_PRUNE_PARTITIONS,		/* partitions existing, summed over them */
	UPG_C_PRUNE_SKIPPED,		/* partitions not scanned, summed */
	UPG_C_PRUNE_UNPRUNABLE,		/* queries that cannot prune */
	UPG_NCOUNTERS
} UpgCounter;

#define UPG_NPRUNE	(UPG_C_PRUNE_UNPRUNABLE - UPG_C_PRUNE_QUERIES + 1)

/*
 * One interval of a window ring.  epoch 0 means "no interval": the writer
 * sets it while it clears the counts for a new interval, so that a reader
 * never adds counts of two intervals.
 */
typedef struct UpgWindowSlot
{
	pg_atomic_uint64 epoch;		/* interval number counted here; 0 = none */
	pg_atomic_uint32 counts[UPG_HIST_BUCKETS];
} UpgWindowSlot;

/* one pool, keyed by name */
typedef struct UpgStatsEntry
{
	pg_atomic_uint32 in_use;	/* name published */
	char		name[NAMEDATALEN];
	pg_atomic_uint32 held;		/* budget slots held by live sessions */
	pg_atomic_uint64 rejected;	/* connections refused by the budget */
	/* totals of sessions that ended (live ones are in their UpgSession) */
	pg_atomic_uint64 retired[UPG_NCOUNTERS];
	pg_atomic_uint64 retired_hist[UPG_HIST_BUCKETS];
	/* the window of sessions that ended; written under the stats lock */
	UpgWindowSlot window[UPG_WINDOW_SLOTS];
} UpgStatsEntry;

/*
 * One connected session, at the index of its backend.  Written only by
 * the session itself (plain stores through pg_atomic_write_*, no lock),
 * read by anyone; values of an older reset generation count as zero.
 * Cache-line aligned, so that no two sessions' hot counters share a line.
 */
typedef struct UpgSession
{
	pg_atomic_uint32 pid;		/* 0 when the slot is free */
	int			entry;			/* its pool */
	bool		holds_slot;		/* took a budget slot */
	TimestampTz connected_at;
	pg_atomic_uint64 generation;	/* reset generation of the values below */
	pg_atomic_uint64 counters[UPG_NCOUNTERS];
	pg_atomic_uint64 hist[UPG_HIST_BUCKETS];	/* since the reset */
	UpgWindowSlot window[UPG_WINDOW_SLOTS]; /* the window ring */
} pg_attribute_aligned(PG_CACHE_LINE_SIZE) UpgSession;

typedef struct UpgStatsShared
{
	LWLock	   *lock;			/* entry creation, reset, save and load */
	pg_atomic_uint64 generation;	/* bumped by every reset */
	pg_atomic_uint64 stats_reset;	/* TimestampTz of the last reset */
	UpgStatsEntry entries[UPG_STATS_ENTRIES];
	int			nsessions;
	UpgSession	sessions[FLEXIBLE_ARRAY_MEMBER];
} UpgStatsShared;

extern UpgStatsShared *upg_stats;
extern UpgSession *upg_my_session;
extern bool upg_in_startup_transaction;

extern int	upg_stats_entry_for(const char *pool_name);
extern int	upg_stats_find_entry(const char *pool_name);
extern void upg_stats_session_start(int entry, bool holds_slot);
extern void upg_stats_count(UpgCounter counter, uint64 amount);
extern void upg_stats_record_latency(uint64 us);
extern void upg_stats_reset(void);
extern TimestampTz upg_stats_counted_since(void);
extern int	upg_stats_window_epoch(TimestampTz ts, int *interval_s);
extern void upg_stats_session_prepare(void);

/* the budget slot of this session's pool (pool_quota.c) */
extern void upg_quota_release(int entry);

/* ---- stats_hooks.c: called by the hooks in hooks.c ---- */
struct QueryDesc;
extern void upg_stats_callbacks_register(void);
extern void upg_stats_executor_start(struct QueryDesc *queryDesc, int eflags);
extern bool upg_stats_executor_enter(struct QueryDesc *queryDesc, bool finish,
									 instr_time *start);
extern void upg_stats_executor_leave(void);
extern void upg_stats_executor_timed(struct QueryDesc *queryDesc, const instr_time *start);
extern void upg_stats_executor_end(struct QueryDesc *queryDesc);
extern bool upg_stats_utility_enter(instr_time *start);
extern void upg_stats_utility_leave(void);
extern void upg_stats_utility_timed(const instr_time *start);
extern void upg_stats_emit_log(ErrorData *edata);

/* ---- pool_quota.c ---- */
struct Port;
extern void upg_quota_client_authenticated(struct Port *port, int status);

/* ---- pruning_stats.c ---- */
extern void upg_pruning_observe(struct QueryDesc *queryDesc, int eflags);

#endif							/* UNIFIED_PG_POOL_STATS_H */
