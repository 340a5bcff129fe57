# The text form of upsert_chunks on batches built to hurt its parser:
# memory stays proportional to the input (a batch of 16 MB of tiny
# elements with "embedding": [] must not take more than the jsonb form
# does: each element used to get a 4 kB embedding buffer however short its
# embedding), and a long parse can be cancelled (statement_timeout ends it
# with 57014, not with the batch's own error once the parse is over).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use UnifiedTest;

my $node = preloaded_node('upserttext', q{
unified_pg.maintenance_interval = 0
});
$node->safe_psql('postgres', 'CREATE EXTENSION unified_pg');

# just under 16 MB of elements, each invalid (no owner), so both forms fail
# on chunk 1 once the whole batch is read
sub batch
{
	my ($element) = @_;
	my $n = int((16 * 1024 * 1024 - 2) / (length($element) + 1));
	return '[' . join(',', ($element) x $n) . ']';
}

# The peak resident memory (VmHWM, MB) of a fresh backend that parses
# $batch in form $form, and the error it got.
sub peak_rss
{
	my ($form, $batch) = @_;
	my $file = $node->basedir . "/batch.json";
	open my $fh, '>', $file or die $!;
	print $fh $batch;
	close $fh;
	my ($ret, $out, $err) = $node->psql('postgres', qq{
		SELECT pg_read_file('$file') AS b \\gset
		SELECT unified.upsert_chunks_parse(:'b'::$form) IS NULL;
		SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
		                     'VmHWM:\\s+(\\d+) kB'))[1]::bigint / 1024;
	}, on_error_stop => 0);
	return ($out, $err);
}

my $tiny = batch('{"source":"","source_id":"","content":"","embedding":[]}');
my ($text_mb, $text_err) = peak_rss('text', $tiny);
my ($jsonb_mb, $jsonb_err) = peak_rss('jsonb', $tiny);
like($text_err, qr/invalid chunk 1 in upsert_chunks/, 'text form: the batch\'s own error');
like($jsonb_err, qr/invalid chunk 1 in upsert_chunks/, 'jsonb form: the same error');
note("peak RSS: text form $text_mb MB, jsonb form $jsonb_mb MB");
# the psql variable holds the 16 MB text twice in both sessions; the
# parser's own share is what differs
ok($text_mb > 0 && $text_mb <= $jsonb_mb,
	"text form's peak memory ($text_mb MB) no more than the jsonb form's ($jsonb_mb MB)");

# cancellation: batches whose parse takes well over 10 ms on any machine
# (5.5 million empty objects; one element of 1.2 million unknown keys),
# read in the same statement, so that nothing but pg_read_file and the
# parse runs once the timeout is due: the parse must stop with 57014, not
# finish and raise the batch's own 22023
my %cancel = (
	'empty objects' => '[' . join(',', ('{}') x 5500000) . ']',
	'unknown keys' => '[{' . join(',', map { sprintf('"k%07d":0', $_) } 1 .. 1200000) . '}]');
foreach my $kind (sort keys %cancel)
{
	my $file = $node->basedir . "/cancel.json";
	open my $fh, '>', $file or die $!;
	print $fh $cancel{$kind};
	close $fh;
	my ($ret, $out, $err) = $node->psql('postgres', qq{
		SET statement_timeout = '10ms';
		SELECT unified.upsert_chunks_parse(pg_read_file('$file')) IS NULL;
	}, on_error_stop => 0);
	like($err, qr/canceling statement due to statement timeout/,
		"$kind: a long parse of the text form is cancelled by statement_timeout");
}

$node->stop;
done_testing();
