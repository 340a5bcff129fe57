# A source whose rows are dated over many months cannot make unified.chunks
# a table of that many partitions: migration creates months only up to
# unified_pg.max_partitions, as maintenance does, and the other months'
# rows go to the default partition, every row migrated and verified.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('migration_cap');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
unified_pg.maintenance_interval = 0
unified_pg.max_partitions = 10
lc_messages = 'C'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION unified_pg');

my $monthly = q{SELECT count(*) FROM pg_inherits i JOIN pg_partitioned_table pt ON pt.partrelid = i.inhparent
                 WHERE i.inhparent = 'unified.chunks'::regclass AND i.inhrelid <> pt.partdefid};
my $before = $node->safe_psql('postgres', $monthly);
cmp_ok($before, '<', 10, "the install made $before monthly partitions, below the limit");

# 300 rows, one a month over 25 years (1990-2014)
$node->safe_psql('postgres', q{
CREATE TABLE public.code_chunks_0c0ffee0 (
    id text PRIMARY KEY, vector real[], content text NOT NULL, relative_path text NOT NULL,
    start_line integer NOT NULL, end_line integer NOT NULL, file_extension text NOT NULL,
    metadata text DEFAULT '{}', created_at timestamptz);
INSERT INTO public.code_chunks_0c0ffee0
SELECT 'chunk_' || g, ARRAY[g, 1, 0]::real[], 'line ' || g, 'src/f.py', 1, 2, '.py', '{}',
       '1990-01-15 00:00:00+00'::timestamptz + make_interval(months => g)
  FROM generate_series(0, 299) AS g;
});

my ($ret, $out, $err) = $node->psql('postgres',
	q{CALL unified.migrate_claude_chunks('public.code_chunks_0c0ffee0', project_id => 'p', batch_size => 100)});
is($ret, 0, 'the migration completes');
is($node->safe_psql('postgres', $monthly), '10', 'unified.chunks has exactly unified_pg.max_partitions monthly partitions');
like($err, qr/WARNING:  \d+ months get no partition: unified.chunks has unified_pg.max_partitions \(10\) monthly partitions/,
	'a WARNING says months got no partition of their own');
like($err, qr/DETAIL:  Months: \d{4}-\d\d(, \d{4}-\d\d){11} and \d+ more\./, 'and names them, a dozen at most');
is($node->safe_psql('postgres', q{SELECT count(*) FROM unified.chunks WHERE project_id = 'p'}), '300',
	'every row is migrated');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM unified.chunks_default}), '>=', 300 - 10,
	'the rows of the months without a partition are in the default partition');
is($node->safe_psql('postgres', q{SELECT ok FROM unified.verify_migration((SELECT max(id) FROM unified.migrations))}),
	't', 'the run verifies');

# with the limit raised, maintenance gives them partitions
$node->append_conf('postgresql.conf', "unified_pg.max_partitions = 400\nunified_pg.max_new_partitions = 400\n");
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('unified_pg.max_partitions') = '400'})
  or die 'the new limit was not loaded';
$node->safe_psql('postgres', q{CALL unified.run_maintenance_all()});
is($node->safe_psql('postgres', q{SELECT count(*) FROM unified.chunks_default}), '0',
	'after the limit is raised, maintenance empties the default partition');

$node->stop;
done_testing();
