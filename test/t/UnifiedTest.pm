# Shared set-up of the TAP tests (test/t/*.pl): what most of them start
# with.  A test loads it with
#
#   use FindBin;
#   use lib $FindBin::RealBin;
#   use UnifiedTest;
#
# and keeps everything particular to it in its own file.
package UnifiedTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use Test::More;

our @EXPORT = qw(preloaded_node skip_without_pgvector);

# A started cluster named $name with unified_pg preloaded for the database
# postgres, and $conf (postgresql.conf lines, optional) after that.
sub preloaded_node
{
	my ($name, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'unified_pg'\nunified_pg.database = 'postgres'\n" . ($conf // ''));
	$node->start;
	return $node;
}

# Skip the whole test, saying why, when $node's server has no pgvector 0.8
# or later to create.
sub skip_without_pgvector
{
	my ($node) = @_;
	return
	  if $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_available_extension_versions WHERE name = 'vector' AND version >= '0.8'")
	  ne '0';
	$node->stop;
	plan skip_all => 'pgvector 0.8 or later is not installed on this server '
	  . '(scripts/deps.sh installs it from the postgresql-15-pgvector package or ../shared/deps/pgvector-0.8.6.tar.gz)';
}

1;
