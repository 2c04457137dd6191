import { createHash, randomBytes } from 'node:crypto';
import HashRing from 'hashring';
import { describe, expect, it } from 'vitest';
import { continuumIndex } from '../../../src/routing/continuum.js';
import { createRing } from '../../../src/routing/index.js';
import { nodeMemcachedContinuum, nodeMemcachedServerString } from '../../../src/routing/node-memcached.js';
import { fixtureNames, loadFixture, mismatches } from './fixtures.js';

const spec = (host: string, port: number, weight = 1, name?: string) => ({
  host,
  port,
  weight,
  address: `${host}:${port}`,
  raw: `${host}:${port}:${weight}`,
  ...(name === undefined ? {} : { name }),
});

const md5le = (key: Buffer): number => createHash('md5').update(key).digest().readUInt32LE(0);

/** hashring's own internals, for cross-checks (never used by memshift to route). */
interface HashRingInternals {
  ring: { value: number; server: string }[];
  find(hash: number): number;
  get(key: string): string;
}

describe('node-memcached parity with the npm memcached client (test/fixtures/ring/node-memcached-*.json)', () => {
  const names = fixtureNames('node-memcached-');
  it('has the fixture cases', () => {
    expect(names).toEqual(expect.arrayContaining(['node-memcached-3', 'node-memcached-7']));
  });
  it.each(names)('%s: every key on the server the client chose', (name) => {
    const fixture = loadFixture(name);
    expect(fixture.keys.length).toBeGreaterThan(0);
    expect(mismatches(fixture)).toEqual([]);
  });
});

describe('the continuum is hashring’s', () => {
  const pools = [
    [spec('10.0.0.1', 11211), spec('10.0.0.2', 11211), spec('10.0.0.3', 11212)],
    Array.from({ length: 7 }, (_, i) => spec(`10.0.1.${i}`, 11211 + i)),
    [3, 6, 9, 12, 15].map((w, i) => spec(`10.0.2.${i}`, 11211, w)),
    [spec('10.0.0.9', 11211, 1, 'cache-1.internal:11211'), spec('10.0.0.10', 11211, 2, 'cache-2.internal:11311')],
  ];

  it.each(pools.map((p, i) => [i, p] as const))('pool %i: same points, and ownerOf equals hashring.get', (_, servers) => {
    const strings = servers.map(nodeMemcachedServerString);
    const args = servers.some((s) => s.weight !== 1) ? Object.fromEntries(servers.map((s, i) => [strings[i]!, s.weight])) : strings;
    const reference = new HashRing(args as never, 'md5', { compatibility: 'ketama', 'default port': 11211 }) as unknown as HashRingInternals;
    const ring = createRing({ servers, hash: 'md5', distribution: 'node-memcached' });
    expect([...ring.continuum.values]).toEqual(reference.ring.map((n) => n.value));
    for (let i = 0; i < 2000; i++) {
      const key = `user:${i}:${(i * 7919) % 1000}`;
      expect(strings[ring.ownerOf(Buffer.from(key))]).toBe(reference.get(key));
    }
  });

  it('the lookup equals hashring.find: first point >= hash, wrapping, first of equal points', () => {
    const servers = Array.from({ length: 5 }, (_, i) => spec(`10.0.3.${i}`, 11211));
    const reference = new HashRing(servers.map(nodeMemcachedServerString), 'md5', { compatibility: 'ketama', 'default port': 11211 }) as unknown as HashRingInternals;
    const { values } = nodeMemcachedContinuum(servers);
    const probes = [0, 1, 0xffffffff, 0xfffffffe];
    for (const v of values) probes.push(v, v - 1, (v + 1) >>> 0);
    for (let i = 0; i < 5000; i++) probes.push(randomBytes(4).readUInt32LE(0));
    for (const h of probes) expect(continuumIndex(values, h >>> 0)).toBe(reference.find(h >>> 0));
  });

  it('7 equal servers get 39 digests (156 points) each: hashring computes in doubles', () => {
    const { owners } = nodeMemcachedContinuum(Array.from({ length: 7 }, (_, i) => spec(`10.0.4.${i}`, 11211 + i)));
    expect(owners.length).toBe(7 * 156);
  });
});

describe('keys', () => {
  const servers = [spec('10.0.0.1', 11211), spec('10.0.0.2', 11211), spec('10.0.0.3', 11212), spec('10.0.0.4', 11213)];
  const strings = servers.map(nodeMemcachedServerString);
  const ring = createRing({ servers, hash: 'md5', distribution: 'node-memcached' });
  const reference = new HashRing(strings, 'md5', { compatibility: 'ketama', 'default port': 11211 }) as unknown as HashRingInternals;
  /** hashring's continuum and find(), with the md5 of the raw bytes (its get() would cache the key). */
  const expected = (key: Buffer): number => strings.indexOf(reference.ring[reference.find(md5le(key))]!.server);

  it('__proto__, constructor and other Object.prototype names route by md5 and pollute nothing', () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    const names = ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'prototype', 'value', 'before', 'next'];
    for (const name of names) {
      const key = Buffer.from(name);
      expect(ring.ownerOf(key)).toBe(expected(key));
      expect(ring.ownerOf(key)).toBe(ring.ownerOf(Buffer.from(name)));
    }
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
    const probe = {} as Record<string, unknown>;
    expect(probe['value']).toBeUndefined();
    expect(probe['before']).toBeUndefined();
    expect(probe['next']).toBeUndefined();
  });

  it('hashes raw bytes: a UTF-8 key as the client hashes its string, other bytes as they are', () => {
    for (const s of ['ключ', 'キー', '🔑', 'é', 'lone\ud800']) {
      expect(nodeMemcachedServerString(servers[ring.ownerOf(Buffer.from(s, 'utf8'))]!)).toBe(reference.get(s));
    }
    for (const bytes of [[0xff], [0xc3], [0x80, 0x80], [0xed, 0xa0, 0x80]]) {
      const key = Buffer.from(bytes);
      expect(ring.ownerOf(key)).toBe(expected(key));
    }
  });

  it('uses md5 only, and refuses other hashes', () => {
    expect(() => createRing({ name: 'p', servers, hash: 'fnv1a_64', distribution: 'node-memcached' })).toThrow(/md5/);
  });

  it('refuses two servers with the same ring string', () => {
    expect(() => nodeMemcachedContinuum([spec('a', 1, 1, 'x:1'), spec('b', 1, 1, 'x:1')])).toThrow(/twice/);
  });
});
