import { describe, expect, it } from 'vitest';
import { AdminHttpError, registerReadyz, type AdminRequest, type AdminServer } from '../../../src/admin/index.js';
import { raw, startAdmin } from './helpers.js';

const TOKEN = 's3cret-token';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('admin server: GET endpoints', () => {
  it('binds 127.0.0.1 on a real port and answers /healthz without a token', async () => {
    const { admin, base } = await startAdmin({ token: TOKEN });
    expect(admin.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(admin.address).not.toBe('127.0.0.1:0');
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('ignores any Authorization header on GET, and answers HEAD without a body', async () => {
    const { base } = await startAdmin({ token: TOKEN });
    expect((await fetch(`${base}/healthz`, { headers: bearer('wrong') })).status).toBe(200);
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('passes path and query to a GET handler, which gets no body', async () => {
    const { admin, base } = await startAdmin();
    const seen: AdminRequest[] = [];
    admin.get('/replication', (req) => (seen.push(req), { status: 200, body: { pool: req.query.get('pool') } }));
    const res = await fetch(`${base}/replication?pool=main`);
    expect(await res.json()).toEqual({ pool: 'main' });
    expect(seen[0]).toMatchObject({ method: 'GET', path: '/replication', body: undefined });
  });

  it('sends a string body as is when the handler names a content type (/metrics)', async () => {
    const { admin, base } = await startAdmin();
    const text = '# HELP up 1 when up\nup 1\n';
    admin.get('/metrics', () => ({ status: 200, body: text, contentType: 'text/plain; version=0.0.4' }));
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(await res.text()).toBe(text);
  });

  it('registerReadyz answers 200 or 503 from the predicate', async () => {
    const { admin, base } = await startAdmin();
    let ready = false;
    registerReadyz(admin, () => ready);
    let res = await fetch(`${base}/readyz`);
    expect([res.status, await res.json()]).toEqual([503, { status: 'not ready' }]);
    ready = true;
    res = await fetch(`${base}/readyz`);
    expect([res.status, await res.json()]).toEqual([200, { status: 'ready' }]);
  });
});

describe('admin server: POST needs the bearer token', () => {
  async function withCounter(opts: { token?: string } = { token: TOKEN }) {
    const started = await startAdmin(opts);
    const calls: AdminRequest[] = [];
    started.admin.post('/flush', (req) => (calls.push(req), { status: 202, body: { flushed: true } }));
    return { ...started, calls };
  }

  it('401 without a token, with WWW-Authenticate, and the handler does not run', async () => {
    const { base, calls, lines } = await withCounter();
    const res = await fetch(`${base}/flush`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toHaveProperty('error');
    expect(calls).toHaveLength(0);
    const refusal = lines.find((l) => l.msg === 'admin request refused: bad token');
    expect(refusal).toMatchObject({ level: 'warn', remote: '127.0.0.1', method: 'POST', path: '/flush', reason: 'missing' });
  });

  it('401 with a wrong, truncated, extended or malformed token; the token is never logged', async () => {
    const { base, calls, lines } = await withCounter();
    const tries: Record<string, string>[] = [
      bearer('nope'),
      bearer(TOKEN.slice(0, -1)),
      bearer(`${TOKEN}x`),
      { authorization: `Basic ${TOKEN}` },
      { authorization: 'Bearer' },
      { authorization: TOKEN },
    ];
    for (const headers of tries) {
      expect((await fetch(`${base}/flush`, { method: 'POST', headers })).status).toBe(401);
    }
    // A large body is not read before the refusal, and the client still gets the 401.
    const big = await fetch(`${base}/flush`, { method: 'POST', headers: bearer('nope'), body: 'x'.repeat(1 << 20) });
    expect(big.status).toBe(401);
    expect(calls).toHaveLength(0);
    expect(lines.filter((l) => l.reason === 'wrong')).toHaveLength(4);
    expect(lines.filter((l) => l.reason === 'malformed')).toHaveLength(3);
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
  });

  it('runs the handler with the right token (scheme case-insensitive), passing body and query', async () => {
    const { base, calls } = await withCounter();
    const res = await fetch(`${base}/flush?delay=5`, {
      method: 'POST',
      headers: { ...bearer(TOKEN), 'content-type': 'application/json' },
      body: JSON.stringify({ pool: 'main', keys: [1, 2] }),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ flushed: true });
    expect(calls[0]).toMatchObject({ method: 'POST', path: '/flush', body: { pool: 'main', keys: [1, 2] } });
    expect(calls[0]?.query.get('delay')).toBe('5');
    const lower = await fetch(`${base}/flush`, { method: 'POST', headers: { authorization: `bearer ${TOKEN}` } });
    expect(lower.status).toBe(202);
    expect(calls[1]?.body).toBeUndefined();
  });

  it.each([
    ['no token configured', {}],
    ['an empty token', { token: '' }],
  ])('403 with %s, whatever the request carries, naming the settings that enable it', async (_name, opts) => {
    const { base, calls, lines } = await withCounter(opts);
    for (const headers of [{}, bearer(TOKEN), bearer('')]) {
      const res = await fetch(`${base}/flush`, { method: 'POST', headers });
      expect(res.status).toBe(403);
      expect(res.headers.get('connection')).toBe('close');
      const { error } = (await res.json()) as { error: string };
      expect(error).toMatch(/disabled/);
      for (const setting of ['admin.token', 'admin.token_file', 'MEMSHIFT_ADMIN_TOKEN']) expect(error).toContain(setting);
    }
    expect(calls).toHaveLength(0);
    expect(lines.find((l) => l.reason === 'disabled')).toMatchObject({ remote: '127.0.0.1', path: '/flush' });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe('admin server: errors', () => {
  it('404 JSON for an unknown path (exact match: no trailing-slash alias)', async () => {
    const { base } = await startAdmin({ token: TOKEN });
    for (const path of ['/nope', '/healthz/', '/', '//healthz']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: expect.stringContaining('no admin endpoint') });
    }
    // An unknown path is 404 even for a POST without a token.
    expect((await fetch(`${base}/nope`, { method: 'POST' })).status).toBe(404);
  });

  it('405 with Allow for a method not registered on a known path', async () => {
    const { admin, base } = await startAdmin({ token: TOKEN });
    admin.post('/migrate', () => ({ status: 200, body: {} }));
    admin.get('/pools', () => ({ status: 200, body: [] }));
    admin.post('/pools', () => ({ status: 200, body: {} }));
    const cases: [string, string, string][] = [
      ['POST', '/healthz', 'GET, HEAD'],
      ['GET', '/migrate', 'POST'],
      ['DELETE', '/pools', 'GET, HEAD, POST'],
      ['PUT', '/healthz', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(`${base}${path}`, { method, headers: bearer(TOKEN) });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(await res.json()).toHaveProperty('error');
    }
  });

  it('413 past 64 KiB by default; exactly 64 KiB is accepted', async () => {
    const { admin, base } = await startAdmin({ token: TOKEN });
    admin.post('/load', (req) => ({ status: 200, body: { length: (req.body as string).length } }));
    const body = (n: number) => JSON.stringify('x'.repeat(n - 2));
    const ok = await fetch(`${base}/load`, { method: 'POST', headers: bearer(TOKEN), body: body(64 * 1024) });
    expect([ok.status, await ok.json()]).toEqual([200, { length: 64 * 1024 - 2 }]);
    const big = await fetch(`${base}/load`, { method: 'POST', headers: bearer(TOKEN), body: body(64 * 1024 + 1) });
    expect(big.status).toBe(413);
    expect(big.headers.get('connection')).toBe('close');
    expect(await big.json()).toEqual({ error: expect.stringContaining('65536') });
  });

  it('413 for a chunked body (no Content-Length) once it passes the cap', async () => {
    const { admin } = await startAdmin({ token: TOKEN, maxBodyBytes: 1000 });
    const address = admin.address;
    let calls = 0;
    admin.post('/load', () => (calls++, { status: 200, body: {} }));
    const chunks = Array.from({ length: 8 }, () => Buffer.alloc(200, 0x20));
    const res = await raw(address, { method: 'POST', path: '/load', headers: bearer(TOKEN), body: chunks });
    expect(res.status).toBe(413);
    expect(calls).toBe(0);
    const fitting = [Buffer.alloc(500, 0x20), Buffer.from('{}')];
    const fits = await raw(address, { method: 'POST', path: '/load', headers: bearer(TOKEN), body: fitting });
    expect(fits.status).toBe(200);
  });

  it('400 for a body that is not JSON or not UTF-8', async () => {
    const { admin, base } = await startAdmin({ token: TOKEN });
    admin.post('/x', () => ({ status: 200, body: {} }));
    for (const body of ['{"a":', 'not json', new Uint8Array([0x22, 0xff, 0x22])]) {
      const res = await fetch(`${base}/x`, { method: 'POST', headers: bearer(TOKEN), body });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: expect.stringMatching(/^request body is not valid/) });
    }
  });

  it('500 JSON, logged, when a handler throws, rejects or returns nothing usable; the server keeps serving', async () => {
    const { admin, base, lines } = await startAdmin({ token: TOKEN });
    admin.get('/throws', () => {
      throw new Error('boom');
    });
    admin.get('/rejects', () => Promise.reject(new Error('async boom')));
    admin.get('/nothing', () => undefined as never);
    admin.get('/bigint', () => ({ status: 200, body: { n: 1n } }));
    admin.get('/bad-status', () => ({ status: 42, body: {} }));
    for (const path of ['/throws', '/rejects', '/nothing', '/bigint', '/bad-status']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(500);
      expect(await res.json()).toEqual({ error: expect.stringContaining('internal error') });
    }
    const logged = lines.filter((l) => l.msg === 'admin handler failed');
    expect(logged).toHaveLength(5);
    expect(logged[0]).toMatchObject({ level: 'error', path: '/throws', err: { message: 'boom' } });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('AdminHttpError sets the status and message', async () => {
    const { admin, base } = await startAdmin({ token: TOKEN });
    admin.post('/migrate', () => {
      throw new AdminHttpError(409, 'a migration is already running');
    });
    const res = await fetch(`${base}/migrate`, { method: 'POST', headers: bearer(TOKEN) });
    expect([res.status, await res.json()]).toEqual([409, { error: 'a migration is already running' }]);
  });

  it('refuses a path without a leading slash and a second registration of the same endpoint', async () => {
    const { admin } = await startAdmin();
    expect(() => admin.get('healthz', () => ({ status: 200, body: {} }))).toThrow(/must start with/);
    expect(() => admin.get('/healthz', () => ({ status: 200, body: {} }))).toThrow(/already registered/);
    admin.post('/healthz-reset', () => ({ status: 200, body: {} }));
    expect(() => admin.post('/healthz-reset', () => ({ status: 200, body: {} }))).toThrow(/already registered/);
  });
});

describe('guarded GET endpoints and non-loopback listeners', () => {
  const config = (admin: AdminServer): void => admin.getGuarded('/config', () => ({ status: 200, body: { servers: ['10.0.0.1:11211'] } }));

  it('on loopback: open, like any GET, and no warning', async () => {
    const { admin, base, lines } = await startAdmin({ token: 'sekret' });
    config(admin);
    expect((await fetch(`${base}/config`)).status).toBe(200);
    expect(lines.some((l) => String(l.msg).includes('non-loopback'))).toBe(false);
  });

  it('elsewhere: needs the token, and the start warns that the API is in clear text', async () => {
    const { admin, lines } = await startAdmin({ host: '0.0.0.0', token: 'sekret' });
    config(admin);
    const base = `http://127.0.0.1:${admin.address.split(':').pop()}`;
    expect((await fetch(`${base}/config`)).status).toBe(401);
    expect((await fetch(`${base}/config`, { headers: { Authorization: 'Bearer sekret' } })).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(lines.find((l) => String(l.msg).includes('non-loopback'))?.msg).toMatch(/without TLS: the token and every answer cross the network in clear text$/);
  });

  it('elsewhere without a token: refused, saying why, and the warning says it is open', async () => {
    const { admin, lines } = await startAdmin({ host: '0.0.0.0' });
    config(admin);
    const res = await fetch(`http://127.0.0.1:${admin.address.split(':').pop()}/config`);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toContain('needs the admin token');
    expect(lines.find((l) => String(l.msg).includes('non-loopback'))?.msg).toMatch(/without TLS and without a token: anyone who reaches it/);
  });
});
