# Crash matrix for distributed commit.  For every point of the protocol --
# before the decision, after the (not yet flushed) decision before any
# participant commits,
# after the first participant committed, after all committed before
# completion is recorded -- the coordinator is stopped there
# (unified_pg.debug_pause_at) and then killed: kill -9 of its backend
# (crash restart of the cluster), pg_terminate_backend, or an immediate
# shutdown followed by a start.  Afterwards every participant must end
# committed, or every one rolled back, as the decision says, with no data
# lost.  Finally the resolver itself is killed with kill -9 in the middle
# of a pass.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('dtx_crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
unified_pg.resolver_naptime = '100ms'
unified_pg.in_doubt_timeout = '2s'
max_prepared_transactions = 20
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION unified_pg;
CREATE TABLE work (tx text, who text, payload text);
});

my @participants = ('claude', 'cognee', 'memory');

# Begin a transaction and prepare its participants, each writing a row.
sub prepare_tx
{
	my ($tx) = @_;
	$node->safe_psql('postgres',
		"SELECT unified.begin_distributed('$tx', ARRAY['" . join("','", @participants) . "'])");
	for my $p (@participants)
	{
		$node->safe_psql('postgres', qq{
BEGIN;
INSERT INTO work VALUES ('$tx', '$p', repeat('x', 1000));
PREPARE TRANSACTION 'unified:$tx:$p';
});
	}
}

# Start commit_distributed in a psql of its own, paused at $point;
# returns the IPC::Run handle and the backend's pid once it is paused.
sub start_paused_commit
{
	my ($tx, $point) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-d', $node->connstr('postgres'),
			'-c', "SET unified_pg.debug_pause_at = '$point'",
			'-c', "CALL unified.commit_distributed('$tx')"
		],
		'>', \$out, '2>', \$err);
	my $q = "SELECT pid FROM pg_stat_activity WHERE query = 'unified_pg paused at $point'";
	$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($q) p")
	  or die "coordinator did not pause at $point: $err";
	return ($h, $node->safe_psql('postgres', $q));
}

# Wait until nothing of $tx is prepared and its row is final; return the state.
sub wait_resolved
{
	my ($tx) = @_;
	$node->poll_query_until('postgres', qq{
SELECT (SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'unified:$tx:%') = 0
   AND (SELECT state FROM unified.transaction_log WHERE tx_id = '$tx') IN ('committed', 'aborted')})
	  or return 'unresolved';
	return $node->safe_psql('postgres', "SELECT state FROM unified.transaction_log WHERE tx_id = '$tx'");
}

# The decision commits asynchronously and is flushed by the first COMMIT
# PREPARED (the flush budget, see src/dtx.c): a crash while the
# coordinator is paused right after it may lose it, and then nothing was
# committed either, so the transaction must end entirely one way or the
# other ('either').  Without a crash (terminate) nothing is lost.
my %expect = (
	before_decision        => 'aborted',
	after_decision         => 'either',
	after_first_participant => 'committed',
	after_all_participants => 'committed');

for my $point (qw(before_decision after_decision after_first_participant after_all_participants))
{
	for my $how (qw(kill9 terminate immediate))
	{
		my $tx = "c_${point}_$how";
		prepare_tx($tx);
		my ($h, $pid) = start_paused_commit($tx, $point);

		# The coordinator commits two of the three itself and, when this
		# database's finisher is idle, hands it the third at the same time.
		if ($point eq 'after_first_participant')
		{
			my $left = $node->safe_psql('postgres',
				"SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'unified:$tx:%'");
			ok($left >= 1 && $left <= scalar(@participants) - 1,
				"$tx: paused with some participants committed, not all ($left left)");
		}

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
		$h->finish;
		$node->poll_query_until('postgres', 'SELECT true') or die "server did not come back";

		my $want = $expect{$point};
		$want = 'committed' if $want eq 'either' && $how eq 'terminate';
		my $state = wait_resolved($tx);
		if ($want eq 'either')
		{
			like($state, qr/^(committed|aborted)$/, "$tx: transaction ends committed or aborted");
			note("$tx: the unflushed decision " . ($state eq 'committed' ? 'survived' : 'was lost'));
			$want = $state;
		}
		else
		{
			is($state, $want, "$tx: transaction ends $want");
		}
		my $rows = $node->safe_psql('postgres',
			"SELECT count(*) FROM work WHERE tx = '$tx' AND length(payload) = 1000");
		is($rows, $want eq 'committed' ? scalar(@participants) : 0,
			"$tx: " . ($want eq 'committed' ? 'every participant committed, no data lost'
					: 'every participant rolled back'));
	}
}

# The resolver runs again after all of this (its counters start afresh
# with the shared memory of each crash restart).
ok($node->poll_query_until('postgres', 'SELECT running AND passes > 0 FROM unified.resolver_status'),
	'resolver_status shows a running resolver');

# ---- a coordinator called again after its predecessor died decided ----
# Park the resolver (a long nap) so that the second coordinator, not the
# resolver, finishes the decided transaction.
$node->safe_psql('postgres', q{
ALTER SYSTEM SET unified_pg.resolver_naptime = '30min';
SELECT pg_reload_conf();
});
$node->poll_query_until('postgres', q{SELECT naptime_ms = 1800000 FROM unified.worker_status() WHERE worker = 'resolver'})
  or die 'worker did not take the long nap';
{
	my $tx = 'called_again';
	prepare_tx($tx);
	my ($h, $pid) = start_paused_commit($tx, 'after_decision');
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
	$h->finish;
	is($node->safe_psql('postgres', "SELECT state FROM unified.transaction_log WHERE tx_id = '$tx'"),
		'committing', "$tx: the decision survived its coordinator");
	$node->safe_psql('postgres', "CALL unified.commit_distributed('$tx')");
	is( $node->safe_psql('postgres',
			"SELECT state || ' by ' || finished_by FROM unified.transaction_log WHERE tx_id = '$tx'"),
		'committed by coordinator', "$tx: calling commit_distributed again finishes it");
	is($node->safe_psql('postgres', "SELECT count(*) FROM work WHERE tx = '$tx'"),
		scalar(@participants), "$tx: every participant committed");
}
$node->safe_psql('postgres', q{
ALTER SYSTEM RESET unified_pg.resolver_naptime;
SELECT pg_reload_conf();
});

# ---- the resolver killed with kill -9 in the middle of a pass ----
# A decided transaction (the coordinator died after its decision) with
# three participants; the resolver pauses after finishing the first.
$node->safe_psql('postgres', q{
ALTER SYSTEM SET unified_pg.debug_pause_at = 'resolver_mid_pass';
SELECT pg_reload_conf();
});
my $tx = 'resolver_killed';
prepare_tx($tx);
$node->safe_psql('postgres',
	"UPDATE unified.transaction_log SET state = 'committing', decided_at = now() WHERE tx_id = '$tx'");
my $wq = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'unified_pg resolver'
             AND query = 'unified_pg paused at resolver_mid_pass'};
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($wq) w"),
	'resolver paused in the middle of its pass');
my $wpid = $node->safe_psql('postgres', $wq);
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'unified:$tx:%'"),
	scalar(@participants) - 1, 'one participant committed when the resolver is killed');

# Take the pause out of the configuration and let the postmaster reload
# it (the paused worker does not), so the restarted worker does not pause.
$node->safe_psql('postgres', 'ALTER SYSTEM RESET unified_pg.debug_pause_at; SELECT pg_reload_conf()');
$node->poll_query_until('postgres', "SELECT current_setting('unified_pg.debug_pause_at') = ''")
  or die 'postmaster did not reload';
kill 'KILL', $wpid;
$node->poll_query_until('postgres', 'SELECT true') or die "server did not come back";
is(wait_resolved($tx), 'committed', 'a new resolver finishes the pass after the crash');
is($node->safe_psql('postgres', "SELECT count(*) FROM work WHERE tx = '$tx'"),
	scalar(@participants), 'every participant of it is committed');

# Gids that are not ours survive all of this.
$node->safe_psql('postgres', q{
BEGIN; INSERT INTO work VALUES ('foreign', 'x', ''); PREPARE TRANSACTION 'someone-else:1';
});
$node->stop('immediate');
$node->start;
$node->safe_psql('postgres', q{CALL unified.resolve_in_doubt(in_doubt_timeout => '0s')});
is($node->safe_psql('postgres', 'SELECT gid FROM pg_prepared_xacts'),
	'someone-else:1', 'a gid without the unified: prefix is never touched');
$node->safe_psql('postgres', "ROLLBACK PREPARED 'someone-else:1'");

$node->stop;
done_testing();
