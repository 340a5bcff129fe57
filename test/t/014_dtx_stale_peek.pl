# Only the role that began a distributed transaction (or unified_admin) may
# commit or abort it, also when its tx id was used before by another role.
# commit_distributed first tries the transaction's coordinator lock; when
# another coordinator holds it, it checks the caller's right on a look at
# the row without the lock, waits, and reads the row again under the lock.
# That look uses the CALL's snapshot, which is as old as the caller makes
# it (an argument that sleeps): it can show the caller's own earlier
# transaction of the same id, pruned since, while the row read under the
# lock is another role's new transaction.  The right must be checked again
# on that row: here cc2, which began 'reuse1' once, must get 42704 for cc's
# 'reuse1', and cc's transaction must end as cc's coordinator left it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('dtx_stale_peek');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
unified_pg.resolver_naptime = '100ms'
unified_pg.in_doubt_timeout = '1h'
max_prepared_transactions = 20
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION unified_pg;
CREATE ROLE cc LOGIN IN ROLE claude_user;
CREATE ROLE cc2 LOGIN IN ROLE claude_user;
CREATE TABLE work (tx text, who text);
GRANT INSERT, SELECT ON work TO claude_user;
});

# cc2's own 'reuse1', begun and committed, then pruned (as the resolver
# prunes finished rows after unified_pg.transaction_log_retention)
$node->safe_psql('postgres', q{
SET ROLE cc2;
SELECT unified.begin_distributed('reuse1', '{claude}');
BEGIN; INSERT INTO work VALUES ('old', 'cc2'); PREPARE TRANSACTION 'unified:reuse1:claude';
CALL unified.commit_distributed('reuse1');
});

# cc2's CALL, whose argument sleeps 5 s after the CALL's snapshot is taken
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[
		'psql', '-X', '-d', $node->connstr('postgres') . ' user=cc2',
		'-c', q{CREATE FUNCTION pg_temp.slow(t text) RETURNS text LANGUAGE sql VOLATILE
		        AS 'SELECT pg_catalog.pg_sleep(5); SELECT $1'},
		'-c', q{CALL unified.commit_distributed(pg_temp.slow('reuse1'))}
	],
	'>', \$out, '2>', \$err);
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE usename = 'cc2' AND query LIKE 'CALL%'}),
	"cc2's CALL has started (and taken its snapshot)");

# meanwhile: the old row is pruned; cc begins its own 'reuse1', prepares
# it, and its coordinator is held inside commit_distributed after its
# decision, with the coordinator lock
$node->safe_psql('postgres', q{
DELETE FROM unified.transaction_log WHERE tx_id = 'reuse1';
ALTER ROLE cc SET unified_pg.debug_pause_at = 'after_decision';
});
$node->safe_psql('postgres', q{
SET ROLE cc;
SELECT unified.begin_distributed('reuse1', '{claude}');
BEGIN; INSERT INTO work VALUES ('new', 'cc'); PREPARE TRANSACTION 'unified:reuse1:claude';
});
my ($cout, $cerr) = ('', '');
my $ch = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres') . ' user=cc',
	  '-c', q{CALL unified.commit_distributed('reuse1')} ],
	'>', \$cout, '2>', \$cerr);
my $paused = q{SELECT pid FROM pg_stat_activity WHERE query = 'unified_pg paused at after_decision'};
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($paused) p"),
	"cc's coordinator holds the lock after its decision");

# cc2's argument returns: its try of the lock fails, it waits for the lock
ok( $node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity WHERE usename = 'cc2' AND wait_event_type = 'Lock'}),
	"cc2's CALL waits for the coordinator lock");

# cc's coordinator goes away after its decision (the resolver will finish
# its commit); cc2 gets the lock and reads cc's row
$node->safe_psql('postgres', "SELECT pg_terminate_backend(pid) FROM ($paused) p");
$ch->finish;
$h->finish;
like($err, qr/distributed transaction "reuse1" does not exist/,
	"cc2 may not commit cc's transaction: it is unknown to cc2");
unlike($err, qr/committed|committing/, 'and cc2 learns nothing of its state');

# cc's transaction: committed by the resolver, finished by it, not by cc2
ok( $node->poll_query_until('postgres', q{
SELECT state = 'committed' FROM unified.transaction_log WHERE tx_id = 'reuse1'}),
	"cc's transaction ends committed");
is($node->safe_psql('postgres', q{SELECT finished_by FROM unified.transaction_log WHERE tx_id = 'reuse1'}),
	'resolver', "cc's transaction was finished by the resolver, not by cc2's call");
is($node->safe_psql('postgres', q{SELECT string_agg(who, ',' ORDER BY who) FROM work}), 'cc,cc2',
	'each transaction committed once');

$node->safe_psql('postgres', 'ALTER ROLE cc RESET unified_pg.debug_pause_at');
$node->stop;
done_testing();
