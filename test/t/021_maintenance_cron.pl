# Scheduling maintenance with pg_cron when pg_cron lives in another
# database (cron.database_name = postgres) than unified_pg (appdb): the job
# is registered once, for appdb, and when it runs it creates the missing
# month.  The built-in maintenance is off here, so only the job can.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
my $host = $node->host;
my $port = $node->port;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg,pg_cron'
cron.database_name = 'postgres'
cron.host = '$host'
unified_pg.database = 'appdb'
unified_pg.maintenance_interval = 0
max_worker_processes = 16
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE appdb');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
$node->safe_psql('appdb', 'CREATE EXTENSION unified_pg');

my $future = $node->safe_psql('appdb',
	q{SELECT 'chunks_' || to_char((now() AT TIME ZONE 'UTC') + interval '2 months', 'YYYY_MM')});
$node->safe_psql('appdb', "DROP TABLE unified.$future");

my $jobid = $node->safe_psql('appdb', q{SELECT unified.schedule_maintenance('* * * * *')});
like($jobid, qr/^\d+$/, 'schedule_maintenance returns a job id from another database');
is($node->safe_psql('appdb', q{SELECT unified.schedule_maintenance('* * * * *')}),
	$jobid, 'scheduling again is idempotent');
is( $node->safe_psql('postgres',
		"SELECT jobname || '|' || database || '|' || command FROM cron.job ORDER BY jobid"),
	"unified_pg_maintenance|appdb|CALL unified.run_maintenance_all(3, NULL)",
	'one job, in the database of unified_pg, not cron.database_name');

# unified_admin schedules it too, without any right on pg_cron's schema or
# a login of its own: the job is the extension owner's, so it is the same job.
my ($ret, $out, $err) = $node->psql('appdb',
	"SET ROLE unified_admin; SELECT unified.schedule_maintenance('* * * * *')");
is($out, $jobid, 'unified_admin (NOLOGIN, no pg_cron rights) schedules the same job') or diag $err;
is( $node->safe_psql('postgres',
		q{SELECT count(*) || '|' || min(username) FROM cron.job}),
	'1|' . $node->safe_psql('appdb',
		q{SELECT r.rolname FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner WHERE e.extname = 'unified_pg'}),
	'still one job, owned by the extension owner');

# pg_cron's granularity is one minute: wait for the next run (at most ~70 s).
my $back = 0;
for (1 .. 900)
{
	if ($node->safe_psql('appdb',
			"SELECT count(*) FROM unified.partitions WHERE partition::text = 'unified.$future'") eq '1')
	{
		$back = 1;
		last;
	}
	usleep(100_000);
}
ok($back, 'the pg_cron job ran maintenance in appdb and the month is back');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) >= 1 FROM cron.job_run_details WHERE jobid = $jobid AND status = 'succeeded'"),
	'pg_cron records a successful run');

$node->safe_psql('postgres', "SELECT cron.unschedule($jobid)");
$node->stop;
done_testing();
