# Connection budgets per pool (unified_pg.enforce_pool_limits): refusal with
# SQLSTATE 53300 naming the pool and its budget, rejected_connections,
# superusers never refused, slots given back by ended and terminated
# backends, a reload applying to the next connection, "other" budgeted only
# when named, no slot leaked by a backend killed with kill -9, and 200
# simultaneous connection attempts that never push a pool past its budget.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('budgets');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'unified_pg'
unified_pg.maintenance_interval = 0
unified_pg.pools = 'claude-context:5,cognee:2,unified:20'
unified_pg.enforce_pool_limits = on
max_connections = 240
log_error_verbosity = verbose
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION unified_pg;
CREATE ROLE app_cc LOGIN IN ROLE claude_user;
CREATE ROLE app_cg LOGIN IN ROLE cognee_user;
});

# A session of pool $app as login $user.
sub session
{
	my ($app, $user) = @_;
	local $ENV{PGAPPNAME} = $app;
	local $ENV{PGUSER} = $user;
	return $node->background_psql('postgres', on_error_stop => 0);
}

# Try to connect as $user in pool $app; returns (exit code, stderr).
sub attempt
{
	my ($app, $user) = @_;
	local $ENV{PGAPPNAME} = $app;
	my ($ret, $out, $err) = $node->psql('postgres', 'SELECT 1',
		connstr => $node->connstr('postgres') . " user=$user");
	return ($ret, $err);
}

sub pool_value
{
	my ($pool, $col) = @_;
	return $node->safe_psql('postgres', "SELECT $col FROM unified.pool_stats WHERE pool = '$pool'");
}

# ---- refusal --------------------------------------------------------------
my @cg = (session('cognee', 'app_cg'), session('cognee', 'app_cg'));
is(pool_value('cognee', 'budget_in_use'), '2', 'two cognee sessions hold the budget of 2');
my ($ret, $err) = attempt('cognee', 'app_cg');
isnt($ret, 0, 'a third cognee connection is refused');
like($err, qr/pool "cognee" has reached its budget of 2 connections/, 'the message names the pool and its budget');
ok($node->log_contains(qr/FATAL:  53300: pool "cognee" has reached its budget of 2 connections/),
	'with SQLSTATE 53300');
is(pool_value('cognee', 'rejected_connections'), '1', 'counted in rejected_connections');
($ret, $err) = attempt('claude-context', 'app_cg');
is($ret, 0, 'the same role connects in another pool (budgets are per application_name)');

($ret, $err) = attempt('cognee', $node->safe_psql('postgres', 'SELECT current_user'));
is($ret, 0, 'a superuser is never refused');

# ---- slots come back ------------------------------------------------------
$cg[0]->quit;
ok($node->poll_query_until('postgres', q{SELECT budget_in_use FROM unified.pool_stats WHERE pool = 'cognee'}, '1'),
	'a session that ends gives its slot back');
$cg[0] = session('cognee', 'app_cg');
my $victim = $cg[1]->query_safe('SELECT pg_backend_pid()');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($victim)");
ok($node->poll_query_until('postgres', q{SELECT budget_in_use FROM unified.pool_stats WHERE pool = 'cognee'}, '1'),
	'a terminated backend gives its slot back');
eval { $cg[1]->quit };
$cg[1] = session('cognee', 'app_cg');
is(pool_value('cognee', 'connections'), '2', 'and the freed slot can be used');

# ---- reload: new budgets apply to the next connection ------------------------
$node->append_conf('postgresql.conf', q{unified_pg.pools = 'claude-context:5,cognee:3,unified:20,other:1'});
$node->reload;
ok($node->poll_query_until('postgres', 'SHOW unified_pg.pools', 'claude-context:5,cognee:3,unified:20,other:1'),
	'the reload is seen by new connections');
push @cg, session('cognee', 'app_cg');
is(pool_value('cognee', 'connections'), '3', 'the raised budget admits a third cognee connection at once');
($ret, $err) = attempt('cognee', 'app_cg');
like($err, qr/budget of 3 connections/, 'and refuses a fourth');
my $tool = session('some-tool', 'app_cc');
($ret, $err) = attempt('another-tool', 'app_cc');
like($err, qr/pool "other" has reached its budget of 1 connections/, 'other has a budget once the setting names it');
$tool->quit;

# ---- kill -9 leaks no slot ------------------------------------------------
my $pid = $cg[0]->query_safe('SELECT pg_backend_pid()');
my $offset = -s $node->logfile;
kill 'KILL', $pid;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server restarts its backends after kill -9');
eval { $_->quit } for @cg;
is(pool_value('cognee', 'budget_in_use'), '0', 'no slot survives the restart of the backends');
@cg = map { session('cognee', 'app_cg') } 1 .. 3;
is(pool_value('cognee', 'connections'), '3', 'the whole budget is usable again');
($ret, $err) = attempt('cognee', 'app_cg');
like($err, qr/budget of 3 connections/, 'and still enforced');
$_->quit for @cg;

# ---- 200 simultaneous connection attempts ---------------------------------
$node->safe_psql('postgres', 'SELECT unified.reset_stats()');
my $dir = PostgreSQL::Test::Utils::tempdir;
my $psql = $node->installed_command('psql');
my $connstr = $node->connstr('postgres') . ' user=app_cc application_name=claude-context';
# Each attempt that gets in reports its pool's connections and held slots,
# then stays 4 s.  (On a slow machine the last attempts may start after the
# first ones have left, so more than 5 may get in over the storm, never more
# than 5 at once.)
system('bash', '-c', qq{
for i in \$(seq 200); do
  '$psql' -X -At -d "$connstr" -c "SELECT greatest(connections, budget_in_use) FROM unified.pool_stats WHERE pool = 'claude-context'" -c 'SELECT pg_sleep(4)' >'$dir/out.'\$i 2>'$dir/err.'\$i &
done
wait}) == 0 or 1;
my ($in, $refused, $other, $max) = (0, 0, 0, 0);
for my $i (1 .. 200)
{
	my $out = slurp_file("$dir/out.$i");
	my $err = slurp_file("$dir/err.$i");
	if ($out =~ /^(\d+)\n/)
	{
		$in++;
		$max = $1 if $1 > $max;
	}
	elsif ($err =~ /pool "claude-context" has reached its budget of 5 connections/) { $refused++ }
	else { $other++; diag("attempt $i: $err") }
}
ok($in >= 5, "the budget of 5 was used ($in sessions got in over the storm)");
ok($max <= 5, "no session ever saw more than 5 connections or held slots in its pool ($max)");
is($refused + $in, 200, 'every other attempt was refused by the budget');
is(pool_value('claude-context', 'rejected_connections'), $refused, 'rejected_connections counts each refusal');
ok($node->poll_query_until('postgres', q{SELECT budget_in_use FROM unified.pool_stats WHERE pool = 'claude-context'}, '0'),
	'all slots are free afterwards');

$node->stop;
done_testing();
