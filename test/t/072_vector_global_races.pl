# The global vector layout under concurrent writes: Claude-Context's
# re-index (delete a file's chunks, upsert the new ones) racing another
# session's upsert of the same keys, in each order, and two sessions
# upserting the same new keys.  Whatever the interleaving, every committed
# chunk with an embedding of the layout's dimensions has exactly one side
# row with its current embedding and owner, and no side row outlives its
# chunk (the foreign key would refuse the commit).  Skipped, saying why,
# without pgvector.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use UnifiedTest;

my $node = preloaded_node('vecraces', q{
unified_pg.maintenance_interval = 0
});

skip_without_pgvector($node);

$node->safe_psql('postgres', q{
	CREATE EXTENSION vector;
	CREATE EXTENSION unified_pg;
	CREATE ROLE race_claude LOGIN IN ROLE claude_user;
	SELECT unified.enable_vector_index(3, layout => 'global');
	-- upsert chunks ids[] of file a.py in project p, embedding {1, x, 0}
	CREATE FUNCTION public.race_up(ids text[], x real) RETURNS text LANGUAGE sql AS $$
	    SELECT format('%s/%s', u.inserted, u.updated)
	      FROM unified.upsert_chunks((SELECT jsonb_agg(jsonb_build_object(
	               'source', 'claude_context', 'source_id', i, 'project_id', 'p', 'relative_path', 'a.py',
	               'content', 'v ' || x, 'embedding', jsonb_build_array(1, x, 0)) ORDER BY o)
	              FROM unnest(ids) WITH ORDINALITY AS t(i, o))) u $$;
	GRANT EXECUTE ON FUNCTION public.race_up(text[], real) TO PUBLIC;});

# Side rows agree with the chunks: none missing, none stale, none orphaned.
my $agree = q{
	SELECT (SELECT count(*) FROM unified.chunks c WHERE cardinality(c.embedding) = 3
	          AND NOT EXISTS (SELECT FROM unified.chunk_vectors_3 v WHERE v.id = c.id AND v.created_at = c.created_at
	                             AND v.embedding = c.embedding::vector AND v.project_id IS NOT DISTINCT FROM c.project_id))
	     || ' missing or stale, '
	     || (SELECT count(*) FROM unified.chunk_vectors_3 v
	          WHERE NOT EXISTS (SELECT FROM unified.chunks c WHERE c.id = v.id AND c.created_at = v.created_at))
	     || ' orphaned, '
	     || (SELECT count(*) FROM unified.chunk_vectors_3) || ' side rows'};

my $waiting = q{SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()};

# Start $sql in session $s without waiting for its result.
sub send_nowait
{
	my ($s, $sql) = @_;
	$s->{stdin} .= "$sql;\n\\echo done\n";
	$s->{run}->pump_nb;
}

# Wait for the statement sent by send_nowait and return its output.
sub finish
{
	my ($s) = @_;
	$s->{run}->pump until $s->{stdout} =~ /done\n/;
	(my $out = $s->{stdout}) =~ s/\n?done\n//;
	$s->{stdout} = '';
	return $out;
}

sub session
{
	my $s = $node->background_psql('postgres');
	$s->query_safe('SET ROLE race_claude');
	return $s;
}

# 1. The upsert first: the re-index's delete waits for it, then deletes
#    the updated rows (and their side rows); its upsert inserts them again.
$node->safe_psql('postgres', q{SELECT public.race_up(ARRAY['f1', 'f2'], 0.1)});
my ($up, $del) = (session(), session());
$up->query_safe('BEGIN');
is($up->query_safe(q{SELECT public.race_up(ARRAY['f2', 'f1'], 0.2)}), '0/2', 'upsert updates both chunks');
$del->query_safe('BEGIN');
send_nowait($del, q{SELECT unified.delete_file_chunks('p', 'a.py')});
ok($node->poll_query_until('postgres', $waiting), 'the re-index waits for the upsert');
$up->query_safe('COMMIT');
is(finish($del), '2', 'then deletes both chunks');
is($del->query_safe(q{SELECT public.race_up(ARRAY['f1', 'f2', 'f3'], 0.3)}), '3/0', 'and upserts the new ones');
$del->query_safe('COMMIT');
is($node->safe_psql('postgres', $agree), '0 missing or stale, 0 orphaned, 3 side rows',
	'the side table agrees with the chunks');

# 2. The re-index first: the other upsert waits, then inserts the keys again.
$del->query_safe('BEGIN');
is($del->query_safe(q{SELECT unified.delete_file_chunks('p', 'a.py')}), '3', 'the re-index deletes the file');
send_nowait($up, q{SELECT public.race_up(ARRAY['f3', 'f4'], 0.4)});
ok($node->poll_query_until('postgres', $waiting), 'the upsert waits for it');
is($del->query_safe(q{SELECT public.race_up(ARRAY['f1'], 0.5)}), '1/0', 're-index upserts the new chunk');
$del->query_safe('COMMIT');
is(finish($up), '2/0', 'the waiting upsert inserts its keys again');
is($node->safe_psql('postgres', $agree), '0 missing or stale, 0 orphaned, 3 side rows',
	'the side table agrees with the chunks');

# 3. Two sessions upsert the same new keys: the second waits, retries, updates.
$up->query_safe('BEGIN');
is($up->query_safe(q{SELECT public.race_up(ARRAY['n1', 'n2'], 0.6)}), '2/0', 'the first inserts');
send_nowait($del, q{SELECT public.race_up(ARRAY['n2', 'n1'], 0.7)});
ok($node->poll_query_until('postgres', $waiting), 'the second waits');
$up->query_safe('COMMIT');
is(finish($del), '0/2', 'then updates them');
is($node->safe_psql('postgres', $agree), '0 missing or stale, 0 orphaned, 5 side rows',
	'the side table holds the last embeddings');
is($node->safe_psql('postgres',
		q{SELECT string_agg(c.source_id || '=' || v.embedding::text, ',' ORDER BY c.source_id)
		    FROM unified.chunk_vectors_3 v JOIN unified.chunks c USING (id, created_at)
		   WHERE c.source_id IN ('n1', 'n2')}),
	'n1=[1,0.7,0],n2=[1,0.7,0]', "the last writer's embedding");

# 4. Maintenance, committing: rows of a month without a partition wait in
#    the default one; making the month moves them with their side rows;
#    retention detaches the month, and its side rows go with it.
$node->safe_psql('postgres', q{
	INSERT INTO unified.chunks (source, source_id, project_id, content, embedding, created_at)
	SELECT 'claude_context', 'old_' || g, 'p', 'old', ARRAY[1, g, 0]::real[], '2019-02-01'::timestamptz + g * interval '1 hour'
	  FROM generate_series(1, 20) g});
is($node->safe_psql('postgres', q{SELECT unified.create_monthly_partition('2019-02-01')}), 'unified.chunks_2019_02',
	'the month is made and its rows moved out of the default partition (committed)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM unified.chunks_2019_02}), '20', 'all of them');
is($node->safe_psql('postgres', $agree), '0 missing or stale, 0 orphaned, 25 side rows',
	'they kept their side rows');
is($node->safe_psql('postgres',
		q{SELECT r->'detached'->0->>'partition' FROM unified.run_maintenance(premake => 0, retention => '1 year') r}),
	'unified.chunks_2019_02', 'retention detaches the month (committed)');
is($node->safe_psql('postgres', $agree), '0 missing or stale, 0 orphaned, 5 side rows',
	'and its side rows went with it');

$up->quit;
$del->quit;
$node->stop;
done_testing();
