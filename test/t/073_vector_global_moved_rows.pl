# The global vector layout and maintenance's move out of the default
# partition: maintenance makes a month's partition by moving the default
# partition's rows of that month into it.  A search whose snapshot predates
# the move (REPEATABLE READ here) sees the rows where they were, in the
# default partition; search_chunks through the global layout's HNSW index
# must return them, as the plain query over unified.chunks in the same
# snapshot does.  Looked up by (id, created_at), which PostgreSQL prunes to
# the new month, where the old snapshot sees nothing, they were lost.
# Skipped, saying why, without pgvector.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use UnifiedTest;

my $node = preloaded_node('vecmoved', q{
unified_pg.maintenance_interval = 0
});

skip_without_pgvector($node);

$node->safe_psql('postgres', q{
	CREATE EXTENSION vector;
	CREATE EXTENSION unified_pg;
	CREATE ROLE moved_claude LOGIN IN ROLE claude_user;
	SELECT unified.enable_vector_index(3, layout => 'global');
	-- rows of a month far ahead wait in the default partition, beside
	-- rows of the current month
	INSERT INTO unified.chunks (source, source_id, project_id, content, embedding, created_at)
	SELECT 'claude_context', 'gm-' || i, 'gm', 'moved', ARRAY[1, i * 0.01, 0]::real[],
	       '2033-05-15'::timestamptz + i * interval '1 hour'
	  FROM generate_series(1, 3) i;
	INSERT INTO unified.chunks (source, source_id, project_id, content, embedding)
	SELECT 'claude_context', 'gn-' || i, 'gm', 'stays', ARRAY[1, 0.5 + i * 0.01, 0]::real[]
	  FROM generate_series(1, 20) i;
	ANALYZE unified.chunks;
});

my $search = q{SELECT string_agg(source_id, ',' ORDER BY n)
	  FROM unified.search_chunks(ARRAY[1,0,0]::real[], 3, 'gm') WITH ORDINALITY
	       AS s(id, source, source_collection, source_id, project_id, cognee_dataset_id, content,
	            relative_path, start_line, end_line, file_extension, metadata, score, n)};
my $plain = q{SELECT string_agg(source_id, ',' ORDER BY d, id)
	  FROM (SELECT c.id, c.source_id, unified.cosine_distance(c.embedding, ARRAY[1,0,0]::real[]) AS d
	          FROM unified.chunks c WHERE c.project_id = 'gm' ORDER BY d, c.id LIMIT 3) t};

is($node->safe_psql('postgres', "SET ROLE moved_claude; $search"), 'gm-1,gm-2,gm-3',
	'before the move: the three rows of the default partition');

my $old = $node->background_psql('postgres');
$old->query_safe('SET ROLE moved_claude');
$old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
# (the snapshot, without a lock on unified.chunks, which maintenance waits for)
is($old->query_safe('SELECT 1'), '1', 'a snapshot taken before the move');

$node->safe_psql('postgres', q{SELECT unified.create_monthly_partition('2033-05-01')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM unified.chunks_2033_05}), '3',
	'maintenance moved them to their month');

is($old->query_safe($plain), 'gm-1,gm-2,gm-3', 'the old snapshot sees them where they were');
is($old->query_safe($search), 'gm-1,gm-2,gm-3', 'and search_chunks, through the HNSW index, returns them');
$old->query_safe('COMMIT');
$old->quit;

is($node->safe_psql('postgres', "SET ROLE moved_claude; $search"), 'gm-1,gm-2,gm-3',
	'after the move: the same rows, from their month');

$node->stop;
done_testing();
