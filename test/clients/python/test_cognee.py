"""Cognee's access pattern through its real driver, asyncpg.

A pool with application_name 'cognee', connected as a login role of
cognee_user (so under row-level security), stores data points of a collection
(id uuid, payload json with text and created_at in milliseconds) for a
dataset, reads them back, and gets the server's SQLSTATEs for bad rows.
Connection settings come from the usual PG* environment variables.

Run with the system interpreter: /usr/bin/python3 -m unittest -v test_cognee
"""
import asyncio
import json
import os
import unittest
import uuid

import asyncpg

DATASET = uuid.uuid5(uuid.NAMESPACE_URL, f"unified_pg-client-test-{os.getpid()}")
COLLECTION = "DocumentChunk_text"


async def make_pool():
    async def init(conn):
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

    return await asyncpg.create_pool(min_size=1, max_size=4, init=init,
                                     server_settings={"application_name": "cognee"})


async def store(conn, points):
    """Store data points as Cognee's pgvector adapter would, one batch."""
    await conn.executemany(
        """INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id,
                                       content, metadata, embedding, created_at)
           VALUES ('cognee', $1, $2, $3, $4, $5, $6, to_timestamp($7 / 1000.0))""",
        [(COLLECTION, str(p["id"]), DATASET, p["payload"]["text"], p["payload"], p["vector"],
          p["payload"]["created_at"]) for p in points])


class CogneeClientTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.pool = await make_pool()
        await self.pool.execute("DELETE FROM unified.chunks WHERE cognee_dataset_id = $1", DATASET)

    async def asyncTearDown(self):
        await self.pool.execute("DELETE FROM unified.chunks WHERE cognee_dataset_id = $1", DATASET)
        await self.pool.close()

    async def test_application_name_and_role(self):
        row = await self.pool.fetchrow(
            """SELECT application_name, pg_has_role(current_user, 'cognee_user', 'MEMBER') AS member,
                      (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser
                 FROM pg_stat_activity WHERE pid = pg_backend_pid()""")
        self.assertEqual(row["application_name"], "cognee")
        self.assertTrue(row["member"])
        self.assertFalse(row["superuser"], "the test runs under row-level security")

    async def test_store_and_read_back(self):
        now_ms = 1_790_000_000_000
        points = [{"id": uuid.uuid4(), "vector": [0.1 * i, 0.2, 0.3],
                   "payload": {"text": f"memory {i}", "created_at": now_ms + i, "type": "DocumentChunk"}}
                  for i in range(50)]
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                await store(conn, points)
        rows = await self.pool.fetch(
            """SELECT source_id, content, metadata, embedding, created_at
                 FROM unified.chunks WHERE cognee_dataset_id = $1 ORDER BY created_at""", DATASET)
        self.assertEqual(len(rows), 50)
        self.assertEqual(rows[0]["source_id"], str(points[0]["id"]))
        self.assertEqual(rows[7]["metadata"]["text"], "memory 7")
        self.assertAlmostEqual(rows[3]["embedding"][0], 0.3, places=5)
        self.assertEqual(int(rows[0]["created_at"].timestamp() * 1000), now_ms)

    async def test_duplicate_point_is_refused(self):
        point = {"id": uuid.uuid4(), "vector": [1.0], "payload": {"text": "once", "created_at": 1_790_000_000_000}}
        async with self.pool.acquire() as conn:
            await store(conn, [point])
            with self.assertRaises(asyncpg.UniqueViolationError):
                await store(conn, [point])
        count = await self.pool.fetchval("SELECT count(*) FROM unified.chunks WHERE cognee_dataset_id = $1", DATASET)
        self.assertEqual(count, 1)

    async def test_row_without_dataset_is_refused(self):
        # refused by row-level security before the check constraint
        with self.assertRaises(asyncpg.InsufficientPrivilegeError):
            await self.pool.execute(
                "INSERT INTO unified.chunks (source, source_id, content) VALUES ('cognee', $1, 'orphan')",
                str(uuid.uuid4()))

    async def test_claude_rows_are_invisible_and_unwritable(self):
        with self.assertRaises(asyncpg.InsufficientPrivilegeError):
            await self.pool.execute(
                """INSERT INTO unified.chunks (source, source_id, project_id, content)
                   VALUES ('claude_context', $1, 'proj-x', 'not mine')""", str(uuid.uuid4()))
        # run.sh stores this Claude-Context row before the suite runs
        seen = await self.pool.fetchval(
            "SELECT count(*) FROM unified.chunks WHERE source_id = 'client-claude-marker'")
        self.assertEqual(seen, 0)

    async def test_wrong_type_is_refused_by_the_driver_or_server(self):
        with self.assertRaises((asyncpg.DataError, asyncpg.InvalidTextRepresentationError)):
            await self.pool.execute(
                "INSERT INTO unified.chunks (source, source_id, cognee_dataset_id, content) VALUES ('cognee', 'x', $1, 'c')",
                "not-a-uuid")


class CogneeOperationsTest(unittest.IsolatedAsyncioTestCase):
    """Cognee's data points through unified_pg's operations: upsert with the
    belongs_to_set union, search with a belongs_to_set filter (top 15)."""

    async def asyncSetUp(self):
        self.pool = await make_pool()

    async def asyncTearDown(self):
        await self.pool.execute("DELETE FROM unified.chunks WHERE cognee_dataset_id = $1", DATASET)
        await self.pool.close()

    async def upsert(self, points, union=True):
        batch = [{"source": "cognee", "source_collection": COLLECTION, "source_id": str(p["id"]),
                  "cognee_dataset_id": str(DATASET), "content": p["payload"]["text"],
                  "metadata": p["payload"], "embedding": p["vector"]} for p in points]
        # (the pool's jsonb codec encodes the batch)
        return await self.pool.fetchrow(
            "SELECT * FROM unified.upsert_chunks($1::jsonb, $2::text[])",
            batch, ["belongs_to_set"] if union else None)

    async def test_upsert_unions_belongs_to_set_and_search_filters(self):
        pid = uuid.uuid4()
        first = {"id": pid, "vector": [0.1, 0.9, 0.0],
                 "payload": {"text": "Alice met Bob", "belongs_to_set": ["people"]}}
        again = {"id": pid, "vector": [0.1, 0.9, 0.0],
                 "payload": {"text": "Alice met Bob", "belongs_to_set": ["travel"]}}
        other = {"id": uuid.uuid4(), "vector": [0.1, 0.8, 0.1],
                 "payload": {"text": "Carol", "belongs_to_set": ["work"]}}
        self.assertEqual(tuple(await self.upsert([first, other])), (2, 0))
        self.assertEqual(tuple(await self.upsert([again])), (0, 1))
        sets = await self.pool.fetchval(
            "SELECT metadata->'belongs_to_set' FROM unified.chunks WHERE source_id = $1", str(pid))
        self.assertEqual(json.loads(sets) if isinstance(sets, str) else sets, ["people", "travel"])
        rows = await self.pool.fetch(
            "SELECT source_id, score FROM unified.search_chunks($1::real[], 15, cognee_dataset_id => $2,"
            " filter => $3::jsonb)", [0.1, 0.9, 0.0], DATASET, {"belongs_to_set": ["travel"]})
        self.assertEqual([r["source_id"] for r in rows], [str(pid)])
        self.assertAlmostEqual(rows[0]["score"], 1.0, places=5)

    async def test_hostile_batch_writes_nothing(self):
        good = {"id": uuid.uuid4(), "vector": [1.0, 0.0], "payload": {"text": "ok"}}
        bad = {"id": uuid.uuid4(), "vector": [1.0, [2.0]], "payload": {"text": "nested"}}
        with self.assertRaises(asyncpg.InvalidParameterValueError):
            await self.upsert([good, bad])
        n = await self.pool.fetchval("SELECT count(*) FROM unified.chunks WHERE cognee_dataset_id = $1", DATASET)
        self.assertEqual(n, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
