"""Row-level security from Cognee's side: the cognee role sees only Cognee's
rows; a login role granted one dataset sees only that dataset, and no
session setting widens it.  The SQLSTATEs here are the ones the README's
troubleshooting table lists."""
import os
import unittest
import uuid

import asyncpg

from unified_clients import create_pool


def row(dataset, text, **extra):
    return {"source": "cognee", "source_collection": "DocumentChunk_text", "source_id": str(uuid.uuid4()),
            "cognee_dataset_id": str(dataset), "content": text, "metadata": {"text": text},
            "embedding": [1.0, 0.0], **extra}


class CogneeRlsTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.cognee = await create_pool("cognee", max_size=2)
        self.admin = await create_pool("shared", max_size=2)
        self.tenant = await create_pool("cognee", dsn=os.environ["COGNEE_TENANT_DATABASE_URL"], max_size=2)
        self.mine, self.other = uuid.uuid4(), uuid.uuid4()
        await self.cognee.execute("SELECT unified.upsert_chunks($1::jsonb)",
                                  [row(self.mine, "tenant's memory"), row(self.other, "someone else's memory")])
        await self.admin.execute("SELECT unified.grant_dataset('upg_client_cognee_tenant', $1)", self.mine)

    async def asyncTearDown(self):
        await self.admin.execute("SELECT unified.revoke_dataset('upg_client_cognee_tenant', $1)", self.mine)
        await self.cognee.execute("DELETE FROM unified.chunks WHERE cognee_dataset_id = ANY($1::uuid[])",
                                  [self.mine, self.other])
        for p in (self.cognee, self.admin, self.tenant):
            await p.close()

    async def count(self, pool, dataset):
        return await pool.fetchval("SELECT count(*) FROM unified.chunks WHERE cognee_dataset_id = $1", dataset)

    async def test_the_tenant_sees_only_its_dataset(self):
        self.assertEqual(await self.count(self.tenant, self.mine), 1)
        self.assertEqual(await self.count(self.tenant, self.other), 0)
        self.assertEqual(await self.count(self.cognee, self.other), 1, "the unscoped cognee role sees both")
        hits = await self.tenant.fetch("SELECT cognee_dataset_id FROM unified.search_chunks('{1,0}'::real[], 10)")
        self.assertEqual(len(hits), 1)
        self.assertTrue(all(h["cognee_dataset_id"] == self.mine for h in hits))

    async def test_the_tenant_cannot_write_another_dataset(self):
        with self.assertRaises(asyncpg.InsufficientPrivilegeError):
            await self.tenant.execute("SELECT unified.upsert_chunks($1::jsonb)", [row(self.other, "intruder")])
        self.assertEqual(await self.count(self.cognee, self.other), 1)

    async def test_no_session_setting_widens_the_tenant(self):
        async with self.tenant.acquire() as conn:
            await conn.execute("SET ROLE cognee_user")
            self.assertEqual(await self.count(conn, self.other), 0, "SET ROLE to the group: still scoped")
            await conn.execute("RESET ROLE")
            await conn.execute("SET row_security = off")
            with self.assertRaises(asyncpg.InsufficientPrivilegeError):
                await self.count(conn, self.other)

    async def test_sqlstates_cognee_gets(self):
        # a row with neither owner column: refused by the policy, 42501 (not the CHECK's 23514)
        with self.assertRaises(asyncpg.InsufficientPrivilegeError):
            await self.cognee.execute(
                "INSERT INTO unified.chunks (source, source_id, content) VALUES ('cognee', 'x', 'orphan')")
        # a Claude-Context row: 42501
        with self.assertRaises(asyncpg.InsufficientPrivilegeError):
            await self.cognee.execute(
                "INSERT INTO unified.chunks (source, source_id, project_id, content) VALUES ('claude_context', 'x', 'p', 'c')")
        # claiming a project for a Cognee row (sharing it): 42501
        with self.assertRaises(asyncpg.InsufficientPrivilegeError):
            await self.cognee.execute(
                "UPDATE unified.chunks SET project_id = 'p' WHERE cognee_dataset_id = $1", self.mine)
        # changing a row's key: 42501 (column privilege)
        with self.assertRaises(asyncpg.InsufficientPrivilegeError):
            await self.cognee.execute(
                "UPDATE unified.chunks SET source_id = 'other' WHERE cognee_dataset_id = $1", self.mine)
        # a partition directly: 42501
        part = await self.admin.fetchval(
            "SELECT partition FROM unified.partitions WHERE is_default LIMIT 1")
        with self.assertRaises(asyncpg.InsufficientPrivilegeError):
            await self.cognee.fetchval(f"SELECT count(*) FROM {part}")
        # the same data point twice: 23505
        dup = row(self.mine, "twice")
        await self.cognee.execute(
            """INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id, content)
               VALUES ('cognee', $1, $2, $3, 'x')""", dup["source_collection"], dup["source_id"], self.mine)
        with self.assertRaises(asyncpg.UniqueViolationError):
            await self.cognee.execute(
                """INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id, content)
                   VALUES ('cognee', $1, $2, $3, 'x')""", dup["source_collection"], dup["source_id"], self.mine)
        # administrative functions: 42501
        with self.assertRaises(asyncpg.InsufficientPrivilegeError):
            await self.cognee.fetch("SELECT * FROM unified.health_check()")


if __name__ == "__main__":
    unittest.main(verbosity=2)
