<?php
// The real-client script for PHP's memcached extension (Debian php-cli and php-memcached, on
// libmemcached).
//
//     php client.php HOST PORT PREFIX
//
// Runs the same sequence as client.py, client.pl and client.cjs and prints one `step=result` line
// per step, so a run straight against memcached and a run through memshift can be compared line by
// line. Every key starts with PREFIX. See test/integration/real-clients.test.ts.

if ($argc < 4) {
    fwrite(STDERR, "usage: client.php HOST PORT PREFIX\n");
    exit(2);
}
[, $host, $port, $prefix] = $argv;

$SPACE = "two words, a\ttab, CRLF\r\ninside, 'quotes' \"dq\", UTF-8 \u{e9} \u{2713}, end ";
$BIG = substr(str_repeat('0123456789abcdefghijklmnopqrstuvwxyz', 2900), 0, 102400);
$SMALL = array_map(fn ($i) => "k$i:small", range(0, 9));

$m = new Memcached();
// Send the values as they are (the extension compresses values over 2000 bytes by default, and
// refuses append/prepend while compression is on).
$m->setOption(Memcached::OPT_COMPRESSION, false);
$m->setOption(Memcached::OPT_CONNECT_TIMEOUT, 5000);
$m->setOption(Memcached::OPT_RECV_TIMEOUT, 5000000);
$m->setOption(Memcached::OPT_SEND_TIMEOUT, 5000000);
$m->addServer($host, (int) $port);

function k(string $name): string
{
    global $prefix;
    return $prefix . $name;
}

function out(string $step, string $result): void
{
    echo "$step=$result\n";
}

function tf($v): string
{
    global $m;
    if ($v) {
        return 'true';
    }
    $code = $m->getResultCode();
    // Anything but the protocol's own "no" is shown, so a transport error cannot pass as false.
    $no = [Memcached::RES_NOTSTORED, Memcached::RES_NOTFOUND, Memcached::RES_DATA_EXISTS];
    return in_array($code, $no, true) ? 'false' : 'error:' . $code . ':' . $m->getResultMessage();
}

function show($v): string
{
    global $SPACE, $BIG, $m;
    if ($v === false || $v === null) {
        $code = $m->getResultCode();
        return $code === Memcached::RES_NOTFOUND || $code === Memcached::RES_SUCCESS ? 'miss' : 'error:' . $code . ':' . $m->getResultMessage();
    }
    if ($v === $SPACE) {
        return 'match';
    }
    if ($v === $BIG) {
        return strlen($v) . ':match';
    }
    if (preg_match('/\A[\x20-\x7e]*\z/', $v)) {
        return $v;
    }
    return 'differs:' . strlen($v) . ':' . bin2hex(substr($v, 0, 64));
}

function number($v): string
{
    global $m;
    if ($v !== false) {
        return (string) $v;
    }
    return $m->getResultCode() === Memcached::RES_NOTFOUND ? 'miss' : 'error:' . $m->getResultCode() . ':' . $m->getResultMessage();
}

function cas_result(bool $ok): string
{
    global $m;
    if ($ok) {
        return 'true';
    }
    switch ($m->getResultCode()) {
        case Memcached::RES_DATA_EXISTS:
            return 'exists';
        case Memcached::RES_NOTFOUND:
            return 'not_found';
        default:
            return 'error:' . $m->getResultCode() . ':' . $m->getResultMessage();
    }
}

out('set_a', tf($m->set(k('a'), 'alpha')));
out('set_b', tf($m->set(k('b'), 'beta')));
out('set_c', tf($m->set(k('c'), 'gamma')));
out('set_space', tf($m->set(k('space'), $SPACE)));
out('set_big', tf($m->set(k('big'), $BIG)));
$all = true;
foreach ($SMALL as $s) {
    $all = $m->set(k($s), 'v' . substr($s, 1)) && $all;
}
out('set_k', tf($all));

out('get_a', show($m->get(k('a'))));
out('get_space', show($m->get(k('space'))));
out('get_big', show($m->get(k('big'))));
out('get_missing', show($m->get(k('missing'))));

$names = array_merge(['a', 'b', 'c', 'space', 'big', 'missing'], $SMALL);
$found = $m->getMulti(array_map('k', $names));
if ($found === false) {
    out('get_multi', 'error:' . $m->getResultCode() . ':' . $m->getResultMessage());
} else {
    ksort($found, SORT_STRING);
    $parts = [];
    foreach ($found as $key => $v) {
        $parts[] = substr($key, strlen($prefix)) . ':' . show($v);
    }
    out('get_multi', implode(',', $parts));
}

out('delete_a', tf($m->delete(k('a'))));
out('get_deleted', show($m->get(k('a'))));
out('delete_again', tf($m->delete(k('a'))));

out('set_counter', tf($m->set(k('counter'), '10')));
out('incr', number($m->increment(k('counter'), 5)));
out('decr', number($m->decrement(k('counter'), 3)));
out('decr_below_zero', number($m->decrement(k('counter'), 100)));
out('incr_missing', number($m->increment(k('nocounter'), 1)));

out('set_cas', tf($m->set(k('cas'), 'v1')));
$got = $m->get(k('cas'), null, Memcached::GET_EXTENDED);
$token = $got === false ? 0 : $got['cas'];
out('gets_cas', ($got === false ? show(false) : show($got['value'])) . ($token ? '' : ':no-token'));
out('cas', cas_result($m->cas($token, k('cas'), 'v2')));
out('cas_stale', cas_result($m->cas($token, k('cas'), 'v3')));
out('get_cas', show($m->get(k('cas'))));
out('cas_missing', cas_result($m->cas($token, k('nocas'), 'v')));

out('set_touch', tf($m->set(k('touch'), 't')));
out('touch', tf($m->touch(k('touch'), 100)));
out('get_touched', show($m->get(k('touch'))));
out('touch_missing', tf($m->touch(k('notouch'), 100)));
out('touch_expire', tf($m->touch(k('touch'), 1)));
usleep(2500000);
out('get_expired', show($m->get(k('touch'))));

out('add_existing', tf($m->add(k('b'), 'other')));
out('get_after_add', show($m->get(k('b'))));
out('add_new', tf($m->add(k('added'), 'new')));
out('replace_missing', tf($m->replace(k('noreplace'), 'x')));
out('replace', tf($m->replace(k('c'), 'gamma2')));
out('get_replaced', show($m->get(k('c'))));
out('append', tf($m->append(k('b'), '-post')));
out('prepend', tf($m->prepend(k('b'), 'pre-')));
out('get_appended', show($m->get(k('b'))));

$m->quit();
