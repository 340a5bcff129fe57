# The counters of unified.pool_stats survive a clean restart (saved by the
# postmaster at shutdown, as pg_stat_statements does) and are lost, without
# any harm to the server, after an immediate shutdown.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('stats_persistence');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'unified_pg'
unified_pg.maintenance_interval = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION unified_pg');
$node->safe_psql('postgres', 'SELECT unified.reset_stats()');

# Work in pool cognee: 5 commits, 2 rollbacks, 1 error, 6 timed statements.
sub work
{
	local $ENV{PGAPPNAME} = 'cognee';
	$node->psql('postgres', join("\n",
			('SELECT pg_sleep(0.01);') x 5,
			('BEGIN; ROLLBACK;') x 2,
			'SELECT 1/0;'),
		on_error_stop => 0);
}

my $numbers = q{SELECT concat_ws('/', xact_commit, xact_rollback, xact_failed, errors, statements)
                  FROM unified.pool_stats WHERE pool = 'cognee'};
my $histogram = q{SELECT count FROM unified.pool_latency_histogram WHERE pool = 'cognee' AND le_ms = 'Infinity'};
# and one query of unified.chunks that prunes, in pool claude-context
my $pruning = q{SELECT pruning_queries || '/' || partitions_existing || '/' || partitions_skipped
                  FROM unified.stats_overall()};
sub prune
{
	local $ENV{PGAPPNAME} = 'claude-context';
	$node->safe_psql('postgres',
		q{SELECT count(*) FROM unified.chunks WHERE created_at >= '2001-01-01' AND created_at < '2001-02-01'});
}
work();
prune();
ok($node->poll_query_until('postgres', $numbers, '5/2/1/1/9'), 'the work is counted');
my $pruned = $node->safe_psql('postgres', $pruning);
like($pruned, qr{^1/[1-9][0-9]*/[1-9][0-9]*$}, "the pruning query is counted ($pruned)");
my $reset = $node->safe_psql('postgres', 'SELECT stats_reset FROM unified.stats_overall()');

$node->restart;    # fast: a clean shutdown
is($node->safe_psql('postgres', $numbers), '5/2/1/1/9', 'the counters survive a clean restart');
is($node->safe_psql('postgres', $histogram), '9', 'and so does the latency histogram');
is($node->safe_psql('postgres', $pruning), $pruned, 'and the partition pruning counts');
is($node->safe_psql('postgres', 'SELECT stats_reset FROM unified.stats_overall()'), $reset,
	'and the time of the last reset');
ok(!-e $node->data_dir . '/pg_stat/unified_pg.stat', 'the saved file is removed once loaded');

work();
ok($node->poll_query_until('postgres', $numbers, '10/4/2/2/18'), 'counting goes on from there');
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', $numbers), '0/0/0/0/0', 'an immediate shutdown loses the counters');
is($node->safe_psql('postgres', $histogram), '0', 'and the histogram');
is($node->safe_psql('postgres', $pruning), '0/0/0', 'and the pruning counts');
ok($node->safe_psql('postgres', 'SELECT stats_reset FROM unified.stats_overall()') gt $reset,
	'stats_reset says they start again now');
ok(!$node->log_contains(qr/could not read|unified_pg statistics file/), 'without complaint');
work();
ok($node->poll_query_until('postgres', $numbers, '5/2/1/1/9'), 'and the server counts normally afterwards');

# Without the library preloaded, the statistics say so.
$node->stop;
$node->append_conf('postgresql.conf', q{shared_preload_libraries = ''});
$node->start;
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT * FROM unified.pool_stats');
like($err, qr/unified_pg must be loaded via shared_preload_libraries/, 'pool_stats needs the library preloaded');
like($node->safe_psql('postgres', q{SELECT ok || ' ' || detail FROM unified.health_check() WHERE "check" = 'preload'}),
	qr/^false unified_pg must be loaded via shared_preload_libraries/, 'and health_check reports it');

$node->stop;
done_testing();
