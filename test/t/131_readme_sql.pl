# Every SQL example of README.md, run in order as the README shows it, so
# the manual cannot drift from the code.  Each ```sql block runs in a new
# psql session (ON_ERROR_STOP, as a superuser) in database claude_context
# of a server configured as `make run` makes it.  A comment line
# <!-- readme-test: ... --> just before a block says how to run it:
#   error SQLSTATE   the block must stop with this SQLSTATE
#   as ROLE          run it after SET ROLE ROLE
#   needs vector     run it only where pgvector is installed
#   last             run it after all the others (DROP EXTENSION)
#   skip REASON      do not run it (the reason is printed)
# Then every function and view named in the README's SQL reference must
# appear in a block that ran (or in a shell block 130_readme_restore.pl runs), and every view of schema unified must be in
# the reference.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $readme = slurp_file(dirname(__FILE__) . '/../../README.md');

my $node = PostgreSQL::Test::Cluster->new('readme_sql');
$node->init;
my $host = $node->host;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg,pg_cron'
cron.database_name = 'claude_context'
cron.host = '$host'
unified_pg.database = 'claude_context'
max_prepared_transactions = 20
max_worker_processes = 16
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE claude_context');
my $have_vector = $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'});

my @blocks;
while ($readme =~ /(?:<!--\s*readme-test:\s*(.*?)\s*-->\s*\n)?```sql\n(.*?)```/sg)
{
	my ($directive, $sql) = ($1 // '', $2);
	my $line = 1 + (() = substr($readme, 0, $-[0]) =~ /\n/g);
	push @blocks, { directive => $directive, sql => $sql, line => $line };
}
cmp_ok(scalar(@blocks), '>=', 10, 'the README has SQL examples');
my @last = grep { $_->{directive} =~ /^last/ } @blocks;
@blocks = grep { $_->{directive} !~ /^last/ } @blocks;

# The shell blocks test/t/130_readme_restore.pl runs count as run too.
my $ran = join('', $readme =~ /<!--\s*readme-test:\s*(?:backup|roles|restore)\s*-->\s*```sh\n(.*?)```/sg);
sub run_block
{
	my ($blk) = @_;
	my $d = $blk->{directive};
	my $where = "README.md line $blk->{line}";
	if ($d =~ /^skip\s+(.+)/)
	{
		note("$where: skipped: $1");
		return;
	}
	if ($d =~ /^needs vector/ && $have_vector ne '1')
	{
		note("$where: skipped: pgvector is not installed");
		return;
	}
	my $sql = $blk->{sql};
	$sql = "SET ROLE $1;\n$sql" if $d =~ /^as\s+(\w+)/;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-d', $node->connstr('claude_context') ],
		'<', \"\\set VERBOSITY verbose\n$sql", '>', \$stdout, '2>', \$stderr);
	if ($d =~ /^error\s+(\w{5})/)
	{
		my $want = $1;
		ok(!$ok && $stderr =~ /ERROR:  $want:/, "$where fails with $want as documented")
		  or diag($stderr);
	}
	else
	{
		ok($ok, "$where runs") or diag($stderr);
	}
	$ran .= $blk->{sql};
}

run_block($_) foreach @blocks;

# The reference: every name it lists ran in an example; every view is listed.
my ($reference) = $readme =~ /\n## SQL reference\n(.*?)\n## /s;
ok(defined $reference, 'the README has a SQL reference');
$reference //= '';
my %listed = map { $_ => 1 } $reference =~ /`(unified\.\w+)/g;
cmp_ok(scalar(keys %listed), '>=', 30, 'the reference lists the functions and views');
foreach my $name (sort keys %listed)
{
	ok($ran =~ /\Q$name\E\b/, "$name has an example that ran");
}
foreach my $view (split /\n/, $node->safe_psql('claude_context',
		q{SELECT 'unified.' || relname FROM pg_class WHERE relnamespace = 'unified'::regnamespace
		    AND relkind = 'v' ORDER BY 1}))
{
	ok($listed{$view}, "view $view is in the reference");
}

# Then the blocks that end it all (DROP EXTENSION).
run_block($_) foreach @last;

$node->stop;
done_testing();
