/**
 * A discovered pool under model-checked load (issue 16): memcached "pods" mc-<i>.mc.test on
 * 127.0.1.<10+i>, all on one port, behind the name mc.test of a real dnsmasq (A and PTR records from
 * a hosts file the test rewrites and SIGHUPs), and two memshift sidecars whose pool `main` has
 * `discovery: {dns: mc.test}` (or, with `groups`, replica groups a and b with a name each).
 *
 *   const fleet = await startDiscoveryFleet({ pods: 4, dns: [0, 1, 2], autopilot: { migrate: 'auto' } });
 *   const report = await underLoad(fleet, async () => { await fleet.setPods([0, 1, 2, 3]); await untilMigrated(...) });
 *   expectClean(report); expect(await ringsOf(fleet)).toEqual([...]);
 */
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { freePort, hold, startDnsmasq, startMemcached, startMemshift, TextClient, type DnsmasqHandle, type HostsLine, type MemshiftHandle, type ServerHandle } from './harness.js';
import { finalCheck, formatReport, runModelLoad, type ModelReport } from './model-load.js';
import { everyKeyOnce, migrationStatus, untilAll } from './migration-scenario.js';
import { autoMigrationId } from '../../src/discovery/migration-id.js';

export const podName = (i: number, group?: string): string => (group === undefined ? `mc-${i}.mc.test` : `mc-${i}.${group}.mc.test`);
export const podIp = (i: number): string => `127.0.1.${10 + i}`;
/** The hosts-file lines of pods `ids` under `mc.test` (a group's under `<group>.mc.test`). */
export const podLines = (ids: readonly number[], group?: string): HostsLine[] => ids.map((i) => [podIp(i), podName(i, group), group === undefined ? 'mc.test' : `${group}.mc.test`]);

export interface DiscoveryFleet {
  /** The dnsmasq each sidecar asks (with `secondDns`: sidecar 1 asks `dns2`). */
  dns: DnsmasqHandle;
  dns2?: DnsmasqHandle;
  /** Every pod's memcached, by pod index. */
  pods: ServerHandle[];
  port: number;
  sidecars: MemshiftHandle[];
  admins: number[];
  ports: number[];
  /** Rewrites the hosts file (every dnsmasq the fleet runs). */
  setPods(ids: readonly number[]): Promise<void>;
}

export interface FleetOptions {
  /** How many pods run memcached. */
  pods: number;
  /** Pods in DNS at start (a plain pool). */
  dns?: number[];
  /** Replica groups instead: group name → its pods (pods are per group: a-0 is not b-0). */
  groups?: Record<string, number[]>;
  autopilot?: Record<string, unknown>;
  /** More fields of pool main (failover_after, ...). */
  pool?: Record<string, unknown>;
  /** Sidecar 1 asks a second dnsmasq (for answers that differ between sidecars). */
  secondDns?: boolean;
  env?: Record<string, string>;
}

/** The hosts lines of a fleet: a plain pool's pods, or each group's. */
const hostsOf = (opts: FleetOptions, ids: readonly number[]): HostsLine[] =>
  opts.groups === undefined ? podLines(ids) : Object.entries(opts.groups).flatMap(([g, pods]) => podLines(pods.filter((p) => ids.includes(p)), g));

export async function startDiscoveryFleet(opts: FleetOptions): Promise<DiscoveryFleet> {
  const port = await freePort(podIp(0));
  const podCount = opts.groups === undefined ? opts.pods : Object.values(opts.groups).flat().length;
  const pods = await Promise.all(Array.from({ length: podCount }, (_, i) => startMemcached({ host: podIp(i), port, memoryMb: 128 })));
  const initial = opts.dns ?? Object.values(opts.groups ?? {}).flat();
  const dns = await startDnsmasq({ hosts: hostsOf(opts, initial), ttl: 1 });
  const dns2 = opts.secondDns === true ? await startDnsmasq({ hosts: hostsOf(opts, initial), ttl: 1 }) : undefined;
  const discovery = (name: string, i: number): Record<string, unknown> => ({ dns: name, port, interval: '1s', resolver: (i === 1 && dns2 !== undefined ? dns2 : dns).address });
  const sidecars: MemshiftHandle[] = [];
  const admins: number[] = [];
  for (let i = 0; i < 2; i++) {
    const admin = await freePort();
    admins.push(admin);
    const where = opts.groups === undefined ? { discovery: discovery('mc.test', i) } : { replicas: Object.keys(opts.groups).map((g) => ({ name: g, discovery: discovery(`${g}.mc.test`, i) })) };
    const pool = { ...where, autopilot: { min_stable: '2s', ...opts.autopilot }, timeout: 2000, ...opts.pool };
    const yaml = stringify({ listen: [`127.0.0.1:${await freePort()}`], admin: { listen: `127.0.0.1:${admin}`, token: 'test-token' }, pools: { main: pool } });
    sidecars.push(await startMemshift(yaml, { env: { ...opts.env }, startTimeoutMs: 30_000 }));
  }
  return {
    dns,
    ...(dns2 === undefined ? {} : { dns2 }),
    pods,
    port,
    sidecars,
    admins,
    ports: sidecars.map((s) => s.port),
    setPods: async (ids) => {
      await dns.setHosts(hostsOf(opts, ids));
      await dns2?.setHosts(hostsOf(opts, ids));
    },
  };
}

/** The id every sidecar computes for a move of pool main between these pods. */
export const autoId = (fleet: DiscoveryFleet, from: readonly number[], to: readonly number[], tag?: string): string => {
  const ring = (ids: readonly number[]) => ids.map((i) => ({ host: podIp(i), port: fleet.port, name: podName(i) }));
  return autoMigrationId('main', ring(from), ring(to), tag);
};

/** Four pods, the first three in DNS, and 5,000 keys set: a growth 3 -> 4 to come, and the id of its migration. */
export async function beforeGrowth(autopilot: Record<string, unknown>): Promise<{ fleet: DiscoveryFleet; id: string }> {
  const fleet = await startDiscoveryFleet({ pods: 4, dns: [0, 1, 2], autopilot });
  await preload(fleet.ports[0]!, 5_000);
  return { fleet, id: autoId(fleet, [0, 1, 2], [0, 1, 2, 3]) };
}

/** Sets `keys` keys k:<i> through `port`. */
export async function preload(port: number, keys: number): Promise<void> {
  const c = await TextClient.connect(port);
  for (let i = 0; i < keys; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, keys - i) }, (_, j) => `set k:${i + j} 0 0 ${String(i + j).length} noreply\r\n${i + j}\r\n`).join('');
    await c.write(`${batch}mn\r\n`);
    await c.read((b) => (b.toString().endsWith('MN\r\n') ? true : 0), 30_000);
  }
  c.close();
}

/** Runs `during` under the model-checked load through both sidecars (6 clients, 2,000 keys), then reads every key once more. */
export async function underLoad(fleet: DiscoveryFleet, during: () => Promise<void>, label: string): Promise<ModelReport> {
  let stop = false;
  const load = runModelLoad({ ports: fleet.ports, keys: 2_000, clients: 6, stop: () => stop, timeoutMs: 10_000 });
  await hold(1_000, 'the load runs before the change');
  try {
    await during();
    await hold(1_000, 'and a while after it');
  } finally {
    stop = true;
  }
  const report = await finalCheck(fleet.ports, await load);
  console.log(`${label}: ${formatReport(report)}`);
  return report;
}

export function expectClean(report: ModelReport): void {
  expect(report.samples).toEqual([]);
  expect({ stale: report.staleReads, resurrected: report.resurrectedDeletes, lost: report.lostWrites, unexplained: report.unexplainedReads }).toEqual({ stale: 0, resurrected: 0, lost: 0, unexplained: 0 });
}

/** Waits until both sidecars show migration `id` in `phase` (default done); returns its status. */
export async function untilMigrated(fleet: DiscoveryFleet, id: string, timeoutMs = 120_000, phase = 'done'): Promise<Record<string, unknown>> {
  const all = await untilAll(fleet.admins, (s) => s.id === id && s.phase === phase, timeoutMs);
  for (const s of all) expect({ id: s.id, phase: s.phase }).toEqual({ id, phase });
  const s = all[0]!;
  console.log(`${id}: T_copy ${String(s.t_copy_s)} s + T_sync ${String(s.t_sync_s)} s + T_verify ${String(s.t_verify_s)} s = T_total ${String(s.t_total_s)} s; counts ${JSON.stringify(s.counts)}`);
  return s;
}

/** Each sidecar's ring of pool main, group by group: the node names of the servers in it (failed-over ones left out). */
export async function ringsOf(fleet: DiscoveryFleet): Promise<string[][][]> {
  return Promise.all(
    fleet.admins.map(async (a) => {
      const body = (await (await fetch(`http://127.0.0.1:${a}/backends`)).json()) as { pools: { name: string; groups: { backends: { name: string | null; address: string; out: boolean }[] }[] }[] };
      const main = body.pools.find((p) => p.name === 'main')!;
      return main.groups.map((g) => g.backends.filter((b) => !b.out).map((b) => b.name ?? b.address));
    }),
  );
}

/** Each sidecar's backends that are up (their addresses). */
export async function backendsUp(fleet: DiscoveryFleet): Promise<string[][]> {
  return Promise.all(
    fleet.admins.map(async (a) => {
      const body = (await (await fetch(`http://127.0.0.1:${a}/backends`)).json()) as { pools: { groups: { backends: { address: string; state: string }[] }[] }[] };
      return body.pools.flatMap((p) => p.groups.flatMap((g) => g.backends.filter((b) => b.state === 'up').map((b) => b.address)));
    }),
  );
}

/** The migration each sidecar shows (its id and phase; null when none). */
export async function migrationsOf(fleet: DiscoveryFleet): Promise<(string | null)[]> {
  return Promise.all(fleet.admins.map(async (a) => ((await migrationStatus(a)).id as string | undefined) ?? null));
}

/** Keys held by two pods (none once a migration cleaned up), over the pods still running. */
export async function keysOnTwo(pods: readonly ServerHandle[]): Promise<string[]> {
  return (await everyKeyOnce(pods.filter((b) => b.running))).onTwo;
}

/** One sample of each sidecar's /metrics: the value of `series` (the name with its labels, as printed), or null when absent. */
export async function metricOf(fleet: DiscoveryFleet, series: string): Promise<(number | null)[]> {
  return Promise.all(
    fleet.admins.map(async (a) => {
      const text = await (await fetch(`http://127.0.0.1:${a}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? null : Number(line.slice(series.length + 1));
    }),
  );
}

/** POSTs /migration/<action> (with the token) to sidecar `i`; returns the answer's status and body. */
export async function post(fleet: DiscoveryFleet, i: number, action: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${fleet.admins[i]!}/migration/${action}`, {
    method: 'POST',
    headers: { authorization: 'Bearer test-token', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}
