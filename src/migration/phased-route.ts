/**
 * What a moved-key route of either kind (a plain pool's, route.ts; a replica group's remap,
 * group-remap.ts) keeps about the migration's phase: the mode it routes by, until when that phase is
 * known to be current (phase-view.ts), the requests it holds (hold-queue.ts) and the requests that
 * stopped halfway to wait for a current phase. Held requests run again, through `redispatch`, once
 * the phase is current and read-modify-writes may run (not in cutover before `rmwFrom`).
 */
import type { Request } from '../protocol/index.js';
import type { Slot, SlotOwner } from '../proxy/reply-slots.js';
import type { MovedKeys } from './moved-keys.js';
import type { RouteMode } from './phases.js';
import { HoldQueue } from './hold-queue.js';
import { LatencyHistogram } from '../observability/histogram.js';

/** Buckets of `memshift_migration_hold_seconds`. */
export const HOLD_BUCKETS_SEC = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30] as const;

/** Counters of the moved-key data path, for status and metrics. */
export interface RouteCounters {
  /** Reads of a moved key that the new owner missed and the old owner had (copied over). */
  backfilled: number;
  backfillErrors: number;
  /** Syncs whose authority changed meanwhile (the other owner was left without the key). */
  raced: number;
  /** Syncs that failed (the key was then deleted from the other owner, when it answered). */
  syncErrors: number;
  /** Keys not remembered for a retried delete because the list was full. */
  dirtyOverflow: number;
  /** Requests held: read-modify-writes while their serializing owner changed, and any for a moved key while the phase was out of date. */
  held: number;
}

/** Route counters, all 0. */
export function emptyRouteCounters(): RouteCounters {
  return { backfilled: 0, backfillErrors: 0, raced: 0, syncErrors: 0, dirtyOverflow: 0, held: 0 };
}

export abstract class PhasedRoute {
  #mode: RouteMode = 'old';
  readonly counters: RouteCounters = emptyRouteCounters();
  /** How long held requests waited (memshift_migration_hold_seconds). */
  readonly holds = new LatencyHistogram(HOLD_BUCKETS_SEC);
  protected readonly held = new HoldQueue(this.counters, this.holds);
  #validUntil = Infinity;
  #rmwFrom = Infinity;
  #rmwTimer: NodeJS.Timeout | null = null;
  #waiting: { at: number; resolve: (current: boolean) => void }[] = [];

  constructor(readonly arcs: MovedKeys) {}

  /** Runs a released request through the route again. */
  protected abstract redispatch(req: Request, owner: SlotOwner): Slot;

  get mode(): RouteMode {
    return this.#mode;
  }

  /** Switches the mode; requests held by the old mode run under the new one. */
  set mode(mode: RouteMode) {
    this.#mode = mode;
    if (mode !== 'cutover') this.rmwFrom = Infinity;
    this.#release();
  }

  /**
   * performance.now() from which read-modify-writes of moved keys run in cutover (on the new
   * owner): `settle` after this sidecar's read that first showed cutover was sent, when no sidecar
   * whose view is current can still be in verify (runtime.ts). Infinity: held for the whole cutover.
   */
  get rmwFrom(): number {
    return this.#rmwFrom;
  }

  set rmwFrom(t: number) {
    this.#rmwFrom = t;
    if (this.#rmwTimer !== null) clearTimeout(this.#rmwTimer);
    this.#rmwTimer = null;
    if (t === Infinity) return;
    this.#rmwTimer = setTimeout(() => {
      this.#rmwTimer = null;
      this.#release();
    }, Math.max(0, t - performance.now()) + 1);
    this.#rmwTimer.unref();
  }

  /** Read-modify-writes of moved keys wait: cutover, before `rmwFrom`. */
  protected rmwHeld(): boolean {
    return this.#mode === 'cutover' && performance.now() < this.#rmwFrom;
  }

  /** performance.now() until which the phase is current; Infinity when nothing is guarded. */
  get validUntil(): number {
    return this.#validUntil;
  }

  /** Past this time the phase may be out of date: requests for moved keys wait (phase-view.ts). */
  set validUntil(t: number) {
    this.#validUntil = t;
    if (!this.current()) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    const now = performance.now();
    for (const w of waiting) {
      this.holds.observe(now - w.at);
      w.resolve(true);
    }
    this.#release();
  }

  /** Whether this sidecar's phase is current (phase-view.ts). */
  current(): boolean {
    return performance.now() <= this.#validUntil;
  }

  #closed = false;

  /** The migration stopped here: held and waiting requests fail, later ones do not wait (space.ts MoveRoute.close). */
  close(): void {
    this.#closed = true;
    if (this.#rmwTimer !== null) clearTimeout(this.#rmwTimer);
    this.#rmwTimer = null;
    this.held.close();
    this.expireHeld(-Infinity);
  }

  /** Resolves true once the phase is current again, or false when that takes longer than held requests may wait. */
  whenCurrent(): Promise<boolean> {
    if (this.current()) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => this.#waiting.push({ at: performance.now(), resolve }));
  }

  /** Held requests, and requests waiting for a current phase, older than `ms` fail (a cutover that does not end, a phase not read again). */
  expireHeld(ms: number): void {
    this.held.expire(ms);
    const now = performance.now();
    const cutoff = now - ms;
    while (this.#waiting.length > 0 && this.#waiting[0]!.at < cutoff) {
      const w = this.#waiting.shift()!;
      this.holds.observe(now - w.at);
      w.resolve(false);
    }
  }

  /**
   * A slot holding `req` when it must wait: behind a held request of the same connection (its
   * pipeline keeps its order), or, for a moved key, while the phase may be out of date. The clock is
   * read, not a timer's flag: requests that waited in the socket while the process stalled are checked too.
   */
  protected waits(req: Request, owner: SlotOwner): Slot | null {
    if (this.held.holds(owner)) return this.held.hold(req, owner);
    if (!this.current() && this.arcs.movesAny(req)) return this.held.hold(req, owner);
    return null;
  }

  #release(): void {
    if (!this.rmwHeld() && this.current()) this.held.release((req, owner) => this.redispatch(req, owner));
  }
}
