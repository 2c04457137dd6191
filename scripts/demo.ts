/**
 * `npm run demo`: memshift in front of three local memcached, with live traffic and a backend
 * failure in the middle. For a new user right after `npm ci`; needs no TTY and ends by itself
 * (~20–25 s, exit 0).
 *
 * Steps (each a function below, so later demos can insert their own, e.g. a migration):
 *   1. checkMemcached   memcached installed? (as root: apt-get install memcached)
 *   2. ensureBuilt      npm run build when dist/ is missing or older than src/
 *   3. startCluster     3 memcached on free ports, memshift (ketama, fnv1a_64) in front of them
 *   4. seed             set every demo key through memshift; learn which backend got each one
 *   5. traffic          sets, gets, multi-gets, incr, deletes for TRAFFIC_S seconds with a summary
 *                       every 2 s; one backend is killed at KILL_AT_S and restarted at RESTART_AT_S
 *   6. report           memshift's `stats` lines of interest and `stats backends`
 *   7. stopAll          everything started is stopped (also on Ctrl-C and on failure)
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ensureBuilt } from '../bench/build.js';
import {
  keysOnServer,
  memshiftConfig,
  startMemcached,
  startMemshift,
  stats,
  stopAll,
  TextClient,
  type MemcachedHandle,
  type MemshiftHandle,
} from '../test/support/harness.js';

const TRAFFIC_S = 14;
const KILL_AT_S = 4;
const RESTART_AT_S = 8;
const REPORT_EVERY_MS = 2_000;
const WORKERS = 4;
const KEYS = Array.from({ length: 3_000 }, (_, i) => `demo:user:${i}`);
const COUNTERS = Array.from({ length: 30 }, (_, i) => `demo:counter:${i}`);
const NAMES = ['A', 'B', 'C'];
const VICTIM = 1; // backend B

const say = (line = ''): void => console.log(line);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T;

// ---------------------------------------------------------------- 1. memcached installed?

function findMemcached(): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin', '/usr/sbin'];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, 'memcached'), constants.X_OK);
      return join(dir, 'memcached');
    } catch {
      // next
    }
  }
  return undefined;
}

function checkMemcached(): void {
  if (findMemcached() !== undefined) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    throw new Error('memcached is not installed. Install the Debian package "memcached" (sudo apt-get install -y memcached) and run npm run demo again.');
  }
  say('memcached is not installed; installing the Debian package "memcached" with apt-get ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', 'memcached']]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env, timeout: 600_000 });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (${r.error?.message ?? `status ${r.status}`}); install the Debian package "memcached" by hand`);
  }
  if (findMemcached() === undefined) throw new Error('apt-get installed memcached but no memcached binary was found on PATH');
}

// ---------------------------------------------------------------- 3. the cluster

interface Cluster {
  readonly backends: MemcachedHandle[];
  readonly memshift: MemshiftHandle;
}

async function startCluster(): Promise<Cluster> {
  const backends = await Promise.all(NAMES.map(() => startMemcached({ memoryMb: 64 })));
  const config = memshiftConfig({ pools: { main: { servers: backends, hash: 'fnv1a_64', distribution: 'ketama' } } });
  const memshift = await startMemshift(config);
  say('Started:');
  backends.forEach((b, i) => say(`  memcached ${NAMES[i]}  ${b.address}  (pid ${b.pid}, -m 64)`));
  say(`  memshift     ${memshift.address}  (pid ${memshift.pid}, node dist/cli.js serve -c ${memshift.configFile})`);
  say(`\nmemshift config (listen port 0 = any free port; memshift took ${memshift.port}):`);
  say(config.trimEnd().replace(/^/gm, '  | '));
  return { backends, memshift };
}

// ---------------------------------------------------------------- 4. seed

/** Sets every key through memshift, then asks each memcached which keys it holds (`me`, read-only). */
async function seed(c: Cluster): Promise<Map<string, number>> {
  const client = await TextClient.connect(c.memshift.port, c.memshift.host);
  const all = [...KEYS, ...COUNTERS];
  for (let i = 0; i < all.length; i += 200) {
    const batch = all.slice(i, i + 200);
    const value = (k: string): string => (k.startsWith('demo:counter:') ? '0' : `hello from ${k}`);
    await client.write(batch.map((k) => `set ${k} 0 0 ${value(k).length}\r\n${value(k)}\r\n`).join(''));
    await client.read((b) => (b.toString('latin1').split('STORED\r\n').length - 1 >= batch.length ? true : 0), 5_000);
  }
  await client.close();
  const owner = new Map<string, number>();
  for (const [i, b] of c.backends.entries()) for (const k of await keysOnServer(b.port, all, b.host)) owner.set(k, i);
  const per = NAMES.map((n, i) => `${n} ${[...owner.values()].filter((o) => o === i).length}`).join(', ');
  say(`\nSeeded ${all.length} keys through memshift. Ketama put them on: ${per}`);
  return owner;
}

// ---------------------------------------------------------------- 5. traffic

class Tally {
  ops = 0;
  hits = 0;
  misses = 0;
  stored = 0;
  deleted = 0;
  clientErrors = 0;
  readonly ok = NAMES.map(() => 0);
  readonly serverErrors = NAMES.map(() => 0);
  lastError = '';
}

interface Traffic {
  tally: Tally;
  stop: boolean;
}

async function worker(c: Cluster, owner: Map<string, number>, t: Traffic): Promise<void> {
  let client = await TextClient.connect(c.memshift.port, c.memshift.host);
  const single = async (key: string, line: string): Promise<string> => {
    const reply = await client.request(line, 3_000);
    const o = owner.get(key) ?? 0;
    if (reply.startsWith('SERVER_ERROR')) {
      t.tally.serverErrors[o]! += 1;
      t.tally.lastError = `${reply.trim()} (key ${key} on ${NAMES[o]})`;
    } else t.tally.ok[o]! += 1;
    return reply;
  };
  while (!t.stop) {
    const r = Math.random();
    const key = pick(KEYS);
    try {
      if (r < 0.5) {
        const reply = await single(key, `get ${key}`);
        if (reply.startsWith('VALUE')) t.tally.hits++;
        else if (reply === 'END\r\n') t.tally.misses++;
      } else if (r < 0.65) {
        // A multi-get over 9 keys spread over the backends: memshift splits it and merges the replies.
        const keys = Array.from({ length: 9 }, () => pick(KEYS));
        const reply = await client.request(`get ${keys.join(' ')}`, 3_000);
        const hits = reply.split('\r\n').filter((l) => l.startsWith('VALUE ')).length;
        t.tally.hits += hits;
        t.tally.misses += keys.length - hits;
      } else if (r < 0.85) {
        const value = `v${Date.now()}`;
        if ((await single(key, `set ${key} 0 0 ${value.length}\r\n${value}\r\n`)) === 'STORED\r\n') t.tally.stored++;
      } else if (r < 0.95) {
        const counter = pick(COUNTERS);
        const reply = await single(counter, `incr ${counter} 1`);
        if (reply === 'NOT_FOUND\r\n') await single(counter, `set ${counter} 0 0 1\r\n1\r\n`);
      } else if ((await single(key, `delete ${key}`)) === 'DELETED\r\n') t.tally.deleted++;
      t.tally.ops++;
    } catch (err) {
      t.tally.clientErrors++;
      t.tally.lastError = (err as Error).message.split('\n')[0] ?? '';
      if (client.isClosed()) client = await TextClient.connect(c.memshift.port, c.memshift.host);
    }
  }
  await client.close();
}

async function itemCounts(c: Cluster): Promise<string[]> {
  return Promise.all(
    c.backends.map(async (b, i) => {
      if (!b.running) return `${NAMES[i]} down`;
      const s = await stats(b.port, b.host).catch(() => undefined);
      return `${NAMES[i]} ${s?.get('curr_items') ?? '?'}`;
    }),
  );
}

function summaryLine(elapsedS: number, d: Tally, items: string[]): string {
  const perBackend = NAMES.map((n, i) => `${n} ${d.ok[i]}/${d.serverErrors[i]}`).join('  ');
  const ops = Math.round((d.ops * 1000) / REPORT_EVERY_MS);
  return `t=${String(elapsedS).padStart(2)}s  ${String(ops).padStart(5)} ops/s  hits ${d.hits} misses ${d.misses}  | items: ${items.join(', ')}  | ok/SERVER_ERROR by owner: ${perBackend}${d.clientErrors > 0 ? `  client errors ${d.clientErrors}` : ''}`;
}

async function traffic(c: Cluster, owner: Map<string, number>): Promise<void> {
  say(`\nTraffic for ${TRAFFIC_S}s through memshift: ${WORKERS} connections, 50% get, 15% multi-get (9 keys), 20% set, 10% incr, 5% delete.`);
  say(`Backend ${NAMES[VICTIM]} is killed at t=${KILL_AT_S}s and restarted (empty, same port) at t=${RESTART_AT_S}s.`);
  say('Every 2 s: the 2 s window; "ok/SERVER_ERROR by owner" counts single-key commands by the backend owning the key.\n');
  const t: Traffic = { tally: new Tally(), stop: false };
  const workers = Array.from({ length: WORKERS }, () => worker(c, owner, t));
  const start = Date.now();
  const victim = c.backends[VICTIM]!;
  let killed = false;
  let restarted = false;
  let recoveredAt = 0;
  const errorsTotal = NAMES.map(() => 0);
  for (let tick = 1; tick * REPORT_EVERY_MS <= TRAFFIC_S * 1000; tick++) {
    while (Date.now() < start + tick * REPORT_EVERY_MS) {
      const elapsed = (Date.now() - start) / 1000;
      if (!killed && elapsed >= KILL_AT_S) {
        killed = true;
        victim.kill('SIGKILL');
        await victim.waitExit(2_000);
        say(`>>> t=${elapsed.toFixed(1)}s killed memcached ${NAMES[VICTIM]} (${victim.address}) with SIGKILL`);
      }
      if (!restarted && elapsed >= RESTART_AT_S) {
        restarted = true;
        await victim.restart();
        say(`>>> t=${((Date.now() - start) / 1000).toFixed(1)}s restarted memcached ${NAMES[VICTIM]} on ${victim.address} (pid ${victim.pid}); it starts empty`);
      }
      if (restarted && recoveredAt === 0 && t.tally.ok[VICTIM]! > 0) {
        recoveredAt = (Date.now() - start) / 1000;
        say(`>>> t=${recoveredAt.toFixed(1)}s memshift reconnected: keys on ${NAMES[VICTIM]} answer again`);
      }
      await sleep(50);
    }
    const window = t.tally;
    t.tally = new Tally();
    say(summaryLine(tick * 2, window, await itemCounts(c)));
    if (window.serverErrors.some((n) => n > 0)) say(`      e.g. ${window.lastError}`);
    window.serverErrors.forEach((n, i) => (errorsTotal[i]! += n));
  }
  t.stop = true;
  await Promise.all(workers);
  const errors = NAMES.map((n, i) => `${n} ${errorsTotal[i]}`).join(', ');
  const others = errorsTotal.filter((_, i) => i !== VICTIM).every((n) => n === 0);
  say(`\nSERVER_ERROR replies over the run, by the backend owning the key: ${errors}.`);
  say(others ? `Failure isolation: only ${NAMES[VICTIM]}'s keys failed while it was down; keys on the other backends were served throughout.` : 'Keys on backends that stayed up also got SERVER_ERROR: see above.');
  say(recoveredAt > 0 ? `Recovery: ${NAMES[VICTIM]}'s keys were answered again ${(recoveredAt - RESTART_AT_S).toFixed(1)}s after the restart (memshift reconnects with backoff).` : `Note: no successful reply for ${NAMES[VICTIM]}'s keys after the restart.`);
}

// ---------------------------------------------------------------- 6. report

const INTERESTING = ['curr_connections', 'total_connections', 'cmd_get', 'cmd_set', 'get_hits', 'get_misses', 'delete_hits', 'delete_misses', 'incr_hits', 'incr_misses', 'memshift_backends', 'memshift_backends_up', 'memshift_backend_errors', 'memshift_get_errors'];

async function report(c: Cluster): Promise<void> {
  const s = await stats(c.memshift.port, c.memshift.host);
  say('\nmemshift `stats` (lines of interest):');
  for (const k of INTERESTING) if (s.has(k)) say(`  STAT ${k} ${s.get(k)}`);
  const backends = await stats(c.memshift.port, c.memshift.host, 'backends');
  say('\nmemshift `stats backends`:');
  for (const [k, v] of backends) say(`  STAT ${k} ${v}`);
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  say('memshift demo: a memcached-protocol proxy in front of three memcached\n');
  checkMemcached();
  ensureBuilt((line) => say(line));
  const cluster = await startCluster();
  const owner = await seed(cluster);
  await traffic(cluster, owner);
  await report(cluster);
}

const deadline = setTimeout(() => {
  console.error('demo: still running after 90 s; stopping everything');
  void stopAll().finally(() => process.exit(1));
}, 90_000);
deadline.unref();

let status = 0;
try {
  await main();
} catch (err) {
  console.error(`demo failed: ${(err as Error).message}`);
  status = 1;
} finally {
  await stopAll();
  say(status === 0 ? '\nStopped memshift and the three memcached. Done.' : '');
}
process.exit(status);
