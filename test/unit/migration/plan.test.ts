/**
 * planMigration and proposeRebalance on fixed stats: estimates scale each old server's items and
 * bytes by the part of its share that moves; rebalance proposals even out a skewed load.
 */
import { describe, expect, it } from 'vitest';
import { parseServerSpec } from '../../../src/config/server-spec.js';
import type { ServerSpec } from '../../../src/config/types.js';
import { type RingSettings, movedArcs, planMigration, statNumber } from '../../../src/migration/plan.js';
import { type ServerLoad, loadFromStats, loadRatio, loadShares, proposeRebalance, withWeight } from '../../../src/migration/rebalance.js';

const pool: RingSettings = { name: 'main', hash: 'fnv1a_64', distribution: 'ketama' };

function specs(list: readonly string[]): ServerSpec[] {
  return list.map((raw) => {
    const p = parseServerSpec(raw);
    if (!p.ok) throw new Error(p.error);
    return p.value;
  });
}

const servers = (n: number): ServerSpec[] => specs(Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:11211:1`));
const stats = (items: number, bytes: number, extra: Record<string, number> = {}): Map<string, string> =>
  new Map(Object.entries({ curr_items: items, bytes, ...extra }).map(([k, v]) => [k, String(v)]));

describe('planMigration', () => {
  it('estimates each move from its source server stats, in proportion to the share that moves', () => {
    const from = servers(2);
    const to = servers(3);
    const s = new Map([
      ['10.0.0.1:11211', stats(10_000, 1_000_000)],
      ['10.0.0.2:11211', stats(30_000, 6_000_000)],
    ]);
    const report = planMigration({ oldServers: from, newServers: to, pool, stats: s, rateKeysPerSec: 1000 });
    const arcs = movedArcs(pool, from, to);
    const oldShares = arcs.oldShares();
    expect(report.moves.map((m) => m.to)).toEqual(['10.0.0.3:11211', '10.0.0.3:11211']);
    report.moves.forEach((m, i) => {
      const [items, bytes] = i === 0 ? [10_000, 1_000_000] : [30_000, 6_000_000];
      expect(m.items).toBe(Math.round((items * m.share) / oldShares[i]!));
      expect(m.bytes).toBe(Math.round((bytes * m.share) / oldShares[i]!));
    });
    expect(report.movedShare).toBeCloseTo(arcs.movedShare, 12);
    expect(report.items).toBe(report.moves.reduce((t, m) => t + m.items!, 0));
    expect(report.bytes).toBe(report.moves.reduce((t, m) => t + m.bytes!, 0));
    expect(report.copySeconds).toBeCloseTo(report.items! / 1000, 9);
    expect(report.unknown).toEqual([]);
    expect(report).toMatchObject({ pool: 'main', group: 'main', hash: 'fnv1a_64', distribution: 'ketama', hashTag: null, rateKeysPerSec: 1000 });
    expect(report.from).toEqual(from.map((x) => x.raw));
  });

  it('10 -> 11 moves about 1/11 of each old server, all to the new one', () => {
    const from = servers(10);
    const to = servers(11);
    const s = new Map(from.map((x) => [x.address, stats(110_000, 11_000_000)]));
    const report = planMigration({ oldServers: from, newServers: to, pool, stats: s, rateKeysPerSec: 20_000 });
    expect(report.moves).toHaveLength(10);
    expect(new Set(report.moves.map((m) => m.to))).toEqual(new Set(['10.0.0.11:11211']));
    expect(report.movedShare).toBeGreaterThan(0.07);
    expect(report.movedShare).toBeLessThan(0.11);
    // 10 servers of 110k items, ~1/11 of the whole moves: ~100k items.
    expect(report.items!).toBeGreaterThan(70_000);
    expect(report.items!).toBeLessThan(130_000);
  });

  it('unknown stats give null estimates and name the server', () => {
    const from = servers(3);
    const to = servers(2);
    const s = new Map<string, Map<string, string> | null>([
      ['10.0.0.1:11211', stats(1, 1)],
      ['10.0.0.3:11211', null],
    ]);
    const report = planMigration({ oldServers: from, newServers: to, pool, stats: s, rateKeysPerSec: 100 });
    expect(report.moves.length).toBeGreaterThan(0);
    expect(report.moves.every((m) => m.from === '10.0.0.3:11211' && m.items === null && m.bytes === null)).toBe(true);
    expect(report).toMatchObject({ items: null, bytes: null, copySeconds: null, unknown: ['10.0.0.3:11211'] });
  });

  it('only servers that lose keys need stats', () => {
    const report = planMigration({ oldServers: servers(2), newServers: servers(3), pool, stats: new Map([['10.0.0.1:11211', stats(0, 0)], ['10.0.0.2:11211', stats(0, 0)]]), rateKeysPerSec: 1 });
    expect(report).toMatchObject({ items: 0, bytes: 0, copySeconds: 0, unknown: [] });
  });
});

describe('stats helpers', () => {
  it('statNumber reads non-negative numbers only', () => {
    const s = new Map([['a', '12'], ['b', '1.5'], ['c', 'x'], ['d', '-1']]);
    expect([statNumber(s, 'a'), statNumber(s, 'b'), statNumber(s, 'c'), statNumber(s, 'd'), statNumber(s, 'e'), statNumber(null, 'a')]).toEqual([12, 1.5, null, null, null, null]);
  });

  it('loadFromStats takes rates from two samples', () => {
    const a = stats(10, 100, { cmd_get: 1000, cmd_set: 500 });
    const b = stats(12, 120, { cmd_get: 3000, cmd_set: 400 });
    expect(loadFromStats(a, b, 2)).toEqual({ items: 12, bytes: 120, getsPerSec: 1000, setsPerSec: 0 });
    expect(loadFromStats(a, null, 1)).toEqual({ items: 10, bytes: 100, getsPerSec: 0, setsPerSec: 0 });
    expect(loadFromStats(null, b, 1)).toBeNull();
    expect(loadFromStats(new Map([['pid', '1']]), null, 1)).toBeNull();
  });

  it('loadShares mixes bytes and ops evenly, drops a part whose total is 0', () => {
    const l = (bytes: number, ops: number, items = 1): ServerLoad => ({ items, bytes, getsPerSec: ops, setsPerSec: 0 });
    expect(loadShares([l(300, 100), l(100, 300)])).toEqual([0.5, 0.5]);
    expect(loadShares([l(300, 0), l(100, 0)])).toEqual([0.75, 0.25]);
    expect(loadShares([l(0, 0, 3), l(0, 0, 1)])).toEqual([0.75, 0.25]);
    expect(loadShares([l(0, 0, 0), l(0, 0, 0)])).toBeNull();
    expect(loadShares([l(1, 1), null])).toBeNull();
    expect(loadRatio([0.5, 0.25, 0.25])).toBeCloseTo(1.5, 12);
  });
});

describe('proposeRebalance', () => {
  const load = (bytes: number, ops: number): ServerLoad => ({ items: bytes / 100, bytes, getsPerSec: ops * 0.9, setsPerSec: ops * 0.1 });

  it('evens out a skewed load by weights, and estimates adding a server', () => {
    const list = servers(4);
    const loads = new Map(list.map((s, i) => [s.address, i === 0 ? load(4_000_000, 4000) : load(1_000_000, 1000)]));
    const r = proposeRebalance({ servers: list, pool, loads });
    expect(r.loadRatio).toBeCloseTo((4 * 4) / 7, 9);
    expect(r.servers.map((s) => s.load)).toEqual([4 / 7, 1 / 7, 1 / 7, 1 / 7].map((x) => expect.closeTo(x, 9)));
    const w = r.reweight!;
    expect(w.kind).toBe('reweight');
    expect(w.loadRatio!).toBeLessThan(1.2);
    expect(w.loadRatio!).toBeLessThan(r.loadRatio!);
    expect(w.movedShare).toBeGreaterThan(0);
    expect(w.changes.find((c) => c.address === '10.0.0.1:11211')!.to).toBeLessThan(Math.min(...w.changes.filter((c) => c.address !== '10.0.0.1:11211').map((c) => c.to)));
    expect(w.loads!.reduce((t, x) => t + x, 0)).toBeCloseTo(1, 9);
    const add = r.add;
    expect(add.changes).toEqual([{ address: 'NEW:11211', from: null, to: 1 }]);
    expect(add.servers).toHaveLength(5);
    expect(add.movedShare).toBeGreaterThan(0.12);
    expect(add.movedShare).toBeLessThan(0.28);
    expect(add.moves.every((m) => m.to === 'NEW:11211')).toBe(true);
    expect(add.loads).toHaveLength(5);
    expect(add.loads!.reduce((t, x) => t + x, 0)).toBeCloseTo(1, 9);
  });

  it('keeps the weights when the load is already even', () => {
    const list = servers(3);
    const r = proposeRebalance({ servers: list, pool, loads: new Map(list.map((s) => [s.address, load(1000, 10)])) });
    expect(r.loadRatio).toBeCloseTo(1, 12);
    expect(r.reweight).toMatchObject({ changes: [], movedShare: 0, moves: [] });
    expect(r.reweight!.loadRatio).toBeCloseTo(1, 12);
  });

  it('keeps weights as written when they are already right', () => {
    const list = specs(['10.0.0.1:11211:3', '10.0.0.2:11211:3', '10.0.0.3:11211:3']);
    const r = proposeRebalance({ servers: list, pool, loads: new Map(list.map((s) => [s.address, load(1000, 10)])) });
    expect(r.reweight).toMatchObject({ changes: [], movedShare: 0, servers: list.map((s) => s.raw) });
    expect(r.add.changes).toEqual([{ address: 'NEW:11211', from: null, to: 3 }]);
  });

  it('corrects weighted servers too', () => {
    const list = specs(['10.0.0.1:11211:2', '10.0.0.2:11211:2', '10.0.0.3:11211:4']);
    // The weight-4 server is as busy as both others together.
    const loads = new Map(list.map((s, i) => [s.address, i === 2 ? load(2000, 0) : load(500, 0)]));
    const r = proposeRebalance({ servers: list, pool, loads });
    expect(r.reweight!.loadRatio!).toBeLessThan(r.loadRatio!);
    expect(r.reweight!.loadRatio!).toBeLessThan(1.15);
    expect(r.add.changes).toEqual([{ address: 'NEW:11211', from: null, to: 3 }]);
  });

  it('uses --add and its weight when it gives one', () => {
    const list = servers(3);
    const loads = new Map(list.map((s) => [s.address, load(1000, 10)]));
    expect(proposeRebalance({ servers: list, pool, loads, add: specs(['10.0.0.9:11211'])[0]! }).add.changes).toEqual([{ address: '10.0.0.9:11211', from: null, to: 1 }]);
    expect(proposeRebalance({ servers: list, pool, loads, add: specs(['10.0.0.9:11211:3'])[0]! }).add.changes).toEqual([{ address: '10.0.0.9:11211', from: null, to: 3 }]);
    expect(() => proposeRebalance({ servers: list, pool, loads, add: list[1]! })).toThrow(/already in the pool/);
  });

  it('without a load proposes only the added server, with its moved share', () => {
    const list = servers(3);
    const r = proposeRebalance({ servers: list, pool, loads: new Map([['10.0.0.1:11211', load(1, 1)]]) });
    expect(r.reweight).toBeNull();
    expect(r.loadRatio).toBeNull();
    expect(r.servers[1]).toMatchObject({ load: null, items: null, bytes: null });
    expect(r.add).toMatchObject({ loads: null, loadRatio: null });
    expect(r.add.movedShare).toBeGreaterThan(0.15);
  });

  it('withWeight rewrites the server string', () => {
    expect(withWeight(specs(['10.0.0.1:11211:1 a'])[0]!, 7)).toMatchObject({ weight: 7, raw: '10.0.0.1:11211:7 a' });
  });
});
