# Partition maintenance against hostile roles (issue: "no role can stall
# maintenance or explode partitions"), each attack made by the kind of role
# that found it:
#
#  - a role in no group holds the old maintenance advisory lock keys in a
#    prepared transaction: maintenance still runs;
#  - an application role writes rows in 1,500 distinct past months and in
#    far-future ones: a pass makes at most max_new_partitions months, none
#    past the premade horizon or max_partitions, and holds no lock long;
#  - an application role holds ACCESS SHARE on unified.chunks in a prepared
#    transaction: the pass stops at once, says "partial", names the gid in
#    its result, in the worker's stored result and in the log;
#  - an administrator cannot prepare a transaction that ran maintenance;
#  - a role in no group cannot prepare a transaction holding locks on
#    unified.chunks or a partition (pg_partition_tree() takes them);
#  - the database's owner sets a read-only default and tiny timeouts for
#    the database: the worker still makes months.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('maint_hostile');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
unified_pg.resolver_naptime = '100ms'
unified_pg.maintenance_interval = 0
max_prepared_transactions = 10
lc_messages = 'C'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION unified_pg;
CREATE ROLE nobody LOGIN;
CREATE ROLE app LOGIN IN ROLE claude_user;
CREATE ROLE ops LOGIN IN ROLE unified_admin;
});

# psql as a given role; returns (exit code, stdout, stderr)
sub as_role
{
	my ($role, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql,
		connstr => $node->connstr('postgres') . " user=$role");
	return ($ret, $out, $err);
}

sub maint
{
	my ($args) = @_;
	$args //= '';
	my ($ret, $out, $err) = as_role('ops', "SELECT unified.run_maintenance($args)");
	die "run_maintenance failed: $err" if $ret;
	return $out;
}

sub field
{
	my ($json, $path) = @_;
	return $node->safe_psql('postgres',
		"SELECT (\$j\$$json\$j\$::jsonb) #>> '{$path}'");
}

# ------------------------------------------------ 1. the maintenance lock
my $chunks_oid = $node->safe_psql('postgres', q{SELECT 'unified.chunks'::regclass::oid});
my $future = $node->safe_psql('postgres',
	q{SELECT 'chunks_' || to_char((now() AT TIME ZONE 'UTC') + interval '2 months', 'YYYY_MM')});
my $month_key = $node->safe_psql('postgres',
	q{SELECT (extract(year FROM (now() AT TIME ZONE 'UTC') + interval '2 months') * 12
	          + extract(month FROM (now() AT TIME ZONE 'UTC') + interval '2 months'))::bigint});
$node->safe_psql('postgres', "DROP TABLE unified.$future");
my ($ret, $out, $err) = as_role('nobody', qq{
BEGIN;
SELECT pg_advisory_xact_lock(${chunks_oid}::bigint * 1000000);
SELECT pg_advisory_xact_lock(${chunks_oid}::bigint * 1000000 + $month_key);
PREPARE TRANSACTION 'hostile-lock';
});
is($ret, 0, 'a role in no group holds the old lock keys in a prepared transaction');
my $r = maint(q{lock_wait => '500ms'});
is(field($r, 'status'), 'done', 'maintenance runs anyway (it was "skipped: already running" forever)');
like(field($r, 'created'), qr/\Q$future\E/, 'and makes the month the old per-month key would have blocked');
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'hostile-lock'});

($ret, $out, $err) = as_role('ops', q{
BEGIN;
SELECT unified.run_maintenance();
PREPARE TRANSACTION 'admin-maint';
});
isnt($ret, 0, 'a transaction that ran maintenance cannot be prepared');
like($err, qr/cannot prepare a transaction that ran partition maintenance/, 'with a clear message');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_prepared_xacts}), '0',
	'and nothing was left prepared');

# A role in no group has no privilege on unified.chunks and no USAGE on its
# schema, yet pg_partition_tree() by OID locks the table and every partition
# until the end of the transaction; prepared, that would block every new
# month and every detach until an administrator acts.  Such a transaction
# cannot be prepared.
my $hostile_tree = q{
BEGIN;
SELECT count(*) FROM pg_partition_tree(
    (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'unified' AND c.relname = 'chunks'));
PREPARE TRANSACTION 'hostile-tree';
};
($ret, $out, $err) = as_role('nobody', $hostile_tree);
isnt($ret, 0, 'a role in no group cannot prepare a transaction holding locks on unified.chunks');
like($err, qr/cannot prepare a transaction that holds a lock on unified\.chunks/, 'with a clear message');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_prepared_xacts}), '0',
	'and nothing was left prepared');
($ret, $out, $err) = as_role('nobody', q{BEGIN; SELECT 1; PREPARE TRANSACTION 'harmless'; COMMIT PREPARED 'harmless';});
is($ret, 0, 'other prepared transactions of that role are not affected') or diag $err;

# -------------------------------------- 2. 1,500 past months, 50 future ones
($ret, $out, $err) = as_role('app', q{
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
SELECT 'claude_context', 'past-' || m, 'p', 'x', '1901-01-10'::date + make_interval(months => m)
  FROM generate_series(0, 1499) m;
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at)
SELECT 'claude_context', 'future-' || m, 'p', 'x', '2200-01-10'::date + make_interval(months => m)
  FROM generate_series(0, 49) m;
});
is($ret, 0, 'an application role writes rows in 1,550 distinct months') or diag $err;
my $parts_before = $node->safe_psql('postgres',
	q{SELECT count(*) FROM unified.partitions WHERE NOT is_default});
$r = maint();
is(field($r, 'status'), 'done', 'the pass succeeds');
is($node->safe_psql('postgres', q{SELECT count(*) FROM unified.partitions WHERE NOT is_default}),
	$parts_before + 12, 'it made exactly max_new_partitions (12) months');
is(field($r, 'deferred_more'), 'true', 'and says more months wait in the default partition');
is(field($r, 'deferred_months,0'), '1902-01', 'the first deferred month is the 13th');
is($node->safe_psql('postgres', q{SELECT count(*) FROM unified.chunks WHERE source_id ~ '^(past|future)-'}),
	'1550', 'no row was lost');
is($node->safe_psql('postgres', q{SELECT count(*) FROM unified.partitions WHERE range_start >= '2200-01-01'}),
	'0', 'no partition for the far future');

# max_partitions caps the count.
$node->safe_psql('postgres', "ALTER SYSTEM SET unified_pg.max_partitions = " . ($parts_before + 14));
$node->reload;
$node->poll_query_until('postgres',
	"SELECT current_setting('unified_pg.max_partitions')::int = " . ($parts_before + 14));
$r = maint();
is(field($r, 'created'), '["unified.chunks_1902_01", "unified.chunks_1902_02"]',
	'with max_partitions reached, a pass makes only what is left under it');
$r = maint();
is(field($r, 'created'), '[]', 'and then none');
is(field($r, 'deferred_months,0'), '1902-03', 'the rest stays deferred');
$node->safe_psql('postgres', "ALTER SYSTEM RESET unified_pg.max_partitions");
$node->safe_psql('postgres', "ALTER SYSTEM SET unified_pg.max_new_partitions = 0");
$node->reload;
$node->poll_query_until('postgres',
	"SELECT current_setting('unified_pg.max_new_partitions') = '0' AND current_setting('unified_pg.max_partitions') = '240'");
$r = maint();
is(field($r, 'created'), '[]', 'with max_new_partitions = 0 a pass makes no month for rows in the default partition');
$node->safe_psql('postgres', "ALTER SYSTEM RESET unified_pg.max_new_partitions");
$node->reload;
$node->poll_query_until('postgres', "SELECT current_setting('unified_pg.max_new_partitions') = '12'");

# A session cannot raise the limits for itself.
($ret, $out, $err) = as_role('ops', q{SET unified_pg.max_new_partitions = 100000});
like($err, qr/cannot be changed now|permission denied/, 'max_new_partitions cannot be SET by a session');

# ------------------------- 3. a prepared transaction holding ACCESS SHARE
$node->safe_psql('postgres', "DROP TABLE unified.$future");
($ret, $out, $err) = as_role('app', q{
BEGIN;
SELECT count(*) FROM unified.chunks WHERE source_id = 'nothing';
PREPARE TRANSACTION 'hostile-share';
});
is($ret, 0, 'an application role prepares a transaction that read unified.chunks');
$r = maint(q{lock_wait => '300ms'});
is(field($r, 'status'), 'partial', 'the pass says "partial"');
is(field($r, 'blocked_by'), '["hostile-share"]', 'and names the prepared transaction in blocked_by');
is(field($r, 'errors,0,blocked_by,0'), 'hostile-share', 'and in the error of the month');
is($node->safe_psql('postgres', "SELECT jsonb_array_length(\$j\$$r\$j\$::jsonb->'errors')"), '1',
	'it stops at the first lock it cannot get (one error: it waited once, not once per month)');
ok($node->log_contains(qr/blocked by prepared transaction\(s\) hostile-share/),
	'the server log names the gid');

($ret, $out, $err) = as_role('ops',
	"\\set VERBOSITY verbose\nSELECT unified.create_monthly_partition((now() + interval '2 months')::date)");
like($err, qr/55P03/, 'create_monthly_partition gives up with 55P03 instead of queueing forever');
like($err, qr/Prepared transactions holding it: hostile-share/, 'naming the prepared transaction');

# The worker stores the same, as valid JSON for health_check.
$node->safe_psql('postgres', q{ALTER SYSTEM SET unified_pg.maintenance_interval = '1s'});
$node->reload;
ok( $node->poll_query_until('postgres',
		q{SELECT last_result::jsonb->>'status' = 'partial' FROM unified.maintenance_status()}),
	'the worker records a partial pass');
is( $node->safe_psql('postgres',
		q{SELECT last_result::jsonb->'blocked_by' FROM unified.maintenance_status()}),
	'["hostile-share"]', 'with blocked_by');
is( $node->safe_psql('postgres',
		q{SELECT last_result::jsonb ?& ARRAY['status', 'errors', 'deferred_months', 'blocked_by']
		    FROM unified.maintenance_status()}),
	't', 'and status, errors, deferred_months');
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'hostile-share'});
ok( $node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM unified.partitions WHERE partition::text = 'unified.$future'}),
	'once it is finished, the worker makes the month');
ok( $node->poll_query_until('postgres',
		q{SELECT last_result::jsonb->>'status' = 'done' FROM unified.maintenance_status()}),
	'and records "done"');

# ------------------------------- 4. the database's owner, not a superuser
# ALTER DATABASE ... SET applies to the worker's connection too: a
# read-only default or a tiny statement_timeout made every round fail and
# the worker restart forever.  The worker pins those settings.
$node->safe_psql('postgres', q{
CREATE ROLE dbo LOGIN;
ALTER DATABASE postgres OWNER TO dbo;
});
($ret, $out, $err) = as_role('dbo', q{
ALTER DATABASE postgres SET default_transaction_read_only = on;
ALTER DATABASE postgres SET statement_timeout = '1ms';
});
is($ret, 0, 'the database owner sets a read-only default and tiny timeouts') or diag $err;
my $log_offset = -s $node->logfile;
$node->restart;
# this test's own sessions opt out of the database's settings
sub as_super
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql,
		connstr => $node->connstr('postgres')
		  . " options='-c statement_timeout=0 -c default_transaction_read_only=off'");
}
as_super("DROP TABLE unified.$future");
my $made = 0;
for (1 .. 180)
{
	$made = as_super(qq{SELECT count(*) FROM unified.partitions WHERE partition::text = 'unified.$future'});
	last if $made eq '1';
	sleep 1;
}
is($made, '1', 'the worker still makes the month');
is(as_super(q{SELECT last_result::jsonb->>'status' FROM unified.maintenance_status()}),
	'done', 'and records "done"');
ok( !$node->log_contains(qr/cannot execute .* in a read-only transaction|canceling statement due to statement timeout/,
		$log_offset),
	'without a read-only or timeout error in the log');
as_super(q{
ALTER DATABASE postgres RESET ALL;
ALTER DATABASE postgres OWNER TO postgres;
});

$node->stop;
done_testing();
