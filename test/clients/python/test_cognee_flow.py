"""Cognee's flow on unified_pg through its real driver, asyncpg: data points
with payload and belongs_to_set are upserted, searched with a belongs_to_set
filter, retrieved and deleted by id, in a dataset of their own."""
import json
import math
import os
import random
import unittest
import uuid

import asyncpg

from cognee_adapter import DataPoint, UnifiedCogneeAdapter
from unified_clients import connect, create_pool, url

COLLECTION = "DocumentChunk_text"


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


class CogneeFlowTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.pool = await create_pool("cognee", max_size=4)
        self.dataset = uuid.uuid4()
        self.adapter = UnifiedCogneeAdapter(self.pool, self.dataset)
        rnd = random.Random(13)
        self.points = [DataPoint(id=uuid.uuid4(), text=f"memory number {i}",
                                 vector=unit([rnd.uniform(-1, 1) for _ in range(16)]),
                                 belongs_to_set=["people"] if i % 2 else ["places"],
                                 extra={"type": "DocumentChunk", "created_at": 1_790_000_000_000 + i})
                       for i in range(40)]
        self.assertEqual(await self.adapter.create_data_points(COLLECTION, self.points), (40, 0))

    async def asyncTearDown(self):
        await self.pool.execute("DELETE FROM unified.chunks WHERE cognee_dataset_id = $1", self.dataset)
        await self.pool.close()

    async def test_pool_connects_over_tcp_as_cognee(self):
        row = await self.pool.fetchrow(
            """SELECT application_name, host(client_addr) AS addr,
                      pg_has_role(current_user, 'cognee_user', 'MEMBER') AS member
                 FROM pg_stat_activity WHERE pid = pg_backend_pid()""")
        self.assertEqual((row["application_name"], row["addr"], row["member"]), ("cognee", "127.0.0.1", True))

    async def test_retrieve_gives_payloads_as_dicts(self):
        got = await self.adapter.retrieve(COLLECTION, [p.id for p in self.points[:3]])
        by_id = {r.id: r.payload for r in got}
        self.assertEqual(set(by_id), {p.id for p in self.points[:3]})
        self.assertEqual(by_id[self.points[1].id]["text"], "memory number 1")
        self.assertEqual(by_id[self.points[1].id]["belongs_to_set"], ["people"])

    async def test_upsert_updates_by_id_and_unions_belongs_to_set(self):
        changed = [DataPoint(id=p.id, text=p.text + " (revised)", vector=p.vector, belongs_to_set=["travel"])
                   for p in self.points[:5]]
        self.assertEqual(await self.adapter.create_data_points(COLLECTION, changed), (0, 5))
        got = {r.id: r.payload for r in await self.adapter.retrieve(COLLECTION, [p.id for p in changed])}
        for p in self.points[:5]:
            self.assertTrue(got[p.id]["text"].endswith("(revised)"))
            self.assertEqual(sorted(got[p.id]["belongs_to_set"]), sorted(p.belongs_to_set + ["travel"]))
        n = await self.pool.fetchval("SELECT count(*) FROM unified.chunks WHERE cognee_dataset_id = $1", self.dataset)
        self.assertEqual(n, 40, "updated in place, not inserted again")

    async def test_search_nearest_first(self):
        target = self.points[7]
        hits = await self.adapter.search(COLLECTION, target.vector, limit=15)
        self.assertEqual(len(hits), 15)
        self.assertEqual(hits[0].id, target.id)
        self.assertAlmostEqual(hits[0].score, 0.0, places=5)
        self.assertEqual([h.score for h in hits], sorted(h.score for h in hits))

    async def test_search_with_belongs_to_set_filter(self):
        target = self.points[7]     # a "people" point
        hits = await self.adapter.search(COLLECTION, target.vector, limit=15, belongs_to_set=["places"])
        self.assertEqual(len(hits), 15)
        self.assertNotIn(target.id, [h.id for h in hits])
        self.assertTrue(all("places" in h.payload["belongs_to_set"] for h in hits))
        hits = await self.adapter.search(COLLECTION, target.vector, limit=50, belongs_to_set=["people"])
        self.assertEqual(len(hits), 20, "every people point, no more")
        self.assertEqual(hits[0].id, target.id)

    async def test_delete_by_id(self):
        gone = [p.id for p in self.points[:3]]
        self.assertEqual(await self.adapter.delete_data_points(COLLECTION, gone), 3)
        self.assertEqual(await self.adapter.retrieve(COLLECTION, gone), [])
        hits = await self.adapter.search(COLLECTION, self.points[0].vector, limit=40)
        self.assertEqual(len(hits), 37)
        self.assertFalse(set(gone) & {h.id for h in hits})
        self.assertEqual(await self.adapter.delete_data_points(COLLECTION, gone), 0, "deleting again is a no-op")

    async def test_jsonb_needs_the_codec(self):
        """Without set_type_codec asyncpg refuses a dict for jsonb; with it the dict goes through."""
        plain = await asyncpg.connect(url("cognee"))
        try:
            with self.assertRaisesRegex(asyncpg.DataError, "expected str, got dict"):
                await plain.fetchval("SELECT $1::jsonb", {"a": 1})
            self.assertEqual(await plain.fetchval("SELECT '{\"a\": 1}'::jsonb"), '{"a": 1}',
                             "and jsonb comes back as a string")
        finally:
            await plain.close()
        conn = await connect("cognee")
        try:
            self.assertEqual(await conn.fetchval("SELECT $1::jsonb", {"a": [1, "x"]}), {"a": [1, "x"]})
        finally:
            await conn.close()

    async def test_a_batch_with_a_bad_point_writes_nothing(self):
        bad = [DataPoint(id=uuid.uuid4(), text="fine", vector=[1.0] * 16),
               DataPoint(id=uuid.uuid4(), text="broken", vector=[1.0, 1e39] + [0.0] * 14)]  # 1e39: beyond real
        with self.assertRaises(asyncpg.InvalidParameterValueError):
            await self.adapter.create_data_points(COLLECTION, bad)
        n = await self.pool.fetchval("SELECT count(*) FROM unified.chunks WHERE cognee_dataset_id = $1", self.dataset)
        self.assertEqual(n, 40)


if __name__ == "__main__":
    unittest.main(verbosity=2)
