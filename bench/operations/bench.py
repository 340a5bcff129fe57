"""Benchmarks of the applications' operations (run by bench/operations/run.sh).

Every candidate is measured against its anchor in the same run, the two
interleaved batch by batch (or query by query), so that whatever else the
machine does slows both alike.  Clients are asyncpg connections over the
Unix socket, as the applications' drivers would be; parameters are sent as
text, as Claude-Context's node-postgres backend sends its vectors.
"""
import asyncio
import math
import os
import random
import statistics
import time

import asyncpg

HOST = os.environ["BENCH_HOST"]
PORT = int(os.environ["BENCH_PORT"])
CHUNKS = int(os.environ.get("BENCH_CHUNKS", "100000"))
BATCH = int(os.environ.get("BENCH_BATCH", "100"))
DIMS = int(os.environ.get("BENCH_DIMS", "768"))
QUERIES = int(os.environ.get("BENCH_QUERIES", "50"))
HNSW_SIZES = [int(x) for x in os.environ.get("BENCH_HNSW_SIZES", "20000 100000").split()]
# which of search_chunks' vector layouts the hnsw phase measures, in this
# order (each against the same plain table, whose index is built first)
HNSW_LAYOUTS = os.environ.get("BENCH_HNSW_LAYOUTS", "partitioned global").split()
# before each round: pg_prewarm the HNSW indexes (BENCH_HNSW_PREWARM=0: not)
# and run this many unmeasured queries through every candidate
PREWARM = os.environ.get("BENCH_HNSW_PREWARM", "1") != "0"
WARMUP = int(os.environ.get("BENCH_HNSW_WARMUP", "0"))
# the hnsw phase's rows (both generators are described at class Latent and
# bench_hnsw): "latent", embeddings of a low intrinsic dimension, as text
# embeddings have; "clusters", 100 centres plus uniform noise on every
# dimension, the hard case for a graph index
HNSW_DATA = os.environ.get("BENCH_HNSW_DATA", "latent").split()
if set(HNSW_DATA) - {"latent", "clusters"}:
    raise SystemExit(f"BENCH_HNSW_DATA: {' '.join(HNSW_DATA)!r}: the generators are latent and clusters")
if set(HNSW_LAYOUTS) - {"partitioned", "global"}:
    raise SystemExit(f"BENCH_HNSW_LAYOUTS: {' '.join(HNSW_LAYOUTS)!r}: the layouts are partitioned and global")
PHASES = os.environ.get("BENCH_PHASES", "upsert sketch_write search storage hnsw layout_upsert").split()
SKETCH_ROUNDS = int(os.environ.get("BENCH_SKETCH_ROUNDS", "4"))
SKETCH_BLOCK = int(os.environ.get("BENCH_SKETCH_BLOCK", "20"))
SEARCH_ROWS = int(os.environ.get("BENCH_SEARCH_ROWS", "50000"))
POOL = 2000  # distinct embeddings; chunk i uses embedding i % POOL

rng = random.Random(42)
WORDS = ("def class return self import from if else for while try except value result "
         "config path load save parse render request response user id list dict str int "
         "async await function const let var export default module props state").split()


def say(*a):
    print(*a, flush=True)


def unit(v):
    n = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / n for x in v]


def fmt(v):
    # shortest text of a float32, as embedding APIs return them
    return ",".join("%.8g" % x for x in v)


def p(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(math.ceil(q * len(s))) - 1)]


async def connect(user="postgres"):
    return await asyncpg.connect(host=HOST, port=PORT, user=user, database="bench")


async def setup(admin):
    await admin.execute("CREATE EXTENSION IF NOT EXISTS vector")
    await admin.execute("CREATE ROLE bench_claude LOGIN IN ROLE claude_user")
    await admin.execute("GRANT CREATE ON SCHEMA public TO bench_claude")
    claude = await connect("bench_claude")
    # Claude-Context's PostgreSQL backend: one table per codebase; the plain
    # layout, and the hybrid one (its default), without the HNSW index it
    # also creates (see BENCHMARKS.md: that index alone makes its inserts
    # many times slower, and unified.chunks has none in this test).
    for proj in ("a", "b"):
        await claude.execute(f"""
            CREATE TABLE code_chunks_{proj} (
                id TEXT PRIMARY KEY, vector vector({DIMS}), content TEXT NOT NULL,
                relative_path TEXT NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,
                file_extension TEXT NOT NULL, metadata text DEFAULT '{{}}'::text,
                created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP);
            CREATE INDEX ON code_chunks_{proj} (relative_path);
            CREATE INDEX ON code_chunks_{proj} (file_extension);
            CREATE TABLE hybrid_code_chunks_{proj} (
                id TEXT PRIMARY KEY, vector vector({DIMS}), content TEXT NOT NULL,
                relative_path TEXT NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,
                file_extension TEXT NOT NULL, metadata text DEFAULT '{{}}'::text,
                created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
                content_tsvector tsvector);
            CREATE INDEX ON hybrid_code_chunks_{proj} (relative_path);
            CREATE INDEX ON hybrid_code_chunks_{proj} (file_extension);
            CREATE INDEX ON hybrid_code_chunks_{proj} USING gin (content_tsvector);""")
    return claude


def make_chunks():
    emb = [fmt(unit([rng.gauss(0, 1) for _ in range(DIMS)])) for _ in range(POOL)]
    bodies = [" ".join(rng.choice(WORDS) for _ in range(160)) for _ in range(500)]
    return emb, bodies


def chunk(i, emb, bodies, version=0):
    proj = "a" if i < CHUNKS // 2 else "b"
    return {
        "id": "chunk_%016x" % i, "proj": proj, "vector": emb[i % POOL],
        "content": bodies[i % len(bodies)] + (" v%d" % version if version else ""),
        "relative_path": "src/mod_%d/file_%d.py" % (i // 2000, i // 20),
        "start_line": (i % 20) * 30 + 1, "end_line": (i % 20) * 30 + 30,
        "file_extension": ".py", "metadata": '{"codebasePath": "/repo/%s", "language": "python"}' % proj,
    }


def baseline_sql(table, n, hybrid):
    cols = 9 if hybrid else 8
    rows = []
    for r in range(n):
        b = r * 8 + 1
        vals = (f"(${b}::text, ${b+1}::vector, ${b+2}::text, ${b+3}::text, ${b+4}::integer, "
                f"${b+5}::integer, ${b+6}::text, ${b+7}::text")
        vals += f", to_tsvector('english', ${b+2}))" if hybrid else ")"
        rows.append(vals)
    tsv = ", content_tsvector" if hybrid else ""
    upd = ", content_tsvector = to_tsvector('english', EXCLUDED.content)" if hybrid else ""
    del cols
    return (f"INSERT INTO {table} (id, vector, content, relative_path, start_line, end_line, "
            f"file_extension, metadata{tsv}) VALUES {', '.join(rows)} "
            "ON CONFLICT (id) DO UPDATE SET vector = EXCLUDED.vector, content = EXCLUDED.content, "
            "relative_path = EXCLUDED.relative_path, start_line = EXCLUDED.start_line, "
            "end_line = EXCLUDED.end_line, file_extension = EXCLUDED.file_extension, "
            f"metadata = EXCLUDED.metadata{upd}")


def baseline_args(cs):
    args = []
    for c in cs:
        args += [c["id"], "[" + c["vector"] + "]", c["content"], c["relative_path"],
                 c["start_line"], c["end_line"], c["file_extension"], c["metadata"]]
    return args


def upsert_json(cs, as_string, prefix=""):
    # as_string: the embedding as a JSON string in pgvector's text form,
    # else as a JSON array of numbers; each variant writes to its own
    # projects (prefix) so that all of them insert
    parts = []
    for c in cs:
        proj = prefix + ("s" if as_string else "") + c["proj"]
        emb = ('"[%s]"' if as_string else "[%s]") % c["vector"]
        parts.append(
            '{"source": "claude_context", "source_collection": "code_chunks_%s", "source_id": "%s", '
            '"project_id": "proj-%s", "content": "%s", "relative_path": "%s", "start_line": %d, '
            '"end_line": %d, "file_extension": "%s", "embedding": %s, "metadata": %s}'
            % (proj, c["id"], proj, c["content"], c["relative_path"], c["start_line"],
               c["end_line"], c["file_extension"], emb, c["metadata"]))
    return "[" + ", ".join(parts) + "]"


async def bench_upsert(claude, emb, bodies, first, count, version, label):
    # the batch's JSON text through an untyped parameter is the text form of
    # upsert_chunks (what node-postgres and asyncpg send for $1); an
    # explicit ::jsonb is the jsonb form, whose argument jsonb_in makes first
    variants = ("text form, numbers", "jsonb form, numbers", "text form, string",
                "hybrid_code_chunks", "code_chunks")
    total = {v: 0.0 for v in variants}
    stmts = {}
    for proj in ("a", "b"):
        stmts[("hybrid_code_chunks", proj)] = await claude.prepare(baseline_sql(f"hybrid_code_chunks_{proj}", BATCH, True))
        stmts[("code_chunks", proj)] = await claude.prepare(baseline_sql(f"code_chunks_{proj}", BATCH, False))
    text_form = await claude.prepare("SELECT inserted, updated FROM unified.upsert_chunks($1)")
    jsonb_form = await claude.prepare("SELECT inserted, updated FROM unified.upsert_chunks($1::text::jsonb)")
    assert [t.name for t in text_form.get_parameters()] == ["text"]
    ours = {"text form, numbers": (text_form, False, "t"), "jsonb form, numbers": (jsonb_form, False, ""),
            "text form, string": (text_form, True, "")}
    counts = {v: [0, 0] for v in ours}
    for n, start in enumerate(range(first, first + count, BATCH)):
        cs = [chunk(i, emb, bodies, version) for i in range(start, start + BATCH)]
        proj = cs[0]["proj"]
        payload = {v: upsert_json(cs, ours[v][1], ours[v][2]) for v in ours}
        args = baseline_args(cs)
        order = list(variants)
        if n % 2:
            order.reverse()
        for v in order:
            t0 = time.perf_counter()
            if v in ours:
                r = await ours[v][0].fetchrow(payload[v])
                counts[v][0] += r["inserted"]
                counts[v][1] += r["updated"]
            else:
                await stmts[(v, proj)].fetch(*args)
            total[v] += time.perf_counter() - t0
    say(f"  (load average {os.getloadavg()[0]:.2f})")
    say(f"  {label}: {count} chunks, batches of {BATCH}; upsert_chunks reported (inserted, updated) "
        + ", ".join(f"{v}: {tuple(c)}" for v, c in counts.items()))
    for v in variants:
        say(f"    {v:24s} {total[v]:7.1f} s  {count / total[v]:8.0f} chunks/s")
    for o in ours:
        for v in variants[3:]:
            say(f"    throughput ratio {o} / {v}: {total[v] / total[o]:.2f}  (target >= 0.7)")
    say(f"    throughput ratio text form / jsonb form (numbers): {total['jsonb form, numbers'] / total['text form, numbers']:.2f}")


async def load_search_data(admin):
    """A project of SEARCH_ROWS chunks and as many of other projects in
    unified.chunks, and the project alone in the backend's table, generated
    on the server; everything fits in shared_buffers and is read once."""
    await admin.execute("TRUNCATE unified.chunks")
    await admin.execute("DROP TABLE IF EXISTS code_chunks_a, code_chunks_b, hybrid_code_chunks_a, hybrid_code_chunks_b")
    await admin.execute(f"""
        SELECT setseed(0.25);
        INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content,
                                    relative_path, start_line, end_line, file_extension, embedding)
        SELECT 'claude_context', 'code_chunks_' || p, 'chunk_' || i, 'proj-' || p,
               repeat('def handler(request): return response ', 25),
               'src/file_' || (i / 20) || '.py', 1, 30, '.py',
               ARRAY(SELECT (random() - 0.5)::real FROM generate_series(1, {DIMS}) WHERE i > 0)
          FROM (VALUES ('a'), ('b')) AS v(p), generate_series(1, {SEARCH_ROWS}) i
         ORDER BY p, i;  -- a project's chunks are written together, as an indexer does
        CREATE TABLE code_chunks_a (
            id TEXT PRIMARY KEY, vector vector({DIMS}), content TEXT NOT NULL,
            relative_path TEXT NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,
            file_extension TEXT NOT NULL, metadata text DEFAULT '{{}}'::text,
            created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP);
        INSERT INTO code_chunks_a SELECT source_id, embedding::vector, content, relative_path, start_line,
               end_line, file_extension FROM unified.chunks WHERE project_id = 'proj-a';
        GRANT SELECT ON code_chunks_a TO bench_claude;""")
    await admin.execute("VACUUM ANALYZE unified.chunks, code_chunks_a")


async def bench_exact_search(admin):
    await load_search_data(admin)
    claude = await connect("bench_claude")
    ours = await claude.prepare("SELECT id, score FROM unified.search_chunks($1::real[], 10, 'proj-a')")
    # the plain path (every candidate row read), in a session with the
    # sketch index's use turned off, serial and where the planner goes
    # parallel whenever it can (2 workers on this machine)
    claude_plain = await connect("bench_claude")
    await claude_plain.execute("SET unified_pg.sketch_search = off")
    plain = await claude_plain.prepare("SELECT id, score FROM unified.search_chunks($1::real[], 10, 'proj-a')")
    claude_par = await connect("bench_claude")
    await claude_par.execute("SET unified_pg.sketch_search = off; SET parallel_setup_cost = 0")
    ours_par = await claude_par.prepare("SELECT id, score FROM unified.search_chunks($1::real[], 10, 'proj-a')")
    base = await claude.prepare("SELECT id, 1 - (vector <=> $1::text::vector) AS score FROM code_chunks_a "
                                "ORDER BY vector <=> $1::text::vector LIMIT 10")
    variants = [("search_chunks", ours, False), ("plain path (sketch off)", plain, False),
                ("plain path, parallel", ours_par, False), ("pgvector exact", base, True)]
    times = {name: [] for name, _, _ in variants}
    for q in range(QUERIES + 3):
        v = [rng.uniform(-0.5, 0.5) for _ in range(DIMS)]
        arr, vec = v, "[" + fmt(v) + "]"
        order = variants if q % 2 == 0 else variants[::-1]
        answers = {}
        for name, st, as_vec in order:
            t0 = time.perf_counter()
            rows = await st.fetch(vec if as_vec else arr)
            dt = (time.perf_counter() - t0) * 1000
            assert len(rows) == 10
            answers[name] = [r["id"] for r in rows]
            if q >= 3:  # the first queries warm the caches
                times[name].append(dt)
        assert answers["search_chunks"] == answers["plain path (sketch off)"] == answers["plain path, parallel"]
    await claude.close()
    await claude_plain.close()
    await claude_par.close()
    say(f"  exact search in one project of {SEARCH_ROWS} chunks ({DIMS} dims; unified.chunks holds "
        f"{2 * SEARCH_ROWS}), {QUERIES} queries, k = 10, as a claude_user login under RLS:")
    for name, t in times.items():
        say(f"    {name:24s} p50 {statistics.median(t):6.1f} ms  p95 {p(t, 0.95):6.1f} ms")
    say(f"    p95 ratio search_chunks / pgvector exact scan of the backend's table: "
        f"{p(times['search_chunks'], 0.95) / p(times['pgvector exact'], 0.95):.2f}  (target: p95 < 50 ms)")
    say(f"    p95 ratio search_chunks / plain path: "
        f"{p(times['search_chunks'], 0.95) / p(times['plain path (sketch off)'], 0.95):.2f}; "
        "the same ids for every query")
    say(f"    load average after the search phase: {os.getloadavg()[0]:.2f}")


async def bench_storage(admin):
    n = 20000
    await admin.execute(f"""
        CREATE TABLE st_src AS SELECT g AS id, ARRAY(SELECT (random() - 0.5)::real
                                                   FROM generate_series(1, {DIMS}) WHERE g > 0) AS embedding
          FROM generate_series(1, {n}) g""")
    res = {}
    for name, clause in (("MAIN", "ALTER TABLE st_x ALTER embedding SET STORAGE MAIN"),
                         ("EXTENDED (default, pglz)", ""),
                         ("EXTENDED, lz4", "ALTER TABLE st_x ALTER embedding SET COMPRESSION lz4"),
                         ("EXTERNAL", "ALTER TABLE st_x ALTER embedding SET STORAGE EXTERNAL")):
        await admin.execute("DROP TABLE IF EXISTS st_x; CREATE TABLE st_x (id int, embedding real[]);" + (clause and clause + ";"))
        t0 = time.perf_counter()
        await admin.execute("INSERT INTO st_x SELECT * FROM st_src")
        write = time.perf_counter() - t0
        await admin.execute("VACUUM ANALYZE st_x")
        compressed = await admin.fetchval("SELECT count(*) FILTER (WHERE pg_column_compression(embedding) IS NOT NULL) FROM st_x")
        heap = await admin.fetchval("SELECT pg_relation_size('st_x')")
        total = await admin.fetchval("SELECT pg_table_size('st_x')")
        qv = await admin.fetchval("SELECT embedding FROM st_src WHERE id = 7")
        st = await admin.prepare("SELECT id FROM st_x ORDER BY unified.cosine_distance(embedding, $1::real[]) LIMIT 10")
        await st.fetch(qv)
        ts = []
        for _ in range(7):
            t0 = time.perf_counter()
            await st.fetch(qv)
            ts.append((time.perf_counter() - t0) * 1000)
        res[name] = (write, statistics.median(ts), compressed, heap, total)
    say(f"  embedding storage, {n} rows of {DIMS} random floats (plain tables, cosine top-10 scan, median of 7):")
    for name, (w, s, c, h, t) in res.items():
        say(f"    {name:26s} scan {s:6.1f} ms  write {w:5.2f} s  compressed rows {c:5d}  heap {h >> 20:4d} MB  total {t >> 20:4d} MB")
    say(f"    scan ratio EXTENDED / MAIN: {res['EXTENDED (default, pglz)'][1] / res['MAIN'][1]:.2f}")
    await admin.execute("DROP TABLE st_x, st_src")


async def hnsw_queries(admin, centers, n=QUERIES + 3):
    return [r["q"] for r in await admin.fetch(f"""
        SELECT ARRAY(SELECT x + (random()::real - 0.5) * 0.3 FROM unnest(c.v) x)::text AS q
          FROM generate_series(1, {n}) g JOIN hnsw_centers c ON c.c = 1 + (g * 37) % {centers}""")]


# The latent generator.  Text embeddings fill their 768 dimensions far from
# uniformly: estimates of their intrinsic dimension are in the tens, and
# their nearest neighbours are clearly nearer than the rest.  Each row here
# is a point of a 32-dimensional latent space (one of 1,000 topics: a
# centre drawn from N(0, I), plus N(0, 0.6^2 I) around it), mapped into 768
# dimensions by one fixed random matrix, plus isotropic noise of a fifth of
# the signal's norm, scaled to unit length.  Queries are fresh points of the
# same model.  Fixed seeds: every run loads the same rows.
LATENT_DIMS, LATENT_TOPICS, LATENT_SPREAD, LATENT_NOISE = 32, 1000, 0.6, 0.2


class Latent:
    def __init__(self):
        import numpy  # python3-numpy (run.sh installs it)
        self.np = numpy
        model = numpy.random.default_rng(7)
        self.centres = model.standard_normal((LATENT_TOPICS, LATENT_DIMS))
        self.basis = model.standard_normal((LATENT_DIMS, DIMS)) / math.sqrt(LATENT_DIMS)

    def rows(self, rng, n):
        np = self.np
        topic = rng.integers(0, LATENT_TOPICS, n)
        z = self.centres[topic] + LATENT_SPREAD * rng.standard_normal((n, LATENT_DIMS))
        x = z @ self.basis
        x += LATENT_NOISE * np.linalg.norm(x, axis=1, keepdims=True) / math.sqrt(DIMS) * rng.standard_normal((n, DIMS))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32)

    def copy_data(self, first, x):
        """COPY ... (FORMAT binary) of (i int, embedding real[]) rows."""
        np = self.np
        n = len(x)
        rec = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("i", ">i4"), ("l2", ">i4"),
                        ("ndim", ">i4"), ("nulls", ">i4"), ("elem", ">i4"), ("dim", ">i4"), ("lb", ">i4"),
                        ("el", [("len", ">i4"), ("v", ">f4")], (DIMS,))])
        a = np.zeros(n, rec)
        a["nf"], a["l1"], a["i"], a["l2"] = 2, 4, np.arange(first, first + n), 20 + 8 * DIMS
        a["ndim"], a["elem"], a["dim"], a["lb"] = 1, 700, DIMS, 1   # 700: float4
        a["el"]["len"] = 4
        a["el"]["v"] = x
        return a.tobytes()


async def load_latent(admin, size):
    """Load `size` rows of the latent model into hnsw_rows (i, embedding)
    by binary COPY, and return the query texts."""
    gen = Latent()
    rows = gen.np.random.default_rng(11)
    await admin.execute("CREATE UNLOGGED TABLE hnsw_rows (i int, embedding real[])")
    head = b"PGCOPY\n\xff\r\n\0" + bytes(8)

    async def stream():
        yield head
        for first in range(1, size + 1, 10000):
            yield gen.copy_data(first, gen.rows(rows, min(10000, size + 1 - first)))
        yield b"\xff\xff"
    await admin.copy_to_table("hnsw_rows", source=stream(), format="binary")
    qrng = gen.np.random.default_rng(13)
    return ["{" + ",".join("%.8g" % v for v in q) + "}" for q in gen.rows(qrng, QUERIES + 3 + WARMUP)]


async def hnsw_warm(admin, candidates, wq):
    """Bring every HNSW index of the round into the OS cache (pg_prewarm,
    read mode) and run the warm-up queries wq through every candidate,
    unmeasured: when the indexes outgrow shared_buffers, the index built
    last would otherwise be measured warm and the others cold."""
    if PREWARM:
        t0 = time.perf_counter()
        warmed = await admin.fetch("""
            SELECT c.oid::regclass::text AS rel, pg_prewarm(c.oid, 'read') AS blocks
              FROM pg_class c JOIN pg_am a ON a.oid = c.relam
             WHERE a.amname = 'hnsw' AND c.relkind = 'i' ORDER BY pg_relation_size(c.oid)""")
        mb = sum(r["blocks"] for r in warmed) * 8192 >> 20
        say(f"    prewarm: {len(warmed)} HNSW indexes, {mb} MB, {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    for n, q in enumerate(wq):
        vec = "[" + q[1:-1] + "]"
        for name, st, kind in candidates[n % len(candidates):] + candidates[:n % len(candidates)]:
            await st.fetch(q if kind == "array" else vec)
    if wq:
        say(f"    warm-up: {len(wq)} queries through every candidate, {time.perf_counter() - t0:.1f} s")


async def hnsw_round(candidates, exact, qs):
    """Run every query through every candidate, rotating their order query
    by query; return {name: (times ms, recalls)} after 3 warm-up queries."""
    out = {name: ([], []) for name, _, _ in candidates}
    for n, q in enumerate(qs):
        vec = "[" + q[1:-1] + "]"
        order = candidates[n % len(candidates):] + candidates[:n % len(candidates)]
        got = {}
        for name, st, kind in order:
            t0 = time.perf_counter()
            got[name] = {r["id"] for r in await st.fetch(q if kind == "array" else vec)}
            dt = (time.perf_counter() - t0) * 1000
            if n >= 3:
                out[name][0].append(dt)
        truth = {r["id"] for r in await exact.fetch(q)}
        if n >= 3:
            for name in got:
                out[name][1].append(len(got[name] & truth) / 10)
    return out


def hnsw_report(out, base):
    for name, (t, r) in out.items():
        say(f"    {name:40s} p50 {statistics.median(t):6.2f} ms  p95 {p(t, 0.95):6.2f} ms  recall@10 {statistics.mean(r):.3f}")
    for name, (t, r) in out.items():
        if name.startswith("search_chunks"):
            for b in base:
                say(f"    p95 ratio {name} / {b}: {p(t, 0.95) / p(out[b][0], 0.95):.2f}  (targets: ratio <= 1.5, recall >= 0.95)")


def on_notice(conn, msg):
    # pgvector says so when a graph outgrows maintenance_work_mem
    say(f"    (server notice: {msg.message})")


async def timed(admin, sql, *args):
    t0 = time.perf_counter()
    await admin.execute(sql, *args)
    return time.perf_counter() - t0


async def bench_hnsw(admin, size, data):
    centers = 100
    # the server's maintenance_work_mem (run.sh: BENCH_MAINTENANCE_WORK_MEM)
    mwm = await admin.fetchval("SHOW maintenance_work_mem")
    sb = await admin.fetchval("SHOW shared_buffers")
    workers = await admin.fetchval("SHOW max_parallel_maintenance_workers")
    admin.add_log_listener(on_notice)
    if PREWARM:
        await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    await admin.execute(f"SELECT unified.disable_vector_index({DIMS})")
    await admin.execute("TRUNCATE unified.chunks")
    await admin.execute("DROP TABLE IF EXISTS items, hnsw_centers, hnsw_rows")
    await admin.execute(f"""
        SELECT unified.create_monthly_partition((date_trunc('month', now()) - make_interval(months => m))::date)
          FROM generate_series(1, 11) m""")
    t0 = time.perf_counter()
    if data == "latent":
        queries = await load_latent(admin, size)
        rows = "hnsw_rows"
        what = (f"a {LATENT_DIMS}-dimensional latent model ({LATENT_TOPICS} topics, spread {LATENT_SPREAD}, "
                f"noise {LATENT_NOISE})")
    else:
        # 100 centres, each dimension uniform in [-0.5, 0.5), and every row
        # (and query) a centre plus uniform noise in [-0.15, 0.15) on every
        # dimension: within a cluster all rows are at nearly one distance
        await admin.execute(f"""
            SELECT setseed(0.5);
            CREATE TABLE hnsw_centers AS SELECT c, ARRAY(SELECT random()::real - 0.5 FROM generate_series(1, {DIMS}) WHERE c > 0) AS v
              FROM generate_series(1, {centers}) c;
            CREATE UNLOGGED TABLE hnsw_rows AS
            SELECT i, ARRAY(SELECT x + (random()::real - 0.5) * 0.3 FROM unnest(c.v) x) AS embedding
              FROM generate_series(1, {size}) i JOIN hnsw_centers c ON c.c = 1 + i % {centers};""")
        queries = await hnsw_queries(admin, centers, QUERIES + 3 + WARMUP)
        what = f"{centers} clusters of uniform noise"
    await admin.execute(f"""
        INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, embedding, created_at)
        SELECT 'claude_context', 'code_chunks_h', 'h' || i, 'proj-h' || (i % 10), 'chunk ' || i, embedding,
               date_trunc('month', now()) - make_interval(months => i % 12) + interval '1 day'
          FROM hnsw_rows;
        DROP TABLE hnsw_rows""")
    t_load = time.perf_counter() - t0
    t_items = await timed(admin, f"""
        CREATE TABLE items (id bigint PRIMARY KEY, embedding vector({DIMS}));
        INSERT INTO items SELECT id, embedding::vector FROM unified.chunks;""")
    t_vacuum = await timed(admin, "VACUUM ANALYZE unified.chunks, items")
    say(f"  HNSW, {size} chunks of {DIMS} dims from {what}, 12 monthly partitions, {QUERIES} queries, k = 10 "
        f"(shared_buffers {sb}, maintenance_work_mem {mwm}, max_parallel_maintenance_workers {workers}):")
    say(f"    load: unified.chunks {t_load:.1f} s, plain table {t_items:.1f} s, VACUUM ANALYZE {t_vacuum:.1f} s "
        f"(load average {os.getloadavg()[0]:.2f})")

    claude = await connect("bench_claude")
    exact = await claude.prepare("SELECT id FROM unified.search_chunks_exact($1::text::real[], 10, NULL, NULL, NULL, NULL, NULL)")
    # the backend does not set hnsw.ef_search: pgvector's default, 40, which
    # the partitioned layout uses too (per partition); the global layout
    # uses 100, so the plain table is measured at both
    admin100 = await connect()
    await admin100.execute("SET hnsw.ef_search = 100")
    qs, wq = queries[:QUERIES + 3], queries[QUERIES + 3:]
    plain40, plain100 = "plain table, one index (ef_search 40)", "plain table, one index (ef_search 100)"
    b_base = await timed(admin, "CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops)")
    say(f"    build: plain table's index {b_base:6.1f} s (load average {os.getloadavg()[0]:.2f})")
    base = await admin.prepare("SELECT id FROM items ORDER BY embedding <=> $1::vector LIMIT 10")
    base100 = await admin100.prepare("SELECT id FROM items ORDER BY embedding <=> $1::vector LIMIT 10")
    # the layouts in the order asked for, each built, measured and dropped
    for layout in HNSW_LAYOUTS:
        if layout == "partitioned":
            b_ours = await timed(admin, f"SELECT unified.enable_vector_index({DIMS})")
            parts = await admin.fetchval("SELECT partitions FROM unified.vector_indexes WHERE dimensions = $1", DIMS)
            say(f"    build: partitioned {b_ours:6.1f} s ({parts} partition indexes; load average {os.getloadavg()[0]:.2f})")
            ours = await claude.prepare("SELECT id FROM unified.search_chunks($1::text::real[], 10)")
            cands = [("search_chunks (partitioned, ef_search 40)", ours, "array"),
                     (plain40, base, "vector"), (plain100, base100, "vector")]
        elif layout == "global":
            b_global = await timed(admin, f"SELECT unified.enable_vector_index({DIMS}, layout => 'global')")
            await admin.execute(f"VACUUM ANALYZE unified.chunk_vectors_{DIMS}")
            say(f"    build: global layout {b_global:6.1f} s (copy into unified.chunk_vectors_{DIMS} and one index; "
                f"load average {os.getloadavg()[0]:.2f})")
            ours = await claude.prepare("SELECT id FROM unified.search_chunks($1::text::real[], 10)")
            # the global layout uses the caller's hnsw.ef_search when it is above 100
            claude200 = await connect("bench_claude")
            await claude200.execute("SET hnsw.ef_search = 200")
            ours200 = await claude200.prepare("SELECT id FROM unified.search_chunks($1::text::real[], 10)")
            cands = [("search_chunks (global, ef_search 100)", ours, "array"),
                     ("search_chunks (global, ef_search 200)", ours200, "array"),
                     (plain40, base, "vector"), (plain100, base100, "vector")]
        await hnsw_warm(admin, cands, wq)
        out = await hnsw_round(cands, exact, qs)
        if layout == "global":
            await claude200.close()
        hnsw_report(out, [plain40, plain100])
        say(f"    (load average after the round {os.getloadavg()[0]:.2f})")
        await admin.execute(f"SELECT unified.disable_vector_index({DIMS})")
    await claude.close()
    await admin100.close()
    admin.remove_log_listener(on_notice)


async def bench_layout_upsert(admin, emb, bodies):
    """What each vector layout costs upsert_chunks: blocks of new chunks
    (and of re-indexed ones, new content and embedding) in batches of BATCH,
    with no vector index, the partitioned layout and the global one, the
    layouts taking turns block by block over the same growing table."""
    base_rows = int(os.environ.get("BENCH_LAYOUT_BASE", "20000"))
    block = int(os.environ.get("BENCH_LAYOUT_BLOCK", "1000"))
    rounds = 3
    await admin.execute(f"SELECT unified.disable_vector_index({DIMS})")
    await admin.execute("TRUNCATE unified.chunks")
    await admin.execute(f"""
        SELECT setseed(0.75);
        INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, embedding)
        SELECT 'claude_context', 'code_chunks_u', 'base' || i, 'proj-u', 'chunk ' || i,
               ARRAY(SELECT random()::real - 0.5 FROM generate_series(1, {DIMS}) WHERE i > 0)
          FROM generate_series(1, {base_rows}) i""")
    await admin.execute("VACUUM ANALYZE unified.chunks")
    claude = await connect("bench_claude")
    ours = await claude.prepare("SELECT inserted, updated FROM unified.upsert_chunks($1::text::jsonb)")
    layouts = ("none", "partitioned", "global")
    total = {(l, k): 0.0 for l in layouts for k in ("insert", "update")}
    nxt = 10_000_000
    for r in range(rounds):
        for l in (layouts if r % 2 == 0 else tuple(reversed(layouts))):
            await admin.execute(f"SELECT unified.disable_vector_index({DIMS})")
            if l != "none":
                await admin.execute(f"SELECT unified.enable_vector_index({DIMS}, layout => '{l}')")
            # a block of new chunks, then the same chunks re-indexed
            for kind in ("insert", "update"):
                for start in range(nxt, nxt + block, BATCH):
                    cs = [chunk(i, emb, bodies, 1 if kind == "update" else 0) for i in range(start, start + BATCH)]
                    if kind == "update":
                        for c in cs:
                            c["vector"] = emb[(int(c["id"][6:], 16) + 7) % POOL]
                    payload = upsert_json(cs, True)
                    t0 = time.perf_counter()
                    await ours.fetchrow(payload)
                    total[(l, kind)] += time.perf_counter() - t0
            nxt += block
    await claude.close()
    n = block * rounds
    say(f"  upsert_chunks by vector layout: {n} new and {n} re-indexed chunks ({DIMS} dims) per layout, "
        f"batches of {BATCH}, over {base_rows}+ chunks, layouts taking turns in blocks of {block}:")
    for l in layouts:
        say(f"    {l:12s} insert {n / total[(l, 'insert')]:7.0f} chunks/s   re-index {n / total[(l, 'update')]:7.0f} chunks/s")
    for kind in ("insert", "update"):
        say(f"    {kind}: global / partitioned throughput {total[('partitioned', kind)] / total[('global', kind)]:.2f}, "
            f"global / none {total[('none', kind)] / total[('global', kind)]:.2f}")


async def bench_sketch_write(admin, claude, emb, bodies):
    """What chunks_project_sketch_idx (the exact search's 8-bit copies) costs
    an upsert: blocks of batches through the text form with the index and
    without it, alternating, new keys each batch."""
    text_form = await claude.prepare("SELECT inserted, updated FROM unified.upsert_chunks($1)")
    # (pg_get_indexdef says ON ONLY for a partitioned index: made that way it
    # would stay invalid, without its partitions' parts)
    idx_def = (await admin.fetchval("SELECT pg_get_indexdef('unified.chunks_project_sketch_idx'::regclass)")
               ).replace(" ON ONLY ", " ON ", 1)
    times = {True: [], False: []}
    nxt = 10_000_000  # keys of no other phase
    for r in range(2 * SKETCH_ROUNDS):
        with_index = r % 2 == 0
        exists = await admin.fetchval("SELECT to_regclass('unified.chunks_project_sketch_idx') IS NOT NULL")
        if with_index and not exists:
            await admin.execute(idx_def)
        elif not with_index and exists:
            await admin.execute("DROP INDEX unified.chunks_project_sketch_idx")
        for _ in range(SKETCH_BLOCK):
            cs = [chunk(i, emb, bodies) for i in range(nxt, nxt + BATCH)]
            nxt += BATCH
            payload = upsert_json(cs, False, "w")
            t0 = time.perf_counter()
            await text_form.fetchrow(payload)
            times[with_index].append((time.perf_counter() - t0) * 1000)
    if not await admin.fetchval("SELECT to_regclass('unified.chunks_project_sketch_idx') IS NOT NULL"):
        await admin.execute(idx_def)
    assert await admin.fetchval("SELECT indisvalid FROM pg_index WHERE indexrelid = 'unified.chunks_project_sketch_idx'::regclass")
    w, wo = statistics.median(times[True]), statistics.median(times[False])
    say(f"  {len(times[True])} + {len(times[False])} batches of {BATCH} new chunks ({DIMS} dims), text form, "
        f"{SKETCH_ROUNDS} rounds of {SKETCH_BLOCK} with and {SKETCH_BLOCK} without the index (load average {os.getloadavg()[0]:.2f}):")
    say(f"    median batch with chunks_project_sketch_idx {w:6.1f} ms, without {wo:6.1f} ms: "
        f"throughput ratio {wo / w:.3f}")


async def main():
    admin = await connect()
    say(f"==> machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (shared with other work)")
    claude = await setup(admin)
    emb, bodies = make_chunks()
    if "upsert" in PHASES:
        say("==> upsert")
        await bench_upsert(claude, emb, bodies, 0, CHUNKS, 0, "insert (new chunks)")
        await bench_upsert(claude, emb, bodies, 0, min(CHUNKS, 10000), 1, "re-index (existing chunks, new content)")
    if "sketch_write" in PHASES:
        say("==> what the exact search's index costs an upsert")
        await bench_sketch_write(admin, claude, emb, bodies)
    await claude.close()
    if "search" in PHASES:
        say("==> exact search")
        await bench_exact_search(admin)
    if "storage" in PHASES:
        say("==> embedding storage")
        await bench_storage(admin)
    if "hnsw" in PHASES:
        say("==> pgvector HNSW")
        for data in HNSW_DATA:
            for size in HNSW_SIZES:
                await bench_hnsw(admin, size, data)
    if "layout_upsert" in PHASES:
        say("==> upsert cost of the vector layouts")
        await bench_layout_upsert(admin, emb, bodies)
    await admin.close()


asyncio.run(main())
