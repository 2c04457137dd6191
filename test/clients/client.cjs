// The real-client script for the npm `memcached` client (2.2.2, a devDependency).
//
//     node client.cjs HOST PORT PREFIX
//
// Runs the same sequence as client.py, client.pl and client.php and prints one `step=result` line
// per step, so a run straight against memcached and a run through memshift can be compared line by
// line. Every key starts with PREFIX. See test/integration/real-clients.test.ts.
// It runs in its own process: the client patches globals that other libraries trip on.
'use strict';
const Memcached = require('memcached');

const [host, port, prefix] = process.argv.slice(2);
if (prefix === undefined) {
  process.stderr.write('usage: client.cjs HOST PORT PREFIX\n');
  process.exit(2);
}

const SPACE = "two words, a\ttab, CRLF\r\ninside, 'quotes' \"dq\", UTF-8 \u00e9 \u2713, end ";
const BIG = '0123456789abcdefghijklmnopqrstuvwxyz'.repeat(2900).slice(0, 102400);
const SMALL = Array.from({ length: 10 }, (_, i) => `k${i}:small`);

const client = new Memcached(`${host}:${port}`, { retries: 0, timeout: 5000, reconnect: 1000, failures: 0, idle: 30000 });

const k = (name) => `${prefix}${name}`;
const out = (step, result) => process.stdout.write(`${step}=${result}\n`);

/** Calls a client method with a node-style callback; resolves with [err, result]. */
const call = (method, ...args) =>
  new Promise((resolve) => {
    client[method](...args, (err, result) => resolve([err, result]));
  });

/** Storage/delete/touch results: true, false (NOT_STORED/NOT_FOUND/EXISTS), or the error. */
function tf([err, result]) {
  if (err) return err.notStored ? 'false' : `error:${err.message ?? err}`;
  return result ? 'true' : 'false';
}

function show(value) {
  if (value === undefined || value === false) return 'miss';
  if (value === SPACE) return 'match';
  if (value === BIG) return `${value.length}:match`;
  if (typeof value === 'string' && /^[\x20-\x7e]*$/.test(value)) return value;
  const text = String(value);
  return `differs:${typeof value}:${text.length}:${Buffer.from(text.slice(0, 64)).toString('hex')}`;
}

function got([err, value]) {
  return err ? `error:${err.message ?? err}` : show(value);
}

function number([err, value]) {
  if (err) return `error:${err.message ?? err}`;
  return value === false ? 'miss' : String(value);
}

async function main() {
  out('set_a', tf(await call('set', k('a'), 'alpha', 0)));
  out('set_b', tf(await call('set', k('b'), 'beta', 0)));
  out('set_c', tf(await call('set', k('c'), 'gamma', 0)));
  out('set_space', tf(await call('set', k('space'), SPACE, 0)));
  out('set_big', tf(await call('set', k('big'), BIG, 0)));
  let all = true;
  for (const s of SMALL) all = tf(await call('set', k(s), `v${s.slice(1)}`, 0)) === 'true' && all;
  out('set_k', all ? 'true' : 'false');

  out('get_a', got(await call('get', k('a'))));
  out('get_space', got(await call('get', k('space'))));
  out('get_big', got(await call('get', k('big'))));
  out('get_missing', got(await call('get', k('missing'))));

  const names = ['a', 'b', 'c', 'space', 'big', 'missing', ...SMALL];
  const [multiErr, found] = await call('getMulti', names.map(k));
  if (multiErr) out('get_multi', `error:${multiErr.message ?? multiErr}`);
  else {
    const keys = Object.keys(found).sort();
    out('get_multi', keys.map((key) => `${key.slice(prefix.length)}:${show(found[key])}`).join(','));
  }

  out('delete_a', tf(await call('del', k('a'))));
  out('get_deleted', got(await call('get', k('a'))));
  out('delete_again', tf(await call('del', k('a'))));

  out('set_counter', tf(await call('set', k('counter'), '10', 0)));
  out('incr', number(await call('incr', k('counter'), 5)));
  out('decr', number(await call('decr', k('counter'), 3)));
  out('decr_below_zero', number(await call('decr', k('counter'), 100)));
  out('incr_missing', number(await call('incr', k('nocounter'), 1)));

  out('set_cas', tf(await call('set', k('cas'), 'v1', 0)));
  const [getsErr, gets] = await call('gets', k('cas'));
  const token = gets?.cas;
  out('gets_cas', getsErr ? `error:${getsErr.message}` : `${show(gets?.[k('cas')])}${token ? '' : ':no-token'}`);
  // The npm client answers false both for EXISTS and for NOT_FOUND.
  out('cas', tf(await call('cas', k('cas'), 'v2', token, 0)));
  out('cas_stale', tf(await call('cas', k('cas'), 'v3', token, 0)));
  out('get_cas', got(await call('get', k('cas'))));
  out('cas_missing', tf(await call('cas', k('nocas'), 'v', token, 0)));

  out('set_touch', tf(await call('set', k('touch'), 't', 0)));
  out('touch', tf(await call('touch', k('touch'), 100)));
  out('get_touched', got(await call('get', k('touch'))));
  out('touch_missing', tf(await call('touch', k('notouch'), 100)));
  out('touch_expire', tf(await call('touch', k('touch'), 1)));
  await new Promise((resolve) => setTimeout(resolve, 2500)); // on purpose: the 1 s TTL passes (memcached's clock ticks once a second)
  out('get_expired', got(await call('get', k('touch'))));

  out('add_existing', tf(await call('add', k('b'), 'other', 0)));
  out('get_after_add', got(await call('get', k('b'))));
  out('add_new', tf(await call('add', k('added'), 'new', 0)));
  out('replace_missing', tf(await call('replace', k('noreplace'), 'x', 0)));
  out('replace', tf(await call('replace', k('c'), 'gamma2', 0)));
  out('get_replaced', got(await call('get', k('c'))));
  out('append', tf(await call('append', k('b'), '-post')));
  out('prepend', tf(await call('prepend', k('b'), 'pre-')));
  out('get_appended', got(await call('get', k('b'))));
}

main().then(
  () => {
    client.end();
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`npm memcached client failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
