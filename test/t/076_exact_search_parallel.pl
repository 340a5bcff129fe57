# The exact search_chunks path returns exactly the brute-force k nearest
# rows when its ranking runs in parallel workers: a tenant-scoped
# Claude-Context login (row-level security and a project grant), parallel
# query forced on, with the project, metadata and min_score filters, stored
# embeddings of norm zero and of other dimensions among the candidates.
# auto_explain's log shows that the ranking ran as a top-k sort in launched
# workers under a Gather Merge, the plan shape search_chunks_exact is
# written for.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('exactpar');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
unified_pg.maintenance_interval = 0
session_preload_libraries = 'auto_explain'
auto_explain.log_min_duration = 0
auto_explain.log_nested_statements = on
auto_explain.log_analyze = on
auto_explain.log_timing = off
# the plain path, whose ranking this test runs in parallel (with the sketch
# index, test/pgtap/074, the search reads few rows and stays serial)
unified_pg.sketch_search = off
max_worker_processes = 16
max_parallel_workers = 8
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION unified_pg;
	CREATE ROLE tenant_t LOGIN IN ROLE claude_user;
	SELECT unified.grant_project('tenant_t', 'proj-t');
});

# 64-dimension embeddings at angles 0 .. pi (scaled by 0.5 .. 2, which
# cosine ignores): the query (1, 0, ...) has one nearest order without ties.
# proj-u, which the tenant may not see, holds rows between them; proj-t
# also has rows of norm zero and of 3 dimensions.  Stored in random order,
# so that the workers' pages all hold candidates.
$node->safe_psql('postgres', q{
	SELECT setseed(0.5);
	INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, embedding, metadata)
	SELECT 'claude_context', 'code_chunks_t', p || '_' || i, 'proj-' || p, 'chunk ' || i,
	       ARRAY[cos(a) * s, sin(a) * s]::real[] || array_fill(0::real, ARRAY[62]),
	       jsonb_build_object('bucket', i % 3)
	  FROM (SELECT p, i, (i + CASE p WHEN 'u' THEN 0.5 ELSE 0 END) * pi() / 4000 AS a, 0.5 + 1.5 * random() AS s
	          FROM (VALUES ('t'), ('u')) v(p), generate_series(0, 3999) i) x
	 ORDER BY random();
	INSERT INTO unified.chunks (source, source_collection, source_id, project_id, content, embedding)
	SELECT 'claude_context', 'code_chunks_t', 'zero_' || i, 'proj-t', 'zero', array_fill(0::real, ARRAY[64])
	  FROM generate_series(1, 20) i
	UNION ALL
	SELECT 'claude_context', 'code_chunks_t', 'three_' || i, 'proj-t', 'three', '{1,0,0}'
	  FROM generate_series(1, 20) i;
	VACUUM ANALYZE unified.chunks;
});

# the k nearest by brute force in double precision, as the table's owner
sub brute_force
{
	my ($where, $k) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(source_id, ',' ORDER BY d, id) FROM (
		  SELECT id, source_id,
		         1 - embedding[1]::float8 / sqrt((SELECT sum(x::float8 * x::float8) FROM unnest(embedding) x)) AS d
		    FROM unified.chunks
		   WHERE project_id = 'proj-t' AND cardinality(embedding) = 64
		     AND embedding[1] ^ 2 + embedding[2] ^ 2 > 0 AND $where
		   ORDER BY d, id LIMIT $k) b});
}

my $force = q{
	SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	SET min_parallel_table_scan_size = 0; SET min_parallel_index_scan_size = 0;
	SET max_parallel_workers_per_gather = 2;
	DO $$ BEGIN PERFORM set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
	                                 THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false); END $$;
};
my $q = q{(ARRAY[1, 0]::real[] || array_fill(0::real, ARRAY[62]))};

sub search
{
	my ($args, $settings) = @_;
	return $node->safe_psql('postgres', qq{
		$settings
		SELECT string_agg(source_id, ',' ORDER BY score DESC, id)
		  FROM unified.search_chunks($q, $args)},
		connstr => 'dbname=postgres user=tenant_t');
}

my $log_start = -s $node->logfile;
my $want = brute_force('true', 10);
is($want, join(',', map { "t_$_" } 0 .. 9), 'the brute force sees the rows by angle');
is(search("10, 'proj-t'", $force), $want, 'parallel: the 10 nearest of the project');
is(search("10", $force), $want, 'parallel: no project filter, row-level security hides proj-u');
is(search("25, 'proj-t', filter => '{\"bucket\": 1}'", $force),
	brute_force(q{metadata @> '{"bucket": 1}'}, 25), 'parallel: with a metadata filter');
# score >= 0.99999 (1 - cos(a) <= 1e-5) for the first 6 angles only
is(search("10, 'proj-t', min_score => 0.99999", $force),
	brute_force('1 - embedding[1]::float8 / sqrt(embedding[1]::float8 ^ 2 + embedding[2]::float8 ^ 2)'
		  . ' <= 1 - 0.99999::real::float8', 10),
	'parallel: min_score keeps fewer than k');
is(search("10, 'proj-t', min_score => 0.99999", $force), join(',', map { "t_$_" } 0 .. 5),
	'which are the first 6 angles');
is(search("500, 'proj-t'", $force), brute_force('true', 500), 'parallel: k = 500');
is(search("500, 'proj-t'", ''), brute_force('true', 500), 'serial: k = 500');

my $log = slurp_file($node->logfile, $log_start);
like($log, qr/Gather Merge.*?Workers Launched: [1-9].*?Sort Method: top-N heapsort.*?Parallel Bitmap Heap Scan on chunks_/s,
	'the ranking ran as top-k sorts in parallel workers');

$node->stop;
done_testing();
