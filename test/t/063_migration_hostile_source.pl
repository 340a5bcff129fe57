# A source's owner cannot make a migration run its code with the migrating
# role's rights: not through index expressions or predicates, CHECK
# constraints of a child, a partition's index (the planner evaluates
# them), nor by giving the source's name to a view between the checks and
# the reads (a renamed table or schema), nor through a foreign table that
# points at code on its server.  The hostile owner is a unified_admin
# member; the migrating role is a superuser.  Every function below records
# who ran it in public.ran, which must stay empty.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use UnifiedTest;

my $node = preloaded_node('migration_hostile', q{
unified_pg.maintenance_interval = 0
lc_messages = 'C'
});
$node->safe_psql('postgres', q{
CREATE EXTENSION unified_pg;
CREATE EXTENSION postgres_fdw;
CREATE ROLE hostile LOGIN IN ROLE unified_admin;
CREATE TABLE public.ran (who text, what text);
GRANT INSERT ON public.ran TO PUBLIC;
CREATE SCHEMA hs AUTHORIZATION hostile;
});

my $layout = q{(id text PRIMARY KEY, vector real[], content text NOT NULL, relative_path text NOT NULL,
    start_line integer NOT NULL, end_line integer NOT NULL, file_extension text NOT NULL,
    metadata text DEFAULT '{}', created_at timestamptz DEFAULT now())};
my $row = q{('chunk_1', '{1,0,0}', 'def f(): pass', 'src/f.py', 1, 2, '.py')};

# as the hostile owner
sub hostile { $node->safe_psql('postgres', "SET ROLE hostile; $_[0]") }
hostile(qq{
CREATE FUNCTION hs.rec(what text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS
  \$\$BEGIN INSERT INTO public.ran VALUES (current_user, what); RETURN true; END\$\$;
CREATE FUNCTION hs.imm(what text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
  \$\$BEGIN RETURN hs.rec(what); END\$\$;
CREATE TABLE hs.code_chunks_00000001 $layout;
INSERT INTO hs.code_chunks_00000001 (id, vector, content, relative_path, start_line, end_line, file_extension) VALUES $row;
CREATE INDEX ON hs.code_chunks_00000001 (id) WHERE hs.imm('partial index');
CREATE TABLE hs.code_chunks_00000002 $layout;
INSERT INTO hs.code_chunks_00000002 (id, vector, content, relative_path, start_line, end_line, file_extension) VALUES $row;
CREATE INDEX ON hs.code_chunks_00000002 ((hs.imm('expression index' || id)));
CREATE TABLE hs.code_chunks_00000003 $layout;
CREATE TABLE hs.code_chunks_00000003_child (CHECK (hs.imm('child check'))) INHERITS (hs.code_chunks_00000003);
INSERT INTO hs.code_chunks_00000003_child (id, vector, content, relative_path, start_line, end_line, file_extension) VALUES $row;
CREATE TABLE hs.code_chunks_00000004 (LIKE hs.code_chunks_00000003) PARTITION BY LIST (file_extension);
CREATE TABLE hs.code_chunks_00000004_py PARTITION OF hs.code_chunks_00000004 FOR VALUES IN ('.py');
CREATE INDEX ON hs.code_chunks_00000004_py (id) WHERE hs.imm('partition index');
INSERT INTO hs.code_chunks_00000004 (id, vector, content, relative_path, start_line, end_line, file_extension) VALUES $row;
});
hostile(qq{
CREATE TABLE hs.code_chunks_00000007 $layout;
INSERT INTO hs.code_chunks_00000007 (id, vector, content, relative_path, start_line, end_line, file_extension) VALUES $row;
CREATE STATISTICS hs.st7 ON (start_line + hs.imm('extended statistics')::int), end_line FROM hs.code_chunks_00000007;
});
$node->safe_psql('postgres', 'DELETE FROM public.ran');

for my $n (1 .. 4, 7)
{
	my $src = sprintf('hs.code_chunks_%08d', $n);
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nCALL unified.migrate_claude_chunks('$src', project_id => 'p$n')");
	like($err, qr/55000: source hs\.code_chunks_0000000$n has indexes or constraints that would run code of its owner/,
		"$src: refused with 55000, naming the cause");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.ran'), '0', 'none of the owner\'s code ran');
is($node->safe_psql('postgres', 'SELECT count(*) FROM unified.chunks'), '0', 'and nothing was written');

# A built-in expression index is fine.
hostile(qq{
CREATE TABLE hs.code_chunks_00000005 $layout;
INSERT INTO hs.code_chunks_00000005 (id, vector, content, relative_path, start_line, end_line, file_extension) VALUES $row;
CREATE INDEX ON hs.code_chunks_00000005 USING gin (to_tsvector('english', content));
CREATE INDEX ON hs.code_chunks_00000005 (lower(relative_path)) WHERE start_line > 0;
});
my ($ret, $out, $err) = $node->psql('postgres',
	q{CALL unified.migrate_claude_chunks('hs.code_chunks_00000005', project_id => 'p5')});
is($ret, 0, 'a source with built-in expression indexes migrates') or diag $err;

# The source's name given to a view while the migration waits for its
# lock: the table renamed and a view named like it, in one transaction.
hostile(qq{
CREATE TABLE hs.code_chunks_00000006 $layout;
INSERT INTO hs.code_chunks_00000006 (id, vector, content, relative_path, start_line, end_line, file_extension)
SELECT 'chunk_' || g, '{1,0,0}', 'line ' || g, 'src/f.py', 1, 2, '.py' FROM generate_series(1, 20) g;
});
my $swap = $node->background_psql('postgres');
$swap->query_safe(q{SET ROLE hostile});
$swap->query_safe(q{BEGIN});
$swap->query_safe(q{ALTER TABLE hs.code_chunks_00000006 RENAME TO old_00000006});
$swap->query_safe(q{CREATE VIEW hs.code_chunks_00000006 AS SELECT * FROM hs.old_00000006 WHERE hs.rec('renamed table')});
my $mig = $node->background_psql('postgres');
$mig->query_until(qr/started/, q{\echo started
CALL unified.migrate_claude_chunks('hs.code_chunks_00000006', project_id => 'p6', batch_size => 5);
\echo done
});
$node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND relation IS NOT NULL})
  or die 'the migration did not wait for the source';
$swap->query_safe(q{COMMIT});
$swap->quit;
$mig->quit;
is($node->safe_psql('postgres', q{SELECT count(*) FROM unified.chunks WHERE project_id = 'p6'}), '20',
	'the migration read the table it checked, renamed');
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.ran'), '0', 'not the view that took its name');

# The schema renamed after the run, and a view named like the source in a
# new schema of the old name: verification reads the source by OID.
$node->safe_psql('postgres', q{GRANT CREATE ON DATABASE postgres TO hostile});
hostile(q{
ALTER SCHEMA hs RENAME TO hs_old;
CREATE SCHEMA hs;
CREATE VIEW hs.old_00000006 AS SELECT * FROM hs_old.old_00000006 WHERE hs_old.rec('renamed schema');
});
is($node->safe_psql('postgres',
	q{SELECT ok FROM unified.verify_migration((SELECT max(id) FROM unified.migrations WHERE project_id = 'p6'))}),
	't', 'verification after the schema was renamed reads the source and verifies');
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.ran'), '0', 'and runs none of the owner\'s code');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_class WHERE relname LIKE 'upg_migration_source_%'}), '0',
	'no view over a source outlives its transaction');
hostile(q{DROP TABLE hs_old.old_00000006 CASCADE});
pass('the owner can drop the source after the migration');

# A source registered by a role that cannot read it (named by OID, which
# skips the schema's privilege check) is not read by migrate_to_unified,
# whoever runs it.
$node->safe_psql('postgres', qq{
CREATE SCHEMA secret;
CREATE TABLE secret.code_chunks_5ec2e700 $layout;
INSERT INTO secret.code_chunks_5ec2e700 (id, vector, content, relative_path, start_line, end_line, file_extension)
VALUES ('chunk_s', '{1,0,0}', 'TOP SECRET', 'src/s.py', 1, 2, '.py');
});
hostile(q{INSERT INTO unified.migration_sources (kind, source, project_id, added_by)
          SELECT 'claude_context', c.oid::regclass, 'hostile-proj', 'postgres' FROM pg_class c
           WHERE c.relname = 'code_chunks_5ec2e700'});
is($node->safe_psql('postgres', q{SELECT added_by FROM unified.migration_sources WHERE project_id = 'hostile-proj'}),
	'hostile', 'the registry records who registered a source, whatever the INSERT says');
$node->safe_psql('postgres', 'CALL unified.migrate_to_unified()');
is($node->safe_psql('postgres', q{SELECT count(*) FROM unified.chunks WHERE content = 'TOP SECRET'}), '0',
	'a superuser running migrate_to_unified does not read a source its registrar cannot');
like($node->safe_psql('postgres', q{SELECT last_status FROM unified.migration_sources WHERE project_id = 'hostile-proj'}),
	qr/^failed: registered by hostile, who may not read secret\.code_chunks_5ec2e700$/, 'and says why');

# A foreign table another role made: it would run what it points at on
# the server, under the migrating role's user mapping.
my ($host, $port) = ($node->host, $node->port);
$node->safe_psql('postgres', qq{
CREATE SERVER loop FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '$host', port '$port', dbname 'postgres');
GRANT USAGE ON FOREIGN SERVER loop TO hostile;
CREATE USER MAPPING FOR postgres SERVER loop OPTIONS (user 'postgres');
});
hostile(qq{
CREATE VIEW hs_old.remote_v AS SELECT * FROM hs_old.code_chunks_00000005 WHERE hs_old.rec('remote view');
CREATE FOREIGN TABLE hs_old.code_chunks_0000000f (id text, vector real[], content text, relative_path text,
    start_line integer, end_line integer, file_extension text, metadata text, created_at timestamptz) SERVER loop OPTIONS (schema_name 'hs_old', table_name 'remote_v');
});
($ret, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nCALL unified.migrate_claude_chunks('hs_old.code_chunks_0000000f', project_id => 'pf')");
like($err, qr/42501: source hs_old\.code_chunks_0000000f reads foreign table hs_old\.code_chunks_0000000f of hostile/,
	'a foreign table of another role is refused with 42501');
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.ran'), '0', 'before anything was read through it');

$node->stop;
done_testing();
