# A tenant grant never outlives its role.  Grants are keyed by role OID and
# OIDs are recycled: here a granted role is dropped (from another database,
# where nothing of unified_pg can clean up) and a new role is created with
# the same OID, pinned in binary-upgrade mode as pg_upgrade does.  The new
# role must not inherit the dead role's grant: before any grant of its own
# it sees nothing (the stale grant fails closed), and once it is granted a
# project it sees exactly that project.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use UnifiedTest;

my $node = preloaded_node('oid_reuse', q{
unified_pg.maintenance_interval = 0
lc_messages = 'C'
});
$node->safe_psql('postgres', q{
CREATE DATABASE other;
CREATE EXTENSION unified_pg;
CREATE ROLE tenant_a LOGIN IN ROLE claude_user;
SELECT unified.grant_project('tenant_a', 'proj-a');
INSERT INTO unified.chunks (source, source_id, project_id, content)
VALUES ('claude_context', 'a-1', 'proj-a', 'tenant a'),
       ('claude_context', 'b-1', 'proj-b', 'tenant b');
});

sub seen_by
{
	my ($role) = @_;
	return $node->safe_psql('postgres',
		q{SELECT coalesce(string_agg(source_id, ',' ORDER BY source_id), '') FROM unified.chunks},
		connstr => $node->connstr('postgres') . " user=$role");
}

is(seen_by('tenant_a'), 'a-1', 'tenant_a sees its project');
my $oid = $node->safe_psql('postgres', q{SELECT 'tenant_a'::regrole::oid});
$node->safe_psql('other', 'DROP ROLE tenant_a');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM unified.project_grants WHERE role::oid = $oid}),
	'1', 'the grant row of the dropped role is still there (DROP ROLE ran in another database)');

# A new role with the same OID, as pg_upgrade would create it.
$node->stop;
command_ok(
	[ $node->installed_command('pg_ctl'), '-D', $node->data_dir, '-l', $node->logfile, '-o', '-b', '-w', 'start' ],
	'server starts in binary-upgrade mode');
$node->_update_pid(1);
$node->safe_psql('postgres', qq{
SELECT binary_upgrade_set_next_pg_authid_oid($oid);
CREATE ROLE tenant_b LOGIN;
});
$node->stop;
$node->start;
$node->safe_psql('postgres', 'GRANT claude_user TO tenant_b');
is($node->safe_psql('postgres', q{SELECT 'tenant_b'::regrole::oid}), $oid, 'tenant_b has the dead role\'s OID');

is(seen_by('tenant_b'), '', 'before any grant of its own, the stale grant shows tenant_b nothing');
is($node->safe_psql('postgres', qq{SELECT string_agg(stale::text, ',') FROM unified.tenant_grants WHERE role::oid = $oid}),
	'true', 'unified.tenant_grants marks the grant as stale');

$node->safe_psql('postgres', q{SELECT unified.grant_project('tenant_b', 'proj-b')});
is(seen_by('tenant_b'), 'b-1', 'granted proj-b, tenant_b sees proj-b only, not the dead role\'s proj-a');
is($node->safe_psql('postgres', qq{SELECT string_agg(object, ',' ORDER BY object) FROM unified.tenant_grants WHERE role::oid = $oid}),
	'proj-b', 'the stale grant is gone');

# Renaming keeps the binding (the token is the role's, not its name's).
$node->safe_psql('other', 'ALTER ROLE tenant_b RENAME TO tenant_c');
is(seen_by('tenant_c'), 'b-1', 'a role renamed in another database keeps its grants');

# Nobody but a superuser can move a token from one role to another.
$node->safe_psql('postgres', q{CREATE ROLE manager LOGIN CREATEROLE; CREATE ROLE tenant_d LOGIN IN ROLE claude_user});
my ($ret, $out, $err) = $node->psql('postgres',
	q{SECURITY LABEL FOR unified_pg ON ROLE tenant_d IS 'copied'},
	connstr => $node->connstr('postgres') . ' user=manager');
like($err, qr/security labels of provider "unified_pg" are set by unified_pg only/,
	'a CREATEROLE role cannot set the label that binds grants');

$node->stop;
done_testing();
