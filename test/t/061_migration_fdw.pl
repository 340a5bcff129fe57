# Cognee with one database per dataset, each named by the dataset's uuid:
# its collections are migrated through postgres_fdw foreign tables, and
# the dataset id is the foreign server's dbname.  Both datasets are
# registered in unified.migration_sources and migrated, verified, by
# unified.migrate_to_unified().
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use UnifiedTest;

my $node = preloaded_node('migration_fdw', q{
unified_pg.maintenance_interval = 0
lc_messages = 'C'
});
$node->safe_psql('postgres', 'CREATE EXTENSION unified_pg');
$node->safe_psql('postgres', 'CREATE EXTENSION postgres_fdw');

my %datasets = (
	'3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c' => 120,
	'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d' => 45);

my $n = 0;
for my $ds (sort keys %datasets)
{
	$n++;
	my $rows = $datasets{$ds};
	$node->safe_psql('postgres', qq{CREATE DATABASE "$ds"});
	# Cognee's collection layout, as its pgvector adapter creates it
	$node->safe_psql($ds, qq{
CREATE TABLE "DocumentChunk_text" (id uuid PRIMARY KEY, payload json, vector real[]);
INSERT INTO "DocumentChunk_text"
SELECT md5('$ds' || i)::uuid,
       json_build_object('id', md5('$ds' || i)::uuid, 'text', 'dataset $n chunk ' || i,
                         'chunk_index', i, 'document_id', md5('$ds')::uuid,
                         'belongs_to_set', json_build_array(), 'type', 'IndexSchema', 'version', 1,
                         'created_at', 1730000000000 + i, 'updated_at', 1730000000000 + i,
                         'metadata', json_build_object('index_fields', json_build_array('text'))),
       ARRAY[i, $n, 0.5]::real[]
  FROM generate_series(1, $rows) AS i;
UPDATE "DocumentChunk_text" SET payload = '{"chunk_index": 1}' WHERE payload->>'chunk_index' = '7';
});
	my $host = $node->host;
	my $port = $node->port;
	$node->safe_psql('postgres', qq{
CREATE SERVER cognee_ds$n FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (dbname '$ds', host '$host', port '$port');
CREATE USER MAPPING FOR CURRENT_USER SERVER cognee_ds$n;
CREATE SCHEMA cognee_ds$n;
IMPORT FOREIGN SCHEMA public LIMIT TO ("DocumentChunk_text") FROM SERVER cognee_ds$n INTO cognee_ds$n;
INSERT INTO unified.migration_sources (kind, source, batch_size)
VALUES ('cognee', 'cognee_ds$n."DocumentChunk_text"', 20);
});
}

my ($ret, $out, $err) = $node->psql('postgres', 'CALL unified.migrate_to_unified()');
is($ret, 0, 'migrate_to_unified migrates both foreign tables');

$n = 0;
for my $ds (sort keys %datasets)
{
	$n++;
	my $rows = $datasets{$ds};
	is($node->safe_psql('postgres', qq{
SELECT dataset_id, dataset_from, state, migrated, skipped, rejected
  FROM unified.migrations WHERE source = 'cognee_ds$n."DocumentChunk_text"'}),
		"$ds|server dbname|completed|" . ($rows - 1) . "|0|1",
		"dataset $n: its id is the server's dbname, every row migrated or rejected");
	is($node->safe_psql('postgres', qq{
SELECT count(*), count(DISTINCT cognee_dataset_id), min(cognee_dataset_id::text)
  FROM unified.chunks WHERE content LIKE 'dataset $n chunk %'}),
		($rows - 1) . "|1|$ds", "dataset $n: its chunks carry its dataset id");
	is($node->safe_psql('postgres', qq{
SELECT reason FROM unified.migration_rejects j JOIN unified.migrations m ON m.id = j.migration_id
 WHERE m.source = 'cognee_ds$n."DocumentChunk_text"'}),
		'payload has no text', "dataset $n: the row without text is rejected with its reason");
	like($node->safe_psql('postgres', qq{
SELECT last_status FROM unified.migration_sources WHERE source = 'cognee_ds$n."DocumentChunk_text"'::regclass}),
		qr/^verified: migrated ${\ ($rows - 1)}, skipped 0, rejected 1$/, "dataset $n: verified");
}

# The same sources again add nothing.
($ret, $out, $err) = $node->psql('postgres', 'CALL unified.migrate_to_unified()');
is($ret, 0, 'migrate_to_unified runs again');
is($node->safe_psql('postgres', 'SELECT count(*) FROM unified.chunks'),
	120 + 45 - 2, 'a second run adds no row');
like($node->safe_psql('postgres', q{
SELECT string_agg(last_status, '; ' ORDER BY id) FROM unified.migration_sources}),
	qr/^verified: migrated 0, skipped 119, rejected 1; verified: migrated 0, skipped 44, rejected 1$/,
	'the second runs skip every stored row');

$node->stop;
done_testing();
