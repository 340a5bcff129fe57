"""The original design's migration loop, as a baseline: pages of 1,000
rows read with LIMIT/OFFSET through a client, transformed in Python and
written back with executemany (asyncpg wraps each executemany in a
transaction).  Prints the rows it migrated.

The original pages without ORDER BY.  On a table larger than a quarter of
shared_buffers PostgreSQL's synchronized sequential scans let a page start
anywhere in the table, so pages overlap and rows are read twice (and others
never): unified.chunks refuses the duplicate and the loop dies.  ORDER=""
reproduces that; by default the pages are ordered by id, so that the
baseline completes and is timed (the OFFSET then skips index entries)."""
import asyncio
import json
import os
import sys

import asyncpg


async def main(source, page, order):
    conn = await asyncpg.connect(host=os.environ["PGHOST"], port=int(os.environ["PGPORT"]),
                                 user=os.environ.get("PGUSER", "postgres"),
                                 database=os.environ["PGDATABASE"],
                                 server_settings={"application_name": "unified"})
    total = await conn.fetchval(f"SELECT count(*) FROM {source}")
    insert = ("INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content,"
              " relative_path, start_line, end_line, file_extension, chunk_index, embedding, metadata,"
              " created_at, updated_at)"
              " VALUES ('claude_context', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $12)")
    collection = source.split(".")[-1]
    migrated = 0
    for offset in range(0, total, page):
        rows = await conn.fetch(f"SELECT * FROM {source} {order} LIMIT {page} OFFSET {offset}")
        batch = []
        for r in rows:
            meta = json.loads(r["metadata"] or "{}")
            batch.append((collection, r["id"], meta.get("codebasePath") or collection, r["content"],
                          r["relative_path"], r["start_line"], r["end_line"], r["file_extension"],
                          meta.get("chunkIndex"), r["vector"], json.dumps(meta), r["created_at"]))
        await conn.executemany(insert, batch)
        migrated += len(batch)
    await conn.close()
    print(migrated)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000,
                     os.environ.get("ORDER", "ORDER BY id")))
