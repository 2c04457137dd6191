/**
 * Ring parity with live nutcracker, read from the real data path: 20,000 keys
 * are set through nutcracker and through memshift over the same backends, and
 * each backend is then asked (lru_crawler metadump) which keys it holds.
 * Not one key may land on a different server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  flushAll, freePort, memshiftConfig, startMemcached, startMemshift, startNutcracker, stopAll, type ServerHandle,
} from '../support/harness.js';
import { placement, setAll, variedKeys } from '../support/placement.js';

const KEYS = 20_000;
afterAll(stopAll);

const keys = variedKeys(KEYS);

async function compare(backends: ServerHandle[], servers: string[], hash: string): Promise<void> {
  const nut = await startNutcracker({ servers, hash, distribution: 'ketama' });
  const ms = await startMemshift(memshiftConfig({ listenPort: await freePort(), pools: { main: { servers, hash, distribution: 'ketama' } } }));
  try {
    await flushAll(backends);
    await setAll(nut.port, keys);
    const viaNutcracker = await placement(backends, keys);
    await flushAll(backends);
    await setAll(ms.port, keys);
    const viaMemshift = await placement(backends, keys);
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
