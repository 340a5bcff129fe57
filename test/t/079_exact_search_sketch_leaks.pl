# What a role learns from the exact search of a project it cannot see,
# beyond its (empty) result.  unified.search_chunks(q, k, project_id => p)
# reads chunks_project_sketch_idx in C, past row-level security, and
# reports what it read at DEBUG1: any role may SET client_min_messages =
# debug1, so a tenant-scoped Claude-Context role or a Cognee role would
# learn the number of another tenant's chunks (dead versions included),
# and of which dimensions.  The plain exact path says nothing of the kind;
# nor may this.  SECURITY.md's remedy for the statistics counters (revoke
# them from PUBLIC) is applied here: it must leave nothing to count.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use UnifiedTest;

my $node = preloaded_node('sketchleak', q{
unified_pg.maintenance_interval = 0
lc_messages = 'C'
});
$node->safe_psql('postgres', q{
	CREATE EXTENSION unified_pg;
	CREATE ROLE leak_scoped LOGIN IN ROLE claude_user;
	CREATE ROLE leak_cognee LOGIN IN ROLE cognee_user;
	SELECT unified.grant_project('leak_scoped', 'mine');
	REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_tuples_returned(oid), pg_catalog.pg_stat_get_tuples_fetched(oid),
	    pg_catalog.pg_stat_get_xact_tuples_returned(oid), pg_catalog.pg_stat_get_xact_tuples_fetched(oid),
	    pg_catalog.pg_stat_get_blocks_fetched(oid), pg_catalog.pg_stat_get_blocks_hit(oid),
	    pg_catalog.pg_stat_get_xact_blocks_fetched(oid), pg_catalog.pg_stat_get_xact_blocks_hit(oid),
	    pg_catalog.pg_stat_get_numscans(oid), pg_catalog.pg_stat_get_xact_numscans(oid) FROM PUBLIC;
	SELECT setseed(0.5);
	INSERT INTO unified.chunks (source, source_id, project_id, content, embedding)
	SELECT 'claude_context', 'sec-' || i, 'secret', 'secret ' || i,
	       array(SELECT (random() - 0.5)::real FROM generate_series(1, 16) WHERE i > 0)
	  FROM generate_series(1, 1234) i;
	INSERT INTO unified.chunks (source, source_id, project_id, content, embedding)
	VALUES ('claude_context', 'sec-probe', 'secret', 'probe', array_fill(1::real, ARRAY[16]));
});

# What the client receives for one search as $role at debug1.
sub messages
{
	my ($role, $q, $project) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', qq{
		SET ROLE $role;
		SET client_min_messages = debug1;
		SELECT count(*) FROM unified.search_chunks('$q'::real[], 1, '$project');
	}, on_error_stop => 0);
	is($out, '0', "$role finds nothing in $project ($q)");
	# (any unrelated DEBUG line, e.g. of the planner, would be the same for
	# both; the echo of the statement itself, log_statement = all, differs)
	return join("\n", grep { !/LOG:  statement: / } split(/\n/, $err));
}

my $q16 = '{' . join(',', (1) x 16) . '}';
my $q17 = '{' . join(',', (1) x 17) . '}';
foreach my $role ('leak_scoped', 'leak_cognee')
{
	my $secret = messages($role, $q16, 'secret');
	my $none = messages($role, $q16, 'no-such-project');
	unlike($secret, qr/1235|1234/, "$role: the number of another tenant's chunks is not reported");
	is($secret, $none, "$role: an invisible project looks like a project that does not exist");
	is(messages($role, $q17, 'secret'), $secret,
		"$role: nor are its embeddings' dimensions told apart (16, not 17)");
}

$node->stop;
done_testing();
