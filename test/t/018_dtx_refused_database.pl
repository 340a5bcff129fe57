# A participant database that refuses connections (ALLOW_CONNECTIONS
# false): the resolver backs off with one log line instead of a finisher
# dying with FATAL on every pass, transactions in other databases are
# finished meanwhile, a coordinator is told with SQLSTATE 55000 and its
# commit stays durable, and everything is finished once connections are
# allowed again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('refused');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'claude'
unified_pg.resolver_naptime = '100ms'
unified_pg.in_doubt_timeout = '2s'
max_prepared_transactions = 20
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE claude');
$node->safe_psql('postgres', 'CREATE DATABASE cognee');
$node->safe_psql('postgres', 'CREATE DATABASE memory');
$node->safe_psql('claude', 'CREATE EXTENSION unified_pg; CREATE TABLE work (tx text)');
$node->safe_psql('cognee', 'CREATE TABLE w (tx text)');
$node->safe_psql('memory', 'CREATE TABLE w (tx text)');

# Begin $tx in claude with one participant there and one in $db.
sub prepare_tx
{
	my ($tx, $db) = @_;
	$node->safe_psql('claude', qq{
SELECT unified.begin_distributed('$tx', ARRAY['claude', 'other']);
BEGIN; INSERT INTO work VALUES ('$tx'); PREPARE TRANSACTION 'unified:$tx:claude';});
	$node->safe_psql($db, qq{BEGIN; INSERT INTO w VALUES ('$tx'); PREPARE TRANSACTION 'unified:$tx:other';});
}

sub state
{
	my ($tx) = @_;
	return $node->safe_psql('claude', "SELECT state FROM unified.transaction_log WHERE tx_id = '$tx'");
}

# Decided transactions in the refusing database and in another one.
prepare_tx('r1', 'cognee');
prepare_tx('r2', 'cognee');
prepare_tx('m1', 'memory');
prepare_tx('c1', 'cognee');    # committed by a coordinator below
my $offset = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER DATABASE cognee ALLOW_CONNECTIONS false');
$node->safe_psql('claude',
	q{UPDATE unified.transaction_log SET state = 'committing', decided_at = now() WHERE tx_id IN ('r1', 'r2', 'm1')});

ok($node->poll_query_until('claude', q{SELECT state = 'committed' FROM unified.transaction_log WHERE tx_id = 'm1'}),
	'a transaction in another database is finished meanwhile');
is($node->safe_psql('memory', q{SELECT count(*) FROM w WHERE tx = 'm1'}), '1', 'its participant there is committed');

# A coordinator committing into the refusing database.
my ($ret, $out, $err) = $node->psql('claude', "\\set VERBOSITY verbose\nCALL unified.commit_distributed('c1')");
is($ret, 0, 'commit_distributed succeeds while the participant database refuses connections');
like($err, qr/WARNING:  55000: database "cognee" does not accept connections; 1 prepared participants there wait/,
	'the coordinator is told why, with SQLSTATE 55000');
like($err, qr/HINT:  ALTER DATABASE cognee ALLOW_CONNECTIONS true/, 'and how to fix it');
is(state('c1'), 'committing', 'its decision is kept for the resolver');

# Twenty resolver passes later: the refusal is logged once, no finisher
# ever tried to connect.
usleep(2_000_000);
my $log = slurp_file($node->logfile, $offset);
my $lines = () = $log =~ /database "cognee" does not accept connections/g;
cmp_ok($lines, '<=', 2, "the refusal is logged at most once by the resolver and once for the coordinator ($lines)");
my $fatals = () = $log =~ /FATAL:/g;
is($fatals, 0, 'no FATAL in the log');
is(state('r1') . ' ' . state('r2'), 'committing committing', 'the decisions wait');
is($node->safe_psql('claude', q{SELECT count(*) FROM work WHERE tx IN ('r1', 'r2', 'c1')}), '3',
	'the participants in the coordinating database are committed');

# Connections allowed again: everything is finished.
$node->safe_psql('postgres', 'ALTER DATABASE cognee ALLOW_CONNECTIONS true');
ok( $node->poll_query_until('claude',
		q{SELECT count(*) = 3 FROM unified.transaction_log WHERE tx_id IN ('r1', 'r2', 'c1') AND state = 'committed'}),
	'once connections are allowed the resolver finishes them');
is($node->safe_psql('cognee', q{SELECT count(*) FROM w}), '3', 'every participant there is committed');
is($node->safe_psql('claude', 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'nothing is left prepared');

$node->stop;
done_testing();
