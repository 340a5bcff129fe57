# Without shared_preload_libraries: CREATE EXTENSION works, plain SQL
# objects work, and functions that need shared memory fail with SQLSTATE
# 55000 and a hint naming shared_preload_libraries.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('plain');
$node->init;
$node->start;

is($node->psql('postgres', 'CREATE EXTENSION unified_pg'), 0,
	'CREATE EXTENSION works without preload');
is( $node->safe_psql('postgres',
		q{INSERT INTO unified.chunks (source, source_id, project_id, content)
		  VALUES ('claude_context', 'c1', 'p', 'x') RETURNING source_id}),
	'c1', 'storage works without preload');

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT * FROM unified.worker_status()");
isnt($ret, 0, 'worker_status fails without preload');
like($stderr, qr/55000/, 'with SQLSTATE 55000');
like($stderr, qr/HINT:.*shared_preload_libraries/, 'and a hint naming shared_preload_libraries');

is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'unified_pg %'}),
	'0', 'no worker runs without preload');

is($node->psql('postgres', 'DROP EXTENSION unified_pg'), 0, 'DROP EXTENSION works');
$node->stop;

done_testing();
