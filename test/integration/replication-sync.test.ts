/**
 * `memshift sync`: a backend of zone-b is killed and restarted empty; while
 * clients keep writing through memshift, `memshift sync --group zone-b` rebuilds
 * the group from zone-a, and reports T_copy, T_sync, T_verify. Afterwards both
 * groups hold the same data. A sync from an unhealthy group is refused.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { pollUntil, REPO_ROOT, stopAll, TextClient, waitUntil } from '../support/harness.js';
import { groupItems, startReplicatedPool } from '../support/replication-scenario.js';
import { requireDep } from '../support/system-deps.js';
import { makeCerts } from '../support/tls-certs.js';

afterAll(stopAll);

function sync(configFile: string, ...args: string[]): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), 'sync', '-c', configFile, ...args], { encoding: 'utf8', timeout: 120_000 });
    resolve({ status: r.status, out: r.stdout, err: r.stderr });
  });
}

it('rebuilds an emptied group from the healthy one while clients write, and refuses an unhealthy source', async () => {
  const { zoneA, zoneB, port, yaml, proxy } = await startReplicatedPool({ write: 'one', timeout: 300 });
  const configFile = join(mkdtempSync(join(tmpdir(), 'memshift-sync-')), 'memshift.yml');
  writeFileSync(configFile, yaml);
  const c = await TextClient.connect(port);
  await c.write(Array.from({ length: 5000 }, (_, i) => `set s:${i} ${i % 7} 0 ${String(i).length}\r\n${i}\r\n`).join(''));
  await c.write('mn\r\n');
  await c.read((b) => (b.toString().endsWith('MN\r\n') ? true : 0), 10_000);

  const emptied = zoneB[0]!;
  emptied.kill('SIGKILL');
  await emptied.waitExit();
  await emptied.restart(); // back, empty
  // memshift saw it go and has it up again (its last state change, in the log, is up).
  const states = (): string[] => [...proxy.logs().matchAll(new RegExp(`"msg":"backend ${emptied.address} (\\w+)"`, 'g'))].map((m) => m[1]!);
  await waitUntil('memshift to have the restarted server up again', () => states().includes('connecting') && states().at(-1) === 'up', 10_000, 20);

  // Writes keep flowing through memshift during the sync (its fan-out is the dual-write).
  let stop = false;
  const writer = (async () => {
    const w = await TextClient.connect(port);
    for (let i = 0; !stop; i++) await w.request(`set live:${i % 300} 0 0 1\r\n${i % 10}`);
    w.close();
  })();
  const r = await sync(configFile, '--group', 'zone-b', '--rate', '50000');
  stop = true;
  await writer;
  expect(r.status, r.err).toBe(0);
  expect(r.out).toMatch(/^done: scanned \d+ copied \d+/m);
  expect(r.out).toMatch(/T_copy [\d.]+ s \+ T_sync [\d.]+ s \+ T_verify [\d.]+ s = T_total [\d.]+ s/);

  // The copies of the last writes to zone-b may still be on their way: compare once the groups agree,
  // or after 10 s (then the checks below show what differs).
  const compare = async () => {
    const [a, b] = [await groupItems(zoneA), await groupItems(zoneB)];
    return { a, b, differ: [...a].filter(([k, x]) => b.get(k)?.value !== x.value || b.get(k)?.flags !== x.flags).map(([k]) => k) };
  };
  const agree = (x: Awaited<ReturnType<typeof compare>>): boolean => x.differ.length === 0 && x.b.size === x.a.size;
  const { a, b, differ } = await pollUntil('zone-b to hold every item of zone-a', compare, agree, 10_000, 250).catch(compare);
  expect(a.size).toBeGreaterThanOrEqual(5000);
  expect(differ.slice(0, 5)).toEqual([]);
  expect(b.size).toBe(a.size);
  console.log(`sync: ${a.size} keys identical in both groups; ${r.out.trim().split('\n').pop()}`);
  // The run is in the pool's history, on its servers, where every sidecar's GET /migration/history reads it (issue 14).
  const h = await TextClient.connect(zoneA[0]!.port);
  const item = /^VALUE \S+ \d+ \d+\r\n(.*)\r\nEND\r\n$/s.exec(await h.request('get __memshift__:history:main'))?.[1];
  h.close();
  const synced = (JSON.parse(item ?? '[]') as { kind: string; id: string; outcome: string; from: string[]; to: string[]; t_total_s: number }[]).find((x) => x.kind === 'sync');
  expect(synced).toMatchObject({ id: 'sync-zone-b', outcome: 'done', from: zoneA.map((s) => `zone-a/${s.address}`), to: zoneB.map((s) => `zone-b/${s.address}`) });
  expect(r.out).toContain(`T_total ${synced!.t_total_s.toFixed(2)} s`);

  zoneA[1]!.kill('SIGKILL');
  await zoneA[1]!.waitExit();
  const refused = await sync(configFile, '--group', 'zone-b');
  expect(refused.status).toBe(69);
  expect(refused.err).toMatch(/source group "zone-a" is not healthy: .* does not answer; refusing to sync from it/);
  c.close();
});

it('rebuilds a group over TLS (servers that require a client certificate)', async () => {
  requireDep('openssl');
  const certs = makeCerts();
  const { zoneB, inspectA, inspectB, port, yaml, proxy } = await startReplicatedPool({ write: 'one', timeout: 300 }, {}, certs);
  const configFile = join(mkdtempSync(join(tmpdir(), 'memshift-sync-tls-')), 'memshift.yml');
  writeFileSync(configFile, yaml);
  const c = await TextClient.connect(port);
  await c.write(Array.from({ length: 3000 }, (_, i) => `set t:${i} ${i % 7} 0 ${String(i).length}\r\n${i}\r\n`).join(''));
  await c.write('mn\r\n');
  await c.read((b) => (b.toString().endsWith('MN\r\n') ? true : 0), 10_000);
  c.close();
  // memshift itself would rebuild a server that returns empty (over TLS too): stopped, only sync copies.
  await proxy.stop();
  const emptied = zoneB[1]!;
  emptied.kill('SIGKILL');
  await emptied.waitExit();
  await emptied.restart();
  const r = await sync(configFile, '--group', 'zone-b', '--rate', '50000');
  expect(r.status, r.err).toBe(0);
  expect(r.out).toMatch(/^done: scanned \d+ copied [1-9]\d*/m);
  const a = await groupItems(inspectA);
  const b = await groupItems(inspectB);
  expect(a.size).toBeGreaterThanOrEqual(3000);
  expect([...a].filter(([k, x]) => b.get(k)?.value !== x.value || b.get(k)?.flags !== x.flags).slice(0, 5)).toEqual([]);
  expect(b.size).toBe(a.size);
  console.log(`sync over TLS: ${a.size} keys identical in both groups; ${r.out.trim().split('\n').pop()}`);
});
