// The connection layer of the original design, done right: three
// node-postgres pools, one per application_name, sized to the budgets the
// server enforces (unified_pg.pools = claude-context:40,cognee:40,unified:20),
// each connecting as its own login role with a SCRAM password taken from the
// environment, never from the code.
//
//   const pools = UnifiedPostgresPool.fromEnv();
//   await pools.executeInTransaction(async (c) => c.query('...'), 'claude');
//
// Connection strings: CLAUDE_DATABASE_URL, COGNEE_DATABASE_URL and
// UNIFIED_DATABASE_URL (postgresql://user:password@host:port/db).  The pool
// sets application_name itself: the server files a session under the pool
// named in its startup packet, so the name must be in the connection
// settings, not SET later.
import pg from 'pg';

export const POOLS = {
  claude: { applicationName: 'claude-context', max: 40, env: 'CLAUDE_DATABASE_URL' },
  cognee: { applicationName: 'cognee', max: 40, env: 'COGNEE_DATABASE_URL' },
  shared: { applicationName: 'unified', max: 20, env: 'UNIFIED_DATABASE_URL' },
};

// SQLSTATEs after which the whole transaction may simply be run again.
const RETRYABLE = new Set(['40001', '40P01']);

export class UnifiedPostgresPool {
  // urls: { claude, cognee, shared } connection strings; options apply to all pools.
  constructor(urls, options = {}) {
    this.pools = {};
    for (const [name, spec] of Object.entries(POOLS)) {
      if (!urls[name]) throw new Error(`no connection string for the ${name} pool (${spec.env})`);
      const pool = new pg.Pool({
        connectionString: urls[name],
        application_name: spec.applicationName,
        max: options.max?.[name] ?? spec.max,
        idleTimeoutMillis: options.idleTimeoutMillis ?? 30000,
        connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5000,
        statement_timeout: options.statementTimeoutMillis ?? 30000,
      });
      // An idle client whose server went away emits 'error' on the pool;
      // without a listener node would exit.  The pool drops that client.
      pool.on('error', (err) => { this.lastIdleError = err; });
      this.pools[name] = pool;
    }
  }

  // The three pools from CLAUDE_DATABASE_URL, COGNEE_DATABASE_URL, UNIFIED_DATABASE_URL.
  static fromEnv(options = {}) {
    const urls = {};
    for (const [name, spec] of Object.entries(POOLS)) urls[name] = process.env[spec.env];
    return new UnifiedPostgresPool(urls, options);
  }

  // The node-postgres pool for 'claude', 'cognee' or 'shared'.
  pool(name) {
    const p = this.pools[name];
    if (!p) throw new Error(`unknown pool ${name}: use claude, cognee or shared`);
    return p;
  }

  // Run fn(client) inside BEGIN ... COMMIT on one client of the named pool.
  // On an error the transaction is rolled back and the error rethrown; a
  // client whose ROLLBACK fails too (connection lost) is destroyed, not put
  // back into the pool.  Serialization failures and deadlocks are retried
  // up to `retries` times, the whole function each time.
  async executeInTransaction(fn, poolName = 'shared', { retries = 0, begin = 'BEGIN' } = {}) {
    for (let attempt = 0; ; attempt++) {
      const client = await this.pool(poolName).connect();
      let broken;
      // a checked-out client whose connection drops emits 'error'; without
      // a listener node would exit
      const onError = (err) => { broken = err; };
      client.on('error', onError);
      try {
        await client.query(begin);
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken = rollbackErr;
        }
        if (!broken && attempt < retries && RETRYABLE.has(err.code)) continue;
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    }
  }

  // Close every pool.
  async end() {
    await Promise.all(Object.values(this.pools).map((p) => p.end()));
  }
}
