/**
 * The pure migration phase machine (src/migration/phases.ts), driven with explicit clocks: no
 * sockets, no timers. Covers the eager and lazy paths, the settle rule, the times and durations,
 * pause/resume, abort and rollback, routing per phase, and a seeded property test over random
 * event sequences.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../support/prng.js';
import {
  canAbort,
  durations,
  initialState,
  isActive,
  isUnfinished,
  next,
  type Phase,
  PhaseError,
  type PhaseEvent,
  type PhaseState,
  routeMode,
  type Times,
} from '../../../src/migration/phases.js';

const SETTLE = 1_000;
const ALL_PHASES: readonly Phase[] = ['planned', 'dual_write', 'copy', 'dual_read', 'verify', 'cutover', 'cleanup', 'done', 'aborted'];
const NULL_TIMES: Times = { t0: null, t1: null, t2: null, t3: null, cleanupStart: null, cleanupEnd: null, abortedAt: null };

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** `next` on a frozen copy of the input, so any mutation of the input throws. */
function step<S extends PhaseState>(s: S, type: PhaseEvent['type'], now: number, settleMs = SETTLE): S {
  return next(deepFreeze(s), { type } as PhaseEvent, now, settleMs);
}

/** A state parked in `phase` by driving the machine itself (eager, start at 1000, settle SETTLE). */
function reach(phase: Exclude<Phase, 'aborted'>, opts: { cleanup?: boolean } = {}): PhaseState {
  const order: Phase[] = ['planned', 'dual_write', 'copy', 'dual_read', 'verify', 'cutover', 'cleanup', 'done'];
  let s = initialState('m1', 'eager', opts.cleanup ?? true, 0);
  let now = 1_000;
  while (s.phase !== phase) {
    const ev: PhaseEvent['type'] =
      s.phase === 'planned' ? 'start' : s.phase === 'copy' ? 'copied' : s.phase === 'verify' ? 'verified' : s.phase === 'cleanup' ? 'cleaned' : 'tick';
    const n = step(s, ev, now);
    if (n === s) throw new Error(`stuck in ${s.phase}`);
    if (order.indexOf(n.phase) > order.indexOf(phase)) throw new Error(`overshot ${phase}`);
    s = n;
    now += SETTLE;
  }
  return s;
}

describe('initialState', () => {
  it('is planned, unpaused, seq 0, with no times', () => {
    expect(initialState('m1', 'lazy', false, 123)).toEqual({
      id: 'm1',
      phase: 'planned',
      since: 123,
      seq: 0,
      paused: false,
      copy: 'lazy',
      cleanup: false,
      rolledBack: false,
      times: NULL_TIMES,
    });
  });

  it('returns fresh times objects (no shared mutable state between records)', () => {
    const a = initialState('a', 'eager', true, 0);
    const b = initialState('b', 'eager', true, 0);
    expect(a.times).not.toBe(b.times);
  });
});

describe('eager path', () => {
  it('planned → dual_write → copy → dual_read → verify → cutover → cleanup → done, with times at each transition', () => {
    const s0 = initialState('m1', 'eager', true, 100);

    // planned: tick does nothing, however late.
    expect(step(s0, 'tick', 1_000_000)).toBe(s0);

    const s1 = step(s0, 'start', 1_000);
    expect(s1).toEqual({ ...s0, phase: 'dual_write', since: 1_000, seq: 1, times: { ...NULL_TIMES, t0: 1_000 } });

    // dual_write → copy only once settle has passed since dual_write began.
    expect(step(s1, 'tick', 1_999)).toBe(s1);
    const s2 = step(s1, 'tick', 2_000);
    expect(s2).toEqual({ ...s1, phase: 'copy', since: 2_000, seq: 2 });
    expect(s2.times).toEqual({ ...NULL_TIMES, t0: 1_000 });

    // copy waits for `copied`, not for ticks.
    expect(step(s2, 'tick', 99_000)).toBe(s2);
    const s3 = step(s2, 'copied', 2_500);
    expect(s3).toEqual({ ...s2, phase: 'dual_read', since: 2_500, seq: 3, times: { ...NULL_TIMES, t0: 1_000, t1: 2_500 } });

    // dual_read → verify after settle; t2 is that moment.
    expect(step(s3, 'tick', 3_499)).toBe(s3);
    const s4 = step(s3, 'tick', 3_500);
    expect(s4).toEqual({ ...s3, phase: 'verify', since: 3_500, seq: 4, times: { ...NULL_TIMES, t0: 1_000, t1: 2_500, t2: 3_500 } });

    // verify waits for `verified`.
    expect(step(s4, 'tick', 99_000)).toBe(s4);
    const s5 = step(s4, 'verified', 3_600);
    expect(s5).toEqual({ ...s4, phase: 'cutover', since: 3_600, seq: 5, times: { ...NULL_TIMES, t0: 1_000, t1: 2_500, t2: 3_500, t3: 3_600 } });

    // cutover → cleanup after settle.
    expect(step(s5, 'tick', 4_599)).toBe(s5);
    const s6 = step(s5, 'tick', 4_600);
    expect(s6).toEqual({ ...s5, phase: 'cleanup', since: 4_600, seq: 6, times: { ...s5.times, cleanupStart: 4_600 } });

    // cleanup waits for `cleaned`.
    expect(step(s6, 'tick', 99_000)).toBe(s6);
    const s7 = step(s6, 'cleaned', 5_000);
    expect(s7).toEqual({ ...s6, phase: 'done', since: 5_000, seq: 7, times: { ...s6.times, cleanupEnd: 5_000 } });
    expect(s7.times).toEqual({ t0: 1_000, t1: 2_500, t2: 3_500, t3: 3_600, cleanupStart: 4_600, cleanupEnd: 5_000, abortedAt: null });

    // done is terminal for every event but pause (which throws) and resume (a no-op).
    for (const ev of ['tick', 'copied', 'verified', 'cleaned'] as const) expect(step(s7, ev, 1e9)).toBe(s7);

    expect(durations(s7.times)).toEqual({ t_copy_s: 1.5, t_sync_s: 1, t_verify_s: 0.1, t_total_s: 2.6, t_cleanup_s: 0.4 });
    expect(durations(s7.times).t_total_s).toBe((s7.times.t3! - s7.times.t0!) / 1000);
  });

  it('the tick that advances dual_write may come long after settle; the phase begins at that tick', () => {
    const s1 = step(initialState('m1', 'eager', true, 0), 'start', 0);
    const s2 = step(s1, 'tick', 50_000);
    expect(s2.phase).toBe('copy');
    expect(s2.since).toBe(50_000);
  });

  it('`copied` in copy does not need settle; `copied` in eager dual_write is ignored even after settle', () => {
    const dw = step(initialState('m1', 'eager', true, 0), 'start', 0);
    expect(step(dw, 'copied', 10_000)).toBe(dw);
    const copy = step(dw, 'tick', SETTLE);
    const dr = step(copy, 'copied', SETTLE);
    expect(dr.phase).toBe('dual_read');
    expect(dr.times.t1).toBe(SETTLE);
  });

  it('with settle 0 every tick-driven transition happens on the first tick', () => {
    let s = step(initialState('m1', 'eager', false, 0), 'start', 5, 0);
    s = step(s, 'tick', 5, 0);
    expect(s.phase).toBe('copy');
    s = step(s, 'copied', 5, 0);
    s = step(s, 'tick', 5, 0);
    expect(s.phase).toBe('verify');
    s = step(s, 'verified', 5, 0);
    s = step(s, 'tick', 5, 0);
    expect(s.phase).toBe('done');
    expect(s.seq).toBe(6);
    expect(durations(s.times)).toEqual({ t_copy_s: 0, t_sync_s: 0, t_verify_s: 0, t_total_s: 0, t_cleanup_s: null });
  });

  it('events that do not fit the phase return the same object', () => {
    const byPhase: [Exclude<Phase, 'aborted'>, PhaseEvent['type'][]][] = [
      ['planned', ['tick', 'copied', 'verified', 'cleaned', 'resume']],
      ['dual_write', ['copied', 'verified', 'cleaned', 'resume']],
      ['copy', ['tick', 'verified', 'cleaned', 'resume']],
      ['dual_read', ['copied', 'verified', 'cleaned', 'resume']],
      ['verify', ['tick', 'copied', 'cleaned', 'resume']],
      ['cutover', ['copied', 'verified', 'cleaned', 'resume']],
      ['cleanup', ['tick', 'copied', 'verified', 'resume']],
      ['done', ['tick', 'copied', 'verified', 'cleaned', 'resume']],
    ];
    for (const [phase, events] of byPhase) {
      const s = reach(phase);
      expect(s.phase).toBe(phase);
      for (const ev of events) expect(step(s, ev, s.since + 10 * SETTLE), `${ev} in ${phase}`).toBe(s);
    }
  });

  it('keeps the extra fields of a wider record type (S extends PhaseState)', () => {
    const rec = { ...initialState('m1', 'eager', true, 0), pool: 'p1', counts: { copied: 7 } };
    const n = step(rec, 'start', 10);
    expect(n.pool).toBe('p1');
    expect(n.counts).toEqual({ copied: 7 });
    expect(n.phase).toBe('dual_write');
  });
});

describe('lazy path', () => {
  it('dual_write does not advance on tick; `copied` after settle goes to dual_read with t1 = t0', () => {
    const s0 = initialState('m1', 'lazy', true, 0);
    const s1 = step(s0, 'start', 1_000);
    expect(s1.phase).toBe('dual_write');

    expect(step(s1, 'tick', 2_000)).toBe(s1);
    expect(step(s1, 'tick', 1_000_000)).toBe(s1);

    // Before settle: ignored.
    expect(step(s1, 'copied', 1_999)).toBe(s1);

    const s2 = step(s1, 'copied', 2_000);
    expect(s2).toEqual({ ...s1, phase: 'dual_read', since: 2_000, seq: 2, times: { ...NULL_TIMES, t0: 1_000, t1: 1_000 } });
    expect(durations(s2.times)).toEqual({ t_copy_s: 0, t_sync_s: null, t_verify_s: null, t_total_s: null, t_cleanup_s: null });

    expect(step(s2, 'tick', 2_999)).toBe(s2);
    const s3 = step(s2, 'tick', 3_000);
    expect(s3.phase).toBe('verify');
    expect(s3.times.t2).toBe(3_000);

    const s4 = step(s3, 'verified', 3_250);
    expect(s4.phase).toBe('cutover');
    expect(durations(s4.times)).toEqual({ t_copy_s: 0, t_sync_s: 2, t_verify_s: 0.25, t_total_s: 2.25, t_cleanup_s: null });
  });

  it('never enters the copy phase', () => {
    let s = step(initialState('m1', 'lazy', true, 0), 'start', 0);
    for (let now = 0; now <= 10 * SETTLE; now += 100) {
      s = step(s, 'tick', now);
      expect(s.phase).toBe('dual_write');
    }
    expect(s.seq).toBe(1);
  });
});

describe('cleanup: false', () => {
  it('cutover goes straight to done after settle, with no cleanup times', () => {
    const cut = reach('cutover', { cleanup: false });
    expect(step(cut, 'tick', cut.since + SETTLE - 1)).toBe(cut);
    const done = step(cut, 'tick', cut.since + SETTLE);
    expect(done).toEqual({ ...cut, phase: 'done', since: cut.since + SETTLE, seq: cut.seq + 1 });
    expect(done.times.cleanupStart).toBeNull();
    expect(done.times.cleanupEnd).toBeNull();
    expect(durations(done.times).t_cleanup_s).toBeNull();
    expect(durations(done.times).t_total_s).not.toBeNull();
    expect(routeMode(done)).toBe('new');
    expect(isActive(done)).toBe(false);
  });

  it('`cleaned` in cutover is ignored', () => {
    const cut = reach('cutover', { cleanup: false });
    expect(step(cut, 'cleaned', cut.since + 5 * SETTLE)).toBe(cut);
  });
});

describe('durations', () => {
  it('is all null for fresh times', () => {
    expect(durations(NULL_TIMES)).toEqual({ t_copy_s: null, t_sync_s: null, t_verify_s: null, t_total_s: null, t_cleanup_s: null });
  });

  it('fills in as times become known; T_total only once t3 is known', () => {
    expect(durations({ ...NULL_TIMES, t0: 0 })).toEqual({ t_copy_s: null, t_sync_s: null, t_verify_s: null, t_total_s: null, t_cleanup_s: null });
    expect(durations({ ...NULL_TIMES, t0: 0, t1: 1_200 })).toEqual({ t_copy_s: 1.2, t_sync_s: null, t_verify_s: null, t_total_s: null, t_cleanup_s: null });
    expect(durations({ ...NULL_TIMES, t0: 0, t1: 1_200, t2: 3_200 })).toEqual({ t_copy_s: 1.2, t_sync_s: 2, t_verify_s: null, t_total_s: null, t_cleanup_s: null });
    expect(durations({ ...NULL_TIMES, t0: 0, t1: 1_200, t2: 3_200, t3: 3_700 })).toEqual({
      t_copy_s: 1.2,
      t_sync_s: 2,
      t_verify_s: 0.5,
      t_total_s: 3.7,
      t_cleanup_s: null,
    });
  });

  it('T_cleanup is apart from T_total and null until both ends are known', () => {
    expect(durations({ ...NULL_TIMES, cleanupStart: 10_000 }).t_cleanup_s).toBeNull();
    expect(durations({ ...NULL_TIMES, cleanupEnd: 10_000 }).t_cleanup_s).toBeNull();
    const d = durations({ t0: 0, t1: 1_000, t2: 2_000, t3: 3_000, cleanupStart: 10_000, cleanupEnd: 12_345, abortedAt: null });
    expect(d.t_cleanup_s).toBe(2.345);
    expect(d.t_total_s).toBe(3);
  });

  it('T_total is the sum rounded to ms, with no float noise (0.1 + 0.2 + 0.3)', () => {
    const d = durations({ ...NULL_TIMES, t0: 0, t1: 100, t2: 300, t3: 600 });
    expect(d.t_copy_s).toBe(0.1);
    expect(d.t_sync_s).toBe(0.2);
    expect(d.t_verify_s).toBe(0.3);
    expect(0.1 + 0.2 + 0.3).not.toBe(0.6); // the raw sum carries float noise …
    expect(d.t_total_s).toBe(0.6); // … the reported total does not
  });

  it('T_total is rounded to whole ms for sub-ms times', () => {
    const d = durations({ ...NULL_TIMES, t0: 0, t1: 0.4, t2: 0.8, t3: 1.6 });
    expect(d.t_total_s).toBe(0.002);
  });

  it('T_total equals (t3 − t0) / 1000 for large ms timestamps', () => {
    const t0 = 1_700_000_000_123;
    const t = { ...NULL_TIMES, t0, t1: t0 + 61_007, t2: t0 + 61_007 + 5_000, t3: t0 + 61_007 + 5_000 + 12_991 };
    const d = durations(t);
    expect(d.t_copy_s).toBe(61.007);
    expect(d.t_sync_s).toBe(5);
    expect(d.t_verify_s).toBe(12.991);
    expect(d.t_total_s).toBe(78.998);
    expect(d.t_total_s).toBe((t.t3 - t.t0) / 1000);
  });

  it('a negative span reads as 0', () => {
    expect(durations({ ...NULL_TIMES, cleanupStart: 5_000, cleanupEnd: 4_000 }).t_cleanup_s).toBe(0);
  });
});

describe('seq', () => {
  it('bumps by exactly one on every change and never on a no-op', () => {
    let s = initialState('m1', 'eager', true, 0);
    const script: [PhaseEvent['type'], number, boolean][] = [
      ['tick', 0, false],
      ['start', 0, true],
      ['tick', 500, false],
      ['pause', 600, true],
      ['pause', 700, false],
      ['tick', 5_000, false],
      ['resume', 5_000, true],
      ['resume', 5_001, false],
      ['tick', 5_001, true],
      ['verified', 5_002, false],
      ['copied', 5_003, true],
      ['tick', 6_002, false],
      ['tick', 6_003, true],
      ['verified', 6_004, true],
      ['tick', 7_003, false],
      ['tick', 7_004, true],
      ['cleaned', 7_005, true],
      ['tick', 9_000, false],
    ];
    let expected = 0;
    for (const [ev, now, changes] of script) {
      const n = step(s, ev, now);
      if (changes) {
        expected += 1;
        expect(n, `${ev}@${now}`).not.toBe(s);
      } else {
        expect(n, `${ev}@${now}`).toBe(s);
      }
      expect(n.seq, `${ev}@${now}`).toBe(expected);
      s = n;
    }
    expect(s.phase).toBe('done');
    expect(s.seq).toBe(9);
  });
});

describe('pause / resume', () => {
  it('pause holds every tick-driven transition; resume lets the next tick advance (settle counts from the phase start)', () => {
    const dw = step(initialState('m1', 'eager', true, 0), 'start', 1_000);
    const p = step(dw, 'pause', 1_500);
    expect(p).toEqual({ ...dw, paused: true, seq: dw.seq + 1 });
    expect(p.since).toBe(1_000); // pausing does not restart the phase
    expect(routeMode(p)).toBe('dual_old'); // nor change routing
    expect(isActive(p)).toBe(true);

    expect(step(p, 'tick', 2_000)).toBe(p);
    expect(step(p, 'tick', 100_000)).toBe(p);
    expect(step(p, 'pause', 100_000)).toBe(p); // already paused: no-op

    const r = step(p, 'resume', 100_000);
    expect(r).toEqual({ ...p, paused: false, seq: p.seq + 1 });
    const c = step(r, 'tick', 100_000);
    expect(c.phase).toBe('copy');
    expect(c.since).toBe(100_000);
    expect(c.paused).toBe(false);
  });

  it('pause holds dual_read → verify', () => {
    const s = reach('dual_read');
    const p = step(s, 'pause', s.since);
    expect(step(p, 'tick', s.since + 100 * SETTLE)).toBe(p);
    const moved = step(step(p, 'resume', s.since + 100 * SETTLE), 'tick', s.since + 100 * SETTLE);
    expect(moved.phase).toBe('verify');
  });

  it('pause is refused in cutover (read-modify-writes wait for cleanup there)', () => {
    const s = deepFreeze(reach('cutover'));
    expect(() => next(s, { type: 'pause' }, s.since + 1, SETTLE)).toThrow(PhaseError);
    expect(() => next(s, { type: 'pause' }, s.since + 1, SETTLE)).toThrow(/cannot be paused now/);
  });

  it('pause holds the rollback of an abort', () => {
    const ab = step(reach('copy'), 'abort', 50_000);
    const p = step(ab, 'pause', 50_001);
    expect(p.paused).toBe(true);
    expect(step(p, 'tick', 50_000 + 10 * SETTLE)).toBe(p);
    const r = step(p, 'resume', 60_000);
    const rb = step(r, 'tick', 60_000);
    expect(rb.rolledBack).toBe(true);
  });

  it('pause is allowed in every running phase but cutover', () => {
    for (const phase of ['dual_write', 'copy', 'dual_read', 'verify', 'cleanup'] as const) {
      const s = reach(phase);
      const p = step(s, 'pause', s.since + 1);
      expect(p.paused, phase).toBe(true);
      expect(p.phase, phase).toBe(phase);
      expect(p.seq, phase).toBe(s.seq + 1);
    }
  });

  it('events from jobs (`copied`, `verified`, `cleaned`) are ignored while paused (the job runs again after resume)', () => {
    const copy = step(reach('copy'), 'pause', 0);
    expect(step(copy, 'copied', 9_000)).toBe(copy);
    const verify = step(reach('verify'), 'pause', 0);
    expect(step(verify, 'verified', 9_000)).toBe(verify);
    const cleanup = step(reach('cleanup'), 'pause', 0);
    expect(step(cleanup, 'cleaned', 9_000)).toBe(cleanup);
    expect(step(step(copy, 'resume', 9_000), 'copied', 9_001).phase).toBe('dual_read');
  });

  it('pause of a migration that is not running throws PhaseError and changes nothing', () => {
    const planned = initialState('m1', 'eager', true, 0);
    const done = reach('done');
    const rolledBack = step(initialState('m1', 'eager', true, 0), 'abort', 5);
    expect(rolledBack.rolledBack).toBe(true);
    for (const s of [planned, done, rolledBack]) {
      const frozen = deepFreeze(s);
      expect(() => next(frozen, { type: 'pause' }, 10, SETTLE)).toThrow(PhaseError);
      expect(() => next(frozen, { type: 'pause' }, 10, SETTLE)).toThrow(`migration "m1" is not running (phase ${s.phase})`);
    }
  });

  it('resume of an unpaused migration is a no-op in any phase (never throws)', () => {
    for (const phase of ['planned', 'dual_write', 'copy', 'dual_read', 'verify', 'cutover', 'cleanup', 'done'] as const) {
      const s = reach(phase);
      expect(step(s, 'resume', s.since + 1)).toBe(s);
    }
  });
});

describe('start', () => {
  it('start twice throws PhaseError', () => {
    const s = step(initialState('m1', 'eager', true, 0), 'start', 0);
    expect(() => step(s, 'start', 1)).toThrow(PhaseError);
    expect(() => step(s, 'start', 1)).toThrow('migration "m1" has already started (phase dual_write)');
  });

  it('start throws in every phase but planned, including after an abort', () => {
    for (const phase of ['copy', 'dual_read', 'verify', 'cutover', 'cleanup', 'done'] as const) {
      expect(() => step(reach(phase), 'start', 1e6), phase).toThrow(PhaseError);
    }
    const ab = step(initialState('m1', 'eager', true, 0), 'abort', 0);
    expect(() => step(ab, 'start', 1)).toThrow('migration "m1" has already started (phase aborted)');
  });
});

describe('abort', () => {
  it('from planned: aborted and rolled back at once', () => {
    const s = initialState('m1', 'eager', true, 0);
    const a = step(s, 'abort', 700);
    expect(a).toEqual({ ...s, phase: 'aborted', since: 700, seq: 1, rolledBack: true, times: { ...NULL_TIMES, abortedAt: 700 } });
    expect(routeMode(a)).toBe('old');
    expect(isActive(a)).toBe(false);
    expect(step(a, 'tick', 1e9)).toBe(a);
    expect(step(a, 'abort', 800)).toBe(a);
  });

  for (const phase of ['dual_write', 'copy', 'dual_read', 'verify'] as const) {
    it(`from ${phase}: rolls back only after settle`, () => {
      const s = reach(phase);
      const at = s.since + 123;
      const a = step(s, 'abort', at);
      expect(a).toEqual({ ...s, phase: 'aborted', since: at, seq: s.seq + 1, rolledBack: false, paused: false, times: { ...s.times, abortedAt: at } });
      expect(routeMode(a)).toBe('dual_old');
      expect(isActive(a)).toBe(true);

      // Second abort: a no-op.
      expect(step(a, 'abort', at + 1)).toBe(a);
      // Job events are ignored once aborted.
      for (const ev of ['copied', 'verified', 'cleaned'] as const) expect(step(a, ev, at + 10 * SETTLE)).toBe(a);

      expect(step(a, 'tick', at + SETTLE - 1)).toBe(a);
      const rb = step(a, 'tick', at + SETTLE);
      expect(rb).toEqual({ ...a, rolledBack: true, since: at + SETTLE, seq: a.seq + 1 });
      expect(rb.phase).toBe('aborted');
      expect(routeMode(rb)).toBe('old');
      expect(isActive(rb)).toBe(false);
      // Its cleanup of the new owners is still to run: a reload treats it as running until that ends.
      expect(isUnfinished(rb)).toBe(true);
      expect(isUnfinished({ ...rb, times: { ...rb.times, cleanupEnd: at + 2 * SETTLE } })).toBe(false);

      expect(step(rb, 'tick', at + 100 * SETTLE)).toBe(rb);
      expect(step(rb, 'abort', at + 100 * SETTLE)).toBe(rb);
      expect(step(rb, 'resume', at + 100 * SETTLE)).toBe(rb);
    });
  }

  it('settle for the rollback counts from the abort, not from the aborted phase start', () => {
    const dr = reach('dual_read');
    const a = step(dr, 'abort', dr.since + 10 * SETTLE);
    expect(step(a, 'tick', dr.since + 10 * SETTLE + 1)).toBe(a);
  });

  it('keeps the times recorded before the abort', () => {
    const v = reach('verify');
    const a = step(v, 'abort', v.since + 5);
    expect(a.times).toEqual({ ...v.times, abortedAt: v.since + 5 });
    expect(a.times.t0).not.toBeNull();
    expect(a.times.t1).not.toBeNull();
    expect(a.times.t2).not.toBeNull();
    expect(a.times.t3).toBeNull();
  });

  it('clears pause so the rollback proceeds', () => {
    const p = step(reach('dual_read'), 'pause', 0);
    expect(p.paused).toBe(true);
    const a = step(p, 'abort', 100_000);
    expect(a.paused).toBe(false);
    expect(a.seq).toBe(p.seq + 1);
    expect(step(a, 'tick', 100_000 + SETTLE).rolledBack).toBe(true);
  });

  for (const phase of ['cutover', 'cleanup', 'done'] as const) {
    it(`after ${phase} throws PhaseError saying the migration is past its cutover`, () => {
      const s = reach(phase);
      expect(() => step(s, 'abort', s.since + 1)).toThrow(PhaseError);
      expect(() => step(s, 'abort', s.since + 1)).toThrow(
        `migration "m1" is past its cutover (phase ${phase}): the old owners no longer hold every write; migrate back instead`,
      );
      try {
        step(s, 'abort', s.since + 1);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(PhaseError);
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toMatch(/past its cutover/);
      }
    });
  }
});

describe('routeMode', () => {
  it('maps every phase', () => {
    const base = initialState('m1', 'eager', true, 0);
    const expected: Record<Exclude<Phase, 'aborted'>, string> = {
      planned: 'old',
      dual_write: 'dual_old',
      copy: 'dual_old',
      dual_read: 'dual_new',
      verify: 'dual_new',
      cutover: 'cutover',
      cleanup: 'new_deletes_both',
      done: 'new',
    };
    for (const [phase, mode] of Object.entries(expected)) {
      expect(routeMode({ ...base, phase: phase as Phase }), phase).toBe(mode);
      expect(routeMode(reach(phase as Exclude<Phase, 'aborted'>)), phase).toBe(mode);
    }
    expect(routeMode({ ...base, phase: 'aborted', rolledBack: false })).toBe('dual_old');
    expect(routeMode({ ...base, phase: 'aborted', rolledBack: true })).toBe('old');
  });

  it('does not depend on pause', () => {
    for (const phase of ALL_PHASES) {
      const s = { ...initialState('m1', 'eager', true, 0), phase };
      expect(routeMode({ ...s, paused: true }), phase).toBe(routeMode({ ...s, paused: false }));
    }
  });
});

describe('isActive / canAbort', () => {
  it('isActive per phase', () => {
    const base = initialState('m1', 'eager', true, 0);
    const expected: Record<Exclude<Phase, 'aborted'>, boolean> = {
      planned: false,
      dual_write: true,
      copy: true,
      dual_read: true,
      verify: true,
      cutover: true,
      cleanup: true,
      done: false,
    };
    for (const [phase, active] of Object.entries(expected)) expect(isActive({ ...base, phase: phase as Phase }), phase).toBe(active);
    expect(isActive({ ...base, phase: 'aborted', rolledBack: false })).toBe(true);
    expect(isActive({ ...base, phase: 'aborted', rolledBack: true })).toBe(false);
  });

  it('canAbort per phase', () => {
    const expected: Record<Phase, boolean> = {
      planned: true,
      dual_write: true,
      copy: true,
      dual_read: true,
      verify: true,
      cutover: false,
      cleanup: false,
      done: false,
      aborted: false,
    };
    for (const phase of ALL_PHASES) expect(canAbort(phase), phase).toBe(expected[phase]);
  });
});

describe('property: random event sequences', () => {

  const EVENTS: PhaseEvent['type'][] = ['start', 'tick', 'tick', 'tick', 'tick', 'copied', 'copied', 'verified', 'verified', 'cleaned', 'cleaned', 'pause', 'resume', 'resume', 'abort'];
  /** Every phase change the header allows. */
  const EDGES = new Set([
    'planned>dual_write',
    'planned>aborted',
    'dual_write>copy',
    'dual_write>dual_read',
    'dual_write>aborted',
    'copy>dual_read',
    'copy>aborted',
    'dual_read>verify',
    'dual_read>aborted',
    'verify>cutover',
    'verify>aborted',
    'cutover>cleanup',
    'cutover>done',
    'cleanup>done',
  ]);

  it('never skips a step, keeps seq monotonic and the times ordered', () => {
    const reached = { done: 0, rolledBack: 0, cleanup: 0, lazyDone: 0, errors: 0 };
    for (let seed = 1; seed <= 600; seed++) {
      const r = mulberry32(seed);
      const copy = r() < 0.5 ? 'eager' : 'lazy';
      const cleanup = r() < 0.5;
      const settle = [0, 1, 250, 1_000][Math.floor(r() * 4)]!;
      let now = Math.floor(r() * 1_000);
      let s: PhaseState = initialState(`m${seed}`, copy, cleanup, now);
      const visited: Phase[] = ['planned'];
      // Mostly start early so that runs get somewhere.
      const len = 20 + Math.floor(r() * 80);
      for (let i = 0; i < len; i++) {
        now += r() < 0.3 ? 0 : Math.floor(r() * 1.5 * (settle + 1));
        const ev: PhaseEvent['type'] = i === 0 && r() < 0.8 ? 'start' : EVENTS[Math.floor(r() * EVENTS.length)]!;
        const ctx = `seed ${seed} step ${i}: ${ev}@${now} in ${s.phase}${s.paused ? ' (paused)' : ''}`;
        const expectThrow =
          (ev === 'start' && s.phase !== 'planned') ||
          (ev === 'pause' && (!isActive(s) || s.phase === 'cutover')) ||
          (ev === 'abort' && s.phase !== 'aborted' && !canAbort(s.phase));
        let n: PhaseState;
        try {
          n = step(s, ev, now, settle);
        } catch (err) {
          expect(err, ctx).toBeInstanceOf(PhaseError);
          expect(expectThrow, ctx).toBe(true);
          reached.errors++;
          continue;
        }
        expect(expectThrow, ctx).toBe(false);

        if (n === s) continue;
        expect(n.seq, ctx).toBe(s.seq + 1);
        expect(n.id).toBe(s.id);
        expect(n.copy).toBe(copy);
        expect(n.cleanup).toBe(cleanup);

        if (n.phase !== s.phase) {
          expect(EDGES.has(`${s.phase}>${n.phase}`), `${ctx} → ${n.phase}`).toBe(true);
          expect(n.since, ctx).toBe(now);
          // Tick-driven changes only when settled and not paused.
          if (ev === 'tick') {
            expect(s.paused, ctx).toBe(false);
            expect(now - s.since, ctx).toBeGreaterThanOrEqual(settle);
          }
          if (s.phase === 'dual_write' && n.phase === 'copy') expect(copy, ctx).toBe('eager');
          if (s.phase === 'dual_write' && n.phase === 'dual_read') {
            expect(copy, ctx).toBe('lazy');
            expect(now - s.since, ctx).toBeGreaterThanOrEqual(settle);
          }
          if (s.phase === 'cutover') expect(n.phase, ctx).toBe(cleanup ? 'cleanup' : 'done');
          visited.push(n.phase);
        } else if (ev === 'tick') {
          // The only same-phase change on a tick: the rollback completes.
          expect(s.phase, ctx).toBe('aborted');
          expect(s.rolledBack, ctx).toBe(false);
          expect(n.rolledBack, ctx).toBe(true);
          expect(now - s.since, ctx).toBeGreaterThanOrEqual(settle);
        } else {
          expect(['pause', 'resume'], ctx).toContain(ev);
          expect(n.paused, ctx).toBe(ev === 'pause');
        }
        if (s.rolledBack) expect(n.rolledBack, ctx).toBe(true);
        if (s.phase === 'aborted') expect(n.phase, ctx).toBe('aborted');
        s = n;

        // Order of the times.
        const t = s.times;
        const order = [t.t0, t.t1, t.t2, t.t3].filter((x): x is number => x !== null);
        for (let k = 1; k < order.length; k++) expect(order[k]!, ctx).toBeGreaterThanOrEqual(order[k - 1]!);
        if (t.cleanupStart !== null) expect(t.cleanupStart, ctx).toBeGreaterThanOrEqual(t.t3!);
        if (t.cleanupEnd !== null) expect(t.cleanupEnd, ctx).toBeGreaterThanOrEqual(t.cleanupStart!);
        if (copy === 'lazy' && t.t1 !== null) expect(t.t1, ctx).toBe(t.t0);
      }

      // The phases visited, in order, are a prefix of the one path (or end in aborted).
      const eager: Phase[] = ['planned', 'dual_write', 'copy', 'dual_read', 'verify', 'cutover', ...(cleanup ? (['cleanup'] as Phase[]) : []), 'done'];
      const path = copy === 'eager' ? eager : eager.filter((p) => p !== 'copy');
      const last = visited[visited.length - 1]!;
      const body = last === 'aborted' ? visited.slice(0, -1) : visited;
      expect(body, `seed ${seed}`).toEqual(path.slice(0, body.length));
      if (visited.includes('verify')) expect(visited.indexOf('dual_read')).toBeLessThan(visited.indexOf('verify'));
      if (visited.includes('cutover')) expect(visited.indexOf('verify')).toBeLessThan(visited.indexOf('cutover'));
      if (last === 'aborted') expect(canAbort(visited[visited.length - 2]!), `seed ${seed}`).toBe(true);

      // Times are set exactly when their phase was passed.
      const t = s.times;
      expect(t.t0 !== null, `seed ${seed}`).toBe(visited.includes('dual_write'));
      expect(t.t1 !== null, `seed ${seed}`).toBe(visited.includes('dual_read'));
      expect(t.t2 !== null, `seed ${seed}`).toBe(visited.includes('verify'));
      expect(t.t3 !== null, `seed ${seed}`).toBe(visited.includes('cutover'));
      expect(t.cleanupStart !== null, `seed ${seed}`).toBe(visited.includes('cleanup'));
      expect(t.cleanupEnd !== null, `seed ${seed}`).toBe(visited.includes('cleanup') && last === 'done');
      expect(t.abortedAt !== null, `seed ${seed}`).toBe(last === 'aborted');

      if (t.t3 !== null) expect(durations(t).t_total_s, `seed ${seed}`).toBe(Math.round(t.t3 - t.t0!) / 1000);
      if (last === 'done') {
        reached.done++;
        if (copy === 'lazy') reached.lazyDone++;
        if (cleanup) reached.cleanup++;
      }
      if (last === 'aborted' && s.rolledBack) reached.rolledBack++;
    }
    // The generator reaches the interesting ends, so the checks above did run on them.
    expect(reached.done).toBeGreaterThan(20);
    expect(reached.lazyDone).toBeGreaterThan(5);
    expect(reached.cleanup).toBeGreaterThan(5);
    expect(reached.rolledBack).toBeGreaterThan(20);
    expect(reached.errors).toBeGreaterThan(20);
  });
});
