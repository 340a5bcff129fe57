"""A migration started from Python, its progress read from another
connection while it runs: a Cognee collection table in a dataset schema
(ds_<32 hex>) is moved into unified.chunks, verified and rolled back."""
import asyncio
import random
import unittest
import uuid

from cognee_adapter import UnifiedCogneeAdapter
from unified_clients import connect, create_pool

ROWS = 6000
BATCH = 100


class MigrationFromPythonTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.dataset = uuid.uuid4()
        self.schema = f"ds_{self.dataset.hex}"
        self.source = f'{self.schema}."DocumentChunk_text"'
        # unified_admin's sessions: application_name unified
        self.runner = await connect("shared")
        self.watcher = await connect("shared")
        await self.runner.execute(f"""
            CREATE SCHEMA {self.schema};
            CREATE TABLE {self.source} (id uuid PRIMARY KEY, payload json, vector real[]);""")
        rnd = random.Random(7)
        records = []
        for i in range(ROWS):
            pid = uuid.UUID(int=rnd.getrandbits(128), version=4)
            payload = {"id": str(pid), "text": f"remembered fact {i}", "belongs_to_set": ["facts"],
                       "created_at": 1_790_000_000_000 + i}
            records.append((pid, payload, [rnd.uniform(-1, 1) for _ in range(8)]))
        await self.runner.executemany(f"INSERT INTO {self.source} (id, payload, vector) VALUES ($1, $2, $3)",
                                      records)
        self.records = records

    async def asyncTearDown(self):
        await self.runner.execute(
            "DELETE FROM unified.chunks WHERE cognee_dataset_id = $1", self.dataset)
        await self.runner.execute(f"DROP SCHEMA {self.schema} CASCADE")
        await self.runner.close()
        await self.watcher.close()

    async def test_migrate_watch_verify_rollback(self):
        notices = []
        first_batch = asyncio.Event()

        def on_notice(conn, msg):
            notices.append(msg.message)
            first_batch.set()

        self.runner.add_log_listener(on_notice)
        run = asyncio.create_task(self.runner.execute(
            "CALL unified.migrate_cognee_data($1::regclass, batch_size => $2)", self.source, BATCH))

        # After the first batch's NOTICE, hold the source so the next batch
        # waits, and look at the run from this other connection.
        await asyncio.wait_for(first_batch.wait(), 60)
        async with self.watcher.transaction():
            await self.watcher.execute(f"LOCK TABLE {self.source} IN ACCESS EXCLUSIVE MODE")
            for _ in range(100):
                waiting = await self.watcher.fetchval(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", self.runner.get_server_pid())
                if waiting == "Lock":
                    break
                await asyncio.sleep(0.05)
            self.assertEqual(waiting, "Lock", "the migration waits for its next batch")
            p = await self.watcher.fetchrow(
                "SELECT * FROM unified.migration_progress WHERE source = $1::regclass::text ORDER BY migration_id DESC LIMIT 1",
                self.source)
            self.assertEqual(p["state"], "running")
            self.assertEqual(p["total"], ROWS)
            self.assertGreater(p["done"], 0)
            self.assertLess(p["done"], ROWS)
            self.assertEqual(p["done"] % BATCH, 0, "progress moves by committed batches")
            self.assertGreater(p["percent"], 0)
            self.assertLess(p["percent"], 100)
        await asyncio.wait_for(run, 300)
        self.assertTrue(any("batch" in n or "migrat" in n for n in notices), notices[:3])

        p = await self.watcher.fetchrow(
            "SELECT * FROM unified.migration_progress WHERE source = $1::regclass::text ORDER BY migration_id DESC LIMIT 1",
            self.source)
        self.assertEqual((p["state"], p["done"], p["migrated"], p["rejected"]), ("completed", ROWS, ROWS, 0))
        v = await self.watcher.fetchrow("SELECT * FROM unified.verify_migration($1)", p["migration_id"])
        self.assertTrue(v["ok"], dict(v))

        # Cognee (its own role, under RLS) finds the migrated points: the
        # dataset id came from the schema's name.
        pool = await create_pool("cognee", max_size=2)
        try:
            adapter = UnifiedCogneeAdapter(pool, self.dataset)
            pid, payload, vector = self.records[123]
            hits = await adapter.search("DocumentChunk_text", vector, limit=3)
            self.assertEqual(hits[0].id, pid)
            self.assertEqual(hits[0].payload["text"], payload["text"])
        finally:
            await pool.close()

        await self.runner.execute("CALL unified.rollback_migration($1)", p["migration_id"])
        left = await self.watcher.fetchval(
            "SELECT count(*) FROM unified.chunks WHERE cognee_dataset_id = $1", self.dataset)
        self.assertEqual(left, 0, "rollback removed exactly that run's rows")


if __name__ == "__main__":
    unittest.main(verbosity=2)
