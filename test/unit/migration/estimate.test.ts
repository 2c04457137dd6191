/**
 * The migration time model (src/migration/estimate.ts): each phase is the sum of its terms, built
 * from the items, the measured rates, the limits and the settle as the runtime spends them.
 */
import { describe, expect, it } from 'vitest';
import { estimateMigration, leaderIntervalMs, repairWaitMs, type EstimateInput, type MeasuredRates } from '../../../src/migration/estimate.js';
import { formatEstimate } from '../../../src/cli/plan-estimate.js';
import { compareTimes, parseEstimateLine } from '../../../bench/estimate-check.js';

const measured = (over: Partial<MeasuredRates> = {}): MeasuredRates => ({
  dumpLinesPerSec: new Map([['A', 100_000], ['B', 100_000], ['C', 100_000]]),
  dumpStartSeconds: 0.01,
  copy: 5_000,
  verify: 10_000,
  sweep: 20_000,
  reconcile: 2_000,
  delete: 50_000,
  clientWritesPerSec: 0,
  probeSeconds: 2,
  ...over,
});

/** 2 -> 3: A and B hold 15,000 items each and give 5,000 each to C, which holds nothing yet. */
const input = (over: Partial<EstimateInput> = {}): EstimateInput => ({
  parts: [{ sources: [{ address: 'A', items: 15_000, moved: 5_000 }, { address: 'B', items: 15_000, moved: 5_000 }], gaining: [{ address: 'C', items: 0, moved: 10_000 }] }],
  copy: 'eager',
  cleanup: true,
  settleMs: 2_000,
  rateKeysPerSec: 20_000,
  valueBytes: 100,
  movedShare: 1 / 3,
  measured: measured(),
  ...over,
});

const sum = (terms: readonly { seconds: number }[]): number => terms.reduce((t, x) => t + x.seconds, 0);

describe('estimateMigration', () => {
  it('the leader interval and the verify repair wait follow the migration runtime', () => {
    expect(leaderIntervalMs(500, 2_000)).toBe(500);
    expect(leaderIntervalMs(500, 1_000)).toBe(250);
    expect(leaderIntervalMs(500, 100)).toBe(50);
    expect(leaderIntervalMs(500, 0)).toBe(500);
    expect(repairWaitMs(5_000)).toBe(2_000);
    expect(repairWaitMs(1_000)).toBe(1_000);
  });

  it('eager: each phase from the settle, the dumps and the measured rates', () => {
    const e = estimateMigration(input());
    // dual_write: settle + half a 500 ms poll; copy: per old owner its dump (0.16 s) and 5,000 keys at
    // 5,000 keys/s (one event loop parses the dump and copies: the two add up);
    // reconcile: C's dump after the copy (10,000 items) against 10,000 keys at 2,000 keys/s.
    expect(e.t_copy_s).toBeCloseTo(2.25 + 2 * (0.16 + 1) + 5, 3);
    expect(e.t_sync_s).toBeCloseTo(2.25, 3);
    // Notice (0.25) + full pass (per old owner its dump and 5,000 at 10,000/s) + sweep of C (its dump
    // of 10,000 items and 10,000 at 20,000/s) + incremental (two dumps, no writes).
    expect(e.t_verify_s).toBeCloseTo(0.25 + 2 * (0.16 + 0.5) + (0.11 + 0.5) + 2 * (0.01 + 0.15), 3);
    expect(e.t_total_s).toBeCloseTo(e.t_copy_s! + e.t_sync_s! + e.t_verify_s!, 3);
    // Cleanup: settle + per old owner its dump (0.16 s) and 5,000 deletes at 50,000/s (the walk waits for
    // each batch: they add up) + its dump after (10,000 items).
    expect(e.t_cleanup_s).toBeCloseTo(2.25 + 2 * (0.16 + 0.1 + 0.11), 3);
    for (const p of [e.phases.copy, e.phases.sync, e.phases.verify, e.phases.cleanup]) expect(p!.seconds).toBeCloseTo(sum(p!.terms), 3);
    expect(e.rates.copy).toEqual({ perSec: 5_000, from: 'measured' });
    expect(e.movedKeys).toBe(10_000);
    expect(e.restsOn.join('\n')).toMatch(/10,000 of the 30,000 items/);
    expect(e.restsOn.join('\n')).toMatch(/copy 5,000, verify 10,000, sweep 20,000, reconcile 2,000, delete 50,000 keys\/s/);
  });

  it('a slow dump adds its time to the copy', () => {
    const e = estimateMigration(input({ measured: measured({ dumpLinesPerSec: new Map([['A', 5_000], ['B', 5_000], ['C', 5_000]]) }) }));
    const copyTerm = e.phases.copy!.terms[1]!;
    expect(copyTerm.seconds).toBeCloseTo(2 * (0.01 + 15_000 / 5_000 + 1), 3);
  });

  it('client writes to moved keys add the keys the incremental pass checks', () => {
    const quiet = estimateMigration(input());
    const busy = estimateMigration(input({ measured: measured({ clientWritesPerSec: 3_000 }) }));
    expect(busy.t_verify_s!).toBeGreaterThan(quiet.t_verify_s!);
    expect(busy.phases.verify!.terms.at(-1)!.what).toMatch(/keys written since the copy/);
  });

  it('clients adding keys: each walk counts the moved keys there when it starts and those added while it runs, until the cutover', () => {
    // A and B each gain 1,500 new items/s, a third of them (5,000 of 15,000) on moved arcs: 500/s each,
    // dual-written to C, which gains 1,000/s.
    const grows = measured({ newItemsPerSec: new Map([['A', 1_500], ['B', 1_500]]) });
    const e = estimateMigration(input({ measured: grows }));
    const still = estimateMigration(input());
    // Copy of A from 2.25 s: its dump of 15,000 + 1,500 x 2.25 items, and 5,000 + 500 x 2.25 = 6,125
    // keys, 1.225 s at 5,000/s, during which 612.5 more.
    const dump = (at: number): number => 0.01 + (15_000 + 1_500 * at) / 100_000;
    const a = dump(2.25) + (5_000 + 500 * 2.25 + 500 * ((5_000 + 500 * 2.25) / 5_000)) / 5_000;
    const bAt = 2.25 + a;
    const b = dump(bAt) + (5_000 + 500 * bAt + 500 * ((5_000 + 500 * bAt) / 5_000)) / 5_000;
    expect(e.phases.copy!.terms[1]!.seconds).toBeCloseTo(a + b, 3);
    // The reconcile after the copy: C's moved keys then at 2,000/s.
    const reconcileAt = 2.25 + a + b;
    expect(e.phases.copy!.terms[2]!.seconds).toBeCloseTo((10_000 + 1_000 * reconcileAt) / 2_000, 3);
    expect(e.t_copy_s).toBeCloseTo(2.25 + a + b + (10_000 + 1_000 * reconcileAt) / 2_000, 3);
    // Every later walk has more keys too; the sync is the settle alone.
    expect(e.t_sync_s).toBeCloseTo(still.t_sync_s!, 3);
    expect(e.phases.verify!.terms[1]!.seconds).toBeGreaterThan(still.phases.verify!.terms[1]!.seconds);
    // Cleanup deletes the moved keys there at the cutover (T_total), and they grow no more after it.
    const moved = 10_000 + 1_000 * e.t_total_s!;
    expect(e.phases.cleanup!.terms[1]!.what).toContain(`${Math.round(moved).toLocaleString('en-US')} moved keys deleted`);
    expect(e.restsOn.join('\n')).toMatch(/clients add 3,000\/s to the old owners, ~1,000\/s on moved arcs/);
    expect(still.restsOn.join('\n')).toMatch(/new items: none added during the probe/);
    // A source with no items has no moved share to grow: its dump lists the new items, none moves.
    const empty = estimateMigration(input({ parts: [{ sources: [{ address: 'A', items: 0, moved: 0 }], gaining: [{ address: 'C', items: 0, moved: 0 }] }], measured: grows }));
    expect(empty.t_copy_s).toBeCloseTo(2.25 + (0.01 + (1_500 * 2.25) / 100_000) + 0.01, 3);
  });

  it('without a probe: paced steps at the rate limit, the bytes/s limit when lower, unpaced steps not counted', () => {
    const e = estimateMigration(input({ measured: null }));
    expect(e.rates.copy).toEqual({ perSec: 20_000, from: 'rate limit' });
    expect(e.rates.reconcile).toEqual({ perSec: null, from: 'unknown' });
    expect(e.t_copy_s).toBeCloseTo(2.25 + 10_000 / 20_000, 3);
    expect(e.restsOn.join('\n')).toMatch(/no probe/);
    const bytes = estimateMigration(input({ measured: null, rateBytesPerSec: 100_000 }));
    expect(bytes.rates.copy.perSec).toBe(1_000);
    expect(bytes.t_copy_s).toBeCloseTo(2.25 + 10, 3);
    const none = estimateMigration(input({ measured: null, rateKeysPerSec: Infinity }));
    expect(none.t_copy_s).toBeNull();
    expect(none.t_total_s).toBeNull();
  });

  it('lazy: T_copy is 0, dual_write and the reconcile count in T_sync, verify copies at the copy rate', () => {
    const e = estimateMigration(input({ copy: 'lazy' }));
    expect(e.t_copy_s).toBe(0);
    expect(e.t_sync_s).toBeCloseTo(2.25 + (0.01 + 0) + 2.25, 3);
    // The full pass dumps each old owner and copies its moved keys (2 x (0.16 s + 5,000 at 5,000/s)),
    // then sweeps C (its dump of no items, 0.01 s, and 10,000 at 20,000/s).
    expect(e.phases.verify!.terms[1]!.seconds).toBeCloseTo(2 * (0.16 + 1) + (0.01 + 0.5), 3);
  });

  it('parts run side by side, each at its share of the rate', () => {
    const part = input().parts[0]!;
    const two = estimateMigration(input({ parts: [part, part] }));
    const one = estimateMigration(input());
    // Each part's keys at half the rate (the dumps stay as long): the copy term's keys double; the
    // reconcile walks the parts in turn.
    expect(one.phases.copy!.terms[1]!.seconds).toBeCloseTo(2 * (0.16 + 1), 3);
    expect(two.phases.copy!.terms[1]!.seconds).toBeCloseTo(2 * (0.16 + 2), 3);
    expect(two.phases.copy!.terms[2]!.seconds).toBeCloseTo(2 * one.phases.copy!.terms[2]!.seconds, 3);
  });

  it('no cleanup: T_cleanup 0', () => {
    expect(estimateMigration(input({ cleanup: false })).t_cleanup_s).toBe(0);
  });

  it('plan prints a summary line the demo and the bench read back', () => {
    const e = estimateMigration(input());
    const text = formatEstimate({ estimate: e, probe: null, notes: [] });
    expect(parseEstimateLine(text)).toEqual({ t_copy_s: Number(e.t_copy_s!.toFixed(2)), t_sync_s: Number(e.t_sync_s!.toFixed(2)), t_verify_s: Number(e.t_verify_s!.toFixed(2)), t_total_s: Number(e.t_total_s!.toFixed(2)), t_cleanup_s: Number(e.t_cleanup_s!.toFixed(2)) });
    const rows = compareTimes({ t_copy_s: 10, t_sync_s: 2 }, { t_copy_s: 12.9, t_sync_s: 3 });
    expect(rows.slice(0, 2).map((r) => [r.phase, r.ratio, r.within])).toEqual([['T_copy', 1.29, true], ['T_sync', 1.5, false]]);
    expect(rows[2]!.within).toBeNull();
  });
});
