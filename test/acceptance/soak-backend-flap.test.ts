/**
 * Acceptance: 60 s of mixed load from 8 connections while one backend is
 * killed and restarted every 10 s and another is paused for 2 s. Keys on the
 * healthy backend never see an error, every reply is well-formed and in order
 * (each connection checks its own sequence), and memshift ends healthy.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, hold, keysOnServer, memshiftConfig, startMemcached, startMemshift, stats, stopAll, TextClient, type ServerHandle } from '../support/harness.js';

let backends: ServerHandle[];
let proxy: ServerHandle;
const keysOf = new Map<ServerHandle, string[]>();
afterAll(stopAll);

beforeAll(async () => {
  backends = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  proxy = await startMemshift(
    memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: backends, timeout: 300 } }, backend: { probe_min: 50, probe_max: 400 } }),
  );
  const keys = Array.from({ length: 3000 }, (_, i) => `soak:${i}`);
  const c = await TextClient.connect(proxy.port);
  await c.write(keys.map((k) => `set ${k} 0 0 1 noreply\r\nx\r\n`).join(''));
  expect(await c.request('mn')).toBe('MN\r\n');
  c.close();
  for (const b of backends) keysOf.set(b, [...(await keysOnServer(b.port, keys))]);
});

it('survives a flapping and a hung backend under load for 60 s', async () => {
  const [healthy, flapping, hung] = backends as [ServerHandle, ServerHandle, ServerHandle];
  const healthyKeys = keysOf.get(healthy)!;
  const allKeys = [...keysOf.values()].flat();
  let stop = false;
  const problems: string[] = [];
  let ops = 0;

  const worker = async (id: number): Promise<void> => {
    const c = await TextClient.connect(proxy.port);
    for (let i = 0; !stop; i++) {
      const healthyKey = healthyKeys[(i * 7 + id) % healthyKeys.length]!;
      const anyKey = allKeys[(i * 13 + id) % allKeys.length]!;
      const batch = [`set ${healthyKey} 0 0 4\r\n${String(i % 10000).padStart(4, '0')}\r\n`, `get ${healthyKey}\r\n`, `get ${anyKey}\r\n`, `get ${allKeys.slice(i % 2000, (i % 2000) + 9).join(' ')}\r\n`, `mn\r\n`];
      await c.write(batch.join(''));
      const reply = (await c.read((b) => (b.toString('latin1').endsWith('MN\r\n') ? true : 0), 10_000)).toString('latin1');
      ops += 4;
      const want = `STORED\r\nVALUE ${healthyKey} 0 4\r\n${String(i % 10000).padStart(4, '0')}\r\nEND\r\n`;
      if (!reply.startsWith(want)) problems.push(`healthy key: ${JSON.stringify(reply.slice(0, 120))}`);
      const rest = reply.slice(want.length);
      // Values are "x" (seeded) or 4 digits (set by a worker); errors only as a whole single-key reply.
      if (!/^(VALUE \S+ 0 (1\r\nx|4\r\n\d{4})\r\nEND\r\n|END\r\n|SERVER_ERROR [^\r]+\r\n)(VALUE \S+ 0 (1\r\nx|4\r\n\d{4})\r\n)*END\r\nMN\r\n$/.test(rest)) problems.push(`malformed: ${JSON.stringify(rest.slice(0, 200))}`);
    }
    c.close();
  };

  const workers = Array.from({ length: 8 }, (_, i) => worker(i));
  const chaos = (async () => {
    for (let round = 0; round < 6; round++) {
      await hold(4_000, 'steady load before the round');
      flapping.kill('SIGKILL');
      await flapping.waitExit();
      hung.pause();
      await hold(2_000, 'one server dead and one hung for 2 s');
      hung.resume();
      await flapping.restart();
      await hold(4_000, 'the load runs on with both back');
    }
    stop = true;
  })();
  await chaos;
  await Promise.all(workers);
  expect(problems.slice(0, 5)).toEqual([]);
  expect(ops).toBeGreaterThan(1000);
  const s = await stats(proxy.port);
  expect(s.get('memshift_backends_up')).toBe('3');
  const c = await TextClient.connect(proxy.port);
  expect(await c.request('version')).toMatch(/^VERSION /);
  c.close();
});
