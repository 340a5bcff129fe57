# A migration stopped in the middle -- its backend terminated
# (pg_terminate_backend), its statement cancelled (pg_cancel_backend), or
# killed with kill -9 (a crash restart of the server) -- resumes from its
# checkpoint when it is called again: the same run, the batches already
# committed are not read again, and the final count is exact.
#
# The run is stopped at a known place without timing tricks: an
# application session stores, and does not yet commit, the key of a row
# in the sixth batch; the migration's insert waits for it there, with five
# batches committed.  While it waits, unified.migration_progress shows the
# run from another session, and the applications keep writing other rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('migration_resume');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
unified_pg.maintenance_interval = 0
restart_after_crash = on
lc_messages = 'C'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION unified_pg');

my $rows  = 3000;
my $batch = 100;

# A Claude-Context table of $rows rows.
sub make_source
{
	my ($name) = @_;
	$node->safe_psql('postgres', qq{
CREATE TABLE $name (id text PRIMARY KEY, vector real[], content text NOT NULL, relative_path text NOT NULL,
                    start_line int NOT NULL, end_line int NOT NULL, file_extension text NOT NULL,
                    metadata text DEFAULT '{}', created_at timestamptz DEFAULT now());
INSERT INTO $name
SELECT 'chunk_' || lpad(to_hex(i), 16, '0'), ARRAY[i, 1, 2]::real[], 'line ' || i, 'src/a.ts', i, i, '.ts',
       '{"codebasePath": "/srv/$name", "language": "typescript", "chunkIndex": 0}'
  FROM generate_series(1, $rows) AS i;
});
}

# The key of source row $i.
sub key { return sprintf('chunk_%016x', $_[0]); }

# Hold the key of row 550 (sixth batch) in an uncommitted application
# insert; start the migration; return (blocker, handle, stderr ref, pid)
# once the migration waits for the blocker.
sub start_blocked_migration
{
	my ($name) = @_;
	my $blocker = $node->background_psql('postgres');
	$blocker->query_safe(sprintf(q{
BEGIN;
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content)
VALUES ('claude_context', '%s', '%s', '/srv/%s', 'written by the application');
}, $name, key(550), $name));

	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'),
		  '-c', "CALL unified.migrate_claude_chunks('$name', batch_size => $batch)" ],
		'>', \$out, '2>', \$err);
	my $q = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'CALL unified.migrate_claude_chunks(''$name''%' "
	  . "AND wait_event_type = 'Lock'";
	$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($q) w")
	  or die "migration of $name did not block: $err";
	# collect the NOTICEs psql has printed so far
	for (1 .. 100)
	{
		$h->pump_nb;
		last if $err =~ /500\/$rows rows/;
		select(undef, undef, undef, 0.05);
	}
	return ($blocker, $h, \$err, $node->safe_psql('postgres', $q));
}

# Progress of the source's (only) run, as another session sees it.
sub progress
{
	my ($name) = @_;
	return $node->safe_psql('postgres', qq{
SELECT state, done, total, migrated, skipped, rejected, batches, resumes
  FROM unified.migration_progress WHERE source = 'public.$name'});
}

for my $how (qw(terminate cancel kill9))
{
	my $name = 'code_chunks_' . substr($how, 0, 4) . '0001';
	make_source($name);
	my ($blocker, $h, $err, $pid) = start_blocked_migration($name);

	like(progress($name), qr/^running\|500\|$rows\|500\|0\|0\|5\|0$/,
		"$how: five batches committed, progress readable from another session while it runs");
	like($$err, qr/NOTICE:  migration \d+ of public\.$name: 100\/$rows rows \(3\.3%\), \d+ rows\/s, eta \S+; migrated 100, skipped 0, rejected 0/,
		"$how: a NOTICE per batch with done/total, percent, rows/s and eta");

	# The applications are not blocked by the migration.
	is($node->safe_psql('postgres', qq{
SET statement_timeout = '5s';
INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content)
VALUES ('claude_context', 'other', 'concurrent-$how', 'p', 'x');
UPDATE unified.chunks SET content = 'y' WHERE source_id = 'concurrent-$how';
SELECT count(*) FROM unified.chunks WHERE source_collection = '$name'}),
		500, "$how: applications write and read unified.chunks while the migration runs");

	if ($how eq 'terminate')
	{
		$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
	}
	elsif ($how eq 'cancel')
	{
		$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	}
	else
	{
		kill 'KILL', $pid;
	}
	$h->finish;
	if ($how eq 'kill9')
	{
		# the crash restart ended the blocker's session too, and its insert
		$node->poll_query_until('postgres', 'SELECT true') or die "server did not come back";
		eval { $blocker->quit };
	}
	else
	{
		# the application commits its row: the re-run counts it as skipped
		$blocker->query_safe('COMMIT');
		$blocker->quit;
	}

	like(progress($name), qr/^interrupted\|500\|$rows\|500\|0\|0\|5\|0$/,
		"$how: the run is interrupted after five committed batches");

	my ($ret, $out, $stderr) = $node->psql('postgres',
		"CALL unified.migrate_claude_chunks('$name', batch_size => $batch)");
	is($ret, 0, "$how: the migration called again succeeds");
	like($stderr, qr/resuming migration \d+ of public\.$name after key '${\ key(500)}'/,
		"$how: it resumes after the checkpoint's key");
	unlike($stderr, qr/: 100\/$rows rows/, "$how: the committed batches are not done again");

	my $app_row = $how eq 'kill9' ? 0 : 1;
	like(progress($name),
		qr/^completed\|$rows\|$rows\|${\ ($rows - $app_row)}\|$app_row\|0\|30\|1$/,
		"$how: one run, resumed once, 30 batches, every row migrated or skipped");
	is($node->safe_psql('postgres', qq{
SELECT count(*), count(DISTINCT source_id) FROM unified.chunks WHERE source_collection = '$name'}),
		"$rows|$rows", "$how: exactly $rows chunks, no duplicate");
	is($node->safe_psql('postgres', qq{
SELECT count(*) FROM unified.chunk_keys WHERE source_collection = '$name'}),
		$rows, "$how: one key per chunk");
	is($node->safe_psql('postgres', qq{
SELECT ok FROM unified.verify_migration((SELECT max(id) FROM unified.migrations WHERE source = 'public.$name'))}),
		't', "$how: the run verifies");
}

# Two sessions cannot run the same migration at once.
{
	my $name = 'code_chunks_twice000';
	make_source($name);
	my ($blocker, $h, $err, $pid) = start_blocked_migration($name);
	my ($ret, $out, $stderr) = $node->psql('postgres',
		"CALL unified.migrate_claude_chunks('$name')");
	like($stderr, qr/migration \d+ of public\.$name is running in process $pid/,
		'a second session is refused while the run is running');
	my $run = $node->safe_psql('postgres',
		"SELECT max(id) FROM unified.migrations WHERE source = 'public.$name'");
	my ($ret2, $out2, $stderr2) = $node->psql('postgres', "CALL unified.rollback_migration($run)");
	like($stderr2, qr/migration $run is running in process $pid/, 'and so is a rollback of it');
	$blocker->query_safe('ROLLBACK');
	$blocker->quit;
	$h->finish;
	like(progress($name), qr/^completed\|$rows\|$rows\|$rows\|0\|0\|30\|0$/,
		'the first session finishes the run');
}

$node->stop;
done_testing();
