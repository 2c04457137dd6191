/**
 * An online migration under load (issue 6): N keys are loaded into the `from` servers through two
 * memshift instances (both with the migration configured and planned; POST /migration/start, or a
 * `start:` time a few seconds later, starts it), then
 * several model-checked clients run a mixed load through both while the migration runs to `done`.
 * Afterwards: no stale read, resurrected delete or lost write, no eviction, and every key is on
 * exactly one server (its new owner; cleanup removed the old copies).
 *
 * With `route`, the same run moves a route's keys instead (issue 14): `from` is pool main (the
 * default), `to` pool tenant, and the route's `migration:` block moves the prefix from main to
 * tenant. Keys outside the prefix are loaded and model-checked too, and must stay on main.
 */
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { freePort, hold, sleep, startMemcached, startMemshift, stats, TextClient, type MemshiftHandle, type MemshiftOptions, type ServerHandle } from './harness.js';
import { finalCheck, formatReport, runModelLoad, type ModelReport } from './model-load.js';
import { memcachedTlsArgs, type TestCerts } from './tls-certs.js';

export interface MigrationScenario {
  /** Servers before and after, as indexes into the started memcached. */
  from: number[];
  to: number[];
  servers: number;
  keys: number;
  copy?: 'eager' | 'lazy';
  settle?: string;
  /** Called while the migration runs (e.g. to kill the leader); gets the two sidecars, their admin ports and the memcached. */
  during?: (sidecars: ServerHandle[], admins: number[], backends: ServerHandle[]) => Promise<void>;
  env?: Record<string, string>[];
  /** Abort when the first sidecar reports this phase; the run then ends rolled back, not done. */
  abortAt?: string;
  /** Keys/s of the copy and verify (default 50,000). */
  rate?: number;
  /**
   * The servers only in `to` run TLS (`memcached -Z`, these certificates), and the `from` servers
   * plain: a move into a TLS cluster (`tls` and `from_tls: false`). The checks read the TLS servers
   * through a plain listener of their own (`notls:`), which memshift is never told about.
   */
  tls?: TestCerts;
  /**
   * The load clients' per-request timeout (default 10 s). The model takes a timed-out write to have
   * landed, if at all, before the client gave up; a request waiting in a stopped sidecar's socket
   * lands when it runs again, so a scenario that stops one for longer must wait longer than that.
   */
  clientTimeoutMs?: number;
  /**
   * How the migration starts (default 'command'): by POST /migration/start once the keys are loaded
   * (the block has no `start:`), or at a `start:` time 4 s after the sidecars started ('time': a
   * sidecar whose clock is skewed starts it early).
   */
  startBy?: 'command' | 'time';
  /** A route migration: keys under `prefix` move from pool main (`from`) to pool tenant (`to`, no server of `from`). */
  route?: { prefix: string };
  /** Each sidecar runs `workers: N` (issue 15). */
  workers?: number;
}

export interface MigrationResult {
  report: ModelReport;
  status: Record<string, unknown>;
  backends: ServerHandle[];
}

export async function migrationStatus(admin: number): Promise<Record<string, unknown>> {
  return (await (await fetch(`http://127.0.0.1:${admin}/migration`)).json()) as Record<string, unknown>;
}

/** Every key (not memshift's own) over `backends`, by metadump: how many, their names, and those held by two. */
export async function everyKeyOnce(backends: readonly ServerHandle[]): Promise<{ keys: number; names: string[]; onTwo: string[] }> {
  const where = new Map<string, number>();
  for (const b of backends) {
    const c = await TextClient.connect(b.port, b.host);
    await c.write('lru_crawler metadump all\r\n');
    const dump = (await c.read((buf) => (buf.subarray(-5).toString() === 'END\r\n' ? true : 0), 30_000)).toString();
    c.close();
    for (const l of dump.split('\n')) {
      const m = /^key=(\S+) /.exec(l);
      // metadump URL-encodes keys (":" is %3A).
      const key = m === null ? '' : decodeURIComponent(m[1]!);
      if (m && !key.startsWith('__memshift__')) where.set(key, (where.get(key) ?? 0) + 1);
    }
  }
  return { keys: where.size, names: [...where.keys()], onTwo: [...where].filter(([, n]) => n > 1).map(([k]) => k) };
}

/** Polls every sidecar's status (every `everyMs`) until `done` holds for all, or `timeoutMs` passed; resolves to the last statuses. */
export async function untilAll(admins: readonly number[], done: (s: Record<string, unknown>) => boolean, timeoutMs: number, everyMs = 250): Promise<Record<string, unknown>[]> {
  let all: Record<string, unknown>[] = [];
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    all = await Promise.all(admins.map((a) => migrationStatus(a)));
    if (all.every(done)) break;
    await sleep(everyMs);
  }
  return all;
}

/** Polls the sidecar's status every 25 ms until its phase is one of `phases` (at most `timeoutMs`; then it just returns). */
export async function waitForPhase(admin: number, phases: readonly string[], timeoutMs = 120_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (phases.includes(String((await migrationStatus(admin)).phase))) return;
    await sleep(25);
  }
}

/** The index of the sidecar that holds the migration's lease. */
export async function leaderOf(admins: readonly number[]): Promise<number> {
  const leads = await Promise.all(admins.map(async (a) => (await migrationStatus(a)).this_process_leads === true));
  if (!leads.includes(true)) throw new Error('no sidecar leads the migration');
  return leads.indexOf(true);
}

/** A `during` that waits for one of `phases` (at most `timeoutMs`), then kills the sidecar holding the lease. */
export function killLeaderIn(phases: readonly string[], timeoutMs: number): NonNullable<MigrationScenario['during']> {
  return async (sidecars, admins) => {
    await waitForPhase(admins[0]!, phases, timeoutMs);
    const leader = await leaderOf(admins);
    sidecars[leader]!.kill('SIGKILL');
    await sidecars[leader]!.waitExit();
  };
}

/**
 * Stops (SIGSTOP) one sidecar once the first one reports `phase`, for `ms`, then resumes it: the one
 * that does not hold the lease (the leader goes on meanwhile; the requests its clients send wait in
 * its sockets, to be read when it runs again), or the leader itself (longer than the lease's TTL:
 * the other takes over). `stopped()` is that sidecar, to check its log afterwards.
 */
function stopSidecarIn(which: 'leader' | 'follower', phase: string, ms: number): { during: (sidecars: ServerHandle[], admins: number[]) => Promise<void>; stopped: () => ServerHandle } {
  let stopped: ServerHandle | undefined;
  return {
    during: async (sidecars, admins) => {
      await waitForPhase(admins[0]!, [phase], 60_000);
      const leader = await leaderOf(admins);
      stopped = sidecars[which === 'leader' ? leader : leader === 0 ? 1 : 0]!;
      stopped.pause();
      await hold(ms, `the ${which} stays stopped`);
      stopped.resume();
    },
    stopped: () => {
      if (stopped === undefined) throw new Error('no sidecar was stopped');
      return stopped;
    },
  };
}

export const stopFollowerIn = (phase: string, ms: number): ReturnType<typeof stopSidecarIn> => stopSidecarIn('follower', phase, ms);
export const stopLeaderIn = (phase: string, ms: number): ReturnType<typeof stopSidecarIn> => stopSidecarIn('leader', phase, ms);

/**
 * What a leader that lost its lease logs when its background job stops (src/migration/runtime.ts):
 * its fence said no before a write, or its next lease check found another holder, whichever came first.
 */
export const FENCED_LOG = /migration lease (not surely held|held by another sidecar)/;

/** What the stopped sidecar logs when its phase went out of date (src/migration/runtime.ts). */
export const STALE_VIEW_LOG = 'migration record not read for too long';

export async function abortWhen(admin: number, phase: string): Promise<void> {
  await waitForPhase(admin, [phase]);
  const r = await fetch(`http://127.0.0.1:${admin}/migration/abort`, { method: 'POST', headers: { authorization: 'Bearer test-token' } });
  expect(r.status, await r.text()).toBe(200);
}

/**
 * Two memshift sidecars, each with its own listener and admin port (token `test-token`), both
 * running pool `main` as `pool(i)` describes it.
 */
export async function startSidecars(pool: (i: number) => Record<string, unknown>, env?: Record<string, string>[]): Promise<{ sidecars: MemshiftHandle[]; admins: number[] }> {
  return startSidecarsWith((i) => ({ pools: { main: pool(i) } }), env);
}

/** As startSidecars, with the rest of each sidecar's config (pools, routes, default_pool) from `config(i)`. */
export async function startSidecarsWith(config: (i: number) => Record<string, unknown>, env?: Record<string, string>[], opts: MemshiftOptions = {}): Promise<{ sidecars: MemshiftHandle[]; admins: number[] }> {
  const sidecars: MemshiftHandle[] = [];
  const admins: number[] = [];
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const admin = await freePort();
    admins.push(admin);
    const yaml = stringify({ listen: [`127.0.0.1:${port}`], admin: { listen: `127.0.0.1:${admin}`, token: 'test-token' }, ...config(i) });
    sidecars.push(await startMemshift(yaml, { ...opts, ...(env?.[i] === undefined ? {} : { env: env[i] }) }));
  }
  return { sidecars, admins };
}

/** After a violation: when each sidecar switched phase (and went stale), to read next to the key histories. */
export function printPhases(report: ModelReport, sidecars: readonly ServerHandle[]): void {
  if (report.samples.length === 0) return;
  for (const [i, p] of sidecars.entries()) {
    for (const l of p.logs().split('\n').filter((x) => x.includes('"msg":"migration '))) console.log(`  sidecar ${i}: ${l.slice(0, 200)}`);
  }
}

/** A migration without `start:` waits, planned, until the operator starts it: check that, then start it (through the second sidecar). */
export async function startPlanned(admins: readonly number[]): Promise<void> {
  expect((await migrationStatus(admins[0]!)).waiting).toBe('waiting for migrate start');
  const r = await fetch(`http://127.0.0.1:${admins[1]!}/migration/start`, { method: 'POST', headers: { authorization: 'Bearer test-token' } });
  expect(r.status, await r.text()).toBe(200);
}

export async function runMigrationScenario(s: MigrationScenario): Promise<MigrationResult> {
  const tlsServer = (i: number): boolean => s.tls !== undefined && s.to.includes(i) && !s.from.includes(i);
  // Per server: the one memshift uses, and a plain listener the checks use (the same one without TLS).
  const started = await Promise.all(
    Array.from({ length: s.servers }, async (_, i) => {
      if (!tlsServer(i)) {
        const b = await startMemcached({ memoryMb: 256 });
        return { b, inspect: b };
      }
      const plain = await freePort();
      const b = await startMemcached({ memoryMb: 256, args: [...memcachedTlsArgs(s.tls!), '-l', `notls:127.0.0.1:${plain}`] });
      return { b, inspect: { ...b, port: plain, address: `127.0.0.1:${plain}` } as ServerHandle };
    }),
  );
  const backends = started.map((x) => x.b);
  const inspected = started.map((x) => x.inspect);
  const spec = (i: number): string => `${backends[i]!.address}:1`;
  const tls = s.tls === undefined ? {} : { tls: { ca_file: s.tls.ca } };
  const startBy = s.startBy ?? 'command';
  const startAt = startBy === 'time' ? { start: new Date(Date.now() + 4_000).toISOString() } : {};
  const run = { id: 'test-move', copy: s.copy ?? 'eager', rate: s.rate ?? 50_000, ...startAt, settle: s.settle ?? '2s', cleanup: true };
  const workers = s.workers === undefined ? {} : { workers: s.workers };
  const { sidecars, admins } = await startSidecarsWith(
    () =>
      s.route === undefined
        ? { ...workers, pools: { main: { servers: s.to.map(spec), timeout: 2000, ...tls, migration: { ...run, from: s.from.map(spec), ...(s.tls === undefined ? {} : { from_tls: false }) } } } }
        : {
            ...workers,
            pools: { main: { servers: s.from.map(spec), timeout: 2000 }, tenant: { servers: s.to.map(spec), timeout: 2000, hash: 'md5' } },
            default_pool: 'main',
            routes: [{ prefix: s.route.prefix, pool: 'tenant', migration: { ...run, from_pool: 'main' } }],
          },
    s.env,
    s.workers === undefined ? {} : { startTimeoutMs: 30_000 },
  );
  const ports = sidecars.map((p) => p.port);
  // Load the keys while the migration is planned (old ring); a route migration's keys, and others that stay.
  const moving = s.route?.prefix ?? '';
  const preload = s.route === undefined ? [`k:`] : [`${moving}k:`, 'k:'];
  const c = await TextClient.connect(ports[0]!);
  for (const prefix of preload) {
    for (let i = 0; i < s.keys; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, s.keys - i) }, (_, j) => `set ${prefix}${i + j} ${j % 5} 0 ${String(i + j).length} noreply\r\n${i + j}\r\n`).join('');
      await c.write(`${batch}mn\r\n`);
      await c.read((b) => (b.toString().endsWith('MN\r\n') ? true : 0), 30_000);
    }
  }
  c.close();
  if (startBy === 'command') {
    await startPlanned(admins);
  } else {
    // Planned (the start is 4 s away), unless a sidecar's clock runs ahead (a test skews it +5 s): then
    // the migration started at once and may be copying already, the load having gone through dual-writes.
    const early = s.env === undefined ? ['planned', 'dual_write'] : ['planned', 'dual_write', 'copy', 'dual_read'];
    expect(early).toContain((await migrationStatus(admins[0]!)).phase);
  }

  let stop = false;
  const timeoutMs = s.clientTimeoutMs ?? 10_000;
  // A route migration: most clients on the moving prefix (its counters too), two on keys that stay.
  const loads = (
    s.route === undefined
      ? [{ keys: 2_000, clients: 6 }]
      : [
          { keys: 2_000, clients: 4, prefix: `${moving}m:`, counterPrefix: `${moving}c:` },
          { keys: 500, clients: 2 },
        ]
  ).map((o) => runModelLoad({ ports, stop: () => stop, timeoutMs, ...o }));
  const during = s.abortAt === undefined ? s.during?.(sidecars, admins, backends) : abortWhen(admins[0]!, s.abortAt);
  const deadline = Date.now() + 240_000;
  let status: Record<string, unknown>;
  const alive = (): number[] => admins.filter((_, i) => sidecars[i]!.running);
  for (;;) {
    const all = await Promise.all(alive().map((a) => migrationStatus(a).catch(() => ({ phase: 'unreachable' }))));
    status = all[0] ?? {};
    const finished = (x: Record<string, unknown>): boolean =>
      s.abortAt === undefined ? x.phase === 'done' : x.phase === 'aborted' && x.rolled_back === true && x.t_cleanup_s !== null;
    if (all.every(finished) || Date.now() > deadline) break;
    await sleep(500);
  }
  await during;
  stop = true;
  const reports: ModelReport[] = [];
  for (const load of loads) reports.push(await finalCheck(alive().map((a) => ports[admins.indexOf(a)]!), await load));
  const report = reports[0]!;
  const what = s.route === undefined ? 'migration' : `route ${JSON.stringify(s.route.prefix)} migration main`;
  for (const r of reports) console.log(`${what} ${JSON.stringify(s.from)} -> ${JSON.stringify(s.to)} (${s.copy ?? 'eager'}), ${s.keys} keys: ${formatReport(r)}`);
  console.log(
    `T_copy ${String(status.t_copy_s)} s + T_sync ${String(status.t_sync_s)} s + T_verify ${String(status.t_verify_s)} s = T_total ${String(status.t_total_s)} s; cleanup ${String(status.t_cleanup_s)} s; counts ${JSON.stringify(status.counts)}`,
  );
  for (const r of reports) printPhases(r, sidecars);
  expect(status.phase).toBe(s.abortAt === undefined ? 'done' : 'aborted');
  for (const r of reports) {
    expect(r.samples).toEqual([]);
    expect({ stale: r.staleReads, resurrected: r.resurrectedDeletes, lost: r.lostWrites, unexplained: r.unexplainedReads }).toEqual({ stale: 0, resurrected: 0, lost: 0, unexplained: 0 });
  }
  for (const b of inspected) expect((await stats(b.port)).get('evictions')).toBe('0');
  const placed = await everyKeyOnce(inspected.filter((_, i) => s.to.includes(i) || s.from.includes(i)));
  expect(placed.onTwo.slice(0, 5)).toEqual([]);
  expect(placed.keys).toBeGreaterThanOrEqual(s.keys * preload.length);
  if (s.route !== undefined && s.abortAt === undefined) {
    // Done: the prefix's keys are on the new pool only, every other key on the old pool only.
    const onNew = await everyKeyOnce(inspected.filter((_, i) => s.to.includes(i)));
    const onOld = await everyKeyOnce(inspected.filter((_, i) => s.from.includes(i)));
    expect(onNew.names.filter((k) => !k.startsWith(moving)).slice(0, 5)).toEqual([]);
    expect(onOld.names.filter((k) => k.startsWith(moving)).slice(0, 5)).toEqual([]);
    expect(onNew.keys).toBeGreaterThanOrEqual(s.keys);
  }
  if (s.abortAt !== undefined) {
    // Rolled back: the servers only in `to` kept none of the moved keys.
    for (const i of s.to.filter((x) => !s.from.includes(x))) expect((await everyKeyOnce([inspected[i]!])).keys).toBe(0);
  }
  return { report, status, backends };
}
