/**
 * Ring parity with live nutcracker, read from the real data path: 20,000 keys
 * are set through nutcracker and through memshift over the same backends, and
 * each backend is then asked (lru_crawler metadump) which keys it holds.
 * Not one key may land on a different server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  flushAll, freePort, keysOnServer, memshiftConfig, startMemcached, startMemshift, startNutcracker, stopAll, TextClient, type ServerHandle,
} from '../support/harness.js';

const KEYS = 20_000;
afterAll(stopAll);

/** Keys of many shapes: short, long, numeric, with punctuation and tag braces. */
function makeKeys(n: number): string[] {
  let seed = 12345;
  const rnd = (m: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % m;
  };
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-.{}/|';
  const keys = new Set<string>();
  for (let i = 0; keys.size < n; i++) {
    if (i % 3 === 0) keys.add(`user:${i}`);
    else if (i % 3 === 1) keys.add(`${i}`);
    else keys.add(Array.from({ length: 1 + rnd(i % 50 === 0 ? 250 : 40) }, () => chars[rnd(chars.length)]).join(''));
  }
  return [...keys];
}
const keys = makeKeys(KEYS);

/** Sets every key through the proxy at `port`, pipelined, checking each STORED. */
async function setAll(port: number): Promise<void> {
  const c = await TextClient.connect(port);
  try {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await c.write(batch.map((k) => `set ${k} 0 0 1\r\nv\r\n`).join(''));
      const want = 'STORED\r\n'.repeat(batch.length);
      const got = await c.read(want.length, 20_000);
      expect(got.toString()).toBe(want);
    }
  } finally {
    c.close();
  }
}

/**
 * Which backend (index) holds each key, from each backend's own metadump. A metadump is no snapshot
 * (an item moving between LRU segments during the crawl can be skipped), so keys it did not list are
 * then asked for one by one on every backend.
 */
async function placement(backends: readonly ServerHandle[]): Promise<Map<string, number>> {
  const where = new Map<string, number>();
  for (const [i, b] of backends.entries()) {
    const c = await TextClient.connect(b.port, b.host);
    try {
      await c.write('lru_crawler metadump all\r\n');
      const dump = (await c.read((buf) => (buf.subarray(-5).toString() === 'END\r\n' ? true : 0), 30_000)).toString();
      for (const line of dump.split('\n')) {
        if (!line.startsWith('key=')) continue;
        const key = decodeURIComponent(line.slice(4, line.indexOf(' ')));
        expect(where.has(key), `${key} on two servers`).toBe(false);
        where.set(key, i);
      }
    } finally {
      c.close();
    }
  }
  const unlisted = keys.filter((k) => !where.has(k));
  for (const [i, b] of backends.entries()) {
    for (const key of await keysOnServer(b.port, unlisted, b.host)) {
      expect(where.has(key), `${key} on two servers`).toBe(false);
      where.set(key, i);
    }
  }
  return where;
}


async function compare(backends: ServerHandle[], servers: string[], hash: string): Promise<void> {
  const nut = await startNutcracker({ servers, hash, distribution: 'ketama' });
  const ms = await startMemshift(memshiftConfig({ listenPort: await freePort(), pools: { main: { servers, hash, distribution: 'ketama' } } }));
  try {
    await flushAll(backends);
    await setAll(nut.port);
    const viaNutcracker = await placement(backends);
    await flushAll(backends);
    await setAll(ms.port);
    const viaMemshift = await placement(backends);
    expect(viaNutcracker.size).toBe(KEYS);
    expect(viaMemshift.size).toBe(KEYS);
    const differ = keys.filter((k) => viaNutcracker.get(k) !== viaMemshift.get(k));
    expect(differ.slice(0, 10), `${differ.length} of ${KEYS} keys placed differently`).toEqual([]);
    // Every server got a share: the comparison is not vacuous.
    expect(new Set(viaMemshift.values()).size).toBe(backends.length);
  } finally {
    await ms.stop();
    await nut.stop();
  }
}

describe('ketama placement equals live nutcracker for 20,000 keys', () => {
  let pool: ServerHandle[] = [];
  beforeAll(async () => {
    pool = await Promise.all(Array.from({ length: 25 }, () => startMemcached({ memoryMb: 32 })));
  });

  for (const hash of ['md5', 'fnv1a_64']) {
    for (const n of [3, 7, 25]) {
      it(`${n} servers, equal weights, ${hash}`, async () => {
        const backends = pool.slice(0, n);
        await compare(backends, backends.map((b) => `${b.address}:1`), hash);
      });
    }
    it(`5 servers, weights 3/6/9/12/15, ${hash}`, async () => {
      const backends = pool.slice(0, 5);
      await compare(backends, backends.map((b, i) => `${b.address}:${3 * (i + 1)}`), hash);
    });
    it(`3 servers with node names, ${hash}`, async () => {
      const backends = pool.slice(5, 8);
      await compare(backends, backends.map((b, i) => `${b.address}:1 cache-${i}`), hash);
    });
  }

  describe('servers on port 11211 (the ring names them by host alone)', () => {
    let on11211: ServerHandle[] = [];
    beforeAll(async () => {
      on11211 = await Promise.all([2, 3, 4, 5].map((x) => startMemcached({ host: `127.0.0.${x}`, port: 11211, memoryMb: 32 })));
    });
    for (const hash of ['md5', 'fnv1a_64']) {
      it(`4 servers on 127.0.0.2-5:11211, ${hash}`, async () => {
        await compare(on11211, on11211.map((b) => `${b.address}:1`), hash);
      });
    }
  });
});
