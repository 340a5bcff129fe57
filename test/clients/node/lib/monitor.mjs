// Pool monitoring on the server's own numbers: unified.pool_stats says what
// each application's sessions are doing and unified.health_check() what the
// operator must look at.  compare() checks that the server's view of each
// pool matches what the node-postgres pool holds, which is what a
// dashboard built on either must be able to rely on.
import { POOLS } from './pools.mjs';

export class PoolMonitor {
  constructor(pools) {
    this.pools = pools;
  }

  // One object per node pool: its client-side counts and its pool_stats row.
  async collect() {
    const { rows } = await this.pools.pool('shared').query('SELECT * FROM unified.pool_stats');
    const byName = new Map(rows.map((r) => [r.pool, r]));
    return Object.entries(POOLS).map(([name, spec]) => {
      const p = this.pools.pool(name);
      return {
        name,
        applicationName: spec.applicationName,
        client: { total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount, max: p.options.max },
        server: byName.get(spec.applicationName),
      };
    });
  }

  // unified.health_check() as { check: { ok, detail } } (needs unified_admin).
  async health() {
    const { rows } = await this.pools.pool('shared').query('SELECT * FROM unified.health_check()');
    return Object.fromEntries(rows.map((r) => [r.check, { ok: r.ok, detail: r.detail }]));
  }

  // Differences between the node pools and the server's statistics.
  async compare() {
    const problems = [];
    for (const m of await this.collect()) {
      if (!m.server) {
        problems.push(`${m.applicationName}: no row in unified.pool_stats`);
        continue;
      }
      // (the shared pool's count includes the client that ran the query)
      if (Number(m.server.connections) !== m.client.total) {
        problems.push(`${m.applicationName}: the server has ${m.server.connections} sessions, the pool holds ${m.client.total}`);
      }
      // a client resting in the pool is an idle session on the server
      if (m.name !== 'shared' && Number(m.server.idle) < m.client.idle) {
        problems.push(`${m.applicationName}: ${m.server.idle} idle sessions, ${m.client.idle} idle clients`);
      }
      if (m.server.max_connections < m.client.max) {
        problems.push(`${m.applicationName}: pool max ${m.client.max} exceeds the server's budget ${m.server.max_connections}`);
      }
    }
    return problems;
  }
}
