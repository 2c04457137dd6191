import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { continuumDispatch, continuumSort } from '../../../src/routing/continuum.js';
import { createRing } from '../../../src/routing/index.js';
import { KETAMA_MAX_HOSTLEN, ketamaContinuum, ketamaPointCounts, ketamaServerName, ketamaServerOrder } from '../../../src/routing/ketama.js';
import { hashFnv1a64 } from '../../../src/routing/hashkit/fnv.js';
import { decodeKey, fixtureNames, loadFixture, mismatches, serverSpecs } from './fixtures.js';

const spec = (host: string, port: number, weight = 1, name?: string) => ({
  host,
  port,
  weight,
  address: `${host}:${port}`,
  raw: `${host}:${port}:${weight}`,
  ...(name === undefined ? {} : { name }),
});

describe('ketama parity with live nutcracker (test/fixtures/ring/ketama-*.json)', () => {
  const names = fixtureNames('ketama-');
  it('has the fixture cases', () => {
    for (const n of ['md5-3', 'md5-7', 'md5-25', 'md5-weighted-5', 'fnv1a_64-3', 'fnv1a_64-7', 'fnv1a_64-25', 'fnv1a_64-weighted-5', 'fnv1a_64-weighted-15', 'fnv1a_64-names-4', 'fnv1a_64-hashtag-5', 'md5-hashtag-5', 'fnv1a_64-tie-ab', 'fnv1a_64-tie-ba', 'fnv1a_64-tie-length']) {
      expect(names).toContain(`ketama-${n}`);
    }
  });

  it.each(names)('%s: every key on the server nutcracker chose', (name) => {
    const fixture = loadFixture(name);
    expect(fixture.keys.length).toBeGreaterThan(0);
    expect(mismatches(fixture)).toEqual([]);
  });
});

type PointCount = (weight: number, total: number, n: number) => number;
/** ketama_update's expression evaluated in doubles: what dropping Math.fround would compute. */
const twemproxyInDoubles: PointCount = (w, total, n) => Math.floor((w / total) * 160 / 4 * n + 0.0000000001) * 4;
/** npm hashring's expression (doubles): FIELD-NOTES' "39 instead of 40" at n = 7. */
const hashringFormula: PointCount = (w, total, n) => Math.floor((w / total) * 40 * n) * 4;

/** The fixture's ring with another point-count rule, to show which fixture catches which mistake. */
function ringWith(count: PointCount, servers: ReturnType<typeof serverSpecs>): (key: Buffer) => number {
  const total = servers.reduce((t, s) => t + s.weight, 0);
  const values: number[] = [];
  const owners: number[] = [];
  for (const owner of ketamaServerOrder(servers.map(ketamaServerName))) {
    const s = servers[owner]!;
    for (let i = 0; i < count(s.weight, total, servers.length) / 4; i++) {
      const d = createHash('md5').update(`${ketamaServerName(s)}-${i}`).digest();
      for (let x = 0; x < 4; x++) {
        values.push(d.readUInt32LE(x * 4));
        owners.push(owner);
      }
    }
  }
  const c = continuumSort(values, owners);
  return (key) => continuumDispatch(c.values, c.owners, hashFnv1a64(key, 0, key.length));
}

describe('float32 point counts (FIELD-NOTES §3)', () => {
  it('equal servers: 160 points each at n = 7, but 156 at n = 25, 47, 50 (in doubles: 160)', () => {
    expect(ketamaPointCounts(Array<number>(7).fill(1))).toEqual(Array<number>(7).fill(160));
    for (const n of [25, 47, 50]) {
      expect(ketamaPointCounts(Array<number>(n).fill(1))).toEqual(Array<number>(n).fill(156));
      expect(twemproxyInDoubles(1, n, n)).toBe(160);
    }
    expect(hashringFormula(1, 7, 7)).toBe(156);
  });

  it('the n=25 fixture catches ketama_update computed in doubles', () => {
    const fixture = loadFixture('ketama-fnv1a_64-25');
    const wrong = mismatches(fixture, ringWith(twemproxyInDoubles, serverSpecs(fixture)));
    expect(wrong.length).toBeGreaterThan(fixture.keys.length / 100);
  });

  it('the n=7 fixture catches hashring’s formula (39 digests per server)', () => {
    const fixture = loadFixture('ketama-fnv1a_64-7');
    const wrong = mismatches(fixture, ringWith(hashringFormula, serverSpecs(fixture)));
    expect(wrong.length).toBeGreaterThan(fixture.keys.length / 100);
    // …but not doubles in ketama_update's own order, which also give 160 at n = 7.
    expect(mismatches(fixture, ringWith(twemproxyInDoubles, serverSpecs(fixture)))).toEqual([]);
  });

  it('weights 3/6/9/12/15', () => {
    expect(ketamaPointCounts([3, 6, 9, 12, 15])).toEqual([52, 104, 160, 212, 264]);
  });

  it('weights where float32 loses 4 points: 5 of 125 over 15 servers', () => {
    expect(ketamaPointCounts([5, 10, 15, 5, 10, 15, 5, 10, 15, 5, 10, 5, 5, 5, 5]).slice(0, 3)).toEqual([92, 188, 284]);
    expect(twemproxyInDoubles(5, 125, 15)).toBe(96);
  });

  it('refuses weights twemproxy refuses', () => {
    expect(() => ketamaPointCounts([1, 0])).toThrow(/positive integer/);
    expect(() => ketamaPointCounts([1.5])).toThrow(/positive integer/);
  });
});

describe('point names (nc_conf.c conf_add_server)', () => {
  it('uses the node name, else host on port 11211, else host:port', () => {
    expect(ketamaServerName(spec('10.0.0.1', 11211))).toBe('10.0.0.1');
    expect(ketamaServerName(spec('10.0.0.1', 11212))).toBe('10.0.0.1:11212');
    expect(ketamaServerName(spec('10.0.0.1', 11211, 1, 'cache-a'))).toBe('cache-a');
    expect(ketamaServerName(spec('10.0.0.1', 22122, 1, 'cache-b'))).toBe('cache-b');
  });

  it('hashes "<name>-<i>": 4 little-endian points per md5 digest', () => {
    const { values } = ketamaContinuum([spec('10.0.0.1', 11211)]);
    expect(values.length).toBe(160);
    const d = createHash('md5').update('10.0.0.1-0').digest();
    for (let x = 0; x < 4; x++) expect(values).toContain(d.readUInt32LE(x * 4));
    const d39 = createHash('md5').update('10.0.0.1-39').digest();
    expect(values).toContain(d39.readUInt32LE(12));
  });

  it('truncates "<name>-<i>" to 272 bytes like snprintf into KETAMA_MAX_HOSTLEN', () => {
    const name = 'n'.repeat(300);
    const { values } = ketamaContinuum([spec('h', 1, 1, name)]);
    const truncated = createHash('md5').update(`${name}-0`.slice(0, KETAMA_MAX_HOSTLEN - 1)).digest();
    expect(values).toContain(truncated.readUInt32LE(0));
    // All 40 names truncate to the same string, so every digest is the same.
    expect(new Set(values).size).toBe(4);
  });
});

describe('ties and lookup (ketama_dispatch)', () => {
  it('sorts stably: equal points keep build order, and a lookup takes the first', () => {
    const c = continuumSort([50, 10, 50, 30, 50], [2, 0, 1, 0, 3]);
    expect([...c.values]).toEqual([10, 30, 50, 50, 50]);
    expect([...c.owners]).toEqual([0, 0, 2, 1, 3]);
    expect(continuumDispatch(c.values, c.owners, 31)).toBe(2);
    expect(continuumDispatch(c.values, c.owners, 50)).toBe(2);
    expect(continuumDispatch(c.values, c.owners, 51)).toBe(0);
    expect(continuumDispatch(c.values, c.owners, 0)).toBe(0);
    expect(continuumDispatch(c.values, c.owners, 10)).toBe(0);
    expect(continuumDispatch(c.values, c.owners, 0xffffffff)).toBe(0);
  });

  it('the tie fixtures: the tied arc goes to the server whose name sorts first (shorter, then bytes)', () => {
    for (const name of ['ketama-fnv1a_64-tie-ab', 'ketama-fnv1a_64-tie-ba', 'ketama-fnv1a_64-tie-length']) {
      const fixture = loadFixture(name);
      const names = fixture.pool.servers.map((s) => s.name!);
      const first = [...names].sort((a, b) => a.length - b.length || (a < b ? -1 : 1))[0]!;
      const tied = fixture.keys.filter(([k]) => /^(tie-exact|tie-low|tie-high|arc:)/.test(decodeKey(k).toString('latin1')));
      expect(tied.length).toBeGreaterThan(10);
      for (const [, server] of tied) expect(names[server]).toBe(first);
    }
  });

  it('orders servers like nutcracker and refuses duplicate ring names', () => {
    expect(ketamaServerOrder(['b', 'aa', 'a', 'ab', '10.0.0.1:11212', '10.0.0.2'])).toEqual([2, 0, 1, 3, 5, 4]);
    expect(() => ketamaContinuum([spec('10.0.0.1', 11211), spec('10.0.0.2', 11211, 1, '10.0.0.1')])).toThrow(/ring name/);
  });

  it('one server: always 0; an empty key hashes to 0 (server_pool_hash)', () => {
    const one = createRing({ servers: [spec('h', 1)], hash: 'fnv1a_64', distribution: 'ketama' });
    expect(one.ownerOf(Buffer.from('anything'))).toBe(0);
    const ring = createRing({ servers: [spec('a', 1), spec('b', 1), spec('c', 1)], hash: 'fnv1a_64', distribution: 'ketama' });
    expect(ring.hashOf(Buffer.alloc(0))).toBe(0);
    expect(ring.ownerOf(Buffer.alloc(0))).toBe(ring.continuum.owners[0]);
    expect(ring.size).toBe(3);
    expect(ring.points).toBe(480);
  });
});
