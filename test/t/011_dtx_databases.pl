# Participants in a second database of the cluster: Cognee's default
# database is not Claude-Context's.  The coordinator (in
# unified_pg.database) commits and aborts them through a finisher worker
# connected there; after a coordinator crash the resolver does the same;
# an undecided participant there is presumed aborted after the timeout.
# Also: the API refuses to run outside unified_pg.database, and refuses
# with a hint when max_prepared_transactions is 0.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('dtx_dbs');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'claude'
unified_pg.resolver_naptime = '100ms'
unified_pg.in_doubt_timeout = '2s'
max_prepared_transactions = 20
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE claude');
$node->safe_psql('postgres', 'CREATE DATABASE cognee');
$node->safe_psql('claude', 'CREATE EXTENSION unified_pg; CREATE TABLE work (tx text, who text)');
$node->safe_psql('cognee', 'CREATE TABLE memory (tx text, who text)');

# Begin in claude; prepare one participant in each database.
sub prepare_tx
{
	my ($tx) = @_;
	$node->safe_psql('claude', "SELECT unified.begin_distributed('$tx', ARRAY['claude', 'cognee'])");
	$node->safe_psql('claude', qq{
BEGIN; INSERT INTO work VALUES ('$tx', 'claude'); PREPARE TRANSACTION 'unified:$tx:claude';});
	$node->safe_psql('cognee', qq{
BEGIN; INSERT INTO memory VALUES ('$tx', 'cognee'); PREPARE TRANSACTION 'unified:$tx:cognee';});
}

# Rows of $tx in (claude, cognee).
sub rows
{
	my ($tx) = @_;
	return $node->safe_psql('claude', "SELECT count(*) FROM work WHERE tx = '$tx'") . ','
	  . $node->safe_psql('cognee', "SELECT count(*) FROM memory WHERE tx = '$tx'");
}

sub state
{
	my ($tx) = @_;
	return $node->safe_psql('claude', "SELECT state FROM unified.transaction_log WHERE tx_id = '$tx'");
}

# The in_doubt view sees both databases.
prepare_tx('x1');
is( $node->safe_psql('claude',
		q{SELECT string_agg(participant || '@' || database, ' ' ORDER BY gid) FROM unified.in_doubt}),
	'claude@claude cognee@cognee', 'in_doubt lists participants of every database');

# Commit across databases.
$node->safe_psql('claude', "CALL unified.commit_distributed('x1')");
is(state('x1'), 'committed', 'commit across two databases is recorded');
is(rows('x1'), '1,1', 'both participants are committed');
is($node->safe_psql('claude', 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'nothing is left prepared');

# Abort across databases.
prepare_tx('x2');
$node->safe_psql('claude', "CALL unified.abort_distributed('x2')");
is(state('x2'), 'aborted', 'abort across two databases is recorded');
is(rows('x2'), '0,0', 'both participants are rolled back');

# A participant prepared by another role in the other database.
$node->safe_psql('postgres', 'CREATE ROLE cc LOGIN IN ROLE claude_user; CREATE ROLE cg LOGIN IN ROLE cognee_user');
$node->safe_psql('cognee', 'GRANT ALL ON memory TO cg');
$node->safe_psql('claude', 'GRANT ALL ON work TO cc');
$node->safe_psql('claude', "SELECT unified.begin_distributed('x3', ARRAY['claude', 'cognee'])",
	extra_params => [ '-U', 'cc' ]);
$node->safe_psql('claude', q{BEGIN; INSERT INTO work VALUES ('x3', 'claude'); PREPARE TRANSACTION 'unified:x3:claude';},
	extra_params => [ '-U', 'cc' ]);
$node->safe_psql('cognee', q{BEGIN; INSERT INTO memory VALUES ('x3', 'cognee'); PREPARE TRANSACTION 'unified:x3:cognee';},
	extra_params => [ '-U', 'cg' ]);
$node->safe_psql('claude', "CALL unified.commit_distributed('x3')", extra_params => [ '-U', 'cc' ]);
is(rows('x3'), '1,1', 'a non-superuser coordinator commits a participant another role prepared elsewhere');

# Coordinator killed after its decision, once its first participant (in
# this database) committed and so flushed the decision: the resolver
# commits the other database's participant through a finisher.
prepare_tx('x4');
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[
		'psql', '-X', '-d', $node->connstr('claude'),
		'-c', "SET unified_pg.debug_pause_at = 'after_first_participant'",
		'-c', "CALL unified.commit_distributed('x4')"
	],
	'>', \$out, '2>', \$err);
my $q = "SELECT pid FROM pg_stat_activity WHERE query = 'unified_pg paused at after_first_participant'";
ok($node->poll_query_until('claude', "SELECT count(*) = 1 FROM ($q) p"), 'coordinator paused after its decision');
my $pid = $node->safe_psql('claude', $q);
kill 'KILL', $pid;
$h->finish;
ok( $node->poll_query_until('claude', q{SELECT state = 'committed' FROM unified.transaction_log WHERE tx_id = 'x4'}),
	'after the crash restart the resolver finishes the transaction');
is(rows('x4'), '1,1', 'both participants are committed, in both databases');

# Immediate shutdown with decided participants in both databases.
prepare_tx('x5');
$node->safe_psql('claude', q{UPDATE unified.transaction_log SET state = 'committing' WHERE tx_id = 'x5'});
prepare_tx('x6');
$node->safe_psql('claude', q{UPDATE unified.transaction_log SET state = 'aborting' WHERE tx_id = 'x6'});
$node->stop('immediate');
$node->start;
ok( $node->poll_query_until('claude',
		q{SELECT count(*) = 0 FROM pg_prepared_xacts}),
	'after an immediate restart nothing is left prepared');
is(rows('x5') . ' ' . rows('x6'), '1,1 0,0', 'decided commit and abort are carried out in both databases');

# Undecided past the timeout: presumed aborted, in the other database too.
prepare_tx('x7');
ok( $node->poll_query_until('claude', q{SELECT state = 'aborted' FROM unified.transaction_log WHERE tx_id = 'x7'}),
	'an undecided transaction is presumed aborted after the timeout');
is(rows('x7'), '0,0', 'its participants are rolled back in both databases');

# The API runs only in unified_pg.database.
$node->safe_psql('cognee', 'CREATE EXTENSION unified_pg');
my ($ret, $stdout, $stderr) = $node->psql('cognee',
	"\\set VERBOSITY verbose\nSELECT unified.begin_distributed('x8', ARRAY['a'])");
like($stderr, qr/55000: distributed transactions are coordinated in database "claude"/,
	'begin_distributed elsewhere is refused with 55000');
like($stderr, qr/HINT:.*Connect to database "claude"/, 'with a hint naming the database');

$node->stop;

# No background worker slot for a finisher (the resolver and maintenance
# workers take both): the commit is still durable
# (WARNING, state stays 'committing'), the participant in the other
# database waits, and once slots are available the resolver finishes it.
my $tight = PostgreSQL::Test::Cluster->new('dtx_noslots');
$tight->init;
$tight->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
unified_pg.resolver_naptime = '100ms'
max_prepared_transactions = 10
max_worker_processes = 2
max_logical_replication_workers = 0
max_parallel_workers = 0
});
$tight->start;
$tight->safe_psql('postgres', 'CREATE DATABASE other');
$tight->safe_psql('postgres', 'CREATE EXTENSION unified_pg; CREATE TABLE work (who text)');
$tight->safe_psql('other', 'CREATE TABLE memory (who text)');
$tight->safe_psql('postgres', "SELECT unified.begin_distributed('s1', ARRAY['claude', 'cognee'])");
$tight->safe_psql('postgres', q{BEGIN; INSERT INTO work VALUES ('claude'); PREPARE TRANSACTION 'unified:s1:claude';});
$tight->safe_psql('other', q{BEGIN; INSERT INTO memory VALUES ('cognee'); PREPARE TRANSACTION 'unified:s1:cognee';});
($ret, $stdout, $stderr) = $tight->psql('postgres', "CALL unified.commit_distributed('s1')");
is($ret, 0, 'commit succeeds without a finisher slot');
like($stderr, qr/WARNING:  could not start a unified_pg finisher/, 'with a warning that a finisher could not start');
like($stderr, qr/is committed but 1 participants are not finished yet/, 'and that the commit is durable');
is( $tight->safe_psql('postgres', q{SELECT state FROM unified.transaction_log WHERE tx_id = 's1'}),
	'committing', 'the log keeps the decision for the resolver');
is($tight->safe_psql('postgres', 'SELECT count(*) FROM work'), '1', 'the local participant is committed');
$tight->append_conf('postgresql.conf', 'max_worker_processes = 4');
$tight->restart;
ok( $tight->poll_query_until('postgres', q{SELECT state = 'committed' FROM unified.transaction_log WHERE tx_id = 's1'}),
	'with a free slot the resolver finishes the other database');
is($tight->safe_psql('other', 'SELECT count(*) FROM memory'), '1', 'the participant there is committed');
$tight->stop;

# max_prepared_transactions = 0: a clear error with a hint.
my $plain = PostgreSQL::Test::Cluster->new('dtx_no2pc');
$plain->init;
$plain->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
max_prepared_transactions = 0
});
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION unified_pg');
($ret, $stdout, $stderr) = $plain->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT unified.begin_distributed('x', ARRAY['a'])");
like($stderr, qr/55000: prepared transactions are disabled/, 'max_prepared_transactions = 0 is refused with 55000');
like($stderr, qr/HINT:.*Set max_prepared_transactions/, 'with a hint saying what to set');
($ret, $stdout, $stderr) = $plain->psql('postgres', "CALL unified.resolve_in_doubt()");
like($stderr, qr/prepared transactions are disabled/, 'resolve_in_doubt says the same');
is($plain->safe_psql('postgres', 'SELECT count(*) FROM unified.transaction_log'), '0', 'nothing was logged');
$plain->stop;

done_testing();
