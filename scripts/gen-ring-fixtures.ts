/**
 * Generates the golden vectors in test/fixtures/ring/ from live oracles, never from memshift's code:
 *
 *   ketama-*.json          nutcracker (twemproxy 0.5.0) in front of real memcached servers: keys are
 *                          `set` through nutcracker, then every backend is asked directly which keys it
 *                          holds. Servers listen on 127.0.91.x, some on port 11211 (named by host alone).
 *   node-memcached-*.json  the npm `memcached` client (2.2.2) sets the keys straight into memcached.
 *   hash-vectors.json      twemproxy's own src/hashkit/*.c compiled with gcc and
 *                          test/fixtures/ring/twemproxy-hash-harness.c (needs a twemproxy git dir:
 *                          $TWEMPROXY_GIT_DIR, default /work/.mirror/twitter+twemproxy/repo).
 *
 * memshift's routing code is used only to pick interesting keys (ones that hash onto a tied point or
 * exactly onto a point), never to decide where a key belongs.
 *
 *   npx tsx scripts/gen-ring-fixtures.ts [case-name-substring ...]
 *
 * Every process it starts runs under `setpriv --pdeathsig KILL` when available and is killed on
 * exit, on SIGINT/SIGTERM/SIGHUP and after each case, whether it succeeded or not.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Memcached from 'memcached';
import { createRing } from '../src/routing/index.js';
import { continuumIndex } from '../src/routing/continuum.js';
import { ketamaContinuum } from '../src/routing/ketama.js';
import { TWEMPROXY_HASH_NAMES, type TwemproxyHashName } from '../src/routing/hash.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'test/fixtures/ring');
const MEMCACHED = ['/usr/bin/memcached', '/usr/local/bin/memcached'].find(existsSync) ?? 'memcached';
const NUTCRACKER = ['/usr/sbin/nutcracker', '/usr/bin/nutcracker', '/usr/local/sbin/nutcracker'].find(existsSync) ?? 'nutcracker';
const TWEMPROXY_GIT = process.env['TWEMPROXY_GIT_DIR'] ?? '/work/.mirror/twitter+twemproxy/repo';
const NET = '127.0.91';

// ---------------------------------------------------------------- processes, always cleaned up

const live = new Set<ChildProcess>();
const pdeathsig = spawnSync('setpriv', ['--help'], { encoding: 'utf8' }).stdout?.includes('--pdeathsig') ?? false;
const work = mkdtempSync(join(tmpdir(), 'memshift-ring-'));

function killAllNow(): void {
  for (const child of live) if (child.pid !== undefined) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
}
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAllNow();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

function start(command: string, args: string[], log: string): ChildProcess {
  const [cmd, argv] = pdeathsig ? ['setpriv', ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-4000); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', () => { live.delete(child); writeFileSync(log, output); });
  live.add(child);
  return child;
}

async function stopAll(): Promise<void> {
  const exits = [...live].map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => { child.kill('SIGKILL'); }, 2000).unref();
  }));
  await Promise.all(exits);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function canBind(host: string, port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(null));
    server.listen({ host, port, exclusive: true }, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

async function waitListening(host: string, port: number, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port }, () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${host}:${port}`);
}

interface Backend { host: string; port: number; weight: number; name?: string }

let nextHost = 1;
/** A fresh loopback address; `port` 11211 or 0 (a free port). */
async function reserve(port: number): Promise<{ host: string; port: number }> {
  for (;;) {
    const host = `${NET}.${nextHost++}`;
    if (nextHost > 250) nextHost = 1;
    const bound = await canBind(host, port);
    if (bound !== null) return { host, port: bound };
  }
}

async function startMemcached(b: { host: string; port: number }): Promise<void> {
  const args = ['-l', b.host, '-p', String(b.port), '-U', '0', '-m', '64', '-t', '1', '-c', '512'];
  if (process.getuid?.() === 0) args.push('-u', 'root');
  const child = start(MEMCACHED, args, join(work, `memcached-${b.host}-${b.port}.log`));
  await waitListening(b.host, b.port, child, `memcached ${b.host}:${b.port}`);
}

// ---------------------------------------------------------------- a minimal memcached client

/** Sends `payload` and resolves with `count` replies, each one line or a get reply (null on a miss). */
function exchange(host: string, port: number, payload: Buffer, count: number): Promise<(string | Buffer | null)[]> {
  return new Promise((resolve, reject) => {
    const replies: (string | Buffer | null)[] = [];
    let buf = Buffer.alloc(0);
    let at = 0;
    const socket = net.connect({ host, port }, () => socket.write(payload));
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`${host}:${port}: timeout after ${replies.length}/${count} replies`)); }, 30_000);
    const parse = (): void => {
      for (;;) {
        const eol = buf.indexOf('\r\n', at);
        if (eol < 0) return;
        const line = buf.subarray(at, eol).toString('latin1');
        if (line === 'END') { replies.push(null); at = eol + 2; continue; }
        if (line.startsWith('VALUE ')) {
          const bytes = Number(line.slice(line.lastIndexOf(' ') + 1));
          const end = eol + 2 + bytes + 2 + 5;
          if (buf.length < end) return;
          if (buf.subarray(end - 7, end).toString('latin1') !== '\r\nEND\r\n') throw new Error(`${host}:${port}: bad get reply`);
          replies.push(Buffer.from(buf.subarray(eol + 2, eol + 2 + bytes)));
          at = end;
          continue;
        }
        replies.push(line);
        at = eol + 2;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf.subarray(at), chunk]);
      at = 0;
      try { parse(); } catch (err) { socket.destroy(); reject(err as Error); }
      if (replies.length >= count) { clearTimeout(timer); socket.destroy(); resolve(replies); }
    });
    socket.once('error', (err) => { clearTimeout(timer); reject(err); });
    socket.once('close', () => { clearTimeout(timer); if (replies.length < count) reject(new Error(`${host}:${port}: closed after ${replies.length}/${count} replies`)); });
  });
}

const crlf = Buffer.from('\r\n');
const setPayload = (keys: Buffer[]): Buffer =>
  Buffer.concat(keys.flatMap((k, i) => [Buffer.from('set '), k, Buffer.from(` 0 0 ${String(i).length}\r\n${i}\r\n`)]));
const getPayload = (keys: Buffer[]): Buffer => Buffer.concat(keys.flatMap((k) => [Buffer.from('get '), k, crlf]));

/** For each key, the index of the one backend holding it (value = the key's index), or -1. */
async function owners(backends: Backend[], keys: Buffer[]): Promise<number[]> {
  const found = keys.map(() => -1);
  for (const [server, b] of backends.entries()) {
    const replies = await exchange(b.host, b.port, getPayload(keys), keys.length);
    replies.forEach((reply, i) => {
      if (reply === null) return;
      if (!Buffer.isBuffer(reply) || reply.toString() !== String(i)) throw new Error(`${b.host}:${b.port}: unexpected reply for key ${i}`);
      if (found[i] !== -1) throw new Error(`key ${i} is on servers ${found[i]} and ${server}`);
      found[i] = server;
    });
  }
  return found;
}

// ---------------------------------------------------------------- keys

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes memcached and nutcracker accept in a key: not NUL, space, CR or LF. */
const keyByte = (b: number): boolean => b !== 0 && b !== 0x20 && b !== 0x0a && b !== 0x0d;

function keySet(seed: number, count: number): Buffer[] {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const printable = (len: number): string => Array.from({ length: len }, () => String.fromCharCode(0x21 + int(94))).join('');
  const out = new Map<string, Buffer>();
  const add = (k: Buffer): void => { if (k.length > 0 && k.length <= 250 && k.every(keyByte)) out.set(k.toString('hex'), k); };
  for (const fixed of ['a', 'z', '0', '~', 'user', 'hex:not-hex', '\x01', '\x7f', '\t', 'é', 'ключ', 'キー', '🔑']) add(Buffer.from(fixed));
  for (const b of [0x80, 0x81, 0xc0, 0xfe, 0xff]) add(Buffer.from([b]));
  add(Buffer.alloc(250, 'k'));
  add(Buffer.alloc(250, 0xff));
  const words = ['user', 'session', 'feed', 'cart', 'img', 'v2', 'tmp', 'rate'];
  while (out.size < count) {
    const r = rnd();
    if (r < 0.45) add(Buffer.from(`${words[int(words.length)]}:${int(1e7)}${rnd() < 0.3 ? `:${printable(1 + int(8))}` : ''}`));
    else if (r < 0.65) add(Buffer.from(printable(1 + int(48))));
    else if (r < 0.7) add(Buffer.from(printable(200 + int(51))));
    else if (r < 0.9) add(Buffer.from(Array.from({ length: 1 + int(40) }, () => (rnd() < 0.6 ? 0x80 + int(128) : 1 + int(255)))));
    else add(Buffer.from(`${['ключ', 'キー', 'clé', '鍵', '🔑', 'ü'][int(6)]}-${int(1e5)}`));
  }
  return [...out.values()];
}

function hashTagKeys(seed: number, count: number): Buffer[] {
  const crafted = ['{user1000}.following', '{user1000}.followers', 'a{b}c', '{}', '{}x', 'x{}', '{', '}', '}{', '}{x}',
    '{a', 'a}', '{{a}}', '{a}{b}', 'a{}b{c}', '{ab', '{\xff}', 'x{\x80\x81}y', '{{}', '{}}', 'pre{tag}', '{tag}post', '{tag}'];
  const rnd = prng(seed);
  const tags = ['user1', 'user2', 'cart:7', '\xfe\xff', 'é', 'x', ''];
  const out = [...crafted.map((k) => Buffer.from(k, k.includes('é') ? 'utf8' : 'latin1')), ...keySet(seed, count / 2)];
  const seen = new Set(out.map((k) => k.toString('hex')));
  while (out.length < count) {
    const tag = tags[Math.floor(rnd() * tags.length)]!;
    const k = Buffer.from(`k${Math.floor(rnd() * 1e6)}{${tag}}${rnd() < 0.5 ? `.${Math.floor(rnd() * 100)}` : ''}${rnd() < 0.2 ? '{z}' : ''}`, 'latin1');
    if (!seen.has(k.toString('hex'))) { seen.add(k.toString('hex')); out.push(k); }
  }
  return out;
}

const FNV_PRIME = 0x1b3;
const FNV_PRIME_INV = ((): number => { let x = FNV_PRIME; for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(FNV_PRIME, x)); return x; })();

/** A printable key whose twemproxy fnv1a_64 hash is exactly `target`: FNV's last step is invertible. */
function fnv1a64KeyFor(target: number, prefix: string): Buffer {
  for (let attempt = 0; ; attempt++) {
    const key = fnv1a64Search(target, `${prefix}${attempt === 0 ? '' : `${attempt}-`}`);
    if (key !== null) return key;
  }
}

/** Tries the 94^4 printable 4-byte middles; each hits with probability 94 / 2^32. */
function fnv1a64Search(target: number, prefix: string): Buffer | null {
  const want = Math.imul(target, FNV_PRIME_INV) >>> 0; // the state before the last multiply
  const step = (h: number, b: number): number => Math.imul(h ^ b, FNV_PRIME);
  let h0 = 0x84222325 | 0;
  for (const c of Buffer.from(prefix)) h0 = step(h0, c);
  for (let a = 0x21; a < 0x7f; a++) {
    const h1 = step(h0, a);
    for (let b = 0x21; b < 0x7f; b++) {
      const h2 = step(h1, b);
      for (let c = 0x21; c < 0x7f; c++) {
        const h3 = step(h2, c);
        for (let d = 0x21; d < 0x7f; d++) {
          const last = (step(h3, d) ^ want) >>> 0;
          if (last >= 0x21 && last < 0x7f) return Buffer.from([...Buffer.from(prefix), a, b, c, d, last]);
        }
      }
    }
  }
  return null;
}

/** Keys hashing (fnv1a_64) exactly onto some points, one below, one above, 0 and 0xffffffff. */
function boundaryKeys(servers: Backend[], picks: number): Buffer[] {
  const { values } = ketamaContinuum(servers);
  const targets = [0, 1, 0xffffffff, values[0]!, values[values.length - 1]!, values[values.length - 1]! + 1];
  for (let i = 1; i <= picks; i++) {
    const v = values[Math.floor((i * values.length) / (picks + 1))]!;
    targets.push(v, v - 1, v + 1);
  }
  return [...new Set(targets.map((t) => t >>> 0))].map((t, i) => fnv1a64KeyFor(t, `edge${i}-`));
}

// ---------------------------------------------------------------- fixtures

interface Fixture {
  case: string;
  description: string;
  source: string;
  pool: { hash: string; distribution: string; hashTag?: string; servers: Backend[] };
  keys: [string, number][];
}

/** Printable ASCII keys as they are; any other key as "hex:<hex>" (no plain key starts with "hex:"). */
function encodeKey(k: Buffer): string {
  const plain = k.every((b) => b > 0x20 && b < 0x7f) && !k.toString('latin1').startsWith('hex:');
  return plain ? k.toString('latin1') : `hex:${k.toString('hex')}`;
}

function writeFixture(f: Fixture): void {
  const head = JSON.stringify({ ...f, keys: undefined }, null, 2).replace(/\n}$/, '');
  const body = f.keys.map((entry) => `    ${JSON.stringify(entry)}`).join(',\n');
  writeFileSync(join(OUT, `${f.case}.json`), `${head},\n  "keys": [\n${body}\n  ]\n}\n`);
}

interface NutcrackerCase {
  name: string;
  description: string;
  hash: TwemproxyHashName;
  hashTag?: string;
  /** Port (11211 or 0 = free), weight and optional node name per server. */
  servers: { port: number; weight: number; name?: string }[] | (() => Promise<Backend[]>);
  keys: (servers: Backend[]) => Buffer[];
}

async function runNutcracker(c: NutcrackerCase): Promise<Fixture> {
  const servers: Backend[] = typeof c.servers === 'function' ? await c.servers() : [];
  if (typeof c.servers !== 'function') {
    for (const s of c.servers) servers.push({ ...(await reserve(s.port)), weight: s.weight, ...(s.name ? { name: s.name } : {}) });
  }
  await Promise.all(servers.map((s) => startMemcached(s)));
  const proxy = await reserve(0);
  const stats = await reserve(0);
  const conf = join(work, `${c.name}.yml`);
  writeFileSync(conf, [
    'memshift:',
    `  listen: ${proxy.host}:${proxy.port}`,
    `  hash: ${c.hash}`,
    '  distribution: ketama',
    ...(c.hashTag ? [`  hash_tag: "${c.hashTag}"`] : []),
    '  timeout: 5000',
    '  auto_eject_hosts: false',
    '  servers:',
    ...servers.map((s) => `   - ${s.host}:${s.port}:${s.weight}${s.name ? ` ${s.name}` : ''}`),
    '',
  ].join('\n'));
  const check = spawnSync(NUTCRACKER, ['-t', '-c', conf], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nutcracker -t: ${check.stderr}${check.stdout}`);
  const child = start(NUTCRACKER, ['-c', conf, '-s', String(stats.port), '-a', stats.host, '-p', join(work, `${c.name}.pid`), '-o', join(work, `${c.name}.nutcracker.log`)], join(work, `${c.name}.out`));
  await waitListening(proxy.host, proxy.port, child, 'nutcracker');
  const keys = c.keys(servers);
  const stored = await exchange(proxy.host, proxy.port, setPayload(keys), keys.length);
  const bad = stored.filter((r) => r !== 'STORED');
  if (bad.length > 0) throw new Error(`${c.name}: ${bad.length} sets through nutcracker failed: ${String(bad[0])}`);
  const found = await owners(servers, keys);
  const missing = found.filter((s) => s < 0).length;
  if (missing > 0) throw new Error(`${c.name}: ${missing} keys on no backend`);
  return {
    case: c.name,
    description: c.description,
    source: 'nutcracker 0.5.0 (live): keys set through nutcracker, read back from each memcached directly',
    pool: { hash: c.hash, distribution: 'ketama', ...(c.hashTag ? { hashTag: c.hashTag } : {}), servers },
    keys: keys.map((k, i) => [encodeKey(k), found[i]!]),
  };
}

async function runNodeMemcached(name: string, description: string, weights: number[], count: number): Promise<Fixture> {
  const servers: Backend[] = [];
  for (const [i, weight] of weights.entries()) servers.push({ ...(await reserve(i % 3 === 1 ? 11211 : 0)), weight });
  await Promise.all(servers.map((s) => startMemcached(s)));
  const strings = servers.map((s) => `${s.host}:${s.port}`);
  const location = weights.every((w) => w === 1) ? strings : Object.fromEntries(strings.map((s, i) => [s, weights[i]!]));
  const client = new Memcached(location, { timeout: 5000, retries: 5, poolSize: 10 });
  const rnd = prng(count);
  // JS string keys (the npm client's): no whitespace (it refuses \s), no __proto__-like names (its
  // hashring cache breaks on them). A lone surrogate is sent (and hashed) as EF BF BD.
  const keys = new Set<string>(['a', 'é', 'ключ', '🔑', '\u0001x', 'lone\ud800', 'x'.repeat(250)]);
  while (keys.size < count) {
    const r = rnd();
    const n = Math.floor(rnd() * 1e7);
    keys.add(r < 0.6 ? `user:${n}` : r < 0.8 ? `${n.toString(36)}-ü-${n % 97}` : r < 0.9 ? `キー${n}` : String.fromCharCode(...Array.from({ length: 1 + (n % 30) }, (_, i) => 0x21 + ((n >> (i % 20)) + i * 7) % 94)));
  }
  const list = [...keys];
  try {
    for (let from = 0; from < list.length; from += 50) {
      await Promise.all(list.slice(from, from + 50).map((k, j) => new Promise<void>((resolve, reject) => {
        client.set(k, String(from + j), 0, (err) => (err ? reject(new Error(`npm memcached set ${JSON.stringify(k)}: ${String(err)}`)) : resolve()));
      })));
    }
  } finally {
    client.end();
  }
  const bytes = list.map((k) => Buffer.from(k, 'utf8'));
  const found = await owners(servers, bytes);
  if (found.some((s) => s < 0)) throw new Error(`${name}: keys on no backend`);
  return {
    case: name,
    description,
    source: 'npm memcached 2.2.2 (live): keys set by the client, read back from each memcached directly',
    pool: { hash: 'md5', distribution: 'node-memcached', servers },
    keys: bytes.map((k, i) => [encodeKey(k), found[i]!]),
  };
}

/**
 * Two node names whose ketama points collide (found by search), for the tie-break cases. `accept`
 * filters pairs (first found, second found).
 */
function collidingNames(prefix: string, accept: (a: string, b: string) => boolean): [string, string, number] {
  const seen = new Map<number, string>();
  for (let k = 0; ; k++) {
    const name = `${prefix}${k}`;
    // Alone or with other equal servers, a server gets 160 points: "<name>-0".."<name>-39".
    const own = ketamaContinuum([{ host: 'h', port: 1, weight: 1, name }]).values;
    for (const v of own) {
      const other = seen.get(v);
      if (other !== undefined && other !== name && accept(other, name)) return [other, name, v];
    }
    for (const v of own) seen.set(v, name);
  }
}

/** nutcracker's server order (nc_conf.c conf_validate_server): shorter name first, then bytes. */
const nameOrder = (a: string, b: string): number => a.length - b.length || Buffer.compare(Buffer.from(a), Buffer.from(b));

function collisionKeys(servers: Backend[], value: number, seed: number): Buffer[] {
  const ring = createRing({ servers: servers.map((s) => ({ ...s, address: `${s.host}:${s.port}`, raw: '' })), hash: 'fnv1a_64', distribution: 'ketama' });
  const { values } = ring.continuum;
  const at = continuumIndex(values, value);
  const prev = at === 0 ? values[values.length - 1]! : values[at - 1]!;
  const keys = keySet(seed, 300);
  keys.push(fnv1a64KeyFor(value, 'tie-exact-'), fnv1a64KeyFor((prev + 1) >>> 0, 'tie-low-'), fnv1a64KeyFor((value - 1) >>> 0, 'tie-high-'));
  for (let n = 0; keys.length < 400; n++) {
    const k = Buffer.from(`arc:${n}`);
    const h = ring.hashOf(k);
    if (at === 0 ? h > prev || h <= value : h > prev && h <= value) keys.push(k);
  }
  return keys;
}

function hashVectors(): void {
  if (!existsSync(TWEMPROXY_GIT)) {
    console.log(`skip hash-vectors: no twemproxy git dir at ${TWEMPROXY_GIT} (set TWEMPROXY_GIT_DIR)`);
    return;
  }
  const dir = join(work, 'hashkit');
  mkdirSync(join(dir, 'src'), { recursive: true });
  const files = ['crc16', 'crc32', 'fnv', 'hsieh', 'jenkins', 'md5', 'murmur', 'one_at_a_time'].map((f) => {
    const path = join(dir, 'src', `nc_${f}.c`);
    writeFileSync(path, execFileSync('git', ['--git-dir', TWEMPROXY_GIT, 'show', `0.5.0:src/hashkit/nc_${f}.c`]));
    return path;
  });
  writeFileSync(join(dir, 'src', 'nc_core.h'), '#include <stddef.h>\n#include <stdint.h>\n#include <string.h>\n');
  const harness = join(dir, 'harness');
  execFileSync('gcc', ['-O2', '-w', '-I', join(dir, 'src'), '-o', harness, join(OUT, 'twemproxy-hash-harness.c'), ...files]);
  const rnd = prng(7);
  const keys: Buffer[] = [Buffer.alloc(0)];
  for (let len = 1; len <= 70; len++) for (let r = 0; r < 3; r++) keys.push(Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256))));
  for (const k of keySet(11, 60)) keys.push(k);
  for (const len of [127, 128, 129, 200, 250]) keys.push(Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256))));
  const lines = execFileSync(harness, { input: `${keys.map((k) => k.toString('hex')).join('\n')}\n` }).toString().trim().split('\n');
  const hashes = Object.fromEntries(TWEMPROXY_HASH_NAMES.map((n) => [n, [] as number[]]));
  for (const line of lines) {
    const cols = line.split(' ').slice(-TWEMPROXY_HASH_NAMES.length).map(Number);
    TWEMPROXY_HASH_NAMES.forEach((n, i) => hashes[n]!.push(cols[i]!));
  }
  const cc = execFileSync('gcc', ['--version']).toString().split('\n')[0];
  writeFileSync(join(OUT, 'hash-vectors.json'), `${JSON.stringify({
    source: `twemproxy 0.5.0 src/hashkit/nc_*.c + twemproxy-hash-harness.c, ${cc}, ${process.arch} (signed char)`,
    keys: keys.map((k) => k.toString('hex')),
    hashes,
  })}\n`);
  console.log(`hash-vectors: ${keys.length} keys x ${TWEMPROXY_HASH_NAMES.length} hashes`);
}

// ---------------------------------------------------------------- the cases

const equal = (n: number, every11211 = 0): { port: number; weight: number }[] =>
  Array.from({ length: n }, (_, i) => ({ port: every11211 > 0 && i % every11211 === 0 ? 11211 : 0, weight: 1 }));
const weighted = [3, 6, 9, 12, 15].map((weight, i) => ({ port: i === 2 ? 11211 : 0, weight }));

function nutcrackerCases(): NutcrackerCase[] {
  const cases: NutcrackerCase[] = [];
  for (const hash of ['md5', 'fnv1a_64'] as const) {
    const boundary = (picks: number) => (servers: Backend[]): Buffer[] => hash === 'fnv1a_64' ? boundaryKeys(servers, picks) : [];
    cases.push(
      { name: `ketama-${hash}-3`, description: '3 equal servers, two on port 11211', hash, servers: [{ port: 11211, weight: 1 }, { port: 0, weight: 1 }, { port: 11211, weight: 1 }], keys: (s) => [...keySet(3, 2000), ...boundary(10)(s)] },
      { name: `ketama-${hash}-7`, description: '7 equal servers (float32 points: 160 each, 156 in doubles)', hash, servers: equal(7), keys: (s) => [...keySet(7, 2000), ...boundary(20)(s)] },
      { name: `ketama-${hash}-25`, description: '25 equal servers, every 5th on port 11211', hash, servers: equal(25, 5), keys: (s) => [...keySet(25, 2000), ...boundary(10)(s)] },
      { name: `ketama-${hash}-weighted-5`, description: '5 servers with weights 3/6/9/12/15, the third on port 11211', hash, servers: weighted, keys: (s) => [...keySet(5, 2000), ...boundary(10)(s)] },
    );
  }
  cases.push({
    name: 'ketama-fnv1a_64-weighted-15',
    description: '15 servers, weights 5/10/15 of 125: float32 gives weight 5 92 points (doubles: 96)',
    hash: 'fnv1a_64',
    servers: [5, 10, 15, 5, 10, 15, 5, 10, 15, 5, 10, 5, 5, 5, 5].map((weight, i) => ({ port: i % 4 === 0 ? 11211 : 0, weight })),
    keys: (s) => [...keySet(15, 2000), ...boundaryKeys(s, 10)],
  });
  cases.push({
    name: 'ketama-fnv1a_64-names-4',
    description: 'node names replace host[:port] in point names, also on port 11211; weights 1/2/1/3',
    hash: 'fnv1a_64',
    servers: [{ port: 11211, weight: 1, name: 'cache-a' }, { port: 0, weight: 2, name: 'cache-b' }, { port: 0, weight: 1, name: 'cache-c.example:11211' }, { port: 0, weight: 3, name: 'ÿ' }],
    keys: (s) => [...keySet(4, 2000), ...boundaryKeys(s, 10)],
  });
  for (const hash of ['fnv1a_64', 'md5'] as const) {
    cases.push({ name: `ketama-${hash}-hashtag-5`, description: 'hash_tag "{}": only the bytes between the first { and the next } are hashed, when not empty', hash, hashTag: '{}', servers: equal(5, 3), keys: () => hashTagKeys(5, 1500) });
  }
  const [a, b, value] = collidingNames('tie-', () => true);
  // Names of different lengths where byte order and length-first order disagree.
  const [c, d, value2] = collidingNames('t', (x, y) => x.length !== y.length && Math.sign(nameOrder(x, y)) !== Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y))));
  const ties: [string, string[], number][] = [['ab', [a, b], value], ['ba', [b, a], value], ['length', [c, d].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))), value2]];
  for (const [order, names, tied] of ties) {
    const first = [...names].sort(nameOrder)[0]!;
    cases.push({
      name: `ketama-fnv1a_64-tie-${order}`,
      description: `node names ${names.join(' and ')} share the point ${tied}: its arc goes to ${first}, whose name sorts first (nutcracker sorts servers by name: shorter first, then bytes; then a stable qsort of the points)`,
      hash: 'fnv1a_64',
      servers: names.map((name) => ({ port: 0, weight: 1, name })),
      keys: (s) => collisionKeys(s, tied, 99),
    });
  }
  for (const hash of TWEMPROXY_HASH_NAMES.filter((h) => h !== 'md5' && h !== 'fnv1a_64')) {
    cases.push({ name: `ketama-${hash}-3`, description: `3 servers, key hash ${hash} (not in the config's HashName yet)`, hash, servers: equal(3, 3), keys: () => keySet(13, 500) });
  }
  return cases;
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const filters = process.argv.slice(2);
  const wanted = (name: string): boolean => filters.length === 0 || filters.some((f) => name.includes(f));
  if (wanted('hash-vectors')) hashVectors();
  const jobs: [string, () => Promise<Fixture>][] = [
    ...nutcrackerCases().map((c): [string, () => Promise<Fixture>] => [c.name, () => runNutcracker(c)]),
    ['node-memcached-3', () => runNodeMemcached('node-memcached-3', '3 equal servers, one on port 11211', [1, 1, 1], 2000)],
    ['node-memcached-7', () => runNodeMemcached('node-memcached-7', '7 equal servers (hashring gives 39 digests each, not 40)', [1, 1, 1, 1, 1, 1, 1], 2000)],
    ['node-memcached-weighted-5', () => runNodeMemcached('node-memcached-weighted-5', '5 servers with weights 3/6/9/12/15', [3, 6, 9, 12, 15], 2000)],
  ];
  for (const [name, job] of jobs) {
    if (!wanted(name)) continue;
    try {
      const fixture = await job();
      writeFixture(fixture);
      const per = fixture.pool.servers.map((_, i) => fixture.keys.filter(([, s]) => s === i).length);
      console.log(`${name}: ${fixture.keys.length} keys, per server ${per.join('/')}`);
    } finally {
      await stopAll();
    }
  }
}

// Exit explicitly: the npm memcached client can leave timers behind that keep the process alive.
main().then(
  async () => {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
    process.exit(0);
  },
  async (err: unknown) => {
    console.error(err);
    await stopAll();
    console.error(`logs kept in ${work}`);
    process.exit(1);
  },
);
