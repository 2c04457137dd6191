/**
 * Automatic rebuild (issue 5, acceptance 3): two sidecars over two groups of two memcached. A
 * backend of zone-b is killed with SIGKILL and restarted empty while clients keep setting and
 * deleting through both sidecars. Each sidecar notices the restart (uptime reset); exactly one of
 * them rebuilds the backend from zone-a (the other follows its lease), GET /replication reports
 * the counts and T_copy/T_sync/T_verify, and afterwards both groups hold identical data, with no
 * deleted key back and no client error (write: one). Also: a backend whose failed-write log
 * overflowed is rebuilt once it answers again.
 */
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stringify, parse } from 'yaml';
import { freePort, hold, pollUntil, startMemshift, stopAll, TextClient } from '../support/harness.js';
import { diffGroups, groupItems, startReplicatedPool } from '../support/replication-scenario.js';

afterAll(stopAll);

const tempDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'memshift-wlog-'));

interface BackendStatus {
  address: string;
  state: string;
  recovering: boolean;
  needsResync: boolean;
  sync: null | {
    state: string;
    role: string;
    reason: string;
    progress: null | { counts: Record<string, number>; durations: Record<string, number | null> };
  };
}

async function backendStatus(adminPort: number, address: string): Promise<BackendStatus> {
  const r = await fetch(`http://127.0.0.1:${adminPort}/replication`);
  const body = (await r.json()) as { pools: { groups: { backends: BackendStatus[] }[] }[] };
  return body.pools[0]!.groups.flatMap((g) => g.backends).find((b) => b.address === address)!;
}

it('rebuilds a backend that restarted empty, once across sidecars, while clients write', async () => {
  const admin1 = await freePort();
  const pool = await startReplicatedPool({ write: 'one', timeout: 300, resync: { rate: 50_000 } }, { admin: { listen: `127.0.0.1:${admin1}` } });
  const { zoneA, zoneB, port } = pool;
  // A second sidecar over the same groups.
  const admin2 = await freePort();
  const port2 = await freePort();
  const config2 = parse(pool.yaml) as Record<string, unknown>;
  await startMemshift(stringify({ ...config2, listen: [`127.0.0.1:${port2}`], admin: { listen: `127.0.0.1:${admin2}` } }));

  const c = await TextClient.connect(port);
  await c.write(Array.from({ length: 8000 }, (_, i) => `set s:${i} ${i % 7} ${i % 3 === 0 ? 3600 : 0} ${String(i).length}\r\n${i}\r\n`).join(''));
  await c.write('mn\r\n');
  await c.read((b) => (b.toString().endsWith('MN\r\n') ? true : 0), 10_000);
  c.close();

  const errors: string[] = [];
  const deleted = new Set<string>();
  let stop = false;
  const client = async (id: number, to: number): Promise<void> => {
    const w = await TextClient.connect(to);
    for (let i = 0; !stop; i++) {
      // Each client its own keys: two sidecars writing one key at once may land in different orders
      // on the two groups (docs/replication.md: concurrent writers), which is not what this test is about.
      const key = `live:${id}:${(i * 7) % 150}`;
      if (i % 5 === 4) {
        const r = await w.request(`delete ${key}`, 5_000);
        if (r !== 'DELETED\r\n' && r !== 'NOT_FOUND\r\n') errors.push(`delete ${key}: ${r}`);
        deleted.add(key);
      } else {
        const v = `${id}-${i}`;
        const r = await w.request(`set ${key} ${id} 0 ${v.length}\r\n${v}`, 5_000);
        if (r !== 'STORED\r\n') errors.push(`set ${key}: ${r}`);
        deleted.delete(key);
      }
    }
    w.close();
  };
  const clients = [client(1, port), client(2, port), client(3, port2), client(4, port2)];
  await hold(300, 'the clients write before the kill');

  const victim = zoneB[0]!;
  victim.kill('SIGKILL');
  await victim.waitExit();
  await hold(300, 'the server stays down while the clients write');
  await victim.restart(); // back, empty

  // Both sidecars see the restart; wait until neither holds the backend any more.
  const settled = (s: BackendStatus): boolean => s.state === 'up' && !s.recovering && s.sync !== null && s.sync.state !== 'running' && s.sync.state !== 'following';
  const both = (): Promise<BackendStatus[]> => Promise.all([backendStatus(admin1, victim.address), backendStatus(admin2, victim.address)]);
  const [s1, s2] = (await pollUntil('both sidecars to hold the restarted server no more', both, (all) => all.every(settled), 60_000, 200)) as [BackendStatus, BackendStatus];
  stop = true;
  await Promise.all(clients);

  const syncs = [s1.sync, s2.sync];
  expect(syncs.map((s) => s?.state)).toEqual(['done', 'done']);
  expect(syncs.map((s) => s?.role).sort()).toEqual(['follower', 'leader']);
  const leader = syncs.find((s) => s?.role === 'leader')!;
  expect(leader.reason).toMatch(/restarted/);
  const { counts, durations } = leader.progress!;
  expect(counts.copied).toBeGreaterThan(1000);
  expect(counts.verified).toBeGreaterThan(1000);
  for (const t of ['copyMs', 'syncMs', 'verifyMs', 'totalMs']) expect(typeof durations[t]).toBe('number');
  expect(errors.slice(0, 5)).toEqual([]);
  // The same numbers on /metrics of the leader; both sidecars counted the restart.
  const leaderAdmin = s1.sync?.role === 'leader' ? admin1 : admin2;
  const metrics = await (await fetch(`http://127.0.0.1:${leaderAdmin}/metrics`)).text();
  const series = (name: string, labels: string): number => Number(new RegExp(`^${name}\\{[^}]*${labels}[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
  const backend = `backend="${victim.address}"`;
  expect(series('memshift_resync_phase_seconds', `${backend},phase="total"`)).toBeCloseTo(durations.totalMs! / 1000, 3);
  expect(series('memshift_resync_keys', `${backend},kind="copied"`)).toBe(counts.copied);
  expect(series('memshift_resyncs_total', 'pool="main"')).toBe(1);
  expect(series('memshift_backend_restarts_total', 'pool="main"')).toBe(1);
  expect(series('memshift_backend_up', backend)).toBe(1);
  expect(series('memshift_backend_tko_total', backend)).toBeGreaterThanOrEqual(1);
  expect(metrics).toMatch(new RegExp(`^memshift_backend_request_duration_seconds_bucket\\{backend="${victim.address}",le="0.001"\\} \\d+$`, 'm'));
  // The rebuild is in both sidecars' history (issue 14), and in the last-duration metric.
  for (const admin of [admin1, admin2]) {
    const h = (await (await fetch(`http://127.0.0.1:${admin}/migration/history`)).json()) as { history: { kind: string; id: string; outcome: string; t_total_s: number }[] };
    expect(h.history.filter((x) => x.kind === 'rebuild').map((x) => [x.id, x.outcome])).toEqual([[`rebuild-zone-b-${victim.address}`, 'done']]);
  }
  expect(series('memshift_migration_last_duration_seconds', 'phase="total"')).toBeCloseTo(durations.totalMs! / 1000, 3);

  // Writes that failed on the victim during the rebuild are replayed (a second pass after 2 s).
  await hold(3_000, 'both replay passes run (the second 2 s after the first): a deleted key must not come back');
  const a = await groupItems(zoneA);
  const b = await groupItems(zoneB);
  expect(diffGroups(a, b).slice(0, 5)).toEqual([]);
  expect([...deleted].filter((k) => a.has(k) || b.has(k))).toEqual([]);
  expect(a.size).toBeGreaterThanOrEqual(8000);
  const d = durations as Record<string, number>;
  console.log(
    `resync: ${a.size} keys identical in both groups, ${deleted.size} deleted keys absent; copied ${counts.copied}, verified ${counts.verified}, ` +
      `T_copy ${d.copyMs} ms + T_sync ${d.syncMs} ms + T_verify ${d.verifyMs} ms = T_total ${d.totalMs} ms`,
  );
}, 120_000);

it('rebuilds a backend whose failed-write log overflowed, once it answers again', async () => {
  const admin = await freePort();
  const { zoneA, zoneB, port } = await startReplicatedPool(
    { write: 'one', timeout: 200, write_log: { dir: await tempDir(), max_bytes: 2048 } },
    { admin: { listen: `127.0.0.1:${admin}` } },
  );
  const victim = zoneB[1]!;
  victim.pause();
  // Far more failed writes than 2 KiB of log holds: the log overflows and flags the backend.
  const c = await TextClient.connect(port);
  // Keys with varied bytes: fnv1a over short sequential keys clusters, and the victim could own few.
  const key = (i: number): string => `o:${createHash('md5').update(String(i)).digest('hex').slice(0, 16)}`;
  for (let i = 0; i < 600; i++) expect(await c.request(`set ${key(i)} 1 0 ${String(i).length}\r\n${i}`, 5_000)).toBe('STORED\r\n');
  c.close();
  // The writes the stopped backend holds fail at their timeout and are logged then.
  const flagged = await pollUntil('the stopped server to need a resync', () => backendStatus(admin, victim.address), (x) => x.needsResync, 10_000, 100);
  expect(flagged, JSON.stringify(flagged)).toMatchObject({ needsResync: true });
  victim.resume();
  const s = await pollUntil('the resync to be done', () => backendStatus(admin, victim.address), (x) => x.sync?.state === 'done' && !x.recovering, 30_000, 200);
  expect(s.sync).toMatchObject({ state: 'done', role: 'leader', reason: expect.stringMatching(/overflowed/) });
  expect(s).toMatchObject({ needsResync: false, recovering: false });
  const a = await groupItems(zoneA);
  const b = await groupItems(zoneB);
  expect(diffGroups(a, b).slice(0, 5)).toEqual([]);
  expect(a.size).toBe(600);
}, 60_000);
