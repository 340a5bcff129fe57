"""upsert_chunks' two forms through Cognee's real driver, asyncpg, over TCP.

asyncpg prepares every statement and asks the server for its parameter
types: `unified.upsert_chunks($1, $2)` resolves to the text form (a str,
json.dumps of the points, is sent as text and read by the text form's own
JSON parser), `$1::jsonb` to the jsonb form (the pool's jsonb codec encodes
the list).  Both must store the same rows and raise the same errors."""
import json
import math
import uuid
import unittest

import asyncpg

from unified_clients import create_pool


def points(dataset, collection, n, sets):
    return [{"source": "cognee", "source_collection": collection, "source_id": f"p-{i}",
             "cognee_dataset_id": str(dataset), "content": f"memory {i} é \"q\"",
             "metadata": {"type": "DocumentChunk", "belongs_to_set": sets, "i": i, "w": 0.1 * i},
             "embedding": [math.cos(i * 3072 + k) / 7 for k in range(3072)]} for i in range(n)]


class UpsertTextFormTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.pool = await create_pool("cognee", max_size=2)
        self.dataset = uuid.uuid4()

    async def asyncTearDown(self):
        await self.pool.execute("DELETE FROM unified.chunks WHERE cognee_dataset_id = $1", self.dataset)
        await self.pool.close()

    async def stored(self, collection):
        rows = await self.pool.fetch(
            """SELECT source_id, content, embedding::text AS embedding, metadata FROM unified.chunks
                WHERE cognee_dataset_id = $1 AND source_collection = $2 ORDER BY source_id""",
            self.dataset, collection)
        return [dict(r) for r in rows]

    async def test_untyped_parameters_are_the_text_form(self):
        async with self.pool.acquire() as conn:
            text_form = await conn.prepare("SELECT * FROM unified.upsert_chunks($1, $2)")
            jsonb_form = await conn.prepare("SELECT * FROM unified.upsert_chunks($1::jsonb, $2)")
            self.assertEqual([t.name for t in text_form.get_parameters()], ["text", "text[]"])
            self.assertEqual([t.name for t in jsonb_form.get_parameters()], ["jsonb", "text[]"])

    async def test_both_forms_store_the_same_rows(self):
        sql_text = "SELECT inserted, updated FROM unified.upsert_chunks($1, $2)"
        sql_jsonb = "SELECT inserted, updated FROM unified.upsert_chunks($1::jsonb, $2::text[])"
        for version, sets in ((0, ["people"]), (1, ["places", "people"])):
            r = await self.pool.fetchrow(sql_text, json.dumps(points(self.dataset, "t", 20, sets)), ["belongs_to_set"])
            s = await self.pool.fetchrow(sql_jsonb, points(self.dataset, "j", 20, sets), ["belongs_to_set"])
            self.assertEqual(tuple(r), (20, 0) if version == 0 else (0, 20))
            self.assertEqual(tuple(r), tuple(s))
        t, j = await self.stored("t"), await self.stored("j")
        self.assertEqual(len(t), 20)
        self.assertEqual(t, j)
        self.assertEqual(t[0]["metadata"]["belongs_to_set"], ["people", "places"], "belongs_to_set united")

    async def test_both_forms_raise_the_same_errors(self):
        good = points(self.dataset, "bad", 1, [])[0]
        for batch in ('[{"source": "cognee",', "42", json.dumps([{**good, "vector": [1]}]),
                      json.dumps([{**good, "embedding": [[1.0, 2.0]]}]), json.dumps([good, good]),
                      json.dumps([{**good, "cognee_dataset_id": "not-a-uuid"}]),
                      json.dumps([{**good, "embedding": [float("nan")]}])):
            errors = []
            for sql in ("SELECT * FROM unified.upsert_chunks($1)", "SELECT * FROM unified.upsert_chunks($1::text::jsonb)"):
                with self.assertRaises(asyncpg.PostgresError) as cm:
                    await self.pool.fetchrow(sql, batch)
                errors.append((cm.exception.sqlstate, cm.exception.message, cm.exception.detail))
            self.assertEqual(errors[0], errors[1], batch[:60])
        self.assertEqual(await self.stored("bad"), [])
