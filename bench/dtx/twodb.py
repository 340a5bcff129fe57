#!/usr/bin/python3
"""Two-database distributed transaction benchmark driver (see BENCHMARKS.md).

    twodb.py PROTOCOL CLIENTS SECONDS HOST PORT DB1 DB2

Each client is a process with one connection to DB1 (the coordinator's
database, with the Claude-Context table) and one to DB2 (Cognee's table).
PROTOCOL is one of
  local   baseline: both writes in one local transaction in DB1 (a local
          transaction cannot span two databases)
  api     unified.begin_distributed, a participant prepared in each
          database, CALL unified.commit_distributed
  client  the original design's client-side protocol: a log row per state
          change in DB1, a participant prepared in each database, COMMIT
          PREPARED through each connection
Prints the transactions per second of all clients together.
"""
import asyncio
import multiprocessing
import os
import sys
import time

import asyncpg


async def one_client(proto, cid, seconds, host, port, db1, db2, start_at, out):
    c1 = await asyncpg.connect(host=host, port=port, user="postgres", database=db1)
    c2 = await asyncpg.connect(host=host, port=port, user="postgres", database=db2)
    n = 0
    while time.time() < start_at:
        await asyncio.sleep(0.001)
    end = start_at + seconds
    while time.time() < end:
        n += 1
        tx = f"t{cid}-{os.getpid()}-{n}"
        if proto == "local":
            await c1.execute("BEGIN")
            await c1.execute("INSERT INTO bench_claude VALUES ($1, 'claude')", n)
            await c1.execute("INSERT INTO bench_cognee VALUES ($1, 'cognee')", n)
            await c1.execute("COMMIT")
        elif proto == "api":
            await c1.execute("SELECT unified.begin_distributed($1, '{claude,cognee}')", tx)
            await c1.execute("BEGIN")
            await c1.execute("INSERT INTO bench_claude VALUES ($1, 'claude')", n)
            await c1.execute(f"PREPARE TRANSACTION 'unified:{tx}:claude'")
            await c2.execute("BEGIN")
            await c2.execute("INSERT INTO bench_cognee VALUES ($1, 'cognee')", n)
            await c2.execute(f"PREPARE TRANSACTION 'unified:{tx}:cognee'")
            await c1.execute("CALL unified.commit_distributed($1)", tx)
        else:
            await c1.execute("INSERT INTO client_log VALUES ($1, 'pending')", tx)
            await c1.execute("BEGIN")
            await c1.execute("INSERT INTO bench_claude VALUES ($1, 'claude')", n)
            await c1.execute(f"PREPARE TRANSACTION 'client:{tx}:claude'")
            await c2.execute("BEGIN")
            await c2.execute("INSERT INTO bench_cognee VALUES ($1, 'cognee')", n)
            await c2.execute(f"PREPARE TRANSACTION 'client:{tx}:cognee'")
            await c1.execute("INSERT INTO client_log VALUES ($1, 'committing')", tx)
            await c1.execute(f"COMMIT PREPARED 'client:{tx}:claude'")
            await c2.execute(f"COMMIT PREPARED 'client:{tx}:cognee'")
            await c1.execute("INSERT INTO client_log VALUES ($1, 'committed')", tx)
    # the transaction that ran past the end is not counted
    out.put(n - 1)
    await c1.close()
    await c2.close()


def run_client(args):
    asyncio.run(one_client(*args))


def main():
    proto, clients, seconds, host, port, db1, db2 = sys.argv[1:8]
    clients, seconds, port = int(clients), float(seconds), int(port)
    out = multiprocessing.Queue()
    start_at = time.time() + 1.0 + clients * 0.05
    procs = [multiprocessing.Process(target=run_client,
                                     args=((proto, i, seconds, host, port, db1, db2, start_at, out),))
             for i in range(clients)]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    print(f"{total / seconds:.1f}")


if __name__ == "__main__":
    main()
