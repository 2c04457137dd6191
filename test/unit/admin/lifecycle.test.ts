import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { hold } from '../../support/process.js';
import { AdminServer } from '../../../src/admin/index.js';
import { ADMIN_HEADERS_TIMEOUT_MS, ADMIN_MAX_CONNECTIONS } from '../../../src/admin/server.js';
import { isMemshiftError } from '../../../src/errors.js';
import { captureLogger, raw, startAdmin } from './helpers.js';

describe('admin server: start and close', () => {
  it('logs where it listens and whether mutating endpoints are on', async () => {
    const on = await startAdmin({ token: 't' });
    expect(on.lines.find((l) => l.msg === 'admin API listening')).toMatchObject({ admin: on.admin.address, mutating: true });
    const off = await startAdmin();
    expect(off.lines.find((l) => l.msg === 'admin API listening')).toMatchObject({ mutating: false });
    const empty = await startAdmin({ token: '' });
    expect(empty.lines.some((l) => l.level === 'warn' && /token is empty/.test(String(l.msg)))).toBe(true);
  });

  it('rejects with MS_ERR_LISTEN when the port is taken', async () => {
    const { admin } = await startAdmin();
    const port = Number(admin.address.split(':')[1]);
    const err: unknown = await AdminServer.start({ host: '127.0.0.1', port, logger: captureLogger().logger }).catch((e: unknown) => e);
    expect(isMemshiftError(err, 'MS_ERR_LISTEN')).toBe(true);
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
  });

  it('close() resolves promptly while an idle keep-alive connection is open, and closes it', async () => {
    const { admin } = await startAdmin({ closeGraceMs: 60_000 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await raw(admin.address, { path: '/healthz', agent });
      expect(first.status).toBe(200);
      expect(first.headers.connection).toBe('keep-alive');
      const second = await raw(admin.address, { path: '/healthz', agent });
      expect(second.socket).toBe(first.socket); // the same connection, reused and now idle
      const socketClosed = once(first.socket, 'close');
      const t0 = Date.now();
      await admin.close();
      await socketClosed;
      expect(Date.now() - t0).toBeLessThan(2_000);
    } finally {
      agent.destroy();
    }
  });

  it('refuseMutations: every POST with a good token answers 503 with the reason, its handler not run; a bad token is still 401; GETs answer', async () => {
    const { admin, base } = await startAdmin({ token: 't' });
    let ran = 0;
    admin.post('/reload', () => ({ status: 200, body: { ran: ++ran } }));
    const post = (token: string): Promise<Response> => fetch(`${base}/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect((await post('t')).status).toBe(200);
    admin.refuseMutations('memshift is stopping');
    const refused = await post('t');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('connection')).toBe('close');
    expect(await refused.json()).toEqual({ error: 'memshift is stopping' });
    expect((await post('wrong')).status).toBe(401);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(ran).toBe(1);
  });

  it('close() runs the onClose hooks once, a failing one logged, the others still run', async () => {
    const { admin, lines } = await startAdmin();
    const ran: string[] = [];
    admin.onClose(() => ran.push('a'));
    admin.onClose(() => {
      throw new Error('boom');
    });
    admin.onClose(() => ran.push('c'));
    await Promise.all([admin.close(), admin.close()]);
    await admin.close();
    expect(ran).toEqual(['a', 'c']);
    expect(lines.filter((l) => l.msg === 'admin close hook failed')).toHaveLength(1);
  });

  it('close() resolves while a fetch keep-alive connection is pooled', async () => {
    const { admin, base } = await startAdmin({ closeGraceMs: 60_000 });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const t0 = Date.now();
    await admin.close();
    expect(Date.now() - t0).toBeLessThan(2_000);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('close() lets a request in flight finish (Connection: close), then resolves; it is idempotent', async () => {
    const { admin } = await startAdmin({ closeGraceMs: 60_000 });
    let release!: () => void;
    const entered = new Promise<void>((entry) => {
      admin.get('/slow', () => {
        entry();
        return new Promise((r) => (release = () => r({ status: 200, body: { done: true } })));
      });
    });
    const pending = raw(admin.address, { path: '/slow', agent: new http.Agent({ keepAlive: true }) });
    await entered;
    let closed = false;
    const closing = admin.close().then(() => (closed = true));
    expect(admin.close()).toBe(admin.close());
    await hold(50, 'time for a close that must wait for the request');
    expect(closed).toBe(false);
    release();
    const res = await pending;
    expect([res.status, JSON.parse(res.text)]).toEqual([200, { done: true }]);
    expect(res.headers.connection).toBe('close');
    await closing;
    expect(closed).toBe(true);
  });

  it('close() cuts a request still running after the grace period', async () => {
    const { admin } = await startAdmin({ closeGraceMs: 100 });
    let entry!: () => void;
    const entered = new Promise<void>((r) => (entry = r));
    admin.get('/hang', () => (entry(), new Promise(() => {})));
    const pending = raw(admin.address, { path: '/hang' }).then(
      () => 'answered',
      () => 'cut',
    );
    await entered;
    await admin.close();
    expect(await pending).toBe('cut');
  });
});

describe('admin server: refused attempts are logged at most N a minute', () => {
  it('drops lines past the budget, and reports how many with the next one', async () => {
    let now = 1_000_000;
    const { admin, base, lines } = await startAdmin({ token: 't', authLogPerMinute: 2, now: () => now });
    admin.post('/x', () => ({ status: 200, body: {} }));
    const refusals = () => lines.filter((l) => String(l.msg).startsWith('admin request refused'));
    for (let i = 0; i < 5; i++) expect((await fetch(`${base}/x`, { method: 'POST' })).status).toBe(401);
    expect(refusals()).toHaveLength(2);
    now += 59_999;
    await fetch(`${base}/x`, { method: 'POST' });
    expect(refusals()).toHaveLength(2);
    now += 1;
    await fetch(`${base}/x`, { method: 'POST', headers: { authorization: 'Bearer bad' } });
    expect(refusals()).toHaveLength(3);
    expect(refusals()[2]).toMatchObject({ reason: 'wrong', dropped: 4 });
    expect(refusals()[0]).not.toHaveProperty('dropped');
    // The right token is never throttled.
    expect((await fetch(`${base}/x`, { method: 'POST', headers: { authorization: 'Bearer t' } })).status).toBe(200);
  });
});

describe('slow and too many connections', () => {
  const open = (base: string): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const { hostname, port } = new URL(base);
      const s = net.connect({ host: hostname, port: Number(port) }, () => resolve(s));
      s.on('error', reject);
      s.resume(); // read what the server sends (its 408), so its close is seen
    });
  const closed = (s: net.Socket): Promise<void> => new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

  it(`closes connections whose headers never finish within ${ADMIN_HEADERS_TIMEOUT_MS} ms (checked every second)`, async () => {
    const { base } = await startAdmin();
    const sockets = await Promise.all(Array.from({ length: 20 }, () => open(base)));
    for (const s of sockets) s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // no blank line: never finished
    const t0 = Date.now();
    await Promise.all(sockets.map(closed));
    expect(Date.now() - t0).toBeLessThan(ADMIN_HEADERS_TIMEOUT_MS + 3_000);
  }, 15_000);

  it(`closes connections past ${ADMIN_MAX_CONNECTIONS} at once, and serves again when they are gone`, async () => {
    const { base } = await startAdmin();
    const held = await Promise.all(Array.from({ length: ADMIN_MAX_CONNECTIONS }, () => open(base)));
    const extra = await open(base);
    await closed(extra);
    for (const s of held) s.destroy();
    await Promise.all(held.map(closed));
    const deadline = Date.now() + 5_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) status = await fetch(`${base}/healthz`).then((r) => r.status).catch(() => 0);
    expect(status).toBe(200);
  }, 15_000);
});
