/** The client listeners' dry-run probe and backstop (review findings 3 and 8), on real sockets (no backend). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hold } from '../../support/process.js';
import type { ListenSpec } from '../../../src/config/types.js';
import { createLogger } from '../../../src/observability/logger.js';
import { BACKSTOP_SLACK, openListeners, type Listeners } from '../../../src/proxy/listeners.js';
import { ProxyStats } from '../../../src/proxy/stats.js';

const tcp = (port: number): ListenSpec => ({ kind: 'tcp', host: '127.0.0.1', port, raw: `127.0.0.1:${port}` });
const unix = (path: string): ListenSpec => ({ kind: 'unix', path, raw: `unix:${path}` });
const listenOn = (server: net.Server, opts: net.ListenOptions): Promise<void> => new Promise((resolve, reject) => server.once('error', reject).listen(opts, resolve));

const opened: Listeners[] = [];
const servers: net.Server[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => (l.destroyAll(), l.close())));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open(listen: ListenSpec[], accepted: net.Socket[] = []): Promise<Listeners> {
  const l = await openListeners(listen, (s) => accepted.push(s), { maxConnections: 2, logger: createLogger({ level: 'silent' }), stats: new ProxyStats() });
  opened.push(l);
  return l;
}

/** A port nothing listens on (bound and closed here). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await listenOn(s, { host: '127.0.0.1', port: 0 });
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('listeners: probe (a dry run)', () => {
  it('passes a free address and leaves it unbound; fails a taken one with MS_ERR_LISTEN; skips the open ones', async () => {
    const accepted: net.Socket[] = [];
    const own = await freePort();
    const l = await open([tcp(own)], accepted);
    const free = await freePort();
    await l.probe([tcp(own), tcp(free)]);
    const again = net.createServer();
    servers.push(again);
    await listenOn(again, { host: '127.0.0.1', port: free });
    await expect(l.probe([tcp(own), tcp(free)])).rejects.toMatchObject({ code: 'MS_ERR_LISTEN', message: expect.stringContaining(`cannot listen on 127.0.0.1:${free}`) });
    expect(l.addresses).toEqual([`127.0.0.1:${own}`]);
    expect(accepted).toHaveLength(0);
  });

  it('a unix path: absent passes and is left absent; a live socket or another file fails; a stale socket passes and is left as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memshift-probe-'));
    dirs.push(dir);
    const l = await open([tcp(await freePort())]);
    const absent = join(dir, 'absent.sock');
    await l.probe([unix(absent)]);
    expect(existsSync(absent)).toBe(false);

    const live = join(dir, 'live.sock');
    const holder = net.createServer();
    servers.push(holder);
    await listenOn(holder, { path: live });
    await expect(l.probe([unix(live)])).rejects.toMatchObject({ code: 'MS_ERR_LISTEN', message: expect.stringContaining(`cannot listen on unix:${live}`) });

    const file = join(dir, 'file');
    writeFileSync(file, 'not a socket');
    await expect(l.probe([unix(file)])).rejects.toMatchObject({ code: 'MS_ERR_LISTEN' });

    // A socket file nothing listens on (a process that died): what prepare would remove; the probe leaves it.
    const stale = join(dir, 'stale.sock');
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(existsSync(stale)).toBe(true);
    await l.probe([unix(stale)]);
    expect(existsSync(stale)).toBe(true);
  });
});

describe('listeners: the backstop', () => {
  it('follows setMaxConnections on every listener, those opened before and those a reload adds', async () => {
    const first = await freePort();
    const l = await open([tcp(first)]);
    const change = await l.prepare([tcp(first), tcp(await freePort())]);
    change.commit();
    expect(l.addresses).toHaveLength(2);
    l.setMaxConnections(500);
    // Each listener accepts past the start's 2 + BACKSTOP_SLACK: the clients are handed on, none dropped.
    const clients: net.Socket[] = [];
    let closed = 0;
    try {
      for (const address of l.addresses) {
        const port = Number(address.split(':')[1]);
        for (let i = 0; i < BACKSTOP_SLACK + 10; i++) {
          const c = net.connect(port, '127.0.0.1');
          c.on('error', () => undefined);
          c.on('close', () => closed++);
          c.resume();
          clients.push(c);
          await new Promise((r) => c.once('connect', r));
        }
      }
      await hold(200, 'time for a close that must not happen');
      expect(closed).toBe(0);
    } finally {
      for (const c of clients) c.destroy();
    }
  });
});
