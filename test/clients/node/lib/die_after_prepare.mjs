// A client that dies after PREPARE TRANSACTION, for the distributed
// transaction tests: node lib/die_after_prepare.mjs <participant|coordinator> <tx id> <tag>
//   participant  prepare the claude participant of an already begun
//                transaction, then die
//   coordinator  begin the transaction, prepare both participants, then die
//                before committing
// It dies by SIGKILL: no ROLLBACK, no clean disconnect, as a crash would.
import { UnifiedPostgresPool } from './pools.mjs';
import { DistributedTransaction } from './distributed.mjs';
import { claudeWork, cogneeWork } from './dtx_work.mjs';

const [mode, txId, tag] = process.argv.slice(2);
const pools = UnifiedPostgresPool.fromEnv();
const tx = new DistributedTransaction(pools, txId, { claude: claudeWork(tag), cognee: cogneeWork(tag) });
if (mode === 'coordinator') {
  await tx.begin();
  await tx.prepare('claude');
  await tx.prepare('cognee');
} else {
  await tx.prepare('claude');
}
process.stdout.write('prepared\n');
process.kill(process.pid, 'SIGKILL');
