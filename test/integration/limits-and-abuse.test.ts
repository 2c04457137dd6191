/**
 * Abuse that must neither crash memshift nor grow its memory without bound:
 * connections reset while being refused, huge multi-get replies, a pipelined
 * burst of large gets, and a client that asks for far more than it reads.
 */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, memshiftConfig, startMemcached, startMemshift, stopAll, TextClient, type ServerHandle } from '../support/harness.js';

let backend: ServerHandle;
let proxy: ServerHandle;
const MB = 1_000_000;
const big = 'b'.repeat(MB);

beforeAll(async () => {
  backend = await startMemcached({ memoryMb: 256 });
  proxy = await startMemshift(memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: [backend] } } }));
  const c = await TextClient.connect(proxy.port);
  expect(await c.request(`set bigk 0 0 ${MB}\r\n${big}`, 10_000)).toBe('STORED\r\n');
  c.close();
});
afterAll(stopAll);

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/** Reads `bytes` bytes from a raw socket after sending `request`; resolves with the byte count and the tail. */
function drain(port: number, request: string, bytes: number, pauseMs = 0): Promise<{ n: number; tail: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(request);
      if (pauseMs > 0) {
        s.pause();
        setTimeout(() => s.resume(), pauseMs);
      }
    });
    let n = 0;
    let tail = '';
    s.on('data', (d: Buffer) => {
      n += d.length;
      tail = (tail + d.subarray(-64).toString('latin1')).slice(-64);
      if (n >= bytes) {
        s.destroy();
        resolve({ n, tail });
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve({ n, tail }));
  });
}

const block = `VALUE bigk 0 ${MB}\r\n${big}\r\n`;

it('survives connections that reset while being refused at max_connections', async () => {
  const p = await startMemshift(memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: [backend] } }, limits: { max_connections: 2 } }));
  const held = await Promise.all([TextClient.connect(p.port), TextClient.connect(p.port)]);
  await Promise.all(
    Array.from({ length: 300 }, () => new Promise<void>((resolve) => {
      const s = net.connect(p.port, '127.0.0.1', () => {
        s.resetAndDestroy();
        resolve();
      });
      s.on('error', () => resolve());
    })),
  );
  await new Promise((r) => setTimeout(r, 300));
  expect(await held[0]!.request('version')).toMatch(/^VERSION /);
  held.forEach((c) => c.close());
  expect(await p.stop()).toBe(0);
});

it('shuts down within its drain timeout after refused connections, 20 times in a row', async () => {
  // Once, SIGTERM after a run with refused connections logged "shutting down" and never "shutdown
  // complete": a refused socket the client had not closed kept server.close() waiting.
  for (let run = 0; run < 20; run++) {
    const admin = await freePort();
    const p = await startMemshift(
      memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: [backend] } }, limits: { max_connections: 5 }, admin: { listen: `127.0.0.1:${admin}` } }),
    );
    const held = await Promise.all(Array.from({ length: 5 }, () => TextClient.connect(p.port)));
    for (const c of held) expect(await c.request('version')).toMatch(/^VERSION /);
    // The sixth is refused and reads the error, but never closes its side (half-open); the seventh
    // is refused and reads nothing.
    const refused = await TextClient.connect(p.port);
    await refused.read((b) => b.toString().endsWith('\r\n'), 5_000);
    const halfOpen = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port: p.port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s)).on('error', reject);
    });
    const mute = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port: p.port, host: '127.0.0.1' }, () => resolve(s.pause())).on('error', reject);
    });
    const answer = await new Promise<string>((resolve) => halfOpen.once('data', (d: Buffer) => resolve(d.toString())));
    expect(answer).toBe('ERROR Too many open connections\r\n');
    // Every other way a client leaves: closed, reset, or still connected and idle.
    held[0]!.close();
    held[1]!.reset();
    const started = Date.now();
    const code = await p.stop(15_000);
    expect({ run, code, complete: p.logs().includes('shutdown complete') }).toEqual({ run, code: 0, complete: true });
    expect(Date.now() - started).toBeLessThan(12_000);
    // The admin port is free again.
    await new Promise<void>((resolve, reject) => {
      const s = net.createServer().listen(admin, '127.0.0.1', () => s.close(() => resolve()));
      s.on('error', reject);
    });
    await Promise.all([...held, refused].map((c) => c.close()));
    halfOpen.destroy();
    mute.destroy();
  }
}, 300_000);

it('returns a 40 MB multi-get completely (no false timeout while the backend streams)', async () => {
  const r = await drain(proxy.port, `get ${'bigk '.repeat(40)}\r\n`, block.length * 40 + 5);
  expect(r.n).toBe(block.length * 40 + 5);
  expect(r.tail.endsWith('\r\nEND\r\n')).toBe(true);
});

it('answers a pipelined burst of 300 large gets in full', async () => {
  const one = block.length + 5;
  const r = await drain(proxy.port, 'get bigk\r\n'.repeat(300), one * 300);
  expect(r.n).toBe(one * 300);
  expect(r.tail.endsWith('\r\nEND\r\n')).toBe(true);
});

it('does not buffer far more than the client budget for a client that does not read', async () => {
  const before = rssMb(proxy.pid);
  // 1,000 gets of 1 MB = 1 GB asked for; the client reads nothing for 2 s.
  const pending = drain(proxy.port, 'get bigk\r\n'.repeat(1000), (block.length + 5) * 1000, 2_000);
  await new Promise((r) => setTimeout(r, 1_500));
  const during = rssMb(proxy.pid);
  const r = await pending;
  expect(r.n).toBe((block.length + 5) * 1000);
  expect(during - before).toBeLessThan(400); // ~128 replies of 1 MB at most before the budget adapts
});
