// Distributed transactions across the applications' pools: the claude and
// cognee pools prepare, the shared pool commits; a participant that fails
// aborts all; clients that die after PREPARE are finished by the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UnifiedPostgresPool } from './lib/pools.mjs';
import { DistributedTransaction } from './lib/distributed.mjs';
import { claudeWork, cogneeWork, datasetFor } from './lib/dtx_work.mjs';

let pools;
const run = `${process.pid}-${Date.now()}`;
const tags = [];

// Rows each side sees of a tag: [claude's, cognee's].
async function visible(tag) {
  const c = await pools.pool('claude').query(
    'SELECT count(*)::int AS n FROM unified.chunks WHERE project_id = $1', [`dtx-${tag}`]);
  const g = await pools.pool('cognee').query(
    'SELECT count(*)::int AS n FROM unified.chunks WHERE cognee_dataset_id = $1', [datasetFor(tag)]);
  return [c.rows[0].n, g.rows[0].n];
}

// The prepared transactions of a tx id still on the server.
async function prepared(txId) {
  const { rows } = await pools.pool('shared').query(
    "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'unified:' || $1 || ':%' ORDER BY gid", [txId]);
  return rows.map((r) => r.gid);
}

// Run lib/die_after_prepare.mjs and wait for it to die.
function dieAfterPrepare(mode, txId, tag) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath,
      [fileURLToPath(new URL('./lib/die_after_prepare.mjs', import.meta.url)), mode, txId, tag],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ out, code, signal }));
  });
}

function tag(name) {
  const t = `${name}-${run}`;
  tags.push(t);
  return t;
}

before(() => { pools = UnifiedPostgresPool.fromEnv(); });
after(async () => {
  for (const t of tags) {
    await pools.pool('claude').query('DELETE FROM unified.chunks WHERE project_id = $1', [`dtx-${t}`]);
    await pools.pool('cognee').query('DELETE FROM unified.chunks WHERE cognee_dataset_id = $1', [datasetFor(t)]);
  }
  await pools.end();
});

test('claude and cognee prepare on their pools, the shared pool commits', async () => {
  const t = tag('commit');
  const tx = new DistributedTransaction(pools, `tx-${t}`, { claude: claudeWork(t), cognee: cogneeWork(t) });
  await tx.begin();
  await tx.prepare('claude');
  await tx.prepare('cognee');
  // prepared, not yet visible to anyone
  assert.deepEqual(await visible(t), [0, 0]);
  assert.equal((await prepared(`tx-${t}`)).length, 2);
  await pools.pool('shared').query('CALL unified.commit_distributed($1)', [`tx-${t}`]);
  assert.deepEqual(await visible(t), [1, 1], 'both sides committed, visible at once');
  const s = await tx.status();
  assert.equal(s.state, 'committed');
  assert.deepEqual(await prepared(`tx-${t}`), []);
});

test('a participant that fails aborts both: nothing is written', async () => {
  const t = tag('abort');
  const tx = new DistributedTransaction(pools, `tx-${t}`, {
    claude: claudeWork(t),
    // Cognee's side writes into Claude-Context's space: refused by RLS
    cognee: (c) => c.query(`INSERT INTO unified.chunks (source, source_id, project_id, content)
                            VALUES ('claude_context', 'not-mine', 'dtx-x', 'x')`),
  });
  await assert.rejects(tx.run(), (e) => e.code === '42501');
  assert.deepEqual(await visible(t), [0, 0]);
  assert.deepEqual(await prepared(`tx-${t}`), []);
  assert.equal((await tx.status()).state, 'aborted');
});

test('a participant whose client died after PREPARE is committed by the coordinator', async () => {
  const t = tag('participant-dies');
  const txId = `tx-${t}`;
  const tx = new DistributedTransaction(pools, txId, { claude: claudeWork(t), cognee: cogneeWork(t) });
  await tx.begin();
  const child = await dieAfterPrepare('participant', txId, t);
  assert.equal(child.signal, 'SIGKILL');
  assert.equal(child.out, 'prepared\n');
  // the prepared work outlives its session
  assert.deepEqual(await prepared(txId), [`unified:${txId}:claude`]);
  await tx.prepare('cognee');
  await pools.pool('shared').query('CALL unified.commit_distributed($1)', [txId]);
  assert.deepEqual(await visible(t), [1, 1]);
  assert.equal((await tx.status()).state, 'committed');
});

test('a coordinator that died after PREPARE is resolved by the server: presumed abort', async () => {
  const t = tag('coordinator-dies');
  const txId = `tx-${t}`;
  const child = await dieAfterPrepare('coordinator', txId, t);
  assert.equal(child.signal, 'SIGKILL');
  assert.equal((await prepared(txId)).length, 2, 'both participants were left prepared');
  // The resolver worker rolls them back once they are older than
  // unified_pg.in_doubt_timeout (5s for this suite, set by run.sh);
  // nobody calls anything.
  const deadline = Date.now() + 60000;
  while ((await prepared(txId)).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(await prepared(txId), [], 'the resolver finished both participants');
  assert.deepEqual(await visible(t), [0, 0]);
  const { rows } = await pools.pool('shared').query('SELECT state FROM unified.transaction_status($1)', [txId]);
  assert.equal(rows[0].state, 'aborted');
});
