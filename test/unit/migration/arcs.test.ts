/**
 * MovedArcs against the rings themselves: for random keys the merged arcs must name exactly the
 * owners `ownerOf` gives on the old and the new ring, and the moved shares must add up to what
 * ring-shares reads off each continuum.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseServerSpec } from '../../../src/config/server-spec.js';
import type { DistributionName, HashName, ServerSpec } from '../../../src/config/types.js';
import { MovedArcs } from '../../../src/migration/arcs.js';
import { type ContinuumRing, createRing } from '../../../src/routing/index.js';

function specs(list: readonly string[]): ServerSpec[] {
  return list.map((raw) => {
    const p = parseServerSpec(raw);
    if (!p.ok) throw new Error(p.error);
    return p.value;
  });
}

interface Setup {
  readonly hash?: HashName;
  readonly distribution?: DistributionName;
  readonly hashTag?: string;
}

function build(from: readonly string[], to: readonly string[], setup: Setup = {}) {
  const settings = { hash: setup.hash ?? 'fnv1a_64', distribution: setup.distribution ?? 'ketama', hashTag: setup.hashTag } as const;
  const oldServers = specs(from);
  const newServers = specs(to);
  const oldRing = createRing({ ...settings, servers: oldServers });
  const newRing = createRing({ ...settings, servers: newServers });
  return { oldRing, newRing, oldServers, newServers, arcs: MovedArcs.between(oldRing, oldServers, newRing, newServers) };
}

/** Random keys of 1–40 bytes, some with hash tags. */
function randomKeys(count: number): Buffer[] {
  const keys: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const r = randomBytes(1 + (i % 40));
    keys.push(i % 7 === 0 ? Buffer.concat([Buffer.from('{'), r.subarray(0, 3), Buffer.from('}:'), r]) : r);
  }
  keys.push(Buffer.alloc(0), Buffer.from('{}'), Buffer.from('__proto__'));
  return keys;
}

function checkPerKey(oldRing: ContinuumRing, newRing: ContinuumRing, arcs: MovedArcs, count = 50_000): void {
  let wrongOld = 0;
  let wrongNew = 0;
  let wrongMoved = 0;
  for (const key of randomKeys(count)) {
    const i = arcs.locate(key);
    const o = oldRing.ownerOf(key);
    const n = newRing.ownerOf(key);
    if (arcs.oldOwner(i) !== o) wrongOld++;
    if (arcs.newOwner(i) !== n) wrongNew++;
    if (arcs.moved(i) !== (arcs.oldServers[o]!.address !== arcs.newServers[n]!.address)) wrongMoved++;
  }
  expect({ wrongOld, wrongNew, wrongMoved }).toEqual({ wrongOld: 0, wrongNew: 0, wrongMoved: 0 });
}

const servers = (n: number, port = 11211, weight = 1): string[] => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:${port}:${weight}`);

describe('MovedArcs: per-key agreement with both rings', () => {
  const cases: [string, string[], string[], Setup][] = [
    ['2 -> 3', servers(2), servers(3), {}],
    ['3 -> 2', servers(3), servers(2), {}],
    ['A,B -> A,C', ['10.0.0.1:11211', '10.0.0.2:11211'], ['10.0.0.1:11211', '10.0.0.3:11211'], {}],
    ['weighted', ['10.0.0.1:11211:3', '10.0.0.2:11211:6', '10.0.0.3:11211:9'], ['10.0.0.1:11211:3', '10.0.0.2:11211:6', '10.0.0.3:11211:12', '10.0.0.4:11211:15'], {}],
    ['1 -> 2', servers(1), servers(2), {}],
    ['2 -> 1', servers(2), servers(1), {}],
    ['node names', ['10.0.0.1:11211 a', '10.0.0.2:11212 b'], ['10.0.0.1:11211 a', '10.0.0.2:11212 b', '10.0.0.9:11213 c'], {}],
    ['non-default ports', servers(4, 22122), servers(5, 22122), {}],
    ['md5', servers(3), servers(4), { hash: 'md5' }],
    ['hash_tag fnv1a_64', servers(3), servers(5), { hashTag: '{}' }],
    ['hash_tag md5', servers(5), servers(3), { hash: 'md5', hashTag: '{}' }],
    ['node-memcached', servers(3), servers(4), { hash: 'md5', distribution: 'node-memcached' }],
    ['reordered list', ['10.0.0.1:11211', '10.0.0.2:11211'], ['10.0.0.2:11211', '10.0.0.1:11211', '10.0.0.3:11211'], {}],
  ];
  for (const [name, from, to, setup] of cases) {
    it(name, () => {
      const { oldRing, newRing, arcs } = build(from, to, setup);
      checkPerKey(oldRing, newRing, arcs);
    });
  }
});

describe('MovedArcs: structure', () => {
  it('merges the union of both continua, sorted and deduplicated', () => {
    const { oldRing, newRing, arcs } = build(servers(3), servers(4));
    const union = new Set([...oldRing.continuum.values, ...newRing.continuum.values]);
    expect(arcs.size).toBe(union.size);
    for (let i = 1; i < arcs.size; i++) expect(arcs.boundaries[i]!).toBeGreaterThan(arcs.boundaries[i - 1]!);
    expect([...arcs.boundaries].every((b) => union.has(b))).toBe(true);
  });

  it('gives each boundary the owner of a hash equal to it, and the wrap to point 0', () => {
    const { oldRing, newRing, arcs } = build(servers(3), servers(4));
    const last = arcs.boundaries[arcs.size - 1]!;
    for (const h of [0, 1, arcs.boundaries[0]!, last, last + 1, 0xffffffff]) {
      const i = arcs.indexOf(h);
      expect(arcs.oldOwner(i)).toBe(oldRing.continuum.owners[continuumAt(oldRing, h)]);
      expect(arcs.newOwner(i)).toBe(newRing.continuum.owners[continuumAt(newRing, h)]);
    }
  });

  it('refuses rings that hash keys differently', () => {
    const a = specs(servers(2));
    const b = specs(servers(3));
    const fnv = createRing({ servers: a, hash: 'fnv1a_64', distribution: 'ketama' });
    expect(() => MovedArcs.between(fnv, a, createRing({ servers: b, hash: 'md5', distribution: 'ketama' }), b)).toThrow(RangeError);
    expect(() => MovedArcs.between(fnv, a, createRing({ servers: b, hash: 'fnv1a_64', distribution: 'ketama', hashTag: '{}' }), b)).toThrow(RangeError);
    expect(() => MovedArcs.between(fnv, a, createRing({ servers: b, hash: 'md5', distribution: 'node-memcached' }), b)).toThrow(RangeError);
    expect(() => MovedArcs.between(fnv, b, fnv, a)).toThrow(RangeError);
  });

  it('old and new shares equal the rings own shares and sum to 1', () => {
    const { arcs } = build(['10.0.0.1:11211:3', '10.0.0.2:11211:6'], ['10.0.0.1:11211:3', '10.0.0.2:11211:6', '10.0.0.3:11211:9']);
    const sum = (xs: number[]): number => xs.reduce((t, x) => t + x, 0);
    expect(sum(arcs.oldShares())).toBeCloseTo(1, 12);
    expect(sum(arcs.newShares())).toBeCloseTo(1, 12);
    expect(sum(arcs.flows().map((f) => f.share))).toBeCloseTo(1, 12);
    expect(sum(arcs.shares().map((s) => s.share))).toBeCloseTo(arcs.movedShare, 12);
  });
});

describe('MovedArcs: what moves', () => {
  it('10 -> 11 equal servers moves about 1/11 of the space, all of it to the new server', () => {
    const { arcs } = build(servers(10), servers(11));
    expect(arcs.movedShare).toBeGreaterThan(0.07);
    expect(arcs.movedShare).toBeLessThan(0.11);
    const shares = arcs.shares();
    expect(shares.length).toBe(10);
    expect(new Set(shares.map((s) => s.to))).toEqual(new Set(['10.0.0.11:11211']));
    expect(arcs.movedShare).toBeCloseTo(arcs.newShares()[10]!, 12);
  });

  it('3 -> 2 moves only the removed server arcs', () => {
    const { arcs } = build(servers(3), servers(2));
    const shares = arcs.shares();
    expect(new Set(shares.map((s) => s.from))).toEqual(new Set(['10.0.0.3:11211']));
    expect(arcs.movedShare).toBeCloseTo(arcs.oldShares()[2]!, 12);
  });

  // Not "only B's arcs, all to C": C's new points also cut into arcs A owned (those keys go A -> C),
  // and B's keys go to whichever point follows them now, A's or C's. What holds: all of B moves,
  // A keeps everything C does not take, and nothing moves between two servers that stay.
  it('A,B -> A,C moves all of B and what C takes from A, nothing else', () => {
    const A = '10.0.0.1:11211';
    const B = '10.0.0.2:11211';
    const C = '10.0.0.3:11211';
    const { arcs } = build([A, B], [A, C]);
    const shares = arcs.shares();
    expect(shares.every((s) => s.from === B || s.to === C)).toBe(true);
    const fromB = shares.filter((s) => s.from === B).reduce((t, s) => t + s.share, 0);
    expect(fromB).toBeCloseTo(arcs.oldShares()[1]!, 12);
    const toC = shares.filter((s) => s.to === C).reduce((t, s) => t + s.share, 0);
    expect(toC).toBeCloseTo(arcs.newShares()[1]!, 12);
    const AtoA = arcs.flows().find((f) => f.from === 0 && f.to === 0)?.share ?? 0;
    expect(AtoA + (shares.find((s) => s.from === A)?.share ?? 0)).toBeCloseTo(arcs.oldShares()[0]!, 12);
  });

  it('replacing B by C under B node name keeps every key in place', () => {
    const { arcs } = build(['10.0.0.1:11211 a', '10.0.0.2:11211 b'], ['10.0.0.1:11211 a', '10.0.0.3:11211 b']);
    expect(arcs.flows().map((f) => [f.from, f.to])).toEqual([[0, 0], [1, 1]]);
    expect(arcs.shares().map((s) => [s.from, s.to])).toEqual([['10.0.0.2:11211', '10.0.0.3:11211']]);
    expect(arcs.movedShare).toBeCloseTo(arcs.oldShares()[1]!, 12);
  });

  it('matches servers by address, not by index', () => {
    const { arcs } = build(['10.0.0.1:11211', '10.0.0.2:11211'], ['10.0.0.2:11211', '10.0.0.1:11211']);
    expect(arcs.movedShare).toBe(0);
    expect(arcs.shares()).toEqual([]);
    expect([...arcs.movedFlags].every((f) => f === 0)).toBe(true);
  });

  it('1 -> 2: the single server owned everything', () => {
    const { arcs } = build(servers(1), servers(2));
    expect(arcs.oldShares()).toEqual([1]);
    expect(arcs.movedShare).toBeCloseTo(arcs.newShares()[1]!, 12);
    expect(arcs.shares().map((s) => s.from)).toEqual(['10.0.0.1:11211']);
  });
});

/** continuumIndex on one ring, written out. */
function continuumAt(ring: ContinuumRing, hash: number): number {
  const v = ring.continuum.values;
  for (let i = 0; i < v.length; i++) if (v[i]! >= hash) return i;
  return 0;
}

describe('MovedArcs.movesAny', () => {
  const { arcs } = build(servers(2), servers(3));
  const keys = randomKeys(2_000);
  const moved = keys.filter((k) => arcs.moved(arcs.locate(k)));
  const stays = keys.filter((k) => !arcs.moved(arcs.locate(k)));

  it('is true for a request whose hash key is on a moved arc, false for one whose key stays', () => {
    expect(moved.length).toBeGreaterThan(100);
    expect(stays.length).toBeGreaterThan(100);
    expect(moved.every((k) => arcs.movesAny({ keys: [Buffer.from('ignored')], hashKey: k }))).toBe(true);
    expect(stays.some((k) => arcs.movesAny({ keys: [k], hashKey: k }))).toBe(false);
    // Without a hash key the one key counts; a keyless request moves nothing.
    expect(arcs.movesAny({ keys: [moved[0]!], hashKey: null })).toBe(true);
    expect(arcs.movesAny({ keys: [], hashKey: null })).toBe(false);
  });

  it('is true for a multi-key get when any one key moves, wherever it stands', () => {
    const five = stays.slice(0, 5);
    expect(arcs.movesAny({ keys: five, hashKey: five[0]! })).toBe(false);
    for (let at = 0; at <= five.length; at++) {
      const mixed = [...five.slice(0, at), moved[at]!, ...five.slice(at)];
      expect(arcs.movesAny({ keys: mixed, hashKey: mixed[0]! })).toBe(true);
    }
  });
});
