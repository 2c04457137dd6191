/**
 * The migration phase machine: every decision in one pure function, `next(record, event, now)`.
 * The runtime (runtime.ts, class Migration) performs the I/O and feeds events in; every sidecar routes by the
 * record's phase (route.ts), never by its own view of health or its own clock.
 *
 *   planned ─start─► dual_write ─settled─► copy ─copied─► dual_read ─settled─► verify ─verified─► cutover
 *                         │ (lazy: settled, reconciled ─copied─► dual_read)                                               │
 *                         │                                                               settled ─┤
 *   any phase before cutover ─abort─► aborted (rolling back) ─settled─► aborted (rolled back)     cleanup ─cleaned─► done
 *                                                                                  (cleanup: false: cutover ─settled─► done)
 *
 * `settled` fires once `settle` has passed since the phase began: the overlap that lets every
 * sidecar (polling the record, clocks up to `settle` apart) reach a phase before the next one
 * relies on it. So the copy starts only when every sidecar dual-writes, verify only when every
 * sidecar reads dual, cleanup only when every sidecar has cut over, and a rollback reads the
 * old owners only after every sidecar writes both again.
 *
 * Times (the leader's clock): t0 start (dual-write begins); t1 every moved key copied (lazy: t0);
 * t2 every sidecar reads dual (dual_read + settle); t3 the last verify pass found no difference.
 * T_copy = t1 − t0, T_sync = t2 − t1, T_verify = t3 − t2, T_total = t3 − t0. Cleanup is timed apart.
 */

export type Phase = 'planned' | 'dual_write' | 'copy' | 'dual_read' | 'verify' | 'cutover' | 'cleanup' | 'done' | 'aborted';

/** How a sidecar routes a moved key in a phase (route.ts). */
export type RouteMode =
  /** Old ring only. */
  | 'old'
  /** The old owner is authoritative (runs every write, answers, serves reads); the new one is synced from it. */
  | 'dual_old'
  /** As dual_old, but plain reads try the new owner first (a miss falls back to the old one, and backfills). */
  | 'dual_new'
  /** The new owner is authoritative for plain writes and reads (the old one is synced from it and read on a
   *  miss); read-modify-writes wait until every sidecar is past verify. */
  | 'cutover'
  /** The new owner only, but deletes still reach the old one (the grace window). */
  | 'new_deletes_both'
  /** New ring only. */
  | 'new';

export interface Times {
  t0: number | null;
  t1: number | null;
  t2: number | null;
  t3: number | null;
  cleanupStart: number | null;
  cleanupEnd: number | null;
  abortedAt: number | null;
}

export interface PhaseState {
  id: string;
  phase: Phase;
  /** When the current phase began (leader clock, ms). */
  since: number;
  /** Bumped on every change: sidecars keep the record with the highest seq. */
  seq: number;
  paused: boolean;
  copy: 'eager' | 'lazy';
  cleanup: boolean;
  /** After an abort: true once every sidecar reads the old owners only again. */
  rolledBack: boolean;
  times: Times;
}

export type PhaseEvent =
  | { type: 'start' }
  | { type: 'tick' }
  | { type: 'copied' }
  | { type: 'verified' }
  | { type: 'cleaned' }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'abort' };

export class PhaseError extends Error {}

export function initialState(id: string, copy: 'eager' | 'lazy', cleanup: boolean, now: number): PhaseState {
  return {
    id,
    phase: 'planned',
    since: now,
    seq: 0,
    paused: false,
    copy,
    cleanup,
    rolledBack: false,
    times: { t0: null, t1: null, t2: null, t3: null, cleanupStart: null, cleanupEnd: null, abortedAt: null },
  };
}

/** Phases an abort may leave: up to verify the old owners hold every write; after cutover they do not. */
export function canAbort(phase: Phase): boolean {
  return phase === 'planned' || phase === 'dual_write' || phase === 'copy' || phase === 'dual_read' || phase === 'verify';
}

export function isActive(s: PhaseState): boolean {
  return s.phase !== 'planned' && s.phase !== 'done' && !(s.phase === 'aborted' && s.rolledBack);
}

/**
 * Started and not finished: what a reload must not pull from under it (its block, its pool, its
 * servers). Unlike isActive, a rolled-back migration whose cleanup of the new servers is still to
 * run counts: its record and history wait for that cleanup.
 */
export function isUnfinished(s: PhaseState): boolean {
  return s.phase !== 'planned' && !isFinished(s);
}

/** Over, with nothing left to run: done, or rolled back and cleaned up. */
export function isFinished(s: PhaseState): boolean {
  return s.phase === 'done' || (s.phase === 'aborted' && s.rolledBack && s.times.cleanupEnd !== null);
}

export function routeMode(s: PhaseState): RouteMode {
  switch (s.phase) {
    case 'planned':
      return 'old';
    case 'dual_write':
    case 'copy':
      return 'dual_old';
    case 'dual_read':
    case 'verify':
      return 'dual_new';
    case 'cutover':
      return 'cutover';
    case 'cleanup':
      return 'new_deletes_both';
    case 'done':
      return 'new';
    case 'aborted':
      return s.rolledBack ? 'old' : 'dual_old';
  }
}

function moveTo<S extends PhaseState>(s: S, phase: Phase, at: number, times: Partial<Times> = {}): S {
  // A new leader's clock may be behind the last one's: times never go backwards.
  const now = Math.max(at, s.since);
  const clamped: Partial<Times> = {};
  for (const [k, v] of Object.entries(times) as [keyof Times, number | null][]) clamped[k] = v === null ? null : Math.max(v, s.since);
  const ended = phase === 'done' || phase === 'aborted';
  return { ...s, phase, since: now, seq: s.seq + 1, paused: ended ? false : s.paused, times: { ...s.times, ...clamped } };
}

/**
 * The next state; the same object when nothing changes. Throws PhaseError for an event the
 * current phase does not allow (e.g. abort after cutover), with a message for the operator.
 */
export function next<S extends PhaseState>(s: S, e: PhaseEvent, now: number, settleMs: number): S {
  const settled = now - s.since >= settleMs;
  switch (e.type) {
    case 'start':
      if (s.phase !== 'planned') throw new PhaseError(`migration "${s.id}" has already started (phase ${s.phase})`);
      return moveTo(s, 'dual_write', now, { t0: now });
    case 'pause':
      if (!isActive(s)) throw new PhaseError(`migration "${s.id}" is not running (phase ${s.phase})`);
      if (s.phase === 'cutover') throw new PhaseError(`migration "${s.id}" is cutting over: read-modify-writes wait for cleanup, so it cannot be paused now`);
      return s.paused ? s : { ...s, paused: true, seq: s.seq + 1 };
    case 'resume':
      return s.paused ? { ...s, paused: false, seq: s.seq + 1 } : s;
    case 'abort':
      if (s.phase === 'aborted') return s;
      if (!canAbort(s.phase)) {
        throw new PhaseError(`migration "${s.id}" is past its cutover (phase ${s.phase}): the old owners no longer hold every write; migrate back instead`);
      }
      if (s.phase === 'planned') return { ...moveTo(s, 'aborted', now, { abortedAt: now }), rolledBack: true };
      return { ...moveTo(s, 'aborted', now, { abortedAt: now }), paused: false };
    case 'copied':
      if (s.paused) return s; // the job re-runs after resume
      // Eager: the copy is done. Lazy: the new owners' dual-written keys were reconciled (t1 = t0).
      if (s.phase === 'dual_write' && s.copy === 'lazy' && settled) return moveTo(s, 'dual_read', now, { t1: s.times.t0 });
      if (s.phase !== 'copy') return s;
      return moveTo(s, 'dual_read', now, { t1: now });
    case 'verified':
      if (s.phase !== 'verify' || s.paused) return s;
      return moveTo(s, 'cutover', now, { t3: now });
    case 'cleaned':
      if (s.phase !== 'cleanup' || s.paused) return s;
      return moveTo(s, 'done', now, { cleanupEnd: now });
    case 'tick':
      if (!settled || s.paused) return s;
      switch (s.phase) {
        case 'dual_write':
          return s.copy === 'eager' ? moveTo(s, 'copy', now) : s; // lazy: after the reconcile ('copied')
        case 'dual_read':
          return moveTo(s, 'verify', now, { t2: now });
        case 'cutover':
          return s.cleanup ? moveTo(s, 'cleanup', now, { cleanupStart: now }) : moveTo(s, 'done', now);
        case 'aborted':
          return s.rolledBack ? s : { ...s, rolledBack: true, seq: s.seq + 1, since: now };
        default:
          return s;
      }
  }
}

/** T_copy, T_sync, T_verify, T_total (and T_cleanup) in seconds; null until known. */
export function durations(t: Times): { t_copy_s: number | null; t_sync_s: number | null; t_verify_s: number | null; t_total_s: number | null; t_cleanup_s: number | null } {
  const d = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : Math.max(0, b - a) / 1000);
  const sum = (...xs: number[]): number => Math.round(xs.reduce((x, y) => x + y, 0) * 1000) / 1000;
  const copy = d(t.t0, t.t1);
  const sync = d(t.t1, t.t2);
  const verify = d(t.t2, t.t3);
  return {
    t_copy_s: copy,
    t_sync_s: sync,
    t_verify_s: verify,
    t_total_s: copy === null || sync === null || verify === null ? null : sum(copy, sync, verify),
    t_cleanup_s: d(t.cleanupStart, t.cleanupEnd),
  };
}
