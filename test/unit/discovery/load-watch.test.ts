/**
 * The load watch of `autopilot.rebalance: suggest` on stats it is given: rates from one round to
 * the next, the imbalance and the proposed weights, servers without stats, a migration that pauses
 * it, when the proposal is searched again, and the metrics it exports.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import type { PoolConfig, ServerSpec } from '../../../src/config/types.js';
import { LoadWatch, type LoadHost, type StatsSource } from '../../../src/discovery/load-watch.js';
import type { StatsAnswer } from '../../../src/migration/server-stats.js';
import { loadFamilies } from '../../../src/app/metrics/discovery-metrics.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { captureLogger } from '../admin/helpers.js';

/** A pool as the effective config has it once its servers are discovered, with rebalance: suggest. */
function suggestPool(n: number, rebalance: 'off' | 'suggest' = 'suggest'): PoolConfig {
  const servers = Array.from({ length: n }, (_, i) => `"10.0.0.${i + 1}:11211"`).join(', ');
  const pool = parseConfig(`listen: ["127.0.0.1:11211"]\npools:\n  main: {servers: [${servers}]}\n`).pools.get('main')!;
  return { ...pool, autopilot: { migrate: 'approve', minStableMs: 30_000, maxMovedShare: 0.5, rebalance }, groups: pool.groups.map((g) => ({ ...g, discovery: { dns: 'mc.test', port: 11211, intervalMs: 5_000, names: 'address' } })) };
}

/** memcached's counters per server, advanced by the test between rounds. */
class FakeStats implements StatsSource {
  readonly counters = new Map<string, { gets: number; sets: number; items: number; bytes: number }>();
  readonly down = new Set<string>();
  reads = 0;
  kept: ReadonlySet<string> | undefined;

  add(address: string, gets: number, sets: number, bytes: number): void {
    const c = this.counters.get(address) ?? { gets: 0, sets: 0, items: 0, bytes: 0 };
    this.counters.set(address, { gets: c.gets + gets, sets: c.sets + sets, items: bytes / 100, bytes });
  }

  read(servers: readonly ServerSpec[]): Promise<Map<string, StatsAnswer>> {
    this.reads += servers.length;
    return Promise.resolve(
      new Map(
        servers.map((s): [string, StatsAnswer] => {
          if (this.down.has(s.address)) return [s.address, { error: 'connection refused' }];
          const c = this.counters.get(s.address) ?? { gets: 0, sets: 0, items: 0, bytes: 0 };
          return [s.address, { stats: new Map(Object.entries({ cmd_get: String(c.gets), cmd_set: String(c.sets), curr_items: String(c.items), bytes: String(c.bytes) })) }];
        }),
      ),
    );
  }

  close(keep?: ReadonlySet<string>): void {
    this.kept = keep;
  }
}

function setUp(pools: PoolConfig[], migrating: (pool: string) => string | null = () => null) {
  const stats = new FakeStats();
  let now = 0;
  const { logger, lines } = captureLogger();
  const watch = new LoadWatch(logger, { stats, clock: () => now });
  const host: LoadHost = { pools: () => pools, migrating };
  watch.attach(host);
  /** `seconds` later, a round of every pool. */
  const round = async (seconds: number): Promise<void> => {
    now += seconds * 1000;
    await watch.tick();
  };
  return { stats, watch, lines, round, pools };
}

const A = '10.0.0.1:11211';
const B = '10.0.0.2:11211';
const C = '10.0.0.3:11211';

describe('LoadWatch', () => {
  it('measures each server’s rates between two rounds, and the imbalance and weights that even it out', async () => {
    const { stats, watch, round } = setUp([suggestPool(3)]);
    for (const s of [A, B, C]) stats.add(s, 0, 0, 1_000_000);
    await round(0);
    const [first] = watch.snapshot();
    expect(first).toMatchObject({ pool: 'main', group: 'main', intervalMs: 5_000, imbalance: null, reweight: null, note: 'measuring: the rates need a second round' });
    // A serves 4x the gets of B and C for 10 s, and holds twice their bytes.
    stats.add(A, 40_000, 1_000, 2_000_000);
    stats.add(B, 10_000, 1_000, 1_000_000);
    stats.add(C, 10_000, 1_000, 1_000_000);
    await round(10);
    const [r] = watch.snapshot();
    expect(r!.note).toBeNull();
    expect(r!.seconds).toBe(10);
    expect(r!.servers.map((s) => [s.getsPerSec, s.setsPerSec, s.bytes])).toEqual([
      [4_000, 100, 2_000_000],
      [1_000, 100, 1_000_000],
      [1_000, 100, 1_000_000],
    ]);
    // A: (2/4 of the bytes + 4100/6300 of the ops) / 2.
    const loadA = (2 / 4 + 4_100 / 6_300) / 2;
    expect(r!.servers[0]!.load).toBeCloseTo(loadA, 12);
    expect(r!.imbalance).toBeCloseTo(loadA * 3 - 1, 12);
    const w = r!.servers.map((s) => s.suggestedWeight!);
    expect(w[0]).toBeLessThan(Math.min(w[1]!, w[2]!));
    expect(r!.reweight!.imbalance!).toBeLessThan(r!.imbalance!);
    expect(r!.reweight!.movedShare).toBeGreaterThan(0);
    // And one more server, as a discovered pool grows: a quarter of the keys or so move to it.
    expect(r!.add).toMatchObject({ kind: 'add', changes: [{ address: 'NEW:11211', from: null, to: 1 }] });
    expect(r!.add!.movedShare).toBeGreaterThan(0.15);
    expect(r!.add!.movedShare).toBeLessThan(0.35);
    expect(r!.add!.imbalance).toEqual(expect.any(Number));
    expect(stats.kept).toEqual(new Set([A, B, C]));
  });

  it('asks each server once per interval (the pool’s discovery interval)', async () => {
    const { stats, watch, round } = setUp([suggestPool(3)]);
    await round(0);
    expect(stats.reads).toBe(3);
    await round(1);
    await round(2);
    expect(stats.reads).toBe(3);
    await round(2);
    expect(stats.reads).toBe(6);
    // Nothing stored, nothing served: no load to share out.
    expect(watch.snapshot()[0]).toMatchObject({ imbalance: null, note: 'idle: the servers hold no items and serve no gets or sets' });
  });

  it('searches the proposal again only when a server’s share moved more than a tenth of the fair share', async () => {
    const { stats, watch, round } = setUp([suggestPool(3)]);
    const traffic = (a: number, bytesA: number): void => {
      stats.add(A, a, 0, bytesA);
      stats.add(B, 1_000, 0, 1_000_000);
      stats.add(C, 1_000, 0, 1_000_000);
    };
    traffic(0, 2_000_000);
    await round(0);
    traffic(3_000, 2_000_000);
    await round(10);
    const searched = watch.snapshot()[0]!;
    traffic(3_030, 2_000_000);
    await round(10);
    const near = watch.snapshot()[0]!;
    expect(near.imbalance).not.toBe(searched.imbalance);
    expect(near.reweight).toEqual(searched.reweight);
    expect(near.add).toEqual(searched.add);
    traffic(1_000, 1_000_000);
    await round(10);
    const even = watch.snapshot()[0]!;
    expect(even.imbalance).toBeCloseTo(0, 12);
    expect(even.reweight).toMatchObject({ changes: [], movedShare: 0 });
    expect(even.servers.map((s) => s.suggestedWeight)).toEqual([1, 1, 1]);
  });

  it('has no figures while a server gives no stats, logs it once, and again when it answers', async () => {
    const { stats, watch, round, lines } = setUp([suggestPool(3)]);
    for (const s of [A, B, C]) stats.add(s, 0, 0, 1_000);
    stats.down.add(B);
    await round(0);
    await round(5);
    const [r] = watch.snapshot();
    expect(r).toMatchObject({ imbalance: null, reweight: null, note: `no stats from ${B}` });
    expect(r!.servers[1]).toMatchObject({ address: B, load: null, error: 'connection refused', suggestedWeight: null });
    expect(lines.filter((l) => l.msg === `pool main: no stats from ${B} (connection refused); its load is unknown until it answers`)).toHaveLength(1);
    stats.down.delete(B);
    await round(5);
    expect(watch.snapshot()[0]!.note).toBe('measuring: the rates need a second round');
    await round(5);
    expect(watch.snapshot()[0]!.imbalance).not.toBeNull();
    expect(lines.filter((l) => l.msg === `pool main: ${B} answers stats again`)).toHaveLength(1);
  });

  it('pauses while a migration of the pool is not over, and measures again from scratch after it', async () => {
    let migration: string | null = null;
    const { stats, watch, round } = setUp([suggestPool(3)], () => migration);
    for (const s of [A, B, C]) stats.add(s, 0, 0, 1_000);
    await round(0);
    await round(5);
    expect(watch.snapshot()[0]!.note).toBeNull();
    migration = 'auto-main-1234';
    await round(5);
    const paused = watch.snapshot()[0]!;
    expect(paused).toMatchObject({ imbalance: null, reweight: null, add: null, note: 'migration auto-main-1234 is not over: the load is measured again after it' });
    expect(paused.servers.reduce((t, s) => t + s.share, 0)).toBeCloseTo(1, 9);
    const reads = stats.reads;
    migration = null;
    await round(5);
    expect(stats.reads).toBe(reads + 3);
    expect(watch.snapshot()[0]!.note).toBe('measuring: the rates need a second round');
  });

  it('leaves pools without rebalance: suggest alone, and forgets a pool that stops suggesting', async () => {
    const pools = [suggestPool(3, 'off')];
    const { stats, watch, round } = setUp(pools);
    await round(0);
    expect(stats.reads).toBe(0);
    expect(watch.snapshot()).toEqual([]);
    pools[0] = suggestPool(3);
    await round(5);
    expect(watch.snapshot()).toHaveLength(1);
    pools[0] = suggestPool(3, 'off');
    await round(5);
    expect(watch.snapshot()).toEqual([]);
    expect(stats.kept).toEqual(new Set());
  });

  it('exports each server’s load share and suggested weight, and each group’s imbalance', async () => {
    const { stats, watch, round } = setUp([suggestPool(2)]);
    stats.add(A, 0, 0, 1_000);
    stats.add(B, 0, 0, 1_000);
    await round(0);
    const m = new Metrics({ processMetrics: false });
    m.add(...loadFamilies(() => watch.snapshot()));
    // Unknown figures have no sample.
    expect((await m.text()).split('\n').filter((l) => /^memshift_discovery_(load_share|imbalance|suggested)/.test(l))).toEqual([]);
    stats.add(A, 3_000, 0, 3_000);
    stats.add(B, 1_000, 0, 1_000);
    await round(10);
    const lines = (await m.text()).split('\n');
    const r = watch.snapshot()[0]!;
    expect(lines).toEqual(
      expect.arrayContaining([
        `memshift_discovery_load_share{pool="main",group="main",server="${A}"} 0.75`,
        `memshift_discovery_load_share{pool="main",group="main",server="${B}"} 0.25`,
        `memshift_discovery_imbalance{pool="main",group="main"} 0.5`,
        `memshift_discovery_suggested_weight{pool="main",group="main",server="${A}"} ${r.servers[0]!.suggestedWeight}`,
        `memshift_discovery_load_sampled_timestamp_seconds{pool="main",group="main"} ${r.sampledAt! / 1000}`,
      ]),
    );
    expect(r.servers[0]!.suggestedWeight).toBeLessThan(r.servers[1]!.suggestedWeight!);
  });
});
