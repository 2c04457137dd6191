/**
 * A reload and what it keeps running across it (review findings 1, 2 and 5), with real memcached
 * and a real sidecar: a reload either applies fully or is refused and changes nothing.
 *
 * - auth changed on a pool with replica groups: needs a restart (its groups keep their connections);
 *   the pool keeps serving. On a plain pool the same change applies, is listed, and serves after;
 * - a running route migration and a timeout change of its pool: the migration goes on as it is (the
 *   same lease holder, the lease never let go), and ends;
 * - a running pool migration and a forced server change with its block unchanged: refused, even
 *   with force; the migration and the data path go on.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, hold, sleep, spreadKeys, startMemcached, startMemshift, stopAll, TextClient, waitUntil } from '../support/harness.js';
import { makeTempDir } from '../support/process.js';
import { migrationStatus, waitForPhase } from '../support/migration-scenario.js';

afterAll(stopAll);

const TOKEN = 'test-token';

async function reload(admin: number, query = ''): Promise<{ status: number; body: { result: string; changes: string[]; errors: string[]; needs_restart: string[]; needs_force: string[] } }> {
  const res = await fetch(`http://127.0.0.1:${admin}/reload${query}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, body: (await res.json()) as never };
}

const until = (what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> => waitUntil(what, check, ms, 50);

it('an auth change needs a restart on a pool with replica groups (which keep serving), and applies on a plain pool', async () => {
  const dir = makeTempDir('reload-kept-auth');
  const users = join(dir, 'memcached-auth');
  writeFileSync(users, 'app:pw\nops:pw\n');
  const pw = join(dir, 'pw');
  writeFileSync(pw, 'pw\n');
  const s = await Promise.all([0, 1, 2, 3, 4].map(() => startMemcached({ args: ['-Y', users] })));
  const [port, admin] = [await freePort(), await freePort()];
  const spec = (i: number): string => `${s[i]!.address}:1`;
  const cfg = (repUser: string, plainUser: string): string =>
    stringify({
      listen: [`127.0.0.1:${port}`],
      admin: { listen: `127.0.0.1:${admin}`, token: TOKEN },
      pools: {
        rep: { replicas: [{ name: 'a', servers: [spec(0), spec(1)] }, { name: 'b', servers: [spec(2), spec(3)] }], auth: { username: repUser, password_file: pw } },
        plain: { servers: [spec(4)], auth: { username: plainUser, password_file: pw } },
      },
      default_pool: 'rep',
      routes: [{ prefix: 'p:', pool: 'plain' }],
    });
  const proxy = await startMemshift(cfg('app', 'app'));
  const c = await TextClient.connect(port);
  const keys = spreadKeys('r:', 40);
  for (const k of keys) expect(await c.request(`set ${k} 0 0 1\r\nv`)).toBe('STORED\r\n');

  writeFileSync(proxy.configFile, cfg('ops', 'app'));
  const refused = await reload(admin);
  expect(refused.status).toBe(409);
  expect(refused.body.result).toBe('refused');
  expect(refused.body.needs_restart).toEqual(['pool rep: auth changed; its replica groups keep the connections and rings they started with: needs a restart']);
  // Nothing changed: every key is still served, and writes land.
  await hold(300, 'time for a change that the refused reload must not make');
  for (const k of keys) expect(await c.request(`get ${k}`)).toBe(`VALUE ${k} 0 1\r\nv\r\nEND\r\n`);
  expect(await c.request('set r:after 0 0 1\r\nw')).toBe('STORED\r\n');

  // The plain pool: new connections under the new login, listed, and it serves once the old ones closed.
  expect(await c.request('set p:1 0 0 1\r\nx')).toBe('STORED\r\n');
  writeFileSync(proxy.configFile, cfg('app', 'ops'));
  const applied = await reload(admin);
  expect(applied.status).toBe(200);
  expect(applied.body).toMatchObject({ result: 'applied', changes: ['pool plain: auth changed: new connections to its servers (the old ones close once idle)'] });
  const deadline = Date.now() + 1_500;
  while (Date.now() < deadline) {
    expect(await c.request('get p:1')).toBe('VALUE p:1 0 1\r\nx\r\nEND\r\n');
    await sleep(100); // served all along: a get every 100 ms for 1.5 s
  }
  expect(await c.request('set p:2 0 0 1\r\ny')).toBe('STORED\r\n');
  c.close();
}, 60_000);

it('a running route migration goes on as it is across a timeout change of its pool: same leader, the lease never let go', async () => {
  const backends = await Promise.all([0, 1, 2].map(() => startMemcached({ memoryMb: 64 })));
  const [port, admin] = [await freePort(), await freePort()];
  const config = (timeout: string): string =>
    stringify({
      listen: [`127.0.0.1:${port}`],
      admin: { listen: `127.0.0.1:${admin}`, token: TOKEN },
      pools: { main: { servers: [0, 1].map((i) => `${backends[i]!.address}:1`) }, tenant: { servers: [`${backends[2]!.address}:1`], timeout } },
      default_pool: 'main',
      routes: [{ prefix: 't:', pool: 'tenant', migration: { id: 'move-t', from_pool: 'main', settle: '300ms', rate: 200 } }],
    });
  const proxy = await startMemshift(config('1s'));
  const c = await TextClient.connect(port);
  const keys = spreadKeys('t:', 600);
  for (const k of keys) expect(await c.request(`set ${k} 0 0 1\r\nv`)).toBe('STORED\r\n');
  const started = await fetch(`http://127.0.0.1:${admin}/migration/start`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(started.status).toBe(200);
  await waitForPhase(admin, ['copy'], 30_000);
  const lease = await TextClient.connect(backends[2]!.port);
  const leaseKey = '__memshift__:lease:route:dDo';
  const holder = async (): Promise<string | null> => /^VALUE \S+ \d+ \d+\r\n(.*)\r\n/.exec(await lease.request(`get ${leaseKey}`))?.[1] ?? null;
  await until('the lease taken', async () => (await holder()) !== null);
  const before = await holder();
  const leaderBefore = (await migrationStatus(admin)).leader;

  writeFileSync(proxy.configFile, config('2s'));
  const r = await reload(admin);
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ result: 'applied', changes: ['pool tenant: timeout 2000 ms'] });
  // The migration was kept: its lease stays with the same holder all along (a rebuilt one deleted it).
  const seen = new Set<string | null>();
  for (const end = Date.now() + 1_500; Date.now() < end; ) {
    seen.add(await holder());
    await sleep(5); // the lease holder, every 5 ms for 1.5 s
  }
  expect([...seen]).toEqual([before]);
  expect(proxy.logs()).not.toMatch(/leaving migration move-t/);
  expect((await migrationStatus(admin)).leader).toBe(leaderBefore);
  await waitForPhase(admin, ['done'], 60_000);
  expect((await migrationStatus(admin)).phase).toBe('done');
  for (const k of keys.slice(0, 50)) expect(await c.request(`get ${k}`)).toBe(`VALUE ${k} 0 1\r\nv\r\nEND\r\n`);
  lease.close();
  c.close();
}, 120_000);

it('a forced server change of a pool whose migration runs, its block unchanged, is refused; the migration goes on', async () => {
  const m = await Promise.all([0, 1, 2, 3].map(() => startMemcached({ memoryMb: 64 })));
  const [port, admin] = [await freePort(), await freePort()];
  const spec = (i: number): string => `${m[i]!.address}:1`;
  const block = { id: 'grow', from: [spec(0), spec(1)], settle: '300ms', rate: 200 };
  const config = (servers: number[]): string =>
    stringify({ listen: [`127.0.0.1:${port}`], admin: { listen: `127.0.0.1:${admin}`, token: TOKEN }, pools: { main: { servers: servers.map(spec), migration: block } } });
  const proxy = await startMemshift(config([0, 1, 2]));
  const c = await TextClient.connect(port);
  const keys = spreadKeys('g:', 600);
  for (const k of keys) expect(await c.request(`set ${k} 0 0 1\r\nv`)).toBe('STORED\r\n');
  const started = await fetch(`http://127.0.0.1:${admin}/migration/start`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(started.status).toBe(200);
  await waitForPhase(admin, ['copy'], 30_000);

  writeFileSync(proxy.configFile, config([0, 1, 3]));
  const r = await reload(admin, '?force=true');
  expect(r.status).toBe(409);
  expect(r.body.errors).toEqual(['pool main: migration "grow" is running; its servers, weights or node names cannot change until it is done (or aborted)']);
  expect(r.body.needs_force).toEqual([]);
  // Nothing changed: every key is served (from the old servers or the new ones, as the phase says) and the migration ends.
  for (const k of keys) expect(await c.request(`get ${k}`)).toBe(`VALUE ${k} 0 1\r\nv\r\nEND\r\n`);
  await waitForPhase(admin, ['done'], 60_000);
  expect((await migrationStatus(admin)).phase).toBe('done');
  for (const k of keys) expect(await c.request(`get ${k}`)).toBe(`VALUE ${k} 0 1\r\nv\r\nEND\r\n`);
  c.close();
}, 120_000);
