import { describe, expect, it } from 'vitest';
import type { Config, PoolConfig, ServerSpec } from '../../../src/config/types.js';
import { Router, createRing } from '../../../src/routing/index.js';

const server = (host: string, port: number, weight = 1): ServerSpec => ({ host, port, weight, address: `${host}:${port}`, raw: `${host}:${port}:${weight}` });

const pool = (name: string, servers: ServerSpec[], extra: Partial<PoolConfig> = {}): PoolConfig => ({
  name,
  servers,
  groups: [{ name, servers }],
  write: 'all',
  read: 'primary',
  readFailover: 'errors',
  resync: { rateKeysPerSec: 20_000 },
  failoverSettleMs: 10_000,
  hash: 'fnv1a_64',
  distribution: 'ketama',
  timeoutMs: 1000,
  connections: 1,
  ...extra,
});

function config(pools: PoolConfig[], routes: Config['routes'], defaultPool: string): Config {
  return {
    listen: [{ kind: 'tcp', host: '127.0.0.1', port: 22122, raw: '127.0.0.1:22122' }],
    pools: new Map(pools.map((p) => [p.name, p])),
    routes,
    defaultPool,
    limits: {
      maxItemSize: 1 << 20,
      maxGetLineBytes: 1 << 20,
      maxConnections: 1024,
      maxInflightPerClient: 128,
      maxQueuedBytesPerClient: 1 << 20,
      maxQueuedBytesPerBackend: 1 << 20,
      maxPendingPerBackend: 1024,
      maxReplyBytes: 1 << 26,
      maxReplyMemory: 1 << 28,
    },
    backend: { failureLimit: 3, probeMinMs: 10, probeMaxMs: 1000, connectTimeoutMs: 1000 },
    flushAll: true,
    workers: 1,
  };
}

const main = pool('main', [server('10.0.0.1', 11211), server('10.0.0.2', 11211), server('10.0.0.3', 11212)]);
const sessions = pool('sessions', [server('10.0.1.1', 11211), server('10.0.1.2', 11211)], { hash: 'md5', hashTag: '{}' });
const legacy = pool('legacy', [server('10.0.2.1', 11211), server('10.0.2.2', 11211)], { hash: 'md5', distribution: 'node-memcached' });

describe('Router', () => {
  const router = new Router(config([main, sessions, legacy], [{ prefix: 'sess:', pool: 'sessions' }, { prefix: 'old:', pool: 'legacy' }], 'main'));

  it('keeps config pools in insertion order; the index is the pool id', () => {
    expect(router.pools.map((p) => p.name)).toEqual(['main', 'sessions', 'legacy']);
    expect(router.poolId('legacy')).toBe(2);
    expect(router.poolId('nope')).toBeUndefined();
  });

  it('routes by prefix, else to the default pool', () => {
    expect(router.poolOf(Buffer.from('sess:1'))).toBe(1);
    expect(router.poolOf(Buffer.from('old:1'))).toBe(2);
    expect(router.poolOf(Buffer.from('user:1'))).toBe(0);
    expect(router.poolOf(Buffer.from('__proto__'))).toBe(0);
  });

  it('each pool has its own ring', () => {
    for (const [id, p] of router.pools.entries()) {
      const ring = router.ring(id);
      expect(ring.size).toBe(p.servers.length);
      const reference = createRing(p);
      for (let i = 0; i < 500; i++) {
        const key = Buffer.from(`k:${i}`);
        expect(ring.ownerOf(key)).toBe(reference.ownerOf(key));
      }
    }
    expect(() => router.ring(3)).toThrow(/no pool/);
  });

  it('locate gives pool and server', () => {
    const key = Buffer.from('sess:{u1}:cart');
    expect(router.locate(key)).toEqual({ pool: 1, server: router.ring(1).ownerOf(Buffer.from('u1')) });
  });

  it('refuses an unknown default pool or route pool', () => {
    expect(() => new Router(config([main], [], 'missing'))).toThrow(/default pool/);
    expect(() => new Router(config([main], [{ prefix: 'a', pool: 'missing' }], 'main'))).toThrow(/unknown pool/);
  });
});
