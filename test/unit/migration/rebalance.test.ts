/**
 * The rebalance's figures: imbalance (max/mean − 1), loadRows, and reweightSteps, the reweight
 * search in steps, which ends where proposeRebalance's does.
 */
import { describe, expect, it } from 'vitest';
import { parseServerSpec } from '../../../src/config/server-spec.js';
import type { ServerSpec } from '../../../src/config/types.js';
import type { RingSettings } from '../../../src/migration/plan.js';
import { type ServerLoad, imbalance, loadRatio, loadRows, proposeRebalance, reweightSteps } from '../../../src/migration/rebalance.js';

const pool: RingSettings = { name: 'main', hash: 'md5', distribution: 'ketama' };
const servers = (n: number): ServerSpec[] => Array.from({ length: n }, (_, i) => parseServerSpec(`10.0.0.${i + 1}:11211`)).map((p) => (p.ok ? p.value : expect.unreachable()));
const load = (bytes: number, ops: number): ServerLoad => ({ items: bytes / 100, bytes, getsPerSec: ops, setsPerSec: 0 });

describe('imbalance', () => {
  it('is how much more than its fair share the busiest server carries', () => {
    expect(imbalance([0.25, 0.25, 0.25, 0.25])).toBe(0);
    // 0.5 of 3 servers' load: 1.5 times the fair share of 1/3.
    expect(imbalance([0.5, 0.25, 0.25])).toBeCloseTo(0.5, 12);
    // All of it on one server of 4.
    expect(imbalance([1, 0, 0, 0])).toBe(3);
    expect(imbalance([0.4, 0.6])).toBeCloseTo(loadRatio([0.4, 0.6]) - 1, 12);
  });

  it('is 0 for an idle group, never negative', () => {
    expect(imbalance([0, 0, 0])).toBe(0);
    expect(imbalance([1 / 3, 1 / 3, 1 / 3])).toBeGreaterThanOrEqual(0);
  });
});

describe('loadRows', () => {
  it('gives each server its share of the hash space and of the load', () => {
    const list = servers(3);
    const { rows, loads } = loadRows(list, pool, new Map(list.map((s, i) => [s.address, i === 0 ? load(2000, 200) : load(1000, 100)])));
    expect(loads!.map((l) => +l.toFixed(6))).toEqual([0.5, 0.25, 0.25]);
    expect(rows.map((r) => r.load)).toEqual(loads);
    expect(rows.reduce((t, r) => t + r.share, 0)).toBeCloseTo(1, 9);
    expect(rows[0]).toMatchObject({ address: '10.0.0.1:11211', weight: 1, bytes: 2000, getsPerSec: 200 });
  });

  it('has no load shares while a server’s load is unknown', () => {
    const list = servers(3);
    const { rows, loads } = loadRows(list, pool, new Map([[list[0]!.address, load(1, 1)]]));
    expect(loads).toBeNull();
    expect(rows.every((r) => r.load === null && r.share > 0)).toBe(true);
  });
});

describe('reweightSteps', () => {
  it('yields between the rings it tries and ends with proposeRebalance’s proposal', () => {
    const list = servers(4);
    const measured = new Map(list.map((s, i) => [s.address, i === 0 ? load(4000, 400) : load(1000, 100)]));
    const { loads } = loadRows(list, pool, measured);
    const steps = reweightSteps(pool, list, loads!);
    let yields = 0;
    let r = steps.next();
    while (r.done !== true) {
      yields++;
      r = steps.next();
    }
    expect(yields).toBeGreaterThan(3);
    const whole = proposeRebalance({ servers: list, pool, loads: measured }).reweight!;
    expect(r.value).toEqual(whole);
    expect(whole.changes.find((c) => c.address === '10.0.0.1:11211')!.to).toBeLessThan(Math.min(...whole.changes.filter((c) => c.address !== '10.0.0.1:11211').map((c) => c.to)));
    expect(imbalance(whole.loads!)).toBeLessThan(imbalance(loads!));
  });
});
