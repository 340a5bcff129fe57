// The pool monitor: unified.pool_stats and unified.health_check() read from
// the shared pool match what the node-postgres pools hold.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { UnifiedPostgresPool } from './lib/pools.mjs';
import { PoolMonitor } from './lib/monitor.mjs';

let pools;
let monitor;

// Check out n clients of a pool and run `sql` on each (e.g. BEGIN).
async function hold(pool, n, sql) {
  const clients = [];
  for (let i = 0; i < n; i++) clients.push(await pools.pool(pool).connect());
  if (sql) for (const c of clients) await c.query(sql);
  return clients;
}

before(() => {
  pools = UnifiedPostgresPool.fromEnv();
  monitor = new PoolMonitor(pools);
});
after(() => pools.end());

test('pool_stats counts exactly the sessions each pool holds, by state', async () => {
  const claudeIdle = await hold('claude', 5);
  const claudeTx = await hold('claude', 2, 'BEGIN');
  const cognee = await hold('cognee', 3);
  try {
    // the two in transaction read something, so they are truly in one
    for (const c of claudeTx) await c.query('SELECT count(*) FROM unified.chunks');
    const stats = Object.fromEntries((await monitor.collect()).map((m) => [m.name, m]));
    assert.equal(Number(stats.claude.server.connections), 7);
    assert.equal(stats.claude.client.total, 7);
    assert.equal(Number(stats.claude.server.idle_in_transaction), 2);
    assert.equal(Number(stats.claude.server.idle), 5, 'checked out but not running: idle on the server');
    assert.equal(Number(stats.cognee.server.connections), 3);
    assert.equal(Number(stats.shared.server.connections), stats.shared.client.total);
    assert.ok(Number(stats.shared.server.active) >= 1, 'the monitor\'s own query is active');
    assert.ok(Math.abs(stats.claude.server.utilization - 7 / 40) < 1e-9, 'utilization = connections / budget');
  } finally {
    for (const c of claudeTx) await c.query('ROLLBACK');
    for (const c of [...claudeIdle, ...claudeTx, ...cognee]) c.release();
  }
  assert.deepEqual(await monitor.compare(), [], 'clients back in the pools: the numbers agree');
});

test('commits and rollbacks of a pool are counted in its row', async () => {
  const before = (await monitor.collect()).find((m) => m.name === 'cognee').server;
  await pools.executeInTransaction((c) => c.query('SELECT 1'), 'cognee');
  await pools.executeInTransaction((c) => c.query('SELECT 1'), 'cognee');
  await assert.rejects(pools.executeInTransaction((c) => c.query('SELECT 1/0'), 'cognee'), (e) => e.code === '22012');
  const after = (await monitor.collect()).find((m) => m.name === 'cognee').server;
  assert.ok(Number(after.xact_commit) - Number(before.xact_commit) >= 2);
  assert.ok(Number(after.xact_failed) - Number(before.xact_failed) >= 1, 'the division by zero counts as failed');
  assert.ok(after.latency_p95_ms === null || after.latency_p95_ms >= 0);
});

test('health_check runs every check and says why one fails', async () => {
  const health = await monitor.health();
  for (const check of ['preload', 'resolver', 'in_doubt', 'prepared_transactions',
    'pool_headroom:claude-context', 'pool_headroom:cognee', 'pool_headroom:unified']) {
    assert.ok(check in health, `health_check has ${check}`);
  }
  assert.equal(health.preload.ok, true);
  assert.equal(health.resolver.ok, true, health.resolver.detail);
  assert.equal(health.prepared_transactions.ok, true);
  assert.equal(health['pool_headroom:claude-context'].ok, true);
  assert.match(health['pool_headroom:claude-context'].detail, /^\d+ of 40 connections in use/);
  for (const [name, h] of Object.entries(health)) {
    if (h.ok === false) assert.ok(h.detail && h.detail.length > 0, `${name} says why it fails`);
  }
});

test('pool_headroom fails while a pool holds its whole budget', async () => {
  const held = await hold('claude', 40);
  try {
    const health = await monitor.health();
    assert.equal(health['pool_headroom:claude-context'].ok, false);
    assert.match(health['pool_headroom:claude-context'].detail, /^40 of 40 connections in use/);
    assert.equal(health['pool_headroom:cognee'].ok, true);
  } finally {
    for (const c of held) c.release();
  }
});

test('health_check is unified_admin\'s: an application role gets 42501', async () => {
  await assert.rejects(pools.pool('claude').query('SELECT * FROM unified.health_check()'),
    (e) => e.code === '42501');
});
