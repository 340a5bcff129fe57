"""The original design's Python transaction coordinator, rewritten on
unified_pg's distributed-transaction API.

The original kept its transactions in a dict, built PREPARE statements from
strings ("PREPARE TRANSACTION '{tx_id}_{participant}'"), wrote its own log
with ON CONFLICT and could not recover after a crash: a coordinator that
died between PREPARE and COMMIT PREPARED left prepared transactions holding
locks forever.  Here the server is the coordinator's memory:

- begin_distributed_transaction logs the transaction in
  unified.transaction_log (unified.begin_distributed);
- each participant works in its own application's pool and prepares under
  the gid unified.participant_gid gives, quoted by the server, never by string
  formatting;
- commit_transaction is CALL unified.commit_distributed: it checks every
  participant voted, makes the decision durable, commits, and aborts all
  when one is missing; abort_transaction is CALL unified.abort_distributed;
- a coordinator that dies at any point is finished by the server's resolver
  (committed if the decision was made, rolled back otherwise), so nothing
  has to be kept in this process.
"""
import contextlib
import enum

from unified_clients import create_pool

POOL_OF = {"claude": "claude", "cognee": "cognee"}


class TransactionState(enum.Enum):
    PENDING = "pending"
    COMMITTING = "committing"
    COMMITTED = "committed"
    ABORTING = "aborting"
    ABORTED = "aborted"


class ParticipantFailed(Exception):
    """A participant's work failed; the whole transaction was aborted."""

    def __init__(self, participant, cause):
        super().__init__(f"participant {participant} failed: {cause}")
        self.participant = participant
        self.__cause__ = cause


class PostgresTransactionCoordinator:
    """Two-phase commit across the applications' pools, decided by the server."""

    def __init__(self, pools):
        # pools: {"shared": pool, "claude": pool, "cognee": pool} (asyncpg pools)
        self.pools = pools

    @classmethod
    async def connect(cls, min_size=1, max_size=4):
        pools = {name: await create_pool(name, min_size=min_size, max_size=max_size)
                 for name in ("shared", "claude", "cognee")}
        return cls(pools)

    async def close(self):
        for pool in self.pools.values():
            await pool.close()

    async def begin_distributed_transaction(self, tx_id, participants=("claude", "cognee")):
        """Log the transaction as pending; returns its id."""
        return await self.pools["shared"].fetchval(
            "SELECT unified.begin_distributed($1, $2::text[])", tx_id, list(participants))

    @contextlib.asynccontextmanager
    async def participant(self, tx_id, name):
        """A connection of the participant's pool inside its transaction;
        prepared when the block ends, rolled back (and the whole transaction
        aborted) when it raises."""
        async with self.pools[POOL_OF[name]].acquire() as conn:
            gid = await conn.fetchval("SELECT unified.participant_gid($1, $2)", tx_id, name)
            # PREPARE TRANSACTION takes a literal: the server quotes it
            prepare = "PREPARE TRANSACTION " + await conn.fetchval("SELECT pg_catalog.quote_literal($1)", gid)
            # BEGIN by hand, not conn.transaction(): the block ends in PREPARE,
            # which asyncpg's transaction object does not know
            await conn.execute("BEGIN")
            try:
                yield conn
            except BaseException as e:
                await conn.execute("ROLLBACK")
                await self.abort_transaction(tx_id)
                raise ParticipantFailed(name, e) from e
            await conn.execute(prepare)

    async def commit_transaction(self, tx_id):
        """Phase 2: the server checks every vote, decides, commits."""
        await self.pools["shared"].execute("CALL unified.commit_distributed($1)", tx_id)
        return await self.state(tx_id)

    async def abort_transaction(self, tx_id):
        await self.pools["shared"].execute("CALL unified.abort_distributed($1)", tx_id)
        return await self.state(tx_id)

    async def state(self, tx_id):
        """The state of a transaction, as unified.transaction_status reports it."""
        s = await self.pools["shared"].fetchval(
            "SELECT state FROM unified.transaction_status($1)", tx_id)
        return TransactionState(s) if s else None

    async def run(self, tx_id, work):
        """Begin, run each participant's work(conn) and prepare it, commit.
        work: {"claude": async fn(conn), "cognee": async fn(conn)}."""
        await self.begin_distributed_transaction(tx_id, list(work))
        for name, fn in work.items():
            async with self.participant(tx_id, name) as conn:
                await fn(conn)
        return await self.commit_transaction(tx_id)
