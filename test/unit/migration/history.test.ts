/** The history's pure parts (issue 14): phase switches, a record's result, a sync's, and the merge. */
import { describe, expect, it } from 'vitest';
import { mergeResults, MigrationHistory, resultLine, resultOf, resultOfRun, withSwitch, type MigrationResult } from '../../../src/migration/history.js';
import { initialState, next } from '../../../src/migration/phases.js';
import { emptyCounts, type MigrationRecord } from '../../../src/migration/record.js';
import { Progress } from '../../../src/copy/index.js';

const SETTLE = 1_000;
const fresh = (): MigrationRecord => ({ ...initialState('grow', 'eager', true, 0), pool: 'main', counts: emptyCounts(), verify: null, leader: null, updatedAt: 0 });

/** Drives a record through the machine as the leader publishes it, each publish adding its switch. */
function drive(events: [string, number][]): MigrationRecord {
  let r: MigrationRecord | null = null;
  let s = fresh();
  for (const [type, at] of events) {
    s = next(s, { type } as never, at, SETTLE);
    r = withSwitch(r, s, at);
    s = r;
  }
  return r!;
}

describe('phase switches', () => {
  it('lists each phase, pause and resume with its time, in order', () => {
    const r = drive([['start', 1_000], ['tick', 2_000], ['pause', 2_200], ['resume', 2_700], ['copied', 3_000], ['tick', 4_000], ['verified', 4_500], ['tick', 5_500], ['cleaned', 6_000]]);
    expect(r.switches).toEqual([
      { phase: 'dual_write', at: 1_000 },
      { phase: 'copy', at: 2_000 },
      { phase: 'paused', at: 2_200 },
      { phase: 'resumed', at: 2_700 },
      { phase: 'dual_read', at: 3_000 },
      { phase: 'verify', at: 4_000 },
      { phase: 'cutover', at: 4_500 },
      { phase: 'cleanup', at: 5_500 },
      { phase: 'done', at: 6_000 },
    ]);
  });

  it('a publish that changes nothing adds nothing; a rollback that ends is a switch', () => {
    const r = drive([['start', 1_000], ['abort', 1_500]]);
    expect(withSwitch(r, { ...r, seq: r.seq + 1 }, 9_000).switches).toEqual(r.switches);
    const rolled = next(r, { type: 'tick' }, 3_000, SETTLE);
    expect(withSwitch(r, rolled, 3_000).switches!.map((s) => s.phase)).toEqual(['dual_write', 'aborted', 'rolled_back']);
  });
});

describe('results', () => {
  it('a finished record: times, T_copy + T_sync + T_verify = T_total, cleanup, switches as ISO times', () => {
    const r = drive([['start', 1_000], ['tick', 2_000], ['copied', 3_000], ['tick', 4_000], ['verified', 4_500], ['tick', 5_500], ['cleaned', 6_250]]);
    const x = resultOf({ ...r, counts: { ...emptyCounts(), copied: 7 } }, 'planned', ['a:1', 'b:1'], ['a:1', 'b:1', 'c:1']);
    expect(x).toMatchObject({ kind: 'planned', pool: 'main', id: 'grow', outcome: 'done', started_at: '1970-01-01T00:00:01.000Z', ended_at: '1970-01-01T00:00:06.250Z', t_copy_s: 2, t_sync_s: 1, t_verify_s: 0.5, t_total_s: 3.5, t_cleanup_s: 0.75 });
    expect(x.switches[0]).toEqual({ phase: 'dual_write', at: '1970-01-01T00:00:01.000Z' });
    expect(resultLine(x)).toBe('T_copy 2.00 s + T_sync 1.00 s + T_verify 0.50 s = T_total 3.50 s, cleanup 0.75 s; copied 7, verified 0, repaired 0, errors 0');
  });

  it('an abort before the start has no T_copy; it started when it was aborted', () => {
    const r = drive([['abort', 2_000]]);
    expect(resultOf(r, 'planned', [], [])).toMatchObject({ outcome: 'aborted', started_at: '1970-01-01T00:00:02.000Z', t_total_s: null });
  });

  it('a sync: its copy, sync and verify windows', () => {
    let t = 10_000;
    const p = new Progress(() => t);
    p.start();
    p.add('copied', 5);
    t = 12_000;
    p.markCopyDone();
    t = 12_300;
    p.markSyncDone();
    t = 13_000;
    p.markVerifyDone();
    const x = resultOfRun({ kind: 'sync', pool: 'main', id: 'sync-b', from: ['a/x:1'], to: ['b/y:1'], progress: p.snapshot(), ok: true, endedAt: 99_000 });
    expect(x).toMatchObject({ outcome: 'done', t_copy_s: 2, t_sync_s: 0.3, t_verify_s: 0.7, t_total_s: 3, t_cleanup_s: null, ended_at: '1970-01-01T00:00:13.000Z' });
    expect(x.switches.map((s) => s.phase)).toEqual(['copy', 'sync', 'verify', 'done']);
    expect(x.counts.copied).toBe(5);
  });
});

describe('merge', () => {
  const result = (id: string, ended: number, extra: Partial<MigrationResult> = {}): MigrationResult => ({
    ...resultOf(drive([['abort', ended]]), 'planned', [], []),
    id,
    ...extra,
  });

  it('each run once, newest end first, at most the limit', () => {
    const a = result('a', 1_000);
    const b = result('b', 3_000);
    const c = result('c', 2_000);
    expect(mergeResults([[a, b], [b, c], [a]]).map((r) => r.id)).toEqual(['b', 'c', 'a']);
    expect(mergeResults([[a, b, c]], 2).map((r) => r.id)).toEqual(['b', 'c']);
    // Another pool's run with the same id is another run.
    expect(mergeResults([[a, { ...a, pool: 'other' }]])).toHaveLength(2);
  });

  it("a process's history keeps 50, tells a new result from a known one, and gives each pool's newest", () => {
    const h = new MigrationHistory();
    expect(h.finished(result('x', 5_000))).toBe(true);
    expect(h.finished(result('x', 5_000))).toBe(false);
    h.add(Array.from({ length: 60 }, (_, i) => result(`r${i}`, 10_000 + i, i % 2 === 0 ? { pool: 'sessions' } : {})));
    expect(h.list()).toHaveLength(50);
    expect(h.list()[0]!.id).toBe('r59');
    expect(h.latestPerPool().map((r) => [r.pool, r.id])).toEqual([
      ['main', 'r59'],
      ['sessions', 'r58'],
    ]);
    expect(h.list('sessions').every((r) => r.pool === 'sessions')).toBe(true);
  });

  it("keeps the last 50 of each pool: a busy pool's results never push a quiet pool's out", () => {
    const h = new MigrationHistory();
    h.add([result('quiet-1', 1_000, { pool: 'quiet' })]);
    expect(h.finished(result('quiet-2', 2_000, { pool: 'quiet' }))).toBe(true);
    for (let i = 0; i < 70; i++) h.finished(result(`busy-${i}`, 10_000 + i, { pool: 'busy' }));
    h.add(Array.from({ length: 30 }, (_, i) => result(`old-${i}`, 5_000 + i, { pool: 'busy' })));
    expect(h.list('quiet').map((r) => r.id)).toEqual(['quiet-2', 'quiet-1']);
    const busy = h.list('busy');
    expect(busy).toHaveLength(50);
    expect(busy[0]!.id).toBe('busy-69');
    expect(busy[49]!.id).toBe('busy-20');
    expect(h.latestPerPool().map((r) => [r.pool, r.id])).toEqual([
      ['quiet', 'quiet-2'],
      ['busy', 'busy-69'],
    ]);
    // Without a pool: the newest 50 of all pools.
    expect(h.list()).toHaveLength(50);
    expect(h.list()[0]!.id).toBe('busy-69');
    // A known run is known in its pool only; the same id in another pool is another run.
    expect(h.finished(result('busy-69', 10_069, { pool: 'busy' }))).toBe(false);
    expect(h.finished(result('busy-69', 10_069, { pool: 'quiet' }))).toBe(true);
    // A copy handed back (the list is the caller's) changes nothing kept.
    h.list('quiet').pop();
    expect(h.list('quiet')).toHaveLength(3);
  });
});
