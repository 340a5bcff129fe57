# Failover: decided and undecided participants in doubt on a primary, in
# two databases, their coordinators stopped mid-commit; the primary
# stopped immediately; a streaming standby promoted.  On the standby the
# resolver and maintenance workers idle; after promotion the resolver
# commits what was decided and presumes the rest aborted after the
# timeout, and nothing is lost.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $conf = qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
unified_pg.resolver_naptime = '100ms'
max_prepared_transactions = 60
max_connections = 60
unified_pg.in_doubt_timeout = '3s'
};
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', $conf);
$primary->start;
$primary->safe_psql('postgres', 'CREATE DATABASE other');
$primary->safe_psql('postgres', 'CREATE EXTENSION unified_pg; CREATE TABLE work (tx text)');
$primary->safe_psql('other', 'CREATE TABLE memory (tx text)');

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

# Prepare $n transactions named $prefix<i>, one participant in each database.
sub prepare_txs
{
	my ($prefix, $n) = @_;
	my ($main, $other) = ('', '');
	for my $i (1 .. $n)
	{
		my $tx = "$prefix$i";
		$main .= "SELECT unified.begin_distributed('$tx', ARRAY['claude', 'cognee']);\n"
		  . "BEGIN; INSERT INTO work VALUES ('$tx'); PREPARE TRANSACTION 'unified:$tx:claude';\n";
		$other .= "BEGIN; INSERT INTO memory VALUES ('$tx'); PREPARE TRANSACTION 'unified:$tx:cognee';\n";
	}
	$primary->safe_psql('postgres', $main);
	$primary->safe_psql('other', $other);
}

# Start a coordinator of each transaction that stops at $point, holding
# the transaction's coordinator lock, so that the primary's resolver
# leaves it alone; returns the psql harnesses.
sub pause_coordinators
{
	my ($point, @txs) = @_;
	my @h;
	for my $tx (@txs)
	{
		my ($out, $err) = ('', '');
		push @h, IPC::Run::start(
			[
				'psql', '-X', '-d', $primary->connstr('postgres'),
				'-c', "SET unified_pg.debug_pause_at = '$point'",
				'-c', "CALL unified.commit_distributed('$tx')"
			],
			'>', \$out, '2>', \$err);
	}
	return @h;
}

# Twenty decided transactions whose coordinators stop right after their
# durable decision, and five undecided ones whose coordinators stop just
# before deciding (presumed aborted after the promotion, once the timeout
# has passed).
prepare_txs('c', 20);
prepare_txs('a', 5);
my @h = pause_coordinators('after_decision', map { "c$_" } 1 .. 20);
push @h, pause_coordinators('before_decision', map { "a$_" } 1 .. 5);
ok( $primary->poll_query_until('postgres',
		q{SELECT count(*) = 25 FROM pg_stat_activity WHERE query LIKE 'unified_pg paused at %'}),
	'25 coordinators are paused, 20 after their decision');
is($primary->safe_psql('postgres', q{SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'unified:%'}),
	'50', 'decided and undecided participants are in doubt on the primary');

$primary->wait_for_catchup($standby);
is( $standby->safe_psql('postgres',
		q{SELECT string_agg(state || '=' || n, ' ' ORDER BY state) FROM
		   (SELECT state, count(*) n FROM unified.transaction_log GROUP BY 1) s}),
	'committing=20 pending=5', 'the standby has the decisions (its prepared transactions show once it is promoted)');
ok( $standby->poll_query_until('postgres',
		q{SELECT bool_and(in_recovery AND pid IS NOT NULL) AND count(*) = 2 FROM unified.worker_status()}),
	'on the standby both workers run and say they idle in recovery');
is($standby->safe_psql('postgres', 'SELECT passes FROM unified.resolver_status'), '0',
	'the standby\'s resolver has not made a pass');

$primary->stop('immediate');
$_->finish for @h;
$standby->promote;
ok( $standby->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_prepared_xacts WHERE gid LIKE 'unified:%'}),
	'after promotion nothing is left prepared');
ok( $standby->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM unified.transaction_log WHERE state NOT IN ('committed', 'aborted')}),
	'every transaction is recorded as finished');
is( $standby->safe_psql('postgres',
		q{SELECT string_agg(state || '=' || n, ' ' ORDER BY state) FROM
		   (SELECT state, count(*) n FROM unified.transaction_log GROUP BY 1) s}),
	'aborted=5 committed=20', 'the decided commits are carried out, the undecided presumed aborted');
is( $standby->safe_psql('postgres', q{SELECT count(*) FROM work WHERE tx NOT LIKE 'a%'}) . ','
	  . $standby->safe_psql('other', q{SELECT count(*) FROM memory WHERE tx NOT LIKE 'a%'}),
	'20,20', 'every committed participant is there, in both databases');
is( $standby->safe_psql('postgres', q{SELECT count(*) FROM work WHERE tx LIKE 'a%'}) . ','
	  . $standby->safe_psql('other', q{SELECT count(*) FROM memory WHERE tx LIKE 'a%'}),
	'0,0', 'nothing of the aborted ones');
ok( $standby->poll_query_until('postgres',
		q{SELECT bool_and(NOT in_recovery) FROM unified.worker_status()}),
	'the workers know they are on a primary now');

$standby->stop;
done_testing();
