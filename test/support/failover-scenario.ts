/**
 * Passive migration (issue 6, acceptance 5): a pool with two replica groups of three memcached and
 * `failover_after`, two memshift sidecars, N keys loaded, then model-checked clients on both. One
 * backend of group a is killed (SIGKILL) and stays down: once it has been down for failover_after,
 * a failover migration moves its arcs to the two other servers of group a, copied from group b.
 * Afterwards: both sidecars report the same failover, done; no stale read, resurrected delete or
 * lost write; no eviction; and group a's survivors hold exactly what group b holds.
 */
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { freePort, startMemcached, startMemshift, stats, TextClient, type ServerHandle } from './harness.js';
import { finalCheck, formatReport, runModelLoad } from './model-load.js';
import { migrationStatus } from './migration-scenario.js';
import { diffGroups, groupItems } from './replication-scenario.js';

export interface FailoverScenario {
  keys: number;
  failoverAfter: string;
  settle: string;
}

export async function runFailoverScenario(s: FailoverScenario): Promise<void> {
  const groupA = await Promise.all([0, 1, 2].map(() => startMemcached({ memoryMb: 128 })));
  const groupB = await Promise.all([0, 1, 2].map(() => startMemcached({ memoryMb: 128 })));
  const sidecars: ServerHandle[] = [];
  const admins: number[] = [];
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const admin = await freePort();
    admins.push(admin);
    const yaml = stringify({
      listen: [`127.0.0.1:${port}`],
      admin: { listen: `127.0.0.1:${admin}`, token: 'test-token' },
      pools: {
        main: {
          replicas: [
            { name: 'a', servers: groupA.map((b) => `${b.address}:1`) },
            { name: 'b', servers: groupB.map((b) => `${b.address}:1`) },
          ],
          // Every write is acknowledged by both groups: a read of either may follow it at once.
          write: 'all',
          timeout: 1000,
          failover_after: s.failoverAfter,
          failover_settle: s.settle,
          resync: { rate: 50_000 },
        },
      },
    });
    sidecars.push(await startMemshift(yaml));
  }
  const ports = sidecars.map((p) => p.port);
  const c = await TextClient.connect(ports[0]!);
  for (let i = 0; i < s.keys; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, s.keys - i) }, (_, j) => `set k:${i + j} ${j % 5} 0 ${String(i + j).length} noreply\r\n${i + j}\r\n`).join('');
    await c.write(`${batch}mn\r\n`);
    await c.read((b) => (b.toString().endsWith('MN\r\n') ? true : 0), 30_000);
  }
  c.close();
  expect((await migrationStatus(admins[0]!)).phase).toBeNull();

  let stop = false;
  const load = runModelLoad({ ports, keys: 2_000, clients: 6, stop: () => stop, timeoutMs: 10_000 });
  await new Promise((r) => setTimeout(r, 1_000));
  const dead = groupA[1]!;
  dead.kill('SIGKILL');
  await dead.waitExit();
  const killedAt = Date.now();
  const deadline = Date.now() + 240_000;
  let all: Record<string, unknown>[] = [];
  while (Date.now() < deadline) {
    all = await Promise.all(admins.map((a) => migrationStatus(a)));
    if (all.every((x) => x.phase === 'done')) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  stop = true;
  const report = await finalCheck(ports, await load);
  const status = all[0]!;
  console.log(`failover of ${dead.address} (group a), ${s.keys} keys, done ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill: ${formatReport(report)}`);
  console.log(`T_copy ${String(status.t_copy_s)} s + T_sync ${String(status.t_sync_s)} s + T_verify ${String(status.t_verify_s)} s = T_total ${String(status.t_total_s)} s; counts ${JSON.stringify(status.counts)}`);
  // Both sidecars ran the same failover to the end.
  expect(all.map((x) => [x.id, x.phase, x.failover])).toEqual([0, 1].map(() => [`failover-a-${dead.address.replace(/:/g, '_')}`, 'done', { group: 'a', server: dead.address }]));
  expect(report.samples).toEqual([]);
  expect({ stale: report.staleReads, resurrected: report.resurrectedDeletes, lost: report.lostWrites, unexplained: report.unexplainedReads }).toEqual({ stale: 0, resurrected: 0, lost: 0, unexplained: 0 });
  for (const b of [...groupA, ...groupB].filter((x) => x !== dead)) expect((await stats(b.port)).get('evictions')).toBe('0');
  // Group a's two survivors now hold what group b holds: every loaded key, and the load's.
  const a = await groupItems(groupA.filter((x) => x !== dead));
  const b = await groupItems(groupB);
  expect(diffGroups(a, b).slice(0, 5)).toEqual([]);
  expect(b.size).toBeGreaterThanOrEqual(s.keys);
}
