/**
 * A route migration under load through two memshift sidecars (issue 14 acceptance): the keys of
 * route "tenant42:" move from pool main to pool tenant (its own servers, hashed differently) while
 * model-checked clients run on the prefix and on keys that stay. Afterwards: 0 stale, 0
 * resurrected, 0 lost, every key on exactly one server, the prefix's on the new pool only. The
 * run is migration-scenario.ts's, as for a server-list migration. Once done, removing the block is
 * a reload that changes nothing for the keys; a reload that adds the pool and the block starts it.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, startMemcached, startMemshift, stats, stopAll, TextClient } from '../support/harness.js';
import { keysOnServer } from '../support/inspect.js';
import { finalCheck, runModelLoad } from '../support/model-load.js';
import { migrationStatus, runMigrationScenario, waitForPhase } from '../support/migration-scenario.js';

afterAll(stopAll);

const KEYS = 10_000;
const route = { prefix: 'tenant42:' };

it('moves a prefix from pool main to its own pool with no stale read, resurrected delete or lost write, and one copy after cleanup', async () => {
  await runMigrationScenario({ servers: 4, from: [0, 1], to: [2, 3], keys: KEYS, route });
}, 300_000);

it('an abort in verify rolls the prefix back to pool main and empties the new pool', async () => {
  await runMigrationScenario({ servers: 4, from: [0, 1], to: [2, 3], keys: KEYS, route, abortAt: 'verify' });
}, 300_000);

it('once done, the route to the new pool is the steady state: removing the block is a no-op reload', async () => {
  const backends = await Promise.all([0, 1, 2].map(() => startMemcached({ memoryMb: 64 })));
  const [port, admin] = [await freePort(), await freePort()];
  const config = (migration: Record<string, unknown> | null): string =>
    stringify({
      listen: [`127.0.0.1:${port}`],
      admin: { listen: `127.0.0.1:${admin}`, token: 'test-token' },
      pools: { main: { servers: [0, 1].map((i) => `${backends[i]!.address}:1`) }, tenant: { servers: [`${backends[2]!.address}:1`] } },
      default_pool: 'main',
      routes: [{ prefix: 't:', pool: 'tenant', ...(migration === null ? {} : { migration }) }],
    });
  // The prefix's keys loaded while the migration is planned (on pool main), then the operator starts it.
  const proxy = await startMemshift(config({ id: 'move-t', from_pool: 'main', settle: '300ms' }));
  const c = await TextClient.connect(port);
  for (let i = 0; i < 200; i++) expect(await c.request(`set t:${i} 0 0 1\r\n${i % 10}`)).toBe('STORED\r\n');
  const started = await fetch(`http://127.0.0.1:${admin}/migration/start`, { method: 'POST', headers: { authorization: 'Bearer test-token' } });
  expect(started.status).toBe(200);
  await waitForPhase(admin, ['done'], 60_000);
  const status = await migrationStatus(admin);
  expect({ prefix: status.prefix, from_pool: status.from_pool, pool: status.pool }).toEqual({ prefix: 't:', from_pool: 'main', pool: 'tenant' });
  const connections = (await stats(backends[2]!.port)).get('total_connections');

  writeFileSync(proxy.configFile, config(null));
  const r = await fetch(`http://127.0.0.1:${admin}/reload`, { method: 'POST', headers: { authorization: 'Bearer test-token' } });
  const answer = (await r.json()) as { result: string; changes: string[]; errors: string[] };
  expect({ result: answer.result, changes: answer.changes, errors: answer.errors }).toEqual({ result: 'applied', changes: ['route "t:": migration block removed (its keys are on pool tenant)'], errors: [] });
  expect((await migrationStatus(admin)).phase).toBeNull();
  // The keys are where the route sends them, and nothing was reconnected.
  for (let i = 0; i < 200; i++) expect(await c.request(`get t:${i}`)).toBe(`VALUE t:${i} 0 1\r\n${i % 10}\r\nEND\r\n`);
  c.close();
  expect((await keysOnServer(backends[2]!.port, Array.from({ length: 200 }, (_, i) => `t:${i}`))).size).toBe(200);
  for (const b of backends.slice(0, 2)) expect((await keysOnServer(b.port, Array.from({ length: 200 }, (_, i) => `t:${i}`))).size).toBe(0);
  // Reading the stats and the keys were two more connections to it; memshift made none.
  expect((await stats(backends[2]!.port)).get('total_connections')).toBe(String(Number(connections) + 2));
}, 120_000);

it('a reload that adds a pool and points a route at it with a migration block migrates the keys instead of needing force', async () => {
  const backends = await Promise.all([0, 1, 2].map(() => startMemcached({ memoryMb: 64 })));
  const [port, admin] = [await freePort(), await freePort()];
  const main = { servers: [0, 1].map((i) => `${backends[i]!.address}:1`) };
  const head = { listen: [`127.0.0.1:${port}`], admin: { listen: `127.0.0.1:${admin}`, token: 'test-token' } };
  const proxy = await startMemshift(stringify({ ...head, pools: { main } }));
  const keys = Array.from({ length: 300 }, (_, i) => `t:${i}`);
  const c = await TextClient.connect(port);
  for (const [i, k] of keys.entries()) expect(await c.request(`set ${k} 0 0 ${String(i).length}\r\n${i}`)).toBe('STORED\r\n');
  let stopLoad = false;
  const load = runModelLoad({ ports: [port], keys: 300, prefix: 't:m:', counterPrefix: 't:c:', clients: 3, stop: () => stopLoad, timeoutMs: 10_000 });

  writeFileSync(
    proxy.configFile,
    stringify({
      ...head,
      pools: { main, tenant: { servers: [`${backends[2]!.address}:1`] } },
      default_pool: 'main',
      routes: [{ prefix: 't:', pool: 'tenant', migration: { id: 'move-t', from_pool: 'main', start: 'now', settle: '500ms' } }],
    }),
  );
  const r = await fetch(`http://127.0.0.1:${admin}/reload`, { method: 'POST', headers: { authorization: 'Bearer test-token' } });
  const answer = (await r.json()) as { result: string; changes: string[] };
  expect(answer.result).toBe('applied');
  expect(answer.changes).toContain('keys under "t:" move from pool main to pool tenant: route migration "move-t" starts');
  await waitForPhase(admin, ['done'], 60_000);
  stopLoad = true;
  const report = await finalCheck([port], await load);
  expect({ stale: report.staleReads, resurrected: report.resurrectedDeletes, lost: report.lostWrites, unexplained: report.unexplainedReads }).toEqual({ stale: 0, resurrected: 0, lost: 0, unexplained: 0 });
  for (const [i, k] of keys.entries()) expect(await c.request(`get ${k}`)).toBe(`VALUE ${k} 0 ${String(i).length}\r\n${i}\r\nEND\r\n`);
  c.close();
  expect((await keysOnServer(backends[2]!.port, keys)).size).toBe(keys.length);
  for (const b of backends.slice(0, 2)) expect((await keysOnServer(b.port, keys)).size).toBe(0);
}, 120_000);
