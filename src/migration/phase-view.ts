/**
 * How long this sidecar may route by the phase it last read from the record.
 *
 * The leader switches phases `settle` apart, timed on its own monotonic clock from when it first
 * saw the previous phase (runtime.ts), and the routes of adjacent phases overlap: a sidecar one phase
 * behind is safe. A sidecar that has not read the record for longer than that (its reads time out, a
 * record server hangs, its event loop stalled) may be two phases behind, where nothing overlaps: it
 * could read an owner that no longer gets every write, or write one that is being emptied.
 *
 * So a view is good for `validMs` (a little under `settle`) from when the read that confirmed it was
 * *sent*: the route's `validUntil`. Past it the route holds every request for a moved key (the others
 * are routed as always) until a read answers again; held requests that wait too long fail with
 * SERVER_ERROR (runtime.ts expires them). A slow or failed reply is better than a stale value or a lost
 * write. The route compares the clock on each request rather than waiting for a timer: after a stall,
 * requests queued in the socket may run before any timer does. Requests already halfway (a write
 * whose other owner has yet to follow, a read about to fall back; moving-slots.ts) check it too
 * before their next step. With `settle: 0` the operator has said there is one sidecar, and nothing
 * is held.
 */
import type { MoveRoute } from './space.js';

export class PhaseView {
  /** performance.now() when the read that last confirmed the phase was sent; -Infinity before any. */
  #readAt = -Infinity;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    readonly route: MoveRoute,
    /** How long a confirmed view is good for, ms; 0 turns the guard off. */
    readonly validMs: number,
    /** Called when a view goes stale (once per stale spell, not per request), with its age. */
    readonly onStale: (ageMs: number) => void,
  ) {}

  /**
   * A read sent at `sentAt` answered with this migration's phase (or this process published it).
   * `guard` is false once the migration is over (done, or rolled back): no phase follows to lag behind.
   */
  confirmed(sentAt: number, guard: boolean): void {
    if (!guard || this.validMs <= 0) {
      this.#clear();
      this.route.validUntil = Infinity;
      return;
    }
    if (sentAt <= this.#readAt) return;
    this.#readAt = sentAt;
    const until = sentAt + this.validMs;
    this.route.validUntil = until;
    this.#clear();
    this.#timer = setTimeout(() => this.onStale(performance.now() - this.#readAt), Math.max(0, until - performance.now() + 1));
    this.#timer.unref();
  }

  /** No read has answered yet (start gave up waiting): hold moved keys until one does. */
  unconfirmed(): void {
    if (this.validMs <= 0 || this.#readAt !== -Infinity) return;
    this.route.validUntil = -Infinity;
    this.onStale(Infinity);
  }

  close(): void {
    this.#clear();
  }

  #clear(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
