/**
 * A backend killed mid-load fails only its own keys, fast, with SERVER_ERROR
 * (misses inside multi-gets); the other keys never see an error; once the
 * backend is back, its keys work again without restarting memshift.
 * A hung (SIGSTOPped) backend fails its keys with SERVER_ERROR at the timeout.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, hold, keysOnServer, pollUntil, spreadKeys, memshiftConfig, startMemcached, startMemshift, stats, stopAll, TextClient, waitUntil, type ServerHandle } from '../support/harness.js';

let backends: ServerHandle[];
let proxy: ServerHandle;
const keysOf = new Map<ServerHandle, string[]>();
const prefix = `fail${Date.now() % 100000}`;

beforeAll(async () => {
  backends = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  proxy = await startMemshift(
    memshiftConfig({
      listenPort: await freePort(),
      pools: { main: { servers: backends, timeout: 500 } },
      backend: { probe_min: 50, probe_max: 500 },
    }),
  );
  const keys = spreadKeys(`${prefix}:`, 900);
  const c = await TextClient.connect(proxy.port);
  await c.write(keys.map((k) => `set ${k} 0 0 1 noreply\r\n1\r\n`).join(''));
  expect(await c.request('mn')).toBe('MN\r\n');
  c.close();
  for (const b of backends) keysOf.set(b, [...(await keysOnServer(b.port, keys))]);
  for (const b of backends) expect(keysOf.get(b)!.length).toBeGreaterThan(5);
});
afterAll(stopAll);

/** One request/reply on a fresh line; returns the reply text. */
async function ask(c: TextClient, line: string): Promise<string> {
  return c.request(line, 5_000);
}

it('fails only the dead backend keys, then recovers after a restart', async () => {
  const [alive1, dead, alive2] = backends as [ServerHandle, ServerHandle, ServerHandle];
  const liveKeys = [...keysOf.get(alive1)!, ...keysOf.get(alive2)!];
  const deadKeys = keysOf.get(dead)!;

  // Load on live keys during the kill: not a single error allowed.
  const load = await TextClient.connect(proxy.port);
  let stop = false;
  let loadErrors: string[] = [];
  let loadOps = 0;
  const loop = (async () => {
    for (let i = 0; !stop; i++) {
      const k = liveKeys[i % liveKeys.length]!;
      const r = await ask(load, i % 2 ? `get ${k}` : `set ${k} 0 0 1\r\n2`);
      loadOps++;
      if (!(r === 'STORED\r\n' || r.startsWith(`VALUE ${k} 0 1\r\n`))) loadErrors.push(r);
    }
  })();

  await waitUntil('the load to be running', () => loadOps >= 5, 5_000, 10);
  dead.kill('SIGKILL');
  await dead.waitExit();

  const c = await TextClient.connect(proxy.port);
  const started = Date.now();
  expect(await ask(c, `get ${deadKeys[0]}`)).toMatch(/^SERVER_ERROR /);
  expect(await ask(c, `set ${deadKeys[1]} 0 0 1\r\nx`)).toMatch(/^SERVER_ERROR /);
  expect(await ask(c, `delete ${deadKeys[2]}`)).toMatch(/^SERVER_ERROR /);
  expect(Date.now() - started).toBeLessThan(3 * 500 + 1_000); // each within the 500 ms timeout, with slack

  // A multi-get over every backend: the dead keys are misses, never an error between VALUE blocks.
  const mixed = [liveKeys[0]!, deadKeys[3]!, liveKeys[1]!, deadKeys[4]!, liveKeys[liveKeys.length - 1]!];
  const reply = await c.request(`get ${mixed.join(' ')}`, 5_000);
  expect(reply).not.toMatch(/ERROR/);
  const returned = [...reply.matchAll(/^VALUE (\S+) /gm)].map((m) => m[1]);
  expect(returned).toEqual([liveKeys[0], liveKeys[1], liveKeys[liveKeys.length - 1]]);

  await hold(300, 'the load keeps running on the live servers after the multi-get');
  stop = true;
  await loop;
  load.close();
  expect(loadErrors).toEqual([]);
  expect(loadOps).toBeGreaterThan(10);

  // The backend comes back on the same port: its keys work again, memshift untouched.
  await dead.restart();
  const recovered = await pollUntil('a set of a key on the restarted server to be stored', () => ask(c, `set ${deadKeys[0]} 0 0 1\r\n9`), (r) => r === 'STORED\r\n', 10_000, 100);
  expect(recovered).toBe('STORED\r\n');
  expect(await ask(c, `get ${deadKeys[0]}`)).toBe(`VALUE ${deadKeys[0]} 0 1\r\n9\r\nEND\r\n`);
  c.close();
  loadErrors = [];
});

it('fails a hung backend keys with SERVER_ERROR at the request timeout, others unaffected', async () => {
  const hung = backends[2]!;
  const other = backends[0]!;
  const c = await TextClient.connect(proxy.port);
  hung.pause();
  try {
    const t0 = Date.now();
    const r = await ask(c, `get ${keysOf.get(hung)![0]}`);
    const waited = Date.now() - t0;
    expect(r).toBe('SERVER_ERROR backend timeout\r\n');
    expect(waited).toBeGreaterThanOrEqual(400);
    const c2 = await TextClient.connect(proxy.port);
    expect(await ask(c2, `get ${keysOf.get(other)![0]}`)).toMatch(/^VALUE /);
    c2.close();
  } finally {
    hung.resume();
  }
  const ok = await pollUntil('a get of a key on the resumed server to hit', () => ask(c, `get ${keysOf.get(hung)![1]}`), (r) => r.startsWith('VALUE'), 5_000, 100);
  expect(ok).toMatch(/^VALUE /);
  c.close();
});

it('marks a backend TKO after failure_limit timeouts in a row, fails it fast, and brings it back after a good probe', async () => {
  const hung = backends[2]!;
  const keys = keysOf.get(hung)!;
  const c = await TextClient.connect(proxy.port);
  hung.pause();
  try {
    for (let i = 0; i < 3; i++) expect(await ask(c, `get ${keys[i]}`)).toBe('SERVER_ERROR backend timeout\r\n');
    const s = await stats(proxy.port, '127.0.0.1', 'backends');
    expect(s.get(`main:${hung.address}:state`)).toBe('tko');
    const t0 = Date.now();
    expect(await ask(c, `get ${keys[3]}`)).toBe('SERVER_ERROR backend unavailable\r\n');
    expect(Date.now() - t0).toBeLessThan(250); // fails fast, no timeout wait
  } finally {
    hung.resume();
  }
  const r = await pollUntil('a get of a key on the resumed server to hit', () => ask(c, `get ${keys[4]}`), (x) => x.startsWith('VALUE'), 6_000, 100);
  expect(r).toMatch(/^VALUE /);
  expect((await stats(proxy.port, '127.0.0.1', 'backends')).get(`main:${hung.address}:state`)).toBe('up');
  c.close();
});
