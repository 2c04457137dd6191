/**
 * The demo's servers and data: are the programs installed, three memcached plus memshift with a
 * planned 2 -> 3 migration, the seeded keys, and which server holds each key.
 */
import { loadConfigFile } from '../../src/config/load.js';
import type { PoolConfig, ServerSpec } from '../../src/config/types.js';
import { createRing } from '../../src/routing/index.js';
import {
  freePort,
  keysOnServer,
  memshiftConfig,
  startMemcached,
  startMemshift,
  TextClient,
  type MemcachedHandle,
  type MemshiftHandle,
  type MemshiftPoolSpec,
} from '../../test/support/harness.js';
import { ensureSystemDeps } from '../../test/support/system-deps.js';

export const NAMES = ['A', 'B', 'C'] as const;
export const SEED_KEYS = 30_000;
export const COUNTERS = 40;
export const MIGRATION_ID = 'demo-grow';
export const RATE = 20_000;
const ADMIN_TOKEN = 'demo';

export const say = (line = ''): void => console.log(line);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const num = (n: number): string => n.toLocaleString('en-US');

export const keyName = (i: number): string => `demo:user:${String(i).padStart(5, '0')}`;
export const counterName = (i: number): string => `demo:counter:${String(i).padStart(2, '0')}`;
/** A value names its key and its version, so a read shows exactly which write it came from. */
export const valueOf = (i: number, version: number): string => `${keyName(i)}#v${version}`;

// ---------------------------------------------------------------- the programs installed?

/**
 * Checks that `programs` (`memcached`, `dnsmasq`) are installed, as the tests' setup does
 * (test/support/system-deps.ts): as root the missing Debian packages are installed with apt-get;
 * otherwise it throws naming them.
 */
export function checkPrograms(programs: readonly string[]): void {
  ensureSystemDeps({ only: programs, who: "the demo's servers" });
}

// ---------------------------------------------------------------- the cluster

/** The pool's ring before the migration (`from`) and after it (`to`, its servers in the order of the backends). */
export interface Rings {
  readonly pool: PoolConfig;
  readonly from: readonly ServerSpec[];
  readonly to: readonly ServerSpec[];
}

export interface Cluster {
  readonly backends: MemcachedHandle[];
  readonly memshift: MemshiftHandle;
  /** http://127.0.0.1:<port> of memshift's admin listener. */
  readonly admin: string;
  /** Where each seeded key belongs before and after the migration. */
  readonly rings: Rings;
  /** When the migration was started (`memshift migrate start`, or the DNS change; ms since the epoch); 0 before. */
  startAt: number;
}

/** The cluster's memshift on a free admin port with `pool` as pool main; its config shown. `more` lines go between the servers and the config. */
export async function startMemshiftFor(backends: MemcachedHandle[], pool: MemshiftPoolSpec, more: readonly string[] = []): Promise<{ memshift: MemshiftHandle; admin: string }> {
  const adminPort = await freePort();
  const config = memshiftConfig({
    admin: { listen: `127.0.0.1:${adminPort}`, token: ADMIN_TOKEN },
    pools: { main: pool },
  });
  const memshift = await startMemshift(config);
  say('Started:');
  backends.forEach((s, i) => say(`  memcached ${NAMES[i]}  ${s.address}  (pid ${s.pid}, -m 64)`));
  more.forEach((line) => say(line));
  say(`  memshift     ${memshift.address}  (pid ${memshift.pid}), admin API http://127.0.0.1:${adminPort}`);
  say(`\nmemshift config (${memshift.configFile}; listen port 0 = any free port, memshift took ${memshift.port}):`);
  say(config.trimEnd().replace(/^/gm, '  | '));
  return { memshift, admin: `http://127.0.0.1:${adminPort}` };
}

export async function startCluster(): Promise<Cluster> {
  const backends = await Promise.all(NAMES.map(() => startMemcached({ memoryMb: 64 })));
  const [a, b] = backends as [MemcachedHandle, MemcachedHandle, MemcachedHandle];
  // No `start:`: the migration stays planned until `memshift migrate start`.
  const migration = { id: MIGRATION_ID, from: [a, b].map((s) => `${s.address}:1`), copy: 'eager', rate: RATE, settle: '2s', cleanup: true };
  const { memshift, admin } = await startMemshiftFor(backends, { servers: backends, migration });
  const pool = [...loadConfigFile(memshift.configFile).pools.values()][0]!;
  return { backends, memshift, admin, rings: { pool, from: pool.migration!.from[0]!.servers, to: pool.servers }, startAt: 0 };
}

/** The phases a migration walks through on its own, for the explanations; `settle` in seconds. */
export function phaseLines(settle: number): string {
  const [a, b, cc] = NAMES;
  return `  dual_write  writes run on the old owner, then the new one is synced from it
  copy        every key whose owner changes (about 1/3, all of them to ${cc}) is copied from ${a}/${b}, <= ${num(RATE)} keys/s
  dual_read   reads try the new owner first; a miss reads the old one and backfills
  verify      passes over the moved keys until one finds no difference
  cutover     ${cc} becomes authoritative for its keys; read-modify-writes (incr here) wait about
              \`settle\` (${settle} s) while the authority changes, so the clients slow down
  cleanup     the moved keys are deleted from ${a} and ${b}
  done        the new ring (${a}, ${b}, ${cc}) serves everything`;
}

export function explainPlan(): void {
  const [a, b, cc] = NAMES;
  say(`
The pool's servers are [${a}, ${b}, ${cc}] (the target); migration.from says it had [${a}, ${b}] before. The block
has no \`start:\`, so the migration stays planned, and the old ring (${a}, ${b}) serves every key, until an
operator runs \`memshift migrate start\`. Then memshift walks it through its phases on its own:
${phaseLines(2)}
The demo seeds ${num(SEED_KEYS)} keys and ${COUNTERS} counters, keeps 4 clients busy through memshift and checks
every answer, and runs what an operator runs: \`memshift plan\` (what moves, and how long each phase
takes, from rates a probe measures in the sidecar under the clients' load), \`memshift migrate start\`
and \`memshift migrate watch\`.`);
}

// ---------------------------------------------------------------- seed

/** Sets every key to version 0 and every counter to 0 through memshift, pipelined (noreply, closed by `mn`). */
export async function seed(c: Cluster): Promise<void> {
  const client = await TextClient.connect(c.memshift.port, c.memshift.host);
  const started = Date.now();
  const lines = [
    ...Array.from({ length: SEED_KEYS }, (_, i) => `set ${keyName(i)} 0 0 ${valueOf(i, 0).length} noreply\r\n${valueOf(i, 0)}\r\n`),
    ...Array.from({ length: COUNTERS }, (_, i) => `set ${counterName(i)} 0 0 1 noreply\r\n0\r\n`),
  ];
  for (let i = 0; i < lines.length; i += 1_000) {
    await client.write(`${lines.slice(i, i + 1_000).join('')}mn\r\n`);
    const reply = (await client.read((buf) => (buf.toString('latin1').endsWith('MN\r\n') ? true : 0), 30_000)).toString('latin1');
    if (reply !== 'MN\r\n') throw new Error(`seeding through memshift failed: ${reply.slice(0, 200)}`);
  }
  await client.close();
  say(`\nSeeded ${num(SEED_KEYS)} keys (value "<key>#v0") and ${COUNTERS} counters (0) through memshift in ${Date.now() - started} ms.`);
}

// ---------------------------------------------------------------- where the keys live

export const allSeededKeys = (): string[] => [...Array.from({ length: SEED_KEYS }, (_, i) => keyName(i)), ...Array.from({ length: COUNTERS }, (_, i) => counterName(i))];

/** For each server, the seeded keys it holds (`me`, which leaves no trace on memcached). */
export async function placement(c: Cluster): Promise<Set<string>[]> {
  const keys = allSeededKeys();
  return Promise.all(c.backends.map((s) => keysOnServer(s.port, keys, s.host)));
}

/** The server index each key belongs to on the old ring (rings.from) and on the new one (rings.to), computed as memshift does. */
export function ringOwners(c: Cluster): { before: (key: string) => number; after: (key: string) => number } {
  const { pool, from, to } = c.rings;
  const oldRing = createRing({ ...pool, servers: from });
  const newRing = createRing({ ...pool, servers: to });
  const index = (spec: ServerSpec): number => to.findIndex((s) => s.address === spec.address);
  return {
    before: (key) => index(from[oldRing.ownerOf(Buffer.from(key))]!),
    after: (key) => index(to[newRing.ownerOf(Buffer.from(key))]!),
  };
}
