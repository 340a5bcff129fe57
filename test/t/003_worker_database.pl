# unified_pg.database may not exist yet when the server starts: each worker
# fails to connect once, then waits quietly (one log line, not a FATAL a
# second) and starts working in the database as soon as it is created.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('laterdb');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'later'
unified_pg.resolver_naptime = '100ms'
});
$node->start;

my $waiting = qr/unified_pg resolver is waiting for database "later" to be created/;
my $log = '';
for (1 .. 100)
{
	$log = slurp_file($node->logfile);
	last if $log =~ $waiting;
	usleep(100_000);
}
like($log, $waiting, 'worker says once that it waits for its database');

# Give a FATAL-per-restart loop time to show itself, then count.
usleep(3_000_000);
$log = slurp_file($node->logfile);
my $fatals = () = $log =~ /FATAL:  database "later" does not exist/g;
cmp_ok($fatals, q{<=}, 2, "at most one failed connection per worker is logged ($fatals)");
like($log, qr/unified_pg maintenance is waiting for database "later" to be created/,
	"the maintenance worker waits the same way");
my $waits = () = $log =~ /$waiting/g;
is($waits, 1, 'the wait is logged once');

$node->safe_psql('postgres', 'CREATE DATABASE later');
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity
		   WHERE backend_type = 'unified_pg resolver' AND datname = 'later'}),
	'worker connects once the database exists');
$node->safe_psql('later', 'CREATE EXTENSION unified_pg');
ok( $node->poll_query_until('later',
		q{SELECT extension_present FROM unified.worker_status() WHERE worker = 'resolver'}),
	'and works there');

# A database that exists but refuses connections: again one failed
# connection, one log line saying why, and the worker is back as soon as
# connections are allowed.
my $offset = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER DATABASE later ALLOW_CONNECTIONS false');
$node->safe_psql('postgres',
	q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'unified_pg resolver'});
my $refusing = qr/unified_pg resolver is waiting for database "later" to accept connections/;
for (1 .. 100)
{
	$log = slurp_file($node->logfile, $offset);
	last if $log =~ $refusing;
	usleep(100_000);
}
like($log, $refusing, 'worker says it waits for the database to accept connections');
usleep(3_000_000);
$log = slurp_file($node->logfile, $offset);
$fatals = () = $log =~ /FATAL:  database "later" is not currently accepting connections/g;
cmp_ok($fatals, '<=', 1, "at most one refused connection is logged ($fatals)");
$node->safe_psql('postgres', 'ALTER DATABASE later ALLOW_CONNECTIONS true');
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity
		   WHERE backend_type = 'unified_pg resolver' AND datname = 'later'}),
	'worker connects once connections are allowed');
$node->stop;

done_testing();
