/*-------------------------------------------------------------------------
 *
 * finisher.c
 *		Finishing prepared participants: here, and through long-lived
 *		finishers in other databases.
 *
 * COMMIT/ROLLBACK PREPARED only works in the database the transaction was
 * prepared in.  A coordinator or the resolver finishes the participants of
 * its own database itself and hands the others to a finisher: a dynamic
 * background worker connected to one database as the bootstrap superuser.
 *
 * Finishers are per database and long-lived.  The first request for a
 * database claims a slot in shared memory and starts its finisher; later
 * requests are queued in that slot, and the finisher serves them one after
 * the other.  A finisher idle for unified_pg.finisher_idle_timeout frees
 * its slot and exits, so that idle databases hold no worker slot.  With
 * max_worker_processes = 8, any number of clients committing across two
 * databases need one worker for the second database, not one per commit.
 * A slot is keyed by (database, lane): small requests go to lane 0; a large
 * batch (the resolver after a restart) is split over up to
 * UPG_FINISHER_LANES lanes, because every COMMIT PREPARED waits for its
 * own WAL flush and flushes of concurrent processes are shared.
 *
 * A coordinator's commit also uses the finisher of its own database: it
 * hands it half of this database's votes (only if it is idle: a busy one
 * would make the coordinator wait; then the coordinator commits them all)
 * and the other databases' votes to theirs, *armed*, before its decision.
 * An armed request waits for UPG_GO_NOW, which the coordinator sets once
 * its decision's commit record is in WAL; then everyone's COMMIT PREPARED
 * runs at once with commit_delay (UPG_SHARED_FLUSH_DELAY_US and
 * commit_siblings 0, unless the server or session sets a commit_delay of
 * its own, which is then kept as it is), so that the first to flush covers
 * them all.  A
 * finisher stops waiting when its requester is gone or has not decided
 * within UPG_ARMED_WAIT_MS, marking the request abandoned; the requester
 * then finishes those votes itself.
 *
 * A request is a DSM segment with a table of contents (shm_toc, magic
 * UPG_FINISH_MAGIC): the job (database, commit or roll back, count), the
 * items (gid, expected xid, status written by the finisher) and a shm_mq
 * from the finisher to the requester.  The finisher redirects its frontend
 * protocol output to that queue (pq_redirect_to_shm_mq, as parallel
 * workers and pg_background do), so an error while finishing an item --
 * or the FATAL that ends a finisher being terminated -- reaches the
 * requester whole: SQLSTATE, message, detail, hint.  The requester
 * re-raises it at its own level (WARNING for a coordinator, LOG for the
 * resolver).  An item the finisher cannot finish stays prepared and is
 * counted as left; the resolver finishes it later from the durable log.
 *
 * Locking: one LWLock (tranche "unified_pg finishers") protects the slots
 * and their queues; it is held only for a few stores, never across I/O.
 * Lost wake-ups are impossible: a requester enqueues under the lock and
 * then sets the finisher's latch; a finisher takes work or decides to
 * exit under the same lock, so it never exits with a request queued.
 *
 * Crash reasoning: a finisher that exits for any reason (idle, ERROR,
 * FATAL, being terminated) runs an exit callback that frees its slot and
 * wakes the requesters queued there; a requester that finds its request
 * neither queued nor being served, and its queue detached or never
 * attached, counts its items as left.  Items are finished one transaction
 * each and COMMIT/ROLLBACK PREPARED are atomic, so whatever is lost when a
 * process dies is at worst an item counted as left that was finished: the
 * resolver then sees it gone.  Everything durable is in the transaction
 * log and pg_twophase; shared memory only routes requests.
 *
 * Databases that refuse connections (ALLOW_CONNECTIONS false) are checked
 * before a finisher is started, so no finisher dies there with FATAL on
 * every pass: the resolver logs one line per database when it first finds
 * it refusing, and finishes its participants once connections are
 * allowed again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "libpq/pqmq.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "unified_pg.h"

/* databases served at once, and requests queued per database */
#define UPG_FINISHER_SLOTS			16
#define UPG_FINISHER_QUEUE			128
/*
 * Finishers one large batch is split over, in all databases together
 * (with the default max_worker_processes = 8, the two static workers and
 * the logical replication launcher leave five), and the batch size per
 * database worth splitting.
 */
#define UPG_FINISHER_LANES			4
#define UPG_FINISH_SPLIT_MIN		64
/* databases remembered as refusing connections (for the one log line) */
#define UPG_FINISHER_REFUSED		32

/* the request segment: magic number, keys, error queue size */
#define UPG_FINISH_MAGIC			UINT64CONST(0x7570672d66696e31)	/* "upg-fin1" */
#define UPG_FINISH_KEY_JOB			1
#define UPG_FINISH_KEY_ITEMS		2
#define UPG_FINISH_KEY_QUEUE		3
#define UPG_FINISH_QUEUE_SIZE		16384

/* how long a requester waits for a free slot or queue place, in ms */
#define UPG_FINISH_SUBMIT_WAIT_MS	10000
/* how long a finisher waits for an armed request's go, in ms */
#define UPG_ARMED_WAIT_MS			5000
/*
 * commit_delay of COMMIT PREPAREDs run concurrently for one decision, in
 * microseconds: about the time a finisher needs to wake up and write its
 * record, so that the first flush covers every one of them.
 */
#define UPG_SHARED_FLUSH_DELAY_US	100

/* upg_finisher_state() */
#define UPG_FINISHER_NONE			0	/* no finisher for the lane */
#define UPG_FINISHER_IDLE			1	/* running, nothing queued or served */
#define UPG_FINISHER_BUSY			2	/* starting, or working */

/* what became of one item */
typedef enum UpgFinishStatus
{
	UPG_FINISH_PENDING = 0,		/* not looked at (yet) */
	UPG_FINISH_DONE,			/* committed or rolled back */
	UPG_FINISH_GONE,			/* no longer prepared when looked at */
	UPG_FINISH_FAILED			/* an error, sent back through the queue */
} UpgFinishStatus;

/* UpgFinishJob.go: may the finisher start? */
#define UPG_GO_WAIT			0	/* armed: wait for the requester's decision */
#define UPG_GO_NOW			1	/* finish the items */
#define UPG_GO_CANCEL		2	/* the requester gave up: finish nothing */
#define UPG_GO_ABANDONED	3	/* the finisher stopped waiting: nothing done */

typedef struct UpgFinishJob
{
	Oid			dboid;
	bool		commit;
	int			nitems;
	int			flush_delay_us; /* commit_delay to share a flush; 0: none */
	pid_t		requester_pid;	/* an armed job's requester, checked while waiting */
	pg_atomic_uint32 go;		/* UPG_GO_* */
} UpgFinishJob;

typedef struct UpgFinishItem
{
	char		gid[GIDSIZE];
	TransactionId xid;			/* the vote to finish; invalid: any */
	int			status;			/* UpgFinishStatus, written by the finisher */
} UpgFinishItem;

/* one queued request */
typedef struct UpgFinisherQueued
{
	dsm_handle	handle;
	Latch	   *requester;		/* woken if the finisher goes away */
} UpgFinisherQueued;

/* the finisher of one database */
typedef struct UpgFinisherSlot
{
	Oid			dboid;			/* InvalidOid: free */
	int			lane;			/* which of the database's finishers */
	uint64		generation;		/* tells incarnations of the slot apart */
	pid_t		pid;			/* 0 until the finisher has started */
	Latch	   *latch;			/* the finisher's latch, once started */
	bool		serving;		/* a request has been taken ... */
	dsm_handle	serving_handle; /* ... this one */
	int			nqueued;
	UpgFinisherQueued queue[UPG_FINISHER_QUEUE];
} UpgFinisherSlot;

typedef struct UpgFinisherShared
{
	LWLock	   *lock;
	uint64		next_generation;
	bool		start_failure_logged;	/* said once that no worker starts */
	int			nrefused;
	Oid			refused[UPG_FINISHER_REFUSED];	/* logged as refusing */
	uint64		finishers_started;
	uint64		requests;
	UpgFinisherSlot slots[UPG_FINISHER_SLOTS];
} UpgFinisherShared;

/* a request as its requester sees it */
typedef struct UpgFinishRequest
{
	Oid			dboid;
	int			lane;
	int			nitems;
	int		   *index;			/* positions of the items in the caller's array */
	dsm_segment *seg;
	shm_mq_handle *mqh;
	UpgFinishItem *items;
	int			slotno;
	uint64		generation;
	BackgroundWorkerHandle *started;	/* set if we started the finisher */
	bool		if_idle;		/* only hand it to an idle, running finisher */
	bool		deferred;		/* armed, but its finisher was busy: submit at go */
	bool		submitted;
	bool		over;			/* the finisher is done with it, or gone */
	UpgFinishJob *job;
} UpgFinishRequest;

/* a batch being finished: upg_finish_start ... upg_finish_wait */
struct UpgFinishBatch
{
	MemoryContext cxt;
	UpgParticipant *parts;
	int			n;
	bool		commit;
	bool		armed;			/* requests wait for upg_finish_go */
	int			elevel;
	bool	   *here;			/* finished by us */
	bool	   *isdone;
	UpgFinishRequest *reqs;
	int			nreqs;
};

static UpgFinisherShared *upg_fin = NULL;

/* finisher process only: its slot */
static int	upg_my_slot = -1;
static uint64 upg_my_generation = 0;

int			upg_finisher_idle_timeout_s = 10;

static bool upg_database_accepts(Oid dboid, char **name);
static void upg_note_refusal(Oid dboid, const char *name, int n, int elevel);
static void upg_clear_refusal(Oid dboid);
static bool upg_submit(UpgFinishRequest *req, UpgParticipant *parts, bool commit,
					   bool armed, int elevel);
static bool upg_enqueue(UpgFinishRequest *req, bool *start, Latch **latch);
static int	upg_finisher_state(Oid dboid, int lane);
static void upg_wake_finisher(UpgFinishRequest *req);
static void upg_share_flush(int delay_us);
static bool upg_start_finisher(UpgFinishRequest *req, int elevel);
static void upg_forget_slot(int slotno, uint64 generation);
static bool upg_poll(UpgFinishRequest *req, int elevel);
static void upg_wait_all(UpgFinishRequest *reqs, int nreqs, int elevel);
static bool upg_request_alive(UpgFinishRequest *req);
static void upg_rethrow(StringInfo msg, Oid dboid, int elevel);
static bool *upg_assign(UpgParticipant *parts, int n, bool share,
						UpgFinishRequest *reqs, int *nreqs);
static void upg_finish_local(UpgParticipant *parts, bool *here, int n, bool commit,
							 bool in_procedure, UpgStep *open_step, bool shared_flush,
							 const char *pause_point, bool *pause, bool *done);
static bool upg_wait_for_go(UpgFinishJob *job);
static void upg_finisher_loop(void);
static bool upg_take_request(TimestampTz last_work, dsm_handle *handle);
static void upg_serve(dsm_handle handle);
static void upg_serve_items(UpgFinishJob *job, UpgFinishItem *items);
static void upg_mark_present(UpgFinishItem *items, int n);
static void upg_finisher_on_exit(int code, Datum arg);

/* ---------------------------------------------------------------------
 * Shared memory
 * ---------------------------------------------------------------------
 */

/* Size of the finisher registry. */
Size
upg_finisher_shmem_size(void)
{
	return MAXALIGN(sizeof(UpgFinisherShared));
}

/* Reserve the registry's memory and lock; from shmem_request_hook. */
void
upg_finisher_shmem_request(void)
{
	RequestAddinShmemSpace(upg_finisher_shmem_size());
	RequestNamedLWLockTranche("unified_pg finishers", 1);
}

/* Create or attach to the registry; from shmem_startup_hook. */
void
upg_finisher_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	upg_fin = ShmemInitStruct("unified_pg finishers", upg_finisher_shmem_size(), &found);
	if (!found)
	{
		memset(upg_fin, 0, upg_finisher_shmem_size());
		upg_fin->lock = &(GetNamedLWLockTranche("unified_pg finishers"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* ---------------------------------------------------------------------
 * Requester side
 * ---------------------------------------------------------------------
 */

/*
 * Start finishing prepared participants: hand those of other databases
 * to their finishers (and, see upg_assign, part of a commit or of a large
 * batch of this database to finishers of this database).  armed: the
 * requests wait for upg_finish_go before finishing anything, so that a
 * coordinator can hand them out before its decision and let everyone
 * commit at once after it.  Every upg_finish_start is followed by
 * upg_finish_wait, or by upg_finish_cancel on error.
 */
UpgFinishBatch *
upg_finish_start(UpgParticipant *parts, int n, bool commit, bool armed, int elevel)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "unified_pg finishing",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	UpgFinishBatch *b = palloc0(sizeof(UpgFinishBatch));
	bool		own_xact = !IsTransactionState();
	int			r;

	b->cxt = cxt;
	b->n = n;
	b->parts = palloc(sizeof(UpgParticipant) * Max(n, 1));
	memcpy(b->parts, parts, sizeof(UpgParticipant) * n);
	b->commit = commit;
	b->armed = armed;
	b->elevel = elevel;
	b->isdone = palloc0(sizeof(bool) * Max(n, 1));
	b->reqs = palloc0(sizeof(UpgFinishRequest) * (n + UPG_FINISHER_LANES + 1));
	b->here = upg_assign(b->parts, n, commit && armed, b->reqs, &b->nreqs);

	PG_TRY();
	{
		/* the database checks read the syscache */
		if (own_xact)
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			MemoryContextSwitchTo(cxt);
		}
		for (r = 0; r < b->nreqs; r++)
		{
			UpgFinishRequest *req = &b->reqs[r];
			int			i;

			/*
			 * An armed request holds its finisher until the go: with a busy
			 * finisher (other coordinators queued there) that would make
			 * them all wait for our decision; hand it out at the go instead.
			 */
			if (armed && !req->if_idle &&
				upg_finisher_state(req->dboid, req->lane) == UPG_FINISHER_BUSY)
			{
				req->deferred = true;
				continue;
			}
			req->submitted = upg_submit(req, b->parts, commit, armed, elevel);
			/* a busy finisher of this database: we finish its share ourselves */
			if (!req->submitted && req->if_idle)
				for (i = 0; i < req->nitems; i++)
					b->here[req->index[i]] = true;
		}
		if (own_xact)
			CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		upg_finish_cancel(b);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	return b;
}

/*
 * Let the armed requests of a batch go.  A coordinator calls it once its
 * decision's commit record is in WAL: every COMMIT PREPARED a finisher
 * writes after this comes after the decision in WAL, so the flush that
 * makes any of them durable makes the decision durable first.  A request
 * whose finisher stopped waiting (UPG_GO_ABANDONED) was not served: if it
 * is of this database we finish its items ourselves, otherwise it is
 * handed out again.
 */
void
upg_finish_go(UpgFinishBatch *b)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(b->cxt);
	int			r,
				i;

	for (r = 0; r < b->nreqs; r++)
	{
		UpgFinishRequest *req = &b->reqs[r];
		uint32		expected = UPG_GO_WAIT;

		if (req->deferred)
		{
			req->deferred = false;
			req->submitted = upg_submit(req, b->parts, b->commit, false, b->elevel);
			continue;
		}
		if (!req->submitted || req->job == NULL)
			continue;
		if (pg_atomic_compare_exchange_u32(&req->job->go, &expected, UPG_GO_NOW))
		{
			upg_wake_finisher(req);
			continue;
		}
		/* abandoned: nothing of it was done */
		dsm_detach(req->seg);
		req->seg = NULL;
		req->submitted = false;
		if (req->dboid == MyDatabaseId)
		{
			for (i = 0; i < req->nitems; i++)
				b->here[req->index[i]] = true;
			continue;
		}
		req->submitted = upg_submit(req, b->parts, b->commit, false, b->elevel);
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Give up a batch before upg_finish_wait (the caller is raising an
 * error): armed requests are cancelled, every segment detached.  Never
 * raises an error itself.
 */
void
upg_finish_cancel(UpgFinishBatch *b)
{
	int			r;

	if (b == NULL)
		return;
	for (r = 0; r < b->nreqs; r++)
	{
		UpgFinishRequest *req = &b->reqs[r];

		if (req->seg == NULL)
			continue;
		if (req->job != NULL)
		{
			uint32		expected = UPG_GO_WAIT;

			if (pg_atomic_compare_exchange_u32(&req->job->go, &expected, UPG_GO_CANCEL))
				upg_wake_finisher(req);
		}
		dsm_detach(req->seg);
		req->seg = NULL;
	}
	MemoryContextDelete(b->cxt);
}

/*
 * Finish the batch: our share here, each in a step of its own (or, with a
 * step given, all in that one, which is left open: a coordinator records
 * completion in it), while the finishers work on theirs; then wait for
 * them.  A request of this database that its finisher did not get to (it
 * went away) is finished here too.  If *pause, stop at pause_point once
 * the first participant here is finished, and clear *pause.  Failures are
 * reported at the batch's elevel.  done[i] (if not NULL) tells which
 * participants are no longer prepared.  Returns how many are left
 * prepared; frees the batch.
 */
int
upg_finish_wait(UpgFinishBatch *b, bool in_procedure, UpgStep *step,
				const char *pause_point, bool *pause, bool *done)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(b->cxt);
	bool		shared_flush = false;
	int			left = 0;
	int			i,
				r;

	for (r = 0; r < b->nreqs; r++)
		if (b->armed && b->reqs[r].submitted)
			shared_flush = true;

	PG_TRY();
	{
		upg_finish_local(b->parts, b->here, b->n, b->commit, in_procedure, step,
						 shared_flush, pause_point, pause, b->isdone);
		MemoryContextSwitchTo(b->cxt);

		upg_wait_all(b->reqs, b->nreqs, b->elevel);
		memset(b->here, 0, sizeof(bool) * b->n);
		for (r = 0; r < b->nreqs; r++)
		{
			UpgFinishRequest *req = &b->reqs[r];

			if (!req->submitted)
				continue;
			for (i = 0; i < req->nitems; i++)
			{
				int			st = req->items[i].status;

				if (st == UPG_FINISH_DONE || st == UPG_FINISH_GONE)
					b->isdone[req->index[i]] = true;
				else if (st == UPG_FINISH_PENDING && req->dboid == MyDatabaseId)
					b->here[req->index[i]] = true;
			}
		}
		/* what a finisher of this database left untouched */
		upg_finish_local(b->parts, b->here, b->n, b->commit, in_procedure, step,
						 false, NULL, pause, b->isdone);
		MemoryContextSwitchTo(b->cxt);
	}
	PG_FINALLY();
	{
		for (r = 0; r < b->nreqs; r++)
			if (b->reqs[r].seg != NULL)
			{
				dsm_detach(b->reqs[r].seg);
				b->reqs[r].seg = NULL;
			}
	}
	PG_END_TRY();

	for (i = 0; i < b->n; i++)
	{
		if (!b->isdone[i])
			left++;
		if (done != NULL)
			done[i] = b->isdone[i];
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(b->cxt);
	return left;
}

/*
 * Finish prepared participants at once (upg_finish_start, then
 * upg_finish_wait); the resolver's entry point.  Returns how many are left
 * prepared.
 */
int
upg_finish_batch(UpgParticipant *parts, int n, bool commit, bool in_procedure,
				 const char *pause_point, bool *pause, int elevel, bool *done)
{
	UpgFinishBatch *b = upg_finish_start(parts, n, commit, false, elevel);

	return upg_finish_wait(b, in_procedure, NULL, pause_point, pause, done);
}

/* upg_finish_batch without the per-participant result. */
int
upg_finish_participants(UpgParticipant *parts, int n, bool commit, bool in_procedure,
						const char *pause_point, bool *pause, int elevel)
{
	return upg_finish_batch(parts, n, commit, in_procedure, pause_point, pause,
							elevel, NULL);
}

/*
 * Decide who finishes what: participants of other databases go to their
 * finishers, split over several finishers (UPG_FINISHER_LANES shared by
 * the databases with large batches) when there are many
 * (COMMIT PREPARED waits for its own WAL flush, and concurrent flushes
 * are shared).  Those of this database are finished here, except that a
 * large batch (the resolver after a restart) sends part of them to
 * finishers of this database too, and (share: a coordinator's commit) a
 * small batch of several sends half of them to this database's first
 * finisher unless it is busy -- so that their COMMIT PREPAREDs share one
 * flush instead of waiting for one each.  Fills reqs (the index of each
 * item in parts); returns which parts are finished here.
 */
static bool *
upg_assign(UpgParticipant *parts, int n, bool share, UpgFinishRequest *reqs, int *nreqs)
{
	bool	   *here = palloc0(sizeof(bool) * Max(n, 1));
	bool	   *seen = palloc0(sizeof(bool) * Max(n, 1));
	int		   *group = palloc(sizeof(int) * Max(n, 1));
	int			nlarge = 0;
	int			i,
				j;

	/* how many databases have a batch worth splitting: they share the lanes */
	for (i = 0; i < n; i++)
	{
		int			m = 0;

		if (seen[i])
			continue;
		for (j = i; j < n; j++)
			if (!seen[j] && parts[j].dboid == parts[i].dboid)
			{
				seen[j] = true;
				m++;
			}
		if (m >= UPG_FINISH_SPLIT_MIN)
			nlarge++;
	}
	memset(seen, 0, sizeof(bool) * Max(n, 1));

	for (i = 0; i < n; i++)
	{
		Oid			db = parts[i].dboid;
		int			m = 0;
		int			nlocal = 0;
		int			lanes = 1;
		bool		if_idle = false;
		int			lane;
		int			k;

		if (seen[i])
			continue;
		for (j = i; j < n; j++)
			if (!seen[j] && parts[j].dboid == db)
			{
				seen[j] = true;
				group[m++] = j;
			}

		if (m >= UPG_FINISH_SPLIT_MIN)
			lanes = Max(1, UPG_FINISHER_LANES / nlarge);
		if (db == MyDatabaseId)
		{
			if (m >= UPG_FINISH_SPLIT_MIN)
				nlocal = m / (lanes + 1);
			else if (share && m >= 2)
			{
				nlocal = (m + 1) / 2;
				if_idle = true;
			}
			else
				nlocal = m;
		}
		for (k = 0; k < nlocal; k++)
			here[group[k]] = true;
		if (nlocal == m)
			continue;

		for (lane = 0; lane < lanes; lane++)
		{
			UpgFinishRequest *req = &reqs[(*nreqs)++];

			req->dboid = db;
			req->lane = lane;
			req->if_idle = if_idle;
			req->index = palloc(sizeof(int) * m);
		}
		for (k = nlocal; k < m; k++)
		{
			UpgFinishRequest *req = &reqs[*nreqs - lanes + (k - nlocal) % lanes];

			req->index[req->nitems++] = group[k];
		}
	}
	pfree(seen);
	pfree(group);
	return here;
}

/*
 * Set the finisher's latch of a request (after changing its go flag): it
 * may be waiting for it.
 */
static void
upg_wake_finisher(UpgFinishRequest *req)
{
	UpgFinisherSlot *slot = &upg_fin->slots[req->slotno];
	Latch	   *latch = NULL;

	LWLockAcquire(upg_fin->lock, LW_SHARED);
	if (slot->generation == req->generation && slot->dboid != InvalidOid)
		latch = slot->latch;
	LWLockRelease(upg_fin->lock);
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * Make COMMIT PREPAREDs of the current transaction wait delay_us for
 * concurrent ones before flushing, whatever the number of other active
 * transactions (commit_siblings = 0), so that one flush serves them all;
 * reverts at the end of the transaction.  Only where the server or session
 * has no commit_delay of its own: one that is set (with its
 * commit_siblings) is the operator's group-commit policy, kept as it is,
 * neither lowered nor made to sleep where it would not.
 */
static void
upg_share_flush(int delay_us)
{
	const char *current = GetConfigOption("commit_delay", false, false);
	char		value[16];

	/* commit_delay is not exported by PostgreSQL 15's headers */
	if (current != NULL && atoi(current) > 0)
		return;
	snprintf(value, sizeof(value), "%d", delay_us);
	(void) set_config_option("commit_delay", value, PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("commit_siblings", "0", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * Finish the participants marked here, each in a step of its own, or all
 * in open_step (opened if it is not, left open).  Items whose xid is known
 * need no look at pg_prepared_xacts first (upg_dtx_finish_here checks the
 * xid is still prepared); the others get one.  shared_flush: finishers
 * commit concurrently, wait for their records before flushing.
 */
static void
upg_finish_local(UpgParticipant *parts, bool *here, int n, bool commit, bool in_procedure,
				 UpgStep *open_step, bool shared_flush, const char *pause_point,
				 bool *pause, bool *done)
{
	UpgStep		own = {.in_procedure = in_procedure};
	UpgStep    *step = open_step ? open_step : &own;
	UpgFinishItem *items;
	int		   *index;
	int			nlocal = 0;
	bool		any_unknown = false;
	int			i;

	Assert(open_step == NULL || in_procedure);
	items = palloc0(sizeof(UpgFinishItem) * Max(n, 1));
	index = palloc(sizeof(int) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		if (!here[i] || done[i])
			continue;
		strlcpy(items[nlocal].gid, parts[i].gid, GIDSIZE);
		items[nlocal].xid = parts[i].xid;
		items[nlocal].status = UPG_FINISH_PENDING;
		if (!TransactionIdIsValid(parts[i].xid))
			any_unknown = true;
		index[nlocal++] = i;
	}
	if (nlocal == 0)
		return;

	if (any_unknown)
	{
		if (!step->open)
			upg_step_start(step);
		upg_mark_present(items, nlocal);
		if (open_step == NULL)
			upg_step_commit(step, false);
	}
	if (open_step != NULL)
	{
		if (!step->open)
			upg_step_start(step);
		if (shared_flush)
			upg_share_flush(UPG_SHARED_FLUSH_DELAY_US);
	}

	for (i = 0; i < nlocal; i++)
	{
		if (items[i].status == UPG_FINISH_GONE)
		{
			done[index[i]] = true;
			continue;
		}
		CHECK_FOR_INTERRUPTS();
		if (open_step != NULL)
			(void) upg_dtx_finish_here(items[i].gid, items[i].xid, commit);
		else if (in_procedure)
		{
			upg_step_start(step);
			if (shared_flush)
				upg_share_flush(UPG_SHARED_FLUSH_DELAY_US);
			(void) upg_dtx_finish_here(items[i].gid, items[i].xid, commit);
			upg_step_commit(step, false);
		}
		else
		{
			/*
			 * A worker is the bootstrap superuser already, and COMMIT
			 * PREPARED needs neither SPI nor a snapshot: with thousands
			 * prepared after a restart, each snapshot would list them all.
			 */
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			(void) upg_dtx_finish_here(items[i].gid, items[i].xid, commit);
			CommitTransactionCommand();
		}
		done[index[i]] = true;
		if (*pause && pause_point != NULL)
		{
			*pause = false;
			upg_dtx_pause_point(pause_point);
		}
	}
}

/*
 * Is the database there and accepting connections?  Reads the syscache,
 * so it must run in a transaction.  *name is its name (or its oid).
 */
static bool
upg_database_accepts(Oid dboid, char **name)
{
	HeapTuple	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	bool		accepts = false;

	if (!HeapTupleIsValid(tup))
	{
		*name = psprintf("%u", dboid);
		return false;
	}
	accepts = ((Form_pg_database) GETSTRUCT(tup))->datallowconn;
	*name = pstrdup(NameStr(((Form_pg_database) GETSTRUCT(tup))->datname));
	ReleaseSysCache(tup);
	return accepts;
}

/*
 * Say that a database refuses connections: a coordinator is always told
 * (WARNING); the resolver logs it once, when it first finds it so.
 */
static void
upg_note_refusal(Oid dboid, const char *name, int n, int elevel)
{
	bool		first = true;
	int			i;

	LWLockAcquire(upg_fin->lock, LW_EXCLUSIVE);
	for (i = 0; i < upg_fin->nrefused; i++)
		if (upg_fin->refused[i] == dboid)
			first = false;
	if (first && upg_fin->nrefused < UPG_FINISHER_REFUSED)
		upg_fin->refused[upg_fin->nrefused++] = dboid;
	LWLockRelease(upg_fin->lock);

	if (first || elevel >= WARNING)
		ereport(elevel,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("database \"%s\" does not accept connections; %d prepared participants there wait",
						name, n),
				 errdetail("Prepared transactions can only be finished from their own database."),
				 errhint("ALTER DATABASE %s ALLOW_CONNECTIONS true; the resolver then finishes them.",
						 quote_identifier(name))));
}

/* Forget that a database refused connections: it accepts them now. */
static void
upg_clear_refusal(Oid dboid)
{
	int			i;

	LWLockAcquire(upg_fin->lock, LW_EXCLUSIVE);
	for (i = 0; i < upg_fin->nrefused; i++)
		if (upg_fin->refused[i] == dboid)
		{
			upg_fin->refused[i] = upg_fin->refused[--upg_fin->nrefused];
			break;
		}
	LWLockRelease(upg_fin->lock);
}

/*
 * Build the request's segment and queue it at its database's finisher,
 * starting one if there is none.  Returns false (reported at elevel) when
 * the database refuses connections or no finisher can take it.
 */
static bool
upg_submit(UpgFinishRequest *req, UpgParticipant *parts, bool commit, bool armed,
		   int elevel)
{
	shm_toc_estimator e;
	shm_toc    *toc;
	UpgFinishJob *job;
	shm_mq	   *mq;
	Size		size;
	char	   *dbname;
	bool		start = false;
	Latch	   *latch = NULL;
	int			i;

	upg_require_shmem();
	req->job = NULL;
	if (req->if_idle)
	{
		/* not worth a wait: a busy finisher's share is finished by the caller */
		if (upg_finisher_state(req->dboid, req->lane) == UPG_FINISHER_BUSY)
			return false;
	}
	if (!upg_database_accepts(req->dboid, &dbname))
	{
		upg_note_refusal(req->dboid, dbname, req->nitems, elevel);
		return false;
	}
	upg_clear_refusal(req->dboid);

	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, sizeof(UpgFinishJob));
	shm_toc_estimate_chunk(&e, sizeof(UpgFinishItem) * req->nitems);
	shm_toc_estimate_chunk(&e, UPG_FINISH_QUEUE_SIZE);
	shm_toc_estimate_keys(&e, 3);
	size = shm_toc_estimate(&e);

	/* the request outlives the caller's transactions: it is ours to detach */
	req->seg = dsm_create(size, 0);
	dsm_pin_mapping(req->seg);
	toc = shm_toc_create(UPG_FINISH_MAGIC, dsm_segment_address(req->seg), size);

	job = shm_toc_allocate(toc, sizeof(UpgFinishJob));
	job->dboid = req->dboid;
	job->commit = commit;
	job->nitems = req->nitems;
	job->flush_delay_us = armed && commit ? UPG_SHARED_FLUSH_DELAY_US : 0;
	job->requester_pid = MyProcPid;
	pg_atomic_init_u32(&job->go, armed ? UPG_GO_WAIT : UPG_GO_NOW);
	if (armed)
		req->job = job;
	shm_toc_insert(toc, UPG_FINISH_KEY_JOB, job);

	req->items = shm_toc_allocate(toc, sizeof(UpgFinishItem) * req->nitems);
	for (i = 0; i < req->nitems; i++)
	{
		UpgParticipant *p = &parts[req->index[i]];

		strlcpy(req->items[i].gid, p->gid, GIDSIZE);
		req->items[i].xid = p->xid;
		req->items[i].status = UPG_FINISH_PENDING;
	}
	shm_toc_insert(toc, UPG_FINISH_KEY_ITEMS, req->items);

	mq = shm_mq_create(shm_toc_allocate(toc, UPG_FINISH_QUEUE_SIZE), UPG_FINISH_QUEUE_SIZE);
	shm_toc_insert(toc, UPG_FINISH_KEY_QUEUE, mq);
	shm_mq_set_receiver(mq, MyProc);
	req->mqh = shm_mq_attach(mq, req->seg, NULL);

	if (!upg_enqueue(req, &start, &latch))
	{
		dsm_detach(req->seg);
		req->seg = NULL;
		req->job = NULL;
		if (req->if_idle)
			return false;		/* it became busy meanwhile: the caller does it */
		ereport(elevel,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no unified_pg finisher could take %d participants in database \"%s\"",
						req->nitems, dbname),
				 errdetail("At most %d finishers run at once, with %d requests queued each.",
						   UPG_FINISHER_SLOTS, UPG_FINISHER_QUEUE),
				 errhint("The resolver retries on its next pass.")));
		return false;
	}
	if (start)
	{
		/* for a share we can finish ourselves, failing to start is no news */
		if (upg_start_finisher(req, req->if_idle ? DEBUG1 : elevel))
			return true;
		dsm_detach(req->seg);
		req->seg = NULL;
		req->job = NULL;
		return false;
	}
	if (latch != NULL)
		SetLatch(latch);
	return true;
}

/* Is the finisher of a database's lane running and idle, busy, or none? */
static int
upg_finisher_state(Oid dboid, int lane)
{
	int			state = UPG_FINISHER_NONE;
	int			s;

	LWLockAcquire(upg_fin->lock, LW_SHARED);
	for (s = 0; s < UPG_FINISHER_SLOTS; s++)
	{
		UpgFinisherSlot *slot = &upg_fin->slots[s];

		if (slot->dboid != dboid || slot->lane != lane)
			continue;
		state = (slot->latch != NULL && !slot->serving && slot->nqueued == 0) ?
			UPG_FINISHER_IDLE : UPG_FINISHER_BUSY;
		break;
	}
	LWLockRelease(upg_fin->lock);
	return state;
}

/*
 * Put the request in its database's queue, claiming a free slot if the
 * database has none (then *start: the caller starts its finisher).  Waits
 * a little for a place; false if none came.
 */
static bool
upg_enqueue(UpgFinishRequest *req, bool *start, Latch **latch)
{
	int			waited = 0;

	for (;;)
	{
		int			free_slot = -1;
		int			s;

		LWLockAcquire(upg_fin->lock, LW_EXCLUSIVE);
		for (s = 0; s < UPG_FINISHER_SLOTS; s++)
		{
			UpgFinisherSlot *slot = &upg_fin->slots[s];

			if (slot->dboid == req->dboid && slot->lane == req->lane)
				break;
			if (slot->dboid == InvalidOid && free_slot < 0)
				free_slot = s;
		}
		if (req->if_idle && s < UPG_FINISHER_SLOTS &&
			(upg_fin->slots[s].latch == NULL || upg_fin->slots[s].serving ||
			 upg_fin->slots[s].nqueued > 0))
		{
			LWLockRelease(upg_fin->lock);
			return false;		/* busy: not worth waiting for */
		}
		if (s == UPG_FINISHER_SLOTS && free_slot >= 0)
		{
			UpgFinisherSlot *slot = &upg_fin->slots[free_slot];

			s = free_slot;
			slot->dboid = req->dboid;
			slot->lane = req->lane;
			slot->generation = ++upg_fin->next_generation;
			slot->pid = 0;
			slot->latch = NULL;
			slot->serving = false;
			slot->nqueued = 0;
			*start = true;
		}
		if (s < UPG_FINISHER_SLOTS && upg_fin->slots[s].nqueued < UPG_FINISHER_QUEUE)
		{
			UpgFinisherSlot *slot = &upg_fin->slots[s];

			slot->queue[slot->nqueued].handle = dsm_segment_handle(req->seg);
			slot->queue[slot->nqueued].requester = MyLatch;
			slot->nqueued++;
			req->slotno = s;
			req->generation = slot->generation;
			*latch = slot->latch;
			upg_fin->requests++;
			LWLockRelease(upg_fin->lock);
			return true;
		}
		LWLockRelease(upg_fin->lock);

		if (waited >= UPG_FINISH_SUBMIT_WAIT_MS || req->if_idle)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, UPG_WAIT_EVENT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		waited += 10;
	}
}

/*
 * Start the finisher of the slot the request claimed.  If no worker slot
 * is free, free the slot again (waking whoever queued there meanwhile) and
 * report at elevel -- the resolver only once until a finisher starts.
 */
static bool
upg_start_finisher(UpgFinishRequest *req, int elevel)
{
	BackgroundWorker worker;
	bool		say;

	upg_fill_worker(&worker, "upg_finisher_main", "unified_pg finisher",
					"unified_pg finisher", BGW_NEVER_RESTART);
	snprintf(worker.bgw_name, BGW_MAXLEN, "unified_pg finisher %d for database %u",
			 req->lane + 1, req->dboid);
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_main_arg = Int32GetDatum(req->slotno);
	memcpy(worker.bgw_extra, &req->generation, sizeof(uint64));
	worker.bgw_notify_pid = MyProcPid;

	if (RegisterDynamicBackgroundWorker(&worker, &req->started))
	{
		LWLockAcquire(upg_fin->lock, LW_EXCLUSIVE);
		upg_fin->start_failure_logged = false;
		upg_fin->finishers_started++;
		LWLockRelease(upg_fin->lock);
		return true;
	}
	req->started = NULL;
	upg_forget_slot(req->slotno, req->generation);
	if (elevel < LOG)
		return false;			/* the caller finishes these itself */

	LWLockAcquire(upg_fin->lock, LW_EXCLUSIVE);
	say = elevel >= WARNING || !upg_fin->start_failure_logged;
	upg_fin->start_failure_logged = true;
	LWLockRelease(upg_fin->lock);
	if (say)
		ereport(elevel,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a unified_pg finisher for database %u", req->dboid),
				 errdetail("%d prepared participants there stay prepared for now.", req->nitems),
				 errhint("Raise max_worker_processes; the resolver retries on its next pass.")));
	return false;
}

/*
 * Free a slot if it is still the given incarnation, waking the requesters
 * queued in it: they find their request gone and count it as left.
 */
static void
upg_forget_slot(int slotno, uint64 generation)
{
	UpgFinisherSlot *slot = &upg_fin->slots[slotno];
	int			i;

	LWLockAcquire(upg_fin->lock, LW_EXCLUSIVE);
	if (slot->generation == generation && slot->dboid != InvalidOid)
	{
		for (i = 0; i < slot->nqueued; i++)
			SetLatch(slot->queue[i].requester);
		slot->dboid = InvalidOid;
		slot->pid = 0;
		slot->latch = NULL;
		slot->serving = false;
		slot->nqueued = 0;
	}
	LWLockRelease(upg_fin->lock);
}

/* Is the request still queued at, or being served by, a live finisher? */
static bool
upg_request_alive(UpgFinishRequest *req)
{
	UpgFinisherSlot *slot = &upg_fin->slots[req->slotno];
	dsm_handle	h = dsm_segment_handle(req->seg);
	bool		alive = false;
	int			i;

	/* a finisher we registered that never came up frees no slot itself */
	if (req->started != NULL)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(req->started, &pid) == BGWH_STOPPED)
			upg_forget_slot(req->slotno, req->generation);
	}

	LWLockAcquire(upg_fin->lock, LW_SHARED);
	if (slot->generation == req->generation && slot->dboid != InvalidOid)
	{
		if (slot->serving && slot->serving_handle == h)
			alive = true;
		for (i = 0; i < slot->nqueued && !alive; i++)
			if (slot->queue[i].handle == h)
				alive = true;
	}
	LWLockRelease(upg_fin->lock);
	return alive;
}

/*
 * Take every message a finisher has sent back for the request so far,
 * re-raising each at elevel.  Returns true once the request is over: the
 * finisher detached from its queue (it is done), or it went away without
 * taking it.
 */
static bool
upg_poll(UpgFinishRequest *req, int elevel)
{
	bool		gone = false;

	for (;;)
	{
		Size		nbytes;
		void	   *data;
		shm_mq_result res = shm_mq_receive(req->mqh, &nbytes, &data, true);

		if (res == SHM_MQ_SUCCESS)
		{
			StringInfoData msg;

			initStringInfo(&msg);
			appendBinaryStringInfo(&msg, data, nbytes);
			upg_rethrow(&msg, req->dboid, elevel);
			pfree(msg.data);
			continue;
		}
		if (res == SHM_MQ_DETACHED || gone)
			return true;
		/* look again at the queue after finding the request gone */
		if (upg_request_alive(req))
			return false;
		gone = true;
	}
}

/*
 * Wait until every submitted request is over, draining all their queues
 * as we go: a finisher blocked on a full queue of one request is never
 * left waiting while we wait for another.
 */
static void
upg_wait_all(UpgFinishRequest *reqs, int nreqs, int elevel)
{
	for (;;)
	{
		bool		all_over = true;
		int			r;

		for (r = 0; r < nreqs; r++)
		{
			if (!reqs[r].submitted || reqs[r].over)
				continue;
			reqs[r].over = upg_poll(&reqs[r], elevel);
			if (!reqs[r].over)
				all_over = false;
		}
		if (all_over)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000, UPG_WAIT_EVENT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Re-raise an ErrorResponse or NoticeResponse from a finisher at elevel
 * (never above WARNING: the caller goes on), keeping SQLSTATE, message,
 * detail and hint, with a context line naming the finisher.
 */
static void
upg_rethrow(StringInfo msg, Oid dboid, int elevel)
{
	char		msgtype = pq_getmsgbyte(msg);
	ErrorData	edata;

	if (msgtype != 'E' && msgtype != 'N')
		return;
	pq_parse_errornotice(msg, &edata);
	if (msgtype == 'N' && edata.elevel < elevel)
		return;
	edata.elevel = Min(elevel, WARNING);
	edata.context = psprintf("%s%sunified_pg finisher for database %u",
							 edata.context ? edata.context : "",
							 edata.context ? "\n" : "", dboid);
	ThrowErrorData(&edata);
}

/* ---------------------------------------------------------------------
 * Finisher side
 * ---------------------------------------------------------------------
 */

/* Entry point of a finisher: take our slot, connect, serve until idle. */
void
upg_finisher_main(Datum main_arg)
{
	UpgFinisherSlot *slot;
	Oid			dboid = InvalidOid;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	upg_my_slot = DatumGetInt32(main_arg);
	memcpy(&upg_my_generation, MyBgworkerEntry->bgw_extra, sizeof(uint64));
	if (upg_my_slot < 0 || upg_my_slot >= UPG_FINISHER_SLOTS)
		proc_exit(0);
	slot = &upg_fin->slots[upg_my_slot];

	before_shmem_exit(upg_finisher_on_exit, (Datum) 0);
	LWLockAcquire(upg_fin->lock, LW_EXCLUSIVE);
	if (slot->generation == upg_my_generation && slot->dboid != InvalidOid)
	{
		dboid = slot->dboid;
		slot->pid = MyProcPid;
		slot->latch = MyLatch;
	}
	LWLockRelease(upg_fin->lock);
	if (!OidIsValid(dboid))
		proc_exit(0);			/* the slot was given up before we started */

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	upg_worker_pin_settings();
	pgstat_report_appname("unified_pg finisher");
	upg_finisher_loop();
}

/* Serve requests until none came for unified_pg.finisher_idle_timeout. */
static void
upg_finisher_loop(void)
{
	MemoryContext loopcxt = AllocSetContextCreate(TopMemoryContext,
												  "unified_pg finisher loop",
												  ALLOCSET_DEFAULT_SIZES);
	TimestampTz last_work = GetCurrentTimestamp();

	for (;;)
	{
		dsm_handle	handle;

		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (upg_take_request(last_work, &handle))
		{
			upg_serve(handle);
			last_work = GetCurrentTimestamp();
			continue;
		}

		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(upg_finisher_idle_timeout_s, 1) * 1000L,
						 UPG_WAIT_EVENT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Take the next request of our slot.  With none queued and idle for the
 * timeout, free the slot and exit -- under the lock, so that no request is
 * queued behind our back.
 */
static bool
upg_take_request(TimestampTz last_work, dsm_handle *handle)
{
	UpgFinisherSlot *slot = &upg_fin->slots[upg_my_slot];
	bool		idle = TimestampDifferenceExceeds(last_work, GetCurrentTimestamp(),
												  upg_finisher_idle_timeout_s * 1000);

	LWLockAcquire(upg_fin->lock, LW_EXCLUSIVE);
	if (slot->generation != upg_my_generation)
	{
		LWLockRelease(upg_fin->lock);
		proc_exit(0);			/* can't happen: only we free our slot */
	}
	slot->serving = false;
	if (slot->nqueued > 0)
	{
		*handle = slot->queue[0].handle;
		memmove(&slot->queue[0], &slot->queue[1],
				sizeof(UpgFinisherQueued) * (slot->nqueued - 1));
		slot->nqueued--;
		slot->serving = true;
		slot->serving_handle = *handle;
		LWLockRelease(upg_fin->lock);
		return true;
	}
	if (idle)
	{
		slot->dboid = InvalidOid;
		slot->pid = 0;
		slot->latch = NULL;
		LWLockRelease(upg_fin->lock);
		proc_exit(0);
	}
	LWLockRelease(upg_fin->lock);
	return false;
}

/*
 * Serve one request: attach its segment, send our protocol output to its
 * queue, finish its items, detach (which tells the requester we are done).
 */
static void
upg_serve(dsm_handle handle)
{
	dsm_segment *seg = dsm_attach(handle);
	shm_toc    *toc;
	UpgFinishJob *job;
	shm_mq	   *mq;
	shm_mq_handle *mqh;

	if (seg == NULL)
		return;					/* the requester is gone: nothing to do */
	toc = shm_toc_attach(UPG_FINISH_MAGIC, dsm_segment_address(seg));
	if (toc == NULL)
	{
		elog(LOG, "unified_pg finisher: request segment has a bad magic number");
		dsm_detach(seg);
		return;
	}
	job = shm_toc_lookup(toc, UPG_FINISH_KEY_JOB, false);
	mq = shm_toc_lookup(toc, UPG_FINISH_KEY_QUEUE, false);
	shm_mq_set_sender(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);
	pq_redirect_to_shm_mq(seg, mqh);

	if (job->dboid == MyDatabaseId)
		upg_serve_items(job, shm_toc_lookup(toc, UPG_FINISH_KEY_ITEMS, false));
	else
		elog(WARNING, "unified_pg finisher for database %u got a request for database %u",
			 MyDatabaseId, job->dboid);

	/* detaching ends the redirection and wakes the requester */
	dsm_detach(seg);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Finish the items of a job, each in a transaction of its own; an error
 * is sent back whole and the item marked failed, and we go on.
 */
static void
upg_serve_items(UpgFinishJob *job, UpgFinishItem *items)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		any_unknown = false;
	int			i;

	if (!upg_wait_for_go(job))
		return;					/* cancelled or abandoned: nothing done */

	/* items with a known xid are checked by upg_dtx_finish_here */
	for (i = 0; i < job->nitems; i++)
		if (!TransactionIdIsValid(items[i].xid))
			any_unknown = true;
	if (any_unknown)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		upg_mark_present(items, job->nitems);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}

	for (i = 0; i < job->nitems; i++)
	{
		if (items[i].status == UPG_FINISH_GONE)
			continue;
		CHECK_FOR_INTERRUPTS();
		upg_dtx_pause_point("finisher_before_finish");
		PG_TRY();
		{
			bool		finished;

			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			if (job->flush_delay_us > 0)
				upg_share_flush(job->flush_delay_us);
			finished = upg_dtx_finish_here(items[i].gid, items[i].xid, job->commit);
			CommitTransactionCommand();
			pg_write_barrier();
			items[i].status = finished ? UPG_FINISH_DONE : UPG_FINISH_GONE;
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			items[i].status = UPG_FINISH_FAILED;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
	}
}

/*
 * Wait until an armed job may go (its requester's decision is in WAL).
 * Gives up -- UPG_GO_ABANDONED, so that the requester knows nothing was
 * done -- if the requester is gone or does not decide within
 * UPG_ARMED_WAIT_MS: other requests wait behind this one.  Returns
 * whether to finish the items.
 */
static bool
upg_wait_for_go(UpgFinishJob *job)
{
	TimestampTz since = GetCurrentTimestamp();

	for (;;)
	{
		uint32		go = pg_atomic_read_u32(&job->go);
		uint32		expected = UPG_GO_WAIT;

		if (go == UPG_GO_NOW)
			return true;
		if (go != UPG_GO_WAIT)
			return false;
		if (BackendPidGetProc(job->requester_pid) == NULL ||
			TimestampDifferenceExceeds(since, GetCurrentTimestamp(), UPG_ARMED_WAIT_MS))
		{
			if (pg_atomic_compare_exchange_u32(&job->go, &expected, UPG_GO_ABANDONED))
				return false;
			continue;			/* it changed meanwhile: look again */
		}
		pgstat_report_activity(STATE_RUNNING, "waiting for a commit decision");
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, UPG_WAIT_EVENT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* qsort/bsearch comparator of item pointers by gid */
static int
upg_item_cmp(const void *a, const void *b)
{
	return strcmp((*(UpgFinishItem *const *) a)->gid, (*(UpgFinishItem *const *) b)->gid);
}

/*
 * Mark the items that are no longer prepared in this database (or were
 * prepared again with another xid) GONE, with one look at
 * pg_prepared_xacts: every prepared transaction of the database is looked
 * up among the sorted items, so a batch costs O(prepared log items), not
 * O(prepared x items).  Runs inside a transaction with SPI connected.
 */
static void
upg_mark_present(UpgFinishItem *items, int n)
{
	UpgFinishItem **sorted = palloc(sizeof(UpgFinishItem *) * n);
	int			i;
	uint64		r;

	for (i = 0; i < n; i++)
	{
		items[i].status = UPG_FINISH_GONE;
		sorted[i] = &items[i];
	}
	qsort(sorted, n, sizeof(UpgFinishItem *), upg_item_cmp);
	if (SPI_execute("SELECT gid, transaction::text::bigint FROM pg_catalog.pg_prepared_xacts"
					" WHERE database = pg_catalog.current_database()",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list prepared transactions");

	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		UpgFinishItem key;
		UpgFinishItem *keyp = &key;
		UpgFinishItem **found;
		TransactionId xid = (TransactionId)
			DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
		char	   *gid = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);

		strlcpy(key.gid, gid, GIDSIZE);
		pfree(gid);
		found = bsearch(&keyp, sorted, n, sizeof(UpgFinishItem *), upg_item_cmp);
		if (found != NULL &&
			(!TransactionIdIsValid((*found)->xid) || (*found)->xid == xid))
			(*found)->status = UPG_FINISH_PENDING;
	}
	SPI_freetuptable(SPI_tuptable);
}

/* Free our slot when we exit, for whatever reason, waking its requesters. */
static void
upg_finisher_on_exit(int code, Datum arg)
{
	LWLockReleaseAll();
	if (upg_my_slot >= 0)
		upg_forget_slot(upg_my_slot, upg_my_generation);
}
