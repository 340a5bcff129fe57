"""The original design's Python coordinator, rewritten on unified_pg's API:
a distributed transaction across Claude-Context's and Cognee's pools."""
import unittest
import uuid

import asyncpg

from coordinator import ParticipantFailed, PostgresTransactionCoordinator, TransactionState


class CoordinatorTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.coord = await PostgresTransactionCoordinator.connect()
        self.tag = uuid.uuid4().hex[:12]
        self.project = f"py-dtx-{self.tag}"
        self.dataset = uuid.uuid4()

    async def asyncTearDown(self):
        await self.coord.pools["claude"].execute("DELETE FROM unified.chunks WHERE project_id = $1", self.project)
        await self.coord.pools["cognee"].execute(
            "DELETE FROM unified.chunks WHERE cognee_dataset_id = $1", self.dataset)
        await self.coord.close()

    async def write_claude(self, conn):
        await conn.execute("SELECT unified.upsert_chunks($1::jsonb)", [
            {"source": "claude_context", "source_id": f"py-{self.tag}", "project_id": self.project,
             "content": "claude side"}])

    async def write_cognee(self, conn):
        await conn.execute("SELECT unified.upsert_chunks($1::jsonb)", [
            {"source": "cognee", "source_collection": "DocumentChunk_text", "source_id": str(uuid.uuid4()),
             "cognee_dataset_id": str(self.dataset), "content": "cognee side", "metadata": {"text": "cognee side"}}])

    async def visible(self):
        c = await self.coord.pools["claude"].fetchval(
            "SELECT count(*) FROM unified.chunks WHERE project_id = $1", self.project)
        g = await self.coord.pools["cognee"].fetchval(
            "SELECT count(*) FROM unified.chunks WHERE cognee_dataset_id = $1", self.dataset)
        return c, g

    async def test_commit_across_both_pools(self):
        tx = f"py-commit-{self.tag}"
        state = await self.coord.run(tx, {"claude": self.write_claude, "cognee": self.write_cognee})
        self.assertEqual(state, TransactionState.COMMITTED)
        self.assertEqual(await self.visible(), (1, 1))

    async def test_failing_participant_aborts_everything(self):
        tx = f"py-abort-{self.tag}"

        async def cognee_writes_into_claude(conn):
            await conn.execute("""INSERT INTO unified.chunks (source, source_id, project_id, content)
                                  VALUES ('claude_context', 'x', 'not-cognees', 'x')""")

        with self.assertRaises(ParticipantFailed) as cm:
            await self.coord.run(tx, {"claude": self.write_claude, "cognee": cognee_writes_into_claude})
        self.assertEqual(cm.exception.participant, "cognee")
        self.assertIsInstance(cm.exception.__cause__, asyncpg.InsufficientPrivilegeError)
        self.assertEqual(await self.coord.state(tx), TransactionState.ABORTED)
        self.assertEqual(await self.visible(), (0, 0))
        self.assertEqual(await self.coord.pools["shared"].fetchval(
            "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'unified:' || $1 || ':%'", tx), 0)

    async def test_commit_without_every_vote_aborts_and_names_the_missing_one(self):
        tx = f"py-missing-{self.tag}"
        await self.coord.begin_distributed_transaction(tx, ["claude", "cognee"])
        async with self.coord.participant(tx, "claude") as conn:
            await self.write_claude(conn)
        with self.assertRaisesRegex(asyncpg.PostgresError, "cognee") as cm:
            await self.coord.commit_transaction(tx)
        self.assertEqual(await self.coord.state(tx), TransactionState.ABORTED)
        self.assertEqual(await self.visible(), (0, 0), "claude's prepared work was rolled back")
        self.assertTrue(cm.exception.sqlstate)

    async def test_identifiers_are_checked_by_the_server(self):
        with self.assertRaises(asyncpg.PostgresError) as cm:
            await self.coord.begin_distributed_transaction("x'; DROP TABLE unified.chunks; --")
        self.assertEqual(cm.exception.sqlstate[:2], "22")


if __name__ == "__main__":
    unittest.main(verbosity=2)
