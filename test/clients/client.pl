#!/usr/bin/perl
# The real-client script for Cache::Memcached (Debian libcache-memcached-perl).
#
#     client.pl HOST PORT PREFIX
#
# Runs the same sequence as client.py, client.php and client.cjs and prints one `step=result` line
# per step, so a run straight against memcached and a run through memshift can be compared line by
# line. Every key starts with PREFIX. See test/integration/real-clients.test.ts.
#
# Cache::Memcached 1.30 has no gets, cas or touch. Those steps send the text command on the
# library's own socket for the key (get_sock) with the library's own request/reply routine
# (_write_and_read), the way code built on Cache::Memcached adds commands it lacks.
use strict;
use warnings;
use Cache::Memcached;
use Time::HiRes qw(sleep);

my ($host, $port, $prefix) = @ARGV;
die "usage: client.pl HOST PORT PREFIX\n" unless defined $prefix;
$| = 1;

my $SPACE = "two words, a\ttab, CRLF\r\ninside, 'quotes' \"dq\", UTF-8 \xc3\xa9 \xe2\x9c\x93, end ";
my $BIG = substr("0123456789abcdefghijklmnopqrstuvwxyz" x 2900, 0, 102400);
my @SMALL = map { "k$_:small" } 0 .. 9;

my $memd = Cache::Memcached->new({ servers => ["$host:$port"], connect_timeout => 5, select_timeout => 5 });

sub k { return $prefix . $_[0]; }
sub out { print "$_[0]=$_[1]\n"; }
sub tf { return $_[0] ? 'true' : 'false'; }
sub number { return defined $_[0] ? "$_[0]" : 'miss'; }

sub show {
  my ($v) = @_;
  return 'miss' unless defined $v;
  return 'match' if $v eq $SPACE;
  return length($v) . ':match' if $v eq $BIG;
  return $v if $v =~ /\A[\x20-\x7e]*\z/;
  return 'differs:' . length($v) . ':' . unpack('H*', substr($v, 0, 64));
}

# One text command on the library's socket for KEY; the reply up to a line matching $done.
sub raw {
  my ($key, $line, $done) = @_;
  my $sock = $memd->get_sock($key) or die "no socket for $key\n";
  my $complete = sub { my $r = shift; return defined $$r && $$r =~ $done; };
  my $reply = Cache::Memcached::_write_and_read($memd, $sock, $line, $complete);
  die "no reply to $line" unless defined $reply;
  return $reply;
}

sub gets {
  my ($key) = @_;
  my $reply = raw($key, "gets $key\r\n", qr/(?:^|\n)END\r\n\z/);
  return (undef, undef) if $reply eq "END\r\n";
  $reply =~ /\AVALUE \S+ \d+ (\d+) (\d+)\r\n/ or die "gets $key: unexpected reply $reply";
  return (substr($reply, length($&), $1), $2);
}

sub cas {
  my ($key, $value, $token) = @_;
  my $reply = raw($key, "cas $key 0 0 " . length($value) . " $token\r\n$value\r\n", qr/\r\n\z/);
  return { "STORED\r\n" => 'true', "EXISTS\r\n" => 'exists', "NOT_FOUND\r\n" => 'not_found' }->{$reply} // "error:$reply";
}

sub touch {
  my ($key, $exptime) = @_;
  my $reply = raw($key, "touch $key $exptime\r\n", qr/\r\n\z/);
  return { "TOUCHED\r\n" => 'true', "NOT_FOUND\r\n" => 'false' }->{$reply} // "error:$reply";
}

out('set_a', tf($memd->set(k('a'), 'alpha')));
out('set_b', tf($memd->set(k('b'), 'beta')));
out('set_c', tf($memd->set(k('c'), 'gamma')));
out('set_space', tf($memd->set(k('space'), $SPACE)));
out('set_big', tf($memd->set(k('big'), $BIG)));
my $all = 1;
for my $s (@SMALL) { $all = 0 unless $memd->set(k($s), 'v' . substr($s, 1)); }
out('set_k', tf($all));

out('get_a', show($memd->get(k('a'))));
out('get_space', show($memd->get(k('space'))));
out('get_big', show($memd->get(k('big'))));
out('get_missing', show($memd->get(k('missing'))));

my @names = ('a', 'b', 'c', 'space', 'big', 'missing', @SMALL);
my $found = $memd->get_multi(map { k($_) } @names);
out('get_multi', join(',', map { substr($_, length $prefix) . ':' . show($found->{$_}) } sort keys %$found));

out('delete_a', tf($memd->delete(k('a'))));
out('get_deleted', show($memd->get(k('a'))));
out('delete_again', tf($memd->delete(k('a'))));

out('set_counter', tf($memd->set(k('counter'), '10')));
out('incr', number($memd->incr(k('counter'), 5)));
out('decr', number($memd->decr(k('counter'), 3)));
out('decr_below_zero', number($memd->decr(k('counter'), 100)));
out('incr_missing', number($memd->incr(k('nocounter'), 1)));

out('set_cas', tf($memd->set(k('cas'), 'v1')));
my ($value, $token) = gets(k('cas'));
out('gets_cas', show($value) . (defined $token ? '' : ':no-token'));
out('cas', cas(k('cas'), 'v2', $token));
out('cas_stale', cas(k('cas'), 'v3', $token));
out('get_cas', show($memd->get(k('cas'))));
out('cas_missing', cas(k('nocas'), 'v', $token));

out('set_touch', tf($memd->set(k('touch'), 't')));
out('touch', touch(k('touch'), 100));
out('get_touched', show($memd->get(k('touch'))));
out('touch_missing', touch(k('notouch'), 100));
out('touch_expire', touch(k('touch'), 1));
sleep(2.5);
out('get_expired', show($memd->get(k('touch'))));

out('add_existing', tf($memd->add(k('b'), 'other')));
out('get_after_add', show($memd->get(k('b'))));
out('add_new', tf($memd->add(k('added'), 'new')));
out('replace_missing', tf($memd->replace(k('noreplace'), 'x')));
out('replace', tf($memd->replace(k('c'), 'gamma2')));
out('get_replaced', show($memd->get(k('c'))));
out('append', tf($memd->append(k('b'), '-post')));
out('prepend', tf($memd->prepend(k('b'), 'pre-')));
out('get_appended', show($memd->get(k('b'))));

$memd->disconnect_all;
