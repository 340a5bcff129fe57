# The flush budget's crash points that the crash matrix (010) does not
# reach, and the per-role limit of prepared transactions.
#
#  - begin_distributed commits without waiting for a flush.  Crash right
#    after it (immediate stop, the WAL writer parked by a long delay): the
#    row may be lost, and then a participant prepared afterwards is an
#    orphan that the resolver rolls back at its next pass, and
#    commit_distributed cannot commit it; if the row survived, the
#    transaction commits normally.  Either way nothing is half done.
#  - An orphan gid is rolled back at the next pass, not after the timeout.
#  - unified_pg.max_prepared_per_role (default: a quarter of
#    max_prepared_transactions) refuses one more PREPARE with SQLSTATE
#    53400, holds under eight concurrent PREPAREs of one role, and exempts
#    superusers.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('dtx_flush');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'unified_pg'
unified_pg.database = 'postgres'
unified_pg.resolver_naptime = '100ms'
unified_pg.in_doubt_timeout = '1h'
max_prepared_transactions = 20
wal_writer_delay = '10s'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION unified_pg;
CREATE TABLE work (tx text, who text);
CREATE ROLE lim LOGIN;
CREATE ROLE lim2 LOGIN;
GRANT ALL ON work TO lim, lim2;
});

# ---- an unflushed begin, then a crash ----
$node->safe_psql('postgres', "SELECT unified.begin_distributed('ub', ARRAY['claude'])");
$node->stop('immediate');
$node->start;
my $kept = $node->safe_psql('postgres', "SELECT count(*) FROM unified.transaction_log WHERE tx_id = 'ub'");
note('the unflushed begin ' . ($kept ? 'survived' : 'was lost') . ' the crash');
$node->safe_psql('postgres', q{BEGIN; INSERT INTO work VALUES ('ub', 'claude'); PREPARE TRANSACTION 'unified:ub:claude';});
if ($kept)
{
	$node->safe_psql('postgres', "CALL unified.commit_distributed('ub')");
	is($node->safe_psql('postgres', "SELECT count(*) FROM work WHERE tx = 'ub'"), '1',
		'begin survived: the transaction commits');
}
else
{
	my ($ret, $out, $err) = $node->psql('postgres', "CALL unified.commit_distributed('ub')");
	like($err, qr/does not exist/, 'begin lost: the transaction cannot be committed');
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 0 FROM pg_prepared_xacts WHERE gid = 'unified:ub:claude'"),
		'begin lost: its participant is an orphan, rolled back');
	is($node->safe_psql('postgres', "SELECT count(*) FROM work WHERE tx = 'ub'"), '0',
		'begin lost: nothing of it is committed');
}

# ---- an orphan is rolled back at the next pass, not after the hour ----
$node->safe_psql('postgres', q{BEGIN; INSERT INTO work VALUES ('orphan', 'a'); PREPARE TRANSACTION 'unified:orphan:a';});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_prepared_xacts WHERE gid = 'unified:orphan:a'"),
	'an orphan gid is rolled back by the next resolver pass');
ok($node->log_contains(
		qr/unified_pg resolver: rolling back prepared transaction "unified:orphan:a" \(decision: none; reason: no log row\)/),
	'the resolver logs the action, the decision and the reason');

# ---- unified_pg.max_prepared_per_role ----
is($node->safe_psql('postgres', 'SHOW unified_pg.max_prepared_per_role'), '-1',
	'the default is -1: a quarter of max_prepared_transactions');
for my $i (1 .. 5)
{
	$node->safe_psql('postgres', "BEGIN; INSERT INTO work VALUES ('lim', '$i'); PREPARE TRANSACTION 'lim-$i';",
		extra_params => [ '-U', 'lim' ]);
}
my ($ret, $out, $err) = $node->psql('postgres',
	"BEGIN; INSERT INTO work VALUES ('lim', '6'); PREPARE TRANSACTION 'lim-6';",
	extra_params => [ '-U', 'lim', '-v', 'VERBOSITY=verbose' ]);
like($err, qr/53400: role "lim" already holds 5 prepared transactions/, 'the sixth PREPARE of a role fails with 53400');
like($err, qr/unified_pg.max_prepared_per_role is 5/, 'the error names the limit');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_prepared_xacts WHERE owner = 'lim'"), '5',
	'the role holds five prepared transactions');
$node->safe_psql('postgres', "ROLLBACK PREPARED 'lim-5'");
$node->safe_psql('postgres', "BEGIN; PREPARE TRANSACTION 'lim-7';", extra_params => [ '-U', 'lim' ]);
pass('once one is finished, the role may prepare again');
for my $i (1 .. 7)
{
	$node->safe_psql('postgres', "BEGIN; PREPARE TRANSACTION 'su-$i';");
}
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'su-%'"), '7',
	'superusers are exempt');
$node->safe_psql('postgres', q{
SELECT pg_catalog.count(*) FROM (SELECT gid FROM pg_prepared_xacts) g;
});
for my $g (split /\n/, $node->safe_psql('postgres', 'SELECT gid FROM pg_prepared_xacts'))
{
	$node->safe_psql('postgres', "ROLLBACK PREPARED '$g'");
}

# Eight clients of one role prepare at once, with a limit of three.
$node->safe_psql('postgres', q{
ALTER SYSTEM SET unified_pg.max_prepared_per_role = 3;
SELECT pg_reload_conf();
});
$node->poll_query_until('postgres', "SELECT current_setting('unified_pg.max_prepared_per_role') = '3'")
  or die 'setting not reloaded';
my $script = $node->basedir . '/prepare.sql';
open my $fh, '>', $script or die $!;
print $fh "\\set r random(1, 1000000000)\nBEGIN;\nINSERT INTO work VALUES ('race', 'x');\nPREPARE TRANSACTION 'race-:client_id-:r';\n";
close $fh;
my ($pout, $perr) = ('', '');
IPC::Run::run(
	[ 'pgbench', '-n', '-c', '8', '-j', '8', '-t', '3', '-f', $script, '-U', 'lim2', '-d', $node->connstr('postgres') ],
	'>', \$pout, '2>', \$perr);
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_prepared_xacts WHERE owner = 'lim2'"), '3',
	'eight concurrent clients of one role end with exactly the limit prepared');
like($perr, qr/already holds 3 prepared transactions/, 'the others were refused');
for my $g (split /\n/, $node->safe_psql('postgres', 'SELECT gid FROM pg_prepared_xacts'))
{
	$node->safe_psql('postgres', "ROLLBACK PREPARED '$g'");
}

# ---- a server's own commit_delay is the operator's policy, kept ----
# The shared COMMIT PREPARED flush sets commit_delay = 100 us with
# commit_siblings = 0 only where none is set.  A server with commit_delay
# = 100 ms and commit_siblings = 1000 never sleeps here (one session): its
# commits take milliseconds, where forcing its delay with commit_siblings 0
# would make every COMMIT PREPARED sleep 100 ms.  (PostgreSQL sleeps
# commit_delay only with fsync on, which test clusters turn off.)
$node->safe_psql('postgres', q{
ALTER SYSTEM SET fsync = on;
ALTER SYSTEM SET commit_delay = 100000;
ALTER SYSTEM SET commit_siblings = 1000;
SELECT pg_reload_conf();
});
$node->poll_query_until('postgres', "SELECT current_setting('commit_delay') = '100000'");
my @times;
for my $i (1 .. 5)
{
	my $tx = "delay$i";
	$node->safe_psql('postgres', qq{
SELECT unified.begin_distributed('$tx', '{claude,cognee}');
BEGIN; INSERT INTO work VALUES ('$tx', 'claude'); PREPARE TRANSACTION 'unified:$tx:claude';
BEGIN; INSERT INTO work VALUES ('$tx', 'cognee'); PREPARE TRANSACTION 'unified:$tx:cognee';
});
	my $out = $node->safe_psql('postgres', "\\timing on\nCALL unified.commit_distributed('$tx');");
	push @times, $1 if $out =~ /Time: ([0-9.]+) ms/;
}
@times = sort { $a <=> $b } @times;
is(scalar(@times), 5, 'five commits timed');
cmp_ok($times[2], '<', 60,
	"with the server's commit_delay = 100 ms and commit_siblings = 1000 a commit does not sleep it (median $times[2] ms)");
is($node->safe_psql('postgres', q{SELECT count(*) FROM work WHERE tx LIKE 'delay%'}), '10',
	'and every participant is committed');
$node->safe_psql('postgres', q{
ALTER SYSTEM RESET fsync;
ALTER SYSTEM RESET commit_delay;
ALTER SYSTEM RESET commit_siblings;
SELECT pg_reload_conf();
});

$node->stop;
done_testing();
