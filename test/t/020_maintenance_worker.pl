# Built-in partition maintenance: with unified_pg.maintenance_interval = 1s
# the worker creates missing months on its own and drains the default
# partition; 0 disables it; a standby does nothing; without pg_cron,
# schedule_maintenance() says so with a hint.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('maint');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
unified_pg.resolver_naptime = '100ms'
unified_pg.maintenance_interval = '1s'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION unified_pg');

ok( $node->poll_query_until('postgres',
		'SELECT runs >= 1 FROM unified.maintenance_status()'),
	'the worker runs maintenance on its own');
like($node->safe_psql('postgres', 'SELECT last_result FROM unified.maintenance_status()'),
	qr/"status": "done"/, 'and records the result');

# The month after next: drop it and watch it come back.
my $future = $node->safe_psql('postgres',
	q{SELECT 'chunks_' || to_char((now() AT TIME ZONE 'UTC') + interval '2 months', 'YYYY_MM')});
$node->safe_psql('postgres', "DROP TABLE unified.$future");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM unified.partitions WHERE partition::text = 'unified.$future'"),
	'a dropped future month is created again by the worker');
is( $node->safe_psql('postgres',
		qq{SELECT c.relowner = e.extowner AND c.relacl IS NULL
		     FROM pg_class c, pg_extension e
		    WHERE e.extname = 'unified_pg' AND c.oid = 'unified.$future'::regclass}),
	't', 'owned by the extension owner, no grants');

# Rows stuck in the default partition are moved out.
$node->safe_psql('postgres',
	q{INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
	  SELECT 'claude_context', 'old_' || g, 'p', 'old', '2019-02-01'::timestamptz + g * interval '1 hour'
	    FROM generate_series(1, 500) g});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 500 FROM unified.chunks WHERE tableoid = 'unified.chunks_2019_02'::regclass}),
	'rows in the default partition are moved into their new month');
is( $node->safe_psql('postgres',
		q{SELECT (SELECT count(*) FROM unified.chunk_keys) = (SELECT count(*) FROM unified.chunks)}),
	't', 'chunk_keys still matches chunks');

# Without pg_cron, scheduling says what is missing.
my ($ret, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT unified.schedule_maintenance()");
isnt($ret, 0, 'schedule_maintenance fails without pg_cron');
like($err, qr/55000/, 'with SQLSTATE 55000');
like($err, qr/HINT:.*pg_cron.*maintenance_interval/, 'and a hint naming pg_cron and the built-in worker');

# A standby does nothing: run_maintenance() says so and the worker never runs.
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
is( $standby->safe_psql('postgres', q{SELECT unified.run_maintenance()->>'reason'}),
	'server is in recovery', 'run_maintenance skips on a standby');
is($standby->safe_psql('postgres', 'SELECT runs FROM unified.maintenance_status()'),
	'0', 'no maintenance ran on the standby');
$standby->stop;

# maintenance_interval = 0 disables it.
$node->safe_psql('postgres', 'ALTER SYSTEM SET unified_pg.maintenance_interval = 0');
$node->reload;
sleep 2;    # let the worker see the reload
$node->safe_psql('postgres', "DROP TABLE unified.$future");
sleep 3;
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM unified.partitions WHERE partition::text = 'unified.$future'"),
	'0', 'with maintenance_interval = 0 nothing is created');

# A pass never queues behind a long query for more than lock_wait: the
# month is reported under "errors" and left for the next pass.
my $bg = $node->background_psql('postgres');
$bg->query_safe('BEGIN');
$bg->query_safe('LOCK TABLE unified.chunks IN ACCESS SHARE MODE');
my $r = $node->safe_psql('postgres',
	q{SELECT r->>'status', jsonb_array_length(r->'errors'), r->'errors'->0->>'error'
	    FROM unified.run_maintenance(lock_wait => '200ms') AS r});
like($r, qr/^partial\|1\|canceling statement due to lock timeout/,
	'a pass that cannot get its lock in time reports it, says "partial" and finishes');
$bg->query_safe('COMMIT');
$bg->quit;

$node->safe_psql('postgres', 'ALTER SYSTEM RESET unified_pg.maintenance_interval');
$node->safe_psql('postgres', q{ALTER SYSTEM SET unified_pg.maintenance_interval = '1s'});
$node->reload;
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM unified.partitions WHERE partition::text = 'unified.$future'"),
	'turned on again, it catches up');

# Retention detaches the 2019 month; pg_dump keeps the monthly partitions
# (also those made at install time) and the detached table with their rows.
is( $node->safe_psql('postgres',
		q{SELECT r->'detached'->0->>'now' FROM unified.run_maintenance(retention => '1 day') AS r}),
	'unified.chunks_2019_02_detached', 'retention detaches a month older than the retention');
my $current = $node->safe_psql('postgres',
	q{SELECT 'chunks_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')});
my ($dump, $dump_err) = run_command(
	[ $node->installed_command('pg_dump'), '-d', $node->connstr('postgres') ]);
like($dump, qr/ATTACH PARTITION unified\.$current /, 'pg_dump recreates the install-time month');
like($dump, qr/COPY unified\.chunks_2019_02_detached /, 'pg_dump keeps the rows of a detached month');

# A detached month is the operator's data: DROP EXTENSION does not take it
# silently.
my ($dret, $dout, $derr) = $node->psql('postgres', 'DROP EXTENSION unified_pg');
isnt($dret, 0, 'DROP EXTENSION refuses while a detached month is kept');
like($derr, qr/chunks_2019_02_detached/, 'and names it');
$node->safe_psql('postgres', 'DROP TABLE unified.chunks_2019_02_detached');
is($node->psql('postgres', 'DROP EXTENSION unified_pg'), 0, 'once it is gone, DROP EXTENSION works');

$node->stop;
done_testing();
