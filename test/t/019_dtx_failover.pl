# Failover: decided participants in doubt on a primary, in two databases;
# the primary stopped immediately; a streaming standby promoted.  On the
# standby the resolver and maintenance workers idle; after promotion the
# resolver finishes what the old primary left in doubt, commit and abort
# decisions alike, and nothing is lost.
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

# Park the primary's resolver so that decided transactions stay in doubt.
$primary->safe_psql('postgres',
	q{ALTER SYSTEM SET unified_pg.resolver_naptime = '30min'; SELECT pg_reload_conf()});
$primary->poll_query_until('postgres',
	q{SELECT naptime_ms = 1800000 FROM unified.worker_status() WHERE worker = 'resolver'})
  or die 'the resolver did not take the long nap';

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

prepare_txs('c', 20);
prepare_txs('a', 5);
$primary->safe_psql('postgres', q{
UPDATE unified.transaction_log SET state = 'committing', decided_at = now() WHERE tx_id LIKE 'c%';
UPDATE unified.transaction_log SET state = 'aborting', decided_at = now() WHERE tx_id LIKE 'a%';});

# And one whose coordinator is caught right after its durable decision.
prepare_txs('k', 1);
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[
		'psql', '-X', '-d', $primary->connstr('postgres'),
		'-c', "SET unified_pg.debug_pause_at = 'after_decision'",
		'-c', "CALL unified.commit_distributed('k1')"
	],
	'>', \$out, '2>', \$err);
ok( $primary->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'unified_pg paused at after_decision'}),
	'a coordinator is paused after its decision');
is($primary->safe_psql('postgres', q{SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'unified:%'}),
	'52', 'decided participants are in doubt on the primary');

$primary->wait_for_catchup($standby);
is( $standby->safe_psql('postgres',
		q{SELECT count(*) FROM unified.transaction_log WHERE state IN ('committing', 'aborting')}),
	'26', 'the standby has the decisions (its prepared transactions show once it is promoted)');
ok( $standby->poll_query_until('postgres',
		q{SELECT bool_and(in_recovery AND pid IS NOT NULL) AND count(*) = 2 FROM unified.worker_status()}),
	'on the standby both workers run and say they idle in recovery');
is($standby->safe_psql('postgres', 'SELECT passes FROM unified.resolver_status'), '0',
	'the standby\'s resolver has not made a pass');

$primary->stop('immediate');
$h->finish;
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
	'aborted=5 committed=21', 'commit and abort decisions are both carried out');
is( $standby->safe_psql('postgres', q{SELECT count(*) FROM work WHERE tx NOT LIKE 'a%'}) . ','
	  . $standby->safe_psql('other', q{SELECT count(*) FROM memory WHERE tx NOT LIKE 'a%'}),
	'21,21', 'every committed participant is there, in both databases');
is( $standby->safe_psql('postgres', q{SELECT count(*) FROM work WHERE tx LIKE 'a%'}) . ','
	  . $standby->safe_psql('other', q{SELECT count(*) FROM memory WHERE tx LIKE 'a%'}),
	'0,0', 'nothing of the aborted ones');
ok( $standby->poll_query_until('postgres',
		q{SELECT bool_and(NOT in_recovery) FROM unified.worker_status()}),
	'the workers know they are on a primary now');

$standby->stop;
done_testing();
