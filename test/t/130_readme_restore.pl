# The README's backup and restore, run exactly as written: the shell blocks
# marked "readme-test: backup / roles / restore" are taken from README.md
# and run with bash on a server configured as `make run` makes it (pg_cron
# preloaded for database claude_context, a maintenance job scheduled,
# login roles, tenant grants), restoring into a new database on the same
# server and into a fresh server.  Every command must succeed and print no
# error.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $readme = slurp_file(dirname(__FILE__) . '/../../README.md');

# The shell block after <!-- readme-test: NAME -->.
sub block
{
	my ($name) = @_;
	$readme =~ /<!-- readme-test: \Q$name\E -->\s*```sh\n(.*?)```/s
	  or die "README.md has no block readme-test: $name";
	return $1;
}

# A server as scripts/server.sh configures it.
sub make_run_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	my $host = $node->host;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg,pg_cron'
cron.database_name = 'claude_context'
cron.host = '$host'
unified_pg.database = 'claude_context'
max_prepared_transactions = 20
});
	$node->start;
	return $node;
}

# Run a README block with bash in $dir against $node; (exit code, stderr).
sub run_block
{
	my ($node, $name, $dir) = @_;
	my ($stdout, $stderr);
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGUSER} = 'postgres';
	my $script = "set -euo pipefail\ncd '$dir'\n" . block($name);
	my $ok = IPC::Run::run([ 'bash', '-c', $script ], '>', \$stdout, '2>', \$stderr);
	return ($ok, $stderr);
}

my $src = make_run_node('readme_src');
$src->safe_psql('postgres', 'CREATE DATABASE claude_context');
$src->safe_psql('claude_context', q{
CREATE EXTENSION unified_pg;
CREATE EXTENSION pg_cron;
SELECT unified.schedule_maintenance();
CREATE ROLE app_claude LOGIN PASSWORD 'claude-secret' IN ROLE claude_user;
SELECT unified.grant_project('app_claude', 'proj-a');
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at) VALUES
  ('claude_context', 'a1', 'proj-a', 'this month', now()),
  ('claude_context', 'a2', 'proj-a', 'old', '2019-01-01 00:00:00+00'),
  ('claude_context', 'b1', 'proj-b', 'not granted', now());
INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id, content)
SELECT 'cognee', 'DocumentChunk_text', g::text, '11111111-1111-1111-1111-111111111111', 'memory ' || g
  FROM generate_series(1, 50) g;
});
my $summary = q{SELECT count(*), md5(string_agg(source_id || ':' || content, ',' ORDER BY source_id)),
                       (SELECT string_agg(g.role::text || ':' || g.object, ',') FROM unified.tenant_grants g)
                  FROM unified.chunks};
my $want = $src->safe_psql('claude_context', $summary);

my $dir = PostgreSQL::Test::Utils::tempdir();
my ($ok, $err) = run_block($src, 'backup', $dir);
ok($ok, 'the backup block runs');
is($err, '', 'and prints nothing on stderr');

# Same server, new database: the roles are there, skip that block.
($ok, $err) = run_block($src, 'restore', $dir);
ok($ok, 'the restore block runs on the make run server');
unlike($err, qr/error/i, 'without a single error') or diag $err;
is($src->safe_psql('newdb', $summary), $want, 'every chunk and tenant grant is restored');

# A fresh server: roles first, then the same restore.
my $dst = make_run_node('readme_dst');
($ok, $err) = run_block($dst, 'roles', $dir);
ok($ok, 'the roles block runs on a fresh server');
is($err, '', 'and prints nothing on stderr');
($ok, $err) = run_block($dst, 'restore', $dir);
ok($ok, 'the restore block runs on a fresh server');
unlike($err, qr/error/i, 'without a single error') or diag $err;
is($dst->safe_psql('newdb', $summary), $want, 'every chunk and tenant grant is restored');
my ($ret, $out) = $dst->psql('newdb', 'SELECT string_agg(source_id, \',\' ORDER BY source_id) FROM unified.chunks',
	connstr => $dst->connstr('newdb') . ' user=app_claude password=claude-secret');
is($out, 'a1,a2', 'the restored login keeps its password and its tenant scope');
is($dst->safe_psql('newdb', q{SELECT count(*) FROM pg_roles WHERE rolname IN ('claude_user', 'cognee_user', 'unified_admin')
                                AND NOT rolcanlogin}), '3', 'the group roles are restored NOLOGIN');

# A new make run server: the extension is installed in claude_context, so
# its group roles exist before the roles block runs.
my $dst2 = make_run_node('readme_dst2');
$dst2->safe_psql('postgres', 'CREATE DATABASE claude_context');
$dst2->safe_psql('claude_context', 'CREATE EXTENSION unified_pg');
($ok, $err) = run_block($dst2, 'roles', $dir);
ok($ok, 'the roles block runs on a server that has the group roles already');
is($err, '', 'and prints nothing on stderr');
($ok, $err) = run_block($dst2, 'roles', $dir);
ok($ok, 'running the roles block again succeeds') or diag $err;
unlike($err, qr/error/i, 'without an error') or diag $err;
($ok, $err) = run_block($dst2, 'restore', $dir);
ok($ok, 'the restore block runs there');
unlike($err, qr/error/i, 'without a single error') or diag $err;
is($dst2->safe_psql('newdb', $summary), $want, 'every chunk and tenant grant is restored');
($ret, $out) = $dst2->psql('newdb', 'SELECT count(*) FROM unified.chunks',
	connstr => $dst2->connstr('newdb') . ' user=app_claude password=claude-secret');
is($out, '2', 'the restored login has its password and its tenant scope');

$src->stop;
$dst->stop;
$dst2->stop;
done_testing();
