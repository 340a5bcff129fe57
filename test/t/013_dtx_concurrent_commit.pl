# Committing the participants of one database concurrently.  Beyond the
# participants' PREPAREs, a distributed transaction waits for one flush
# (DESIGN section 5): the coordinator hands half of this database's votes
# to the database's finisher before its decision, and once the decision's
# commit record is in WAL both commit at the same time, so that one WAL
# flush covers both COMMIT PREPAREDs (src/finisher.c).  The crash points
# this creates: the finisher stopped after the coordinator committed its
# share, and the coordinator stopped after the finisher committed its
# share, each killed three ways (kill -9, terminate, immediate stop).
# Nothing may end split: every participant committed, no row lost.  A
# finisher whose coordinator dies before deciding gives up its request and
# serves the next one.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('dtx_concurrent');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
unified_pg.resolver_naptime = '100ms'
unified_pg.in_doubt_timeout = '1h'
unified_pg.finisher_idle_timeout = '1h'
max_prepared_transactions = 20
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION unified_pg;
CREATE TABLE work (tx text, who text);
});

my $finisher = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'unified_pg finisher'
                  AND datname = 'postgres'};

# Begin $tx with two participants and prepare both.
sub prepare_tx
{
	my ($tx) = @_;
	$node->safe_psql('postgres', "SELECT unified.begin_distributed('$tx', '{claude,cognee}')");
	for my $p ('claude', 'cognee')
	{
		$node->safe_psql('postgres',
			"BEGIN; INSERT INTO work VALUES ('$tx', '$p'); PREPARE TRANSACTION 'unified:$tx:$p';");
	}
}

sub prepared
{
	my ($tx) = @_;
	return $node->safe_psql('postgres', "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'unified:$tx:%'");
}

# Commit one transaction, so that this database's finisher is running and idle.
my $warm = 0;
sub warm_up
{
	my $tx = 'warm' . ++$warm;
	prepare_tx($tx);
	$node->safe_psql('postgres', "CALL unified.commit_distributed('$tx')");
	$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($finisher) f")
	  or die 'no finisher for the coordinator\'s database';
	$node->poll_query_until('postgres', "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = ($finisher)")
	  or die 'the finisher did not become idle';
}

# Wait until $tx is committed with nothing prepared and both rows there.
sub check_committed
{
	my ($tx, $what) = @_;
	ok( $node->poll_query_until('postgres', qq{
SELECT (SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'unified:$tx:%') = 0
   AND (SELECT state FROM unified.transaction_log WHERE tx_id = '$tx') = 'committed'}),
		"$tx: $what: the transaction ends committed, nothing left prepared");
	is($node->safe_psql('postgres', "SELECT count(*) FROM work WHERE tx = '$tx'"), '2',
		"$tx: both participants committed, nothing split");
}

sub kill_and_restart
{
	my ($how, $pid) = @_;
	if ($how eq 'kill9')
	{
		kill 'KILL', $pid;
	}
	elsif ($how eq 'terminate')
	{
		$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
	}
	else
	{
		$node->stop('immediate');
		$node->start;
	}
	$node->poll_query_until('postgres', 'SELECT true') or die 'server did not come back';
}

# Start CALL commit_distributed('$tx') in a session paused at $point and
# wait until it is there; returns the running psql, a reference to its
# stderr, and the query that finds the paused backend's pid.
sub commit_paused_at
{
	my ($tx, $point, $what) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-d', $node->connstr('postgres'),
			'-c', "SET unified_pg.debug_pause_at = '$point'",
			'-c', "CALL unified.commit_distributed('$tx')"
		],
		'>', \$out, '2>', \$err);
	my $q = "SELECT pid FROM pg_stat_activity WHERE query = 'unified_pg paused at $point'";
	ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($q) p"), "$tx: $what");
	return ($h, \$err, $q);
}

# ---- the finisher takes a share ----
warm_up();
prepare_tx('shared');
$node->safe_psql('postgres', "CALL unified.commit_distributed('shared')");
like($node->safe_psql('postgres', "SELECT query FROM pg_stat_activity WHERE pid = ($finisher)"),
	qr/^COMMIT PREPARED 'unified:shared:(claude|cognee)'$/,
	'the database\'s finisher committed one of the two participants');
check_committed('shared', 'shared with the finisher');

# ---- the finisher stopped between the two COMMIT PREPAREDs ----
for my $how (qw(terminate kill9 immediate))
{
	my $tx = "fin_$how";
	warm_up();
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET unified_pg.debug_pause_at = 'finisher_before_finish'; SELECT pg_reload_conf()");
	prepare_tx($tx);
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c', "CALL unified.commit_distributed('$tx')" ],
		'>', \$out, '2>', \$err);
	my $paused = "$finisher AND query = 'unified_pg paused at finisher_before_finish'";
	ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($paused) p"),
		"$tx: the finisher paused after the decision");
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_prepared_xacts WHERE gid LIKE 'unified:$tx:%'"),
		"$tx: the coordinator committed its share meanwhile");
	my $fpid = $node->safe_psql('postgres', $paused);
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET unified_pg.debug_pause_at; SELECT pg_reload_conf()');
	$node->poll_query_until('postgres', "SELECT current_setting('unified_pg.debug_pause_at') = ''")
	  or die 'no reload';
	kill_and_restart($how, $fpid);
	$h->finish;
	check_committed($tx, "finisher stopped ($how)");
	if ($how eq 'terminate')
	{
		like($err, qr/terminating background worker "unified_pg finisher"/,
			"$tx: the coordinator gets the finisher's error");
		is( $node->safe_psql('postgres', "SELECT finished_by FROM unified.transaction_log WHERE tx_id = '$tx'"),
			'coordinator', "$tx: and commits the finisher's share itself");
	}
}

# ---- the coordinator stopped between the two COMMIT PREPAREDs ----
for my $how (qw(terminate kill9 immediate))
{
	my $tx = "coord_$how";
	warm_up();
	prepare_tx($tx);
	my ($h, $err, $q) = commit_paused_at($tx, 'after_go', 'the coordinator paused after letting the finisher go');
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_prepared_xacts WHERE gid LIKE 'unified:$tx:%'"),
		"$tx: the finisher committed its share meanwhile");
	kill_and_restart($how, $node->safe_psql('postgres', $q));
	$h->finish;
	check_committed($tx, "coordinator stopped ($how)");
}

# ---- the coordinator dies after arming the finisher, before deciding ----
warm_up();
my $fpid = $node->safe_psql('postgres', $finisher);
prepare_tx('armed');
{
	my ($h, $err, $q) = commit_paused_at('armed', 'after_decision', 'the coordinator paused after its decision');
	ok( $node->poll_query_until('postgres',
			"SELECT query = 'waiting for a commit decision' FROM pg_stat_activity WHERE pid = $fpid"),
		'armed: the finisher waits for the go');
	is(prepared('armed'), '2', 'armed: nothing is committed before the go');
	$node->safe_psql('postgres', 'SELECT pg_terminate_backend(pid) FROM (' . $q . ') p');
	$h->finish;
}
check_committed('armed', 'coordinator gone after its decision');

# ---- a coordinator cancelled after its decision says so ----
# The cancel ends the CALL with 57014, but the transaction is committed:
# the error's context tells the caller, and the resolver finishes it.
warm_up();
prepare_tx('cancelled');
{
	my ($h, $err, $q) = commit_paused_at('cancelled', 'after_go', 'the coordinator paused after letting the finisher go');
	$node->safe_psql('postgres', 'SELECT pg_cancel_backend(pid) FROM (' . $q . ') p');
	$h->finish;
	like($$err, qr/canceling statement due to user request/, 'cancelled: the CALL ends with the cancel');
	like($$err, qr/CONTEXT:  distributed transaction "cancelled" is committed: its commit decision is durable/,
		'cancelled: and its context says the transaction is committed');
}
check_committed('cancelled', 'coordinator cancelled after its decision');
warm_up();
is($node->safe_psql('postgres', $finisher), $fpid, 'the same finisher gave up the request and serves the next');

$node->stop;
done_testing();
