/**
 * Progress of one copy: counters and the four instants that give its phase durations.
 *
 *   t0 ── copy ── t1 ── sync (dual-write window) ── t2 ── verify ── t3
 *   T_copy = t1 − t0   T_sync = t2 − t1   T_verify = t3 − t2   T_total = T_copy + T_sync + T_verify
 *
 * The copy engine marks t0, t1 and t3; t2 ends the dual-write window, which only the caller knows
 * about (the engine marks it when its `beforeVerify` hook returns, or at t1 when there is none).
 * `snapshot()` is plain JSON for the CLI, the admin API and metrics alike. The ETA is for the copy
 * phase: items walked so far against `expected` (e.g. the sources' `curr_items`), at the rate so far.
 */

export interface ProgressCounts {
  /** Items the metadumps listed (before the filter). */
  walked: number;
  /** Items that passed the filter (to copy). */
  scanned: number;
  /** Written to the target (add succeeded and the source's CAS held). */
  copied: number;
  /** The target already had the key (NS on add): a newer dual-written value, or an earlier copy. */
  skipped: number;
  /** Gone (or expiring) on the source before it could be read. */
  vanished: number;
  /** The source changed or vanished during the copy: deleted from the target ("when in doubt, delete"). */
  raced: number;
  /** Keys the verifier found equal on source and target. */
  verified: number;
  /** Keys still different after a re-read (including target-only keys). */
  mismatched: number;
  /** Mismatches fixed (re-copied, or deleted from the target). */
  repaired: number;
  errors: number;
  /** Value bytes written to targets. */
  bytes: number;
}

export type CountName = keyof ProgressCounts;

export type Phase = 'idle' | 'copy' | 'sync' | 'verify' | 'done' | 'aborted';

export interface ProgressSnapshot {
  phase: Phase;
  counts: ProgressCounts;
  /** Unix ms, null until reached. */
  times: { t0: number | null; t1: number | null; t2: number | null; t3: number | null };
  /** Milliseconds, null until both ends are known; total is the sum of the three. */
  durations: { copyMs: number | null; syncMs: number | null; verifyMs: number | null; totalMs: number | null };
  /** Since t0 (0 before). */
  elapsedMs: number;
  /** Items walked per second during the copy phase. */
  walkRate: number;
  expected: number | null;
  /** Seconds left in the copy phase; null when unknown or not copying. */
  etaSec: number | null;
}

/** b − a, or null when either is unknown. */
export function span(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : Math.max(0, b - a);
}

/** Seconds until `expected` is reached at the rate `done` / `elapsedMs`; null when unknown. */
export function etaSeconds(done: number, expected: number | null, elapsedMs: number): number | null {
  if (expected === null || elapsedMs <= 0 || done <= 0) return null;
  const rate = done / (elapsedMs / 1000);
  return Math.max(0, (expected - done) / rate);
}

export class Progress {
  readonly counts: ProgressCounts = {
    walked: 0,
    scanned: 0,
    copied: 0,
    skipped: 0,
    vanished: 0,
    raced: 0,
    verified: 0,
    mismatched: 0,
    repaired: 0,
    errors: 0,
    bytes: 0,
  };
  /** Items the copy expects to walk (null: unknown). */
  expected: number | null = null;
  #phase: Phase = 'idle';
  #t: { t0: number | null; t1: number | null; t2: number | null; t3: number | null } = { t0: null, t1: null, t2: null, t3: null };
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get phase(): Phase {
    return this.#phase;
  }

  add(name: CountName, n = 1): void {
    this.counts[name] += n;
  }

  /** t0: the copy starts. */
  start(): void {
    this.#t.t0 ??= this.#now();
    this.#phase = 'copy';
  }

  /** t1: every scanned key is copied; the dual-write window (sync) begins. */
  markCopyDone(): void {
    this.#t.t1 ??= this.#now();
    this.#phase = 'sync';
  }

  /** t2: the caller ends the dual-write window; verify begins. */
  markSyncDone(): void {
    this.#t.t2 ??= this.#now();
    this.#phase = 'verify';
  }

  /** t3: verify is done. */
  markVerifyDone(): void {
    this.#t.t3 ??= this.#now();
    this.#phase = 'done';
  }

  markAborted(): void {
    this.#phase = 'aborted';
  }

  snapshot(): ProgressSnapshot {
    const { t0, t1, t2, t3 } = this.#t;
    const now = this.#now();
    const copyMs = span(t0, t1);
    const syncMs = span(t1, t2);
    const verifyMs = span(t2, t3);
    const copyElapsed = t0 === null ? 0 : (t1 ?? now) - t0;
    return {
      phase: this.#phase,
      counts: { ...this.counts },
      times: { t0, t1, t2, t3 },
      durations: {
        copyMs,
        syncMs,
        verifyMs,
        totalMs: copyMs === null || syncMs === null || verifyMs === null ? null : copyMs + syncMs + verifyMs,
      },
      elapsedMs: t0 === null ? 0 : now - t0,
      walkRate: copyElapsed > 0 ? this.counts.walked / (copyElapsed / 1000) : 0,
      expected: this.expected,
      etaSec: this.#phase === 'copy' ? etaSeconds(this.counts.walked, this.expected, copyElapsed) : null,
    };
  }
}
