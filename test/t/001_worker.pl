# The background workers, one per job: the resolver and maintenance run in
# unified_pg.database with their own backend_types, and ending one leaves
# the other alone.  The resolver picks up SIGHUP, exits on SIGTERM and is
# restarted, comes back after a crash (kill -9) and after a clean restart,
# and exits when the postmaster dies.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
unified_pg.resolver_naptime = '100ms'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION unified_pg');

my $worker_q = q{SELECT pid FROM pg_stat_activity
                  WHERE backend_type = 'unified_pg resolver' AND datname = 'postgres'};

sub worker_pid
{
	my $pid = '';
	$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($worker_q) w")
	  or return '';
	$pid = $node->safe_psql('postgres', $worker_q);
	return $pid;
}

my $pid1 = worker_pid();
like($pid1, qr/^\d+$/, 'worker shows up in pg_stat_activity with its backend_type');

ok( $node->poll_query_until('postgres',
		q{SELECT extension_present FROM unified.worker_status() WHERE worker = 'resolver'}),
	'worker sees the extension in its database');
is($node->safe_psql('postgres', q{SELECT pid FROM unified.worker_status() WHERE worker = 'resolver'}),
	$pid1, 'worker_status reports the running worker');

# One worker per job: both report, and ending maintenance leaves the
# resolver running.
is( $node->safe_psql('postgres',
		q{SELECT string_agg(worker || ':' || (pid IS NOT NULL), ',' ORDER BY worker) FROM unified.worker_status()}),
	'maintenance:true,resolver:true', 'worker_status reports the resolver and maintenance workers');
my $maint_q = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'unified_pg maintenance'};
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($maint_q) m"),
	'maintenance runs in a worker of its own');
my $mpid = $node->safe_psql('postgres', $maint_q);
isnt($mpid, $pid1, 'a different process from the resolver');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($mpid)");
ok( $node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($maint_q) m WHERE pid <> $mpid"),
	'maintenance is restarted after SIGTERM');
is(worker_pid(), $pid1, 'and the resolver kept running');

# SIGHUP: the worker reloads its settings.
$node->safe_psql('postgres', "ALTER SYSTEM SET unified_pg.resolver_naptime = '250ms'");
$node->reload;
ok( $node->poll_query_until('postgres',
		q{SELECT naptime_ms = 250 FROM unified.worker_status() WHERE worker = 'resolver'}),
	'worker picks up a changed setting on SIGHUP');
is(worker_pid(), $pid1, 'reload does not restart the worker');

# A malformed pools value on reload is refused and the old value kept.
$node->append_conf('postgresql.conf', "unified_pg.pools = 'claude-context:40,broken'");
my $log_offset = -s $node->logfile;
$node->reload;
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server keeps running after a bad reload');
my $tries = 0;
my $log = '';
while ($tries++ < 50)
{
	$log = slurp_file($node->logfile, $log_offset);
	last if $log =~ /invalid value for parameter "unified_pg.pools"/;
	usleep(100_000);
}
like($log, qr/invalid value for parameter "unified_pg.pools"/, 'bad pools value is logged on reload');
like($log, qr/has no budget/, 'the log says what is wrong with it');
is( $node->safe_psql('postgres', 'SHOW unified_pg.pools'),
	'claude-context:40,cognee:40,unified:20',
	'the old pools value is kept');

# SIGTERM: the worker exits and the postmaster starts it again.
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid1)");
my $pid2;
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM ($worker_q) w WHERE pid <> $pid1"),
	'worker is restarted after SIGTERM');
$pid2 = worker_pid();

# kill -9: the postmaster resets the cluster and the worker comes back.
kill 'KILL', $pid2;
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM ($worker_q) w WHERE pid <> $pid2"),
	'worker is restarted after kill -9');
my $pid3 = worker_pid();

# A clean restart keeps the extension working and the worker running.
$node->safe_psql('postgres',
	q{INSERT INTO unified.chunks (source, source_id, project_id, content)
	  VALUES ('claude_context', 'chunk_restart', 'p', 'survives')});
$node->restart;
my $pid4 = worker_pid();
like($pid4, qr/^\d+$/, 'worker runs after a clean restart');
isnt($pid4, $pid3, 'it is a new incarnation');
is( $node->safe_psql('postgres',
		"SELECT content FROM unified.chunks WHERE source_id = 'chunk_restart'"),
	'survives', 'data survives the restart');

# Postmaster death: the worker notices and exits by itself.  Orphans are
# re-parented and may linger as zombies if nobody reaps them, so "gone"
# means no such process or a zombie.
sub process_alive
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return 0;
	my $stat = <$fh>;
	close $fh;
	return $stat !~ /^\d+ \(.*\) Z /;
}

$node->kill9;
my $gone = 0;
for (1 .. 200)
{
	if (!process_alive($pid4)) { $gone = 1; last; }
	usleep(50_000);
}
ok($gone, 'worker exits when the postmaster dies');

done_testing();
