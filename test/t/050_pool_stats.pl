# unified.pool_stats with real concurrent clients: live counts per pool by
# state, the pool fixed at connection time, statement latency percentiles
# of known statements (window and cumulative histogram), a deadlock counted
# in its pool only, error-aborted vs rolled-back transactions, partition
# pruning, reset, and a malformed unified_pg.pools refused on reload.
use strict;
use warnings;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('pool_stats');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'unified_pg'
unified_pg.maintenance_interval = 0
unified_pg.pools = 'claude-context:40,cognee:40,unified:20'
unified_pg.stats_window = '10s'
max_prepared_transactions = 5
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION unified_pg;
CREATE TABLE tlock (i int);
CREATE TABLE d1 (i int);
CREATE TABLE d2 (i int);
});

# A session of pool $app (its startup packet's application_name).
sub session
{
	my ($app) = @_;
	local $ENV{PGAPPNAME} = $app;
	return $node->background_psql('postgres', on_error_stop => 0);
}

# Send SQL to a session without waiting for it to finish.
sub send_async
{
	my ($s, $sql) = @_;
	$s->query_until(qr/sent/, "\\echo sent\n$sql\n");
}

# One row of unified.pool_stats as a hash.
sub pool
{
	my ($name) = @_;
	my $json = $node->safe_psql('postgres',
		"SELECT row_to_json(p) FROM unified.pool_stats p WHERE pool = '$name'");
	return decode_json($json);
}

# Live counts of a pool as "connections/active/idle/idle_in_transaction/waiting".
sub live
{
	my ($name) = @_;
	return qq{SELECT concat_ws('/', connections, active, idle, idle_in_transaction, waiting)
	            FROM unified.pool_stats WHERE pool = '$name'};
}

is( $node->safe_psql('postgres', 'SELECT string_agg(pool, \',\') FROM unified.pool_stats'),
	'claude-context,cognee,unified,other',
	'one row per configured pool, then other');

# ---- live counts per pool, by state ----------------------------------------
my $cc1 = session('claude-context');
my $cc2 = session('claude-context');
my $cc3 = session('claude-context');
my $cg1 = session('cognee');
my $cg2 = session('cognee');
my $moved = session('cognee');
my $tool = session('some-tool');

$cc3->query_safe('BEGIN; SELECT 1;');
$cg1->query_safe('BEGIN; LOCK TABLE tlock;');
$moved->query_safe(q{SET application_name = 'claude-context'});
send_async($cc1, 'SELECT pg_sleep(300);');
send_async($cg2, 'BEGIN; LOCK TABLE tlock;');

$node->poll_query_until('postgres', live('cognee'), '3/1/1/1/1');
is($node->safe_psql('postgres', live('cognee')), '3/1/1/1/1',
	'cognee: 3 connections, 1 active and waiting on a lock, 1 idle, 1 idle in transaction');
is($node->safe_psql('postgres', live('claude-context')), '3/1/1/1/0',
	'claude-context: 3 connections, 1 active, 1 idle, 1 idle in transaction; SET application_name moved nobody');
is($node->safe_psql('postgres', live('other')), '2/1/1/0/0',
	'other: the unknown application and this checking session');
is($node->safe_psql('postgres', 'SELECT utilization FROM unified.pool_stats WHERE pool = \'claude-context\''),
	'0.075', 'utilization is connections / budget');

$cg1->query_safe('COMMIT;');
$cg2->query_safe('COMMIT;');    # after its LOCK got the lock
$node->safe_psql('postgres',
	q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300);'});
$cc1->query('SELECT 1;');
$cc3->query_safe('COMMIT;');
$_->quit for ($cc1, $cc2, $cc3, $cg1, $cg2, $moved, $tool);
ok($node->poll_query_until('postgres', live('claude-context'), '0/0/0/0/0'),
	'sessions that end leave the live counts');

# ---- transactions: commits, explicit rollbacks, error aborts ----------------
$node->safe_psql('postgres', 'SELECT unified.reset_stats()');
{
	# one psql script, one statement at a time, as the pool "unified"
	local $ENV{PGAPPNAME} = 'unified';
	$node->psql('postgres', join("\n",
			('BEGIN; SELECT 1; COMMIT;') x 4,
			('BEGIN; SELECT 1; ROLLBACK;') x 3,
			'SELECT 1/0;',
			'BEGIN; SELECT 1/0;', 'ROLLBACK;',
			# the script ends inside a transaction: psql disconnects
			'BEGIN; SELECT 1;'),
		on_error_stop => 0);
}
ok( $node->poll_query_until('postgres',
		q{SELECT concat_ws('/', xact_commit, xact_rollback, xact_failed, errors)
		    FROM unified.pool_stats WHERE pool = 'unified'}, '4/4/2/2'),
	'4 commits, 3 ROLLBACKs and a disconnect in a transaction rolled back, 2 transactions aborted by an error');
is( $node->safe_psql('postgres', q{SELECT round(success_rate::numeric, 4) FROM unified.pool_stats WHERE pool = 'unified'}),
	'0.6667', 'success_rate = commits / (commits + error aborts); rollbacks are neither');
my $p = pool('unified');
ok($p->{busy_ratio} > 0 && $p->{busy_ratio} <= 1, "busy_ratio is a share of connected time ($p->{busy_ratio})");
is(pool('cognee')->{xact_commit}, 0, 'the other pools counted none of it');

# ---- a deadlock, counted in the pool of its victim only ----------------------
$node->safe_psql('postgres', 'SELECT unified.reset_stats()');
my $a = session('claude-context');
my $b = session('cognee');
$a->query_safe(q{SET deadlock_timeout = '60s'; BEGIN; LOCK TABLE d1;});
$b->query_safe(q{SET deadlock_timeout = '100ms'; BEGIN; LOCK TABLE d2;});
send_async($a, 'LOCK TABLE d2;');
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'}, '1'),
	'the first session waits');
my $out = $b->query('LOCK TABLE d1;');
like($b->{stderr}, qr/deadlock detected/, 'the second session is the deadlock victim');
$b->query('ROLLBACK;');
$a->query_safe('COMMIT;');
$a->quit;
$b->quit;
is(pool('cognee')->{deadlocks}, 1, 'the deadlock is counted in the victim\'s pool');
is(pool('claude-context')->{deadlocks}, 0, 'and in no other pool');
is(pool('cognee')->{xact_failed}, 1, 'the victim\'s transaction counts as aborted by an error');

# ---- latency percentiles of known statements ------------------------------
$node->safe_psql('postgres', 'SELECT unified.reset_stats()');
my $l = session('cognee');
my @plan = ((0.020) x 60, (0.050) x 30, (0.100) x 10);
$l->query_safe("SELECT pg_sleep($_);") for @plan;
$l->quit;
my %expect = (p50 => 20, p95 => 100, p99 => 100);

# Prometheus' histogram_quantile() over the cumulative rows of a pool.
sub histogram_quantile
{
	my ($q, $pool) = @_;
	my @rows = map { [ split /\|/ ] } split /\n/, $node->safe_psql('postgres',
		"SELECT le_ms, count FROM unified.pool_latency_histogram WHERE pool = '$pool' ORDER BY le_ms");
	my $total = $rows[-1][1];
	my $rank = $q * $total;
	my ($prev_le, $prev_count) = (0, 0);
	for my $r (@rows)
	{
		my ($le, $count) = @$r;
		if ($count >= $rank)
		{
			return $prev_le if $le eq 'Infinity';
			return $prev_le + ($le - $prev_le) * ($rank - $prev_count) / ($count - $prev_count);
		}
		($prev_le, $prev_count) = ($le, $count);
	}
	return undef;
}

$p = pool('cognee');
is($p->{statements}, 100, '100 statements timed');
for my $k (sort keys %expect)
{
	my $got = $p->{"latency_${k}_ms"};
	my $want = $expect{$k};
	ok(abs($got - $want) <= 0.10 * $want, "window $k: $got ms is within 10 % of $want ms");
	my $h = histogram_quantile(substr($k, 1) / 100, 'cognee');
	ok(abs($h - $want) <= 0.10 * $want,
		"cumulative histogram, histogram_quantile($k): $h ms is within 10 % of $want ms");
}
is( $node->safe_psql('postgres', q{
	SELECT bool_and(count >= coalesce(lag, 0)) AND max(le_ms) = 'Infinity'
	  FROM (SELECT le_ms, count, lag(count) OVER (ORDER BY le_ms) FROM unified.pool_latency_histogram
	         WHERE pool = 'cognee') h}),
	't', 'the histogram is cumulative and ends at Infinity');

# The window forgets: unified_pg.stats_window = 10s.
ok( $node->poll_query_until('postgres',
		q{SELECT latency_p50_ms IS NULL FROM unified.pool_stats WHERE pool = 'cognee'}, 't'),
	'after the window has passed, the window percentiles are empty');
is($node->safe_psql('postgres',
		q{SELECT count FROM unified.pool_latency_histogram WHERE pool = 'cognee' AND le_ms = 'Infinity'}),
	'100', 'while the cumulative histogram keeps every statement');

# ---- the window merges live sessions and those that ended -----------------
# Each session counts its window in its own ring; one that ends adds its
# ring to the pool's.  Read while one session is still connected.
$node->safe_psql('postgres', 'SELECT unified.reset_stats()');
my $w1 = session('cognee');
my $w2 = session('cognee');
$w1->query_safe('SELECT pg_sleep(0.020);') for 1 .. 30;
$w2->query_safe('SELECT pg_sleep(0.100);') for 1 .. 10;
$w2->quit;
$p = pool('cognee');
is($p->{statements}, 40, 'statements of a live and an ended session are counted');
for my $c ([ 'p50', 20 ], [ 'p95', 100 ], [ 'p99', 100 ])
{
	my ($k, $want) = @$c;
	my $got = $p->{"latency_${k}_ms"};
	ok(abs($got - $want) <= 0.10 * $want,
		"window $k over a live and an ended session: $got ms is within 10 % of $want ms");
}
$w1->quit;
$p = pool('cognee');
ok(abs($p->{latency_p50_ms} - 20) <= 2 && abs($p->{latency_p95_ms} - 100) <= 10,
	'and the same once both have ended');

# ---- the timer: interleaved portals, failed queries, many open portals -------
# Through the extended protocol (asyncpg): cursors fetched a row at a time,
# interleaved, so each query's executor time is the sum of several
# ExecutorRun calls; failed queries inside savepoints; then more cursors
# open at once than the timer keeps without Instrumentation.
$node->safe_psql('postgres', 'SELECT unified.reset_stats()');
my $py = $node->basedir . '/portals.py';
open(my $fh, '>', $py) or die;
print $fh <<'PY';
import asyncio, sys
import asyncpg

async def interleave(con, n, rows, sleep):
    q = f"SELECT pg_sleep({sleep}) FROM generate_series(1, {rows})"
    curs = [await con.cursor(q) for _ in range(n)]
    for _ in range(rows):
        for c in curs:
            await c.fetch(1)

async def main(host, port):
    con = await asyncpg.connect(host=host, port=int(port), user=sys.argv[3], database='postgres',
                                server_settings={'application_name': 'unified'})
    async with con.transaction():
        await interleave(con, 2, 5, 0.02)       # two queries of 100 ms
    async with con.transaction():
        for _ in range(20):
            try:
                async with con.transaction():
                    await con.execute("SELECT 1 / (random() * 0)::int")
            except asyncpg.DivisionByZeroError:
                pass
        await interleave(con, 10, 3, 0.01)      # ten queries of 30 ms
    await con.close()

asyncio.run(main(*sys.argv[1:3]))
PY
close $fh;
my ($pyout, $pyerr) = ('', '');
IPC::Run::run([ '/usr/bin/python3', $py, $node->host, $node->port, scalar getpwuid($<) ],
	'>', \$pyout, '2>', \$pyerr) or die "portals.py failed: $pyerr";

# statements of pool unified with a latency between lo and hi ms
sub statements_between
{
	my ($lo, $hi) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce(max(count) FILTER (WHERE le_ms <= $hi), 0) - coalesce(max(count) FILTER (WHERE le_ms <= $lo), 0)
		  FROM unified.pool_latency_histogram WHERE pool = 'unified'});
}
# (bounds wide enough for pg_sleep's oversleeping on a loaded machine, and
# far from the wrong answers: one fetch, 20 or 10 ms; all portals together,
# 200 or 300 ms)
is(statements_between(90, 170), 2,
	'two interleaved portals of 5 x 20 ms: each timed at about 100 ms, the sum of its fetches');
is(statements_between(27, 90), 10,
	'ten open portals of 3 x 10 ms, after 20 failed queries: each timed at about 30 ms');
is(pool('unified')->{errors}, 20, 'the failed queries are counted as errors');

# ---- partition pruning of real queries ------------------------------------
$node->safe_psql('postgres', 'SELECT unified.reset_stats()');
my $q = session('claude-context');
$q->query_safe(q{SELECT count(*) FROM unified.chunks
                  WHERE created_at >= date_trunc('month', now()) AND created_at < date_trunc('month', now()) + interval '1 day';});
$q->query_safe(q{SELECT count(*) FROM unified.chunks WHERE created_at >= '2001-01-01' AND created_at < '2001-02-01';});
$q->query_safe(q{SELECT count(*) FROM unified.chunks WHERE project_id = 'p';});
is( $node->safe_psql('postgres',
		q{SELECT pruning_queries || '/' || unprunable_queries || '/' || partitions_existing || '/' || partitions_skipped
		    FROM unified.stats_overall()}),
	'2/1/10/8', 'the pruning counts of a live session are seen');
$q->quit;
is( $node->safe_psql('postgres',
		q{SELECT pruning_queries || '/' || unprunable_queries || '/' || partitions_existing || '/' || partitions_skipped
		    FROM unified.stats_overall()}),
	'2/1/10/8', 'two queries filter on created_at and each scans one of the 5 partitions; one cannot prune');
like($node->safe_psql('postgres', q{SELECT current || ' ' || detail FROM unified.slo WHERE metric = 'partition_pruning'}),
	qr/^0\.8 .* 2 queries .* 1 queries could not prune/, 'unified.slo reports the pruning share and the queries that cannot prune');

# ---- health_check: what it finds in the other areas ----------------------------
sub check
{
	my ($name) = @_;
	return $node->safe_psql('postgres',
		"SELECT ok || ' ' || detail FROM unified.health_check() WHERE \"check\" = '$name'");
}
like(check('resolver'), qr/^true last pass finished/, 'health_check: the resolver is alive and recent');
like(check('preload'), qr/^true/, 'health_check: preloaded');
like(check('partitions_premade'), qr/^true/, 'health_check: partitions are premade');
like(check('default_partition'), qr/^true the default partition is empty/, 'health_check: the default partition is empty');
$node->safe_psql('postgres', q{
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
VALUES ('claude_context', 'far-future', 'p', 'x', now() + interval '3 years')});
like(check('default_partition'), qr/^true 1 rows in the default partition, 0 dated before .* defers rows dated beyond the premade months/,
	'a row beyond the premade months is deferred by design: still healthy, and said so');
$node->safe_psql('postgres', q{
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
VALUES ('claude_context', 'long-ago', 'p', 'x', '2001-05-01')});
like(check('default_partition'), qr/^false 2 rows in the default partition, 1 dated before/,
	'a row maintenance should have moved is reported');
$node->safe_psql('postgres', q{DELETE FROM unified.chunks WHERE source_id IN ('far-future', 'long-ago')});
$node->safe_psql('postgres', q{BEGIN; LOCK TABLE unified.chunks IN ACCESS SHARE MODE; PREPARE TRANSACTION 'app-holds-chunks'});
like(check('prepared_lock_on_chunks'), qr/^false .*'app-holds-chunks' \(AccessShareLock\)/,
	'a prepared transaction holding a lock on unified.chunks is named');
like(check('prepared_transactions'), qr/^true max_prepared_transactions = 5/, 'prepared transactions are enabled');
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'app-holds-chunks'});
like(check('prepared_lock_on_chunks'), qr/^true/, 'and not once it is finished');
$node->safe_psql('postgres', q{SELECT unified.begin_distributed('hc-tx', ARRAY['claude'])});
$node->safe_psql('postgres', q{BEGIN; SELECT 1; PREPARE TRANSACTION 'unified:hc-tx:claude'});
like(check('in_doubt'), qr/^true 1 prepared participants in doubt, the oldest for 00:00:0\d/,
	'an undecided participant younger than unified_pg.in_doubt_timeout is counted, not alarming');
$node->safe_psql('postgres', q{CALL unified.abort_distributed('hc-tx')});
like(check('in_doubt'), qr/^true no prepared participant is in doubt/, 'and gone once the transaction is aborted');
like(check('pool_headroom:cognee'), qr/^true \d+ of 40 connections in use/, 'pool headroom per pool');

# ---- a malformed unified_pg.pools is refused on reload --------------------
$node->append_conf('postgresql.conf', q{unified_pg.pools = 'claude-context:40,,cognee'});
$node->reload;
ok( $node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pg_file_settings WHERE name = 'unified_pg.pools' AND error IS NOT NULL}, 't'),
	'the malformed value is flagged');
is($node->safe_psql('postgres', 'SHOW unified_pg.pools'), 'claude-context:40,cognee:40,unified:20',
	'the old value is kept');
is($node->safe_psql('postgres', q{SELECT string_agg(pool || ':' || max_connections, ',') FROM unified.pool_stats WHERE pool <> 'other'}),
	'claude-context:40,cognee:40,unified:20', 'and pool_stats still shows the old pools');
ok($node->log_contains(qr/invalid value for parameter "unified_pg.pools"/), 'the log says why');

# ---- a reload that reorders the pools moves no numbers ----------------------
my $before = session('cognee');
$before->query_safe('BEGIN; SELECT 1; COMMIT;');
my $statements = pool('cognee')->{statements};
$node->safe_psql('postgres', q{ALTER SYSTEM SET unified_pg.pools = 'unified:20,cognee:30,claude-context:40'});
$node->reload;
ok($node->poll_query_until('postgres', 'SHOW unified_pg.pools', 'unified:20,cognee:30,claude-context:40'),
	'the pools are listed in another order');
my $after = session('cognee');
is($node->safe_psql('postgres', 'SELECT string_agg(pool || \':\' || max_connections, \',\') FROM unified.pool_stats WHERE pool <> \'other\''),
	'unified:20,cognee:30,claude-context:40', 'pool_stats follows the new order');
$before->query_safe('BEGIN; SELECT 1; COMMIT;');
is(pool('cognee')->{connections}, 2, 'sessions from before and after the reload are both in cognee');
is(pool('cognee')->{statements}, $statements + 3, 'and an old session still counts in cognee, found by name');
$before->quit;
$after->quit;
$node->safe_psql('postgres', 'ALTER SYSTEM RESET unified_pg.pools');
$node->reload;

# ---- the postgres_exporter queries run as a monitoring login ----------------
$node->safe_psql('postgres', 'CREATE ROLE exporter LOGIN IN ROLE pg_monitor, unified_admin');
my $yaml = slurp_file('monitoring/postgres_exporter.yaml');
my @queries = $yaml =~ /^  query: \|\n((?:    .*\n)+)/mg;
is(scalar @queries, 5, 'the exporter file has five queries');
for my $sql (@queries)
{
	my ($name) = $sql =~ /FROM (unified\.\w+)/;
	my ($ret, $out, $err) = $node->psql('postgres', $sql,
		connstr => $node->connstr('postgres') . ' user=exporter');
	ok($ret == 0 && $out ne '', "exporter query on $name runs as a pg_monitor login") or diag($err);
}
my @buckets = split /\n/, $node->safe_psql('postgres', $queries[1]);
is(scalar(grep { /^cognee\|/ } @buckets), 117, 'the exported histogram has four bounds per power of two');
ok((grep { /^cognee\|\+Inf\|\d+$/ } @buckets) == 1, 'and ends with le="+Inf"');

# ---- the README's examples run ------------------------------------------------
$node->safe_psql('postgres', $_) for (
	q{SELECT pool, connections, active, idle_in_transaction, waiting, utilization,
	         busy_ratio, success_rate, deadlocks, latency_p95_ms, rejected_connections
	    FROM unified.pool_stats},
	'SELECT * FROM unified.slo',
	'SELECT * FROM unified.health_check() WHERE NOT ok',
	'SELECT unified.reset_stats()');
$node->safe_psql('postgres', q{ALTER SYSTEM SET unified_pg.pools = 'claude-context:40,cognee:40,unified:20,other:10'});
$node->safe_psql('postgres', 'ALTER SYSTEM SET unified_pg.enforce_pool_limits = on');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok($node->poll_query_until('postgres', q{SELECT max_connections FROM unified.pool_stats WHERE pool = 'other'}, '10'),
	'the README\'s ALTER SYSTEM example gives other a budget');

$node->stop;
done_testing();
