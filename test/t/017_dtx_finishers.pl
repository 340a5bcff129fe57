# Finishers for other databases are long-lived, one per database, and
# shared by every coordinator: with the default max_worker_processes (8),
# 8 clients committing two-database transactions for 30 s get no error and
# no warning, and leave nothing prepared.  An idle finisher exits after
# unified_pg.finisher_idle_timeout.  An error in a finisher -- here the
# FATAL of a finisher being terminated -- reaches the coordinator whole,
# SQLSTATE included, and the resolver finishes what was left.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('finishers');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'claude'
unified_pg.resolver_naptime = '100ms'
unified_pg.finisher_idle_timeout = '2s'
max_prepared_transactions = 40
max_connections = 40
});
$node->start;
is($node->safe_psql('postgres', 'SHOW max_worker_processes'), '8', 'max_worker_processes is the default');
$node->safe_psql('postgres', 'CREATE DATABASE claude');
$node->safe_psql('postgres', 'CREATE DATABASE cognee');
$node->safe_psql('claude', q{
CREATE EXTENSION unified_pg;
CREATE EXTENSION dblink;
CREATE SEQUENCE tx_seq;
CREATE TABLE work (n bigint, who text);
});
$node->safe_psql('cognee', 'CREATE TABLE memory (n bigint, who text)');

my $finishers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'unified_pg finisher'};

# Each pgbench client is a coordinator in claude that also prepares the
# claude participant; its cognee participant is prepared over a dblink
# connection of its own.
my $cognee = $node->connstr('cognee');
$cognee =~ s/'/''/g;
my $script = PostgreSQL::Test::Utils::tempdir() . '/two_db.sql';
open(my $fh, '>', $script) or die $!;
print $fh <<"SQL";
SELECT dblink_connect('cg', '$cognee') WHERE dblink_get_connections() IS NULL;
SELECT nextval('tx_seq') AS id \\gset
SELECT unified.begin_distributed('t' || :id, '{claude,cognee}');
BEGIN;
INSERT INTO work VALUES (:id, 'claude');
PREPARE TRANSACTION 'unified:t:id:claude';
SELECT dblink_exec('cg', 'BEGIN; INSERT INTO memory VALUES (' || :id || ', ''cognee''); PREPARE TRANSACTION ''unified:t' || :id || ':cognee''');
CALL unified.commit_distributed('t' || :id);
SQL
close $fh;

my ($out, $err) = ('', '');
my $ok = IPC::Run::run(
	[
		'pgbench', '-n', '-M', 'simple', '-c', '8', '-j', '8', '-T', '30',
		'-f', $script, $node->connstr('claude')
	],
	'>', \$out, '2>', \$err);
ok($ok, 'pgbench: 8 clients of two-database transactions for 30 s ran without error');
my ($failed) = $out =~ /number of failed transactions: (\d+)/;
my ($done) = $out =~ /number of transactions actually processed: (\d+)/;
note("pgbench: $done transactions");
cmp_ok($done // 0, '>', 0, 'transactions were committed');
unlike($err, qr/WARNING|ERROR|could not start/, 'no warning and no error reached any client');
is($node->safe_psql('claude', 'SELECT count(*) FROM pg_prepared_xacts'), '0',
	'nothing is left prepared when the clients are done');
is( $node->safe_psql('claude',
		q{SELECT string_agg(state || '=' || n, ' ') FROM (SELECT state, count(*) n FROM unified.transaction_log GROUP BY 1) s}),
	"committed=$done", 'every transaction is committed in the log');
is( $node->safe_psql('claude', 'SELECT count(*) FROM work') . ','
	  . $node->safe_psql('cognee', 'SELECT count(*) FROM memory'),
	"$done,$done", 'each transaction wrote its rows in both databases');
ok($node->poll_query_until('claude', "SELECT ($finishers) = 0"),
	'the idle finisher exits after finisher_idle_timeout');

# A finisher terminated while it holds a participant: the coordinator gets
# the finisher's FATAL back whole, still reports the commit as durable,
# and the resolver finishes the participant through a new finisher.
$node->safe_psql('claude', q{
SELECT unified.begin_distributed('killed', '{claude,cognee}');
BEGIN; INSERT INTO work VALUES (-1, 'claude'); PREPARE TRANSACTION 'unified:killed:claude';});
$node->safe_psql('cognee', q{
BEGIN; INSERT INTO memory VALUES (-1, 'cognee'); PREPARE TRANSACTION 'unified:killed:cognee';});
$node->safe_psql('claude', q{ALTER SYSTEM SET unified_pg.debug_pause_at = 'finisher_before_finish'; SELECT pg_reload_conf()});
my ($cout, $cerr) = ('', '');
my $h = IPC::Run::start(
	[
		'psql', '-X', '-d', $node->connstr('claude'), '-v', 'VERBOSITY=verbose',
		'-c', "CALL unified.commit_distributed('killed')"
	],
	'>', \$cout, '2>', \$cerr);
my $paused = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'unified_pg finisher'
                AND query = 'unified_pg paused at finisher_before_finish'};
ok($node->poll_query_until('claude', "SELECT count(*) = 1 FROM ($paused) p"), 'the finisher paused before finishing');
my $fpid = $node->safe_psql('claude', $paused);
$node->safe_psql('claude', q{ALTER SYSTEM RESET unified_pg.debug_pause_at; SELECT pg_reload_conf()});
$node->poll_query_until('claude', "SELECT current_setting('unified_pg.debug_pause_at') = ''")
  or die 'no reload';
$node->safe_psql('claude', "SELECT pg_terminate_backend($fpid)");
$h->finish;
like($cerr, qr/WARNING:  57P01: terminating background worker "unified_pg finisher" due to administrator command/,
	'the coordinator gets the finisher\'s error with its SQLSTATE');
like($cerr, qr/is committed but 1 participants are not finished yet/, 'and says the commit is durable');
ok( $node->poll_query_until('claude',
		q{SELECT state = 'committed' FROM unified.transaction_log WHERE tx_id = 'killed'}),
	'the resolver finishes the transaction through a new finisher');
is($node->safe_psql('cognee', 'SELECT count(*) FROM memory WHERE n = -1'), '1',
	'the participant in the other database is committed');

$node->stop;
done_testing();
