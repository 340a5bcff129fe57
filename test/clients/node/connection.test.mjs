// The connection layer: three pools over TCP with SCRAM passwords, one
// application_name each, and executeInTransaction's commit, rollback and
// broken-connection paths.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { UnifiedPostgresPool, POOLS } from './lib/pools.mjs';

let pools;
const marker = `conn-${process.pid}`;

before(() => { pools = UnifiedPostgresPool.fromEnv(); });
after(async () => {
  await pools.pool('claude').query('DELETE FROM unified.chunks WHERE project_id = $1', [marker]);
  await pools.end();
});

test('each pool connects over TCP as its own role and application_name', async () => {
  const expected = { claude: 'claude_user', cognee: 'cognee_user', shared: 'unified_admin' };
  for (const [name, spec] of Object.entries(POOLS)) {
    const { rows } = await pools.pool(name).query(
      `SELECT a.application_name, host(a.client_addr) AS addr, pg_has_role(current_user, $1, 'MEMBER') AS member,
              r.rolsuper
         FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = current_user
        WHERE a.pid = pg_backend_pid()`, [expected[name]]);
    assert.equal(rows[0].application_name, spec.applicationName);
    assert.equal(rows[0].addr, '127.0.0.1', 'a TCP connection, as the applications make');
    assert.equal(rows[0].member, true);
    assert.equal(rows[0].rolsuper, false);
  }
});

test('the pools are sized to the budgets of unified_pg.pools', async () => {
  assert.deepEqual(Object.values(pools.pools).map((p) => p.options.max), [40, 40, 20]);
  const { rows } = await pools.pool('shared').query(
    "SELECT pool, max_connections FROM unified.pool_stats WHERE pool <> 'other' ORDER BY max_connections DESC, pool");
  assert.deepEqual(rows.map((r) => [r.pool, r.max_connections]),
    [['claude-context', 40], ['cognee', 40], ['unified', 20]]);
});

test('a wrong password is refused with 28P01: the server asks for a SCRAM password', async () => {
  const url = new URL(process.env.CLAUDE_DATABASE_URL);
  url.password = 'not-the-password';
  const client = new pg.Client({ connectionString: url.toString(), application_name: 'claude-context' });
  await assert.rejects(client.connect(), (e) => e.code === '28P01');
});

test('executeInTransaction commits what the function wrote', async () => {
  const n = await pools.executeInTransaction(async (c) => {
    const r = await c.query(
      `SELECT * FROM unified.upsert_chunks(jsonb_build_array(jsonb_build_object(
         'source', 'claude_context', 'source_id', 'conn-1', 'project_id', $1::text, 'content', 'committed')))`,
      [marker]);
    return Number(r.rows[0].inserted);
  }, 'claude');
  assert.equal(n, 1);
  const { rows } = await pools.pool('claude').query(
    'SELECT content FROM unified.chunks WHERE project_id = $1', [marker]);
  assert.deepEqual(rows, [{ content: 'committed' }]);
});

test('executeInTransaction rolls back everything when the function throws', async () => {
  await assert.rejects(pools.executeInTransaction(async (c) => {
    await c.query(
      `INSERT INTO unified.chunks (source, source_id, project_id, content)
       VALUES ('claude_context', 'conn-2', $1, 'never')`, [marker]);
    // a Cognee row: refused by row-level security
    await c.query(
      `INSERT INTO unified.chunks (source, source_id, cognee_dataset_id, content)
       VALUES ('cognee', 'conn-3', gen_random_uuid(), 'x')`);
  }, 'claude'), (e) => e.code === '42501');
  const { rows } = await pools.pool('claude').query(
    "SELECT count(*)::int AS n FROM unified.chunks WHERE project_id = $1 AND source_id = 'conn-2'", [marker]);
  assert.equal(rows[0].n, 0);
});

test('a client whose connection died is destroyed, not returned to the pool', async () => {
  const pool = pools.pool('claude');
  const pidsBefore = new Set();
  await assert.rejects(pools.executeInTransaction(async (c) => {
    const { rows } = await c.query('SELECT pg_backend_pid() AS pid');
    pidsBefore.add(rows[0].pid);
    await c.query('SELECT pg_terminate_backend(pg_backend_pid())');
  }, 'claude'), (e) => e.code === '57P01' || /terminat|Connection/i.test(e.message));
  // the next transaction runs on a live connection
  const pid = await pools.executeInTransaction(async (c) => (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid, 'claude');
  assert.ok(!pidsBefore.has(pid), 'the dead connection was not reused');
  assert.ok(pool.totalCount >= 1);
});

test('a deadlock victim is run again when the caller asks for retries', async () => {
  await pools.pool('claude').query(
    `SELECT * FROM unified.upsert_chunks(jsonb_build_array(
       jsonb_build_object('source', 'claude_context', 'source_id', 'conn-dl-a', 'project_id', $1::text, 'content', 'a'),
       jsonb_build_object('source', 'claude_context', 'source_id', 'conn-dl-b', 'project_id', $1::text, 'content', 'b')))`,
    [marker]);
  // Two transactions lock the two rows in opposite orders; the first
  // attempt of each waits until both hold their first row.
  let arrived = 0;
  let release;
  const bothLocked = new Promise((r) => { release = r; });
  const attempts = { ab: 0, ba: 0 };
  const touch = (c, id) => c.query(
    "UPDATE unified.chunks SET content = content || '+' WHERE project_id = $1 AND source_id = $2", [marker, id]);
  const run = (name, first, second) => pools.executeInTransaction(async (c) => {
    attempts[name]++;
    await touch(c, first);
    if (attempts[name] === 1) {
      if (++arrived === 2) release();
      await bothLocked;
    }
    await touch(c, second);
  }, 'claude', { retries: 3 });
  await Promise.all([run('ab', 'conn-dl-a', 'conn-dl-b'), run('ba', 'conn-dl-b', 'conn-dl-a')]);
  assert.equal(attempts.ab + attempts.ba, 3, 'exactly one of them was the deadlock victim and ran again');
  const { rows } = await pools.pool('claude').query(
    "SELECT content FROM unified.chunks WHERE project_id = $1 AND source_id LIKE 'conn-dl-%' ORDER BY source_id", [marker]);
  assert.deepEqual(rows.map((r) => r.content), ['a++', 'b++'], 'both transactions committed once');
});
