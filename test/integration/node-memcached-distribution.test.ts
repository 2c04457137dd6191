/**
 * `distribution: node-memcached`: keys that the npm `memcached` client placed
 * itself, talking straight to the backends, are all found through memshift.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, freePort, keysOnServer, memshiftConfig, startMemcached, startMemshift, stopAll, TextClient, type ServerHandle } from '../support/harness.js';

afterAll(stopAll);

const KEYS = Array.from({ length: 3000 }, (_, i) => (i % 2 ? `session:${i}` : `k${i}-${'x'.repeat(i % 60)}`)).concat(['__proto__', 'é-utf8-ключ']);
/**
 * Keys that hit the npm client's own bug: hashring's get() caches servers in a plain object, so for
 * `constructor` it returns Object.prototype.constructor instead of a server, and the client sends
 * the key nowhere a ring predicts. memshift routes them by the ring; they must still work through it.
 */
const PROTOTYPE_KEYS = ['constructor', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__'];

/** Runs the npm client in its own process: it patches globals that other libraries trip on. */
function setViaNpmClient(servers: string[], keys: string[]): void {
  const script = join(REPO_ROOT, 'test/support/npm-memcached-set.cjs');
  const r = spawnSync(process.execPath, [script], { input: JSON.stringify({ servers, keys }), encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`npm memcached client: ${r.stderr}${r.stdout}`);
}

async function getAllViaMemshift(port: number, keys: string[]): Promise<Map<string, string>> {
  const c = await TextClient.connect(port);
  const found = new Map<string, string>();
  try {
    for (let i = 0; i < keys.length; i += 200) {
      const batch = keys.slice(i, i + 200);
      await c.write(`get ${batch.join(' ')}\r\n`);
      const reply = (await c.read((b) => (b.subarray(-5).toString() === 'END\r\n' ? true : 0), 10_000)).toString('utf8');
      for (const m of reply.matchAll(/^VALUE (\S+) \d+ \d+\r\n(.*)\r\n/gm)) found.set(m[1]!, m[2]!);
    }
  } finally {
    c.close();
  }
  return found;
}

for (const n of [3, 7]) {
  describe(`${n} servers`, () => {
    let backends: ServerHandle[] = [];
    let port = 0;
    beforeAll(async () => {
      backends = await Promise.all(Array.from({ length: n }, () => startMemcached()));
      const servers = backends.map((b) => `${b.address}:1`);
      port = await freePort();
      await startMemshift(memshiftConfig({ listenPort: port, pools: { main: { servers, hash: 'md5', distribution: 'node-memcached' } } }));
      setViaNpmClient(backends.map((b) => b.address), KEYS);
    });

    it('the npm client spread the keys over every server', async () => {
      const ascii = KEYS.filter((k) => /^[\x21-\x7e]+$/.test(k));
      const counts = await Promise.all(backends.map(async (b) => (await keysOnServer(b.port, ascii)).size));
      expect(counts.every((c) => c > 0)).toBe(true);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(ascii.length);
    });

    it('memshift finds every key where the npm client put it', async () => {
      const found = await getAllViaMemshift(port, KEYS);
      const missing = KEYS.filter((k) => found.get(k) !== `v:${k}`);
      expect(missing.slice(0, 10), `${missing.length} of ${KEYS.length} keys not found`).toEqual([]);
    });

    it('routes keys named like Object.prototype members without harm', async () => {
      const c = await TextClient.connect(port);
      for (const k of PROTOTYPE_KEYS) expect(await c.request(`set ${k} 0 0 2\r\nok`)).toBe('STORED\r\n');
      const reply = await c.request(`get ${PROTOTYPE_KEYS.join(' ')}`);
      expect([...reply.matchAll(/^VALUE (\S+) /gm)].map((m) => m[1])).toEqual(PROTOTYPE_KEYS);
      c.close();
    });
  });
}
