# pg_dump and restore keep every chunk: rows in partitions made at install
# time, in the default partition and in partitions made later, with their
# uniqueness keys and the id sequence.  With unified_pg.restoring = on and
# unified.finish_restore() afterwards, the restore runs without errors and
# ends with exactly the indexes of the source; without the switch the
# restore reports errors, and still loses no row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
CREATE EXTENSION unified_pg;
SELECT unified.create_monthly_partition('2030-01-01');
INSERT INTO unified.chunks (source, source_id, project_id, content, created_at) VALUES
  ('claude_context', 'now',     'p', 'this month',        now()),
  ('claude_context', 'next',    'p', 'next month',        now() + interval '1 month'),
  ('claude_context', 'old',     'p', 'default partition', '2019-01-01 00:00:00+00'),
  ('claude_context', 'later',   'p', 'later partition',   '2030-01-05 00:00:00+00');
INSERT INTO unified.chunks (source, source_collection, source_id, cognee_dataset_id, content, metadata)
SELECT 'cognee', 'DocumentChunk_text', g::text, '11111111-1111-1111-1111-111111111111',
       'memory ' || g, jsonb_build_object('i', g)
  FROM generate_series(1, 500) g;
});

my $summary = q{
SELECT count(*), md5(string_agg(id || ':' || source_id || ':' || encode(content_hash, 'hex') || ':' || created_at, ',' ORDER BY id)),
       (SELECT count(*) FROM unified.chunk_keys),
       (SELECT count(*) FROM (SELECT source, source_collection, source_id FROM unified.chunks
                              EXCEPT SELECT * FROM unified.chunk_keys) x),
       (SELECT count(*) FROM (SELECT * FROM unified.chunk_keys
                              EXCEPT SELECT source, source_collection, source_id FROM unified.chunks) y)
  FROM unified.chunks};
my $parts = q{SELECT string_agg(inhrelid::regclass::text, ',' ORDER BY inhrelid::regclass::text) FROM pg_inherits
               WHERE inhparent = 'unified.chunks'::regclass};
my $src_summary = $node->safe_psql('src', $summary);
my $src_parts = $node->safe_psql('src', $parts);
like($src_summary, qr/^504\|\w+\|504\|0\|0$/, 'source has all rows, each with its key and no other key');

my $dump = $node->basedir . '/src.dump';
$node->command_ok(
	[ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ],
	'pg_dump succeeds');

# Restore as documented: switch on, pre-data and data, finish_restore(),
# post-data.  No errors at all.
$node->safe_psql('postgres', 'CREATE DATABASE dst');
{
	local $ENV{PGOPTIONS} = '-c unified_pg.restoring=on';
	$node->command_ok(
		[
			'pg_restore', '--exit-on-error', '--section=pre-data',
			'--section=data', '-d', $node->connstr('dst'), $dump
		],
		'pre-data and data restore without errors');
}
is($node->safe_psql('dst', 'SELECT unified.finish_restore()'), '8',
	'finish_restore creates the primary key and seven indexes');
$node->command_ok(
	[
		'pg_restore', '--exit-on-error', '--section=post-data',
		'-d', $node->connstr('dst'), $dump
	],
	'post-data restores without errors');
is($node->safe_psql('dst', $summary), $src_summary,
	'every chunk, its content hash and its key are restored');
my $indexes = q{
SELECT string_agg(c.relname || '=' || x.n, ',' ORDER BY c.relname)
  FROM (SELECT indrelid, count(*) AS n FROM pg_index GROUP BY indrelid) x
  JOIN pg_class c ON c.oid = x.indrelid
 WHERE c.oid = 'unified.chunks'::regclass
    OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'unified.chunks'::regclass)};
my $invalid = q{SELECT count(*) FROM pg_index WHERE NOT indisvalid};
my $loose = q{
SELECT count(*) FROM pg_index i JOIN pg_inherits p ON p.inhrelid = i.indrelid
 WHERE p.inhparent = 'unified.chunks'::regclass
   AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)};
is($node->safe_psql('dst', $indexes), $node->safe_psql('src', $indexes),
	'every partition has the same indexes as in the source, no duplicates');
is($node->safe_psql('dst', $loose), '0',
	'every partition index is attached to its parent index');
is($node->safe_psql('dst', $invalid), '0', 'every index is valid');
is( $node->safe_psql('dst', 'SELECT count(*) FROM unified.restore_pending'),
	'0', 'nothing is left pending');
is($node->safe_psql('dst', $parts), $src_parts, 'the same partitions exist');

my ($ret, $out, $err) = $node->psql('dst',
	q{INSERT INTO unified.chunks (source, source_id, project_id, content)
	  VALUES ('claude_context', 'old', 'p', 'duplicate')});
like($err, qr/duplicate key value violates uniqueness/,
	'uniqueness of source rows still holds after the restore');
is( $node->safe_psql('dst',
		q{INSERT INTO unified.chunks (source, source_id, project_id, content)
		  VALUES ('claude_context', 'fresh', 'p', 'new') RETURNING id > 504}),
	't', 'new ids continue after the restored ones');

# Switch on but everything restored at once, finish_restore() last: the
# dump's ALTER INDEX ... ATTACH statements fail, finish_restore() adopts the
# partitions' indexes, and the end state is the same.
$node->safe_psql('postgres', 'CREATE DATABASE dst3');
{
	local $ENV{PGOPTIONS} = '-c unified_pg.restoring=on';
	system_log('pg_restore', '-d', $node->connstr('dst3'), $dump);
}
is($node->safe_psql('dst3', 'SELECT unified.finish_restore()'), '8',
	'finish_restore after post-data');
is($node->safe_psql('dst3', $summary), $src_summary, 'every row is there');
is($node->safe_psql('dst3', $indexes), $node->safe_psql('src', $indexes),
	'the same indexes as in the source');
is($node->safe_psql('dst3', $loose) . '/' . $node->safe_psql('dst3', $invalid),
	'0/0', 'all attached and valid');

# Restore without the switch: errors for the partitions CREATE EXTENSION
# made, but no row is lost.
$node->safe_psql('postgres', 'CREATE DATABASE dst2');
system_log('pg_restore', '-d', $node->connstr('dst2'), $dump);
is($node->safe_psql('dst2', $summary), $src_summary,
	'without the switch, pg_restore (continuing past its errors) still restores every row');

$node->stop;
done_testing();
