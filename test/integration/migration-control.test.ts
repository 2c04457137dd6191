/**
 * Migration control and guards (issue 6): reserved keys, flush_all while a migration runs, the admin
 * endpoints' token rules, pause/resume, abort after cutover refused (409), a second migration of the
 * pool waiting for the running one, and `{"phase": null}` where no migration is configured.
 * Issue 14: a block without `start:` stays planned until `memshift migrate start`.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, hold, pollUntil, REPO_ROOT, sleep, spreadKeys, startMemcached, startMemshift, stopAll, TextClient } from '../support/harness.js';
import { migrationStatus } from '../support/migration-scenario.js';

afterAll(stopAll);

const post = (admin: number, action: string, token?: string): Promise<Response> =>
  fetch(`http://127.0.0.1:${admin}/migration/${action}`, { method: 'POST', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

const waitPhase = (admin: number, phase: string, ms = 60_000): Promise<Record<string, unknown>> =>
  pollUntil(`phase ${phase}`, () => migrationStatus(admin), (s) => s.phase === phase, ms, 100);

it('guards reserved keys and flush_all, takes control requests with a token, and refuses an abort after cutover', async () => {
  const servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  const spec = servers.map((s) => `${s.address}:1`);
  const sidecar = async (id: string, from: string[]): Promise<{ port: number; admin: number }> => {
    const port = await freePort();
    const admin = await freePort();
    await startMemshift(
      stringify({
        listen: [`127.0.0.1:${port}`],
        admin: { listen: `127.0.0.1:${admin}`, token: 'secret' },
        pools: { main: { servers: spec, migration: { id, from, settle: '1500ms', rate: 5000 } } },
      }),
    );
    return { port, admin };
  };
  const a = await sidecar('grow-a', spec.slice(0, 2));
  const c = await TextClient.connect(a.port);
  expect(await c.request('get __memshift__:migration:main')).toBe('CLIENT_ERROR keys under __memshift__ are reserved\r\n');
  expect(await c.request('set __memshift__:x 0 0 1\r\na')).toBe('CLIENT_ERROR keys under __memshift__ are reserved\r\n');
  expect(await c.request('get ok')).toBe('END\r\n'); // the connection is fine
  for (let i = 0; i < 2000; i++) await c.write(`set k:${i} 0 0 1 noreply\r\nx\r\n`);

  // No `start:` in the block: it stays planned (for several of the leader's polls) and says why.
  for (const until = Date.now() + 3_000; Date.now() < until; await sleep(200)) {
    const s = await migrationStatus(a.admin);
    expect({ phase: s.phase, waiting: s.waiting }).toEqual({ phase: 'planned', waiting: 'waiting for migrate start' });
  }
  expect(await c.request('flush_all')).toBe('OK\r\n'); // planned: nothing runs yet
  for (let i = 0; i < 2000; i++) await c.write(`set k:${i} 0 0 1 noreply\r\nx\r\n`);
  const { stdout } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), 'migrate', 'start', '--admin', `127.0.0.1:${a.admin}`, '--token', 'secret'], { encoding: 'utf8' });
  expect(stdout).toBe('main: migration grow-a: start accepted; phase dual_write\n');
  await waitPhase(a.admin, 'dual_write', 10_000);
  expect(await c.request('flush_all')).toBe('SERVER_ERROR flush_all refused while a migration runs\r\n');

  // A second migration of the same pool with another id waits for the running one.
  const b = await sidecar('grow-b', spec.slice(0, 1));
  const other = await migrationStatus(b.admin);
  expect(String(other.error)).toMatch(/already has migration "grow-a" running/);
  expect((await post(b.admin, 'start', 'secret')).status).toBe(409);

  expect((await post(a.admin, 'pause')).status).toBe(401);
  expect((await post(a.admin, 'pause', 'wrong')).status).toBe(401);
  const paused = await post(a.admin, 'pause', 'secret');
  expect(paused.status).toBe(200);
  expect(((await paused.json()) as { paused: boolean }).paused).toBe(true);
  const phase = (await migrationStatus(a.admin)).phase;
  await hold(2_500, 'longer than settle: nothing moves while paused');
  expect((await migrationStatus(a.admin)).phase).toBe(phase);
  expect((await post(a.admin, 'resume', 'secret')).status).toBe(200);

  // In cutover read-modify-writes wait, and so does whatever the same connection sends after them:
  // a pipelined set, incr, get answers in order and the get sees the increment, for every key.
  const cut = await waitPhase(a.admin, 'cutover');
  expect(cut.phase).toBe('cutover');
  // Keys that spread over any ring, so some of them move (none of order:0 .. order:59 moved for 42% of the port sets).
  const keys = spreadKeys('order:', 60);
  await c.write(keys.map((k) => `set ${k} 0 0 1\r\n5\r\nincr ${k} 1\r\nget ${k}\r\n`).join(''));
  const replies = (await c.read((b) => (b.toString().split('END\r\n').length - 1 >= keys.length ? true : 0), 30_000)).toString();
  expect(replies).toBe(keys.map((k) => `STORED\r\n6\r\nVALUE ${k} 0 1\r\n6\r\nEND\r\n`).join(''));

  const done = await waitPhase(a.admin, 'done');
  expect(done.phase).toBe('done');
  const abort = await post(a.admin, 'abort', 'secret');
  expect(abort.status).toBe(409);
  expect(await abort.text()).toMatch(/past its cutover/);
  expect(await c.request('flush_all')).toBe('OK\r\n'); // no migration running any more
  c.close();

  // Without a migration block: {"phase": null}.
  const plainAdmin = await freePort();
  await startMemshift(stringify({ listen: [`127.0.0.1:${await freePort()}`], admin: { listen: `127.0.0.1:${plainAdmin}` }, pools: { main: { servers: spec } } }));
  expect(await migrationStatus(plainAdmin)).toEqual({ phase: null });
}, 120_000);
