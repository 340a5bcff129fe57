# make run on a run directory that already exists: UPG_PORT and UPG_DB
# given later move the server to the new port and database (written into
# its postgresql.conf, the server restarted), and without them the
# directory keeps what it was made with.  scripts/server.sh runs here as
# the README's `make run` runs it, except that it uses the unified_pg this
# test suite installed (UPG_RUN_INSTALL=no) instead of building again.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $script = dirname(__FILE__) . '/../../scripts/server.sh';
my $run = PostgreSQL::Test::Utils::tempdir_short() . '/run';
my $sock = "$run/sock";

# Run `server.sh $action` with extra environment; (success, stdout + stderr).
sub server
{
	my ($action, %env) = @_;
	my $out;
	local $ENV{UPG_RUN_INSTALL} = 'no';
	local $ENV{UPG_RUN_DIR} = $run;
	local $ENV{UPG_PORT} = $env{UPG_PORT};
	local $ENV{UPG_DB} = $env{UPG_DB};
	delete $ENV{UPG_PORT} unless defined $env{UPG_PORT};
	delete $ENV{UPG_DB} unless defined $env{UPG_DB};
	my $ok = IPC::Run::run([ 'bash', $script, $action ], '>&', \$out);
	return ($ok, $out);
}

# One value from the server on $port through the run directory's socket, or undef.
sub query
{
	my ($port, $db, $sql) = @_;
	my ($out, $err);
	IPC::Run::run([ 'psql', '-X', '-At', '-h', $sock, '-p', $port, '-U', 'postgres', '-d', $db, '-c', $sql ],
		'>', \$out, '2>', \$err)
	  or return undef;
	chomp $out;
	return $out;
}

my $p1 = PostgreSQL::Test::Cluster::get_free_port();
my $p2 = PostgreSQL::Test::Cluster::get_free_port();

my ($ok, $out) = server('start', UPG_PORT => $p1);
ok($ok, 'make run starts a server in a new run directory') or diag $out;
like($out, qr/port $p1, data in \Q$run\E/, 'it reports the port and data directory');
is(query($p1, 'claude_context', q{SELECT count(*) FROM pg_extension WHERE extname IN ('unified_pg', 'pg_cron')}),
	'2', 'database claude_context has unified_pg and pg_cron');

# a new port on the existing directory
($ok, $out) = server('start', UPG_PORT => $p2);
ok($ok, 'make run with a new UPG_PORT on the existing directory succeeds') or diag $out;
like($out, qr/port $p1 -> $p2/, 'it says the port changes');
like($out, qr/restarting the server/, 'and restarts the running server');
is(query($p2, 'claude_context', 'SHOW port'), $p2, 'the server listens on the new port');
is(query($p1, 'claude_context', 'SELECT 1'), undef, 'and no longer on the old one');

# a new database on the existing directory
($ok, $out) = server('start', UPG_DB => 'memory_db');
ok($ok, 'make run with a new UPG_DB on the existing directory succeeds') or diag $out;
like($out, qr/database claude_context -> memory_db/, 'it says the database changes');
unlike($out, qr/warning: the unified_pg worker has not started/, 'the workers follow it');
is(query($p2, 'memory_db', q{SELECT current_setting('unified_pg.database') || ' ' || current_setting('cron.database_name')}),
	'memory_db memory_db', 'unified_pg.database and cron.database_name name the new database');
is(query($p2, 'memory_db', q{SELECT count(*) FROM pg_extension WHERE extname IN ('unified_pg', 'pg_cron')}),
	'2', 'the new database has unified_pg and pg_cron');
is(query($p2, 'memory_db', 'SELECT bool_and(extension_present) FROM unified.worker_status()'),
	't', 'the workers run in the new database');

# without UPG_PORT and UPG_DB the directory keeps what it was given last
($ok, $out) = server('start');
ok($ok, 'make run without UPG_PORT and UPG_DB succeeds') or diag $out;
like($out, qr/server already running/, 'the running server is left alone');
like($out, qr/port $p2, data in/, 'on the port the directory has');
like($out, qr/-p $p2 -U postgres memory_db/, 'and the database it has');

($ok, $out) = server('stop');
ok($ok, 'make stop succeeds') or diag $out;
like($out, qr/server stopped/, 'make stop stops the server');
($ok, $out) = server('start');
ok($ok, 'make run starts the stopped server again') or diag $out;
is(query($p2, 'memory_db', 'SHOW port'), $p2, 'still on the port it was given last');

# a malformed value is refused before anything changes
($ok, $out) = server('start', UPG_PORT => '54x');
ok(!$ok, 'a malformed UPG_PORT is refused');
like($out, qr/UPG_PORT must be a port number/, 'with a message that says why');
($ok, $out) = server('start', UPG_DB => 'bad;db');
ok(!$ok, 'a malformed UPG_DB is refused');
is(query($p2, 'memory_db', 'SHOW port'), $p2, 'the server is as it was');

server('stop');
done_testing();
