// A distributed transaction across the applications' pools, on unified_pg's
// protocol: the shared pool begins it, each participant runs its work on a
// client of its own pool and prepares it under its gid
// (unified.participant_gid), and the shared pool commits it.  If a
// participant fails, the others are rolled back through abort_distributed;
// if this process dies on the way, the server's resolver finishes what was
// left: committed when the decision was made, rolled back otherwise.
export class DistributedTransaction {
  // pools: a UnifiedPostgresPool; work: { participant: async (client) => ... }
  // where a participant name is also the name of the pool it runs on.
  constructor(pools, txId, work) {
    this.pools = pools;
    this.txId = txId;
    this.work = work;
    this.participants = Object.keys(work);
  }

  // Log the transaction as pending (shared pool); returns the tx id.
  async begin() {
    const { rows } = await this.pools.pool('shared').query(
      'SELECT unified.begin_distributed($1, $2::text[]) AS tx', [this.txId, this.participants]);
    return rows[0].tx;
  }

  // Run one participant's work on its own pool and PREPARE it.
  async prepare(participant) {
    const client = await this.pools.pool(participant).connect();
    let broken;
    const onError = (err) => { broken = err; };
    client.on('error', onError);
    try {
      const { rows } = await client.query('SELECT unified.participant_gid($1, $2) AS gid',
        [this.txId, participant]);
      await client.query('BEGIN');
      try {
        await this.work[participant](client);
        // PREPARE TRANSACTION takes a literal, not a parameter
        await client.query(`PREPARE TRANSACTION ${client.escapeLiteral(rows[0].gid)}`);
      } catch (err) {
        await client.query('ROLLBACK').catch((e) => { broken = e; });
        throw err;
      }
      return rows[0].gid;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  // Prepare every participant, then commit; on any failure abort all and rethrow.
  async run() {
    await this.begin();
    try {
      for (const p of this.participants) await this.prepare(p);
    } catch (err) {
      await this.pools.pool('shared').query('CALL unified.abort_distributed($1)', [this.txId]);
      throw err;
    }
    await this.pools.pool('shared').query('CALL unified.commit_distributed($1)', [this.txId]);
    return this.status();
  }

  // unified.transaction_status of this transaction, as the shared pool sees it.
  async status() {
    const { rows } = await this.pools.pool('shared').query(
      'SELECT * FROM unified.transaction_status($1)', [this.txId]);
    return rows[0];
  }
}
