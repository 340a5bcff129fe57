# Memory of the exact search inside a large project.  The plain exact
# path ranks with ORDER BY ... LIMIT k, a top-k sort whose memory is that
# of k rows (within work_mem), however large the project.  The sketch path
# (src/sketch.c) holds a 24-byte entry for every index entry of the
# project, and every row its ranking queries returned, until the search
# ends: memory grows with the project, and work_mem does not bound it.
# Here: 400,000 chunks, k = 10,000, a metadata filter no chunk passes (the
# batches never prove anything).  The backend's peak resident memory
# (VmHWM, with shared_buffers kept small so that shared pages weigh
# little) may exceed the plain path's by a few megabytes, not by tens.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use UnifiedTest;

my $node = preloaded_node('sketchmem', q{
unified_pg.maintenance_interval = 0
shared_buffers = 16MB
work_mem = 4MB
autovacuum = off
});
$node->safe_psql('postgres', q{
	CREATE EXTENSION unified_pg;
	INSERT INTO unified.chunks (source, source_id, project_id, content, embedding, metadata)
	SELECT 'claude_context', 'm-' || i, 'mem', 'c',
	       ARRAY[sin(i), cos(i), sin(i * 7), cos(i * 13)]::real[], '{"b": 1}'
	  FROM generate_series(1, 400000) i;
	ANALYZE unified.chunks;
});

# Peak resident memory (MB) of a fresh backend running the search; with
# $plain, without the sketch index (dropped in a transaction rolled back).
sub peak_mb
{
	my ($plain) = @_;
	my $drop = $plain ? 'DROP INDEX unified.chunks_project_sketch_idx;' : '';
	my $out = $node->safe_psql('postgres', qq{
		BEGIN;
		$drop
		SELECT count(*) FROM unified.search_chunks('{1,0.5,0.25,0.125}', 10000, 'mem', NULL, NULL, '{"b": 2}');
		ROLLBACK;
		SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
		                     'VmHWM:\\s+(\\d+) kB'))[1]::bigint / 1024;
	});
	my @lines = split /\n/, $out;
	return $lines[-1];
}

my $plain = peak_mb(1);
my $sketch = peak_mb(0);
note("peak RSS: plain path $plain MB, sketch path $sketch MB");
cmp_ok($sketch, '<=', $plain + 16,
	"the sketch path's peak memory ($sketch MB) stays within 16 MB of the plain path's ($plain MB)");

$node->stop;
done_testing();
