import { describe, expect, it } from 'vitest';
import { counterDelta, topView } from '../../../src/cli/top-view.js';
import { bucketQuantile } from '../../../src/observability/histogram.js';
import { migrationStatus } from '../../support/migration-status.js';
import { backend, body, input, latency, pool } from './top-samples.js';

describe('bucketQuantile', () => {
  const bounds = [0.001, 0.01, 0.1];

  it('interpolates inside the bucket the rank falls in, as histogram_quantile does', () => {
    // 10 at most 1 ms, 10 in (1, 10] ms: the median is the top of the first bucket, p75 halfway up the second.
    expect(bucketQuantile(0.5, bounds, [10, 10, 0, 0])).toBeCloseTo(0.001, 9);
    expect(bucketQuantile(0.75, bounds, [10, 10, 0, 0])).toBeCloseTo(0.0055, 9);
    expect(bucketQuantile(0.25, bounds, [10, 10, 0, 0])).toBeCloseTo(0.0005, 9);
  });

  it('gives the highest finite bound in the +Inf bucket, and null without observations', () => {
    expect(bucketQuantile(0.99, bounds, [1, 0, 0, 99])).toBe(0.1);
    expect(bucketQuantile(0.5, bounds, [0, 0, 0, 0])).toBeNull();
  });

  it('skips empty buckets', () => {
    expect(bucketQuantile(0.5, bounds, [0, 0, 4, 0])).toBeCloseTo(0.055, 9);
  });
});

describe('counterDelta', () => {
  it('subtracts; counts from 0 when the counter went down; null when a side is unknown', () => {
    expect(counterDelta(10, 25)).toBe(15);
    expect(counterDelta(100, 7)).toBe(7);
    expect(counterDelta(null, 7)).toBeNull();
    expect(counterDelta(3, undefined)).toBeNull();
  });
});

describe('topView', () => {
  const a0 = backend('10.0.0.1:11211', { requests: 1_000, errors: 1, refused: 0, server: { get_hits: 50, get_misses: 50 }, latency: latency([0.001, 100]) });
  const b0 = backend('10.0.0.2:11211', { requests: 500, server: { get_hits: 0, get_misses: 0 } });
  const first = input(body(10_000, [pool('main', [['main', [a0, b0]]])], { cmd_get: 100, get_hits: 80, get_misses: 20, cmd_set: 10 }));

  it('without a previous sample: every rate is null, the totals and queue are there', () => {
    const v = topView(null, first);
    expect(v.interval_s).toBeNull();
    const a = v.pools[0]!.groups[0]!.backends[0]!;
    expect(a).toMatchObject({ ops_per_s: null, hit_ratio: null, p50_ms: null, p99_ms: null, errors_per_s: null, delta: null });
    expect(a.totals).toEqual({ requests: 1_000, errors: 1, refused: 0, get_hits: 50, get_misses: 50 });
    expect(v.proxy).toMatchObject({ gets_per_s: null, hit_ratio: null, get_hits: 80, get_misses: 20 });
    expect(v.pools[0]!.ops_per_s).toBeNull();
  });

  it('rates over the interval: ops/s, the server hit ratio, interval percentiles, errors and refusals per second', () => {
    const a1 = backend('10.0.0.1:11211', {
      requests: 3_000,
      errors: 3,
      refused: 2,
      in_flight: 4,
      queued_bytes: 512,
      server: { get_hits: 50 + 300, get_misses: 50 + 100 },
      // 100 old ones at ≤1 ms, then 50 at ≤1 ms and 50 in (1, 2.5] ms during the interval.
      latency: latency([0.001, 150], [0.0025, 50]),
    });
    const b1 = backend('10.0.0.2:11211', { requests: 600, server: { get_hits: 0, get_misses: 0 } });
    const second = input(body(12_000, [pool('main', [['main', [a1, b1]]])], { cmd_get: 300, get_hits: 230, get_misses: 70, cmd_set: 30, backend_errors: 5 }));
    const v = topView(first, second);
    expect(v.interval_s).toBe(2);
    const [a, b] = v.pools[0]!.groups[0]!.backends;
    expect(a!.ops_per_s).toBe(1_000);
    expect(a!.hit_ratio).toBe(0.75);
    expect(a!.errors_per_s).toBe(2); // (2 errors + 2 refused) / 2 s
    expect(a!.p50_ms).toBeCloseTo(1, 6);
    expect(a!.p99_ms).toBeCloseTo(1 + 1.5 * (99 - 50) / 50, 6);
    expect(a!.delta).toEqual({ requests: 2_000, errors: 2, refused: 2, get_hits: 300, get_misses: 100 });
    expect([a!.in_flight, a!.queued_bytes]).toEqual([4, 512]);
    expect(b!.ops_per_s).toBe(50);
    expect(b!.hit_ratio).toBeNull(); // no gets in the interval
    expect(b!.p50_ms).toBeNull();
    const p = v.pools[0]!;
    expect(p.ops_per_s).toBe(1_050);
    expect(p.hit_ratio).toBe(0.75);
    expect(v.proxy).toMatchObject({ gets_per_s: 100, sets_per_s: 10, hit_ratio: 150 / 200, backend_errors_per_s: 2.5 });
  });

  it('a counter that went down (a reload made the backend anew) counts from 0; a new backend has no rates', () => {
    const a1 = backend('10.0.0.1:11211', { requests: 40, server: { get_hits: 3, get_misses: 1 } });
    const c1 = backend('10.0.0.3:11211', { requests: 999 });
    const v = topView(first, input(body(11_000, [pool('main', [['main', [a1, c1]]])])));
    const [a, c] = v.pools[0]!.groups[0]!.backends;
    expect(a!.ops_per_s).toBe(40);
    expect(a!.hit_ratio).toBe(0.75);
    expect(c!.ops_per_s).toBeNull();
    expect(v.pools[0]!.ops_per_s).toBe(40);
  });

  it('a sample of a restarted process (its clock went back) gives no rates', () => {
    const v = topView(first, input(body(500, [pool('main', [['main', [a0, b0]]])])));
    expect(v.interval_s).toBeNull();
    expect(v.pools[0]!.groups[0]!.backends[0]!.ops_per_s).toBeNull();
  });

  it('a backend without server stats has no hit ratio; a backend two groups share counts once in the pool', () => {
    const shared0 = backend('10.0.0.9:11211', { requests: 0, server: null });
    const shared1 = backend('10.0.0.9:11211', { requests: 100, server: null });
    const before = input(body(0, [pool('rep', [['a', [shared0]], ['b', [shared0]]])]));
    const after = input(body(1_000, [pool('rep', [['a', [shared1]], ['b', [shared1]]])]));
    const v = topView(before, after);
    expect(v.pools[0]!.groups.map((g) => g.backends[0]!.ops_per_s)).toEqual([100, 100]);
    expect(v.pools[0]!.groups[0]!.backends[0]!.hit_ratio).toBeNull();
    expect(v.pools[0]!.ops_per_s).toBe(100);
  });

  it('keeps one pool with --pool, its migrations and its running syncs only', () => {
    const two = body(0, [pool('main', [['main', [a0]]]), pool('sessions', [['sessions', [b0]]])]);
    const sync = { state: 'running' as const, role: 'leader' as const, reason: 'came back empty', source: 'a', startedAt: 0, finishedAt: null, progress: null };
    const replication = {
      pools: [
        { name: 'sessions', write: 'all', read: 'primary', groups: [{ name: 'b', backends: [{ address: '10.0.0.2:11211', state: 'up', reason: null, recovering: true, missedWrites: 0, logEntries: 0, logBytes: 0, needsResync: false, sync }] }] },
        { name: 'main', write: 'all', read: 'primary', groups: [{ name: 'a', backends: [{ address: '10.0.0.1:11211', state: 'up', reason: null, recovering: false, missedWrites: 0, logEntries: 0, logBytes: 0, needsResync: false, sync: { ...sync, state: 'done' as const } }] }] },
      ],
    };
    const migrations = [migrationStatus({ pool: 'main' }), migrationStatus({ pool: 'sessions', id: 's1' })];
    const all = topView(null, input(two, migrations, { replication }));
    expect(all.pools.map((p) => p.name)).toEqual(['main', 'sessions']);
    expect(all.migrations.map((m) => m.id)).toEqual(['m1', 's1']);
    expect(all.syncs).toEqual([{ pool: 'sessions', group: 'b', address: '10.0.0.2:11211', sync }]); // a done sync is not shown
    const one = topView(null, input(two, migrations, { replication, pool: 'main' }));
    expect(one.pools.map((p) => p.name)).toEqual(['main']);
    expect(one.migrations.map((m) => m.id)).toEqual(['m1']);
    expect(one.syncs).toEqual([]);
  });
});
