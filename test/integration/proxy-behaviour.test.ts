/**
 * What memshift answers itself and how it treats connections: version, stats,
 * flush_all fan-out and its switch, the binary protocol, unix sockets, the
 * connection limit, a client that stops reading, and a graceful SIGTERM.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, memshiftConfig, spreadKeys, startMemcached, startMemshift, stats, stopAll, TextClient, waitUntil, type ServerHandle } from '../support/harness.js';

let backends: ServerHandle[];
let proxy: ServerHandle;
let socketPath: string;

beforeAll(async () => {
  backends = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  socketPath = join(mkdtempSync(join(tmpdir(), 'memshift-sock-')), 'memshift.sock');
  const yaml = memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: backends } } }).replace(
    /^listen:\n(.*)$/m,
    (m) => `${m}\n  - unix:${socketPath}`,
  );
  proxy = await startMemshift(yaml);
});
afterAll(stopAll);

describe('answered by memshift', () => {
  it('version is the lowest backend version, parseable', async () => {
    const c = await TextClient.connect(proxy.port);
    expect(await c.request('version')).toMatch(/^VERSION \d+\.\d+\.\d+\r\n$/);
    c.close();
  });

  it('stats has memcached general fields counted by memshift, and memshift_ fields', async () => {
    const c = await TextClient.connect(proxy.port);
    await c.request('set st:a 0 0 1\r\nx');
    await c.request('get st:a st:b');
    c.close();
    const s = await stats(proxy.port);
    for (const f of ['pid', 'uptime', 'time', 'version', 'curr_connections', 'total_connections', 'cmd_get', 'cmd_set', 'get_hits', 'get_misses', 'memshift_version']) {
      expect(s.has(f), f).toBe(true);
    }
    expect(Number(s.get('get_hits'))).toBeGreaterThanOrEqual(1);
    expect(Number(s.get('get_misses'))).toBeGreaterThanOrEqual(1);
    expect(Number(s.get('cmd_set'))).toBeGreaterThanOrEqual(1);
    expect(s.get('pid')).toBe(String(proxy.pid));
    const b = await stats(proxy.port, '127.0.0.1', 'backends');
    for (const backend of backends) expect(b.get(`main:${backend.address}:state`)).toBe('up');
  });

  it('flush_all goes to every backend', async () => {
    const c = await TextClient.connect(proxy.port);
    const keys = Array.from({ length: 60 }, (_, i) => `fl:${i}`);
    await c.write(keys.map((k) => `set ${k} 0 0 1 noreply\r\n1\r\n`).join(''));
    expect(await c.request('mn')).toBe('MN\r\n');
    expect(await c.request('flush_all')).toBe('OK\r\n');
    expect(await c.request(`get ${keys.join(' ')}`)).toBe('END\r\n');
    c.close();
    for (const b of backends) expect(Number((await stats(b.port)).get('cmd_flush'))).toBeGreaterThanOrEqual(1);
  });
});

describe('connections', () => {
  it('closes a binary-protocol connection at once and counts it', async () => {
    const c = await TextClient.connect(proxy.port);
    await c.write(Buffer.from([0x80, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    expect(await c.waitClosed(2_000)).toBe(true);
    expect(Number((await stats(proxy.port)).get('memshift_binary_rejected'))).toBeGreaterThanOrEqual(1);
  });

  it('serves a unix socket', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect(socketPath, () => s.write('set unix:a 0 0 2\r\nhi\r\nget unix:a\r\n'));
      let data = '';
      s.on('data', (d) => {
        data += d.toString();
        if (data.endsWith('END\r\n')) {
          s.destroy();
          resolve(data);
        }
      });
      s.on('error', reject);
    });
    expect(reply).toBe('STORED\r\nVALUE unix:a 0 2\r\nhi\r\nEND\r\n');
  });

  it('pauses a client that does not read its replies, and serves it once it reads', async () => {
    const c = await TextClient.connect(proxy.port);
    const value = 'x'.repeat(100_000);
    expect(await c.request(`set big:v 0 0 ${value.length}\r\n${value}`)).toBe('STORED\r\n');
    c.close();
    const one = `VALUE big:v 0 100000\r\n${value}\r\nEND\r\n`;
    const count = 1000; // 100 MB of replies, far past max_queued_bytes_per_client (32 MB) and the kernel's buffers
    const before = Number((await stats(proxy.port)).get('memshift_client_pauses'));
    const received = await new Promise<{ bytes: number; tail: string }>((resolve, reject) => {
      const s = net.connect(proxy.port, '127.0.0.1', () => {
        s.write('get big:v\r\n'.repeat(count));
        s.pause(); // a client that does not read
        setTimeout(() => s.resume(), 1_000);
      });
      let bytes = 0;
      let tail = '';
      s.on('data', (d: Buffer) => {
        bytes += d.length;
        tail = (tail + d.toString('latin1')).slice(-one.length);
        if (bytes >= one.length * count) {
          s.destroy();
          resolve({ bytes, tail });
        }
      });
      s.on('error', reject);
    });
    expect(received.bytes).toBe(one.length * count);
    expect(received.tail).toBe(one);
    expect(Number((await stats(proxy.port)).get('memshift_client_pauses'))).toBeGreaterThan(before);
  });
});

describe('flush_all disabled', () => {
  it('answers SERVER_ERROR flush_all disabled and touches no backend', async () => {
    const p = await startMemshift(memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: backends } }, flush_all: false }));
    const c = await TextClient.connect(p.port);
    expect(await c.request('flush_all')).toBe('SERVER_ERROR flush_all disabled\r\n');
    c.close();
    await p.stop();
  });
});

describe('graceful shutdown', () => {
  it('on SIGTERM stops accepting, finishes in-flight requests and exits 0', async () => {
    const p = await startMemshift(memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: backends } } }));
    const c = await TextClient.connect(p.port);
    const hung = backends[0]!;
    // Park a request on a paused backend so it is in flight during SIGTERM.
    // Keys that spread over any ring, so some are on the paused backend (term:0 .. term:199 missed it for 26% of the port sets).
    const keys = spreadKeys('term:', 200);
    hung.pause();
    try {
      const others = backends.filter((b) => b !== hung);
      const getsOnOthers = async (): Promise<number> => (await Promise.all(others.map(async (b) => Number((await stats(b.port)).get('cmd_get'))))).reduce((a, b) => a + b, 0);
      const before = await getsOnOthers();
      await c.write(`get ${keys.join(' ')}\r\n`);
      await waitUntil('the get to reach the servers that run', async () => (await getsOnOthers()) > before, 5_000, 10);
      const exit = p.stop();
      const refused = (): Promise<boolean> => TextClient.connect(p.port, '127.0.0.1', 1_000).then((x) => (x.close(), false), () => true);
      await waitUntil('memshift to close its listener', refused, 5_000, 10);
      await expect(TextClient.connect(p.port, '127.0.0.1', 1_000)).rejects.toThrow();
      hung.resume();
      const reply = await c.read((b) => (b.toString().endsWith('END\r\n') ? true : 0), 5_000);
      expect(reply.toString()).toMatch(/END\r\n$/);
      expect(await exit).toBe(0);
    } finally {
      hung.resume();
    }
  });
});

describe('connection limit', () => {
  it('refuses connections past max_connections with memcached error', async () => {
    const p = await startMemshift(memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: backends } }, limits: { max_connections: 2 } }));
    const a = await TextClient.connect(p.port);
    const b = await TextClient.connect(p.port);
    expect(await a.request('version')).toMatch(/^VERSION/);
    expect(await b.request('version')).toMatch(/^VERSION/);
    const c = await TextClient.connect(p.port);
    const r = await c.readFor(300);
    expect(r.toString()).toBe('ERROR Too many open connections\r\n');
    expect(await c.waitClosed(2_000)).toBe(true);
    a.close();
    b.close();
    await p.stop();
  });
});

describe('max_reply_bytes', () => {
  it('refuses a backend reply past the bound instead of buffering it, and keeps serving', async () => {
    const p = await startMemshift(memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: [backends[0]!] } }, limits: { max_reply_bytes: '1m' } }));
    const c = await TextClient.connect(p.port);
    const v = 'z'.repeat(600_000);
    expect(await c.request(`set mrb:1 0 0 ${v.length}\r\n${v}`)).toBe('STORED\r\n');
    expect(await c.request(`set mrb:2 0 0 ${v.length}\r\n${v}`)).toBe('STORED\r\n');
    expect(await c.request('get mrb:1 mrb:2', 10_000)).toBe('END\r\n'); // 1.2 MB: the keys read as misses
    expect(await c.request('get mrb:2', 10_000)).toBe(`VALUE mrb:2 0 ${v.length}\r\n${v}\r\nEND\r\n`);
    c.close();
    expect(Number((await stats(p.port)).get('memshift_get_errors'))).toBe(2);
    await p.stop();
  });
});
