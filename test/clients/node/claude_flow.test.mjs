// Claude-Context's real flow on the extension's operations: index a codebase
// (this repository's C sources), search it, re-index a changed file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnifiedPostgresPool } from './lib/pools.mjs';
import { ClaudeContextIndexer, chunkId, splitFile, listFiles, BATCH_SIZE } from './lib/claude_context.mjs';
import { embed } from './lib/embedding.mjs';

const codebase = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');
let pools;
let indexer;
let indexed;

before(async () => {
  pools = UnifiedPostgresPool.fromEnv();
  indexer = new ClaudeContextIndexer(pools, codebase);
  await pools.pool('claude').query('DELETE FROM unified.chunks WHERE project_id = $1', [indexer.project]);
  indexed = await indexer.indexCodebase(['.c', '.h']);
});

after(async () => {
  await pools.pool('claude').query('DELETE FROM unified.chunks WHERE project_id = $1', [indexer.project]);
  await pools.end();
});

test('chunk ids are Claude-Context\'s: chunk_ + 16 hex of sha256(path:start:end:content)', () => {
  assert.match(chunkId('src/a.ts', 1, 40, 'x'), /^chunk_[0-9a-f]{16}$/);
  assert.equal(chunkId('src/a.ts', 1, 40, 'x'), chunkId('src/a.ts', 1, 40, 'x'));
  assert.notEqual(chunkId('src/a.ts', 1, 40, 'x'), chunkId('src/a.ts', 2, 40, 'x'));
  assert.match(indexer.collection, /^code_chunks_[0-9a-f]{8}$/);
});

test('the whole codebase is indexed, in batches of 100', async () => {
  assert.ok(indexed.chunks > BATCH_SIZE, `a codebase of several batches (${indexed.chunks} chunks)`);
  assert.equal(indexed.batches, Math.ceil(indexed.chunks / BATCH_SIZE));
  const { rows } = await pools.pool('claude').query(
    `SELECT count(*)::int AS n, count(DISTINCT relative_path)::int AS files,
            bool_and(source_id ~ '^chunk_[0-9a-f]{16}$') AS ids_ok,
            bool_and(array_length(embedding, 1) = 64) AS vectors_ok
       FROM unified.chunks WHERE project_id = $1 AND source_collection = $2`,
    [indexer.project, indexer.collection]);
  assert.equal(rows[0].n, indexed.chunks);
  assert.equal(rows[0].files, listFiles(codebase, ['.c', '.h']).length);
  assert.ok(rows[0].ids_ok && rows[0].vectors_ok);
});

test('indexing the same codebase again writes no duplicate', async () => {
  const again = await indexer.indexCodebase(['.c', '.h']);
  const { rows } = await pools.pool('claude').query(
    'SELECT count(*)::int AS n FROM unified.chunks WHERE project_id = $1', [indexer.project]);
  assert.equal(rows[0].n, again.chunks);
});

test('a search of the codebase finds the chunk it was asked about first', async () => {
  const text = fs.readFileSync(path.join(codebase, 'resolver.c'), 'utf8');
  const target = splitFile('resolver.c', text)[1];
  const hits = await indexer.search(target.content, 5);
  assert.equal(hits.length, 5);
  assert.equal(hits[0].source_id, target.id);
  assert.ok(hits[0].score > 0.999, `score ${hits[0].score}`);
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score, 'best first');
});

test('min_score keeps only close chunks; hybrid search ranks the words too', async () => {
  const close = await indexer.search('in doubt resolver presumed abort prepared transaction', 50, { minScore: 0.99 });
  for (const h of close) assert.ok(h.score >= 0.99);
  // an identifier of the resolver, taken from the source as it is now
  const ident = fs.readFileSync(path.join(codebase, 'resolver.c'), 'utf8').match(/^(upg_\w+)\(/m)[1];
  const hybrid = await indexer.hybridSearch(ident, 5);
  assert.ok(hybrid.length > 0);
  assert.ok(hybrid.some((h) => h.content.includes(ident)), `a chunk with ${ident} is among the first five`);
});

test('a changed file is re-indexed: its old chunks deleted, its new ones written', async () => {
  const rel = 'pools.c';
  const old = splitFile(rel, fs.readFileSync(path.join(codebase, rel), 'utf8'));
  const changed = '/* changed by the test */\nint upg_changed_for_reindex(void) { return 1; }\n';
  const others = await pools.pool('claude').query(
    'SELECT count(*)::int AS n FROM unified.chunks WHERE project_id = $1 AND relative_path <> $2',
    [indexer.project, rel]);
  const r = await indexer.reindexFile(rel, changed);
  assert.deepEqual(r, { deleted: old.length, written: 1 });
  const { rows } = await pools.pool('claude').query(
    'SELECT source_id, content FROM unified.chunks WHERE project_id = $1 AND relative_path = $2',
    [indexer.project, rel]);
  assert.deepEqual(rows, [{ source_id: splitFile(rel, changed)[0].id, content: changed }]);
  const after = await pools.pool('claude').query(
    'SELECT count(*)::int AS n FROM unified.chunks WHERE project_id = $1 AND relative_path <> $2',
    [indexer.project, rel]);
  assert.equal(after.rows[0].n, others.rows[0].n, 'no other file was touched');
  const hits = await indexer.search(changed, 1);
  assert.equal(hits[0].relative_path, rel);
});

test('a re-index that fails half-way leaves the file as it was', async () => {
  const rel = 'shmem.c';
  const before = await pools.pool('claude').query(
    'SELECT array_agg(source_id ORDER BY source_id) AS ids FROM unified.chunks WHERE project_id = $1 AND relative_path = $2',
    [indexer.project, rel]);
  // a chunk too large for upsert_chunks' embedding limit fails the batch
  const huge = { ...splitFile(rel, 'x')[0] };
  const realRow = indexer.row.bind(indexer);
  indexer.row = (c) => (c === huge ? { ...realRow(c), embedding: new Array(16001).fill(0.5) } : realRow(c));
  try {
    await assert.rejects(pools.executeInTransaction(async (c) => {
      await c.query('SELECT unified.delete_file_chunks($1, $2, $3)', [indexer.project, rel, indexer.collection]);
      await indexer.upsert(c, [huge]);
    }, 'claude'), (e) => e.code === '54000');
  } finally {
    indexer.row = realRow;
  }
  const after = await pools.pool('claude').query(
    'SELECT array_agg(source_id ORDER BY source_id) AS ids FROM unified.chunks WHERE project_id = $1 AND relative_path = $2',
    [indexer.project, rel]);
  assert.deepEqual(after.rows[0].ids, before.rows[0].ids);
  assert.ok(before.rows[0].ids.length > 0);
  assert.equal(embed('').length, 64);
});
