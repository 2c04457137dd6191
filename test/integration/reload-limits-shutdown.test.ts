/**
 * What a reload does to the client listeners, and what the admin API does once a shutdown started
 * (review findings 3, 4 and 8). One memshift over real memcached:
 * - limits.max_connections raised by a reload holds on every listener, the kept one and one the
 *   reload adds: every client up to the new limit is served, the next one on either listener gets
 *   memcached's "ERROR Too many open connections" (Node's own cap, left at the start's limit, used
 *   to drop them without a word); lowered under the clients connected, they stay and a new one is
 *   refused the same way;
 * - a dry run whose new listener cannot bind answers refused, as the reload itself would, and a
 *   dry run with a free new listener leaves it unbound;
 * - SIGTERM while a request is in flight: a POST /reload (or any admin POST) in the drain window
 *   answers 503 "memshift is stopping", nothing is built, and the process exits 0.
 */
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, spreadKeys, startMemcached, startMemshift, stopAll, TextClient, waitUntil } from '../support/harness.js';
import { metricValue, scrape } from '../support/workers.js';

afterAll(stopAll);

const TOKEN = 'test-token';
const post = (admin: number, path: string, body?: unknown): Promise<Response> =>
  fetch(`http://127.0.0.1:${admin}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

/** A client that is served: it answers `version`. */
async function served(port: number): Promise<TextClient> {
  const c = await TextClient.connect(port);
  expect(await c.request('version', 5_000)).toMatch(/^VERSION /);
  return c;
}

/** A client over the limit: memcached's error, then the connection closed (never closed without a word). */
async function refused(port: number): Promise<void> {
  const c = await TextClient.connect(port);
  expect(await c.readUntil('\r\n', 5_000)).toBe('ERROR Too many open connections\r\n');
  expect(await c.waitClosed(5_000)).toBe(true);
}

const until = (what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> => waitUntil(what, check, ms, 50);

it('max_connections changed by a reload holds on every listener, kept and new, with memcached\'s error past it', async () => {
  const m = await startMemcached();
  const [kept, added, admin] = [await freePort(), await freePort(), await freePort()];
  const config = (listen: number[], max: number): string =>
    stringify({ listen: listen.map((p) => `127.0.0.1:${p}`), admin: { listen: `127.0.0.1:${admin}`, token: TOKEN }, pools: { main: { servers: [`${m.address}:1`] } }, limits: { max_connections: max } });
  const p = await startMemshift(config([kept], 2));
  const clients: TextClient[] = [];
  try {
    clients.push(await served(kept), await served(kept));
    await refused(kept);

    // Raised to 150, with a second listener: 74 more on each listener (past the start's 2 + 64 on both).
    writeFileSync(p.configFile, config([kept, added], 150));
    const r = await post(admin, '/reload');
    expect(r.status, await r.clone().text()).toBe(200);
    expect(((await r.json()) as { result: string }).result).toBe('applied');
    for (const port of [kept, added]) for (let i = 0; i < 74; i++) clients.push(await served(port));
    expect(clients).toHaveLength(150);
    await refused(kept);
    await refused(added);
    // Those served before are still served.
    for (const c of [clients[0]!, clients[75]!, clients[149]!]) expect(await c.request('version')).toMatch(/^VERSION /);

    // Lowered to 10 under the 150 connected: they stay (as memcached keeps them), a new one is refused.
    writeFileSync(p.configFile, config([kept, added], 10));
    expect((await post(admin, '/reload')).status).toBe(200);
    await refused(kept);
    await refused(added);
    expect(await clients[149]!.request('version')).toMatch(/^VERSION /);
    for (const c of clients.splice(0)) c.close();
    const open = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
      return Number(/^memshift_client_connections (\d+)$/m.exec(text)?.[1]);
    };
    await until('the clients to be gone', async () => (await open()) === 0);
    for (let i = 0; i < 10; i++) clients.push(await served(i % 2 === 0 ? kept : added));
    await refused(added);
  } finally {
    for (const c of clients) c.close();
  }
  expect(await p.stop()).toBe(0);
}, 60_000);

it('a dry run binds the listeners a reload adds: one that cannot bind is refused, as the reload is; a free one is left unbound', async () => {
  const m = await startMemcached();
  const [port, admin, taken, free] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = (listen: number[]): string => stringify({ listen: listen.map((l) => `127.0.0.1:${l}`), admin: { listen: `127.0.0.1:${admin}`, token: TOKEN }, pools: { main: { servers: [`${m.address}:1`] } } });
  const p = await startMemshift(config([port]));
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(taken, '127.0.0.1', resolve));
  try {
    writeFileSync(p.configFile, config([port, taken]));
    const dry = await post(admin, '/reload?dry_run=true');
    const body = (await dry.json()) as { result: string; dry_run: boolean; errors: string[] };
    expect(dry.status).toBe(409);
    expect(body).toMatchObject({ result: 'refused', dry_run: true });
    expect(body.errors.join(' ')).toContain(`cannot listen on 127.0.0.1:${taken}`);
    // The reload itself answers the same.
    const real = (await (await post(admin, '/reload')).json()) as { result: string; errors: string[] };
    expect(real.result).toBe('refused');
    expect(real.errors.join(' ')).toContain(`cannot listen on 127.0.0.1:${taken}`);

    writeFileSync(p.configFile, config([port, free]));
    const ok = (await (await post(admin, '/reload?dry_run=true')).json()) as { result: string };
    expect(ok.result).toBe('would_apply');
    // Nothing listens there after the dry run: the port binds here.
    const after = net.createServer();
    await new Promise<void>((resolve, reject) => {
      after.once('error', reject);
      after.listen(free, '127.0.0.1', resolve);
    });
    await new Promise((r) => after.close(r));
    // Still serving on the one listener it had.
    (await served(port)).close();
  } finally {
    await new Promise((r) => holder.close(r));
  }
  expect(await p.stop()).toBe(0);
}, 60_000);

it('after SIGTERM, an admin POST in the drain window answers 503 "memshift is stopping", and the process exits', async () => {
  const backends = [await startMemcached(), await startMemcached()];
  const [port, admin] = [await freePort(), await freePort()];
  const servers = backends.map((b) => `${b.address}:1`);
  const config = (pool: Record<string, unknown>): string => stringify({ listen: [`127.0.0.1:${port}`], admin: { listen: `127.0.0.1:${admin}`, token: TOKEN }, pools: { main: { servers, ...pool } } });
  const p = await startMemshift(config({}));
  const c = await TextClient.connect(port);
  const hung = backends[0]!;
  hung.pause();
  try {
    // A request parked on the paused backend keeps the drain open.
    const queuedOnHung = async (): Promise<number> => metricValue(await scrape(admin), 'memshift_backend_requests_total', `{backend="${hung.address}"}`);
    const before = await queuedOnHung();
    await c.write(`get ${spreadKeys('term:', 200).join(' ')}\r\n`);
    await until('the get to be queued on the paused server', async () => (await queuedOnHung()) > before);
    // What the reload would apply: a migration block (its generation would start timers of its own).
    writeFileSync(p.configFile, config({ servers: [...servers, '127.0.0.1:1:1'], migration: { id: 'late', from: servers, start: 'now' } }));
    p.kill('SIGTERM');
    await until('the drain to start', async () => p.logs().includes('shutting down'));
    for (const path of ['/reload', '/reload?dry_run=true', '/migration/start']) {
      const r = await post(admin, path, path.startsWith('/migration') ? { pool: 'main' } : undefined);
      expect(r.status, path).toBe(503);
      expect(await r.json()).toEqual({ error: 'memshift is stopping' });
    }
    // GETs still answer: not ready while draining.
    expect((await fetch(`http://127.0.0.1:${admin}/readyz`)).status).toBe(503);
    hung.resume();
    expect((await c.read((b) => (b.toString().endsWith('END\r\n') ? true : 0), 10_000)).toString()).toMatch(/END\r\n$/);
    // It exits on its own (the harness would otherwise SIGKILL it after waiting).
    const exit = await p.waitExit(15_000);
    expect(exit, p.logs().split('\n').slice(-10).join('\n')).toEqual({ code: 0, signal: null });
    expect(p.logs()).toContain('shutdown complete');
    expect(p.logs()).not.toContain('config reloaded');
    expect(p.logs()).not.toContain('still running');
  } finally {
    hung.resume();
  }
}, 60_000);
