/**
 * Issue 12's soak: the passive-failover load (passive-failover.ts: four clients, partitioned keys,
 * a random sidecar per op) through two sidecars for at least `minutes`, while the pool goes through,
 * in turn, in one run:
 *
 *   1. a planned grow: ga = [A1, A2] -> [A1, A2, A3], gb = [B1, B2] -> [B1, B2, B3];
 *   2. A1 stopped (SIGSTOP) for 10 s, then resumed (shorter than failover_after: no failover);
 *   3. A2 killed (SIGKILL): passive failover of its keys to the rest of ga, copied from gb;
 *   4. A2 back (an empty memcached on its port): removed from the config (the failover record is
 *      history), then brought back in with a migration ga = [A1, A3] -> [A1, A2, A3];
 *   5. a shrink: ga -> [A1, A2], gb -> [B1, B2].
 *
 * A replicated pool's migration block needs a restart of the sidecar (docs/configuration.md "Hot reload"), so each
 * config change is a rolling restart, one sidecar at a time (on the same ports); the load leaves a
 * sidecar out while it restarts, as a load balancer would. At the end: the model checker's verdict (0 stale, 0
 * resurrected, 0 lost, 0 wrong reads) and every client error with its time and cause.
 */
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { freePort, startMemcached, startMemshift, type MemshiftHandle, type ServerHandle } from './harness.js';
import { hold, makeTempDir } from './process.js';
import { finalCheck, formatReport, type ModelReport } from './model-load.js';
import { untilAll } from './migration-scenario.js';
import { issueLoad } from './passive-failover.js';

const spec = (b: ServerHandle): string => `${b.address}:1`;
const group = (name: string, servers: ServerHandle[]): { name: string; servers: string[] } => ({ name, servers: servers.map(spec) });

export interface SoakResult {
  report: ModelReport;
  /** Every client error: seconds since the load began, its kind, the request and the reply. */
  errors: string[];
  /** What happened when, in seconds since the load began. */
  steps: string[];
}

export async function runSoak(minutes: number): Promise<SoakResult> {
  const [a1, a2, a3, b1, b2, b3] = await Promise.all(Array.from({ length: 6 }, () => startMemcached({ memoryMb: 128 })));
  const logDir = makeTempDir('wlog');
  const listen = [await freePort(), await freePort()];
  const admin = [await freePort(), await freePort()];
  const config = (i: number, groups: { name: string; servers: string[] }[], migration?: Record<string, unknown>): string =>
    stringify({
      listen: [`127.0.0.1:${listen[i]}`],
      admin: { listen: `127.0.0.1:${admin[i]}`, token: 'test-token' },
      pools: {
        main: {
          replicas: groups,
          hash: 'fnv1a_64',
          distribution: 'ketama',
          write: 'one',
          read: 'primary',
          read_failover: 'errors',
          // Longer than the 10 s stop of step 2: only the kill of step 3 fails over.
          failover_after: '15s',
          write_log: { dir: `${logDir}/${i}` },
          resync: { rate: 50_000 },
          ...(migration === undefined ? {} : { migration: { rate: 50_000, ...migration } }),
        },
      },
    });
  const initial = [group('ga', [a1!, a2!]), group('gb', [b1!, b2!])];
  const sidecars: MemshiftHandle[] = [];
  for (const i of [0, 1]) sidecars.push(await startMemshift(config(i, initial)));
  const ports = sidecars.map((p) => p.port);
  const down = new Set<number>();
  let stop = false;
  const { model } = await issueLoad(ports, 20_000, () => stop, (port) => !down.has(port));
  const t0 = performance.now();
  const at = (): string => ((performance.now() - t0) / 1000).toFixed(1);
  const steps: string[] = [];
  const step = (what: string): void => {
    steps.push(`${at()} s: ${what}`);
    console.log(`soak ${at()} s: ${what}`);
  };

  /** Rolls a config out: one sidecar at a time is left out of the load, rewritten and restarted. */
  const rollOut = async (what: string, groups: { name: string; servers: string[] }[], migration?: Record<string, unknown>): Promise<void> => {
    step(`roll out: ${what}`);
    for (const i of [0, 1]) {
      down.add(ports[i]!);
      await hold(200, 'requests already sent to it finish');
      await sidecars[i]!.stop();
      sidecars[i] = await startMemshift(config(i, groups, migration));
      down.delete(ports[i]!);
    }
  };
  const waitDone = async (id: string | RegExp, timeoutMs = 180_000): Promise<void> => {
    const done = (x: Record<string, unknown>): boolean => x.phase === 'done' && (typeof id === 'string' ? x.id === id : id.test(String(x.id)));
    const all = await untilAll(admin, done, timeoutMs, 500);
    if (!all.every(done)) throw new Error(`${String(id)} not done within ${timeoutMs} ms: ${JSON.stringify(all.map((x) => [x.id, x.phase]))}`);
    step(`${String(all[0]!.id)} done on both sidecars: T_copy ${String(all[0]!.t_copy_s)} s + T_sync ${String(all[0]!.t_sync_s)} s + T_verify ${String(all[0]!.t_verify_s)} s = T_total ${String(all[0]!.t_total_s)} s`);
  };
  const start = (): string => new Date(Date.now() + 6_000).toISOString();
  const full = [group('ga', [a1!, a2!, a3!]), group('gb', [b1!, b2!, b3!])];

  try {
    await hold(20_000, 'steady load first');
    // 1. A planned grow.
    await rollOut('grow ga and gb 2 -> 3', full, { id: 'soak-grow', from: initial, start: start() });
    await waitDone('soak-grow');
    await rollOut('the grow block removed', full);
    await hold(20_000, 'steady load after the grow');

    // 2. A backend stopped for 10 s.
    step(`SIGSTOP ${a1!.address} (A1) for 10 s`);
    a1!.pause();
    await hold(10_000, 'A1 stays stopped for 10 s');
    a1!.resume();
    step(`SIGCONT ${a1!.address} (A1)`);
    await hold(30_000, 'steady load after A1 is back');

    // 3. A backend killed: passive failover.
    step(`SIGKILL ${a2!.address} (A2)`);
    a2!.kill('SIGKILL');
    await a2!.waitExit();
    await waitDone(/^failover-ga-/);
    await hold(20_000, 'steady load after the failover');

    // 4. The dead server back, empty: out of the config, then migrated back in.
    const withoutA2 = [group('ga', [a1!, a3!]), group('gb', [b1!, b2!, b3!])];
    await rollOut('A2 removed from the config (the failover is history)', withoutA2);
    await a2!.restart();
    step(`${a2!.address} (A2) back, empty`);
    await rollOut('A2 migrated back into ga', full, { id: 'soak-back-in', from: withoutA2, start: start() });
    await waitDone('soak-back-in');
    await rollOut('the back-in block removed', full);
    await hold(20_000, 'steady load after the back-in');

    // 5. A shrink.
    const small = [group('ga', [a1!, a2!]), group('gb', [b1!, b2!])];
    await rollOut('shrink ga and gb 3 -> 2', small, { id: 'soak-shrink', from: full, start: start() });
    await waitDone('soak-shrink');
    await rollOut('the shrink block removed', small);

    const rest = minutes * 60_000 - (performance.now() - t0);
    step(`load goes on for ${Math.max(0, Math.round(rest / 1000))} s more`);
    if (rest > 0) await hold(rest, 'the load runs for the rest of the soak');
  } finally {
    stop = true;
  }
  const report = await finalCheck(ports, await model);
  const errors = report.errors.events.map((e) => `${((e.at - t0) / 1000).toFixed(2)} s: ${e.kind}: ${e.sample}`);
  step(`soak over: ${formatReport(report)}`);
  for (const e of errors) console.log(`  client error at ${e}`);
  expect(report.samples).toEqual([]);
  expect({ stale: report.staleReads, resurrected: report.resurrectedDeletes, lost: report.lostWrites, unexplained: report.unexplainedReads }).toEqual({ stale: 0, resurrected: 0, lost: 0, unexplained: 0 });
  return { report, errors, steps };
}
