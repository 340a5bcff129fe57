# Row-level security and tenant scoping for real logins: SCRAM password
# authentication, group roles that cannot log in, a login that cannot change
# its session user, and a spoofed application_name that grants nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('login');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
password_encryption = 'scram-sha-256'
});
# Application logins must authenticate with SCRAM; the test's superuser
# keeps trust so the harness can set things up.
my $hba = $node->data_dir . '/pg_hba.conf';
my $old = slurp_file($hba);
open(my $fh, '>', $hba) or die "cannot write $hba: $!";
print $fh "local all +claude_user,+cognee_user,+unified_admin scram-sha-256\n";
print $fh "local all claude_user,cognee_user,unified_admin scram-sha-256\n";
print $fh $old;
close $fh;
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION unified_pg;
CREATE ROLE app_claude LOGIN PASSWORD 'claude-secret' IN ROLE claude_user;
CREATE ROLE app_claude_a LOGIN PASSWORD 'tenant-secret' IN ROLE claude_user;
CREATE ROLE app_cognee LOGIN PASSWORD 'cognee-secret' IN ROLE cognee_user;
SELECT unified.grant_project('app_claude_a', 'proj-a');
INSERT INTO unified.chunks (source, source_id, project_id, cognee_dataset_id, content)
VALUES ('claude_context', 'c-a', 'proj-a', NULL, 'a'),
       ('claude_context', 'c-b', 'proj-b', NULL, 'b'),
       ('cognee', 'k-1', NULL, '00000000-0000-0000-0000-000000000001', 'k');
});

# Run SQL as a login with a password; returns (exit code, stdout, stderr).
sub as_login
{
	my ($user, $password, $sql, $extra) = @_;
	my $connstr = $node->connstr('postgres') . " user=$user password=$password";
	$connstr .= " $extra" if defined $extra;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql, connstr => $connstr);
	return ($ret, $stdout, $stderr);
}

my $seen = q{SELECT string_agg(source_id, ',' ORDER BY source_id) FROM unified.chunks};

is( $node->safe_psql('postgres',
		q{SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'app_claude'}),
	't', 'login passwords are stored as SCRAM verifiers');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_authid WHERE rolname IN ('claude_user', 'cognee_user', 'unified_admin')
		    AND (rolcanlogin OR rolpassword IS NOT NULL)}),
	'0', 'the group roles cannot log in and have no password');

my ($ret, $out, $err) = as_login('app_claude', 'wrong', 'SELECT 1');
isnt($ret, 0, 'a wrong password is refused');
like($err, qr/password authentication failed/, '... by SCRAM authentication');

($ret, $out, $err) = as_login('claude_user', 'anything', 'SELECT 1');
isnt($ret, 0, 'the group role claude_user cannot log in');

($ret, $out, $err) = as_login('app_claude', 'claude-secret', $seen);
is($ret, 0, 'the Claude-Context login connects with its password');
is($out, 'c-a,c-b', 'and sees the Claude-Context rows only');

($ret, $out, $err) = as_login('app_cognee', 'cognee-secret', $seen);
is($out, 'k-1', 'the Cognee login sees the Cognee rows only');

($ret, $out, $err) = as_login('app_claude_a', 'tenant-secret', $seen);
is($out, 'c-a', 'a login granted proj-a sees only proj-a');

($ret, $out, $err) = as_login('app_claude_a', 'tenant-secret',
	"SET ROLE claude_user; $seen");
is($out, 'c-a', 'SET ROLE claude_user does not widen a scoped login');

($ret, $out, $err) = as_login('app_claude_a', 'tenant-secret',
	'SET SESSION AUTHORIZATION app_claude; SELECT 1');
isnt($ret, 0, 'a login cannot SET SESSION AUTHORIZATION to another role');
like($err, qr/permission denied to set session authorization/, '... permission denied');

($ret, $out, $err) = as_login('app_claude_a', 'tenant-secret',
	"SET app.project_id = 'proj-b'; SET unified.project_id = 'proj-b'; $seen",
	'application_name=unified options=-cunified.tenant=proj-b');
is($out, 'c-a', 'application_name, startup options and custom settings do not widen the scope');

($ret, $out, $err) = as_login('app_cognee', 'cognee-secret',
	q{SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()},
	'application_name=claude-context');
is($out, 'claude-context', 'any login may claim any application_name (pools are a courtesy limit)');
($ret, $out, $err) = as_login('app_cognee', 'cognee-secret', $seen, 'application_name=claude-context');
is($out, 'k-1', '... and it still sees only its own rows');

($ret, $out, $err) = as_login('app_claude', 'claude-secret',
	q{SET row_security = off; SELECT count(*) FROM unified.chunks});
isnt($ret, 0, 'row_security = off is refused for a login subject to the policies');
like($err, qr/row-level security/, '... with an error that says why');

($ret, $out, $err) = as_login('app_claude', 'claude-secret',
	"COPY unified.chunks (source, source_id, project_id, content) FROM STDIN;\nclaude_context\tc-copy\tproj-a\tx\n\\.\n");
like($err, qr/COPY FROM not supported with row-level security/,
	'COPY FROM is refused for a login subject to the policies (PostgreSQL rule; use INSERT)');
($ret, $out, $err) = as_login('app_claude', 'claude-secret',
	"COPY (SELECT source_id FROM unified.chunks ORDER BY 1) TO STDOUT");
is($out, "c-a\nc-b", 'COPY TO returns only the rows the policies allow');

($ret, $out, $err) = as_login('app_claude', 'claude-secret', 'SELECT * FROM unified.chunks_default');
like($err, qr/permission denied for table chunks_default/, 'a login cannot read a partition');

# Tenant grants survive pg_dump and restore (the grant tables are
# extension configuration; roles are stored by name in the dump).
# Plain format, restored as README describes: pre-data and data with
# unified_pg.restoring on, finish_restore(), then post-data.
my $dump1 = $node->basedir . '/grants-data.sql';
my $dump2 = $node->basedir . '/grants-post.sql';
$node->command_ok(
	[
		'pg_dump', '--section=pre-data', '--section=data',
		'-d', $node->connstr('postgres'), '-f', $dump1
	],
	'pg_dump of a database with the extension and tenant grants');
$node->command_ok(
	[ 'pg_dump', '--section=post-data', '-d', $node->connstr('postgres'), '-f', $dump2 ],
	'pg_dump of its post-data section');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
{
	local $ENV{PGOPTIONS} = '-c unified_pg.restoring=on';
	$node->command_ok(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored'), '-f', $dump1 ],
		'the dump restores');
}
$node->safe_psql('restored', 'SELECT unified.finish_restore()');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored'), '-f', $dump2 ],
	'its post-data section restores');
is( $node->safe_psql('restored',
		q{SELECT string_agg(role::text || ':' || object, ',' ORDER BY object) FROM unified.tenant_grants}),
	'app_claude_a:proj-a', 'the tenant grants are restored, by role name');
is( $node->safe_psql('restored',
		q{SELECT string_agg(source_id, ',' ORDER BY source_id) FROM unified.chunks WHERE source_id IN ('c-a', 'c-b')}),
	'c-a,c-b', 'the chunks are restored');
my $restored = $node->connstr('restored') . ' user=app_claude_a password=tenant-secret';
($ret, $out, $err) = $node->psql('restored', $seen, connstr => $restored);
is($out, 'c-a', 'and they scope the login in the restored database');

$node->stop;
done_testing();
