/**
 * A listener that cannot bind (issue 14). At start: the admin port taken, a client port taken, a TLS
 * client port taken, a unix socket path held by a live socket, one that is a plain file, one in a
 * directory that does not exist. Each time `memshift serve` exits with 69 (EX_UNAVAILABLE) within
 * 5 s of being started (a deadline, not a sleep), says which listener on stderr and in its log,
 * needed no forced exit, and opened nothing else: its memcached backend saw no connection, the
 * listeners that did bind are free again, and a file at a unix path is left as it was.
 * On a reload: a listener added on a taken port refuses the reload (409), the running listener
 * serves on; one added on a free port applies, and one removed stops accepting while its client
 * stays connected.
 */
import { createServer, connect, type Server } from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, hold, spawnMemshift, startMemcached, startMemshift, stats, stopAll, TextClient, type ServerHandle } from '../support/harness.js';
import { makeTempDir } from '../support/process.js';
import { makeCerts, type TestCerts } from '../support/tls-certs.js';
import { startMemshiftStillStarting } from '../support/slow-start.js';

/** The exit comes within this long of the spawn (the bound; node's own start-up included). */
const EXIT_WITHIN_MS = 5_000;

let backend: ServerHandle;
let certs: TestCerts;
const holders: Server[] = [];

beforeAll(async () => {
  backend = await startMemcached();
  certs = makeCerts();
});
afterAll(async () => {
  await Promise.all(holders.map((h) => new Promise((r) => h.close(r))));
  await stopAll();
});

/** A listener of the test's own on a free port (or a unix path): whoever comes next finds it taken. */
async function occupy(where: { port: number } | { path: string }): Promise<void> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen('path' in where ? { path: where.path } : { port: where.port, host: '127.0.0.1' }, resolve);
  });
  holders.push(server);
}

/** Whether a TCP port on 127.0.0.1 can be bound (nobody listens on it). */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

const pool = (): Record<string, unknown> => ({ main: { servers: [`${backend.address}:1`] } });

/** Runs `memshift serve` on `config` and waits, up to the deadline, for it to exit. */
async function serveExpectingExit(config: Record<string, unknown>): Promise<{ code: number | null; ms: number; logs: string }> {
  const started = performance.now();
  const proc = spawnMemshift(stringify(config), 'memshift (bind failure)');
  const exit = await proc.waitExit(EXIT_WITHIN_MS - (performance.now() - started));
  const ms = performance.now() - started;
  if (exit === undefined) {
    await proc.stop(1_000);
    throw new Error(`memshift still running ${Math.round(ms)} ms after it was started; output:\n${proc.logTail()}`);
  }
  return { code: exit.code, ms, logs: proc.logs() };
}

async function backendConnections(): Promise<number> {
  return Number((await stats(backend.port)).get('total_connections'));
}

describe('a listener that cannot bind at start', () => {
  const cases: [string, () => Promise<{ config: Record<string, unknown>; error: RegExp; free: number[]; check?: () => void | Promise<void> }>][] = [
    [
      'the admin port is taken',
      async () => {
        const [client, admin] = [await freePort(), await freePort()];
        await occupy({ port: admin });
        const config = { listen: [`127.0.0.1:${client}`], admin: { listen: `127.0.0.1:${admin}` }, pools: pool() };
        return { config, error: new RegExp(`cannot listen on admin 127\\.0\\.0\\.1:${admin}: listen EADDRINUSE`), free: [client] };
      },
    ],
    [
      'a client port is taken (the first one bound, the second taken)',
      async () => {
        const [first, taken, admin] = [await freePort(), await freePort(), await freePort()];
        await occupy({ port: taken });
        const config = { listen: [`127.0.0.1:${first}`, `127.0.0.1:${taken}`], admin: { listen: `127.0.0.1:${admin}` }, pools: pool() };
        return { config, error: new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken}: listen EADDRINUSE`), free: [first, admin] };
      },
    ],
    [
      'a TLS client port is taken',
      async () => {
        const [plain, taken] = [await freePort(), await freePort()];
        await occupy({ port: taken });
        const tls = { cert_file: certs.serverCert, key_file: certs.serverKey };
        const config = { listen: [`127.0.0.1:${plain}`, { address: `127.0.0.1:${taken}`, tls }], pools: pool() };
        return { config, error: new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken}: listen EADDRINUSE`), free: [plain] };
      },
    ],
    [
      'a live process listens on the unix socket path',
      async () => {
        const path = join(makeTempDir('sock'), 'live.sock');
        await occupy({ path });
        const client = await freePort();
        const config = { listen: [`127.0.0.1:${client}`, `unix:${path}`], pools: pool() };
        // The other process keeps its socket: the path was not taken from it.
        const check = async (): Promise<void> => {
          const s = connect({ path });
          await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
          s.destroy();
        };
        return { config, error: new RegExp(`cannot listen on unix:${path}: listen EADDRINUSE`), free: [client], check };
      },
    ],
    [
      'the unix socket path is a plain file',
      async () => {
        const path = join(makeTempDir('sock'), 'not-a-socket');
        writeFileSync(path, 'keep me\n');
        const config = { listen: [`unix:${path}`], pools: pool() };
        const check = (): void => expect(readFileSync(path, 'utf8')).toBe('keep me\n');
        return { config, error: new RegExp(`cannot listen on unix:${path}: listen EADDRINUSE`), free: [], check };
      },
    ],
    [
      'the unix socket path is in a directory that does not exist',
      async () => {
        const path = join(makeTempDir('sock'), 'missing', 'memshift.sock');
        const config = { listen: [`unix:${path}`], pools: pool() };
        return { config, error: new RegExp(`cannot listen on unix:${path}: listen (ENOENT|EACCES)`), free: [], check: () => expect(existsSync(path)).toBe(false) };
      },
    ],
  ];

  it.each(cases)('%s: exit 69 within 5 s, having opened nothing', async (_, setup) => {
    const { config, error, free, check } = await setup();
    const before = await backendConnections();
    const r = await serveExpectingExit(config);
    expect(r.code, r.logs).toBe(69);
    expect(r.ms).toBeLessThan(EXIT_WITHIN_MS);
    // stderr: the one-line error; the log: the same as a fatal JSON line.
    expect(r.logs).toMatch(new RegExp(`^memshift: ${error.source}.*\\[MS_ERR_LISTEN\\]$`, 'm'));
    const fatal = r.logs.split('\n').filter((l) => l.includes('"level":"fatal"')).map((l) => JSON.parse(l) as { code: string; err: string; exit: number });
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ code: 'MS_ERR_LISTEN', exit: 69 });
    expect(fatal[0]!.err).toMatch(error);
    // It ended on its own: nothing it opened held it.
    expect(r.logs).not.toContain('after a failed start');
    expect(r.logs).not.toContain('memshift listening');
    // Opened nothing else: no backend connection (this stats call is the one new connection).
    expect(await backendConnections()).toBe(before + 1);
    for (const port of free) expect(await bindable(port), `port ${port} free again`).toBe(true);
    await check?.();
  });
});

describe('a listener that cannot bind on a reload', () => {
  it('is refused and the running listeners stay; a free one is added; a removed one keeps its clients', async () => {
    const [first, taken, added, admin] = [await freePort(), await freePort(), await freePort(), await freePort()];
    await occupy({ port: taken });
    const config = (listen: number[]): string => stringify({ listen: listen.map((p) => `127.0.0.1:${p}`), admin: { listen: `127.0.0.1:${admin}`, token: 't' }, pools: pool() });
    const proxy = await startMemshift(config([first]));
    const reload = async (): Promise<{ status: number; body: { result: string; changes: string[]; errors: string[] } }> => {
      const res = await fetch(`http://127.0.0.1:${admin}/reload`, { method: 'POST', headers: { authorization: 'Bearer t' } });
      return { status: res.status, body: (await res.json()) as { result: string; changes: string[]; errors: string[] } };
    };
    const client = await TextClient.connect(first);
    expect(await client.request('set k 0 0 1\r\nv')).toBe('STORED\r\n');

    // A taken port: refused, nothing changes.
    writeFileSync(proxy.configFile, config([first, taken]));
    const refused = await reload();
    expect(refused.status).toBe(409);
    expect(refused.body.result).toBe('refused');
    expect(refused.body.errors).toEqual([expect.stringMatching(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken}: listen EADDRINUSE.*the running listeners stay`))]);
    expect(await client.request('get k')).toBe('VALUE k 0 1\r\nv\r\nEND\r\n');
    const another = await TextClient.connect(first);
    expect(await another.request('get k')).toBe('VALUE k 0 1\r\nv\r\nEND\r\n');
    await another.close();
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(metrics).toMatch(/^memshift_config_reloads_total\{result="refused"\} 1$/m);

    // A free port instead, and the first one dropped: applied.
    writeFileSync(proxy.configFile, config([added]));
    const applied = await reload();
    expect(applied.status).toBe(200);
    expect(applied.body.changes).toEqual([`listen: opens 127.0.0.1:${added}`, `listen: closes 127.0.0.1:${first} (its clients stay connected)`]);
    const viaAdded = await TextClient.connect(added);
    expect(await viaAdded.request('get k')).toBe('VALUE k 0 1\r\nv\r\nEND\r\n');
    // The client of the dropped listener is still served; a new connection there is refused.
    expect(await client.request('get k')).toBe('VALUE k 0 1\r\nv\r\nEND\r\n');
    await expect(TextClient.connect(first)).rejects.toThrow(/ECONNREFUSED/);
    expect(await bindable(first)).toBe(true);

    await Promise.all([client.close(), viaAdded.close()]);
    expect(await proxy.stop()).toBe(0);
  });
});

describe('while it starts', () => {
  it('listens first: a client that connects waits for the start, the admin API answers 503 until then', async () => {
    const { proxy, port, admin, release } = await startMemshiftStillStarting();
    try {
      const get = async (path: string): Promise<number> => (await fetch(`http://127.0.0.1:${admin}${path}`)).status;
      expect(await get('/healthz')).toBe(200);
      expect(await get('/readyz')).toBe(503);
      // Everything that reads the running config (metrics, replication, migration) says it is starting.
      for (const path of ['/metrics', '/migration', '/config']) expect({ path, status: await get(path) }).toEqual({ path, status: 503 });
      const early = await fetch(`http://127.0.0.1:${admin}/replication`);
      expect({ status: early.status, body: await early.json() }).toEqual({ status: 503, body: { error: 'memshift is starting: not serving yet' } });
      // Accepted, not answered yet: the request waits for the generation.
      const client = await TextClient.connect(port);
      const answer = client.request('get early', 30_000);
      let answered = false;
      void answer.then(() => (answered = true));
      await hold(300, 'time for an answer that must not come before the generation');
      expect(answered).toBe(false);
      expect(proxy.logs()).not.toContain('memshift started');
      release();
      expect(await answer).toBe('END\r\n');
      expect(await get('/readyz')).toBe(200);
      await client.close();
    } finally {
      release();
    }
    expect(await proxy.stop()).toBe(0);
  });
});
