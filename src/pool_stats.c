/*-------------------------------------------------------------------------
 *
 * pool_stats.c
 *		Shared statistics of the connection pools: state, sessions, saving.
 *
 * What is counted and where.  A session's pool is fixed when it connects
 * (pool_quota.c, from the startup packet's application_name) and the
 * session gets the UpgSession at its backend's index.  From then on the
 * hooks (stats_hooks.c) count into that UpgSession only: commits,
 * rollbacks, error aborts, prepares, deadlocks, errors, time in
 * transactions, the statement latency histogram, its window ring and
 * the partition pruning of unified.chunks.  Each UpgSession is written by
 * its own backend alone, with plain stores, and is cache-line aligned, so
 * the hot path takes no lock, makes no atomic read-modify-write and
 * writes no cache line that another backend writes: eight sessions of one
 * pool on eight cores do not slow each other down.  When a session ends,
 * it adds its values into its pool's "retired" totals (and its window
 * into the pool's window ring) and frees its UpgSession under the stats
 * LWLock, exclusively; a reader sums the retired totals and the live
 * sessions under it in shared mode, so that a session's numbers are seen
 * exactly once and no counter ever goes backwards.
 *
 * Entries are keyed by pool name, not by position in unified_pg.pools, so
 * backends that apply a reload of the setting at different moments still
 * agree on where a pool's numbers are.  An entry, once named, keeps its
 * name until the server stops; creating one takes the stats LWLock
 * exclusively (once per pool name), finding one takes no lock (the name is
 * written before in_use is set, with a barrier).  If all entries are
 * taken, new names count as "other".
 *
 * Reset.  unified.reset_stats() bumps a generation counter and zeroes the
 * shared totals under the LWLock; a session whose values carry an older
 * generation zeroes them itself at its next update, and readers treat them
 * as zero meanwhile.  So a reset never races with a session's plain
 * stores.
 *
 * The window.  Each session has a ring of UPG_WINDOW_SLOTS histograms,
 * each counting one interval of unified_pg.stats_window / UPG_WINDOW_SPAN
 * (about 22 kB per backend slot); a slot whose interval has passed is
 * cleared by the session's first statement of its new interval (a few
 * hundred stores, once per interval): its epoch is set to 0 first and to
 * the new interval last, with barriers, and a reader that sees the epoch
 * change while it copies a slot drops the copy.  A session that ends adds
 * the slots still inside the window to its pool's ring, under the stats
 * lock.  Percentiles of the window merge, over the pool's ring and its
 * live sessions, the current interval and the UPG_WINDOW_SPAN before it.
 *
 * Crash and restart.  At a clean shutdown (pg_control says so) the
 * postmaster writes the totals to pg_stat/unified_pg.stat, as
 * pg_stat_statements does; the next start loads and removes the file.  After a crash or an immediate
 * shutdown there is no file and the counters start from zero: a crash
 * loses at most the counters.  Live state (budget slots held, sessions)
 * is never saved: it is rebuilt by the connections themselves.  No I/O is
 * done under a lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "pool_stats.h"

#define UPG_STATS_TRANCHE	"unified_pg stats"
#define UPG_STATS_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/unified_pg.stat"
#define UPG_STATS_FILE_MAGIC	0x55504731	/* "UPG1" */
#define UPG_STATS_FILE_VERSION	2

int			upg_stats_window_s = 300;

UpgStatsShared *upg_stats = NULL;
UpgSession *upg_my_session = NULL;
bool		upg_in_startup_transaction = false;

static int	upg_my_index = -1;

static void upg_stats_shutdown(int code, Datum arg);
static void upg_stats_load(void);
static void upg_session_end(int code, Datum arg);

/* Define unified_pg.stats_window (called before the prefix is reserved). */
void
upg_stats_define_gucs(void)
{
	DefineCustomIntVariable("unified_pg.stats_window",
							"Period covered by the latency percentiles of unified.pool_stats.",
							"Percentiles merge the current tenth of the period and the ten before it.",
							&upg_stats_window_s,
							300,
							10,
							7 * 24 * 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}

/* Bytes of shared memory for the statistics (sessions cache-line aligned). */
static Size
upg_stats_shmem_size(void)
{
	return add_size(add_size(offsetof(UpgStatsShared, sessions), PG_CACHE_LINE_SIZE),
					mul_size(MaxBackends, sizeof(UpgSession)));
}

/* Clear a window slot to "no interval". */
static void
upg_window_slot_init(UpgWindowSlot *slot)
{
	int			k;

	pg_atomic_init_u64(&slot->epoch, 0);
	for (k = 0; k < UPG_HIST_BUCKETS; k++)
		pg_atomic_init_u32(&slot->counts[k], 0);
}

/* Reserve the statistics' shared memory and their LWLock. */
void
upg_stats_shmem_request(void)
{
	RequestAddinShmemSpace(upg_stats_shmem_size());
	RequestNamedLWLockTranche(UPG_STATS_TRANCHE, 1);
}

/* Initialize an empty statistics area. */
static void
upg_stats_init_area(void)
{
	int			i;

	memset(upg_stats, 0, upg_stats_shmem_size());
	upg_stats->lock = &(GetNamedLWLockTranche(UPG_STATS_TRANCHE))->lock;
	pg_atomic_init_u64(&upg_stats->generation, 1);
	pg_atomic_init_u64(&upg_stats->stats_reset, (uint64) GetCurrentTimestamp());
	for (i = 0; i < UPG_STATS_ENTRIES; i++)
	{
		UpgStatsEntry *e = &upg_stats->entries[i];
		int			j;

		pg_atomic_init_u32(&e->in_use, 0);
		pg_atomic_init_u32(&e->held, 0);
		pg_atomic_init_u64(&e->rejected, 0);
		for (j = 0; j < UPG_NCOUNTERS; j++)
			pg_atomic_init_u64(&e->retired[j], 0);
		for (j = 0; j < UPG_HIST_BUCKETS; j++)
			pg_atomic_init_u64(&e->retired_hist[j], 0);
		for (j = 0; j < UPG_WINDOW_SLOTS; j++)
			upg_window_slot_init(&e->window[j]);
	}
	upg_stats->nsessions = MaxBackends;
	for (i = 0; i < MaxBackends; i++)
	{
		UpgSession *s = &upg_stats->sessions[i];
		int			j;

		pg_atomic_init_u32(&s->pid, 0);
		pg_atomic_init_u64(&s->generation, 0);
		for (j = 0; j < UPG_WINDOW_SLOTS; j++)
			upg_window_slot_init(&s->window[j]);
	}

	strlcpy(upg_stats->entries[UPG_STATS_OTHER].name, UPG_OTHER_POOL_NAME, NAMEDATALEN);
	pg_atomic_write_u32(&upg_stats->entries[UPG_STATS_OTHER].in_use, 1);
}

/*
 * Create or attach to the statistics area.  The postmaster creates it,
 * loads what the last clean shutdown saved, and arranges to save at exit.
 */
void
upg_stats_shmem_startup(void)
{
	bool		found;
	void	   *raw;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	raw = ShmemInitStruct(UPG_STATS_TRANCHE, upg_stats_shmem_size(), &found);
	upg_stats = (UpgStatsShared *) TYPEALIGN(PG_CACHE_LINE_SIZE, raw);
	if (!found)
		upg_stats_init_area();
	LWLockRelease(AddinShmemInitLock);

	if (!IsUnderPostmaster)
	{
		on_shmem_exit(upg_stats_shutdown, (Datum) 0);
		if (!found)
			upg_stats_load();
	}
}

/* Index of the entry named pool_name, or -1; takes no lock. */
int
upg_stats_find_entry(const char *pool_name)
{
	int			i;

	for (i = 0; i < UPG_STATS_ENTRIES; i++)
	{
		UpgStatsEntry *e = &upg_stats->entries[i];

		if (pg_atomic_read_u32(&e->in_use) == 0)
			continue;
		pg_read_barrier();
		if (strcmp(e->name, pool_name) == 0)
			return i;
	}
	return -1;
}

/* Index of the entry named pool_name, creating it; "other" when full. */
int
upg_stats_entry_for(const char *pool_name)
{
	int			i;
	int			found;

	found = upg_stats_find_entry(pool_name);
	if (found >= 0)
		return found;

	LWLockAcquire(upg_stats->lock, LW_EXCLUSIVE);
	found = upg_stats_find_entry(pool_name);
	for (i = 0; found < 0 && i < UPG_STATS_ENTRIES; i++)
	{
		UpgStatsEntry *e = &upg_stats->entries[i];

		if (pg_atomic_read_u32(&e->in_use) != 0)
			continue;
		strlcpy(e->name, pool_name, NAMEDATALEN);
		pg_write_barrier();
		pg_atomic_write_u32(&e->in_use, 1);
		found = i;
	}
	LWLockRelease(upg_stats->lock);
	return found >= 0 ? found : UPG_STATS_OTHER;
}

/* Index of this backend's session slot. */
static int
upg_session_index(void)
{
	int			index = upg_my_backend_index();

	if (index < 0 || index >= upg_stats->nsessions)
		elog(ERROR, "backend index %d out of range", index);
	return index;
}

/*
 * Make this backend a session of pool entry; called once, while the
 * connection is being authenticated, after upg_stats_session_prepare()
 * (so that a budget slot taken in between is always given back).
 * Cannot fail.
 */
void
upg_stats_session_start(int entry, bool holds_slot)
{
	UpgSession *s = &upg_stats->sessions[upg_my_index];
	int			i;

	s->entry = entry;
	s->holds_slot = holds_slot;
	s->connected_at = GetCurrentTimestamp();
	pg_atomic_write_u64(&s->generation, pg_atomic_read_u64(&upg_stats->generation));
	for (i = 0; i < UPG_NCOUNTERS; i++)
		pg_atomic_write_u64(&s->counters[i], 0);
	for (i = 0; i < UPG_HIST_BUCKETS; i++)
		pg_atomic_write_u64(&s->hist[i], 0);
	for (i = 0; i < UPG_WINDOW_SLOTS; i++)
		pg_atomic_write_u64(&s->window[i].epoch, 0);
	pg_atomic_write_u64(&s->counters[UPG_C_SESSIONS], 1);
	pg_write_barrier();
	pg_atomic_write_u32(&s->pid, (uint32) MyProcPid);
	upg_my_session = s;
	upg_in_startup_transaction = true;
}

/* Find this backend's session slot; register the callback that ends it. */
void
upg_stats_session_prepare(void)
{
	upg_my_index = upg_session_index();
	on_shmem_exit(upg_session_end, (Datum) 0);
}

/* Zero this session's values if a reset happened since they were taken. */
static inline void
upg_session_catch_up(UpgSession *s)
{
	uint64		generation = pg_atomic_read_u64(&upg_stats->generation);
	int			i;

	if (likely(pg_atomic_read_u64(&s->generation) == generation))
		return;
	for (i = 0; i < UPG_NCOUNTERS; i++)
		pg_atomic_write_u64(&s->counters[i], 0);
	for (i = 0; i < UPG_HIST_BUCKETS; i++)
		pg_atomic_write_u64(&s->hist[i], 0);
	for (i = 0; i < UPG_WINDOW_SLOTS; i++)
		pg_atomic_write_u64(&s->window[i].epoch, 0);
	pg_write_barrier();
	pg_atomic_write_u64(&s->generation, generation);
}

/* Add to a value that only this backend writes. */
static inline void
upg_own_add(pg_atomic_uint64 *v, uint64 amount)
{
	pg_atomic_write_u64(v, pg_atomic_read_u64(v) + amount);
}

/* Count amount of counter for this session; a no-op outside a session. */
void
upg_stats_count(UpgCounter counter, uint64 amount)
{
	UpgSession *s = upg_my_session;

	if (s == NULL)
		return;
	upg_session_catch_up(s);
	upg_own_add(&s->counters[counter], amount);
}

/*
 * Number of the window interval holding ts, counted from 1; *interval_s
 * gets the interval's length.
 */
int
upg_stats_window_epoch(TimestampTz ts, int *interval_s)
{
	int			len = (upg_stats_window_s + UPG_WINDOW_SPAN - 1) / UPG_WINDOW_SPAN;

	if (len < 1)
		len = 1;
	*interval_s = len;
	return (int) (ts / ((int64) len * USECS_PER_SEC)) + 1;
}

/*
 * The slot of this session's window for interval epoch, cleared for it if
 * it held an older interval; NULL for an interval already overwritten.
 * The epoch reads 0 while the counts are cleared (see the banner).
 */
static UpgWindowSlot *
upg_own_window_slot(UpgSession *s, uint64 epoch)
{
	UpgWindowSlot *slot = &s->window[epoch % UPG_WINDOW_SLOTS];
	uint64		have = pg_atomic_read_u64(&slot->epoch);
	int			i;

	if (likely(have == epoch))
		return slot;
	if (have > epoch)
		return NULL;			/* a statement of an interval long gone */
	pg_atomic_write_u64(&slot->epoch, 0);
	pg_write_barrier();
	for (i = 0; i < UPG_HIST_BUCKETS; i++)
		pg_atomic_write_u32(&slot->counts[i], 0);
	pg_write_barrier();
	pg_atomic_write_u64(&slot->epoch, epoch);
	return slot;
}

/*
 * Start of the time this session's numbers cover: its connection, or the
 * last reset if that came later.  Busy time is clamped to it, so that a
 * transaction that began before either never counts more time than the
 * session was connected.
 */
TimestampTz
upg_stats_counted_since(void)
{
	TimestampTz reset = (TimestampTz) pg_atomic_read_u64(&upg_stats->stats_reset);

	return upg_my_session ? Max(upg_my_session->connected_at, reset) : reset;
}

/* Count one statement of this session that took us microseconds. */
void
upg_stats_record_latency(uint64 us)
{
	UpgSession *s = upg_my_session;
	UpgWindowSlot *slot;
	int			bucket;
	int			epoch;
	int			interval_s;
	uint32		n;

	if (s == NULL)
		return;
	upg_session_catch_up(s);
	bucket = upg_hist_bucket(us);
	upg_own_add(&s->hist[bucket], 1);
	upg_own_add(&s->counters[UPG_C_STATEMENTS], 1);
	upg_own_add(&s->counters[UPG_C_LATENCY_US], us);

	epoch = upg_stats_window_epoch(GetCurrentStatementStartTimestamp() + (TimestampTz) us,
								   &interval_s);
	slot = upg_own_window_slot(s, (uint64) epoch);
	if (slot != NULL)
	{
		n = pg_atomic_read_u32(&slot->counts[bucket]);
		pg_atomic_write_u32(&slot->counts[bucket], n + 1);
	}
}

/*
 * The slot of entry e's window for interval epoch, cleared for it if it
 * held an older interval; NULL for an interval already overwritten.
 * Caller holds the stats lock exclusively (readers hold it shared).
 */
static UpgWindowSlot *
upg_entry_window_slot(UpgStatsEntry *e, uint64 epoch)
{
	UpgWindowSlot *slot = &e->window[epoch % UPG_WINDOW_SLOTS];
	uint64		have = pg_atomic_read_u64(&slot->epoch);
	int			i;

	if (have == epoch)
		return slot;
	if (have > epoch)
		return NULL;
	for (i = 0; i < UPG_HIST_BUCKETS; i++)
		pg_atomic_write_u32(&slot->counts[i], 0);
	pg_atomic_write_u64(&slot->epoch, epoch);
	return slot;
}

/* Add the session's window slots still inside the window to its pool's. */
static void
upg_session_fold_window(UpgSession *s, UpgStatsEntry *e)
{
	int			interval_s;
	int64		now_epoch = upg_stats_window_epoch(GetCurrentTimestamp(), &interval_s);
	int			i;
	int			j;

	for (i = 0; i < UPG_WINDOW_SLOTS; i++)
	{
		uint64		epoch = pg_atomic_read_u64(&s->window[i].epoch);
		UpgWindowSlot *to;

		if (epoch == 0 || (int64) epoch < now_epoch - UPG_WINDOW_SPAN)
			continue;
		to = upg_entry_window_slot(e, epoch);
		if (to == NULL)
			continue;
		for (j = 0; j < UPG_HIST_BUCKETS; j++)
		{
			uint32		c = pg_atomic_read_u32(&s->window[i].counts[j]);

			if (c != 0)
				pg_atomic_write_u32(&to->counts[j], pg_atomic_read_u32(&to->counts[j]) + c);
		}
	}
}

/* Add a session's values to its pool's totals. */
static void
upg_session_fold(UpgSession *s, UpgStatsEntry *e)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz from = Max(s->connected_at,
						   (TimestampTz) pg_atomic_read_u64(&upg_stats->stats_reset));
	int			i;

	upg_session_catch_up(s);	/* after a reset, fold only what came since */
	if (now > from)
		upg_own_add(&s->counters[UPG_C_CONNECTED_US], (uint64) (now - from));
	for (i = 0; i < UPG_NCOUNTERS; i++)
		pg_atomic_fetch_add_u64(&e->retired[i], pg_atomic_read_u64(&s->counters[i]));
	for (i = 0; i < UPG_HIST_BUCKETS; i++)
	{
		uint64		c = pg_atomic_read_u64(&s->hist[i]);

		if (c != 0)
			pg_atomic_fetch_add_u64(&e->retired_hist[i], c);
	}
	upg_session_fold_window(s, e);
}

/*
 * Exit callback of a session: fold its values into its pool's totals,
 * give back its budget slot and free its UpgSession.  Folding and freeing
 * happen under the stats lock, which readers hold shared while they sum
 * totals and sessions, so that no reader counts a session twice or not at
 * all (counters that went backwards would look like resets to Prometheus).
 * Once per disconnect, never on the statement path.
 */
static void
upg_session_end(int code, Datum arg)
{
	UpgSession *s = upg_my_session;

	if (s == NULL)
		return;
	upg_my_session = NULL;
	LWLockAcquire(upg_stats->lock, LW_EXCLUSIVE);
	upg_session_fold(s, &upg_stats->entries[s->entry]);
	pg_atomic_write_u32(&s->pid, 0);
	LWLockRelease(upg_stats->lock);
	if (s->holds_slot)
		upg_quota_release(s->entry);
}

/* Zero every total and start a new generation (unified.reset_stats()). */
void
upg_stats_reset(void)
{
	int			i;
	int			j;

	LWLockAcquire(upg_stats->lock, LW_EXCLUSIVE);
	pg_atomic_fetch_add_u64(&upg_stats->generation, 1);
	pg_atomic_write_u64(&upg_stats->stats_reset, (uint64) GetCurrentTimestamp());
	for (i = 0; i < UPG_STATS_ENTRIES; i++)
	{
		UpgStatsEntry *e = &upg_stats->entries[i];

		pg_atomic_write_u64(&e->rejected, 0);
		for (j = 0; j < UPG_NCOUNTERS; j++)
			pg_atomic_write_u64(&e->retired[j], 0);
		for (j = 0; j < UPG_HIST_BUCKETS; j++)
			pg_atomic_write_u64(&e->retired_hist[j], 0);
		for (j = 0; j < UPG_WINDOW_SLOTS; j++)
			pg_atomic_write_u64(&e->window[j].epoch, 0);
	}
	LWLockRelease(upg_stats->lock);
}

/* ---------------------------------------------------------------------
 * Saving at shutdown, loading at start
 * ---------------------------------------------------------------------
 */

/* one entry as saved */
typedef struct UpgSavedEntry
{
	char		name[NAMEDATALEN];
	uint64		rejected;
	uint64		counters[UPG_NCOUNTERS];
	uint64		hist[UPG_HIST_BUCKETS];
} UpgSavedEntry;

/* the file's header: layout numbers first, so another build is refused */
typedef struct UpgSavedHeader
{
	uint32		magic;
	uint32		version;
	int32		ncounters;
	int32		nbuckets;
	int32		nentries;
	TimestampTz stats_reset;
} UpgSavedHeader;

/*
 * Did the server shut down cleanly?  The postmaster exits with code 0
 * after an immediate shutdown too, so ask pg_control: only a clean
 * shutdown leaves it marked shut down.
 */
static bool
upg_clean_shutdown(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		clean = false;

	PG_TRY();
	{
		bool		crc_ok;
		ControlFileData *control = get_controlfile(DataDir, &crc_ok);

		clean = crc_ok && (control->state == DB_SHUTDOWNED ||
						   control->state == DB_SHUTDOWNED_IN_RECOVERY);
		pfree(control);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
	}
	PG_END_TRY();
	return clean;
}

/*
 * Postmaster exit callback: at a clean shutdown write the totals.
 * Every backend has exited and folded its session into them, so nothing
 * else touches the area and no lock is needed.
 */
static void
upg_stats_shutdown(int code, Datum arg)
{
	UpgSavedHeader h;
	FILE	   *f;
	int			i;
	int			j;

	if (code != 0 || upg_stats == NULL || !upg_clean_shutdown())
		return;

	memset(&h, 0, sizeof(h));
	h.magic = UPG_STATS_FILE_MAGIC;
	h.version = UPG_STATS_FILE_VERSION;
	h.ncounters = UPG_NCOUNTERS;
	h.nbuckets = UPG_HIST_BUCKETS;
	h.stats_reset = (TimestampTz) pg_atomic_read_u64(&upg_stats->stats_reset);
	for (i = 0; i < UPG_STATS_ENTRIES; i++)
		if (pg_atomic_read_u32(&upg_stats->entries[i].in_use))
			h.nentries++;

	f = AllocateFile(UPG_STATS_FILE ".tmp", PG_BINARY_W);
	if (f == NULL)
		goto error;
	if (fwrite(&h, sizeof(h), 1, f) != 1)
		goto error;
	for (i = 0; i < UPG_STATS_ENTRIES; i++)
	{
		UpgStatsEntry *e = &upg_stats->entries[i];
		UpgSavedEntry se;

		if (!pg_atomic_read_u32(&e->in_use))
			continue;
		memset(&se, 0, sizeof(se));
		strlcpy(se.name, e->name, NAMEDATALEN);
		se.rejected = pg_atomic_read_u64(&e->rejected);
		for (j = 0; j < UPG_NCOUNTERS; j++)
			se.counters[j] = pg_atomic_read_u64(&e->retired[j]);
		for (j = 0; j < UPG_HIST_BUCKETS; j++)
			se.hist[j] = pg_atomic_read_u64(&e->retired_hist[j]);
		if (fwrite(&se, sizeof(se), 1, f) != 1)
			goto error;
	}
	if (FreeFile(f) != 0)
	{
		f = NULL;
		goto error;
	}
	(void) durable_rename(UPG_STATS_FILE ".tmp", UPG_STATS_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m", UPG_STATS_FILE ".tmp")));
	if (f)
		FreeFile(f);
	unlink(UPG_STATS_FILE ".tmp");
}

/* Copy one saved entry into the (fresh) area. */
static void
upg_stats_restore_entry(const UpgSavedEntry *se)
{
	UpgStatsEntry *e;
	int			index;
	int			j;

	if (memchr(se->name, '\0', NAMEDATALEN) == NULL)
		return;
	index = upg_stats_entry_for(se->name);
	if (index == UPG_STATS_OTHER && strcmp(se->name, UPG_OTHER_POOL_NAME) != 0)
		return;					/* no room: drop rather than misfile */
	e = &upg_stats->entries[index];
	pg_atomic_write_u64(&e->rejected, se->rejected);
	for (j = 0; j < UPG_NCOUNTERS; j++)
		pg_atomic_write_u64(&e->retired[j], se->counters[j]);
	for (j = 0; j < UPG_HIST_BUCKETS; j++)
		pg_atomic_write_u64(&e->retired_hist[j], se->hist[j]);
}

/*
 * Load what the last clean shutdown saved, then remove the file, so that
 * a crash before the next clean shutdown starts from zero rather than
 * from stale numbers.  A file of another layout is ignored with a LOG.
 */
static void
upg_stats_load(void)
{
	UpgSavedHeader h;
	UpgSavedEntry se;
	FILE	   *f;
	int			i;

	f = AllocateFile(UPG_STATS_FILE, PG_BINARY_R);
	if (f == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", UPG_STATS_FILE)));
		return;
	}
	if (fread(&h, sizeof(h), 1, f) != 1 ||
		h.magic != UPG_STATS_FILE_MAGIC || h.version != UPG_STATS_FILE_VERSION ||
		h.ncounters != UPG_NCOUNTERS || h.nbuckets != UPG_HIST_BUCKETS ||
		h.nentries < 0 || h.nentries > UPG_STATS_ENTRIES)
	{
		ereport(LOG,
				(errmsg("ignoring unified_pg statistics file \"%s\" of another layout",
						UPG_STATS_FILE)));
		goto done;
	}
	pg_atomic_write_u64(&upg_stats->stats_reset, (uint64) h.stats_reset);
	for (i = 0; i < h.nentries; i++)
	{
		if (fread(&se, sizeof(se), 1, f) != 1)
		{
			ereport(LOG,
					(errmsg("unified_pg statistics file \"%s\" is truncated", UPG_STATS_FILE)));
			break;
		}
		upg_stats_restore_entry(&se);
	}

done:
	FreeFile(f);
	unlink(UPG_STATS_FILE);
}
