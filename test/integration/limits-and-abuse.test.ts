/**
 * Abuse that must neither crash memshift nor grow its memory without bound:
 * connections reset while being refused, huge multi-get replies, a pipelined
 * burst of large gets, and a client that asks for far more than it reads.
 */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, hold, memshiftConfig, pollUntil, sleep, startMemcached, startMemshift, stats, stopAll, TextClient, type ServerHandle } from '../support/harness.js';

let backend: ServerHandle;
let proxy: ServerHandle;
const MB = 1_000_000;
const big = 'b'.repeat(MB);

beforeAll(async () => {
  backend = await startMemcached({ memoryMb: 256 });
  // An 8 MiB client budget (the default is 32 MiB): the bounds below are computed from it.
  proxy = await startMemshift(memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: [backend] } }, limits: { max_queued_bytes_per_client: '8m' } }));
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
  await hold(300, 'time for the resets to take memshift down, which they must not');
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
  await hold(1_500, 'RSS is read while the client does not read');
  const during = rssMb(proxy.pid);
  const r = await pending;
  expect(r.n).toBe((block.length + 5) * 1000);
  // The budget (8 MiB) and the one get admitted below it, plus what the GC has not returned yet.
  expect(during - before).toBeLessThan(8 + 1 + 64);
});

it('holds at most its budget per client for 20 clients pipelining 100,000 gets of 1 MB each and reading nothing', async () => {
  // The adversarial probe of issue 13: RSS rose from 0.7 GB to 1.9 GB in 8 s and kept rising.
  const CLIENTS = 20;
  const BUDGET_MB = 8; // max_queued_bytes_per_client, as set for this file's proxy
  const before = rssMb(proxy.pid);
  const sockets = await Promise.all(
    Array.from({ length: CLIENTS }, () => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(proxy.port, '127.0.0.1', () => {
        s.pause(); // never read: replies pile up in the kernel, then in memshift, then it must stop
        s.write('get bigk\r\n'.repeat(100_000));
        resolve(s);
      });
      s.on('error', reject);
    })),
  );
  let peak = before;
  for (let t = 0; t < 32; t++) {
    await sleep(250); // RSS sampled every 250 ms for 8 s
    peak = Math.max(peak, rssMb(proxy.pid));
  }
  const held = await stats(proxy.port);
  for (const s of sockets) s.destroy();
  // What is given back once the clients are gone (reported: glibc keeps some of the freed heap).
  const replyMemory = async (): Promise<number> => Number((await stats(proxy.port)).get('memshift_reply_memory'));
  const heldAfter = await pollUntil('the reply memory to be given back', replyMemory, (n) => n === 0, 4_000, 100).catch(replyMemory);
  // Freed reply buffers go back once V8 collects them (its memory reducer runs some seconds after the
  // burst): reported, not asserted (when GC runs is V8's choice).
  const left = Date.now();
  let after = rssMb(proxy.pid);
  while (after > before + 64 && Date.now() - left < 20_000) {
    await sleep(500);
    after = rssMb(proxy.pid);
  }
  const returnedIn = ((Date.now() - left) / 1000).toFixed(1);
  // The fixed base: what V8 has not collected yet (freed replies wait for its next GC).
  const bound = CLIENTS * (BUDGET_MB + 1) + 100;
  console.log(
    `20 clients x 100,000 pipelined gets of 1 MB, not reading: memshift RSS ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB over 8 s ` +
      `(+${(peak - before).toFixed(0)} MB; bound ${bound} MB = 20 x (8 MiB budget + one 1 MiB get) + 100 MB); reply memory held ${(Number(held.get('memshift_reply_memory') ?? 0) / 1048576).toFixed(0)} MiB; ` +
      `after the clients left: reply memory ${heldAfter} bytes at once, RSS ${after.toFixed(0)} MB ${returnedIn} s later`,
  );
  expect(heldAfter).toBe(0);
  expect(peak - before).toBeLessThan(bound);
  // And it still serves everyone else.
  const c = await TextClient.connect(proxy.port);
  expect(await c.request('version')).toMatch(/^VERSION /);
  c.close();
}, 90_000);

it('holds at most max_reply_memory for all clients together: past it, a new request waits until replies are written out', async () => {
  const p = await startMemshift(memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: [backend] } }, limits: { max_reply_memory: '4m' } }));
  // Three clients that ask for 1,000 gets of 1 MB each and read nothing.
  const hogs = await Promise.all(
    [0, 1, 2].map(() => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(p.port, '127.0.0.1', () => {
        s.pause();
        s.write('get bigk\r\n'.repeat(1_000));
        resolve(s);
      });
      s.on('error', reject);
    })),
  );
  const held = async (): Promise<Map<string, string>> => stats(p.port);
  // Until the kernel's socket buffers are full and the hogs' replies stay in memshift: at the bound
  // for 5 samples in a row.
  let s = await held();
  for (let full = 0, deadline = Date.now() + 15_000; full < 5 && Date.now() < deadline; s = await held()) {
    full = Number(s.get('memshift_reply_memory')) >= 4 * 1048576 ? full + 1 : 0;
    await sleep(200);
  }
  // The bound, plus at most the one get each client had admitted while below it.
  expect(Number(s.get('memshift_reply_memory'))).toBeGreaterThanOrEqual(4 * 1048576);
  expect(Number(s.get('memshift_reply_memory'))).toBeLessThan(4 * 1048576 + 3 * (1048576 + 400));
  // Another client's get waits (stats, a local reply, still answers: it holds nothing in flight).
  const waiter = await TextClient.connect(p.port);
  await waiter.write('get bigk\r\n');
  await expect(waiter.read(block.length + 5, 1_000)).rejects.toThrow();
  // Once the hogs are gone, it gets its reply.
  for (const h of hogs) h.destroy();
  expect((await waiter.read(block.length + 5, 10_000)).toString('latin1', block.length)).toBe('END\r\n');
  expect(Number((await held()).get('memshift_reply_memory'))).toBeLessThan(1048576);
  waiter.close();
  await p.stop();
}, 60_000);
