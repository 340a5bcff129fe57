# An HNSW index made by enable_vector_index is on every partition the
# maintenance worker creates afterwards, also one that it fills with rows
# moved out of the default partition; search_chunks keeps working through
# it across a restart and a pg_dump and restore.  Skipped, saying why, without pgvector.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use UnifiedTest;

my $node = preloaded_node('vecmaint', q{
unified_pg.resolver_naptime = '100ms'
unified_pg.maintenance_interval = '1s'
});

skip_without_pgvector($node);

$node->safe_psql('postgres', 'CREATE EXTENSION vector; CREATE EXTENSION unified_pg');
is($node->safe_psql('postgres', 'SELECT unified.enable_vector_index(3)'),
	'unified.chunks_embedding_3_cosine_idx', 'enable_vector_index');

# The month after next: drop it, let the worker create it again.
my $future = $node->safe_psql('postgres',
	q{SELECT 'chunks_' || to_char((now() AT TIME ZONE 'UTC') + interval '2 months', 'YYYY_MM')});
$node->safe_psql('postgres', "DROP TABLE unified.$future");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM unified.partitions WHERE partition::text = 'unified.$future'"),
	'the worker creates the dropped month again');

my $has_index = sub {
	my $part = shift;
	return $node->safe_psql('postgres', qq{
		SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid
		 WHERE i.inhparent = 'unified.chunks_embedding_3_cosine_idx'::regclass
		   AND x.indrelid = 'unified.$part'::regclass});
};
is($has_index->($future), '1', 'the partition the worker created has the HNSW index');

# Rows of a month without a partition land in the default partition; the
# worker makes their month and moves them there, index and all.
$node->safe_psql('postgres', q{
	INSERT INTO unified.chunks (source, source_id, project_id, content, embedding, created_at)
	SELECT 'claude_context', 'old_' || g, 'p', 'old', ARRAY[1, g, 0]::real[], '2019-02-01'::timestamptz + g * interval '1 hour'
	  FROM generate_series(1, 200) g});
is($has_index->('chunks_default'), '1', 'the default partition has it');
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 200 FROM unified.chunks WHERE tableoid = 'unified.chunks_2019_02'::regclass}),
	'the worker moves the rows into their new month');
is($has_index->('chunks_2019_02'), '1', 'which has the HNSW index too');

$node->restart;
my $query = q{SELECT string_agg(source_id, ',' ORDER BY score DESC, source_id)
                FROM unified.search_chunks('{1,1,0}', 3)};
is($node->safe_psql('postgres', $query), 'old_1,old_2,old_3',
	'search_chunks finds the nearest rows through the index after a restart');
is( $node->safe_psql('postgres', q{
		SET enable_seqscan = off;
		EXPLAIN (COSTS OFF) SELECT id FROM unified.chunks_2019_02 c WHERE cardinality(c.embedding) = 3
		 ORDER BY (c.embedding)::public.vector(3) OPERATOR(public.<=>) '[1,1,0]'::public.vector(3) LIMIT 3}) =~ /Index Scan using/ ? 1 : 0,
	1, 'and the moved month answers through its index');

# The global layout for embeddings of 2 dimensions, beside the partitioned
# index of 3: pg_dump leaves its side table out, finish_restore builds it
# again from the restored chunks.
$node->safe_psql('postgres', q{
	INSERT INTO unified.chunks (source, source_id, project_id, content, embedding, created_at)
	SELECT 'claude_context', 'two_' || g, 'p', 'two', ARRAY[1, g]::real[], '2019-02-01'::timestamptz + g * interval '1 hour'
	  FROM generate_series(1, 50) g;
	SELECT unified.enable_vector_index(2, layout => 'global')});
my $query2 = q{SELECT string_agg(source_id, ',' ORDER BY score DESC, source_id)
                 FROM unified.search_chunks('{1,1}', 2)};
is($node->safe_psql('postgres', $query2), 'two_1,two_2', 'the global layout searches');

# pg_dump and the documented restore keep the vector index on every
# partition; the restored database searches through it.
my $dump = $node->basedir . '/vec.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
{
	local $ENV{PGOPTIONS} = '-c unified_pg.restoring=on';
	$node->command_ok(
		[ 'pg_restore', '--exit-on-error', '--section=pre-data', '--section=data', '-d', $node->connstr('dst'), $dump ],
		'pre-data and data restore without errors');
}
$node->safe_psql('dst', 'SELECT unified.finish_restore()');
$node->command_ok(
	[ 'pg_restore', '--exit-on-error', '--section=post-data', '-d', $node->connstr('dst'), $dump ],
	'post-data (the vector index included) restores without errors');
is( $node->safe_psql('dst', q{
		SELECT (SELECT count(*) FROM pg_inherits WHERE inhparent = 'unified.chunks_embedding_3_cosine_idx'::regclass)
		     = (SELECT count(*) FROM pg_inherits WHERE inhparent = 'unified.chunks'::regclass)}),
	't', 'the restored vector index is on every partition');
is($node->safe_psql('dst', $query), 'old_1,old_2,old_3', 'and the restored database searches through it');
is($node->safe_psql('dst', 'SELECT unified.finish_restore()'), '1',
	'run again after post-data, finish_restore builds the global layout');
is( $node->safe_psql('dst', q{
		SELECT (SELECT count(*) FROM unified.chunk_vectors_2) || ' ' || (SELECT layout FROM unified.vector_indexes WHERE dimensions = 2)}),
	'50 global', 'finish_restore builds the global layout again from the restored chunks');
is($node->safe_psql('dst', $query2), 'two_1,two_2', 'and the restored database searches through its index');

$node->stop;
done_testing();
