"""Cognee's vector adapter on unified_pg.

Cognee's pgvector adapter keeps one table per collection ("DocumentChunk_text",
"Entity_name", ...) with id uuid, payload json and vector, one database or
schema per dataset, and offers create_data_points (insert or update by id),
retrieve, search (nearest by cosine distance, optionally only the points
whose payload's belongs_to_set has given sets) and delete_data_points.  Here
the same operations run against unified.chunks through the extension's
functions: the collection is source_collection, the data point's id is
source_id, the payload is metadata (with its text as content) and the
dataset is cognee_dataset_id.  Row-level security limits a Cognee role to
Cognee's rows (and to its granted datasets, if any).
"""
import json
import uuid
from dataclasses import dataclass, field


@dataclass
class DataPoint:
    """A Cognee data point: id, the text it embeds, its payload and vector."""
    id: uuid.UUID
    text: str
    vector: list
    belongs_to_set: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def payload(self):
        return {"id": str(self.id), "text": self.text, "belongs_to_set": self.belongs_to_set, **self.extra}


def payload_of(metadata, content):
    """Cognee's payload of a stored point: its metadata, with the text that
    unified.chunks keeps in content (a migration stores it there only)."""
    payload = dict(metadata or {})
    payload.setdefault("text", content)
    return payload


@dataclass
class ScoredResult:
    id: uuid.UUID
    payload: dict
    score: float


class UnifiedCogneeAdapter:
    """Cognee's vector operations for one dataset, on an asyncpg pool of the cognee role."""

    def __init__(self, pool, dataset_id):
        self.pool = pool
        self.dataset_id = uuid.UUID(str(dataset_id))

    def _row(self, collection, point):
        return {"source": "cognee", "source_collection": collection, "source_id": str(point.id),
                "cognee_dataset_id": str(self.dataset_id), "content": point.text,
                "metadata": point.payload(), "embedding": list(point.vector)}

    async def create_data_points(self, collection, points, conn=None):
        """Insert or update points by id; belongs_to_set is the union of old and new sets.
        Returns (inserted, updated)."""
        batch = [self._row(collection, p) for p in points]
        # the batch's JSON text to an untyped parameter: the text form of
        # upsert_chunks, which parses it once without making a jsonb
        row = await (conn or self.pool).fetchrow(
            "SELECT inserted, updated FROM unified.upsert_chunks($1, $2)",
            json.dumps(batch), ["belongs_to_set"])
        return row["inserted"], row["updated"]

    async def retrieve(self, collection, ids):
        """The points with these ids, as (id, payload) with score 0."""
        rows = await self.pool.fetch(
            """SELECT source_id, metadata, content FROM unified.chunks
                WHERE source = 'cognee' AND source_collection = $1 AND source_id = ANY($2::text[])
                  AND cognee_dataset_id = $3""",
            collection, [str(i) for i in ids], self.dataset_id)
        return [ScoredResult(uuid.UUID(r["source_id"]), payload_of(r["metadata"], r["content"]), 0.0) for r in rows]

    async def search(self, collection, query_vector, limit=15, belongs_to_set=None):
        """The limit nearest points, best first; score is the cosine distance (Cognee's convention)."""
        flt = {"belongs_to_set": list(belongs_to_set)} if belongs_to_set else None
        rows = await self.pool.fetch(
            """SELECT source_id, metadata, content, score
                 FROM unified.search_chunks($1::real[], $2, cognee_dataset_id => $3,
                                            source_collection => $4, filter => $5::jsonb)""",
            list(query_vector), limit, self.dataset_id, collection, flt)
        return [ScoredResult(uuid.UUID(r["source_id"]), payload_of(r["metadata"], r["content"]), 1.0 - r["score"])
                for r in rows]

    async def delete_data_points(self, collection, ids):
        """Delete points by id; returns how many were deleted."""
        return await self.pool.fetchval(
            "SELECT unified.delete_chunks('cognee', $1, $2::text[])", collection, [str(i) for i in ids])
